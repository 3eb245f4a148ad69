"""The client's policy for CPython's cyclic garbage collector, for applications to apply.

A library must not change process-wide settings behind the back of the program that embeds
it, so nothing in :mod:`quicko.client` calls this by itself: the applications do, once, when
they have started (``quicko chat``, ``quicko app``, ``quicko session …``), and so does
``quicko bench client``, because it measures what the applications do. A program that embeds
:class:`~quicko.client.AsyncQuickoClient` may call :func:`tune_client_gc` too, or keep its own
policy. docs/architecture.md ("The collector") and docs/performance.md ("fifth pass") give the
measurements behind the numbers.

Why: a message's objects (the ChatMessage, its ledger record, the frames, the events) form no
reference cycles, so reference counting frees them and the cyclic collector finds nothing
(tests/unit/client/test_client_collector.py and
tests/integration/test_client_no_cycles.py check it). But with CPython's default thresholds
(700, 10, 10) the collector still runs a young collection every few dozen messages, scanning
whatever is in flight, and from time to time a full collection that walks every object of the
process (the modules, the classes, the UI): measured, about 1,500 collections and 0.8-0.95 s of
pauses per 100,000 messages on a quiet machine, the longest 40-60 ms (1.2-3 s and 100-350 ms
under load). With this policy: 5-6 young collections per 20,000 messages, 20-40 ms in all, the
longest 6-13 ms, at the same memory.
"""

from __future__ import annotations

import gc
from typing import Final

__all__ = ["CLIENT_GC_THRESHOLDS", "tune_client_gc"]

CLIENT_GC_THRESHOLDS: Final = (10_000, 50, 100)
"""The collector's thresholds in the client's applications (CPython's defaults: 700, 10, 10).

A young collection once the count of container objects has grown by 10,000 since the last one
(objects freed by reference counting count back down): about every 3,500 messages of a
benchmark's burst, or hours of ordinary chat. It scans the young objects still alive, mostly
those in flight, whose number the client's own limits bound (1,000 tracked messages, a ring
of 1,000 per conversation), so a higher threshold makes young collections rarer without making
them much longer. The middle generation every 50 young ones (it scans every survivor, so it is
the longest pause), the old one every 100 middle ones and then only when long-lived objects
grew by 25 % (CPython's rule). The price is memory only if something makes reference cycles
(the client makes none per message; a UI toolkit may): a cycle that dies young waits for up to
10,000 net new containers, one that outlived a young collection waits for a middle one.
"""


def tune_client_gc(*, freeze: bool = True) -> None:
    """Apply the client's collector policy to this process; call once, after start-up.

    Collects once, then (with ``freeze``) moves every object alive — the modules, classes and
    whatever the application built at start-up — out of the collector's sight with
    :func:`gc.freeze`, so that no later collection walks them again, and sets
    :data:`CLIENT_GC_THRESHOLDS`. Objects made later in a reference cycle are still collected,
    by the next collection of their generation; frozen ones are never freed (start-up objects
    live as long as the process anyway).

    Args:
        freeze: also freeze the objects alive now (the default).
    """
    gc.collect()
    if freeze:
        gc.freeze()
    gc.set_threshold(*CLIENT_GC_THRESHOLDS)
