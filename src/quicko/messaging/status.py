"""Delivery status of a message and the one table of its transitions (DESIGN.md §5).

An outgoing message moves forward only::

    PENDING ──relay Ack──► SENT ──RECEIPT 3──► DELIVERED ──RECEIPT 4──► READ
       │                     │
       └─────────────────────┴──► FAILED   (Ack EXPIRED after retries, Error, queue overflow,
                                             expiry)

A receipt may overtake the relay's Ack, and a read receipt the delivered one, so a message may
also skip ahead. The whole table (``→`` = the message takes the new status, ``·`` = ignored)::

    current/new    PENDING      SENT    DELIVERED     READ      FAILED
    PENDING           ·          →          →          →          →
    SENT              ·          ·          →          →          →
    DELIVERED         ·          ·          ·          →          ·
    READ              ·          ·          ·          ·          ·  (final)
    FAILED            ·          ·          ·          ·          ·  (final)

Acks and receipts travel over the network and may arrive twice, late or out of order (a
retransmitted frame is acknowledged again; a read receipt may overtake the delivered one).
So every other update — the same status again, a step backwards, anything after a final
status — is *ignored*, not an error: :func:`advance` returns ``None`` for it. The complete
table :data:`STATUS_TRANSITIONS` classifies all 25 (current, new) pairs; nothing else decides.

The numeric values match the status codes of the end-to-end RECEIPT envelope
(docs/protocol.md §9: 3 delivered, 4 read), so :func:`receipt_status` is a lookup.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum, IntEnum
from types import MappingProxyType
from typing import Final

from quicko.errors import MalformedFrameError

__all__ = [
    "ALLOWED_TRANSITIONS",
    "FINAL_STATUSES",
    "RECEIPT_STATUSES",
    "STATUS_TRANSITIONS",
    "DeliveryStatus",
    "StatusUpdate",
    "advance",
    "receipt_status",
]


class DeliveryStatus(IntEnum):
    """Where an outgoing message is on its way to the recipient (DESIGN.md §5).

    Incoming messages use DELIVERED (decrypted here) and READ (shown to the user).
    """

    #: Queued locally; the relay has not acknowledged it yet.
    PENDING = 0
    #: The relay accepted it (Ack ACCEPTED or BUFFERED).
    SENT = 1
    #: The recipient decrypted it (encrypted RECEIPT with status 3).
    DELIVERED = 3
    #: The recipient showed it (encrypted RECEIPT with status 4).
    READ = 4
    #: It will not arrive: expired, refused, dropped from a full queue.
    FAILED = 5


class StatusUpdate(Enum):
    """What :func:`advance` does with one (current, new) pair."""

    #: The step is allowed: the message takes the new status.
    APPLY = "apply"
    #: A duplicate, a step backwards or an update after a final status: nothing changes.
    IGNORE = "ignore"


_PENDING: Final = DeliveryStatus.PENDING
_SENT: Final = DeliveryStatus.SENT
_DELIVERED: Final = DeliveryStatus.DELIVERED
_READ: Final = DeliveryStatus.READ
_FAILED: Final = DeliveryStatus.FAILED

ALLOWED_TRANSITIONS: Final[frozenset[tuple[DeliveryStatus, DeliveryStatus]]] = frozenset(
    {
        (_PENDING, _SENT),
        (_PENDING, _FAILED),
        # A receipt may overtake the relay's Ack: the recipient has it, so it was sent.
        (_PENDING, _DELIVERED),
        (_PENDING, _READ),
        (_SENT, _DELIVERED),
        # A read receipt may overtake the delivered one.
        (_SENT, _READ),
        (_SENT, _FAILED),
        (_DELIVERED, _READ),
    }
)
"""The allowed (current, new) steps; every other pair is ignored."""

STATUS_TRANSITIONS: Final[Mapping[tuple[DeliveryStatus, DeliveryStatus], StatusUpdate]] = (
    MappingProxyType(
        {
            (current, new): (
                StatusUpdate.APPLY if (current, new) in ALLOWED_TRANSITIONS else StatusUpdate.IGNORE
            )
            for current in DeliveryStatus
            for new in DeliveryStatus
        }
    )
)
"""The complete table: every (current, new) pair of statuses and what an update does."""

FINAL_STATUSES: Final[frozenset[DeliveryStatus]] = frozenset(
    status
    for status in DeliveryStatus
    if all(STATUS_TRANSITIONS[status, new] is StatusUpdate.IGNORE for new in DeliveryStatus)
)
"""Statuses no update leaves (READ and FAILED), derived from the table."""

RECEIPT_STATUSES: Final[frozenset[DeliveryStatus]] = frozenset({_DELIVERED, _READ})
"""The statuses an end-to-end RECEIPT envelope may carry."""

# advance() as one lookup: (current, new) -> the new status, or None when ignored.
_ADVANCED: Final[Mapping[tuple[DeliveryStatus, DeliveryStatus], DeliveryStatus | None]] = (
    MappingProxyType(
        {
            pair: (pair[1] if update is StatusUpdate.APPLY else None)
            for pair, update in STATUS_TRANSITIONS.items()
        }
    )
)

_RECEIPT_BY_CODE: Final[Mapping[int, DeliveryStatus]] = MappingProxyType(
    {int(status): status for status in RECEIPT_STATUSES}
)


def advance(current: DeliveryStatus, new: DeliveryStatus) -> DeliveryStatus | None:
    """Apply a status update to a message's current status.

    Args:
        current: the message's status now.
        new: the status an Ack, a receipt or a local decision reports.

    Returns:
        ``new`` when the step is allowed, ``None`` when the update changes nothing
        (a duplicate, a step backwards, or an update after READ or FAILED).

    Raises:
        ValueError: ``current`` or ``new`` is not a :class:`DeliveryStatus` (local misuse).
    """
    # The table decides (STATUS_TRANSITIONS, precomputed into _ADVANCED: this runs on every
    # Ack and receipt).
    pair = (current, new)
    if pair not in _ADVANCED:
        raise ValueError(f"not a delivery status pair: ({current!r}, {new!r})")
    return _ADVANCED[pair]


def receipt_status(code: object) -> DeliveryStatus:
    """The delivery status a RECEIPT envelope's status code stands for.

    Args:
        code: the status field of a RECEIPT, received from a peer.

    Returns:
        :attr:`DeliveryStatus.DELIVERED` for 3, :attr:`DeliveryStatus.READ` for 4.

    Raises:
        MalformedFrameError: any other value (the peer broke the protocol).
    """
    # ``type(...) is int`` refuses True, 3.0 and other values that merely compare equal.
    status = _RECEIPT_BY_CODE.get(code) if type(code) is int else None
    if status is None:
        raise MalformedFrameError("a receipt's status must be 3 (delivered) or 4 (read)")
    return status
