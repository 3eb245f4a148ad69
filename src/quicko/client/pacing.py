"""A client-side token bucket, so that a client never trips the relay's rate limit.

The relay allows each connection ``--rate`` frames per second with a burst of ``--burst``
(30 and 60 by default, docs/relay.md) and answers every frame over that with
``Error(RATE_LIMITED)``, dropping it. A client with a backlog — a message fanned out to a large
group, or hundreds of queued messages flushed after a reconnect — would lose frames that way.
So the client paces itself a little below the relay's defaults; the frames simply wait.
Pure: time is an argument.
"""

from __future__ import annotations

__all__ = ["DEFAULT_SEND_BURST", "DEFAULT_SEND_RATE", "Pacer"]

#: Frames per second the client sends at most: below the relay's default of 30, leaving room
#: for the heartbeat's Pings, which are not paced.
DEFAULT_SEND_RATE = 25.0
#: Frames the client may send at once after a quiet spell: below the relay's default of 60.
DEFAULT_SEND_BURST = 50


class Pacer:
    """A token bucket of ``burst`` frames, refilled at ``rate`` frames per second."""

    __slots__ = ("_burst", "_rate", "_stamp", "_tokens")

    def __init__(self, rate: float, burst: int, now: float) -> None:
        """Start full at time ``now`` (seconds of a monotonic clock).

        Raises:
            ValueError: ``rate`` is not positive or ``burst`` is below 1.
        """
        if not rate > 0 or burst < 1:
            raise ValueError("the send rate must be positive and the burst at least 1")
        self._rate = rate
        self._burst = float(burst)
        self._tokens = float(burst)
        self._stamp = now

    def delay(self, now: float) -> float:
        """Seconds to wait before the next frame may go; ``0.0`` means go now (token taken)."""
        self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        return (1.0 - self._tokens) / self._rate
