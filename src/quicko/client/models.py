"""Value objects and client events of the QuickoClient façade (docs/cli.md, client-api).

Everything a front-end sees of the client engine is one of these frozen values. Ids are lower-case
hex strings here, so that UIs and JSON need no bytes; the one exception is
:class:`~quicko.messaging.ChatMessage`, reused as it is (its ids are bytes, its ``repr()`` hides
the text).

Client events, in the order the client reports them (the union :data:`ClientEvent`):

- transport: :class:`Connected`, :class:`Disconnected`, :class:`Reconnecting`,
  :class:`ReconnectionFailed`, :class:`LatencyMeasured`;
- session: :class:`SessionReady`, :class:`PeerJoined`, :class:`PeerLeft`,
  :class:`PeerAuthenticated`, :class:`PeerRefused`, :class:`MessageReceived`,
  :class:`StatusChanged`, :class:`KeyChanged`, :class:`WrongInviteCode`, :class:`InviteRetired`,
  :class:`SessionFailed`, :class:`SessionClosed`, :class:`SessionStateChanged`;
- calls: :class:`CallRinging` (caller), :class:`CallDeclined` (caller), :class:`IncomingCall`
  and :class:`CallEnded` (callee);
- errors: :class:`ClientError` (its text is safe to show);
- the event queue's overflow marker: :class:`EventsDropped` (:mod:`quicko.client.eventq`).

No event carries a secret; no ``repr()`` shows a seed phrase or message text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal, TypeAlias

from quicko.client.events import DisconnectReason
from quicko.messaging import ChatMessage, DeliveryStatus
from quicko.protocol.frozen import direct_init

__all__ = [
    "CallDeclined",
    "CallEndReason",
    "CallEnded",
    "CallRinging",
    "ClientError",
    "ClientEvent",
    "Connected",
    "Disconnected",
    "EventsDropped",
    "IncomingCall",
    "InviteRetired",
    "JoinerFailed",
    "JoinerPending",
    "KeyChanged",
    "LatencyMeasured",
    "LookupInfo",
    "MessageReceived",
    "PeerAuthenticated",
    "PeerInfo",
    "PeerJoined",
    "PeerLeft",
    "PeerRefused",
    "QuickoKeyInfo",
    "Reconnecting",
    "ReconnectionFailed",
    "SessionClosed",
    "SessionFailed",
    "SessionInfo",
    "SessionReady",
    "SessionRole",
    "SessionState",
    "SessionStateChanged",
    "SessionStateName",
    "StatusChanged",
    "WrongInviteCode",
]

# ---------------------------------------------------------------------- value objects

SessionRole: TypeAlias = Literal["creator", "joiner", "caller", "callee"]
"""How we came into a session: created it, joined by code, placed or answered a call."""

SessionStateName: TypeAlias = Literal[
    "created", "connecting", "connected", "chatting", "reconnecting", "expired", "destroyed"
]
"""A :class:`SessionState` as the events carry it: its plain string value."""

CallEndReason: TypeAlias = Literal["cancelled", "timeout"]
"""Why an incoming call ended before we answered (:class:`CallEnded`)."""


class SessionState(StrEnum):
    """What a UI shows of a session, computed (``quicko.client.live.LiveSession.display_state``).

    A ``StrEnum``: each member equals its lower-case value (``SessionState.CHATTING ==
    "chatting"``); events carry the value itself (:data:`SessionStateName`).
    """

    #: Not sent to the relay yet.
    CREATED = "created"
    #: Waiting for the relay's first Joined (a joiner: also its PAKE in the lobby).
    CONNECTING = "connecting"
    #: Joined at the relay, no authenticated peer yet.
    CONNECTED = "connected"
    #: Joined at the relay with at least one authenticated peer: messages flow.
    CHATTING = "chatting"
    #: Was joined; the connection dropped or the re-Join is not confirmed yet.
    RECONNECTING = "reconnecting"
    #: Its messages' time ran out (reserved: sessions do not expire while the client runs).
    EXPIRED = "expired"
    #: Left, destroyed or failed: keys wiped.
    DESTROYED = "destroyed"


@dataclass(frozen=True, slots=True)
class PeerInfo:
    """A member of a session, as we know it.

    Attributes:
        address: the member's address (32 hex digits).
        display_name: its display name (signed by it once authenticated; the relay's claim
            before).
        authenticated: whether its identity keys are verified (PAKE, vouch or call bundle).
        safety_number: the number to compare out of band, once authenticated.
        verified: whether the user marked the safety number as compared.
    """

    address: str
    display_name: str
    authenticated: bool
    safety_number: str | None
    verified: bool


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """One session of the client.

    Attributes:
        session_id: 32 hex digits (empty for a joiner until the relay answered).
        invite_code: the ``XXXX-XXXX`` code of a session we created, else ``None``.
        role: ``"creator"``, ``"joiner"``, ``"caller"`` or ``"callee"`` (:data:`SessionRole`).
        peers: the other members.
        state: the display state, computed from the connection, the session and its members
            (:data:`SessionStateName`, the values of :class:`SessionState`: ``created``,
            ``connecting``, ``connected``, ``chatting``, ``reconnecting``, ``expired``,
            ``destroyed``).
    """

    session_id: str
    invite_code: str | None
    role: SessionRole
    peers: tuple[PeerInfo, ...]
    state: SessionStateName = "created"

    def __repr__(self) -> str:
        code = "set" if self.invite_code else "none"
        return (
            f"SessionInfo(session_id={self.session_id[:8]}…, role={self.role}, "
            f"state={self.state}, invite_code=<{code}>, peers={len(self.peers)})"
        )


@dataclass(frozen=True, slots=True)
class QuickoKeyInfo:
    """The client's identity, public parts and (for a long-term one) its seed phrase.

    Attributes:
        quickokey: ``QK-XXXX-…``.
        display_name: derived from the QuickoKey.
        seed_phrase: the 16 words, or empty for an ephemeral identity (never in ``repr()``).
        x25519_public: hex.
        ed25519_public: hex.
    """

    quickokey: str
    display_name: str
    seed_phrase: tuple[str, ...] = field(repr=False)
    x25519_public: str
    ed25519_public: str


@dataclass(frozen=True, slots=True)
class LookupInfo:
    """What the relay's directory says about a QuickoKey (keys checked against it)."""

    quickokey: str
    found: bool
    online: bool
    display_name: str


