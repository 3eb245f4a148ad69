"""The nameplate miss limiter: token buckets per source address and in total (protocol.md §4.3).

A Join by nameplate that names no claimed nameplate is a *miss*. Each miss takes one token
from its source's bucket (``nameplate_miss_rate`` per second, ``nameplate_miss_burst`` deep)
and one from the relay's bucket (``nameplate_miss_total_rate`` per second, one second deep).
While either bucket holds less than one token, *every* nameplate Join from that source is
refused with RATE_LIMITED, hit or miss: a hit answered while misses are refused would tell a
prober which nameplates exist at full speed. Hits take no token, so an honest joiner is never
slowed down by its own successful joins.

At the defaults (1 miss per 3 s, burst 10), sweeping the 2^20 nameplates from one source takes
(2^20 - 10) * 3 s, about 36.4 days; the total bucket bounds many sources together to 50 misses
per second (2^20 / 50 s, about 5.8 hours, for an attacker with at least 150 source addresses).

Like the per-connection token bucket, this state is node-local and sans-I/O (times are
arguments). Sources whose bucket would be full again are forgotten, so memory stays bounded by
the sources that missed within the last ``burst / rate`` seconds.
"""

from __future__ import annotations

from collections import OrderedDict

__all__ = ["MissLimiter"]


class MissLimiter:
    """Token buckets of nameplate misses: one per source address key, and one in total."""

    __slots__ = (
        "_burst",
        "_forget_ms",
        "_rate_per_ms",
        "_sources",
        "_total",
        "_total_burst",
        "_total_ms",
        "_total_rate_per_ms",
    )

    def __init__(self, rate: float, burst: int, total_rate: float) -> None:
        """Set the limits.

        Args:
            rate: misses per second per source.
            burst: misses a source may make at once (the bucket's size).
            total_rate: misses per second from every source together (and the total bucket's
                size, so a one-second burst).
        """
        self._rate_per_ms = rate / 1000.0
        self._burst = float(burst)
        self._forget_ms = burst / self._rate_per_ms
        self._total_rate_per_ms = total_rate / 1000.0
        self._total_burst = max(1.0, float(total_rate))
        self._total = self._total_burst
        self._total_ms: int | None = None
        #: source → (tokens, when they were counted), least recently charged first.
        self._sources: OrderedDict[str, tuple[float, int]] = OrderedDict()

    def __len__(self) -> int:
        """Sources currently remembered (their bucket is not full)."""
        return len(self._sources)

    def _source_tokens(self, source: str, now_ms: int) -> float:
        entry = self._sources.get(source)
        if entry is None:
            return self._burst
        tokens, stamp = entry
        return min(self._burst, tokens + max(0, now_ms - stamp) * self._rate_per_ms)

    def _total_tokens(self, now_ms: int) -> float:
        if self._total_ms is None:
            return self._total
        elapsed = max(0, now_ms - self._total_ms)
        return min(self._total_burst, self._total + elapsed * self._total_rate_per_ms)

    def allows(self, source: str, now_ms: int) -> bool:
        """Whether a nameplate Join from *source* may be answered now (both buckets have one)."""
        return self._source_tokens(source, now_ms) >= 1.0 and self._total_tokens(now_ms) >= 1.0

    def charge(self, source: str, now_ms: int) -> None:
        """Count one miss from *source* (after :meth:`allows` said yes)."""
        self._forget(now_ms)
        tokens = self._source_tokens(source, now_ms)
        self._sources[source] = (max(0.0, tokens - 1.0), now_ms)
        self._sources.move_to_end(source)
        self._total = max(0.0, self._total_tokens(now_ms) - 1.0)
        self._total_ms = now_ms

    def _forget(self, now_ms: int) -> None:
        """Drop the sources whose bucket has refilled completely (least recent first)."""
        sources = self._sources
        while sources:
            source, (_, stamp) = next(iter(sources.items()))
            if stamp + self._forget_ms > now_ms:
                return
            del sources[source]
