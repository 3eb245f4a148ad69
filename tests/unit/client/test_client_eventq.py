"""The bounded event queue and its overflow rule (quicko.client.eventq)."""

from __future__ import annotations

import pytest

from quicko.client import models as m
from quicko.client.eventq import EventQueue
from quicko.messaging import ChatMessage, DeliveryStatus


def received(n: int) -> m.MessageReceived:
    message = ChatMessage(bytes([n]) * 16, b"s" * 16, b"p" * 16, "Peer", f"t{n}", 0, False,
                          DeliveryStatus.DELIVERED)  # fmt: skip
    return m.MessageReceived("73" * 16, message)


def test_overflow_drops_other_events_before_any_message() -> None:
    queue = EventQueue(4)
    queue.put(m.LatencyMeasured(1.0))
    queue.put(received(1))
    queue.put(m.LatencyMeasured(2.0))
    queue.put(received(2))
    queue.put(received(3))  # full: the oldest event that is not a message goes
    queue.put(received(4))
    assert queue.get_nowait() == m.EventsDropped(2)
    assert [queue.get_nowait() for _ in range(4)] == [received(n) for n in range(1, 5)]


def test_a_queue_full_of_messages_drops_the_oldest_from_the_queue_only() -> None:
    queue = EventQueue(3)
    for n in range(5):
        queue.put(received(n))
    assert len(queue) == 3 + 1  # three events and the marker
    first = queue.get_nowait()
    assert isinstance(first, m.EventsDropped) and first.count == 2
    assert [queue.get(timeout=0) for _ in range(3)] == [received(2), received(3), received(4)]
    assert queue.get(timeout=0) is None


def test_capacity_is_checked() -> None:
    with pytest.raises(ValueError):
        EventQueue(1)


def test_put_many_is_put_each_in_order_with_the_overflow_rule() -> None:
    events: list[m.ClientEvent] = [m.LatencyMeasured(1.0), received(1), received(2)]
    events += [m.LatencyMeasured(2.0), received(3), received(4)]
    one, many = EventQueue(4), EventQueue(4)
    for event in events:
        one.put(event)
    many.put_many(events)
    drained = [[queue.get_nowait() for _ in range(6)] for queue in (one, many)]
    assert drained[0] == drained[1]
    assert drained[1][:2] == [m.EventsDropped(2), received(1)]
