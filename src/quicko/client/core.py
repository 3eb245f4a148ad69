"""The sans-I/O client core: every decision of the client, with no sockets, tasks or clocks.

:class:`ClientCore` is to :class:`~quicko.client.api.AsyncQuickoClient` what ``h11``'s
connection is to an HTTP server (STYLE.md rule 3): it takes inputs, runs commands and hands
back what to do, and the asyncio client only moves bytes, arms one timer and resolves futures.

Inputs:

- :meth:`ClientCore.connection_made` once the relay accepted our Hello (with the Challenge's
  nonce and node id, which every Join proof of that connection covers);
- :meth:`ClientCore.connection_lost` when the link dropped;
- :meth:`ClientCore.receive` for every frame the relay sent (decoded and screened by the link);
- :meth:`ClientCore.handle_timeout` at :meth:`ClientCore.next_deadline`.

Commands (:meth:`~ClientCore.create_session`, :meth:`~ClientCore.join_session`,
:meth:`~ClientCore.send_text`, :meth:`~ClientCore.mark_read`, :meth:`~ClientCore.leave_session`,
:meth:`~ClientCore.register_key`, :meth:`~ClientCore.lookup_key`, :meth:`~ClientCore.dial`,
:meth:`~ClientCore.answer_call`, …) return ids: a session id, a message id, or an *operation*
id whose outcome arrives later in :meth:`ClientCore.completions`.

Outputs, drained after every call: :meth:`ClientCore.data_to_send` (payloads for the relay, in
order, Joins already signed), :meth:`ClientCore.events` (client events,
:mod:`quicko.client.models`), :meth:`ClientCore.completions`, :meth:`ClientCore.next_deadline`.

What the core decides:

- **Routing.** Every relay frame goes to the session it names (Joined, PeerJoined, PeerLeft,
  KeyExchange, Message, Ack; Lobby and LobbyMessage by nameplate: to the joiner waiting in that
  lobby, or, when ``peer`` is set, to the creator that owns the nameplate; an Error by its
  ``ref_id``), or to the operation that waits for it (RegisterAck, LookupResponse,
  CallResponse), or becomes an incoming call.
- **Join proofs.** Every Join by id is signed as it is handed out, by the session's join key,
  over the Challenge of the current connection (:meth:`Session.sign_join`).
- **Re-join.** After every (re)connection each live session joins again and sends what it owes
  (:meth:`Session.rejoin`); the QuickoKey is registered again if it was.
- **One owner per concept.** Retransmission, the bound on undelivered messages and FAILED live
  in each session's ledger only (:mod:`quicko.session.delivery`): there is no frame queue here.
  While no connection is up, the frames a session emits are held *by the session* for their
  recipients; the core keeps only a few control frames (Leave, ReleaseNameplate, call answers,
  UnregisterKey: at most :data:`MAX_OFFLINE_CONTROL_FRAMES`) and drops Joins and lobby frames,
  which the re-join sends afresh.
- **Local session ids.** A remote party never chooses or replaces a local session: a call or
  an admission whose session id is already a live session here is refused.
- **Calls** (docs/protocol.md §4.8, §8.5). An outgoing call is *ringing* from its CallPeer
  (:class:`~quicko.client.models.CallRinging`) until an answer, the relay's TIMEOUT or our
  :meth:`ClientCore.cancel_call` (CallResponse CANCELLED). An incoming call rings until we
  answer, the caller's CANCELLED or the relay's TIMEOUT arrives, or its ring time
  (:data:`CALL_RING_MS` after it arrived) passes: then :class:`~quicko.client.models.CallEnded`.
  Races: an ACCEPTED that arrives after we cancelled is completed and left at once (the callee
  is told); our ACCEPTED that crossed the caller's CANCELLED or the TIMEOUT (we receive that
  frame, or NOT_PENDING for our answer) closes the call's session.

Nothing here logs content, keys, codes or full ids.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal, TypeAlias, TypeVar

from quicko.client import models as m
from quicko.client.events import DisconnectReason
from quicko.client.live import LiveSession
from quicko.crypto import RandomSource
from quicko.errors import CallCancelledError, ConnectionClosedError, QuickoError, SessionError
from quicko.identity import Identity, InviteCode, format_quickokey, parse_invite_code
from quicko.messaging import ChatMessage, DeliveryStatus
from quicko.protocol import (
    Ack,
    CallPeer,
    CallResponse,
    CallStatus,
    Error,
    ErrorCode,
    Join,
    Joined,
    KeyExchange,
    Leave,
    Lobby,
    LobbyMessage,
    LookupKey,
    LookupResponse,
    Message,
    MessageType,
    Payload,
    PeerJoined,
    PeerLeft,
    RegisterAck,
    RegisterKey,
    ReleaseNameplate,
    UnregisterKey,
    canonical_relay_url,
    register_transcript,
)
from quicko.session import IncomingCall, OutgoingCall, Session, State

__all__ = [
    "CALL_RING_MS",
    "MAX_INCOMING_CALLS",
    "MAX_OFFLINE_CONTROL_FRAMES",
    "ClientCore",
    "Completion",
    "OpId",
    "describe_error",
]

OpId: TypeAlias = int
"""An operation of the core whose outcome arrives later as a :class:`Completion`."""

MAX_OFFLINE_CONTROL_FRAMES: Final = 256
"""Control frames (Leave, ReleaseNameplate, call answers) kept while offline; oldest dropped."""

MAX_INCOMING_CALLS: Final = 16
"""Incoming calls waiting for an answer; the oldest is forgotten beyond it."""

CALL_RING_MS: Final = 60_000
"""How long an incoming call rings at most: the relay's default call timeout (§4.7)."""

