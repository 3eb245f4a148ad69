"""The relay's policy for CPython's cyclic garbage collector, and the timing of its pauses.

:func:`tune_gc` is called once by ``quicko relay`` after start-up (never by an in-process
:class:`~quicko.relay.server.RelayServer` on its own); :data:`GC_PAUSES` then times every
collection (``/health``'s ``gc``) and, on the relay's timer, freezes the survivors of new
connections (:meth:`GcPauses.freeze`, called by ``RelayServer._tick``). A :class:`GcPauses` of
its own, its :meth:`~GcPauses.callback` in ``gc.callbacks`` for a while, times the collections
of a window (``quicko bench client`` does that for its clients). The client applications'
policy is :mod:`quicko.client.collector`. Measurements: docs/performance.md.
"""

from __future__ import annotations

import gc
import time
from typing import Final

__all__ = ["GC_PAUSES", "GC_RECENT_PAUSES", "GC_THRESHOLDS", "GcPauses", "tune_gc"]


GC_RECENT_PAUSES: Final = 64
"""How many of the collector's latest pauses ``/health`` lists (``gc.recent_pause_us``)."""


class GcPauses:
    """The cyclic collector's runs in this process, timed with ``gc.callbacks``, and its freezes.

    Installed by :func:`tune_gc`; ``/health`` reports it as ``gc`` (:meth:`as_dict`), so a
    benchmark can tell whether a collection ran inside its measured window, and how long it
    stopped the relay. Timing costs two clock reads per collection, nothing per frame.

    Once :attr:`freezing` is on (:func:`tune_gc`), each relay's timer calls :meth:`freeze` on
    a tick when connections were opened since its last one (:meth:`RelayServer._tick`): the
    survivors of a burst of connections are then never scanned by a collection again, so the
    young collections that follow stay small (docs/performance.md, "Round 2, session 5").
    A cluster node does not: its Redis client keeps asynchronous work in flight (tasks,
    futures, replies being parsed), which a freeze would catch mid-flight, and whether any of
    it ends in a reference cycle (which, frozen, would never be freed) is not tested.
    """

    __slots__ = (
        "_started_ns",
        "by_generation",
        "collections",
        "freeze_last_us",
        "freeze_max_us",
        "freeze_total_us",
        "freezes",
        "freezing",
        "max_us",
        "recent_us",
        "total_us",
    )

    def __init__(self) -> None:
        self.collections = 0
        #: Collections of each generation (a collection of generation 2 is a full one).
        self.by_generation = [0, 0, 0]
        self.total_us = 0.0
        self.max_us = 0.0
        self.recent_us: list[float] = []
        self._started_ns = 0
        #: Whether the relays of this process freeze new connections' survivors (tune_gc).
        self.freezing = False
        self.freezes = 0
        self.freeze_last_us = 0.0
        self.freeze_max_us = 0.0
        self.freeze_total_us = 0.0

    def callback(self, phase: str, info: dict[str, int]) -> None:
        """The ``gc.callbacks`` hook: time from each ``start`` to its ``stop``."""
        if phase == "start":
            self._started_ns = time.perf_counter_ns()
            return
        pause_us = (time.perf_counter_ns() - self._started_ns) / 1e3
        self.collections += 1
        generation = info.get("generation", 0)
        if 0 <= generation < len(self.by_generation):
            self.by_generation[generation] += 1
        self.total_us += pause_us
        self.max_us = max(self.max_us, pause_us)
        recent = self.recent_us
        recent.append(pause_us)
        if len(recent) > GC_RECENT_PAUSES:
            del recent[0]

    def freeze(self) -> None:
        """Collect every object not frozen yet, then freeze the survivors; timed.

        The collection first, so that a reference cycle that is already garbage is freed
        rather than kept for ever; it scans only what was made (and still lives) since the
        last freeze, since frozen objects are never scanned. It also counts as a collection
        (of generation 2) in :attr:`collections`. ``gc.freeze()`` itself moves lists, in
        constant time, and resets the young generation's count. A frozen object is still
        freed when its last reference goes (CPython's reference counting); only a reference
        cycle among frozen objects would never be: the relay's per-connection objects form
        none (tests/integration/test_relay_gc.py).
        """
        started = time.perf_counter_ns()
        gc.collect()
        gc.freeze()
        pause_us = (time.perf_counter_ns() - started) / 1e3
        self.freezes += 1
        self.freeze_last_us = pause_us
        self.freeze_total_us += pause_us
        self.freeze_max_us = max(self.freeze_max_us, pause_us)

    def as_dict(self) -> dict[str, object]:
        """Collections since :func:`tune_gc`, their pauses (µs), the freezes, the frozen objects."""
        return {
            "collections": self.collections,
            "by_generation": list(self.by_generation),
            "pause_total_us": round(self.total_us, 1),
            "pause_max_us": round(self.max_us, 1),
            "recent_pause_us": [round(pause, 1) for pause in self.recent_us],
            "freezes": self.freezes,
            "freeze_last_us": round(self.freeze_last_us, 1),
            "freeze_max_us": round(self.freeze_max_us, 1),
            "freeze_total_us": round(self.freeze_total_us, 1),
            "frozen": gc.get_freeze_count(),
            "thresholds": list(gc.get_threshold()),
        }


GC_PAUSES: Final = GcPauses()
"""This process's collector pauses (counted once :func:`tune_gc` has run)."""

GC_THRESHOLDS: Final = (50_000, 50, 100)
"""The collector's thresholds in the relay (CPython's defaults: 700, 10, 10)."""


def tune_gc() -> None:
    """Tune the garbage collector for a long-running relay; call once, after start-up.

    The relay's state (dictionaries of bytes and ints, slotted connection objects) forms no
    reference cycles, so the cyclic collector finds almost nothing; but with the default
    thresholds it runs a young collection every 700 allocations (a few frames) and, from time
    to time, a full collection that walks every tracked object — at 10,000 connections that
    measured 100-700 ms pauses (DESIGN.md §7). ``gc.freeze()`` moves everything allocated at
    start-up (modules, classes, the router's tables) out of the collector's sight, and higher
    thresholds make young collections rarer; full collections stay bounded by CPython's own
    rule (only when long-lived objects grew by 25 %). Every collection after this is timed
    (:data:`GC_PAUSES`, ``/health``'s ``gc``); ``quicko bench relay`` reports those that fall in
    its measured windows.

    Thresholds (:data:`GC_THRESHOLDS`): a young collection every 50,000 net new container
    objects (a few hundred thousand frames: the per-frame objects die young and are not
    counted), the middle generation every 50 of those, the old one every 100 middle ones and
    then only past the 25 % rule. Objects made before this call are never scanned again; one
    made later in a reference cycle is still collected, by the next collection of its
    generation.

    It also turns on the freezing of new connections (:attr:`GcPauses.freezing`): on each run
    of a relay's timer (at least every :data:`TICK_S`) after connections were opened since its last
    freeze, the relay collects every unfrozen object and freezes the survivors
    (:meth:`GcPauses.freeze`), so a burst of connections is frozen in pieces as it arrives and
    no young collection scans its state later (without it, the first young collection after
    10,000 connections arrived took 14-21 ms: docs/performance.md).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    if GC_PAUSES.callback not in gc.callbacks:
        gc.callbacks.append(GC_PAUSES.callback)
    GC_PAUSES.freezing = True
