from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from quicko.messaging.queue import (
    DEFAULT_OUTBOUND_CAPACITY,
    DEFAULT_UNACKED_CAPACITY,
    DEFAULT_UNACKED_TTL_MS,
    ExpiringRing,
    OutboundQueue,
    UnackedTracker,
)


def mid(n: int) -> bytes:
    return n.to_bytes(16, "big")


# ---------------------------------------------------------------- OutboundQueue


def test_outbound_defaults() -> None:
    queue: OutboundQueue[str] = OutboundQueue()
    assert queue.capacity == DEFAULT_OUTBOUND_CAPACITY == 500
    assert len(queue) == 0
    assert repr(queue) == "OutboundQueue(0/500)"


@pytest.mark.parametrize("capacity", [0, -1])
def test_outbound_capacity_must_be_positive(capacity: int) -> None:
    with pytest.raises(ValueError, match="capacity must be at least 1"):
        OutboundQueue[str](capacity)


def test_outbound_keeps_order_and_drains() -> None:
    queue: OutboundQueue[str] = OutboundQueue(3)
    for n in range(3):
        assert queue.push(mid(n), f"frames {n}") == []
    assert len(queue) == 3
    assert mid(1) in queue
    assert queue.drain() == [(mid(0), "frames 0"), (mid(1), "frames 1"), (mid(2), "frames 2")]
    assert len(queue) == 0
    assert queue.drain() == []


def test_outbound_full_queue_drops_the_oldest_and_returns_it() -> None:
    queue: OutboundQueue[str] = OutboundQueue(2)
    queue.push(mid(0), "a")
    queue.push(mid(1), "b")
    assert queue.push(mid(2), "c") == [(mid(0), "a")]
    assert queue.push(mid(3), "d") == [(mid(1), "b")]
    assert mid(0) not in queue
    assert queue.drain() == [(mid(2), "c"), (mid(3), "d")]


def test_outbound_default_capacity_drops_the_501st() -> None:
    queue: OutboundQueue[int] = OutboundQueue()
    dropped = [queue.push(mid(n), n) for n in range(501)]
    assert all(d == [] for d in dropped[:500])
    assert dropped[500] == [(mid(0), 0)]
    assert len(queue) == 500


def test_outbound_remove() -> None:
    queue: OutboundQueue[str] = OutboundQueue(3)
    queue.push(mid(0), "a")
    queue.push(mid(1), "b")
    assert queue.remove(mid(0)) == "a"
    assert queue.remove(mid(0)) is None
    assert queue.remove(mid(9)) is None
    assert queue.drain() == [(mid(1), "b")]


def test_outbound_push_of_a_queued_id_is_misuse() -> None:
    queue: OutboundQueue[str] = OutboundQueue(3)
    queue.push(mid(0), "a")
    with pytest.raises(ValueError, match="already queued"):
        queue.push(mid(0), "again")
    assert queue.drain() == [(mid(0), "a")]


def test_outbound_clear() -> None:
    queue: OutboundQueue[str] = OutboundQueue(3)
    queue.push(mid(0), "a")
    queue.clear()
    assert len(queue) == 0
    assert queue.drain() == []


@given(
    capacity=st.integers(1, 8),
    ops=st.lists(st.one_of(st.integers(0, 40), st.just("drain")), max_size=60),
)
def test_outbound_reports_every_drop_exactly_once(capacity: int, ops: list[int | str]) -> None:
    queue: OutboundQueue[int] = OutboundQueue(capacity)
    pushed: list[int] = []
    out: list[int] = []  # dropped or drained: everything that left the queue
    for op in ops:
        if op == "drain":
            out.extend(item for _, item in queue.drain())
        elif isinstance(op, int) and mid(op) not in queue:
            pushed.append(op)
            dropped = queue.push(mid(op), op)
            assert len(dropped) <= 1
            out.extend(item for _, item in dropped)
        assert len(queue) <= capacity
    out.extend(item for _, item in queue.drain())
    # Every pushed item leaves exactly once, in push order: nothing lost, nothing doubled.
    assert out == pushed


