"""Frames held for away recipients, bounded and with a TTL (docs/protocol.md §4.4).

Each away recipient has a queue of frames (the original bytes, in arrival order), bounded per
recipient and in total. Every frame expires at the end of the buffer TTL; a MESSAGE that
expires tells its sender once, through the :class:`Receipt` its copies share. The recipient's
next HelloAck is followed by everything still held, in order.
"""

from __future__ import annotations

from collections import OrderedDict, deque

__all__ = ["BufferedFrame", "OfflineBuffer", "Receipt"]


class Receipt:
    """What to tell a MESSAGE's sender if a buffered copy expires (shared by its copies).

    Attributes:
        sender: the sender's address.
        expired_ack: the Ack frame (status EXPIRED) to send.
        pending: no copy has expired yet (the sender is told only once).
    """

    __slots__ = ("expired_ack", "pending", "sender")

    def __init__(self, sender: bytes, expired_ack: bytes) -> None:
        self.sender = sender
        self.expired_ack = expired_ack
        self.pending = True


class BufferedFrame:
    """One frame held for one recipient."""

    __slots__ = ("data", "expires_ms", "receipt", "recipient")

    def __init__(
        self, recipient: bytes, data: bytes, expires_ms: int, receipt: Receipt | None
    ) -> None:
        self.recipient = recipient
        self.data = data
        self.expires_ms = expires_ms
        self.receipt = receipt


class OfflineBuffer:
    """Per-recipient queues of frames, with a global expiry order (in memory).

    Every frame gets the same TTL, so arrival order is expiry order: the global ordered map's
    first item is always the next frame to expire, and it is also the first of its recipient's
    queue.
    """

    __slots__ = ("_order", "_per_recipient", "_queues", "_total")

    def __init__(self, per_recipient: int, total: int) -> None:
        self._per_recipient = per_recipient
        self._total = total
        self._queues: dict[bytes, deque[BufferedFrame]] = {}
        self._order: OrderedDict[BufferedFrame, None] = OrderedDict()

    def __len__(self) -> int:
        return len(self._order)

    def push(
        self, recipient: bytes, data: bytes, expires_ms: int, receipt: Receipt | None = None
    ) -> bool:
        """Hold *data* for *recipient* until *expires_ms*; return ``False`` when full."""
        queue = self._queues.get(recipient)
        if len(self._order) >= self._total or (
            queue is not None and len(queue) >= self._per_recipient
        ):
            return False
        if queue is None:
            queue = self._queues[recipient] = deque()
        frame = BufferedFrame(recipient, data, expires_ms, receipt)
        queue.append(frame)
        self._order[frame] = None
        return True

    def take(self, recipient: bytes) -> list[bytes]:
        """Remove and return every frame held for *recipient*, oldest first."""
        queue = self._queues.pop(recipient, None)
        if queue is None:
            return []
        for frame in queue:
            del self._order[frame]
        return [frame.data for frame in queue]

    def next_deadline(self) -> int | None:
        """When the first held frame expires."""
        first = next(iter(self._order), None)
        return None if first is None else first.expires_ms

    def pop_expired(self, now_ms: int) -> BufferedFrame | None:
        """Remove and return one frame whose TTL has passed, if any."""
        first = next(iter(self._order), None)
        if first is None or first.expires_ms > now_ms:
            return None
        del self._order[first]
        queue = self._queues[first.recipient]
        if queue[0] is first:
            queue.popleft()
        else:  # pragma: no cover - only if a clock went backwards between pushes
            queue.remove(first)
        if not queue:
            del self._queues[first.recipient]
        return first
