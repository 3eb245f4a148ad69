"""The heartbeat's bookkeeping: when to ping, which Pong answers, when the relay is gone.

Pure (STYLE.md rule 3): time is an argument (``now``, seconds on a monotonic clock), and the
supervisor owns the timer. One Ping is outstanding at a time; the next one is due ``interval``
after the previous one was sent; a Ping unanswered for ``timeout`` means the connection is dead
(DESIGN.md §8: every 15 s, timeout 5 s). A Pong whose nonce is not the outstanding one (late,
duplicated or invented) is ignored.

**Data outstanding pings at once.** A Message we sent is acknowledged by the relay (an Ack, or
an Error naming it). When one stays unacknowledged for ``probe_after`` (3 s), a Ping goes at
once instead of at the next interval, so that a dead link (a half-open connection, a changed
network path) is noticed within ``probe_after + timeout`` seconds while data is at stake; a
quiet connection sends no more than before. A Pong proves the link alive and clears what was
outstanding (the session's ledger retransmits whatever the relay did not take).
"""

from __future__ import annotations

from collections import OrderedDict

from quicko.protocol import Ping, Pong

__all__ = [
    "DEFAULT_PING_INTERVAL_S",
    "DEFAULT_PING_TIMEOUT_S",
    "DEFAULT_PROBE_AFTER_S",
    "MAX_OUTSTANDING",
    "Heartbeat",
]

#: Seconds between Pings.
DEFAULT_PING_INTERVAL_S = 15.0
#: Seconds a Ping may stay unanswered before the connection is considered dead.
DEFAULT_PING_TIMEOUT_S = 5.0
#: Seconds a sent Message may stay without the relay's Ack before we ping at once.
DEFAULT_PROBE_AFTER_S = 3.0
#: Unacknowledged Messages remembered (the oldest beyond it is forgotten: only its time counts).
MAX_OUTSTANDING = 4096

_NONCE_LIMIT = 1 << 63


class Heartbeat:
    """When to send the next Ping, and whether the last one was answered in time.

    Args:
        interval: seconds between Pings.
        timeout: seconds a Ping may stay unanswered.
        probe_after: seconds a sent Message may stay unacknowledged before a Ping goes.

    Raises:
        ValueError: ``interval``, ``timeout`` or ``probe_after`` is not positive.
    """

    __slots__ = ("_due", "_interval", "_nonce", "_outstanding", "_probe", "_sent_at", "_timeout")

    def __init__(
        self,
        *,
        interval: float = DEFAULT_PING_INTERVAL_S,
        timeout: float = DEFAULT_PING_TIMEOUT_S,
        probe_after: float = DEFAULT_PROBE_AFTER_S,
    ) -> None:
        if interval <= 0 or timeout <= 0 or probe_after <= 0:
            raise ValueError("ping interval, timeout and probe delay must be positive")
        self._interval = interval
        self._timeout = timeout
        self._probe = probe_after
        self._nonce = 0
        self._sent_at: float | None = None
        self._due = 0.0
        # message id -> when it was sent, oldest first: Messages the relay has not acknowledged.
        self._outstanding: OrderedDict[bytes, float] = OrderedDict()

    def start(self, now: float) -> None:
        """Begin on a fresh connection: the first Ping is due one interval from ``now``."""
        self._sent_at = None
        self._due = now + self._interval
        self._outstanding.clear()

    def data_sent(self, message_id: bytes, now: float) -> None:
        """A Message went out; the relay answers it with an Ack (or an Error naming it)."""
        if message_id not in self._outstanding:
            self._outstanding[message_id] = now
            while len(self._outstanding) > MAX_OUTSTANDING:
                self._outstanding.popitem(last=False)

    def data_sent_many(self, message_ids: list[bytes], now: float) -> bool:
        """Messages went out in one write (as :meth:`data_sent` each).

        Returns:
            Whether the first outstanding Message appeared (the deadline moved earlier).
        """
        outstanding = self._outstanding
        was_empty = not outstanding
        for message_id in message_ids:
            if message_id not in outstanding:
                outstanding[message_id] = now
        while len(outstanding) > MAX_OUTSTANDING:
            outstanding.popitem(last=False)
        return was_empty and bool(outstanding)

    def data_acknowledged(self, message_id: bytes) -> None:
        """The relay answered a Message of ours."""
        self._outstanding.pop(message_id, None)

    @property
    def data_outstanding(self) -> int:
        """Messages sent and not acknowledged yet (since the last Pong)."""
        return len(self._outstanding)

    @property
    def outstanding(self) -> bool:
        """Whether a Ping is waiting for its Pong."""
        return self._sent_at is not None

    def next_deadline(self) -> float:
        """When :meth:`handle_timeout` has something to do: the next Ping, or the timeout."""
        if self._sent_at is not None:
            return self._sent_at + self._timeout
        return min(self._due, self._probe_at())

    def _probe_at(self) -> float:
        """When unacknowledged data calls for a Ping (infinity when nothing is outstanding)."""
        if not self._outstanding:
            return float("inf")
        return next(iter(self._outstanding.values())) + self._probe

    def timed_out(self, now: float) -> bool:
        """Whether the outstanding Ping has gone unanswered for the timeout."""
        return self._sent_at is not None and now >= self._sent_at + self._timeout

    def handle_timeout(self, now: float) -> Ping | None:
        """Return the Ping to send now, if one is due (and none is outstanding)."""
        if self._sent_at is not None or now < min(self._due, self._probe_at()):
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
        # The link is alive: what the relay has not acknowledged was lost before it (or is
        # late); the session's ledger sends it again, so nothing calls for another probe.
        sent_at = self._sent_at
        while self._outstanding and next(iter(self._outstanding.values())) <= sent_at:
            self._outstanding.popitem(last=False)
        self._sent_at = None
        return latency_ms
