"""The heartbeat's bookkeeping: when to ping, which Pong answers, when the relay is gone.

Pure (STYLE.md rule 3): time is an argument (``now``, seconds on a monotonic clock), and the
supervisor owns the timer. One Ping is outstanding at a time; the next one is due ``interval``
after the previous one was sent; a Ping unanswered for ``timeout`` means the connection is dead
(DESIGN.md §8: every 15 s, timeout 5 s). A Pong whose nonce is not the outstanding one (late,
duplicated or invented) is ignored.
"""

from __future__ import annotations

from quicko.protocol import Ping, Pong

__all__ = ["DEFAULT_PING_INTERVAL_S", "DEFAULT_PING_TIMEOUT_S", "Heartbeat"]

#: Seconds between Pings.
DEFAULT_PING_INTERVAL_S = 15.0
#: Seconds a Ping may stay unanswered before the connection is considered dead.
DEFAULT_PING_TIMEOUT_S = 5.0

_NONCE_LIMIT = 1 << 63


class Heartbeat:
    """When to send the next Ping, and whether the last one was answered in time.

    Args:
        interval: seconds between Pings.
        timeout: seconds a Ping may stay unanswered.

    Raises:
        ValueError: ``interval`` or ``timeout`` is not positive.
    """

    __slots__ = ("_due", "_interval", "_nonce", "_sent_at", "_timeout")

    def __init__(
        self,
        *,
        interval: float = DEFAULT_PING_INTERVAL_S,
        timeout: float = DEFAULT_PING_TIMEOUT_S,
    ) -> None:
        if interval <= 0 or timeout <= 0:
            raise ValueError("ping interval and timeout must be positive")
        self._interval = interval
        self._timeout = timeout
        self._nonce = 0
        self._sent_at: float | None = None
        self._due = 0.0

    def start(self, now: float) -> None:
        """Begin on a fresh connection: the first Ping is due one interval from ``now``."""
        self._sent_at = None
        self._due = now + self._interval

    @property
    def outstanding(self) -> bool:
        """Whether a Ping is waiting for its Pong."""
        return self._sent_at is not None

    def next_deadline(self) -> float:
        """When :meth:`handle_timeout` has something to do: the next Ping, or the timeout."""
        if self._sent_at is not None:
            return self._sent_at + self._timeout
        return self._due

    def timed_out(self, now: float) -> bool:
        """Whether the outstanding Ping has gone unanswered for the timeout."""
        return self._sent_at is not None and now >= self._sent_at + self._timeout

    def handle_timeout(self, now: float) -> Ping | None:
        """Return the Ping to send now, if one is due (and none is outstanding)."""
        if self._sent_at is not None or now < self._due:
            return None
        self._nonce = (self._nonce + 1) % _NONCE_LIMIT
        self._sent_at = now
        self._due = now + self._interval
        return Ping(self._nonce)

    def receive_pong(self, pong: Pong, now: float) -> float | None:
        """Match a Pong to the outstanding Ping; return the round-trip time in ms, or ``None``."""
        if self._sent_at is None or pong.nonce != self._nonce:
            return None
        latency_ms = max(0.0, (now - self._sent_at) * 1000.0)
        self._sent_at = None
        return latency_ms
