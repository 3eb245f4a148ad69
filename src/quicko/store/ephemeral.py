"""The ephemeral message store: a ring buffer with a time to live, in memory only (DESIGN.md §8).

**One store per session.** Each session owns an :class:`EphemeralStore` holding its own last
1,000 messages, so a busy group cannot push a quiet chat's history out, and destroying a
session is :meth:`EphemeralStore.wipe` on its store. Every message in a store belongs to the
store's session (checked on :meth:`~EphemeralStore.add`).

Messages are kept in arrival order, keyed by **(sender, message id)** (every lookup is O(1)).
A message id is chosen by its sender, so it is unique only per sender: keyed by the id alone, a
member could reuse another member's id and hide that member's message (issue 8, finding 6). A
message leaves the store when:

- the store is full and a new one arrives: the oldest is evicted and its key returned by
  :meth:`~EphemeralStore.add`;
- its time to live (the session TTL, one hour by default) has passed since it *arrived here*:
  :meth:`~EphemeralStore.purge_expired` removes it and returns its key. The time of arrival is
  the local ``now_ms`` given to ``add``, never the message's own timestamp, which a peer chooses;
- the session ends: :meth:`~EphemeralStore.wipe` drops everything.

Statuses change only through :meth:`~EphemeralStore.update_status` (or
:meth:`~EphemeralStore.advance_status`), which apply the one transition table
(:func:`quicko.messaging.status.advance`): duplicate or stale updates change nothing. A status
is recorded in place and the (frozen) message rebuilt with it only when it is read: an Ack
and a receipt per message sent would otherwise cost two copies of it that nobody may ever
read. Nothing is ever written to disk. Python cannot overwrite the memory of a ``str``:
``wipe`` drops the store's references so the collector can free the messages, no more
(DESIGN.md §10).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final, TypeAlias

from quicko.messaging.message import ChatMessage, short_id
from quicko.messaging.queue import ExpiringRing
from quicko.messaging.status import DeliveryStatus, advance

__all__ = ["DEFAULT_STORE_CAPACITY", "DEFAULT_STORE_TTL_MS", "EphemeralStore", "MessageKey"]

MessageKey: TypeAlias = tuple[bytes, bytes]
"""How the store names a message: (sender address, message id)."""

DEFAULT_STORE_CAPACITY: Final = 1_000
"""Messages a session's store keeps before it evicts the oldest (DESIGN.md §8)."""

DEFAULT_STORE_TTL_MS: Final = 3_600_000
"""How long a message is kept after it arrived: the session TTL, one hour (DESIGN.md §8)."""


