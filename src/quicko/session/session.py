"""The sans-I/O end-to-end session: handshake, members, pairwise channels, delivery.

A :class:`Session` is one conversation seen from one participant (STYLE.md rule 3). The I/O
layer feeds it every relay frame of the session with :meth:`Session.receive` and calls
:meth:`Session.handle_timeout` at :meth:`Session.next_deadline`; after every call it sends the
payloads of :meth:`Session.data_to_send` and handles :meth:`Session.events`. Nothing here does
I/O, reads the clock or the OS random source: ``now_ms`` and ``rng`` are arguments.

Trust (docs/protocol.md §8-§10): a peer becomes a member only through the invite-code PAKE with
key confirmation (in the relay's lobby), a creator's vouch (MEMBER_ADD, over an authenticated
channel), or a verified call bundle. Every Join by id carries the session's join key, and the
I/O layer has :meth:`Session.sign_join` add the proof over its connection's Challenge.
Bundles that do not verify are refused (:class:`PeerRefused`); a bundle that names
a known address with other keys is refused with :class:`KeyChanged`. Bad input from the network
never raises out of :meth:`Session.receive`: it is dropped and counted in
:attr:`Session.dropped_frames`.
"""

from __future__ import annotations

from typing import Final

from quicko.crypto import RandomSource
from quicko.errors import QuickoError, SessionError
from quicko.identity import Identity, InviteCode, PublicIdentity, safety_number
from quicko.messaging.status import DeliveryStatus
from quicko.protocol import (
    Ack,
    AckStatus,
    Error,
    ErrorCode,
    Join,
    Joined,
    KeyExchange,
    Leave,
    LeaveReason,
    Lobby,
    LobbyMessage,
    Message,
    MessageType,
    Payload,
    PeerJoined,
    PeerLeft,
    ReleaseNameplate,
)
from quicko.protocol.auth import join_transcript
from quicko.protocol.constants import SESSION_ID_SIZE
from quicko.session import envelope as env
from quicko.session import events as ev
from quicko.session.bundle import HandshakeKeys, IdentityBundle, verify_bundle
from quicko.session.core import MESSAGE_ID_SIZE, PAKE_TIMEOUT_MS, Role, State
from quicko.session.delivery import (
    DEFAULT_MESSAGE_TTL_MS,
    FAILED_TOO_MANY,
    failed_expired,
    failed_refused,
)
from quicko.session.handshake import HandshakeMixin
from quicko.session.pake import ATTEMPT_TIMEOUT_MS, JOIN_SEED_SIZE

__all__ = ["PAKE_TIMEOUT_MS", "Role", "Session", "State"]

_FATAL_JOIN_ERRORS: Final = {
    ErrorCode.UNKNOWN_INVITE: "unknown or retired invite code",
    ErrorCode.NAMEPLATE_TAKEN: "invite code already in use",
    ErrorCode.SESSION_FULL: "the session is full",
    ErrorCode.LIMIT_REACHED: "the relay is at its limit",
    ErrorCode.RATE_LIMITED: "the relay is rate limiting joins; try again later",
    ErrorCode.PROOF_INVALID: "the relay refused our proof of membership",
    ErrorCode.MALFORMED: "the relay refused the join",
}

_FATAL_LOBBY_ERRORS: Final = {
    ErrorCode.RECIPIENT_UNKNOWN: "the session's creator is not online",
    ErrorCode.NOT_PENDING: "the invite code's lobby closed; try again",
    ErrorCode.RATE_LIMITED: "too many attempts on this invite code; try again later",
}
"""Relay refusals of a pending joiner's LobbyMessage (docs/protocol.md §4.3)."""

_TRANSIENT_ERRORS: Final = frozenset(
    {
        ErrorCode.NOT_A_MEMBER,
        ErrorCode.RECIPIENT_UNKNOWN,
        ErrorCode.BUFFER_FULL,
        ErrorCode.RATE_LIMITED,
        ErrorCode.TOO_SLOW,
        ErrorCode.SHUTTING_DOWN,
        ErrorCode.INTERNAL,
    }
)
"""Relay refusals of a Message that leave it outstanding: a membership race, a full buffer, a
rate limit. The text is retransmitted and FAILED only at its TTL (docs/protocol.md §10)."""


