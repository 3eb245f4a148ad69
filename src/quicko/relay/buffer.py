"""Frames held for away recipients, bounded and with a TTL (docs/protocol.md §4.4).

Each away recipient has a queue of frames (the original bytes, in arrival order), bounded in
frames per recipient and in total, and in bytes per recipient, per sender and in total (issue 9:
a frame may be large, so a bound in frames alone allowed gigabytes). Every frame expires at the
end of the buffer TTL; a MESSAGE that expires tells its sender once, through the
:class:`Receipt` its copies share. The recipient's next HelloAck is followed by everything
still held, in order.

Frames a connection was sent and never acknowledged (hop-by-hop delivery, issue 10) come back
here when it dies or is replaced, *before* whatever the buffer already holds for that address
(:meth:`OfflineBuffer.push_front`): they were sent first, so they are re-delivered first.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Sequence
from typing import Final

__all__ = ["FRAME_OVERHEAD", "BufferedFrame", "OfflineBuffer", "Receipt"]

FRAME_OVERHEAD: Final = 256
"""Bytes each held frame is counted for beyond its own length: its :class:`BufferedFrame`
(about 90 bytes), its node in the expiry map (about 100) and its queue slot, rounded up. So a
flood of tiny frames is bounded by the byte budgets too, not only by the frame counts."""


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
    """One frame held for one recipient.

    Attributes:
        recipient: the away address it is held for.
        data: the frame, as received.
        expires_ms: when it expires.
        receipt: for a MESSAGE, what to tell its sender if it expires.
        sender: the address that sent it (its bytes count against that sender's budget).
        cost: the bytes it is counted as: ``len(data)`` plus :data:`FRAME_OVERHEAD`.
    """

    __slots__ = ("cost", "data", "expires_ms", "receipt", "recipient", "sender")

    def __init__(
        self,
        recipient: bytes,
        data: bytes,
        expires_ms: int,
        receipt: Receipt | None,
        sender: bytes = b"",
    ) -> None:
        self.recipient = recipient
        self.data = data
        self.expires_ms = expires_ms
        self.receipt = receipt
        self.sender = sender
        self.cost = len(data) + FRAME_OVERHEAD


class OfflineBuffer:
    """Per-recipient queues of frames, with a global expiry order (in memory).

    Every frame gets the same TTL, so arrival order is expiry order: the global ordered map's
    first item is always the next frame to expire, and it is also the first of its recipient's
    queue.

    Bounds, each checked before anything is held (a push over any of them holds nothing):
    frames per recipient and in total (cheap counts), and bytes per recipient, per sender
    (across all its recipients) and in total. A frame fanned out to several away recipients is
    counted once per copy, although the copies share one ``bytes`` object: the budgets then
    bound the worst case, whatever the fan-out.
    """

    __slots__ = (
        "_bytes",
        "_bytes_per_recipient",
        "_bytes_per_sender",
        "_bytes_total",
        "_order",
        "_per_recipient",
        "_queues",
        "_recipient_bytes",
        "_sender_bytes",
        "_total",
    )

    def __init__(
        self,
        per_recipient: int,
        total: int,
        *,
        bytes_per_recipient: int = 1 << 62,
        bytes_per_sender: int = 1 << 62,
        bytes_total: int = 1 << 62,
    ) -> None:
        """Set the caps: frames per recipient and in total; bytes per recipient, sender, total."""
        self._per_recipient = per_recipient
        self._total = total
        self._bytes_per_recipient = bytes_per_recipient
        self._bytes_per_sender = bytes_per_sender
        self._bytes_total = bytes_total
        self._queues: dict[bytes, deque[BufferedFrame]] = {}
        self._order: OrderedDict[BufferedFrame, None] = OrderedDict()
        self._bytes = 0
        self._recipient_bytes: dict[bytes, int] = {}
        self._sender_bytes: dict[bytes, int] = {}

    def __len__(self) -> int:
        return len(self._order)

    @property
    def size_bytes(self) -> int:
        """Bytes held for all recipients together, as counted against the budgets."""
        return self._bytes

    def sender_bytes(self, sender: bytes) -> int:
        """Bytes held from *sender*, across all its recipients."""
        return self._sender_bytes.get(sender, 0)

    def push(
        self,
        recipient: bytes,
        data: bytes,
        expires_ms: int,
        receipt: Receipt | None = None,
        sender: bytes = b"",
    ) -> bool:
        """Hold *data* from *sender* for *recipient* until *expires_ms*; ``False`` when full."""
        cost = len(data) + FRAME_OVERHEAD
        queue = self._queues.get(recipient)
        if (
            len(self._order) >= self._total
            or self._bytes + cost > self._bytes_total
            or self._sender_bytes.get(sender, 0) + cost > self._bytes_per_sender
            or self._recipient_bytes.get(recipient, 0) + cost > self._bytes_per_recipient
            or (queue is not None and len(queue) >= self._per_recipient)
        ):
            return False
        if queue is None:
            queue = self._queues[recipient] = deque()
        frame = BufferedFrame(recipient, data, expires_ms, receipt, sender)
        queue.append(frame)
        self._order[frame] = None
        self._bytes += cost
        self._recipient_bytes[recipient] = self._recipient_bytes.get(recipient, 0) + cost
        self._sender_bytes[sender] = self._sender_bytes.get(sender, 0) + cost
        return True

    def push_front(
        self,
        recipient: bytes,
        frames: Sequence[tuple[bytes, Receipt | None, bytes]],
        expires_ms: int,
    ) -> list[tuple[bytes, Receipt | None, bytes]]:
        """Hold *frames* ``(data, receipt, sender)``, in order, before *recipient*'s queue.

        Each frame is checked against every cap, in order, as :meth:`push` checks one; the
        frames that fit are held until *expires_ms*, ahead of the frames already held for
        *recipient*, and those that do not are returned (nothing is evicted).
        """
        kept: list[BufferedFrame] = []
        refused: list[tuple[bytes, Receipt | None, bytes]] = []
        queue = self._queues.get(recipient)
        count = len(queue) if queue is not None else 0
        held = self._recipient_bytes.get(recipient, 0)
        for data, receipt, sender in frames:
            cost = len(data) + FRAME_OVERHEAD
            if (
                len(self._order) >= self._total
                or self._bytes + cost > self._bytes_total
                or self._sender_bytes.get(sender, 0) + cost > self._bytes_per_sender
                or held + cost > self._bytes_per_recipient
                or count >= self._per_recipient
            ):
                refused.append((data, receipt, sender))
                continue
            frame = BufferedFrame(recipient, data, expires_ms, receipt, sender)
            kept.append(frame)
            self._order[frame] = None
            self._bytes += cost
            self._sender_bytes[sender] = self._sender_bytes.get(sender, 0) + cost
            held += cost
            count += 1
        if kept:
            if queue is None:
                queue = self._queues[recipient] = deque()
            queue.extendleft(reversed(kept))
            self._recipient_bytes[recipient] = held
        return refused

    def take(self, recipient: bytes) -> list[BufferedFrame]:
        """Remove and return every frame held for *recipient*, oldest first."""
        queue = self._queues.pop(recipient, None)
        if queue is None:
            return []
        self._recipient_bytes.pop(recipient, None)
        for frame in queue:
            del self._order[frame]
            self._release(frame)
        return list(queue)

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
        recipient = first.recipient
        queue = self._queues[recipient]
        if queue[0] is first:
            queue.popleft()
        else:  # frames re-queued in front by push_front expire after the ones behind them
            queue.remove(first)
        if queue:
            self._recipient_bytes[recipient] -= first.cost
        else:
            del self._queues[recipient]
            del self._recipient_bytes[recipient]
        self._release(first)
        return first

    def _release(self, frame: BufferedFrame) -> None:
        """Stop counting *frame* in the total and its sender's bytes."""
        self._bytes -= frame.cost
        left = self._sender_bytes[frame.sender] - frame.cost
        if left:
            self._sender_bytes[frame.sender] = left
        else:
            del self._sender_bytes[frame.sender]
