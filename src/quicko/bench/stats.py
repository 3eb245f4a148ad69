"""Pure arithmetic of the benchmark: percentiles, medians, ratios and ``/proc`` parsing."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Final

__all__ = [
    "LatencySummary",
    "latency_summary",
    "median",
    "parse_cpu_ticks",
    "parse_vm_rss",
    "percentile",
    "ratio",
    "stall_percentile",
]

_NS_PER_US: Final = 1_000
_KIB: Final = 1024
_RANK_DIGITS: Final = 9
# utime and stime are fields 14 and 15 of /proc/<pid>/stat, so 11 and 12 after the ")".
_UTIME_FIELD: Final = 11
_STIME_FIELD: Final = 12


def percentile(sorted_values: Sequence[float], pct: float) -> float:
    """The nearest-rank *pct*-th percentile of values sorted in ascending order.

    The smallest value such that at least *pct* % of the values are less than or equal to it
    (so p100 is the maximum, and p99.9 of 1,000 values is the largest).

    Raises:
        ValueError: no values, or *pct* not in (0, 100].
    """
    if not sorted_values:
        raise ValueError("no values")
    if not 0 < pct <= 100:  # percent bounds
        raise ValueError("percentile must be in (0, 100]")
    # Rounded first, so that binary fractions (99.9 % of 10,000 = 9990.000000000002) do not
    # push the rank one place up.
    rank = math.ceil(round(pct * len(sorted_values) / 100, _RANK_DIGITS))
    return sorted_values[max(rank, 1) - 1]


def median(values: Iterable[float]) -> float:
    """The median (mean of the two middle values for an even count).

    Raises:
        ValueError: no values.
    """
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def ratio(relay: float | None, bare: float | None) -> float | None:
    """``relay / bare``, or ``None`` when either is missing or *bare* is not positive."""
    if relay is None or bare is None or bare <= 0:
        return None
    return relay / bare


def stall_percentile(gaps_ns: Sequence[int], period_ns: int, pct: float) -> float:
    """The *pct*-th percentile of how long an instant waited for a late timer, in µs.

    *gaps_ns* are the times between consecutive runs of a loop that sleeps *period_ns*; the
    part of each gap beyond the period is a stall (of the process, or of the machine). Taking
    every instant covered by the gaps as equally likely, an instant inside a stall of ``s``
    waits until the stall ends, so the wait is spread evenly over ``[0, s]``; this returns the
    smallest wait ``w`` such that at most ``100 - pct`` % of the time waited longer than ``w``
    — what a frame arriving at a random instant would add to its latency because of stalls.
    0.0 when the stalls are too short or too rare to reach that percentile.

    Raises:
        ValueError: no gaps, a non-positive total, or *pct* not in (0, 100).
    """
    if not 0 < pct < 100:  # percent bounds
        raise ValueError("percentile must be in (0, 100)")
    total = sum(gaps_ns)
    if not gaps_ns or total <= 0:
        raise ValueError("no time covered")
    allowed = total * (100 - pct) / 100  # the time that may wait longer than the answer
    stalls = sorted((gap - period_ns for gap in gaps_ns if gap > period_ns), reverse=True)
    # Time waiting longer than w: sum(max(0, s - w)); piecewise linear, decreasing in w.
    covered = 0  # the sum of the k largest stalls
    for k, stall in enumerate(stalls, start=1):
        covered += stall
        following = stalls[k] if k < len(stalls) else 0
        if covered - k * following >= allowed:  # the answer is in [following, stall]
            return (covered - allowed) / k / _NS_PER_US
    return 0.0


@dataclass(frozen=True, slots=True)
class LatencySummary:
    """Percentiles of one latency measurement, in microseconds (``None`` without samples)."""

    count: int
    p50_us: float | None
    p99_us: float | None
    p999_us: float | None
    max_us: float | None
    mean_us: float | None

    def as_dict(self) -> dict[str, float | int | None]:
        """The summary as a JSON-ready dictionary."""
        return asdict(self)


def latency_summary(latencies_ns: Iterable[int]) -> LatencySummary:
    """Summarise latencies given in nanoseconds."""
    ordered = sorted(latencies_ns)
    if not ordered:
        return LatencySummary(0, None, None, None, None, None)

    def micros(pct: float) -> float:
        return percentile(ordered, pct) / _NS_PER_US

    return LatencySummary(
        count=len(ordered),
        p50_us=micros(50),
        p99_us=micros(99),
        p999_us=micros(99.9),
        max_us=ordered[-1] / _NS_PER_US,
        mean_us=sum(ordered) / len(ordered) / _NS_PER_US,
    )


def parse_vm_rss(status: str) -> int:
    """The ``VmRSS`` of a ``/proc/<pid>/status`` text, in bytes.

    Raises:
        ValueError: the text has no well-formed ``VmRSS`` line.
    """
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            fields = line.split()
            if len(fields) == 3 and fields[2] == "kB" and fields[1].isdigit():
                return int(fields[1]) * _KIB
            break
    raise ValueError("no VmRSS line in the process status")


def parse_cpu_ticks(stat: str) -> int:
    """User plus system CPU time of a ``/proc/<pid>/stat`` text, in clock ticks.

    Raises:
        ValueError: the text is not a process stat line.
    """
    # The command name (field 2) is in parentheses and may contain spaces: split after it.
    _, closing, rest = stat.rpartition(")")
    fields = rest.split()
    if not closing or len(fields) < _STIME_FIELD + 1:
        raise ValueError("not a /proc/<pid>/stat line")
    try:
        return int(fields[_UTIME_FIELD]) + int(fields[_STIME_FIELD])
    except ValueError:
        raise ValueError("not a /proc/<pid>/stat line") from None
