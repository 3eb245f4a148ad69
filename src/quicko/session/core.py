"""The state and the shared machinery of a session (see :mod:`quicko.session.session`).

:class:`SessionCore` holds a session's members, pairwise channels, queues and delivery
bookkeeping, and the helpers every handler uses: sealing an envelope for a peer (or queueing it
until the channel can send), holding a frame until the relay shows its recipient, moving the
state through :data:`TRANSITIONS`, and the handling of decrypted envelopes. The handshake lives
in :mod:`quicko.session.handshake`, the public API in :class:`quicko.session.Session`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Final, TypeVar, assert_never

from quicko.crypto import Ed25519KeyPair, RandomSource
from quicko.errors import LocalProtocolError, MalformedFrameError, QuickoError
from quicko.identity import Identity, InviteCode, PublicIdentity, safety_number
from quicko.messaging.status import DeliveryStatus, receipt_status
from quicko.protocol import (
    Join,
    KeyExchange,
    Leave,
    LeaveReason,
    LobbyMessage,
    Message,
    Payload,
    ReleaseNameplate,
)
from quicko.protocol.constants import MESSAGE_ID_SIZE
from quicko.session import envelope as env
from quicko.session import events as ev
from quicko.session.bundle import HandshakeKeys, IdentityBundle, fresh_bundle, member_init_context
from quicko.session.delivery import (
    DEFAULT_MESSAGE_TTL_MS,
    FAILED_PEER_LEFT,
    FAILED_TOO_MANY,
    Abandoned,
    InboundLog,
    OutboundLedger,
    ReceiptTracker,
)
from quicko.session.pairwise import PairwiseChannel
from quicko.session.pake import (
    CreatorPake,
    InviteBudget,
    JoinerPake,
    LobbyBody,
    encode_lobby_body,
    encode_member_init,
)

__all__ = [
    "MAX_EARLY_BYTES",
    "MAX_HELD_FRAMES",
    "MAX_QUEUED_TEXTS",
    "MESSAGE_ID_SIZE",
    "PAKE_TIMEOUT_MS",
    "TRANSITIONS",
    "Attempt",
    "Peer",
    "Role",
    "SessionCore",
    "State",
]

_F = TypeVar("_F")

PAKE_TIMEOUT_MS: Final = 60_000
"""A joiner gives up if it is not admitted (CONFIRM_C) and joined after this long."""

MAX_HELD_FRAMES: Final = 2000
"""Frames kept for members the relay has not shown us yet, or before a channel exists."""

MAX_EARLY_BYTES: Final = 1 << 20
"""Bytes of Message frames kept per session from senders we have no channel with yet (1 MiB);
only senders pending a vouch, a MEMBER_INIT or a PAKE are kept at all (issue 9, finding 6)."""

MAX_QUEUED_TEXTS: Final = 500
"""Texts queued per peer until our channel with it can send (written before the ratchet can
send); one more makes the oldest queued text FAILED for that peer."""


class Role(Enum):
    """How we came into the session."""

    CREATOR = "creator"
    JOINER = "joiner"
    CALL = "call"


class State(Enum):
    """Where the session is; :data:`TRANSITIONS` is the only place transitions live."""

    #: Waiting for the relay's Joined (a joiner: first for its Lobby, then, once admitted,
    #: for the Joined of its Join by id).
    CONNECTING = "connecting"
    #: Joiner: in the relay's lobby, running the PAKE with the nameplate's owner.
    AUTHENTICATING = "authenticating"
    #: Members authenticated (or, for a creator, waiting for them).
    ACTIVE = "active"
    #: Gave up (wrong code, timeout, failed authentication, relay refusal); terminal.
    FAILED = "failed"
    #: We left; keys wiped; terminal.
    CLOSED = "closed"


TRANSITIONS: Final[dict[State, frozenset[State]]] = {
    State.CONNECTING: frozenset(
        {State.CONNECTING, State.AUTHENTICATING, State.ACTIVE, State.FAILED, State.CLOSED}
    ),
    State.AUTHENTICATING: frozenset({State.CONNECTING, State.ACTIVE, State.FAILED, State.CLOSED}),
    State.ACTIVE: frozenset({State.ACTIVE, State.FAILED, State.CLOSED}),
    State.FAILED: frozenset({State.CLOSED}),
    State.CLOSED: frozenset(),
}


@dataclass(slots=True)
class _Queued:
    """An envelope waiting for its channel to be able to send."""

    envelope: env.Envelope
    message_id: bytes
    timestamp: int
    tracked: bool


@dataclass(slots=True, repr=False)
class Peer:
    """An authenticated member and our pairwise channel with it.

    ``away`` is set while the relay reports it disconnected, expired or left (it keeps its keys
    and channel until its own LEAVE), ``queue`` holds what waits for the channel to send.
    ``display_name`` is the name its signed bundle claims (or the address-derived one for a
    member only vouched for so far).
    """

    identity: PublicIdentity
    display_name: str
    channel: PairwiseChannel | None = None
    own_ephemeral: HandshakeKeys | None = None
    init_frame: KeyExchange | None = None
    sync_frame: Message | None = None
    heard: bool = False
    away: bool = False
    queue: list[_Queued] = field(default_factory=list)


@dataclass(slots=True, repr=False)
class Attempt:
    """A creator's half-done PAKE with one joiner."""

    pake: CreatorPake
    started_ms: int


