"""The router's state and the helpers every handler uses (see :mod:`quicko.relay.router`).

:class:`RouterCore` holds the stores, typed as the interfaces of :mod:`quicko.relay.stores`
only, and knows how to send a frame, reject a frame with an Error, close a connection,
announce something to a session, and buffer a frame for an away member. The handlers
(:mod:`quicko.relay.routing`, :mod:`quicko.relay.membership`, :mod:`quicko.relay.keys`) and
the :class:`~quicko.relay.router.Router` build on it.
"""

from __future__ import annotations

from quicko.crypto import RandomSource
from quicko.protocol import LeaveReason, Payload, PeerLeft, canonical_relay_url, encode_frame
from quicko.protocol.types import ErrorCode
from quicko.relay.actions import Action, Close, new_send
from quicko.relay.buffer import Receipt
from quicko.relay.config import RelayConfig
from quicko.relay.connections import Connection, TokenBucket
from quicko.relay.frames import error_frame
from quicko.relay.metrics import RelayMetrics
from quicko.relay.misses import MissLimiter
from quicko.relay.sessions import Session
from quicko.relay.stores import (
    BufferStore,
    CallStore,
    ConnectionStore,
    DirectoryStore,
    MembershipStore,
    RelayState,
)

__all__ = ["RouterCore"]


class RouterCore:
    """State of one relay node and the router's shared helpers."""

    def __init__(
        self,
        config: RelayConfig,
        *,
        node_id: str,
        rng: RandomSource,
        state: RelayState | None = None,
    ) -> None:
        """Create a router over *state*.

        Args:
            config: the limits to enforce.
            node_id: this node's id, sent in every Challenge and HelloAck (at most 64
                printable characters).
            rng: the source of Challenge nonces.
            state: the stores to keep state in; empty in-memory ones by default
                (:meth:`RelayState.in_memory`).

        Raises:
            ValueError: *node_id* does not fit in a Challenge.
        """
        if not 0 < len(node_id) <= 64 or not node_id.isprintable():
            raise ValueError("node_id must be 1 to 64 printable characters")
        self._config = config
        self._node_id = node_id
        self._rng = rng
        if state is None:
            state = RelayState.in_memory(config)
        self._conns: ConnectionStore = state.connections
        self._sessions: MembershipStore = state.sessions
        self._directory: DirectoryStore = state.directory
        self._buffer: BufferStore = state.buffer
        self._calls: CallStore = state.calls
        self._bucket = TokenBucket(config.rate, config.burst, config.abuse_limit)
        self._metrics = RelayMetrics()
        self._buffer_ttl_ms = config.buffer_ttl_ms
        self._handshake_ms = config.handshake_timeout_ms
        self._idle_ms = config.idle_timeout_ms
        self._call_ms = config.call_timeout_ms
        self._directory_ttl_ms = config.directory_ttl_ms
        self._lobby_ttl_ms = config.lobby_ttl_ms
        self._public_urls = frozenset(config.public_urls)
        self._misses = MissLimiter(
            config.nameplate_miss_rate,
            config.nameplate_miss_burst,
            config.nameplate_miss_total_rate,
        )

    def _is_public_url(self, url: str) -> bool:
        """Whether *url* (as a client named it) is one of this relay's public URLs."""
        try:
            return canonical_relay_url(url) in self._public_urls
        except ValueError:
            return False

    def _send(self, out: list[Action], conn: int, data: bytes) -> None:
        """Append a Send, counting it."""
        out.append(new_send(conn, data))
        metrics = self._metrics
        metrics.frames_out[data[1]] += 1
        metrics.bytes_out += len(data)

    def _send_payload(self, out: list[Action], conn: int, payload: Payload) -> None:
        """Encode *payload* and append a Send of it."""
        self._send(out, conn, encode_frame(payload))

    def _error(
        self,
        out: list[Action],
        conn: int,
        code: ErrorCode,
        reason: str,
        *,
        ref_type: int = 0,
        ref_id: bytes = b"",
    ) -> None:
        """Append an Error frame (docs/protocol.md §19), counting the rejection."""
        self._metrics.count_rejection(code)
        self._send(out, conn, error_frame(code, reason, ref_type, ref_id))

    def _reject(
        self, c: Connection, code: ErrorCode, reason: str, ref_type: int, ref_id: bytes = b""
    ) -> list[Action]:
        """Answer a frame from *c* with one Error, and nothing else."""
        out: list[Action] = []
        self._error(out, c.conn, code, reason, ref_type=ref_type, ref_id=ref_id)
        return out

    def _close(self, out: list[Action], c: Connection, code: int, reason: str, now_ms: int) -> None:
        """Close *c* (after what *out* already sends it) and let its address go away."""
        out.append(Close(c.conn, code, reason))
        self._disconnect(out, c, now_ms)

    def _disconnect(self, out: list[Action], c: Connection, now_ms: int) -> None:
        """*c* is going: unbind its address, tell its sessions, start the away timers (§8)."""
        address = self._conns.unbind(c)
        if address is None:
            return
        self._sessions.remove_pending(address)
        self._sessions.mark_away(address, now_ms + self._buffer_ttl_ms)
        for session in self._sessions.sessions_of(address):
            notice = PeerLeft(session.session_id, address, int(LeaveReason.DISCONNECTED))
            self._announce(out, session, address, encode_frame(notice))
        self._directory.mark_offline(address, now_ms + self._directory_ttl_ms)

    def _announce(self, out: list[Action], session: Session, about: bytes, frame: bytes) -> None:
        """Send *frame* to every online member of *session* except *about*."""
        bound = self._conns.bound
        for member in session.members:
            if member != about:
                target = bound(member)
                if target is not None:
                    self._send(out, target.conn, frame)

    def _hold(self, recipient: bytes, data: bytes, now_ms: int, receipt: Receipt | None) -> bool:
        """Buffer *data* for the away *recipient*; return ``False`` when the buffer is full."""
        return self._buffer.push(recipient, data, now_ms + self._buffer_ttl_ms, receipt)
