"""Transport events: what the connection supervisor reports (DESIGN.md §8).

The supervisor (:class:`quicko.client.connection.Connection`) turns everything that happens to
its WebSocket connection into one of these frozen values, in order:

- :class:`Connected` once the relay has accepted our Hello (a fresh connection, or a reconnect);
- :class:`MessageReceived` for every frame the relay sends after that;
- :class:`PingReceived` for every heartbeat answered, with the round-trip latency;
- :class:`AttemptFailed` when an attempt to connect fails before the relay accepted us;
- :class:`Disconnected` when an established connection ends;
- :class:`Reconnecting` before each retry, with its back-off delay;
- :class:`ReconnectionFailed` when the configured number of retries is spent (the last event).

No event carries secrets; ``repr()`` of an event shows at most public protocol values.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from quicko.protocol import Payload
from quicko.protocol.frozen import direct_init

__all__ = [
    "AttemptFailed",
    "Connected",
    "DisconnectReason",
    "Disconnected",
    "MessageReceived",
    "PingReceived",
    "Reconnecting",
    "ReconnectionFailed",
    "TransportEvent",
]


class DisconnectReason(StrEnum):
    """Why a connection (or an attempt to connect) ended.

    A ``StrEnum`` (each member equals its lower-case value), so that the public
    :class:`quicko.client.models.Disconnected` can carry it as its ``code``.
    """

    #: :meth:`Connection.close` was called.
    CLOSED = "closed"
    #: No WebSocket connection could be opened (refused, unreachable, timed out, TLS failed).
    CONNECT_FAILED = "connect_failed"
    #: The relay refused the WebSocket upgrade (HTTP 429 or 503: too many connections).
    REFUSED = "refused"
    #: The relay did not complete the handshake (Challenge, HelloAck) in time.
    HANDSHAKE_TIMEOUT = "handshake_timeout"
    #: The relay rejected our Hello (Error AUTHENTICATION_FAILED).
    AUTHENTICATION_FAILED = "authentication_failed"
    #: Another connection proved the same identity and replaced this one (Error REPLACED).
    REPLACED = "replaced"
    #: The relay closed the connection after an Error frame (shutting down, idle, too slow, …).
    RELAY_ERROR = "relay_error"
    #: The relay's Challenge carried a time more than ``MAX_CLOCK_SKEW_MS`` (120 s) away from
    #: our clock: a replayed or forwarded Challenge, or a clock to fix (ours or the relay's).
    CLOCK_SKEW = "clock_skew"
    #: The relay sent something that breaks the protocol (undecodable frame, text message, a
    #: frame out of place); the connection was dropped.
    PROTOCOL_ERROR = "protocol_error"
    #: A heartbeat Ping went unanswered for the ping timeout.
    PING_TIMEOUT = "ping_timeout"
    #: The connection closed or broke under us without an explanation from the relay.
    CONNECTION_LOST = "connection_lost"
    #: Something unexpected failed on our side (a bug, or an unexpected library error); it
    #: is logged, and the supervisor reconnects as after any other drop.
    INTERNAL_ERROR = "internal_error"


@dataclass(frozen=True, slots=True)
class Connected:
    """The relay accepted our Hello: the address is bound to this connection.

    Attributes:
        address: our address, as the relay's HelloAck confirmed it.
        node_id: the relay node that holds the connection.
        server_time: the relay's clock at HelloAck, in ms since the epoch.
        buffered: how many frames the relay held for us while we were away; they follow as
            :class:`MessageReceived` events.
        generation: 1 for the first connection of this supervisor, then 2, 3, … for every
            reconnect (the upper layer re-joins its sessions when it is above 1).
        nonce: the Challenge nonce of this connection: every Join by id sent on it carries a proof
            over it (docs/protocol.md §4.3).
    """

    address: bytes
    node_id: str
    server_time: int
    buffered: int
    generation: int
    nonce: bytes = b""


@dataclass(frozen=True, slots=True)
class Disconnected:
    """An established connection ended.

    Attributes:
        reason: why it ended.
        detail: a short human-readable explanation (no secrets, no identifiers).
        error_code: the code of the relay's Error frame that explained it, if any.
        will_reconnect: whether the supervisor will try to connect again.
    """

    reason: DisconnectReason
    detail: str = ""
    error_code: int | None = None
    will_reconnect: bool = True


@dataclass(frozen=True, slots=True)
class AttemptFailed:
    """An attempt to connect failed before the relay accepted our Hello.

    Attributes:
        attempt: 0 for the first connection attempt, then the number of the retry
            (as in the :class:`Reconnecting` event that announced it).
        reason: why it failed.
        detail: a short human-readable explanation (no secrets, no identifiers).
        error_code: the code of the relay's Error frame, if it sent one.
    """

    attempt: int
    reason: DisconnectReason
    detail: str = ""
    error_code: int | None = None


@direct_init
@dataclass(frozen=True, slots=True)
class MessageReceived:
    """The relay sent a frame, decoded (any payload type except the supervisor's own).

    The supervisor keeps the frames of its own business (Challenge, HelloAck, Pong, and the
    Error frames that end a connection); everything else arrives here in relay order.
    """

    payload: Payload


@dataclass(frozen=True, slots=True)
class PingReceived:
    """A heartbeat Ping was answered.

    Attributes:
        latency_ms: the round-trip time, in milliseconds.
        server_time: the relay's clock in the Pong, in ms since the epoch.
    """

    latency_ms: float
    server_time: int


@dataclass(frozen=True, slots=True)
class Reconnecting:
    """The supervisor waits ``delay_ms`` before connection attempt number ``attempt``.

    ``attempt`` counts from 1 after every established connection (or from the first failure).
    """

    attempt: int
    delay_ms: int


@dataclass(frozen=True, slots=True)
class ReconnectionFailed:
    """The supervisor gave up after ``attempts`` failed retries; it is closed now."""

    attempts: int


TransportEvent = (
    Connected
    | Disconnected
    | AttemptFailed
    | MessageReceived
    | PingReceived
    | Reconnecting
    | ReconnectionFailed
)
"""Any event of the connection supervisor."""
