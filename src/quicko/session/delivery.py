"""Delivery bookkeeping of a session: outgoing statuses and inbound deduplication.

:class:`OutboundLedger` remembers, for every text message we sent, the exact Message frame for
each recipient (retransmitted unchanged after a reconnect until it is delivered) and each
recipient's :class:`DeliveryStatus`; the status a user sees is the aggregate (FAILED if any
recipient failed, else the lowest). :class:`InboundLog` remembers which (sender, message id)
pairs were already shown, so that a duplicate is re-receipted and never shown twice. Both are
bounded; nothing here decrypts or does I/O.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Final

from quicko.messaging.status import DeliveryStatus, advance
from quicko.protocol import Message

__all__ = ["MAX_SEEN_MESSAGES", "MAX_TRACKED_MESSAGES", "InboundLog", "OutboundLedger"]

MAX_TRACKED_MESSAGES: Final = 1000
"""Outgoing messages whose status is tracked; the oldest is dropped (and failed if undelivered)."""

MAX_SEEN_MESSAGES: Final = 10_000
"""Inbound (sender, message id) pairs remembered for deduplication."""


@dataclass(slots=True)
class _Outgoing:
    statuses: dict[bytes, DeliveryStatus]
    frames: dict[bytes, Message] = field(default_factory=dict)
    shown: DeliveryStatus = DeliveryStatus.PENDING

    def aggregate(self) -> DeliveryStatus:
        values = self.statuses.values()
        if DeliveryStatus.FAILED in values:
            return DeliveryStatus.FAILED
        return min(values)


class OutboundLedger:
    """Statuses and frames of our outgoing text messages, per recipient."""

    __slots__ = ("_messages",)

    def __init__(self) -> None:
        self._messages: OrderedDict[bytes, _Outgoing] = OrderedDict()

    def __contains__(self, message_id: bytes) -> bool:
        return message_id in self._messages

    def add(self, message_id: bytes, recipients: tuple[bytes, ...]) -> list[bytes]:
        """Track a new message to ``recipients``, all PENDING.

        Returns:
            The ids of messages dropped to make room that had not reached DELIVERED (the
            caller reports them FAILED).
        """
        self._messages[message_id] = _Outgoing(dict.fromkeys(recipients, DeliveryStatus.PENDING))
        dropped = []
        while len(self._messages) > MAX_TRACKED_MESSAGES:
            old_id, old = self._messages.popitem(last=False)
            if old.shown in (DeliveryStatus.PENDING, DeliveryStatus.SENT):
                dropped.append(old_id)
        return dropped

    def set_frame(self, message_id: bytes, recipient: bytes, frame: Message) -> None:
        """Remember the exact frame sent to ``recipient`` (for retransmission)."""
        record = self._messages.get(message_id)
        if record is not None and recipient in record.statuses:
            record.frames[recipient] = frame

    def update(
        self, message_id: bytes, recipient: bytes | None, status: DeliveryStatus
    ) -> DeliveryStatus | None:
        """Move one recipient's status (every recipient's for ``None``) forward.

        Returns:
            The new aggregate status if it changed, else ``None``.
        """
        record = self._messages.get(message_id)
        if record is None:
            return None
        targets = list(record.statuses) if recipient is None else [recipient]
        for target in targets:
            old = record.statuses.get(target)
            new = None if old is None else advance(old, status)
            if new is not None:
                record.statuses[target] = new
        now = record.aggregate()
        if now == record.shown:
            return None
        record.shown = now
        return now

    def status(self, message_id: bytes) -> DeliveryStatus | None:
        """The aggregate status of a tracked message, or ``None`` if unknown."""
        record = self._messages.get(message_id)
        return None if record is None else record.shown

    def undelivered(self) -> list[Message]:
        """Every remembered frame whose recipient has not confirmed delivery (nor failed)."""
        frames = []
        for record in self._messages.values():
            for recipient, frame in record.frames.items():
                if record.statuses[recipient] in (DeliveryStatus.PENDING, DeliveryStatus.SENT):
                    frames.append(frame)
        return frames

    def forget_recipient(self, recipient: bytes) -> list[tuple[bytes, DeliveryStatus]]:
        """A recipient left: fail what it has not received; return changed aggregates."""
        changed = []
        for message_id in list(self._messages):
            new = self.update(message_id, recipient, DeliveryStatus.FAILED)
            if new is not None:
                changed.append((message_id, new))
        return changed


class InboundLog:
    """Which inbound messages were shown, and what receipt each last earned."""

    __slots__ = ("_seen", "_text_senders")

    def __init__(self) -> None:
        self._seen: OrderedDict[tuple[bytes, bytes], DeliveryStatus | None] = OrderedDict()
        self._text_senders: dict[bytes, bytes] = {}

    def __contains__(self, key: tuple[bytes, bytes]) -> bool:
        return key in self._seen

    def add(self, sender: bytes, message_id: bytes, receipt: DeliveryStatus | None) -> None:
        """Remember a processed message; ``receipt`` is DELIVERED for texts, ``None`` else."""
        self._seen[(sender, message_id)] = receipt
        if receipt is not None:
            self._text_senders[message_id] = sender
        while len(self._seen) > MAX_SEEN_MESSAGES:
            (_, old_id), _ = self._seen.popitem(last=False)
            self._text_senders.pop(old_id, None)

    def receipt(self, sender: bytes, message_id: bytes) -> DeliveryStatus | None:
        """The receipt a duplicate of this message earns (``None``: none, or unknown)."""
        return self._seen.get((sender, message_id))

    def mark_read(self, message_id: bytes) -> bytes | None:
        """Record that a shown text was read; return its sender if it was a known unread text."""
        sender = self._text_senders.get(message_id)
        if sender is None or self._seen.get((sender, message_id)) != DeliveryStatus.DELIVERED:
            return None
        self._seen[(sender, message_id)] = DeliveryStatus.READ
        return sender
