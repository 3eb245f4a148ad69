"""Message model, delivery status and the outbound queue (sans-I/O).

- :mod:`quicko.messaging.status`: :class:`DeliveryStatus` and the one table of its transitions
  (:func:`advance`; duplicates and steps backwards are ignored).
- :mod:`quicko.messaging.message`: :class:`ChatMessage`, immutable, whose ``repr()`` never shows
  the text; :func:`new_message_id`.
- :mod:`quicko.messaging.queue`: :class:`OutboundQueue` (offline ring buffer, 500),
  :class:`ExpiringRing` (bounded in count and age; under the message store too) and
  :class:`UnackedTracker` (sent but not delivered, for retransmission, with a TTL). None drops
  a message without returning it, so the caller reports it FAILED.

Nothing here does I/O or reads the clock: time is a ``now_ms`` argument, randomness ``rng``.
"""

from __future__ import annotations

from quicko.messaging.message import ChatMessage, new_message_id, short_id
from quicko.messaging.queue import (
    DEFAULT_OUTBOUND_CAPACITY,
    DEFAULT_UNACKED_CAPACITY,
    DEFAULT_UNACKED_TTL_MS,
    ExpiringRing,
    OutboundQueue,
    UnackedTracker,
)
from quicko.messaging.status import (
    ALLOWED_TRANSITIONS,
    FINAL_STATUSES,
    RECEIPT_STATUSES,
    STATUS_TRANSITIONS,
    DeliveryStatus,
    StatusUpdate,
    advance,
    receipt_status,
)

__all__ = [
    "ALLOWED_TRANSITIONS",
    "DEFAULT_OUTBOUND_CAPACITY",
    "DEFAULT_UNACKED_CAPACITY",
    "DEFAULT_UNACKED_TTL_MS",
    "FINAL_STATUSES",
    "RECEIPT_STATUSES",
    "STATUS_TRANSITIONS",
    "ChatMessage",
    "DeliveryStatus",
    "ExpiringRing",
    "OutboundQueue",
    "StatusUpdate",
    "UnackedTracker",
    "advance",
    "new_message_id",
    "receipt_status",
    "short_id",
]
