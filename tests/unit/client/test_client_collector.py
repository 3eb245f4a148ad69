"""The client's collector policy, and why it is safe: a message's objects form no cycles.

The applications raise the collector's thresholds and freeze their start-up objects
(:func:`quicko.client.tune_client_gc`). That only costs memory if the client makes reference
cycles as it works, since only the cyclic collector frees those. These tests run messages
between two real ClientCores (through the real relay Router, in memory) with the collector off
and ``gc.DEBUG_SAVEALL`` on, then collect: whatever the collector finds was cyclic garbage.
The integration test (tests/integration/test_client_no_cycles.py) does the same for real
AsyncQuickoClients over a real relay.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator

import pytest
from core_pump import Device, Net, chat

from quicko.client import CLIENT_GC_THRESHOLDS, tune_client_gc
from quicko.client import models as m
from quicko.messaging import DeliveryStatus

MESSAGES = 300


def cyclic_garbage(work: Callable[[], object]) -> list[object]:
    """Everything the cyclic collector finds after ``work()`` ran with the collector off."""
    enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        work()
        gc.collect()
        return list(gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        if enabled:
            gc.enable()


def of_quicko(objects: list[object]) -> list[str]:
    """The qualified names of the objects whose types are quicko's own."""
    return [
        f"{type(o).__module__}.{type(o).__qualname__}"
        for o in objects
        if type(o).__module__.startswith("quicko.")
    ]


def exchange(net: Net, alice: Device, bob: Device, session_id: str, count: int) -> None:
    """Alice sends ``count`` texts in batches of 50; both ends settle after each batch."""
    for start in range(0, count, 50):
        net.now += 1
        for n in range(start, min(start + 50, count)):
            alice.core.send_text(session_id, f"{n:08d} ".ljust(100, "x"), net.now)
        net.run()


@pytest.fixture
def pair() -> Iterator[tuple[Net, Device, Device, str]]:
    net = Net()
    alice, bob, session_id = chat(net)
    exchange(net, alice, bob, session_id, 10)  # first-use costs out of the way
    yield net, alice, bob, session_id


def test_messages_between_two_cores_leave_no_cyclic_garbage(
    pair: tuple[Net, Device, Device, str],
) -> None:
    net, alice, bob, session_id = pair
    found = cyclic_garbage(lambda: exchange(net, alice, bob, session_id, MESSAGES))
    assert found == []
    # The messages really went through, both ways (texts one way, receipts the other).
    assert len(bob.of(m.MessageReceived)) == 10 + MESSAGES
    delivered = {
        e.message_id for e in alice.of(m.StatusChanged) if e.status is DeliveryStatus.DELIVERED
    }
    assert len(delivered) == 10 + MESSAGES


def test_the_check_sees_a_cycle_that_holds_a_quicko_object() -> None:
    # The check itself: an event of the client's caught in a cycle made during the work.
    def leak() -> None:
        event = m.StatusChanged("5e" * 16, "00" * 16, DeliveryStatus.SENT)
        cycle: list[object] = [event]
        cycle.append(cycle)

    found = cyclic_garbage(leak)
    assert of_quicko(found) == ["quicko.client.models.StatusChanged"]
    assert len(found) == 2  # the event and the list


def test_tune_client_gc_sets_the_thresholds_and_freezes_start_up() -> None:
    before = gc.get_threshold()
    try:
        tune_client_gc()
        assert gc.get_threshold() == CLIENT_GC_THRESHOLDS
        assert gc.get_freeze_count() > 0
        assert gc.get_count()[0] < CLIENT_GC_THRESHOLDS[0]
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def test_tune_client_gc_can_leave_objects_unfrozen() -> None:
    before = gc.get_threshold()
    frozen = gc.get_freeze_count()
    try:
        tune_client_gc(freeze=False)
        assert gc.get_threshold() == CLIENT_GC_THRESHOLDS
        assert gc.get_freeze_count() == frozen
    finally:
        gc.set_threshold(*before)


def test_the_library_leaves_the_collector_alone() -> None:
    # Importing and using the client changes no process-wide collector setting: only the
    # applications apply the policy.
    before = gc.get_threshold(), gc.get_freeze_count(), gc.isenabled()
    net = Net()
    alice, bob, session_id = chat(net)
    exchange(net, alice, bob, session_id, 5)
    assert (gc.get_threshold(), gc.get_freeze_count(), gc.isenabled()) == before
