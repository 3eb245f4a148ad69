"""The router of a cluster node: a Join that claims a free nameplate first reserves it in Redis.

Two nodes whose mirrors both see a nameplate free could otherwise give it to two sessions at
once. A ``Join`` by id that claims a nameplate this node's mirror sees as free is *held*
(sans-I/O: the router returns no action and records a :class:`Claim`); the link reserves the
nameplate atomically in Redis (one Lua script: set it if it is free or already this session's)
and hands the answer back with :meth:`ClaimingRouter.claimed`, which replays the held frames in
order. The loser's ``Join`` is refused ``NAMEPLATE_TAKEN`` exactly as a single relay refuses it
(docs/protocol.md §4.3 step 2); while Redis cannot answer, the claim is refused with
``INTERNAL`` (transient, §5) instead of being granted on one node's word. Every other frame, and
a ``Join`` the mirror can decide alone (the nameplate is already taken, or already this
session's), goes straight to the :class:`~quicko.relay.router.Router`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from quicko.crypto import RandomSource
from quicko.errors import RemoteProtocolError
from quicko.protocol import Join, MessageType, decode_frame
from quicko.protocol.types import ErrorCode
from quicko.relay.actions import Action
from quicko.relay.config import RelayConfig
from quicko.relay.router import Router
from quicko.relay.stores import RelayState

__all__ = ["MAX_HELD_FRAMES", "Claim", "ClaimingRouter"]

_JOIN = int(MessageType.JOIN)
MAX_HELD_FRAMES = 256
"""Frames of one connection kept while its claim is in Redis; more are dropped (a client
does not send that many in one round trip; its end-to-end retransmission repairs a drop)."""


@dataclass(frozen=True, slots=True)
class Claim:
    """A nameplate claim the link must reserve in Redis for a held ``Join``."""

    conn: int
    nameplate: str
    session_id: bytes


class ClaimingRouter(Router):
    """A :class:`Router` whose nameplate claims are reserved in Redis first (see the module)."""

    def __init__(
        self, config: RelayConfig, *, node_id: str, rng: RandomSource, state: RelayState
    ) -> None:
        """A router over the cluster mirror *state* (see :class:`Router`)."""
        super().__init__(config, node_id=node_id, rng=rng, state=state)
        self._held: dict[int, list[bytes]] = {}
        #: Claims waiting for the link (it drains this list).
        self.claims: list[Claim] = []
        #: Called when a claim is recorded (the link starts the reservation).
        self.wake: Callable[[], None] = lambda: None
        self.held_dropped = 0

    def receive(self, conn: int, data: bytes, now_ms: int) -> list[Action]:
        """As :meth:`Router.receive`, except that a claiming ``Join`` waits for Redis."""
        held = self._held.get(conn)
        if held is not None:
            if len(held) < MAX_HELD_FRAMES:
                held.append(data)
            else:
                self.held_dropped += 1
            return []
        if len(data) > 1 and data[1] == _JOIN:
            claim = self._claim_needed(conn, data)
            if claim is not None:
                self._held[conn] = [data]
                self.claims.append(claim)
                self.wake()
                return []
        return Router.receive(self, conn, data, now_ms)

    def receive_fast(self, conn: int, data: bytes, now_ms: int) -> list[Action] | tuple[int, bytes]:
        """As :meth:`Router.receive_fast` (the server's hot path), with :meth:`receive`'s hold."""
        if (len(data) > 1 and data[1] == _JOIN) or conn in self._held:
            return self.receive(conn, data, now_ms)
        return Router.receive_fast(self, conn, data, now_ms)

    def _claim_needed(self, conn: int, data: bytes) -> Claim | None:
        """The claim a ``Join`` by id makes of a nameplate the mirror sees as free, if any."""
        c = self._conns.get(conn)
        if c is None or c.address is None or c.closing:
            return None
        try:
            join = decode_frame(data)
        except RemoteProtocolError:
            return None  # the router answers it
        if not isinstance(join, Join) or not join.session_id or not join.nameplate:
            return None
        if self._sessions.by_nameplate(join.nameplate) is not None:
            return None  # taken, or already this session's: the mirror decides
        return Claim(conn, join.nameplate, join.session_id)

    def claimed(self, claim: Claim, winner: bytes | None, now_ms: int) -> list[Action]:
        """Redis answered *claim*: *winner* holds the nameplate (``None``: Redis failed).

        Replays the held frames: the ``Join`` goes to the router if this session won (or the
        mirror now shows the winner, so the router refuses it itself), else it is refused
        ``NAMEPLATE_TAKEN``; with no answer from Redis it is refused ``INTERNAL``.
        """
        frames = self._held.pop(claim.conn, None)
        if not frames:
            return []
        out: list[Action] = []
        if winner is None:
            self._error(
                out,
                claim.conn,
                ErrorCode.INTERNAL,
                "the relay cluster cannot claim nameplates right now; try again shortly",
                ref_type=_JOIN,
                ref_id=claim.session_id,
            )
        elif winner != claim.session_id and self._sessions.by_nameplate(claim.nameplate) is None:
            self._error(
                out,
                claim.conn,
                ErrorCode.NAMEPLATE_TAKEN,
                "the nameplate is taken",
                ref_type=_JOIN,
                ref_id=claim.session_id,
            )
        else:
            out.extend(Router.receive(self, claim.conn, frames[0], now_ms))
        for data in frames[1:]:
            out.extend(self.receive(claim.conn, data, now_ms))
        return out

    def holds(self, claim: Claim) -> bool:
        """Whether the mirror gave *claim*'s nameplate to its session (else it is released)."""
        session = self._sessions.by_nameplate(claim.nameplate)
        return session is not None and session.session_id == claim.session_id

    def closed(self, conn: int, now_ms: int) -> list[Action]:
        """As :meth:`Router.closed`; frames held for the connection are dropped."""
        self._held.pop(conn, None)
        return super().closed(conn, now_ms)
