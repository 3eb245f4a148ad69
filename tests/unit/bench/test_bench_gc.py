"""The relay's collector pauses, as the load reads them around a measured window."""

from __future__ import annotations

import gc
import weakref

from quicko.bench.load import gc_before_window, gc_in_window
from quicko.relay.collector import GC_RECENT_PAUSES, GcPauses


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
        "gc_freezes": 0,
    }
    assert gc_in_window(after, after)["gc_pause_max_us"] == 0.0
    assert gc_in_window(None, after)["gc_collections"] is None


class _Node:
    other: object = None


def test_freezes_are_counted_in_the_window_and_before_it() -> None:
    before = {"collections": 10, "freezes": 9, "freeze_max_us": 900.0, "recent_pause_us": []}
    after = {"collections": 11, "freezes": 10, "freeze_max_us": 900.0, "recent_pause_us": [5.0]}
    assert gc_in_window(before, after)["gc_freezes"] == 1
    assert gc_before_window(before) == {"setup_freezes": 9, "setup_freeze_max_us": 900.0}
    # A relay that does not report freezes (an older one), or the bare forwarder.
    assert gc_before_window({"collections": 1}) == {
        "setup_freezes": None,
        "setup_freeze_max_us": None,
    }
    assert gc_before_window(None)["setup_freezes"] is None


def test_a_freeze_collects_first_then_freezes_and_is_timed() -> None:
    pauses = GcPauses()
    cycle = _Node()
    cycle.other = cycle
    garbage = weakref.ref(cycle)
    del cycle
    gc.callbacks.append(pauses.callback)
    try:
        pauses.freeze()
        frozen = gc.get_freeze_count()
    finally:
        gc.callbacks.remove(pauses.callback)
        gc.unfreeze()
    assert frozen > 0
    assert garbage() is None  # collected, not frozen
    report = pauses.as_dict()
    assert report["freezes"] == 1
    assert report["collections"] == 1  # the freeze's own collection
    assert report["by_generation"] == [0, 0, 1]
    freeze_us, collection_us = report["freeze_max_us"], report["pause_max_us"]
    assert isinstance(freeze_us, float)
    assert isinstance(collection_us, float)
    assert report["freeze_last_us"] == freeze_us == report["freeze_total_us"]
    assert freeze_us >= collection_us  # the collection, and gc.freeze() after it