class Session(HandshakeMixin):
    """One end-to-end encrypted conversation, seen from one participant (sans-I/O).

    Build one with :meth:`create`, :meth:`join` or :meth:`from_call` (through
    :mod:`quicko.session.calls`), never with the constructor.
    """

    # ------------------------------------------------------------------ constructors

    @classmethod
    def create(
        cls,
        identity: Identity,
        rng: RandomSource,
        now_ms: int,
        invite: InviteCode,
        *,
        message_ttl_ms: int = DEFAULT_MESSAGE_TTL_MS,
    ) -> Session:
        """Create a new session reachable with ``invite``: emits Join(session_id, nameplate).

        Args:
            identity: our identity (ephemeral or long-term).
            rng: randomness (the session id, ephemeral keys, message ids).
            now_ms: the current time.
            invite: the invite code to show; its nameplate goes to the relay, never its
                password.
            message_ttl_ms: how long a text may stay undelivered before it is FAILED.

        Raises:
            ValueError: ``message_ttl_ms`` is below 1.
        """
        session_id = rng(SESSION_ID_SIZE)
        session = cls(
            identity, rng, Role.CREATOR, session_id, now_ms, message_ttl_ms=message_ttl_ms
        )
        session._invite = invite
        # The join seed: admitted joiners get it in CONFIRM_C; the relay asks every Join by id
        # for a proof by the key it seeds (docs/protocol.md §8.3).
        session._use_join_seed(rng(JOIN_SEED_SIZE))
        session._out.append(session._join_frame(invite.nameplate))
        return session

    @classmethod
    def join(
        cls,
        identity: Identity,
        invite: InviteCode,
        rng: RandomSource,
        now_ms: int,
        *,
        message_ttl_ms: int = DEFAULT_MESSAGE_TTL_MS,
    ) -> Session:
        """Join the session of ``invite`` by its code (docs/protocol.md §8.3).

        Emits Join(b"", nameplate); then, in the relay's lobby, runs the PAKE with the
        nameplate's owner; once admitted, joins by id. The joiner gives up with
        :class:`SessionFailed` after :data:`PAKE_TIMEOUT_MS`; ``message_ttl_ms`` is as for
        :meth:`create`.
        """
        session = cls(identity, rng, Role.JOINER, b"", now_ms, message_ttl_ms=message_ttl_ms)
        session._invite = invite
        session._deadline = now_ms + PAKE_TIMEOUT_MS
        session._out.append(Join(b"", invite.nameplate))
        return session

    @classmethod
    def from_call(
        cls,
        identity: Identity,
        rng: RandomSource,
        now_ms: int,
        *,
        session_id: bytes,
        join_seed: bytes,
        own_ephemeral: HandshakeKeys,
        peer_bundle: IdentityBundle,
        context: bytes,
        message_ttl_ms: int = DEFAULT_MESSAGE_TTL_MS,
    ) -> Session:
        """Start the session of an accepted call (either side): emits Join(session_id, "").

        Use :mod:`quicko.session.calls`, which checks the call frames and calls this.

        Args:
            identity: our identity.
            rng: randomness.
            now_ms: the current time.
            session_id: the call's session id (:func:`quicko.session.calls.call_session_id`).
            join_seed: the seed of the session's join key
                (:func:`quicko.session.calls.call_join_seed`).
            own_ephemeral: the key pairs whose public keys our call bundle carried.
            peer_bundle: the peer's call bundle (verified again here).
            context: the context the peer's bundle was signed for (its call, for us:
                :func:`quicko.session.bundle.call_context`).
            message_ttl_ms: as for :meth:`create`.

        Raises:
            AuthenticationError: the peer's bundle does not verify for ``context``.
            InvalidKeyError: a key in it is of low order.
            ValueError: ``session_id`` is not 16 bytes, or ``message_ttl_ms`` is below 1.
        """
        if len(session_id) != SESSION_ID_SIZE or len(join_seed) != JOIN_SEED_SIZE:
            raise ValueError("a session id is 16 bytes and a join seed 32")
        verify_bundle(peer_bundle, context, expected_address=peer_bundle.address)
        session = cls(identity, rng, Role.CALL, session_id, now_ms, message_ttl_ms=message_ttl_ms)
        session._use_join_seed(join_seed)
        session._out.append(session._join_frame())
        session._add_peer(peer_bundle.public_identity, peer_bundle.display_name)
        session._establish(session._peers[peer_bundle.address], own_ephemeral, peer_bundle, now_ms)
        return session

    # ------------------------------------------------------------------ properties

    @property
    def session_id(self) -> bytes:
        """The 16-byte session id (empty for a joiner until the relay's Joined)."""
        return self._session_id

    @property
    def role(self) -> Role:
        """Creator, joiner or call."""
        return self._role

    @property
    def state(self) -> State:
        """Where the session is."""
        return self._state

    @property
    def address(self) -> bytes:
        """Our own address."""
        return self._me

    @property
    def members(self) -> tuple[PublicIdentity, ...]:
        """The authenticated peers (not us)."""
        members = self._members
        if members is None:
            members = self._members = tuple([peer.identity for peer in self._peers.values()])
        return members

    def safety_number(self, address: bytes) -> str:
        """The safety number we share with an authenticated peer.

        Raises:
            KeyError: ``address`` is not an authenticated peer.
        """
        return safety_number(self._identity.public, self._peers[address].identity)

    def is_away(self, address: bytes) -> bool:
        """Whether an authenticated peer is away: the relay reported it disconnected or expired.

        An away peer keeps its keys and our channel with it; what we send it waits (at the
        relay or here) and goes again when the relay reports it back (:class:`PeerJoined`).

        Raises:
            KeyError: ``address`` is not an authenticated peer.
        """
        return self._peers[address].away

    def status(self, message_id: bytes) -> DeliveryStatus | None:
        """The delivery status of one of our messages (``None`` if unknown or forgotten)."""
        return self._ledger.status(message_id)

    def sent(self, message_id: bytes) -> bool:
        """Whether ``message_id`` names a frame of ours still kept: a text or a receipt.

        The I/O layer uses it to give a relay ``Error`` about a ``Message`` (which names only
        the message id) to the session it is about.
        """
        return message_id in self._ledger or message_id in self._receipts

    def can_send_to(self, address: bytes) -> bool:
        """Whether the pairwise channel with ``address`` is established and can send."""
        peer = self._peers.get(address)
        return peer is not None and peer.channel is not None and peer.channel.can_send

    def next_deadline(self) -> int | None:
        """When :meth:`handle_timeout` should next be called (ms), or ``None``."""
        state = self._state
        times: list[int] = []
        if state not in (State.FAILED, State.CLOSED):
            # Read after every frame and every text: no list unless something else is timed.
            ledger, receipts = self._ledger.next_deadline(), self._receipts.next_deadline()
            if not self._attempts and state is State.ACTIVE:
                if ledger is None or receipts is None:
                    return receipts if ledger is None else ledger
                return min(ledger, receipts)
            times += [t for t in (ledger, receipts) if t is not None]
        times += [attempt.started_ms + ATTEMPT_TIMEOUT_MS for attempt in self._attempts.values()]
        if self._deadline is not None and state in (State.CONNECTING, State.AUTHENTICATING):
            times.append(self._deadline)
            if self._retry_at is not None:
                times.append(self._retry_at)
        return min(times, default=None)

    # ------------------------------------------------------------------ outputs

    def data_to_send(self) -> list[Payload]:
        """Payloads to encode and send to the relay, in order (drains them).

        The receipts earned since the last call are sealed first: one RECEIPT per sender and
        status, so that texts received together are receipted together (docs/protocol.md
        §10.2).
        """
        if self._owed and self._state not in (State.FAILED, State.CLOSED):
            self._seal_owed()
        out, self._out = self._out, []
        return out

    def events(self) -> list[ev.SessionEvent]:
        """What happened since the last call (drains them)."""
        out, self._events = self._events, []
        return out

    def sign_join(self, join: Join, *, nonce: bytes, node_id: str) -> Join:
        """Add the proof to one of our Joins by id, for the connection that will send it.

        The I/O layer calls it for every :class:`Join` it sends, with the Challenge of the
        connection it sends on: ``proof = Ed25519(join key, LP("quicko2/v4/join", nonce,
        node_id, session_id, address))`` (docs/protocol.md §4.3). A Join by nameplate, or a
        Join that is not this session's, is returned unchanged.
        """
        key = self._join_key
        if key is None or not join.session_id or join.session_id != self._session_id:
            return join
        transcript = join_transcript(
            nonce=nonce, node_id=node_id, session_id=join.session_id, address=self._me
        )
        return Join(join.session_id, join.nameplate, key.public, key.sign(transcript))

    # ------------------------------------------------------------------ commands

    def send_text(self, text: str, now_ms: int) -> bytes:
        """Send ``text`` to every authenticated member (one Message frame each, same id).

        Returns:
            The 16-byte message id; :class:`StatusChanged` events follow its delivery.

        Raises:
            LocalProtocolError: the session is failed or closed.
            SessionError: there is no authenticated peer to send to yet.
            ValueError: ``text`` is over :data:`quicko.session.envelope.MAX_TEXT_BYTES`.
        """
        self._check_usable()
        if len(text.encode("utf-8")) > env.MAX_TEXT_BYTES:
            raise ValueError(f"a text is at most {env.MAX_TEXT_BYTES} UTF-8 bytes")
        if not self._peers:
            raise SessionError("no authenticated peer in this session yet")
        message_id = self._rng(MESSAGE_ID_SIZE)
        added = self._ledger.add(message_id, tuple(self._peers), now_ms)
        if added:
            self._report_abandoned(added, FAILED_TOO_MANY)
        envelope = env.Text(text)
        for peer in self._peers.values():
            self._send_envelope(peer, envelope, message_id, now_ms, tracked=True)
        return message_id

    def resend_text(self, message_id: bytes, text: str, now_ms: int) -> None:
        """Send a FAILED text again, under the same id, to every authenticated member.

        It is a new encryption of ``text`` (the old frames are gone) tracked from now as a new
        message: PENDING (a :class:`StatusChanged` says so), retransmitted, FAILED again only
        as any text. A recipient that had it already drops the copy as a duplicate and repeats
        its receipt (docs/protocol.md §10), so nobody is shown it twice.

        Raises:
            LocalProtocolError: the session is failed or closed.
            SessionError: the message is not FAILED (or unknown), or there is no peer.
            ValueError: ``text`` is too long.
        """
        self._check_usable()
        if len(text.encode("utf-8")) > env.MAX_TEXT_BYTES:
            raise ValueError(f"a text is at most {env.MAX_TEXT_BYTES} UTF-8 bytes")
        if self._ledger.status(message_id) is not DeliveryStatus.FAILED:
            raise SessionError("only a message that failed can be sent again")
        if not self._peers:
            raise SessionError("no authenticated peer in this session to send it to")
        added = self._ledger.retry(message_id, tuple(self._peers), now_ms)
        self._report_abandoned(added, FAILED_TOO_MANY)
        self._events.append(ev.StatusChanged(message_id, DeliveryStatus.PENDING))
        for peer in self._peers.values():
            self._send_envelope(peer, env.Text(text), message_id, now_ms, tracked=True)

    def hold_delivered_receipts(self) -> None:
        """Send a text's DELIVERED receipt only once :meth:`message_stored` is called for it.

        Without it, the receipt goes as soon as the text is decrypted (the default, for
        consumers without a store). The client calls this on every session it keeps, so that
        the sender's "Delivered" means the message is in the recipient's store.
        """
        self._receipts_after_storing = True

    def message_stored(self, sender: bytes, message_id: bytes, now_ms: int) -> None:
        """The application stored a text it received (:class:`MessageReceived`): receipt it.

        The DELIVERED receipt goes to ``sender`` now (see :meth:`hold_delivered_receipts`).
        Unknown messages, messages already receipted, and a closed session are ignored.
        """
        if self._state in (State.FAILED, State.CLOSED) or not self._inbound.stored(
            sender, message_id
        ):
            return
        if sender in self._peers:  # _send_delivered, inlined (every text received)
            self._owe(sender, env.RECEIPT_DELIVERED, message_id, now_ms)

    def mark_read(self, message_ids: list[bytes] | tuple[bytes, ...], now_ms: int) -> None:
        """Tell the senders of these shown messages that they were read (encrypted receipts).

        Unknown ids, and ids already marked read, are ignored.
        """
        self._check_usable()
        by_sender: dict[bytes, list[bytes]] = {}
        for message_id in message_ids:
            for sender in self._inbound.mark_read(message_id):
                by_sender.setdefault(sender, []).append(message_id)
        for sender, ids in by_sender.items():
            peer = self._peers.get(sender)
            if peer is None:
                continue
            for start in range(0, len(ids), env.MAX_RECEIPT_IDS):
                chunk = tuple(ids[start : start + env.MAX_RECEIPT_IDS])
                receipt = env.Receipt(env.RECEIPT_READ, chunk)
                self._send_envelope(peer, receipt, self._rng(MESSAGE_ID_SIZE), now_ms)

    def leave(self, now_ms: int) -> None:
        """Leave: an encrypted LEAVE to every peer, the nameplate released, Leave to the relay.

        Every pairwise channel is wiped. Calling it again does nothing.
        """
        if self._state == State.CLOSED:
            return
        if self._owed and self._state != State.FAILED:
            self._seal_owed()  # receipts earned go before our LEAVE
        for peer in self._peers.values():
            if peer.channel is not None and peer.channel.can_send:
                self._send_envelope(peer, env.Leave(), self._rng(MESSAGE_ID_SIZE), now_ms)
        if self._role == Role.CREATOR and not self._retired and self._invite is not None:
            self._out.append(ReleaseNameplate(self._session_id, self._invite.nameplate))
            self._retired = True
        if self._session_id:
            self._out.append(Leave(self._session_id))
        self._wipe()
        self._move(State.CLOSED)

    def connection_lost(self) -> None:
        """Our relay connection dropped: nobody is shown present until the next Joined.

        What the session sends meanwhile is held for its recipients (sent after the re-join);
        nothing fails because of the outage.
        """
        self._present.clear()

    def rejoin(self, now_ms: int) -> None:
        """After a reconnect: Join again, then retransmit what is not known to be delivered.

        Retransmitted frames are the same frames (same ciphertext): every text not yet
        Delivered, the SYNC to peers not heard from, MEMBER_INIT to peers without a channel, and
        the creator's vouches. They wait until the relay shows their recipient as a member.
        """
        if self._state in (State.FAILED, State.CLOSED):
            return
        self._present.clear()
        if self._join_key is None:
            # A joiner not admitted yet: back to the lobby with a fresh attempt.
            assert self._invite is not None
            self._joiner_pake = self._joiner_ephemeral = None
            self._retry_at = None
            self._move(State.CONNECTING)
            self._deadline = now_ms + PAKE_TIMEOUT_MS
            self._out.append(Join(b"", self._invite.nameplate))
            return
        # Pending attempts died with the lobby of the old connection.
        self._attempts.clear()
        keep = self._invite.nameplate if self._invite and self._role == Role.CREATOR else ""
        self._out.append(self._join_frame("" if self._retired else keep))
        self._resend(None)
        self._ledger.restart_retries(now_ms)

    def handle_timeout(self, now_ms: int) -> None:
        """Expire a joiner's unanswered PAKE, a creator's stale attempts, and undelivered messages.

        A text not Delivered to every recipient within the message TTL (``message_ttl_ms`` of
        the constructor) is FAILED for the recipients that have not confirmed it
        (:class:`StatusChanged`) and no longer retransmitted.
        """
        if self._state not in (State.FAILED, State.CLOSED):
            expired = self._ledger.expire(now_ms)
            self._report_abandoned(expired, failed_expired(self._ledger.ttl_ms))
            self._retransmit(now_ms)
        for address, attempt in list(self._attempts.items()):
            if now_ms >= attempt.started_ms + ATTEMPT_TIMEOUT_MS:
                del self._attempts[address]  # abandoned: no guess was made, nothing counted
        if self._retry_at is not None and now_ms >= self._retry_at:
            self._retry_at = None
            if self._state == State.AUTHENTICATING and self._invite is not None:
                # A new lobby period (the relay counts LobbyMessages per period).
                self._move(State.CONNECTING)
                self._out.append(Join(b"", self._invite.nameplate))
        if (
            self._state in (State.CONNECTING, State.AUTHENTICATING)
            and self._deadline is not None
            and now_ms >= self._deadline
        ):
            self._fail("the session did not answer in time")

    # ------------------------------------------------------------------ input

    def receive(self, payload: Payload, now_ms: int) -> None:
        """Handle one frame from the relay that concerns this session.

        Never raises for bad input: invalid, unauthenticated or unexpected frames are dropped
        and counted in :attr:`dropped_frames`.
        """
        if self._state in (State.FAILED, State.CLOSED):
            return
        try:  # _consume(self._dispatch, ...), inlined: this runs for every frame
            used = self._dispatch(payload, now_ms)
        except (QuickoError, ValueError):
            used = False
        if not used:
            self.dropped_frames += 1

    def _dispatch(self, payload: Payload, now_ms: int) -> bool:
        """Route a frame to its handler; whether it was used."""
        # The frames of a conversation first (one type check each), then the rest in turn.
        if type(payload) is Message:
            return payload.session_id == self._session_id != b"" and self._on_message(
                payload, now_ms
            )
        if type(payload) is Ack:
            return payload.session_id == self._session_id != b"" and self._on_ack(payload)
        if isinstance(payload, Joined):
            return self._on_joined(payload, now_ms)
        if isinstance(payload, Error):
            return self._on_error(payload)
        if isinstance(payload, Lobby):
            return self._on_lobby(payload, now_ms)
        if isinstance(payload, LobbyMessage):
            return self._on_lobby_message(payload, now_ms)
        if getattr(payload, "session_id", None) != self._session_id or not self._session_id:
            return False
        match payload:
            case PeerJoined():
                return self._on_peer_joined(payload)
            case PeerLeft():
                return self._on_peer_left(payload.address, payload.reason)
            case KeyExchange():
                return self._on_key_exchange(payload, now_ms)
            case Message():
                return self._on_message(payload, now_ms)
            case Ack():
                return self._on_ack(payload)
            case _:
                return False

    # ------------------------------------------------------------------ relay frames

    def _on_joined(self, joined: Joined, now_ms: int) -> bool:
        if not self._session_id or joined.session_id != self._session_id:
            return False
        if self._state == State.CONNECTING:
            self._move(State.ACTIVE)
        if not self._opened:
            self._opened = True
            self._events.append(ev.SessionOpened(self._session_id))
        for member in joined.members:
            if member.address not in self._present and member.address != self._me:
                # Members who were there before us are announced like those who join later.
                verified = member.address in self._peers
                self._events.append(ev.PeerJoined(member.address, member.display_name, verified))
            self._present[member.address] = member.display_name
            peer = self._peers.get(member.address)
            if peer is not None:
                peer.away = not member.online
        self._flush_held()
        return True

    def _on_peer_joined(self, joined: PeerJoined) -> bool:
        if joined.address == self._me:
            return False
        self._present[joined.address] = joined.display_name
        peer = self._peers.get(joined.address)
        self._events.append(ev.PeerJoined(joined.address, joined.display_name, peer is not None))
        if peer is not None:
            # A known peer proved its id to the relay again: send again what it may have missed
            # while away (what the relay held and expired, or never held), the same frames as
            # after our own reconnect; duplicates are dropped by the recipient (§10).
            peer.away = False
            self._resend(joined.address)
        self._flush_held()
        return True

    def _on_peer_left(self, address: bytes, reason: int) -> bool:
        known = address in self._peers or address in self._present
        if reason != LeaveReason.DISCONNECTED:
            # No longer a member at the relay: frames for it wait for its PeerJoined.
            self._present.pop(address, None)
        peer = self._peers.get(address)
        if peer is not None:
            # Whatever the relay says (LEFT included), an authenticated peer is only away: its
            # keys and our channel stay, and it gets what we wrote when it is back. Only its own
            # encrypted LEAVE removes it (docs/protocol.md §10; issue 8, finding 6): a relay
            # cannot make us forget a peer.
            peer.away = True
        elif reason != LeaveReason.DISCONNECTED:
            self._pending_inits.pop(address, None)
        if known:
            self._events.append(ev.PeerLeft(address, reason, gone=peer is None))
        return known

    def _on_ack(self, ack: Ack) -> bool:
        if ack.sender != self._me:
            return False
        if ack.message_id in self._receipts:
            if ack.status == AckStatus.EXPIRED:
                self._receipts.expired(ack.message_id)
            else:
                self._receipts.acknowledged(ack.message_id)
            return True
        if ack.status in (AckStatus.ACCEPTED, AckStatus.BUFFERED):
            self._update_status(ack.message_id, ack.recipient or None, DeliveryStatus.SENT)
            return True
        # EXPIRED: the relay dropped the copy it held, not our message. It stays outstanding,
        # goes again when the recipient is back (its PeerJoined, or our reconnect), and fails
        # only when the message TTL passes or the recipient leaves (docs/protocol.md §10).
        return ack.status == AckStatus.EXPIRED

    def _on_error(self, error: Error) -> bool:
        if error.ref_type == MessageType.JOIN and error.code in _FATAL_JOIN_ERRORS:
            if self._state not in (State.CONNECTING, State.AUTHENTICATING):
                return False
            self._fail(_FATAL_JOIN_ERRORS[ErrorCode(error.code)])
            return True
        if error.ref_type == MessageType.LOBBY_MESSAGE:
            pending = self._role == Role.JOINER and self._state == State.AUTHENTICATING
            if not pending or error.code not in _FATAL_LOBBY_ERRORS:
                return False  # the owner's frame to a joiner that left: its attempt times out
            self._fail(_FATAL_LOBBY_ERRORS[ErrorCode(error.code)])
            return True
        if error.ref_type == MessageType.MESSAGE and error.ref_id in self._receipts:
            # Transient (or unknown, §5): sent again on its timer. A refusal no retry can
            # change (malformed, too large…) drops it rather than resend it every minute.
            known = error.code in ErrorCode._value2member_map_
            if known and error.code not in _TRANSIENT_ERRORS:
                self._receipts.refused(error.ref_id)
            return True
        if error.ref_type == MessageType.MESSAGE and error.ref_id in self._ledger:
            # A membership race (a recipient, or we, expired at the relay as we sent), a full
            # buffer or a rate limit is no failure: like an Ack EXPIRED, the text goes again on
            # its timer and when the member is back (§10). Only a refusal that can never
            # succeed (malformed, too large) fails it.
            # An unknown code is treated like INTERNAL (docs/protocol.md §5): transient.
            known = error.code in ErrorCode._value2member_map_
            if known and error.code not in _TRANSIENT_ERRORS:
                refused = failed_refused(ErrorCode(error.code).name)
                self._update_status(error.ref_id, None, DeliveryStatus.FAILED, refused)
            return True
        return False
