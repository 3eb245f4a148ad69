"""Outgoing messages on their way: the offline queue and the retransmission tracker (DESIGN.md §5).

Two bounded, ordered containers keyed by message id, generic over the item they hold (the
client stores the ready-to-send frames of a message: one per recipient in a group). Neither
ever loses a message silently: whatever leaves them other than by an explicit
:meth:`~OutboundQueue.remove` or :meth:`~OutboundQueue.drain` is returned to the caller, who
reports it :attr:`~quicko.messaging.status.DeliveryStatus.FAILED`.

- :class:`OutboundQueue` holds messages written while offline: a ring buffer of 500 by default.
  :meth:`~OutboundQueue.push` on a full queue drops the oldest message and returns it.
- :class:`UnackedTracker` holds every message whose frames went out but that is not yet
  DELIVERED, so that the client retransmits the *same* frames after each reconnect
  (at-least-once; the recipient shows each message once). Messages leave it when delivered
  (:meth:`~UnackedTracker.remove`), when it is full (the oldest, returned by
  :meth:`~UnackedTracker.track`), or when their time to live passes
  (:meth:`~UnackedTracker.expire`).

The intended flow in the client (the I/O shell supplies ``now_ms``)::

    offline:    for old_mid, _ in queue.push(mid, frames): report old_mid FAILED
    connected:  for mid, frames in queue.drain():
                    send(frames)
                    for old_mid, _ in tracker.track(mid, frames, now_ms): report old_mid FAILED
    reconnect:  for mid, frames in tracker.pending(): send(frames)   (the same ciphertext)
    receipt:    tracker.remove(mid)             (DELIVERED or READ: stop retransmitting)
    timer:      for mid in tracker.expire(now_ms): report mid FAILED   (at next_deadline())

Time is an argument (``now_ms``, milliseconds), never read here. If it goes backwards, an item
is timed from the latest time seen, so items stay in time order and expire in insertion order.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Final, Generic, TypeVar

__all__ = [
    "DEFAULT_OUTBOUND_CAPACITY",
    "DEFAULT_UNACKED_CAPACITY",
    "DEFAULT_UNACKED_TTL_MS",
    "ExpiringRing",
    "OutboundQueue",
    "UnackedTracker",
]

DEFAULT_OUTBOUND_CAPACITY: Final = 500
"""Messages the offline queue holds before it drops the oldest (DESIGN.md §5)."""

DEFAULT_UNACKED_CAPACITY: Final = 1_000
"""Undelivered messages tracked for retransmission: as many as the store keeps (DESIGN.md §8)."""

DEFAULT_UNACKED_TTL_MS: Final = 3_600_000
"""How long an undelivered message is retransmitted before it is FAILED: the session TTL."""

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)


def _check_positive(name: str, value: int) -> None:
    if value < 1:
        raise ValueError(f"{name} must be at least 1, not {value}")


class OutboundQueue(Generic[T]):
    """Messages waiting for a connection, in the order they were written; oldest dropped first.

    Args:
        capacity: the most messages held; at least 1.

    Raises:
        ValueError: ``capacity`` is below 1.
    """

    __slots__ = ("_capacity", "_items")

    def __init__(self, capacity: int = DEFAULT_OUTBOUND_CAPACITY) -> None:
        _check_positive("capacity", capacity)
        self._capacity = capacity
        self._items: OrderedDict[bytes, T] = OrderedDict()

    @property
    def capacity(self) -> int:
        """The most messages this queue holds."""
        return self._capacity

    def push(self, message_id: bytes, item: T) -> list[tuple[bytes, T]]:
        """Queue a message behind the others.

        Args:
            message_id: the message's id, not already queued.
            item: what to send for it (its frames).

        Returns:
            The messages dropped to make room, oldest first (empty unless the queue was full).
            The caller reports them FAILED.

        Raises:
            ValueError: ``message_id`` is already queued (local misuse).
        """
        if message_id in self._items:
            raise ValueError("this message id is already queued")
        self._items[message_id] = item
        dropped: list[tuple[bytes, T]] = []
        while len(self._items) > self._capacity:
            dropped.append(self._items.popitem(last=False))
        return dropped

    def remove(self, message_id: bytes) -> T | None:
        """Take one message out of the queue (for example, it expired or its session closed).

        Returns:
            Its item, or ``None`` if it is not queued.
        """
        return self._items.pop(message_id, None)

    def drain(self) -> list[tuple[bytes, T]]:
        """Take every message out, oldest first, to send them now."""
        drained = list(self._items.items())
        self._items.clear()
        return drained

    def clear(self) -> None:
        """Drop everything without reporting it (the session is being destroyed)."""
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, message_id: object) -> bool:
        return message_id in self._items

    def __repr__(self) -> str:
        return f"OutboundQueue({len(self._items)}/{self._capacity})"


class ExpiringRing(Generic[K, T]):
    """Items by key, in insertion order, bounded in count and age: the one such container.

    Keys are any hashable value: a message id for the retransmission tracker, a (sender,
    message id) pair for the message store.

    Both the retransmission tracker (:class:`UnackedTracker`) and each session's message store
    (:class:`quicko.store.ephemeral.EphemeralStore`) are this. Insertion order is deadline order,
    because every item lives ``ttl_ms`` from the latest time seen when it was added (if the
    clock goes back, the latest earlier time counts), so both eviction and expiry take from the
    front. Nothing leaves it silently: :meth:`add` returns what it evicts and :meth:`expire`
    what timed out.

    Args:
        capacity: the most items held; at least 1.
        ttl_ms: how long an item is held after it was added, in milliseconds; at least 1.

    Raises:
        ValueError: ``capacity`` or ``ttl_ms`` is below 1.
    """

    __slots__ = ("_capacity", "_deadlines", "_items", "_latest_ms", "_ttl_ms")

    def __init__(self, *, capacity: int, ttl_ms: int) -> None:
        _check_positive("capacity", capacity)
        _check_positive("ttl_ms", ttl_ms)
        self._capacity = capacity
        self._ttl_ms = ttl_ms
        # key -> item, and key -> deadline in ms: the same keys in the same order (insertion
        # order, which is deadline order; replacing a value keeps its place). Two mappings
        # rather than one of (deadline, item) pairs: no tuple per item, a container object
        # that would live as long as the item for the collector to count and walk (up to
        # 1,000 per ring: one ring per conversation, one per ledger). The deadlines are the
        # OrderedDict, so that taking the oldest is O(1) (a plain dict scans past the
        # entries deleted at its front).
        self._items: dict[K, T] = {}
        self._deadlines: OrderedDict[K, int] = OrderedDict()
        self._latest_ms: int | None = None

    @property
    def capacity(self) -> int:
        """The most items held."""
        return self._capacity

    @property
    def ttl_ms(self) -> int:
        """How long an item is held after it was added, in milliseconds."""
        return self._ttl_ms

    def add(self, key: K, item: T, now_ms: int) -> list[tuple[K, T]]:
        """Hold ``item`` under ``key`` (not held yet) from ``now_ms``.

        Returns:
            The items evicted to make room, oldest first (empty unless it was full).
        """
        if self._latest_ms is None or now_ms > self._latest_ms:
            self._latest_ms = now_ms
        items = self._items
        items[key] = item
        self._deadlines[key] = self._latest_ms + self._ttl_ms
        if len(items) <= self._capacity:
            return []
        evicted: list[tuple[K, T]] = []
        while len(items) > self._capacity:
            old_key, _ = self._deadlines.popitem(last=False)
            evicted.append((old_key, items.pop(old_key)))
        return evicted

    def get(self, key: K) -> T | None:
        """The item held under ``key``, or ``None``."""
        return self._items.get(key)

    def replace(self, key: K, item: T) -> None:
        """Hold ``item`` instead under a held ``key``, keeping its place and its deadline."""
        if key not in self._items:
            raise KeyError(key)
        self._items[key] = item

    def pop(self, key: K) -> T | None:
        """Stop holding ``key``; return its item, or ``None`` if it was not held."""
        self._deadlines.pop(key, None)
        return self._items.pop(key, None)

    def items(self) -> list[tuple[K, T]]:
        """Every held (key, item), oldest first; they stay held."""
        return list(self._items.items())

    def expire(self, now_ms: int) -> list[K]:
        """Stop holding every item whose time to live has passed at ``now_ms``.

        Returns:
            Their keys, oldest first.
        """
        expired: list[K] = []
        deadlines = self._deadlines
        while deadlines:
            key, deadline_ms = next(iter(deadlines.items()))
            if deadline_ms > now_ms:
                break
            del deadlines[key]
            del self._items[key]
            expired.append(key)
        return expired

    def next_deadline(self) -> int | None:
        """When :meth:`expire` next has something to do (ms), or ``None`` if nothing is held."""
        if not self._deadlines:
            return None
        return next(iter(self._deadlines.values()))

    def clear(self) -> None:
        """Drop everything without reporting it (the session is being destroyed)."""
        self._items.clear()
        self._deadlines.clear()
        self._latest_ms = None

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items


class UnackedTracker(ExpiringRing[bytes, T]):
    """Messages sent but not yet delivered, kept to retransmit after a reconnect.

    Args:
        capacity: the most messages tracked; at least 1.
        ttl_ms: how long a message is tracked before :meth:`expire` reports it; at least 1.

    Raises:
        ValueError: ``capacity`` or ``ttl_ms`` is below 1.
    """

    __slots__ = ()

    def __init__(
        self,
        *,
        capacity: int = DEFAULT_UNACKED_CAPACITY,
        ttl_ms: int = DEFAULT_UNACKED_TTL_MS,
    ) -> None:
        super().__init__(capacity=capacity, ttl_ms=ttl_ms)

    def track(self, message_id: bytes, item: T, now_ms: int) -> list[tuple[bytes, T]]:
        """Start tracking a message whose frames were just sent for the first time.

        Args:
            message_id: the message's id, not already tracked.
            item: what to retransmit for it (the same frames).
            now_ms: the current time, in milliseconds.

        Returns:
            The messages evicted to make room, oldest first (empty unless it was full). The
            caller reports them FAILED: they will not be retransmitted.

        Raises:
            ValueError: ``message_id`` is already tracked (local misuse).
        """
        if message_id in self._items:
            raise ValueError("this message id is already tracked")
        return self.add(message_id, item, now_ms)

    def remove(self, message_id: bytes) -> T | None:
        """Stop tracking a message (it was delivered or read, or it failed otherwise).

        Returns:
            Its item, or ``None`` if it is not tracked (a duplicate or late receipt).
        """
        return self.pop(message_id)

    def pending(self) -> list[tuple[bytes, T]]:
        """Every tracked message, oldest first, to retransmit; they stay tracked."""
        return self.items()

    def __repr__(self) -> str:
        return f"UnackedTracker({len(self)}/{self.capacity}, ttl_ms={self.ttl_ms})"
