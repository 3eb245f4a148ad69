"""Incoming calls that ring, each with the moment the caller gives up (its ring deadline)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from quicko.client import models as ev
from quicko.identity import claimed_name, display_name, parse_quickokey

__all__ = ["CALLER_TIMEOUT_MS", "RING_MS", "RingingCall", "stopped_calling"]

CALLER_TIMEOUT_MS: Final = 60_000
"""How long a call rings (the relay's call timeout, ``IncomingCall.expires_ms``)."""

ANSWER_MARGIN_MS: Final = 5_000
"""An accept needs time to reach the caller before it gives up."""

RING_MS: Final = CALLER_TIMEOUT_MS - ANSWER_MARGIN_MS
"""How long an incoming call can be answered after it reached the app."""


def stopped_calling(name: str, reason: str = "timeout") -> str:
    """The line shown when a call ended before an answer (``reason``: cancelled or timeout)."""
    if reason == "cancelled":
        return f"{name} stopped calling."
    return f"{name} stopped calling (no answer within {CALLER_TIMEOUT_MS // 1000} s)."


@dataclass(frozen=True, slots=True)
class RingingCall:
    """An incoming call waiting for the user's answer.

    Attributes:
        call_id: the client's id of the call (for ``answer_call``).
        caller_quickokey: the caller's QuickoKey.
        display_name: the name derived from it (never the name the caller claims).
        claimed_name: the name it claims, when different (shown labelled as a claim).
        safety_number: what both sides can compare before accepting.
        deadline_ms: when the caller gives up (the app's ``now_ms`` clock).
    """

    call_id: str
    caller_quickokey: str
    display_name: str
    claimed_name: str | None
    safety_number: str
    deadline_ms: int

    @classmethod
    def from_event(cls, event: ev.IncomingCall, now_ms: int, ring_ms: int) -> RingingCall:
        """The ringing call of an :class:`~quicko.client.models.IncomingCall`.

        It can be answered for ``ring_ms`` from ``now_ms``, and never later than
        :data:`ANSWER_MARGIN_MS` before the ring's end the client reports (``expires_ms``).
        """
        deadline_ms = now_ms + ring_ms
        if event.expires_ms:
            deadline_ms = min(deadline_ms, event.expires_ms - ANSWER_MARGIN_MS)
        address = parse_quickokey(event.caller_quickokey)
        return cls(
            event.call_id,
            event.caller_quickokey,
            display_name(address),
            claimed_name(address, event.display_name),
            event.safety_number,
            deadline_ms,
        )

    def seconds_left(self, now_ms: int) -> int:
        """Whole seconds left to answer (0 once the caller gave up)."""
        return max(0, -(-(self.deadline_ms - now_ms) // 1000))