class EphemeralStore:
    """The messages of one session, in arrival order, bounded in count and age.

    Args:
        session_id: the session whose messages this store keeps.
        capacity: the most messages kept; at least 1.
        ttl_ms: how long a message is kept after it arrived, in milliseconds; at least 1.

    Raises:
        ValueError: ``capacity`` or ``ttl_ms`` is below 1.
    """

    __slots__ = ("_entries", "_session_id", "_statuses")

    def __init__(
        self,
        session_id: bytes,
        *,
        capacity: int = DEFAULT_STORE_CAPACITY,
        ttl_ms: int = DEFAULT_STORE_TTL_MS,
    ) -> None:
        self._session_id = session_id
        # (sender, message id) -> message, in arrival order, each kept ttl_ms after it arrived.
        self._entries: ExpiringRing[MessageKey, ChatMessage] = ExpiringRing(
            capacity=capacity, ttl_ms=ttl_ms
        )
        # Statuses newer than the stored message's, by key (see _current): only for stored keys.
        self._statuses: dict[MessageKey, DeliveryStatus] = {}

    @property
    def session_id(self) -> bytes:
        """The session whose messages this store keeps."""
        return self._session_id

    @property
    def capacity(self) -> int:
        """The most messages kept."""
        return self._entries.capacity

    @property
    def ttl_ms(self) -> int:
        """How long a message is kept after it arrived, in milliseconds."""
        return self._entries.ttl_ms

    def add(self, message: ChatMessage, now_ms: int) -> list[MessageKey]:
        """Keep a message that was just sent or received.

        The session drops duplicates before they get here: it dedupes by the same key,
        (sender, message id). Two senders' messages with the same id are two messages.

        Args:
            message: the message, of this store's session, whose (sender, id) is not stored.
            now_ms: the local time of arrival, in milliseconds. If it is earlier than a
                previous arrival (the clock went back), the latest one counts instead.

        Returns:
            The keys of the messages evicted to make room, oldest first (empty unless full).

        Raises:
            ValueError: the message belongs to another session, or a message of the same
                sender with the same id is already stored (local misuse).
        """
        if message.session_id != self._session_id:
            raise ValueError("this message belongs to another session")
        key = (message.sender, message.message_id)
        if key in self._entries:
            raise ValueError("a message of this sender with this id is already stored")
        evicted = self._entries.add(key, message, now_ms)
        if not evicted:
            return []
        statuses = self._statuses
        for old, _ in evicted:
            statuses.pop(old, None)
        return [old for old, _ in evicted]

    def add_new(self, message: ChatMessage, now_ms: int) -> bool:
        """:meth:`add` a message unless its (sender, id) is stored: whether it was added.

        Raises:
            ValueError: the message belongs to another session (local misuse).
        """
        if message.session_id != self._session_id:
            raise ValueError("this message belongs to another session")
        key = (message.sender, message.message_id)
        entries = self._entries
        if key in entries:
            return False
        evicted = entries.add(key, message, now_ms)
        if evicted:
            statuses = self._statuses
            for old, _ in evicted:
                statuses.pop(old, None)
        return True

    def _current(self, key: MessageKey, message: ChatMessage) -> ChatMessage:
        """The stored ``message`` with its latest status (rebuilt once, then kept)."""
        status = self._statuses.pop(key, None)
        if status is None:
            return message
        message = message.with_status(status)
        self._entries.replace(key, message)
        return message

    def advance_status(self, sender: bytes, message_id: bytes, status: DeliveryStatus) -> bool:
        """Apply a status update like :meth:`update_status`, without building the message.

        Returns:
            Whether the stored message's status changed.
        """
        key = (sender, message_id)
        message = self._entries.get(key)
        if message is None:
            return False
        new_status = advance(self._statuses.get(key, message.status), status)
        if new_status is None:
            return False
        self._statuses[key] = new_status
        return True

    def update_status(
        self, sender: bytes, message_id: bytes, status: DeliveryStatus
    ) -> ChatMessage | None:
        """Apply a status update (an Ack, a receipt, a failure) to a stored message.

        The message keeps its place in the arrival order and its time of arrival.

        Args:
            sender: the message's sender (our own address for a message we sent).
            message_id: the message's id; it may be unknown (a late or forged receipt).
            status: the reported status.

        Returns:
            The updated message if its status changed, ``None`` if it is not stored or the
            transition table ignores the update (a duplicate or a step backwards).
        """
        if not self.advance_status(sender, message_id, status):
            return None
        return self.get(sender, message_id)

    def retry(self, sender: bytes, message_id: bytes) -> ChatMessage | None:
        """A FAILED message is being sent again: back to PENDING, in its place.

        The one step back the transition table (:mod:`quicko.messaging.status`) does not make
        by itself: only the user's retry of a failed message takes it.

        Returns:
            The updated message, or ``None`` if it is not stored or not FAILED.
        """
        message = self.get(sender, message_id)
        if message is None or message.status is not DeliveryStatus.FAILED:
            return None
        key = (sender, message_id)
        updated = message.with_status(DeliveryStatus.PENDING)
        self._entries.replace(key, updated)
        return updated

    def get(self, sender: bytes, message_id: bytes) -> ChatMessage | None:
        """The stored message of ``sender`` with this id, or ``None``."""
        key = (sender, message_id)
        message = self._entries.get(key)
        return None if message is None else self._current(key, message)

    def messages(self) -> list[ChatMessage]:
        """Every stored message, in arrival order (oldest first)."""
        if not self._statuses:
            return [message for _, message in self._entries.items()]
        return [self._current(key, message) for key, message in self._entries.items()]

    def purge_expired(self, now_ms: int) -> list[MessageKey]:
        """Remove every message whose time to live has passed at ``now_ms``.

        Returns:
            The keys of the removed messages, oldest first.
        """
        expired = self._entries.expire(now_ms)
        for key in expired:
            self._statuses.pop(key, None)
        return expired

    def next_deadline(self) -> int | None:
        """When :meth:`purge_expired` next has work (ms), or ``None`` if the store is empty."""
        return self._entries.next_deadline()

    def wipe(self) -> None:
        """Drop every message and every reference to them (the session is being destroyed)."""
        self._entries.clear()
        self._statuses.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        """Whether a (sender, message id) pair is stored."""
        return key in self._entries

    def __iter__(self) -> Iterator[ChatMessage]:
        """Iterate over a snapshot of the stored messages, in arrival order."""
        return iter(self.messages())

    def __repr__(self) -> str:
        return (
            f"EphemeralStore(session={short_id(self._session_id)}, "
            f"{len(self._entries)}/{self.capacity}, ttl_ms={self.ttl_ms})"
        )