# ---------------------------------------------------------------------- transport events


@dataclass(frozen=True, slots=True)
class Connected:
    """The relay accepted our Hello (first connection or a reconnect)."""

    node_id: str


@dataclass(frozen=True, slots=True)
class Disconnected:
    """The connection ended; ``reason`` is short and safe to show.

    Attributes:
        reason: why, as the link or the relay said it (``client.wording.plain_reason`` turns it
            into plain words).
        will_retry: whether the client reconnects by itself (it does, unless ``disconnect()``
            was called, the retries are spent, or another connection replaced it).
        code: the :class:`~quicko.client.events.DisconnectReason` (a ``StrEnum``:
            ``"ping_timeout"``, ``"relay_error"``, …), or ``""`` when unknown.
    """

    reason: str
    will_retry: bool = True
    code: DisconnectReason | Literal[""] = ""


@dataclass(frozen=True, slots=True)
class Reconnecting:
    """The client waits ``delay_ms`` before attempt number ``attempt``.

    ``reason`` says, in plain words, why the last attempt failed or the connection dropped
    ("connection refused", "host name not found", "TLS certificate not trusted", …), or ``""``.
    """

    attempt: int
    delay_ms: int
    reason: str = ""


@dataclass(frozen=True, slots=True)
class ReconnectionFailed:
    """The client gave up reconnecting after ``attempts`` retries."""

    attempts: int


@dataclass(frozen=True, slots=True)
class LatencyMeasured:
    """A heartbeat measured the round-trip time to the relay."""

    latency_ms: float


# ---------------------------------------------------------------------- session events


@dataclass(frozen=True, slots=True)
class SessionReady:
    """A session has its first authenticated peer: messages can flow."""

    session: SessionInfo


@dataclass(frozen=True, slots=True)
class PeerJoined:
    """The relay says a member joined or came back (see ``peer.authenticated``)."""

    session_id: str
    peer: PeerInfo


@dataclass(frozen=True, slots=True)
class PeerLeft:
    """A member left or went away.

    ``reason`` is ``"left"`` (its own authenticated LEAVE: it is no longer a member),
    ``"away"`` (the relay says it left, which only the member itself can prove: it stays a
    member, as for the other two), ``"disconnected"`` or ``"expired"``.
    """

    session_id: str
    address: str
    display_name: str
    reason: str


@dataclass(frozen=True, slots=True)
class PeerAuthenticated:
    """A peer's identity keys were verified; ``peer.safety_number`` is set."""

    session_id: str
    peer: PeerInfo


@dataclass(frozen=True, slots=True)
class PeerRefused:
    """A peer's bundle, signature or vouch did not verify: it is not trusted."""

    session_id: str
    address: str
    reason: str


