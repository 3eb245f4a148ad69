"""Delivery bookkeeping of a session: outgoing statuses, retransmission, inbound deduplication.

:class:`OutboundLedger` is the one owner of retransmission, of the bound on undelivered
messages and of FAILED (DESIGN.md §5). It knows, for every text message we sent, each
recipient's :class:`DeliveryStatus` and the exact Message frame sent to it; the status a user
sees is the aggregate (FAILED if any recipient failed, else the lowest). A message stays
*outstanding* (in the :class:`~quicko.messaging.queue.UnackedTracker`) while some recipient has
neither confirmed delivery nor failed, and its frames to those recipients are retransmitted
unchanged:

- on a timer, per message, with exponential back-off (:data:`RETRY_INITIAL_MS` doubling up to
  :data:`RETRY_MAXIMUM_MS`), to the recipients the relay shows present (:meth:`due`);
- after each reconnect and each time the relay shows a recipient back (the session's resend).

The tracker is bounded (:data:`MAX_TRACKED_MESSAGES`) and has a time to live (the message TTL,
one hour): a message it evicts to make room, or that is not delivered within the TTL, is
*abandoned*: its outstanding recipients become FAILED. Nothing else fails a text but its
recipient leaving for good (its own LEAVE) and a relay refusal that can never succeed. A
message whose recipients have all delivered, read or failed is *settled*: its frames are
dropped and its statuses kept (the last :data:`MAX_SETTLED_MESSAGES`), independently of the
message store, so that a status is always true and a later read receipt still reported.

:class:`ReceiptTracker` keeps the receipts we sent until the relay acknowledged them (and, when
the relay's copy expired, until the peer is back), so that a read receipt lost on a dead link is
sent again (receipts are repeated until acknowledged).

:class:`InboundLog` remembers which (sender, message id) pairs were already processed, so that a
duplicate is re-receipted (or dropped) and never shown twice; a text's DELIVERED receipt can be
held until the application confirms it stored the text (:meth:`InboundLog.stored`). Both are
bounded; nothing here decrypts, does I/O or reads the clock.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, TypeAlias

from quicko.messaging.queue import DEFAULT_UNACKED_CAPACITY, DEFAULT_UNACKED_TTL_MS, UnackedTracker
from quicko.messaging.status import RECEIPT_STATUSES, DeliveryStatus, advance
from quicko.protocol import Message

__all__ = [
    "DEFAULT_MESSAGE_TTL_MS",
    "FAILED_PEER_LEFT",
    "FAILED_TOO_MANY",
    "MAX_SEEN_MESSAGES",
    "MAX_SETTLED_MESSAGES",
    "MAX_TRACKED_MESSAGES",
    "MAX_TRACKED_RECEIPTS",
    "RETRY_INITIAL_MS",
    "RETRY_MAXIMUM_MS",
    "Abandoned",
    "InboundLog",
    "OutboundLedger",
    "ReceiptTracker",
    "failed_expired",
    "failed_refused",
]

MAX_TRACKED_MESSAGES: Final = DEFAULT_UNACKED_CAPACITY
"""Outstanding messages per session, retransmitted until delivered (one more abandons the
oldest: FAILED, "cap reached")."""

MAX_SETTLED_MESSAGES: Final = 10_000
"""Settled messages whose statuses are remembered (frames dropped), beyond the message store."""

RETRY_INITIAL_MS: Final = 5_000
"""A text not delivered is sent again this long after it was sent (then the interval doubles)."""

RETRY_MAXIMUM_MS: Final = 60_000
"""The longest interval between two retransmissions of one text."""

MAX_TRACKED_RECEIPTS: Final = 1_000
"""Receipts kept until the relay acknowledged them (the oldest beyond it is forgotten)."""

DEFAULT_MESSAGE_TTL_MS: Final = DEFAULT_UNACKED_TTL_MS
"""How long a message may stay undelivered before it is abandoned (FAILED): one hour."""

FAILED_PEER_LEFT: Final = "the peer left"
"""Why a text FAILED: its recipient left the session for good (its own LEAVE)."""
FAILED_TOO_MANY: Final = "too many messages waiting"
"""Why a text FAILED: more undelivered texts than the session keeps (the oldest gives way)."""


def failed_expired(ttl_ms: int) -> str:
    """Why a text FAILED: not delivered within the message TTL (``"… within 3,600 s"``)."""
    return f"not delivered within {ttl_ms // 1000:,} s"


def failed_refused(code_name: str) -> str:
    """Why a text FAILED: the relay refused it for good (``"the relay refused it: TOO_LARGE"``)."""
    return f"the relay refused it: {code_name}"


MAX_SEEN_MESSAGES: Final = 10_000
"""Inbound (sender, message id) pairs remembered for deduplication."""

_OUTSTANDING: Final = frozenset({DeliveryStatus.PENDING, DeliveryStatus.SENT})

Abandoned: TypeAlias = tuple[bytes, DeliveryStatus | None]
"""A message given up (evicted or expired) and its new aggregate status if that changed."""


@dataclass(slots=True)
class _Outgoing:
    statuses: dict[bytes, DeliveryStatus]
    retry_at: int
    frames: dict[bytes, Message] = field(default_factory=dict)
    shown: DeliveryStatus = DeliveryStatus.PENDING
    interval: int = RETRY_INITIAL_MS

    def aggregate(self) -> DeliveryStatus:
        values = self.statuses.values()
        if DeliveryStatus.FAILED in values:
            return DeliveryStatus.FAILED
        return min(values)

    def outstanding(self) -> list[bytes]:
        return [who for who, status in self.statuses.items() if status in _OUTSTANDING]

    def any_outstanding(self) -> bool:
        return not _OUTSTANDING.isdisjoint(self.statuses.values())

    def apply(self, recipient: bytes | None, status: DeliveryStatus) -> DeliveryStatus | None:
        """Move one recipient (every one for ``None``) forward; the new aggregate if changed."""
        statuses = self.statuses
        moved = False
        # Only values change in the loop (no key is added), so the dict itself is iterated.
        for target in statuses if recipient is None else (recipient,):
            old = statuses.get(target)
            new = None if old is None else advance(old, status)
            if new is not None:
                statuses[target] = new
                moved = True
        if not moved:
            return None  # ``shown`` is the aggregate after every apply: it stays
        now = self.aggregate() if len(statuses) > 1 else status
        if now == self.shown:
            return None
        self.shown = now
        return now


class OutboundLedger:
    """Statuses and frames of our outgoing text messages, per recipient.

    Args:
        capacity: outstanding messages tracked (and settled ones remembered); at least 1.
        ttl_ms: how long a message may stay outstanding, in milliseconds; at least 1.

    Raises:
        ValueError: ``capacity`` or ``ttl_ms`` is below 1.
    """

    __slots__ = ("_live", "_retry_floor", "_settled", "_unacked")

    def __init__(
        self, *, capacity: int = MAX_TRACKED_MESSAGES, ttl_ms: int = DEFAULT_MESSAGE_TTL_MS
    ) -> None:
        self._unacked: UnackedTracker[_Outgoing] = UnackedTracker(capacity=capacity, ttl_ms=ttl_ms)
        # The records the tracker holds, by id (the tracker has no lookup of its own).
        self._live: dict[bytes, _Outgoing] = {}
        self._settled: OrderedDict[bytes, _Outgoing] = OrderedDict()
        # No live record retries before this (a lower bound, exact after every due()): the
        # deadline is read after every frame, so it must not cost a scan of up to 1,000 records.
        # A settled record may leave it early: one timer call then finds nothing due.
        self._retry_floor: int | None = None

    def __contains__(self, message_id: bytes) -> bool:
        return message_id in self._live or message_id in self._settled

    @property
    def ttl_ms(self) -> int:
        """How long a message may stay outstanding, in milliseconds."""
        return self._unacked.ttl_ms

    def _record(self, message_id: bytes) -> _Outgoing | None:
        record = self._live.get(message_id)
        return record if record is not None else self._settled.get(message_id)

    def add(self, message_id: bytes, recipients: tuple[bytes, ...], now_ms: int) -> list[Abandoned]:
        """Track a new message to ``recipients``, all PENDING, from ``now_ms``.

        Returns:
            The messages abandoned to make room (the caller reports those whose aggregate
            changed, which is then FAILED).

        Raises:
            ValueError: ``message_id`` is already tracked (local misuse).
        """
        record = _Outgoing(
            dict.fromkeys(recipients, DeliveryStatus.PENDING), now_ms + RETRY_INITIAL_MS
        )
        evicted = self._unacked.track(message_id, record, now_ms)
        if not self._live:
            self._retry_floor = None  # whatever bound was left over from settled records
        self._live[message_id] = record
        self._lower_floor(record.retry_at)
        if not evicted:  # the common case: no comprehension to run
            return []
        return [self._abandon(old_id) for old_id, _ in evicted]

    def set_frame(self, message_id: bytes, recipient: bytes, frame: Message) -> None:
        """Remember the exact frame sent to ``recipient`` (for retransmission)."""
        record = self._live.get(message_id)  # just added: live (inlined _record)
        if record is None:
            record = self._settled.get(message_id)
        if record is not None and recipient in record.statuses:
            record.frames[recipient] = frame

    def update(
        self, message_id: bytes, recipient: bytes | None, status: DeliveryStatus
    ) -> DeliveryStatus | None:
        """Move one recipient's status (every recipient's for ``None``) forward.

        A message none of whose recipients is outstanding any more leaves the tracker.

        Returns:
            The new aggregate status if it changed, else ``None``.
        """
        record = self._live.get(message_id)  # _record, inlined: runs on every Ack and receipt
        if record is None:
            settled = self._settled.get(message_id)
            return None if settled is None else settled.apply(recipient, status)
        changed = record.apply(recipient, status)
        if _OUTSTANDING.isdisjoint(record.statuses.values()):  # not record.any_outstanding()
            self._unacked.remove(message_id)
            self._settle(message_id)
        return changed

    def expire(self, now_ms: int) -> list[Abandoned]:
        """Abandon every message still outstanding after its time to live, oldest first."""
        return [self._abandon(message_id) for message_id in self._unacked.expire(now_ms)]

    def next_deadline(self) -> int | None:
        """When :meth:`expire` or :meth:`due` next has something to do (ms), or ``None``."""
        expiry = self._unacked.next_deadline()
        retry = self._retry_floor if self._live else None
        if expiry is None or retry is None:
            return retry if expiry is None else expiry
        return min(expiry, retry)

    def _lower_floor(self, retry_at: int) -> None:
        floor = self._retry_floor
        if floor is None or retry_at < floor:
            self._retry_floor = retry_at

    def due(self, now_ms: int, reachable: Callable[[bytes], bool]) -> list[Message]:
        """The frames to retransmit now: those of every message whose retry time has come.

        Each such message is sent again to its outstanding recipients that are ``reachable``
        (the relay shows them present; the others get it when they are back), and its next
        retry is scheduled after twice the previous interval, at most :data:`RETRY_MAXIMUM_MS`.
        """
        frames: list[Message] = []
        floor: int | None = None
        for record in self._live.values():
            if record.retry_at <= now_ms:
                frames.extend(
                    record.frames[who]
                    for who in record.outstanding()
                    if who in record.frames and reachable(who)
                )
                record.retry_at = now_ms + record.interval
                record.interval = min(record.interval * 2, RETRY_MAXIMUM_MS)
            if floor is None or record.retry_at < floor:
                floor = record.retry_at
        self._retry_floor = floor
        return frames

    def retry(
        self, message_id: bytes, recipients: tuple[bytes, ...], now_ms: int
    ) -> list[Abandoned]:
        """Track a FAILED message again, under the same id, as new (PENDING to ``recipients``).

        Returns:
            As :meth:`add`.

        Raises:
            ValueError: the message is not known as FAILED (local misuse).
        """
        if self.status(message_id) is not DeliveryStatus.FAILED:
            raise ValueError("only a FAILED message is tracked again")
        if self._live.pop(message_id, None) is not None:
            self._unacked.remove(message_id)
        self._settled.pop(message_id, None)
        return self.add(message_id, recipients, now_ms)

    def restart_retries(self, now_ms: int) -> None:
        """Everything outstanding was just sent again (a reconnect): back-off from the start."""
        for record in self._live.values():
            record.retry_at = now_ms + RETRY_INITIAL_MS
            record.interval = RETRY_INITIAL_MS
        self._retry_floor = now_ms + RETRY_INITIAL_MS if self._live else None

    def status(self, message_id: bytes) -> DeliveryStatus | None:
        """The aggregate status of a known message, or ``None`` if unknown or forgotten."""
        record = self._record(message_id)
        return None if record is None else record.shown

    def is_failed(self, message_id: bytes, recipient: bytes) -> bool:
        """Whether a known message has failed for ``recipient`` (so is not to be sent to it)."""
        record = self._record(message_id)
        return record is not None and record.statuses.get(recipient) is DeliveryStatus.FAILED

    def undelivered(self) -> list[Message]:
        """Every remembered frame whose recipient is outstanding, oldest message first."""
        frames: list[Message] = []
        for _, record in self._unacked.pending():
            frames.extend(
                record.frames[who] for who in record.outstanding() if who in record.frames
            )
        return frames

    def forget_recipient(self, recipient: bytes) -> list[tuple[bytes, DeliveryStatus]]:
        """A recipient left: fail what it has not received; return changed aggregates."""
        changed = []
        for message_id in list(self._live):
            new = self.update(message_id, recipient, DeliveryStatus.FAILED)
            if new is not None:
                changed.append((message_id, new))
        return changed

    def _abandon(self, message_id: bytes) -> Abandoned:
        """The tracker let go of a message: its outstanding recipients FAIL; it settles."""
        # FAILED moves only PENDING and SENT recipients (messaging.status): the outstanding ones.
        changed = self._live[message_id].apply(None, DeliveryStatus.FAILED)
        self._settle(message_id)
        return message_id, changed

    def _settle(self, message_id: bytes) -> None:
        record = self._live.pop(message_id)
        record.frames.clear()  # nothing is sent again: only the statuses are kept
        self._settled[message_id] = record
        while len(self._settled) > MAX_SETTLED_MESSAGES:
            self._settled.popitem(last=False)


class InboundLog:
    """Which inbound messages were processed, and what receipt each earned, by (sender, id).

    A message id is chosen by its sender, so every key here is the pair (sender, message id):
    a member reusing another member's id names a different message (issue 8, finding 6). The
    receipt state of a pair is ``None`` (not a text: never receipted), ``PENDING`` (a text
    shown to the application but not yet confirmed stored: no receipt yet, see
    :meth:`stored`), ``DELIVERED`` or ``READ``.
    """

    __slots__ = ("_seen", "_texts")

    def __init__(self) -> None:
        self._seen: OrderedDict[tuple[bytes, bytes], DeliveryStatus | None] = OrderedDict()
        # message id -> the senders of the texts remembered with that id (usually one). A tuple
        # of bytes, not a list: the collector untracks it, so the 10,000 remembered texts are
        # not walked by every collection that reaches them (a list stays tracked).
        self._texts: dict[bytes, tuple[bytes, ...]] = {}

    def __contains__(self, key: tuple[bytes, bytes]) -> bool:
        return key in self._seen

    def add(self, sender: bytes, message_id: bytes, receipt: DeliveryStatus | None) -> None:
        """Remember a processed message with its receipt state (see the class docstring)."""
        self._seen[(sender, message_id)] = receipt
        if receipt is not None:
            senders = self._texts.get(message_id)
            if senders is None:
                self._texts[message_id] = (sender,)
            elif sender not in senders:
                self._texts[message_id] = (*senders, sender)
        while len(self._seen) > MAX_SEEN_MESSAGES:
            (old_sender, old_id), _ = self._seen.popitem(last=False)
            self._forget_text(old_sender, old_id)

    def _forget_text(self, sender: bytes, message_id: bytes) -> None:
        senders = self._texts.get(message_id)
        if senders is not None and sender in senders:
            rest = tuple(other for other in senders if other != sender)
            if rest:
                self._texts[message_id] = rest
            else:
                del self._texts[message_id]

    def receipt(self, sender: bytes, message_id: bytes) -> DeliveryStatus | None:
        """The receipt a duplicate of this message earns: DELIVERED, READ, or ``None`` (none)."""
        status = self._seen.get((sender, message_id))
        return status if status in RECEIPT_STATUSES else None

    def stored(self, sender: bytes, message_id: bytes) -> bool:
        """Record that a shown text was stored; ``True`` if its DELIVERED receipt is now due."""
        key = (sender, message_id)
        if self._seen.get(key) is not DeliveryStatus.PENDING:
            return False
        self._seen[key] = DeliveryStatus.DELIVERED
        return True

    def mark_read(self, message_id: bytes) -> list[bytes]:
        """Record that the delivered texts with this id were read; return their senders.

        Texts already read, not yet stored, or unknown are skipped. (Receipts name message ids
        only, so marking an id read marks every sender's text with that id: honest ids are
        random and never collide.)
        """
        senders = []
        for sender in self._texts.get(message_id, ()):
            key = (sender, message_id)
            if self._seen.get(key) is DeliveryStatus.DELIVERED:
                self._seen[key] = DeliveryStatus.READ
                senders.append(sender)
        return senders


@dataclass(slots=True)
class _Receipt:
    recipient: bytes
    frame: Message
    retry_at: int
    give_up_at: int
    interval: int = RETRY_INITIAL_MS
    expired: bool = False


class ReceiptTracker:
    """Receipts we sent, kept until the relay acknowledged them (Ack ACCEPTED or BUFFERED).

    A receipt not acknowledged is sent again on the same back-off as texts; one whose copy the
    relay dropped (Ack EXPIRED) waits until its recipient is back (:meth:`for_recipient`). At
    most :data:`MAX_TRACKED_RECEIPTS` are kept; the oldest beyond that is forgotten (a text's
    DELIVERED receipt is also repeated whenever its sender retransmits the text), and none is
    sent again once ``ttl_ms`` (a text's lifetime) has passed since it was first sent: its
    text's sender has given that text up by then.
    """

    __slots__ = ("_floor", "_items", "_ttl_ms")

    def __init__(self, ttl_ms: int = DEFAULT_MESSAGE_TTL_MS) -> None:
        self._ttl_ms = ttl_ms
        self._items: OrderedDict[bytes, _Receipt] = OrderedDict()
        # No kept receipt that is not expired retries before this (a lower bound, exact after
        # every due(); see OutboundLedger): no scan of up to 1,000 receipts per deadline read.
        self._floor: int | None = None

    def __contains__(self, message_id: bytes) -> bool:
        return message_id in self._items

    def __len__(self) -> int:
        return len(self._items)

    def add(self, frame: Message, now_ms: int) -> None:
        """Keep a receipt frame just sent (or held for its recipient)."""
        retry_at = now_ms + RETRY_INITIAL_MS
        if not self._items:
            self._floor = None  # whatever bound was left over from acknowledged receipts
        give_up_at = now_ms + self._ttl_ms
        self._items[frame.message_id] = _Receipt(frame.recipient, frame, retry_at, give_up_at)
        if self._floor is None or retry_at < self._floor:
            self._floor = retry_at
        while len(self._items) > MAX_TRACKED_RECEIPTS:
            self._items.popitem(last=False)

    def acknowledged(self, message_id: bytes) -> None:
        """The relay took the receipt (it keeps it until the recipient's connection has it)."""
        self._items.pop(message_id, None)

    def refused(self, message_id: bytes) -> None:
        """The relay refused the receipt for good (an Error that no retry can change): drop it."""
        self._items.pop(message_id, None)

    def expired(self, message_id: bytes) -> None:
        """The relay dropped its copy: send it again when the recipient is back."""
        item = self._items.get(message_id)
        if item is not None:
            item.expired = True
            self._floor = self._earliest()  # rare: keep the deadline exact

    def forget_recipient(self, recipient: bytes) -> None:
        """The recipient left for good: nothing more to send it."""
        for key in [k for k, item in self._items.items() if item.recipient == recipient]:
            del self._items[key]
        self._floor = self._earliest()

    def for_recipient(self, recipient: bytes | None) -> list[Message]:
        """Every kept receipt to ``recipient`` (to everyone for ``None``), to send again."""
        out = []
        for item in self._items.values():
            if recipient in (None, item.recipient):
                item.expired = False
                out.append(item.frame)
        self._floor = self._earliest()
        return out

    def due(self, now_ms: int, reachable: Callable[[bytes], bool]) -> list[Message]:
        """The receipts to send again now (see :meth:`OutboundLedger.due`)."""
        out = []
        for key in [k for k, item in self._items.items() if item.give_up_at <= now_ms]:
            del self._items[key]  # past a text's lifetime: its sender gave the text up
        for item in self._items.values():
            if item.retry_at > now_ms or item.expired:
                continue
            if reachable(item.recipient):
                out.append(item.frame)
            item.retry_at = now_ms + item.interval
            item.interval = min(item.interval * 2, RETRY_MAXIMUM_MS)
        self._floor = self._earliest()
        return out

    def _earliest(self) -> int | None:
        return min((i.retry_at for i in self._items.values() if not i.expired), default=None)

    def next_deadline(self) -> int | None:
        """When :meth:`due` next has something to do (ms), or ``None``.

        It may be early (a receipt acknowledged since): :meth:`due` then finds nothing due and
        the deadline is exact again.
        """
        return self._floor if self._items else None  # None also once every one expired
