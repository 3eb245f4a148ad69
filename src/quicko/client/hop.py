"""The client half of the hop-by-hop acknowledgement: counting what the relay sent us.

Pure (STYLE.md rule 3): time is an argument (``now``, seconds on a monotonic clock), and the
connection owns the timer. The relay keeps every frame it routed to us until we acknowledge it
with ``Received(count)`` — the cumulative number of frames received on this connection since
(excluding) its HelloAck (docs/protocol.md §4.4) — and re-delivers the unacknowledged ones on
our next connection if this one dies or is replaced. A connection that leaves routed frames
unacknowledged for 10 s is taken for dead by the relay.

:class:`HopCounter` coalesces the acknowledgements: one ``Received`` at most every
:data:`ACK_DELAY_S` (100 ms) after the first frame not yet acknowledged, or at once when
:data:`ACK_EVERY_FRAMES` (32) frames wait. A quiet connection sends nothing.
"""

from __future__ import annotations

from typing import Final

from quicko.protocol import Received

__all__ = ["ACK_DELAY_S", "ACK_EVERY_FRAMES", "HopCounter"]

ACK_DELAY_S: Final = 0.1
"""The longest a received frame waits for its acknowledgement, in seconds."""

ACK_EVERY_FRAMES: Final = 32
"""Frames received after which a Received goes at once."""


class HopCounter:
    """Frames received on one connection, and when to acknowledge them.

    Args:
        delay: seconds a frame may wait for its acknowledgement.
        every: frames after which an acknowledgement is due at once.
    """

    __slots__ = ("_acked", "_count", "_delay", "_every", "_since")

    def __init__(self, *, delay: float = ACK_DELAY_S, every: int = ACK_EVERY_FRAMES) -> None:
        if delay < 0 or every < 1:
            raise ValueError("the delay must not be negative and every at least 1")
        self._delay = delay
        self._every = every
        self._count = 0
        self._acked = 0
        self._since: float | None = None

    @property
    def count(self) -> int:
        """Frames received since the HelloAck."""
        return self._count

    def received(self, now: float) -> bool:
        """Count one frame; whether the deadline moved (a first frame to acknowledge, or due now).

        The connection wakes its writer when this is ``True``; otherwise the writer's timer
        already covers the frame.
        """
        self._count += 1
        if self._since is None:
            self._since = now
            return True
        return self._count - self._acked >= self._every

    def next_deadline(self) -> float | None:
        """When an acknowledgement is due, or ``None`` when everything is acknowledged."""
        return None if self._since is None else self._since + self._delay

    def take(self, now: float) -> Received | None:
        """The Received to send now, if one is due (it then counts as sent)."""
        if self._since is None:
            return None
        if self._count - self._acked < self._every and now < self._since + self._delay:
            return None
        self._acked = self._count
        self._since = None
        return Received(self._count)