# ---------------------------------------------------------------- UnackedTracker


def test_tracker_defaults() -> None:
    tracker: UnackedTracker[str] = UnackedTracker()
    assert tracker.capacity == DEFAULT_UNACKED_CAPACITY == 1_000
    assert tracker.ttl_ms == DEFAULT_UNACKED_TTL_MS == 3_600_000
    assert tracker.next_deadline() is None
    assert repr(tracker) == "UnackedTracker(0/1000, ttl_ms=3600000)"


@pytest.mark.parametrize(("capacity", "ttl_ms"), [(0, 10), (10, 0), (-5, 10)])
def test_tracker_arguments_must_be_positive(capacity: int, ttl_ms: int) -> None:
    with pytest.raises(ValueError, match="must be at least 1"):
        UnackedTracker[str](capacity=capacity, ttl_ms=ttl_ms)


def test_tracker_pending_keeps_items_for_retransmission() -> None:
    tracker: UnackedTracker[str] = UnackedTracker(capacity=5, ttl_ms=100)
    assert tracker.track(mid(0), "f0", 10) == []
    assert tracker.track(mid(1), "f1", 20) == []
    assert tracker.pending() == [(mid(0), "f0"), (mid(1), "f1")]
    assert tracker.pending() == [(mid(0), "f0"), (mid(1), "f1")]  # still tracked
    assert len(tracker) == 2
    assert mid(1) in tracker


def test_tracker_remove_on_delivery() -> None:
    tracker: UnackedTracker[str] = UnackedTracker(capacity=5, ttl_ms=100)
    tracker.track(mid(0), "f0", 10)
    assert tracker.remove(mid(0)) == "f0"
    assert tracker.remove(mid(0)) is None  # a duplicate receipt
    assert tracker.pending() == []


def test_tracker_evicts_the_oldest_when_full() -> None:
    tracker: UnackedTracker[str] = UnackedTracker(capacity=2, ttl_ms=100)
    tracker.track(mid(0), "f0", 0)
    tracker.track(mid(1), "f1", 1)
    assert tracker.track(mid(2), "f2", 2) == [(mid(0), "f0")]
    assert [m for m, _ in tracker.pending()] == [mid(1), mid(2)]


def test_tracker_expire_at_the_deadline() -> None:
    tracker: UnackedTracker[str] = UnackedTracker(capacity=5, ttl_ms=100)
    tracker.track(mid(0), "f0", 1_000)
    tracker.track(mid(1), "f1", 1_050)
    assert tracker.next_deadline() == 1_100
    assert tracker.expire(1_099) == []
    assert tracker.expire(1_100) == [mid(0)]
    assert tracker.next_deadline() == 1_150
    assert tracker.expire(10_000) == [mid(1)]
    assert tracker.next_deadline() is None
    assert tracker.expire(20_000) == []


def test_tracker_clock_going_back_times_from_the_latest_seen() -> None:
    tracker: UnackedTracker[str] = UnackedTracker(capacity=5, ttl_ms=100)
    tracker.track(mid(0), "f0", 1_000)
    tracker.track(mid(1), "f1", 500)  # the clock went back: counted from 1_000
    assert tracker.expire(650) == []
    assert tracker.expire(1_100) == [mid(0), mid(1)]


def test_tracker_track_of_a_tracked_id_is_misuse() -> None:
    tracker: UnackedTracker[str] = UnackedTracker(capacity=5, ttl_ms=100)
    tracker.track(mid(0), "f0", 0)
    with pytest.raises(ValueError, match="already tracked"):
        tracker.track(mid(0), "f0", 1)


def test_tracker_clear() -> None:
    tracker: UnackedTracker[str] = UnackedTracker(capacity=5, ttl_ms=100)
    tracker.track(mid(0), "f0", 0)
    tracker.clear()
    assert len(tracker) == 0
    assert tracker.next_deadline() is None