class SessionCore:
    """State and helpers shared by the session's handlers (not for direct use)."""

    def __init__(
        self,
        identity: Identity,
        rng: RandomSource,
        role: Role,
        session_id: bytes,
        now_ms: int,
        *,
        message_ttl_ms: int = DEFAULT_MESSAGE_TTL_MS,
    ) -> None:
        self._identity = identity
        self._me = identity.address
        self._rng = rng
        self._role = role
        self._state = State.CONNECTING
        self._session_id = session_id
        self._invite: InviteCode | None = None
        self._retired = False
        self._budget = InviteBudget()
        self._attempts: dict[bytes, Attempt] = {}
        self._joiner_pake: JoinerPake | None = None
        self._joiner_ephemeral: HandshakeKeys | None = None
        self._creator: bytes | None = None
        self._retry_at: int | None = None
        self._deadline: int | None = None
        #: The session's join key: the relay asks every Join by id for a proof by it.
        self._join_key: Ed25519KeyPair | None = None
        self._join_seed = b""
        self._peers: dict[bytes, Peer] = {}
        # Session.members, built once per change of _peers (it is read on every client pump).
        self._members: tuple[PublicIdentity, ...] | None = None
        self._present: dict[bytes, str] = {}
        self._pending_inits: dict[bytes, IdentityBundle] = {}
        self._early: list[Message] = []
        self._early_bytes = 0
        self._held: list[tuple[bytes, KeyExchange | Message]] = []
        self._vouches: list[tuple[bytes, Message]] = []
        self._ledger = OutboundLedger(ttl_ms=message_ttl_ms)
        self._receipts = ReceiptTracker(ttl_ms=message_ttl_ms)
        self._inbound = InboundLog()
        # When set, a text's DELIVERED receipt waits for Session.message_stored (the client
        # sets it: a receipt must mean the message is in its store, issue 8 finding 6).
        self._receipts_after_storing = False
        # Receipts earned since the frames were last drained, by (sender, status): sealed as one
        # RECEIPT per sender and status (up to 256 ids each) by _seal_owed, so that the texts
        # read together are receipted together (docs/protocol.md §10.2).
        # The ids as the keys of a dict: in order, and a duplicate found without a scan.
        self._owed: dict[tuple[bytes, int], dict[bytes, None]] = {}
        self._owed_ms = 0
        self._opened = False
        self._out: list[Payload] = []
        self._events: list[ev.SessionEvent] = []
        self.dropped_frames = 0
        """Frames from the network that were invalid, unauthenticated or unexpected."""

    def _vouch(self, identity: PublicIdentity, now_ms: int) -> None:
        """Accept a member the creator vouched for, and start our channel with it.

        ``identity`` is self-certifying (its construction checked the address against the
        keys) and came over an authenticated channel from the creator (docs/protocol.md §8.4).
        """
        if identity.address == self._me:
            return
        known = self._peers.get(identity.address)
        if known is not None:
            if known.identity != identity:
                self._events.append(ev.KeyChanged(identity.address))
            return
        peer = self._add_peer(identity, identity.display_name)
        self._send_member_init(peer)
        # A MEMBER_INIT that overtook the vouch: it verified for the same self-certifying
        # address, so it carries the same identity keys.
        pending = self._pending_inits.pop(identity.address, None)
        if pending is not None and pending.same_identity(peer.identity):
            assert peer.own_ephemeral is not None
            self._establish(peer, peer.own_ephemeral, pending, now_ms)

    def _retire(self) -> None:
        """Release the nameplate after too many wrong codes."""
        assert self._invite is not None
        self._retired = True
        self._attempts.clear()
        self._out.append(ReleaseNameplate(self._session_id, self._invite.nameplate))
        self._events.append(ev.InviteRetired())

    # ------------------------------------------------------------------ messages

    def _on_message(self, frame: Message, now_ms: int) -> bool:
        sender = frame.sender
        if sender == self._me or frame.recipient not in (b"", self._me):
            return False
        if (sender, frame.message_id) in self._inbound:
            receipt = self._inbound.receipt(sender, frame.message_id)
            peer = self._peers.get(sender)
            if receipt is not None and sender in self._peers:
                # Only a receipt already earned: a text not yet stored earns none yet.
                self._owe(sender, int(receipt), frame.message_id, now_ms)
            return True
        peer = self._peers.get(sender)
        if peer is None or peer.channel is None:
            return self._keep_early(frame)
        try:
            envelope: env.Envelope | None = peer.channel.open(
                frame.body, message_id=frame.message_id, timestamp=frame.timestamp
            )
        except MalformedFrameError:
            envelope = None  # authentic, but not a valid envelope: never shown nor receipted
        # The body was authentic, so its message key is used up and a retransmission of it can
        # never open again: remember it before anything else can fail, so that retransmissions
        # are dropped as duplicates instead of refused as replays forever (docs/protocol.md §10).
        self._inbound.add(sender, frame.message_id, None)
        peer.heard = True
        try:
            if envelope is not None:
                self._handle_envelope(peer, frame, envelope, now_ms)
        finally:
            self._flush_queue(peer)
        return envelope is not None

    def _handle_envelope(
        self, peer: Peer, frame: Message, envelope: env.Envelope, now_ms: int
    ) -> None:
        sender = frame.sender
        match envelope:
            case env.Text(text=text):
                # Deduplicated by (sender, message id) above: another member's message with
                # the same id is a different message and is shown too.
                held = self._receipts_after_storing
                state = DeliveryStatus.PENDING if held else DeliveryStatus.DELIVERED
                self._inbound.add(sender, frame.message_id, state)
                shown = ev.MessageReceived(
                    frame.message_id, sender, peer.display_name, text, frame.timestamp
                )
                self._events.append(shown)
                if not held:
                    self._send_delivered(peer, frame.message_id, now_ms)
                return
            case env.Receipt(status=status, message_ids=ids):
                for message_id in ids:
                    self._update_status(message_id, sender, receipt_status(status))
            case env.MemberAdd(address=address, x25519_public=x25519, ed25519_public=ed25519):
                if sender == self._creator and self._role == Role.JOINER:
                    self._vouch(PublicIdentity(address, x25519, ed25519), now_ms)
            case env.Leave():
                self._peers.pop(sender, None)
                self._members = None
                self._present.pop(sender, None)
                self._drop_peer(peer)
                self._events.append(ev.PeerLeft(sender, LeaveReason.LEFT, gone=True))
            case env.Sync():
                pass  # it only lets a responder's ratchet send (docs/protocol.md §9)
            case _:
                assert_never(envelope)

    def _keep_early(self, frame: Message) -> bool:
        """Keep a frame from a sender we have no channel with yet, within a byte budget.

        Only a sender we expect a channel with may use it: an authenticated peer whose channel
        is not ready, a member whose MEMBER_INIT waits for its vouch, or a joiner in a PAKE with
        us. Anyone else's frames are dropped at once (issue 9, finding 6); the oldest kept frames
        give way to newer ones beyond :data:`MAX_EARLY_BYTES`.
        """
        sender = frame.sender
        if (
            sender not in self._peers
            and sender not in self._pending_inits
            and (sender not in self._attempts)
        ):
            return False
        size = len(frame.body)
        if size > MAX_EARLY_BYTES:
            return False
        self._early.append(frame)
        self._early_bytes += size
        while self._early_bytes > MAX_EARLY_BYTES or len(self._early) > MAX_HELD_FRAMES:
            self._early_bytes -= len(self._early.pop(0).body)
        return True

    def _send_delivered(self, peer: Peer, message_id: bytes, now_ms: int) -> None:
        """Receipt a text of ``peer`` as delivered, with the others owed (§10.2).

        The receipt is sealed when the session's frames are next drained (:meth:`_seal_owed`).
        """
        self._owe(peer.identity.address, env.RECEIPT_DELIVERED, message_id, now_ms)

    def _owe(self, sender: bytes, status: int, message_id: bytes, now_ms: int) -> None:
        ids = self._owed.get((sender, status))
        if ids is None:
            self._owed[sender, status] = {message_id: None}
        else:
            ids[message_id] = None  # a text and its duplicate in one batch: one id
        self._owed_ms = now_ms

    def _seal_owed(self) -> None:
        """Seal the receipts owed: one RECEIPT per sender and status, 256 ids at most each.

        Called before the frames are drained, and before anything that would wipe the
        channels (a receipt earned is always sent, docs/protocol.md §10.2).
        """
        owed, self._owed = self._owed, {}
        for (sender, status), owed_ids in owed.items():
            ids = list(owed_ids)
            peer = self._peers.get(sender)
            if peer is None:
                continue  # left for good meanwhile: nothing more is sent to it
            for start in range(0, len(ids), env.MAX_RECEIPT_IDS):
                receipt = env.Receipt(status, tuple(ids[start : start + env.MAX_RECEIPT_IDS]))
                self._send_envelope(peer, receipt, self._rng(MESSAGE_ID_SIZE), self._owed_ms)

    def _on_message_early(self, address: bytes, now_ms: int) -> None:
        """Replay the frames that arrived from ``address`` before its channel existed."""
        mine = [frame for frame in self._early if frame.sender == address]
        self._early = [frame for frame in self._early if frame.sender != address]
        self._early_bytes = sum(len(frame.body) for frame in self._early)
        for frame in mine:
            self._consume(self._on_message, frame, now_ms)

    def _consume(self, handler: Callable[[_F, int], bool], frame: _F, now_ms: int) -> None:
        """Run a frame's handler; a frame it did not use, or that was bad, is counted dropped."""
        try:
            used = handler(frame, now_ms)
        except (QuickoError, ValueError):
            used = False
        if not used:
            self.dropped_frames += 1

    # ------------------------------------------------------------------ helpers

    def _move(self, new: State) -> None:
        if new not in TRANSITIONS[self._state]:
            raise LocalProtocolError(f"session cannot go from {self._state.value} to {new.value}")
        self._state = new

    def _check_usable(self) -> None:
        if self._state in (State.FAILED, State.CLOSED):
            raise LocalProtocolError(f"the session is {self._state.value}")

    def _fail(self, reason: str) -> None:
        self._give_up(ev.SessionFailed(reason))

    def _give_up(self, why: ev.SessionFailed | ev.WrongInviteCode) -> None:
        """Report ``why``, leave the relay's session, wipe every key: FAILED (terminal)."""
        self._events.append(why)
        if self._session_id:
            self._out.append(Leave(self._session_id))
        self._wipe()
        self._move(State.FAILED)

    def _wipe(self) -> None:
        self._owed.clear()
        for peer in self._peers.values():
            if peer.channel is not None:
                peer.channel.wipe()
        self._joiner_pake = self._joiner_ephemeral = None
        self._join_key, self._join_seed = None, b""
        self._attempts.clear()
        self._held.clear()
        self._early.clear()
        self._early_bytes = 0

    def _add_peer(self, identity: PublicIdentity, display_name: str) -> Peer:
        peer = Peer(identity=identity, display_name=display_name)
        self._peers[identity.address] = peer
        self._members = None
        number = safety_number(self._identity.public, identity)
        self._events.append(ev.PeerAuthenticated(identity.address, display_name, number))
        return peer

    def _drop_peer(self, peer: Peer) -> None:
        if peer.channel is not None:
            peer.channel.wipe()
        address = peer.identity.address
        self._vouches = [item for item in self._vouches if item[0] != address]
        self._held = [item for item in self._held if item[0] != address]
        for message_id, status in self._ledger.forget_recipient(address):
            self._events.append(
                ev.StatusChanged(message_id, status, _why(status, FAILED_PEER_LEFT))
            )
        self._receipts.forget_recipient(address)

    def _fresh_bundle(self, context: bytes) -> tuple[HandshakeKeys, IdentityBundle]:
        """Fresh X25519 and ML-KEM key pairs and our bundle signed for ``context``."""
        return fresh_bundle(self._identity, context, self._rng)

    def _send_member_init(self, peer: Peer) -> None:
        """MEMBER_INIT ``[6, bundle]``, the bundle signed for this session and this member."""
        address = peer.identity.address
        context = member_init_context(self._session_id, address)
        peer.own_ephemeral, bundle = self._fresh_bundle(context)
        body = encode_member_init(bundle)
        peer.init_frame = KeyExchange(self._session_id, self._me, address, body)
        self._emit(address, peer.init_frame)

    def _use_join_seed(self, seed: bytes) -> None:
        """Hold the session's join key (its Ed25519 seed is the join seed)."""
        self._join_seed = seed
        self._join_key = Ed25519KeyPair.from_seed(seed)

    def _join_frame(self, nameplate: str = "") -> Join:
        """A Join by id with our join key and no proof yet (see ``Session.sign_join``)."""
        assert self._join_key is not None
        return Join(self._session_id, nameplate, self._join_key.public, b"")

    def _establish(
        self, peer: Peer, own: HandshakeKeys, bundle: IdentityBundle, now_ms: int
    ) -> None:
        """Set up the pairwise channel; the initiator sends SYNC at once."""
        peer.channel = PairwiseChannel.establish(
            session_id=self._session_id,
            own_address=self._me,
            own_identity=self._identity.x25519,
            own_ephemeral=own.ephemeral,
            own_kem=own.kem,
            peer_address=bundle.address,
            peer_identity_public=bundle.x25519_public,
            peer_ephemeral_public=bundle.ephemeral_public,
            peer_kem_public=bundle.kem_public,
            rng=self._rng,
        )
        if peer.channel.is_initiator:
            sync_id = self._rng(MESSAGE_ID_SIZE)
            self._send_envelope(peer, env.Sync(), sync_id, now_ms, sync=True)
        self._flush_queue(peer)
        self._on_message_early(bundle.address, now_ms)

    def _send_lobby(self, peer: bytes, message: LobbyBody) -> None:
        """A LobbyMessage to the owner (``peer`` empty) or to a pending joiner (§8.3)."""
        assert self._invite is not None
        self._out.append(LobbyMessage(self._invite.nameplate, peer, encode_lobby_body(message)))

    def _send_envelope(
        self,
        peer: Peer,
        envelope: env.Envelope,
        message_id: bytes,
        now_ms: int,
        *,
        tracked: bool = False,
        vouch: bool = False,
        sync: bool = False,
    ) -> None:
        """Seal ``envelope`` for ``peer`` now, or queue it until the channel can send."""
        if tracked and self._ledger.is_failed(message_id, peer.identity.address):
            return  # abandoned (expired, evicted or refused) before it could be sealed
        channel = peer.channel
        if channel is None or not channel.can_send:
            self._enqueue(peer, _Queued(envelope, message_id, now_ms, tracked))
            return
        body = channel.seal(envelope, message_id=message_id, timestamp=now_ms)
        address = peer.identity.address
        frame = Message(self._session_id, self._me, address, message_id, now_ms, body)
        if tracked:
            self._ledger.set_frame(message_id, address, frame)
        elif isinstance(envelope, env.Receipt):
            self._receipts.add(frame, now_ms)  # repeated until the relay has it
        if vouch:
            self._vouches.append((address, frame))
        if sync:
            peer.sync_frame = frame
        self._emit(address, frame)

    def _enqueue(self, peer: Peer, item: _Queued) -> None:
        """Queue an envelope until the channel can send; too many texts fail the oldest one."""
        # Never silent (DESIGN.md §5): the text dropped is reported FAILED for this peer. Other
        # envelopes are few by nature (a creator's vouches: at most MAX_MEMBERS).
        texts = [n for n, old in enumerate(peer.queue) if old.tracked]
        if item.tracked and len(texts) >= MAX_QUEUED_TEXTS:
            dropped = peer.queue.pop(texts[0])
            address = peer.identity.address
            self._update_status(dropped.message_id, address, DeliveryStatus.FAILED,
                                FAILED_TOO_MANY)  # fmt: skip
        peer.queue.append(item)

    def _flush_queue(self, peer: Peer) -> None:
        while peer.queue and peer.channel is not None and peer.channel.can_send:
            item = peer.queue.pop(0)
            vouch = isinstance(item.envelope, env.MemberAdd)
            self._send_envelope(peer, item.envelope, item.message_id, item.timestamp,
                                tracked=item.tracked, vouch=vouch)  # fmt: skip

    def _emit(self, recipient: bytes, frame: KeyExchange | Message) -> None:
        """Send a unicast frame, or hold it until the relay shows the recipient as a member."""
        if recipient in self._present:
            self._out.append(frame)
            return
        if len(self._held) >= MAX_HELD_FRAMES:
            # Not a failure: a text dropped here is still in the ledger, which sends it again
            # when its recipient is shown (DESIGN.md §5: the ledger is the one owner).
            self._held.pop(0)
        self._held.append((recipient, frame))

    def _owed_frames(self, address: bytes | None) -> list[tuple[bytes, KeyExchange | Message]]:
        """What to send again to ``address`` (every peer for ``None``), the frames unchanged.

        MEMBER_INIT to a peer without a channel, SYNC to a peer not heard from, the creator's
        vouches, and every text frame not yet Delivered (docs/protocol.md §10).
        """
        frames: list[tuple[bytes, KeyExchange | Message]] = []
        for who, peer in self._peers.items():
            if address not in (None, who):
                continue
            if peer.init_frame is not None and peer.channel is None:
                frames.append((who, peer.init_frame))
            if peer.sync_frame is not None and not peer.heard:
                frames.append((who, peer.sync_frame))
        frames.extend(item for item in self._vouches if address in (None, item[0]))
        undelivered = self._ledger.undelivered()
        frames.extend((f.recipient, f) for f in undelivered if address in (None, f.recipient))
        frames.extend((f.recipient, f) for f in self._receipts.for_recipient(address))
        return [item for item in frames if item[0] in self._peers]

    def _resend(self, address: bytes | None) -> None:
        """Hold the owed frames that are not held already, ahead of the held ones."""
        held = {frame for _, frame in self._held}
        owed = [item for item in self._owed_frames(address) if item[1] not in held]
        self._held = owed + self._held

    def _reachable(self, address: bytes) -> bool:
        """Whether the relay shows ``address`` present and online (a retry can reach it now)."""
        peer = self._peers.get(address)
        return address in self._present and peer is not None and not peer.away

    def _retransmit(self, now_ms: int) -> None:
        """Send again the texts and receipts whose retry time has come (docs/protocol.md §10)."""
        for frame in self._ledger.due(now_ms, self._reachable):
            self._out.append(frame)
        for frame in self._receipts.due(now_ms, self._reachable):
            self._out.append(frame)

    def _flush_held(self) -> None:
        held, self._held = self._held, []
        for recipient, frame in held:
            if isinstance(frame, Message) and self._ledger.is_failed(frame.message_id, recipient):
                continue  # abandoned while it waited: never sent
            self._emit(recipient, frame)

    def _update_status(self, message_id: bytes, recipient: bytes | None,
                       status: DeliveryStatus, reason: str = "") -> None:  # fmt: skip
        new = self._ledger.update(message_id, recipient, status)
        if new is not None:  # _why, inlined (every Ack and receipt)
            why = reason if new is DeliveryStatus.FAILED else ""
            self._events.append(ev.StatusChanged(message_id, new, why))

    def _report_abandoned(self, abandoned: list[Abandoned], reason: str) -> None:
        """Report the messages the ledger gave up on (evicted or expired) as FAILED."""
        for message_id, new in abandoned:
            if new is not None:
                self._events.append(ev.StatusChanged(message_id, new, _why(new, reason)))

    def __repr__(self) -> str:
        return (
            f"<Session {self._role.value} {self._state.value} "
            f"peers={len(self._peers)} id={self._session_id[:2].hex()}...>"
        )


def _why(status: DeliveryStatus, reason: str) -> str:
    """The reason a StatusChanged carries: only a FAILED one says why."""
    return reason if status is DeliveryStatus.FAILED else ""