_REMEMBERED_CALLS: Final = 64
"""Ended, cancelled and answered calls remembered (to explain and settle late frames)."""

_CALL_ENDS: Final[dict[int, m.CallEndReason]] = {
    CallStatus.CANCELLED: "cancelled",
    CallStatus.TIMEOUT: "timeout",
}

#: Relay errors about frames in flight around a reconnect or under load; sessions repair them.
_TRANSIENT: Final = frozenset(
    {
        ErrorCode.RECIPIENT_UNKNOWN,
        ErrorCode.NOT_A_MEMBER,
        ErrorCode.BUFFER_FULL,
        ErrorCode.RATE_LIMITED,
    }
)
#: Frames worth keeping while offline: nothing re-creates them after the reconnect.
_CONTROL: Final = (Leave, ReleaseNameplate, CallResponse, UnregisterKey)
_REPLY_TYPES: Final = {
    MessageType.REGISTER_KEY: "register",
    MessageType.UNREGISTER_KEY: "register",
    MessageType.LOOKUP_KEY: "lookup",
}

Result: TypeAlias = Payload | m.SessionInfo | None
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Completion:
    """The outcome of an operation: its ``result``, or the ``error`` it failed with."""

    op: OpId
    result: Result = None
    error: QuickoError | None = None


@dataclass(frozen=True, slots=True)
class _LinkInfo:
    node_id: str
    nonce: bytes


