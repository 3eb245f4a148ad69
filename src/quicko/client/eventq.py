"""The client's event queue: bounded, with an overflow rule that loses no authenticated message.

A front-end that stops reading events (a script that never polls, a UI that hangs) must not
make the client grow without bound (issue 9, finding 6), and a flood from a peer must not push
out what matters. :class:`EventQueue` holds at most ``capacity`` events (10,000 by default).
When a new event arrives and the queue is full:

1. the oldest event that is **not** a :class:`~quicko.client.models.MessageReceived` is dropped
   (statuses, latencies, presence: each is repeated or superseded by later state, and
   :meth:`~quicko.client.api.AsyncQuickoClient.sessions` and ``messages()`` give the truth);
2. if every queued event is a MessageReceived, the oldest one is dropped from the *queue* only:
   the message itself stays in its session's store (``messages(session_id)``), its sender was
   receipted when it was stored, and nothing about delivery depends on events being read.

Either way one :class:`~quicko.client.models.EventsDropped` event (coalesced: it counts every
drop until it is read) is queued, so the application knows to re-read ``messages()`` and
``sessions()``. Thread-safe: the synchronous client reads it from other threads.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Final

from quicko.client import models as m

__all__ = ["DEFAULT_EVENT_CAPACITY", "EventQueue"]

DEFAULT_EVENT_CAPACITY: Final = 10_000
"""Events held for the application before the overflow rule applies."""


class EventQueue:
    """A bounded, thread-safe FIFO of client events (see the module docstring).

    Args:
        capacity: events held at most (plus the one drop marker); at least 2.

    Raises:
        ValueError: ``capacity`` is below 2.
    """

    def __init__(self, capacity: int = DEFAULT_EVENT_CAPACITY) -> None:
        if capacity < 2:
            raise ValueError("an event queue holds at least 2 events")
        self._capacity = capacity
        self._items: deque[m.ClientEvent] = deque()
        self._dropped = 0
        # A plain lock, entered without a Python-level __enter__ (a Condition's own, or an
        # RLock's, costs two calls per event read); the condition waits and notifies on it.
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)

    def __len__(self) -> int:
        return len(self._items) + (1 if self._dropped else 0)

    @property
    def dropped(self) -> int:
        """Events dropped by the overflow rule and not yet reported."""
        return self._dropped

    def put(self, event: m.ClientEvent) -> None:
        """Queue an event, applying the overflow rule when full."""
        with self._lock:
            if len(self._items) >= self._capacity:
                self._drop_one()
            self._items.append(event)
            self._ready.notify()

    def put_many(self, events: list[m.ClientEvent]) -> None:
        """Queue events in order, as :meth:`put` each, under one lock and one notification."""
        with self._lock:
            items, capacity = self._items, self._capacity
            for event in events:
                if len(items) >= capacity:
                    self._drop_one()
                items.append(event)
            self._ready.notify(len(events))  # as many waiters as :meth:`put` each would wake

    def _drop_one(self) -> None:
        for index, queued in enumerate(self._items):
            if not isinstance(queued, m.MessageReceived):
                del self._items[index]
                break
        else:
            self._items.popleft()  # still in its session's store
        self._dropped += 1

    def get_nowait(self) -> m.ClientEvent | None:
        """The next event, or ``None`` at once."""
        with self._lock:
            if self._dropped or not self._items:
                return self._take()
            return self._items.popleft()  # _take's common case, inlined (read per event)

    def get(self, timeout: float | None = None) -> m.ClientEvent | None:
        """The next event, waiting up to ``timeout`` seconds (``None``: no limit)."""
        with self._ready:
            self._ready.wait_for(lambda: bool(self._items) or bool(self._dropped), timeout)
            return self._take()

    def _take(self) -> m.ClientEvent | None:
        if self._dropped:
            count, self._dropped = self._dropped, 0
            return m.EventsDropped(count)
        return self._items.popleft() if self._items else None
