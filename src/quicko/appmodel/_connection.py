"""The relay connection as both apps show it: which relay, the state, why it is down.

A value, moved by client events (:func:`next_connection`); time comes in as ``now_ms`` (the
wall clock in milliseconds, the clock of ``IncomingCall.expires_ms``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from quicko.client import models as ev
from quicko.client.wording import plain_reason

__all__ = ["ConnectionState", "LinkState", "next_connection", "not_connected"]


class LinkState(StrEnum):
    """Where the connection to the relay stands (``reconnecting`` is shown as connecting)."""

    CONNECTING = "connecting"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"


@dataclass(frozen=True, slots=True)
class ConnectionState:
    """What the status line or bar shows about the relay connection.

    Attributes:
        state: connecting, connected or disconnected (the client will not retry).
        attempt: the reconnection attempt under way (0 for the first connection).
        latency_ms: the last heartbeat round trip, while connected.
        reason: why the connection is down (plain words), kept until it is back.
        relay_url: the relay's URL, always shown.
        retry_at_ms: when the next attempt starts (the app's ``now_ms`` clock), while waiting.
    """

    state: LinkState = LinkState.CONNECTING
    attempt: int = 0
    latency_ms: float | None = None
    reason: str = ""
    relay_url: str = ""
    retry_at_ms: int | None = None

    @property
    def connected(self) -> bool:
        """Whether the relay is reachable now."""
        return self.state is LinkState.CONNECTED

    @property
    def relay(self) -> str:
        """How the relay is named in a sentence: ``the relay at URL``."""
        return f"the relay at {self.relay_url}" if self.relay_url else "the relay"

    def offline_text(self) -> str:
        """Why nothing reaches the relay now, as a clause ("the relay at … is not reachable")."""
        because = f" ({self.reason})" if self.reason else ""
        return f"{self.relay} is not reachable{because}"

    def seconds_to_retry(self, now_ms: int) -> int | None:
        """Whole seconds until the next attempt (0: now), or ``None`` when none is planned."""
        if self.retry_at_ms is None:
            return None
        return max(0, -(-(self.retry_at_ms - now_ms) // 1000))


def next_connection(
    known: ConnectionState, event: ev.ClientEvent, now_ms: int
) -> ConnectionState | None:
    """The connection after ``event``, or ``None`` if the event is not about the connection."""
    match event:
        case ev.Connected():
            return replace(known, state=LinkState.CONNECTED, attempt=0, reason="", retry_at_ms=None)
        case ev.Disconnected(reason=reason, will_retry=will_retry):
            state = LinkState.CONNECTING if will_retry else LinkState.DISCONNECTED
            attempt = max(1, known.attempt) if will_retry else known.attempt
            return replace(
                known,
                state=state,
                attempt=attempt,
                latency_ms=None,
                reason=plain_reason(reason) if reason else known.reason,
                retry_at_ms=None,
            )
        case ev.Reconnecting(attempt=attempt, delay_ms=delay_ms, reason=reason):
            return replace(
                known,
                state=LinkState.CONNECTING,
                attempt=attempt,
                latency_ms=None,
                reason=reason or known.reason,
                retry_at_ms=now_ms + delay_ms,
            )
        case ev.ReconnectionFailed(attempts=attempts):
            return replace(
                known,
                state=LinkState.DISCONNECTED,
                latency_ms=None,
                reason=f"gave up after {attempts} attempts",
                retry_at_ms=None,
            )
        case ev.LatencyMeasured(latency_ms=latency) if known.connected:
            return replace(known, latency_ms=latency)
        case _:
            return None


def not_connected(action: str, detail: str, where: str) -> str:
    """What to say when the client refused ``action`` because the relay is not reachable.

    Args:
        action: what the user asked for ("create a session", "join", "call").
        detail: the client's ``ConnectionClosedError`` text ("not connected to the relay at
            URL: REASON").
        where: where the app shows the state ("the status bar", "the status line").
    """
    return f"Cannot {action} now: {detail}. Try again once {where} says connected."