class ClientCore:
    """Sessions, routing, replies and re-joins of one client identity (module docstring).

    Args:
        identity: the client's identity.
        rng: randomness (session ids, keys, message ids).
        relay_url: the relay URL as dialled (RegisterKey names it, canonical).
        long_term: whether ``identity`` is a long-term QuickoKey (its seed phrase is shown).
        ring_ms: how long an incoming call rings at most (the relay's call timeout).
    """

    def __init__(
        self,
        identity: Identity,
        rng: RandomSource,
        *,
        relay_url: str,
        long_term: bool = False,
        ring_ms: int = CALL_RING_MS,
    ) -> None:
        self._identity = identity
        # Read on every text sent (the name is a hash of the address): spelled out once.
        self._own = (identity.address, identity.display_name)
        self._rng = rng
        self._relay_url = canonical_relay_url(relay_url)
        self.long_term = long_term
        self._link: _LinkInfo | None = None
        self._sessions: dict[bytes, LiveSession] = {}
        self._joining: list[LiveSession] = []
        self._left: dict[str, LiveSession] = {}
        self._incoming: dict[bytes, tuple[IncomingCall, int]] = {}  # call, end of its ring
        self._ring_ms = ring_ms
        self._dialling: dict[bytes, OutgoingCall] = {}
        # Calls that ended while ringing (answer_call explains), that we cancelled (an
        # ACCEPTED may still cross), and that we accepted (our ACCEPTED may have lost a race).
        self._ended: OrderedDict[bytes, m.CallEndReason] = OrderedDict()
        self._cancelled: OrderedDict[bytes, OutgoingCall] = OrderedDict()
        self._answered: OrderedDict[bytes, bytes] = OrderedDict()
        # Sessions of calls accepted after we cancelled them: left once the relay joined us.
        self._hanging: OrderedDict[bytes, LiveSession] = OrderedDict()
        self._registered = False
        self._out: list[Payload] = []
        self._offline: deque[Payload] = deque(maxlen=MAX_OFFLINE_CONTROL_FRAMES)
        self._events: list[m.ClientEvent] = []
        self._done: list[Completion] = []
        self._next_op = 0
        # What each waiting operation waits for.
        self._replies: dict[tuple[str, bytes], OpId] = {}
        self._joins: dict[OpId, tuple[LiveSession, bool]] = {}  # (session, needs a peer)
        self._problems: dict[OpId, list[str]] = {}

    # ------------------------------------------------------------------ views

    @property
    def identity(self) -> Identity:
        """The client's identity."""
        return self._identity

    @property
    def relay_url(self) -> str:
        """The relay's URL, canonical (``scheme://host:port``, as Hello and RegisterKey sign it)."""
        return self._relay_url

    @property
    def connected(self) -> bool:
        """Whether a relay connection is up (between connection_made and connection_lost)."""
        return self._link is not None

    @property
    def registered(self) -> bool:
        """Whether our QuickoKey is (to be) registered in the relay's directory."""
        return self._registered

    def live(self) -> list[LiveSession]:
        """Every live session, joins still running included."""
        return [*self._sessions.values(), *self._joining]

    def sessions(self) -> list[m.SessionInfo]:
        """Every live session (joins still running excluded)."""
        return [live.info() for live in self._sessions.values()]

    def get(self, session_id: str) -> LiveSession:
        """A live session by its hex id.

        Raises:
            SessionError: unknown session (left, destroyed or never joined) or a bad id.
        """
        live = self._sessions.get(_hex(session_id, "session id"))
        if live is None:
            raise SessionError("unknown session (it was left, destroyed or never joined)")
        return live

    def messages(self, session_id: str) -> list[ChatMessage]:
        """A session's messages (also of a session we left, until destroyed)."""
        live = self._sessions.get(_hex(session_id, "session id")) or self._left.get(session_id)
        if live is None:
            raise SessionError("unknown session")
        return live.store.messages()

    def status(self, session_id: str, message_id: str) -> DeliveryStatus | None:
        """The status of one of our messages, from the session's ledger (beyond the store)."""
        return self.get(session_id).session.status(_hex(message_id, "message id"))

    # ------------------------------------------------------------------ outputs

    def data_to_send(self) -> list[Payload]:
        """Payloads for the relay, in order (drains them)."""
        out, self._out = self._out, []
        return out

    def events(self) -> list[m.ClientEvent]:
        """Client events since the last call (drains them)."""
        out, self._events = self._events, []
        return out

    def completions(self) -> list[Completion]:
        """Outcomes of operations since the last call (drains them)."""
        out, self._done = self._done, []
        return out

    def next_deadline(self) -> int | None:
        """When :meth:`handle_timeout` has something to do (ms since the epoch), or ``None``."""
        # Read after every flush (every send, every batch read): no lists on this path.
        best: int | None = None
        for live in self._sessions.values():
            for deadline in (live.session.next_deadline(), live.store.next_deadline()):
                if deadline is not None and (best is None or deadline < best):
                    best = deadline
        for live in self._joining:
            deadline = live.session.next_deadline()
            if deadline is not None and (best is None or deadline < best):
                best = deadline
        for _, ends in self._incoming.values():
            if best is None or ends < best:
                best = ends
        return best

    # ------------------------------------------------------------------ connection inputs

    def connection_made(self, node_id: str, nonce: bytes, now_ms: int) -> None:
        """The relay accepted our Hello: re-join every session, re-register, send what waited."""
        self._link = _LinkInfo(node_id, nonce)
        self._events.append(m.Connected(node_id))
        for live in self.live():
            live.session.rejoin(now_ms)
            self._pump(live, now_ms)
        if self._registered:
            self._send(None, self.register_frame(now_ms))
        waiting = list(self._offline)
        self._offline.clear()
        for payload in waiting:
            self._send(None, payload)

    def connection_lost(
        self,
        reason: str,
        now_ms: int,
        *,
        will_retry: bool = True,
        code: DisconnectReason | Literal[""] = "",
    ) -> None:
        """The link dropped (``reason`` is short and safe to show; ``code`` says what kind)."""
        del now_ms  # nothing times from the loss itself
        self._link = None
        self._dialling.clear()  # their replies fail below: those calls are over
        while self._hanging:  # their Joins went with the link (rare: a race within a race)
            self._hanging.popitem()[1].wipe()
        self._events.append(m.Disconnected(reason, will_retry, code))
        for live in self.live():
            live.joined_here = False
            live.session.connection_lost()
            self._events += live.refresh(connected=False)
        for key, op in list(self._replies.items()):
            del self._replies[key]
            self._fail(op, ConnectionClosedError("the connection to the relay dropped"))

    def receive(self, payload: Payload, now_ms: int) -> None:
        """Handle one frame from the relay (already decoded and screened by the link)."""
        live: LiveSession | None
        match payload:
            case Joined():
                live = self._sessions.get(payload.session_id)
                if live is None and payload.session_id in self._hanging:
                    self._finish_hang_up(payload, now_ms)
                    return
                if live is not None and payload.session_id:
                    live.session.receive(payload, now_ms)
                    live.joined()
                    self._pump(live, now_ms)
                return
            case PeerJoined() | PeerLeft() | KeyExchange() | Message() | Ack():
                live = self._sessions.get(payload.session_id)
            case Lobby():
                live = self._lobby_joiner(payload.nameplate)
            case LobbyMessage():
                live = (
                    self._nameplate_owner(payload.nameplate)
                    if payload.peer
                    else self._lobby_joiner(payload.nameplate)
                )
            case Error():
                self._on_error(payload, now_ms)
                return
            case RegisterAck():
                self._reply(("register", b""), payload)
                return
            case LookupResponse():
                self._reply(("lookup", payload.address), payload)
                return
            case CallResponse():
                self._on_call_response(payload, now_ms)
                return
            case CallPeer():
                self._on_call(payload, now_ms)
                return
            case _:
                return
        if live is not None:
            live.session.receive(payload, now_ms)
            self._pump(live, now_ms)

    def receive_batch(self, payloads: Sequence[Payload], now_ms: int) -> None:
        """Handle frames read together, as :meth:`receive` each, in order.

        A session's Messages and Acks are handed to it one by one and the session is drained
        once they are all in (or before any other frame), so that the receipts its texts earn
        go as one RECEIPT per sender (docs/protocol.md §10.2) and the per-frame bookkeeping runs
        once per batch.

        A frame whose handling raises (a bug) does not cost the others: the rest of the batch
        is still handled, then the first exception is raised.
        """
        touched: dict[bytes, LiveSession] = {}
        sessions = self._sessions
        failure: Exception | None = None
        for payload in payloads:
            try:
                if type(payload) is Message or type(payload) is Ack:
                    live = sessions.get(payload.session_id)
                    if live is not None:
                        touched[payload.session_id] = live
                        live.session.receive(payload, now_ms)
                        continue
                self._pump_all(touched, now_ms)
                self.receive(payload, now_ms)
            except Exception as exc:  # raised below, once the rest of the batch is handled
                failure = failure or exc
        self._pump_all(touched, now_ms)
        if failure is not None:
            raise failure

    def _pump_all(self, touched: dict[bytes, LiveSession], now_ms: int) -> None:
        for live in touched.values():
            self._pump(live, now_ms)
        touched.clear()

    def handle_timeout(self, now_ms: int) -> None:
        """Run the sessions' timers (retransmission, expiry, PAKE) and purge expired messages."""
        for live in self.live():
            deadline = live.session.next_deadline()
            if deadline is not None and deadline <= now_ms:
                live.session.handle_timeout(now_ms)
                self._pump(live, now_ms)
            if live.session_id:
                live.store.purge_expired(now_ms)
        for call_id, (_, ends) in list(self._incoming.items()):
            if ends <= now_ms:
                self._end_ring(call_id, "timeout")

    # ------------------------------------------------------------------ session commands

    def create_session(self, now_ms: int) -> tuple[m.SessionInfo, OpId]:
        """Create a session and its invite code.

        Returns:
            The session, and an operation that completes once the relay holds its invite code
            (the relay's Joined) or fails if the relay refuses it.
        """
        invite = InviteCode.generate(self._rng)
        session = Session.create(self._identity, self._rng, now_ms, invite)
        live = LiveSession(session, "creator", invite)
        self._sessions[session.session_id] = live
        op = self._watch(live, needs_peer=False)
        self._pump(live, now_ms)
        return live.info(), op

    def join_session(self, code: str, now_ms: int) -> OpId:
        """Join a session by invite code; the operation completes with its :class:`SessionInfo`.

        It completes once the creator is authenticated and the relay confirmed our Join by id,
        and fails with a :class:`SessionError` saying why (wrong code, refused, timed out).

        Raises:
            InviteCodeError: ``code`` is not an ``XXXX-XXXX`` invite code.
        """
        invite = parse_invite_code(code)
        live = LiveSession(
            Session.join(self._identity, invite, self._rng, now_ms), "joiner", invite
        )
        self._joining.append(live)
        op = self._watch(live, needs_peer=True)
        self._pump(live, now_ms)
        return op

    def abandon(self, op: OpId) -> None:
        """Stop a join the caller no longer waits for (its deadline passed): forget it."""
        watched = self._joins.pop(op, None)
        self._problems.pop(op, None)
        if watched is not None and watched[1] and not watched[0].ready:
            self._forget(watched[0])

    def send_text(self, session_id: str, text: str, now_ms: int) -> ChatMessage:
        """Encrypt and send ``text`` to every authenticated member; never waits for the network.

        The message is PENDING; :class:`~quicko.client.models.StatusChanged` events follow.

        Raises:
            SessionError: unknown session, or no authenticated peer yet.
            ValueError: the text is too long.
        """
        live = self.get(session_id)
        message_id = live.session.send_text(text, now_ms)
        message = ChatMessage(
            message_id=message_id,
            session_id=live.session_id,
            sender=self._own[0],
            sender_name=self._own[1],
            text=text,
            timestamp_ms=now_ms,
            outgoing=True,
            status=DeliveryStatus.PENDING,
        )
        live.add_outgoing(message, now_ms)
        self._pump(live, now_ms)
        return message

    def retry_message(self, session_id: str, message_id: str, now_ms: int) -> ChatMessage:
        """Send a FAILED text of ours again, same id; it is PENDING again (StatusChanged).

        The receiver drops a copy it already has and repeats its receipt, so nothing is shown
        twice (:meth:`quicko.session.Session.resend_text`).

        Raises:
            SessionError: unknown session, the message is not FAILED (or unknown), its text is
                no longer kept (pushed out of the store or expired), or no authenticated peer.
        """
        live = self.get(session_id)
        key = _hex(message_id, "message id")
        if live.session.status(key) is not DeliveryStatus.FAILED:
            raise SessionError("only a message that failed can be sent again")
        stored = live.store.get(self._identity.address, key)
        if stored is None:
            raise SessionError("this message is no longer kept: write it again")
        live.session.resend_text(key, stored.text, now_ms)
        message = live.store.retry(self._identity.address, key)
        self._pump(live, now_ms)
        return message if message is not None else stored.with_status(DeliveryStatus.PENDING)

    def mark_read(self, session_id: str, message_ids: Sequence[str], now_ms: int) -> None:
        """Tell the senders that these received messages were shown (encrypted receipts)."""
        live = self.get(session_id)
        ids = [_hex(message_id, "message id") for message_id in message_ids]
        live.session.mark_read(ids, now_ms)
        live.mark_read(ids)
        self._pump(live, now_ms)

    def leave_session(self, session_id: str, now_ms: int) -> None:
        """Leave: peers are told (encrypted), keys are wiped; messages stay readable."""
        live = self.get(session_id)
        live.session.leave(now_ms)
        self._forget(live)
        self._left[live.key] = live
        self._pump(live, now_ms)
        self._events.append(m.SessionClosed(live.key))

    def destroy_session(self, session_id: str, now_ms: int) -> None:
        """Leave a session (if not left yet) and wipe its keys and messages."""
        if session_id not in self._left:
            self.leave_session(session_id, now_ms)
        self._left.pop(session_id).wipe()

    def safety_number(self, session_id: str, address: str) -> str:
        """The safety number shared with an authenticated peer of the session.

        Raises:
            SessionError: unknown session, or not an authenticated peer.
        """
        live = self.get(session_id)
        try:
            return live.session.safety_number(_hex(address, "address"))
        except KeyError:
            raise SessionError("not an authenticated peer of this session") from None

    def mark_verified(self, session_id: str, address: str) -> None:
        """Record that the user compared the safety number with this peer."""
        self.safety_number(session_id, address)
        self.get(session_id).verified.add(_hex(address, "address"))

    def replace_identity(self, identity: Identity, now_ms: int) -> None:
        """Leave every session and take another identity (the caller reconnects)."""
        for live in list(self._sessions.values()):
            self.destroy_session(live.key, now_ms)
        for live in list(self._joining):
            self._forget(live)
        self._out.clear()
        self._offline.clear()
        self._incoming.clear()
        self._dialling.clear()
        while self._hanging:
            self._hanging.popitem()[1].wipe()
        if not self.long_term:
            self._identity.wipe()
        self._identity, self.long_term, self._registered = identity, True, False

    # ------------------------------------------------------------------ directory and calls

    def register_frame(self, now_ms: int) -> RegisterKey:
        """Our signed RegisterKey for the relay we dialled."""
        identity = self._identity
        public, name = identity.public, identity.display_name
        transcript = register_transcript(
            address=public.address,
            display_name=name,
            x25519_public=public.x25519_public,
            ed25519_public=public.ed25519_public,
            relay_url=self._relay_url,
            signed_at=now_ms,
        )
        return RegisterKey(public.address, name, public.x25519_public, public.ed25519_public,
                           self._relay_url, now_ms, identity.sign(transcript))  # fmt: skip

    def register_key(self, now_ms: int) -> OpId:
        """Publish our QuickoKey (again after every reconnect); completes with the RegisterAck.

        Raises:
            ConnectionClosedError: not connected.
        """
        op = self._ask(("register", b""), self.register_frame(now_ms))
        self._registered = True
        return op

    def set_registered(self, registered: bool) -> None:
        """Whether to register our QuickoKey again after every reconnect (the relay's answer)."""
        self._registered = registered

    def unregister_key(self) -> OpId:
        """Remove our QuickoKey from the directory; completes with the RegisterAck.

        Raises:
            ConnectionClosedError: not connected.
        """
        self._registered = False
        return self._ask(("register", b""), UnregisterKey(self._identity.address))

    def lookup_key(self, address: bytes) -> OpId:
        """Look an address up; completes with the LookupResponse (unchecked: see calls).

        Raises:
            ConnectionClosedError: not connected.
        """
        return self._ask(("lookup", address), LookupKey(address))

    def dial(self, outgoing: OutgoingCall) -> OpId:
        """Place a call (:class:`~quicko.client.models.CallRinging` follows at once).

        The operation completes with the callee's CallResponse (or the relay's), or fails with
        :class:`~quicko.errors.CallCancelledError` after :meth:`cancel_call`.

        Raises:
            ConnectionClosedError: not connected.
        """
        op = self._ask(("call", outgoing.call_id), outgoing.call_peer)
        self._dialling[outgoing.call_id] = outgoing
        callee = format_quickokey(outgoing.callee.address)
        self._events.append(m.CallRinging(outgoing.call_id.hex(), callee))
        return op

    def cancel_call(self, call_id: str) -> None:
        """Stop calling: send CANCELLED (the callee's ring ends), fail the call's operation.

        A call that is not ringing any more (answered, declined, timed out, unknown) is left
        alone: the user's click may race the answer, and the answer then counts.
        """
        key = _hex(call_id, "call id")
        outgoing = self._dialling.pop(key, None)
        op = self._replies.pop(("call", key), None)
        if outgoing is None or op is None:
            return
        self._send(None, outgoing.cancel())
        _remember(self._cancelled, key, outgoing)
        self._fail(op, CallCancelledError("the call was cancelled"))

    def cancel(self, op: OpId) -> None:
        """Forget an operation whose caller stopped waiting (a timeout); a call is cancelled."""
        for key, waiting in list(self._replies.items()):
            if waiting == op:
                if key[0] == "call" and key[1] in self._dialling:
                    self.cancel_call(key[1].hex())
                    continue
                del self._replies[key]
        self.abandon(op)

    def open_call(
        self, session: Session, role: Literal["caller", "callee"], now_ms: int
    ) -> m.SessionInfo:
        """Keep the session of an accepted call.

        Raises:
            SessionError: its id is one of our live sessions (a call never replaces one).
        """
        if session.session_id in self._sessions:
            # A remote party never chooses or replaces a local session (issue 8, finding 1).
            session.leave(now_ms)
            raise SessionError("the call's session id is already one of our sessions")
        live = LiveSession(session, role)
        self._sessions[session.session_id] = live
        self._pump(live, now_ms)
        return live.info()

    def answer_call(self, call_id: str, accept: bool, now_ms: int) -> m.SessionInfo | None:
        """Accept (return the call's session) or decline an incoming call.

        Raises:
            SessionError: no such call waiting; ``"the call has ended"`` once the caller
                cancelled it or its ring time passed (:class:`~quicko.client.models.CallEnded`).
        """
        key = _hex(call_id, "call id")
        ringing = self._incoming.get(key)
        if ringing is not None and ringing[1] <= now_ms:
            self._end_ring(key, "timeout")  # its timer has not run yet: it ended all the same
            ringing = None
        if ringing is None:
            if key in self._ended:
                raise SessionError("the call has ended")
            raise SessionError("no such incoming call (it was answered or forgotten)")
        del self._incoming[key]
        call = ringing[0]
        if call.session_id in self._sessions:
            accept = False  # never let a call replace a session we have (issue 8, finding 1)
        if not accept:
            self._send(None, call.decline())
            return None
        response, session = call.accept(self._identity, self._rng, now_ms)
        self._send(None, response)
        info = self.open_call(session, "callee", now_ms)
        _remember(self._answered, key, session.session_id)
        return info

    # ------------------------------------------------------------------ routing helpers

    def _lobby_joiner(self, nameplate: str) -> LiveSession | None:
        """The joiner (not admitted yet) waiting in the lobby of ``nameplate``."""
        return next(
            (item for item in self._joining
             if item.invite is not None and item.invite.nameplate == nameplate),
            None,
        )  # fmt: skip

    def _nameplate_owner(self, nameplate: str) -> LiveSession | None:
        """Our creator session whose invite code has ``nameplate``."""
        return next(
            (item for item in self._sessions.values()
             if item.role == "creator" and item.invite is not None
             and item.invite.nameplate == nameplate),
            None,
        )  # fmt: skip

    def _on_error(self, error: Error, now_ms: int) -> None:
        live = self._error_owner(error)
        if live is None and error.ref_type in _REPLY_TYPES:
            key = (_REPLY_TYPES[MessageType(error.ref_type)], b"")
            if self._fail_reply(key, error) or self._fail_lookup(error):
                return
        elif (
            live is None
            and error.ref_type == MessageType.CALL_PEER
            and self._fail_reply(("call", error.ref_id), error)
        ):
            return
        elif error.ref_type == MessageType.CALL_RESPONSE and error.code == ErrorCode.NOT_PENDING:
            # Our answer or cancel crossed the call's end (§4.8): nothing for the user to read.
            # (A CANCELLED or TIMEOUT normally came first; without one, the deadline passed.)
            if error.ref_id in self._answered:
                self._lost_answer(error.ref_id, "timeout", now_ms)
            return
        if live is not None:
            dropped = live.session.dropped_frames
            live.session.receive(error, now_ms)
            self._pump(live, now_ms)
            if live.session.dropped_frames == dropped:
                return
        if error.code not in _TRANSIENT:
            self._events.append(m.ClientError(describe_error(error)))

    def _error_owner(self, error: Error) -> LiveSession | None:
        """The session an Error is about, by its ``ref_type`` and ``ref_id``."""
        if error.ref_type == MessageType.JOIN:
            if error.ref_id:
                return self._sessions.get(error.ref_id)
            return next((item for item in self._joining if not item.session_id), None)
        if error.ref_type == MessageType.LOBBY_MESSAGE:
            return next((item for item in self._joining if not item.session_id), None)
        if error.ref_type == MessageType.MESSAGE:
            return next((s for s in self._sessions.values() if s.session.sent(error.ref_id)), None)
        return None

    def _on_call(self, frame: CallPeer, now_ms: int) -> None:
        try:
            call = IncomingCall.receive(frame, self._identity)
        except QuickoError:
            self._events.append(
                m.ClientError("refused a call whose caller could not be authenticated")
            )
            return
        if call.session_id in self._sessions:
            # Never reachable by chance (the id is a hash of the call); refused all the same: a
            # call never replaces a session we have (issue 8, finding 1).
            self._events.append(m.ClientError("refused a call that would reuse a session of ours"))
            return
        if len(self._incoming) >= MAX_INCOMING_CALLS:
            self._incoming.pop(next(iter(self._incoming)))
        ends = now_ms + self._ring_ms
        self._incoming[call.call_id] = (call, ends)
        self._events.append(
            m.IncomingCall(
                call.call_id.hex(),
                call.caller.quickokey,
                call.display_name,
                call.safety_number,
                ends,
            )
        )

    def _on_call_response(self, frame: CallResponse, now_ms: int) -> None:
        """An answer to our call, or the end of a call to us (§4.8)."""
        call_id, ended = frame.call_id, _CALL_ENDS.get(frame.status)
        if frame.callee == self._identity.address:
            # A call to us: the caller cancelled it, or the relay timed it out.
            if ended is None:
                return
            if call_id in self._incoming:
                self._end_ring(call_id, ended)
            elif call_id in self._answered:
                self._lost_answer(call_id, ended, now_ms)
            return
        self._dialling.pop(call_id, None)
        cancelled = self._cancelled.pop(call_id, None)
        if cancelled is not None and frame.status == CallStatus.ACCEPTED:
            self._hang_up(cancelled, frame, now_ms)
            return
        self._reply(("call", call_id), frame)

    def _end_ring(self, call_id: bytes, reason: m.CallEndReason) -> None:
        """An incoming call stops ringing unanswered: forget it, tell the application."""
        del self._incoming[call_id]
        _remember(self._ended, call_id, reason)
        self._events.append(m.CallEnded(call_id.hex(), reason))

    def _lost_answer(self, call_id: bytes, reason: m.CallEndReason, now_ms: int) -> None:
        """Our ACCEPTED crossed the caller's CANCELLED or the TIMEOUT: close the call's session."""
        session_id = self._answered.pop(call_id)
        live = self._sessions.get(session_id)
        if live is None:
            return
        self._events.append(m.CallEnded(call_id.hex(), reason))
        live.session.leave(now_ms)
        self._forget(live)
        self._pump(live, now_ms)
        live.wipe()
        why = "the caller stopped calling" if reason == "cancelled" else "nobody answered in time"
        self._events.append(m.SessionFailed(live.key, f"the call had ended ({why})"))

    def _hang_up(self, outgoing: OutgoingCall, frame: CallResponse, now_ms: int) -> None:
        """The callee accepted a call we had cancelled: join, and leave once joined.

        The encrypted LEAVE can go only once the relay shows the callee a member (our Joined),
        so the session waits, unseen by the application, in ``_hanging`` until then.
        """
        try:
            session = outgoing.complete(frame, self._identity, self._rng, now_ms)
        except QuickoError:
            return  # not a valid answer: nothing to hang up
        if session.session_id in self._sessions:
            session.leave(now_ms)
            return
        live = LiveSession(session, "caller")
        self._hanging[session.session_id] = live
        while len(self._hanging) > MAX_INCOMING_CALLS:
            self._hanging.popitem(last=False)[1].wipe()
        self._quiet_pump(live)

    def _finish_hang_up(self, joined: Joined, now_ms: int) -> None:
        live = self._hanging.pop(joined.session_id)
        live.session.receive(joined, now_ms)
        live.session.leave(now_ms)
        self._quiet_pump(live)
        live.wipe()

    def _quiet_pump(self, live: LiveSession) -> None:
        """Send a hidden session's frames; its events are dropped (the application never saw it)."""
        live.session.events()
        for payload in live.session.data_to_send():
            self._send(live, payload)

    # ------------------------------------------------------------------ operations

    def _new_op(self) -> OpId:
        self._next_op += 1
        return self._next_op

    def _watch(self, live: LiveSession, *, needs_peer: bool) -> OpId:
        op = self._new_op()
        self._joins[op] = (live, needs_peer)
        self._problems[op] = []
        return op

    def _ask(self, key: tuple[str, bytes], frame: Payload) -> OpId:
        if not self.connected:
            raise ConnectionClosedError("not connected to the relay")
        old = self._replies.pop(key, None)
        if old is not None:
            self._fail(old, SessionError("replaced by a newer request"))
        op = self._new_op()
        self._replies[key] = op
        self._send(None, frame)
        return op

    def _reply(self, key: tuple[str, bytes], payload: Payload) -> None:
        op = self._replies.pop(key, None)
        if op is not None:
            self._done.append(Completion(op, payload))

    def _fail(self, op: OpId, error: QuickoError) -> None:
        self._done.append(Completion(op, None, error))

    def _fail_reply(self, key: tuple[str, bytes], error: Error) -> bool:
        op = self._replies.pop(key, None)
        if op is None:
            return False
        self._fail(op, SessionError(describe_error(error)))
        return True

    def _fail_lookup(self, error: Error) -> bool:
        keys = [key for key in self._replies if key[0] == "lookup"]
        return any(self._fail_reply(key, error) for key in keys[:1])

    def _settle(self, live: LiveSession, events: list[m.ClientEvent]) -> None:
        """Complete or fail the operations that wait on ``live``."""
        if not self._joins:
            return  # the common case: a conversation's frames, no join under way
        for op, (watched, needs_peer) in list(self._joins.items()):
            if watched is not live:
                continue
            problems = self._problems[op]
            for event in events:
                if isinstance(event, m.WrongInviteCode):
                    problems.append("wrong invite code")
                elif isinstance(event, m.SessionFailed):
                    problems.append(event.reason)
            failed = live.session.state is State.FAILED
            if failed:
                self._fail(op, SessionError(problems[0] if problems else "the join failed"))
            elif live.joined_here and (live.session.members or not needs_peer):
                self._done.append(Completion(op, live.info()))
            else:
                continue
            del self._joins[op], self._problems[op]

    # ------------------------------------------------------------------ pumping and sending

    def _pump(self, live: LiveSession, now_ms: int) -> None:
        """Drain a session: report its events, settle its operations, hand out its frames."""
        session = live.session
        events = live.translate(session.events(), now_ms)
        payloads = session.data_to_send()
        if self._joining and live in self._joining and live.session_id:
            payloads = self._admit(live, payloads, now_ms)
        if payloads:
            live.started = True
        events += live.refresh(self._link is not None)  # self.connected
        if self._joins:
            self._settle(live, events)
        if session.state is State.FAILED:
            self._forget(live)
            live.wipe()
        self._events += events
        link, out = self._link, self._out
        for payload in payloads:
            if link is not None and type(payload) is Message:
                out.append(payload)  # _send's common case: a conversation's frame, online
            else:
                self._send(live, payload)

    def _admit(self, live: LiveSession, payloads: list[Payload], now_ms: int) -> list[Payload]:
        """A joiner was admitted (it knows its session id): keep it, unless the id is taken."""
        self._joining.remove(live)
        if live.session_id not in self._sessions:
            self._sessions[live.session_id] = live
            return payloads
        # The creator named a session we already have: refuse rather than replace it.
        reason = "the session's creator named a session we have"
        live.session.leave(now_ms)
        live.session.data_to_send()
        live.session.events()
        self._events.append(m.SessionFailed("", reason))
        for op, (watched, _) in list(self._joins.items()):
            if watched is live:
                self._fail(op, SessionError(reason))
                del self._joins[op], self._problems[op]
        live.wipe()
        return []

    def _forget(self, live: LiveSession) -> None:
        if self._sessions.get(live.session_id) is live:
            del self._sessions[live.session_id]
        if live in self._joining:
            self._joining.remove(live)

    def _send(self, live: LiveSession | None, payload: Payload) -> None:
        """Hand a frame out now, keep a control frame until the reconnect, or drop it."""
        link = self._link
        if link is None:
            # Joins and lobby frames are sent afresh by the re-join; the sessions hold their
            # Messages and KeyExchanges; only control frames nothing re-creates are kept.
            if isinstance(payload, _CONTROL):
                self._offline.append(payload)
            return
        if isinstance(payload, Join) and live is not None:
            # The proof binds this connection's Challenge (docs/protocol.md §4.3).
            payload = live.session.sign_join(payload, nonce=link.nonce, node_id=link.node_id)
        self._out.append(payload)


def _remember(kept: OrderedDict[bytes, T], key: bytes, value: T) -> None:
    """Keep ``key`` among the last :data:`_REMEMBERED_CALLS` remembered."""
    kept[key] = value
    kept.move_to_end(key)
    while len(kept) > _REMEMBERED_CALLS:
        kept.popitem(last=False)


def describe_error(error: Error) -> str:
    """A relay Error frame as a short text that is safe to show."""
    try:
        name = ErrorCode(error.code).name
    except ValueError:
        name = f"code {error.code}"
    return f"relay error {name}: {error.reason}" if error.reason else f"relay error {name}"


def _hex(value: str, what: str) -> bytes:
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise SessionError(f"not a valid {what}") from None