@direct_init
@dataclass(frozen=True, slots=True)
class MessageReceived:
    """A message arrived, decrypted (shown once)."""

    session_id: str
    message: ChatMessage


@direct_init
@dataclass(frozen=True, slots=True)
class StatusChanged:
    """The delivery status of one of our messages changed.

    ``reason`` says why a message is FAILED, in plain words ("not delivered within 3,600 s",
    "the relay refused it: TOO_LARGE", "the peer left", "too many messages waiting"); it is
    ``""`` for every other status (and after ``retry_message``, back to PENDING).
    """

    session_id: str
    message_id: str
    status: DeliveryStatus
    reason: str = ""


@dataclass(frozen=True, slots=True)
class KeyChanged:
    """Someone presented other keys for a known member; they were refused."""

    session_id: str
    address: str
    display_name: str


@dataclass(frozen=True, slots=True)
class WrongInviteCode:
    """Joiner side: the creator did not accept our code (this address may not try it again).

    ``retry_after_ms`` is what the creator's PAKE_FAIL said (informational).
    """

    session_id: str
    retry_after_ms: int


@dataclass(frozen=True, slots=True)
class JoinerPending:
    """Creator side: someone with the invite code is trying to join (not authenticated yet).

    Show it as "someone with the invite code is trying to join", never as a person: nothing
    about it is verified until :class:`PeerAuthenticated`.
    """

    session_id: str


@dataclass(frozen=True, slots=True)
class JoinerFailed:
    """Creator side: someone tried the invite code with a wrong password.

    ``failures`` counts the wrong guesses on this code; it is retired (:class:`InviteRetired`)
    at 32, and attempts are spaced out after 3.
    """

    session_id: str
    failures: int


@dataclass(frozen=True, slots=True)
class InviteRetired:
    """Creator side: too many wrong attempts; the code works no more."""

    session_id: str


@dataclass(frozen=True, slots=True)
class SessionFailed:
    """The session cannot go on; it is closed and wiped."""

    session_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class SessionClosed:
    """We left or destroyed the session."""

    session_id: str


@dataclass(frozen=True, slots=True)
class SessionStateChanged:
    """The session's lifecycle state changed (``state`` as in :attr:`SessionInfo.state`)."""

    session_id: str
    state: SessionStateName


# ---------------------------------------------------------------------- calls and errors


@dataclass(frozen=True, slots=True)
class IncomingCall:
    """A verified call to our QuickoKey; answer with ``answer_call(call_id, accept)``.

    ``expires_ms`` is when the ring ends (wall clock, ms since the epoch): the time the offer
    arrived plus the relay's call timeout (60 s by default, ``CALL_RING_MS``). A
    :class:`CallEnded` comes earlier if the caller cancels or the relay times the call out.
    """

    call_id: str
    caller_quickokey: str
    display_name: str
    safety_number: str
    expires_ms: int = 0


@dataclass(frozen=True, slots=True)
class CallRinging:
    """Caller side: our offer went out to the relay; ``cancel_call(call_id)`` can stop it."""

    call_id: str
    callee_quickokey: str


@dataclass(frozen=True, slots=True)
class CallEnded:
    """Callee side: an incoming call ended before we answered it.

    ``reason`` is ``"cancelled"`` (the caller stopped calling) or ``"timeout"`` (nobody
    answered within the ring time). ``answer_call`` on it raises ``SessionError``.
    """

    call_id: str
    reason: CallEndReason


@dataclass(frozen=True, slots=True)
class CallDeclined:
    """A call we placed was not accepted (``reason``: declined, offline, timed out…)."""

    call_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class EventsDropped:
    """The application read events too slowly: ``count`` events were dropped from the queue.

    No message is lost: received messages stay in their session's store; re-read
    ``messages()`` and ``sessions()`` (:mod:`quicko.client.eventq` has the rule).
    """

    count: int


@dataclass(frozen=True, slots=True)
class ClientError:
    """Something went wrong that concerns no one call of ours; the text is safe to show."""

    message: str


ClientEvent = (
    Connected
    | Disconnected
    | Reconnecting
    | ReconnectionFailed
    | LatencyMeasured
    | SessionReady
    | PeerJoined
    | PeerLeft
    | PeerAuthenticated
    | PeerRefused
    | MessageReceived
    | StatusChanged
    | KeyChanged
    | WrongInviteCode
    | JoinerPending
    | JoinerFailed
    | InviteRetired
    | SessionFailed
    | SessionClosed
    | SessionStateChanged
    | IncomingCall
    | CallRinging
    | CallEnded
    | CallDeclined
    | ClientError
    | EventsDropped
)
"""Any event of the client."""
