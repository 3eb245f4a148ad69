"""The relay's collector pauses, as the load reads them around a measured window."""

from __future__ import annotations

from quicko.bench.load import gc_in_window
from quicko.relay.server import GC_RECENT_PAUSES, GcPauses


def test_gc_pauses_are_timed_and_bounded() -> None:
    pauses = GcPauses()
    for _ in range(GC_RECENT_PAUSES + 3):
        pauses.callback("start", {"generation": 0})
        pauses.callback("stop", {"generation": 0, "collected": 0, "uncollectable": 0})
    report = pauses.as_dict()
    assert report["collections"] == GC_RECENT_PAUSES + 3
    assert report["by_generation"] == [GC_RECENT_PAUSES + 3, 0, 0]
    recent = report["recent_pause_us"]
    assert isinstance(recent, list)
    assert len(recent) == GC_RECENT_PAUSES
    assert isinstance(report["pause_max_us"], float)
    assert report["pause_max_us"] >= max(recent)  # over every collection, not only these


def test_gc_in_window_counts_what_ran_between_the_samples() -> None:
    before = {
        "collections": 3,
        "by_generation": [3, 0, 0],
        "pause_total_us": 100.0,
        "recent_pause_us": [10.0, 40.0, 50.0],
    }
    after = {
        "collections": 5,
        "by_generation": [4, 1, 0],
        "pause_total_us": 130.0,
        "recent_pause_us": [10.0, 40.0, 50.0, 20.0, 10.0],
    }
    assert gc_in_window(before, after) == {
        "gc_collections": 2,
        "gc_pause_total_us": 30.0,
        "gc_pause_max_us": 20.0,
        "gc_by_generation": "[1, 1, 0]",
    }
    assert gc_in_window(after, after)["gc_pause_max_us"] == 0.0
    assert gc_in_window(None, after)["gc_collections"] is None