class TrackerMachine(RuleBasedStateMachine):
    """The tracker against a plain model: bounded, ordered, every exit reported once."""

    def __init__(self) -> None:
        super().__init__()
        self.tracker: UnackedTracker[int] = UnackedTracker(capacity=1, ttl_ms=1)
        self.capacity = 1
        self.ttl_ms = 1
        self.now_ms = 0
        self.next_id = 0
        self.model: dict[int, int] = {}  # id -> time tracked, in insertion order
        self.exits: Counter[int] = Counter()
        self.tracked: list[int] = []

    @initialize(capacity=st.integers(1, 6), ttl_ms=st.integers(1, 50))
    def start(self, capacity: int, ttl_ms: int) -> None:
        self.capacity = capacity
        self.ttl_ms = ttl_ms
        self.tracker = UnackedTracker(capacity=capacity, ttl_ms=ttl_ms)

    @rule()
    def track(self) -> None:
        n = self.next_id
        self.next_id += 1
        self.tracked.append(n)
        self.model[n] = self.now_ms
        evicted = self.tracker.track(mid(n), n, self.now_ms)
        expected = []
        while len(self.model) > self.capacity:
            oldest = next(iter(self.model))
            del self.model[oldest]
            expected.append(oldest)
        assert [item for _, item in evicted] == expected
        self.exits.update(expected)

    @rule(step=st.integers(0, 30))
    def tick(self, step: int) -> None:
        self.now_ms += step

    @rule()
    def expire(self) -> None:
        expired = [int.from_bytes(m, "big") for m in self.tracker.expire(self.now_ms)]
        expected = [n for n, t in self.model.items() if t + self.ttl_ms <= self.now_ms]
        assert expired == expected  # exactly the expired ones, oldest first
        for n in expected:
            del self.model[n]
        self.exits.update(expected)

    @precondition(lambda self: bool(self.model))
    @rule(data=st.data())
    def deliver(self, data: st.DataObject) -> None:
        n = data.draw(st.sampled_from(sorted(self.model)))
        assert self.tracker.remove(mid(n)) == n
        del self.model[n]
        self.exits[n] += 1

    @invariant()
    def matches_the_model(self) -> None:
        assert len(self.tracker) <= self.capacity
        assert [item for _, item in self.tracker.pending()] == list(self.model)
        deadline = self.tracker.next_deadline()
        if self.model:
            assert deadline == min(self.model.values()) + self.ttl_ms
        else:
            assert deadline is None

    def teardown(self) -> None:
        self.exits.update(item for _, item in self.tracker.pending())
        assert sorted(self.exits) == self.tracked
        assert all(count == 1 for count in self.exits.values())


TrackerMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=40)
test_tracker_state_machine = TrackerMachine.TestCase


# ---------------------------------------------------------------- the collector


def tracked_containers_made_by(work: Callable[[], object]) -> int:
    """How many more objects the cyclic collector tracks after ``work()`` than before."""
    gc.collect()
    before = len(gc.get_objects())
    kept = work()
    gc.collect()
    after = len(gc.get_objects())
    del kept
    return after - before


def test_a_held_item_costs_the_collector_no_container_of_its_own() -> None:
    # A ring holds up to 1,000 messages per conversation (and per ledger) for minutes: a
    # container per item (a (deadline, item) pair) would be walked by every collection that
    # reaches it. Only the items themselves (made before) and the ring's own dicts are tracked.
    items = [[n] for n in range(500)]

    def fill() -> ExpiringRing[bytes, list[int]]:
        ring: ExpiringRing[bytes, list[int]] = ExpiringRing(capacity=400, ttl_ms=1_000)
        for n, item in enumerate(items):
            ring.add(mid(n), item, n)
        ring.pop(mid(499))
        ring.replace(mid(498), items[0])
        return ring

    assert tracked_containers_made_by(fill) < 10
