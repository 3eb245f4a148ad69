"""The benchmark's arithmetic: percentiles, medians, ratios, latency summaries, /proc parsing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quicko.bench.stats import (
    latency_summary,
    median,
    parse_vm_rss,
    percentile,
    ratio,
    stall_percentile,
)


def test_percentile_nearest_rank_on_one_to_hundred() -> None:
    values = list(range(1, 101))
    assert percentile(values, 50) == 50
    assert percentile(values, 99) == 99
    assert percentile(values, 99.9) == 100
    assert percentile(values, 100) == 100
    assert percentile(values, 0.5) == 1


def test_percentile_of_one_value_is_that_value() -> None:
    assert percentile([7.5], 50) == 7.5
    assert percentile([7.5], 99.9) == 7.5


def test_p999_of_ten_thousand_values_is_the_ten_largest_boundary() -> None:
    values = list(range(10_000))
    assert percentile(values, 99.9) == 9_989
    assert percentile(values, 99) == 9_899


@pytest.mark.parametrize("pct", [0, -1, 100.1])
def test_percentile_rejects_out_of_range(pct: float) -> None:
    with pytest.raises(ValueError, match="percentile"):
        percentile([1, 2, 3], pct)


def test_percentile_rejects_no_values() -> None:
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)


@given(
    st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=200),
    st.floats(min_value=0.01, max_value=100),
    st.floats(min_value=0.01, max_value=100),
)
def test_percentile_is_a_member_and_monotonic(values: list[int], p: float, q: float) -> None:
    ordered = sorted(values)
    low, high = sorted((p, q))
    assert percentile(ordered, low) in values
    assert percentile(ordered, low) <= percentile(ordered, high)
    at_most = sum(value <= percentile(ordered, low) for value in values)
    assert at_most >= low / 100 * len(values)


def test_median_odd_and_even() -> None:
    assert median([3, 1, 2]) == 2
    assert median([4, 1, 3, 2]) == 2.5
    with pytest.raises(ValueError, match="no values"):
        median([])


def test_ratio_is_relay_over_bare_or_none() -> None:
    assert ratio(75.0, 100.0) == 0.75
    assert ratio(None, 100.0) is None
    assert ratio(75.0, None) is None
    assert ratio(75.0, 0.0) is None


def test_latency_summary_in_microseconds() -> None:
    summary = latency_summary([1_000 * n for n in range(1, 1001)])  # 1 µs .. 1000 µs
    assert summary.count == 1000
    assert summary.p50_us == 500
    assert summary.p99_us == 990
    assert summary.p999_us == 999
    assert summary.max_us == 1000
    assert summary.mean_us == pytest.approx(500.5)
    assert summary.as_dict()["p99_us"] == 990


def test_latency_summary_without_samples_has_no_percentiles() -> None:
    summary = latency_summary([])
    assert summary.count == 0
    assert summary.p99_us is None
    assert summary.as_dict() == {
        "count": 0,
        "p50_us": None,
        "p99_us": None,
        "p999_us": None,
        "max_us": None,
        "mean_us": None,
    }


def test_parse_vm_rss_reads_kilobytes_as_bytes() -> None:
    status = "Name:\tpython\nVmPeak:\t  999 kB\nVmRSS:\t   52340 kB\nThreads:\t1\n"
    assert parse_vm_rss(status) == 52_340 * 1024


@pytest.mark.parametrize("status", ["Name:\tpython\n", "VmRSS:\t many kB\n", "VmRSS:\t12 MB\n"])
def test_parse_vm_rss_rejects_missing_or_malformed(status: str) -> None:
    with pytest.raises(ValueError, match="VmRSS"):
        parse_vm_rss(status)


def test_stall_percentile_is_zero_for_a_timer_on_time() -> None:
    assert stall_percentile([1_000_000] * 1_000, 1_000_000, 99) == 0.0


def test_stall_percentile_weighs_stalls_by_the_time_they_cover() -> None:
    # 990 ticks on time and 10 stalls of 10 ms beyond the 1 ms period: 1.1 s in all, of which
    # 100 ms is stalled. 1 % of the time (11 ms) waits longer than w when 10 * (10 - w) = 11.
    gaps = [1_000_000] * 990 + [11_000_000] * 10
    assert stall_percentile(gaps, 1_000_000, 99) == pytest.approx(8_900.0)
    assert stall_percentile(gaps, 1_000_000, 99.9) == pytest.approx(9_890.0)


def test_stall_percentile_of_one_stall_among_unequal_ones() -> None:
    # Stalls of 30 and 10 ms in 100 ms: 1 % (1 ms) waits longer than 29 ms, in the 30 ms one.
    gaps = [31_000_000, 11_000_000] + [1_000_000] * 58
    assert stall_percentile(gaps, 1_000_000, 99) == pytest.approx(29_000.0)
    # 20 % (20 ms) waits longer than w when (30 - w) + max(0, 10 - w) = 20: w = 10 ms.
    assert stall_percentile(gaps, 1_000_000, 80) == pytest.approx(10_000.0)
    # 35 %: (30 - w) + (10 - w) = 35, w = 2.5 ms, inside both stalls.
    assert stall_percentile(gaps, 1_000_000, 65) == pytest.approx(2_500.0)
    with pytest.raises(ValueError):
        stall_percentile([], 0, 99)
    with pytest.raises(ValueError):
        stall_percentile(gaps, 1_000_000, 100)
