"""Delivery bookkeeping: aggregated statuses, retransmission frames, deduplication."""

from __future__ import annotations

from quicko.messaging.status import DeliveryStatus
from quicko.protocol import Message
from quicko.session.delivery import (
    MAX_SEEN_MESSAGES,
    MAX_TRACKED_MESSAGES,
    InboundLog,
    OutboundLedger,
)

A, B = b"a" * 16, b"b" * 16
SID = b"s" * 16


def frame(message_id: bytes, recipient: bytes) -> Message:
    return Message(SID, b"m" * 16, recipient, message_id, 0, b"body")


def test_aggregate_is_the_lowest_and_failed_wins() -> None:
    ledger = OutboundLedger()
    mid = b"1" * 16
    assert ledger.add(mid, (A, B)) == []
    assert ledger.status(mid) is DeliveryStatus.PENDING
    assert ledger.update(mid, A, DeliveryStatus.SENT) is None
    assert ledger.update(mid, B, DeliveryStatus.SENT) is DeliveryStatus.SENT
    assert ledger.update(mid, A, DeliveryStatus.READ) is None
    assert ledger.update(mid, B, DeliveryStatus.DELIVERED) is DeliveryStatus.DELIVERED
    assert ledger.update(mid, B, DeliveryStatus.SENT) is None  # never backwards
    assert ledger.update(mid, B, DeliveryStatus.READ) is DeliveryStatus.READ
    other = b"2" * 16
    ledger.add(other, (A, B))
    assert ledger.update(other, None, DeliveryStatus.SENT) is DeliveryStatus.SENT
    assert ledger.update(other, A, DeliveryStatus.FAILED) is DeliveryStatus.FAILED
    assert ledger.update(b"?" * 16, A, DeliveryStatus.SENT) is None
    assert ledger.status(b"?" * 16) is None


def test_undelivered_frames_and_a_leaving_recipient() -> None:
    ledger = OutboundLedger()
    mid = b"1" * 16
    ledger.add(mid, (A, B))
    ledger.set_frame(mid, A, frame(mid, A))
    ledger.set_frame(mid, B, frame(mid, B))
    ledger.set_frame(mid, b"c" * 16, frame(mid, b"c" * 16))  # not a recipient: ignored
    ledger.set_frame(b"?" * 16, A, frame(mid, A))
    assert ledger.undelivered() == [frame(mid, A), frame(mid, B)]
    ledger.update(mid, A, DeliveryStatus.DELIVERED)
    assert ledger.undelivered() == [frame(mid, B)]
    assert ledger.forget_recipient(B) == [(mid, DeliveryStatus.FAILED)]
    assert ledger.undelivered() == []


def test_ledger_is_bounded_and_reports_what_it_drops() -> None:
    ledger = OutboundLedger()
    ids = [n.to_bytes(16, "big") for n in range(MAX_TRACKED_MESSAGES + 2)]
    ledger.add(ids[0], (A,))
    ledger.update(ids[0], A, DeliveryStatus.DELIVERED)
    dropped = [d for mid in ids[1:] for d in ledger.add(mid, (A,))]
    assert dropped == [ids[1]]  # ids[0] was delivered: forgotten silently
    assert ids[0] not in ledger and ids[1] not in ledger and ids[2] in ledger


def test_inbound_log_dedupes_and_tracks_reads() -> None:
    log = InboundLog()
    mid = b"1" * 16
    log.add(A, mid, DeliveryStatus.DELIVERED)
    log.add(A, b"2" * 16, None)
    assert (A, mid) in log and (B, mid) not in log
    assert log.receipt(A, mid) is DeliveryStatus.DELIVERED
    assert log.receipt(A, b"2" * 16) is None
    assert log.mark_read(mid) == A
    assert log.mark_read(mid) is None
    assert log.mark_read(b"2" * 16) is None
    assert log.receipt(A, mid) is DeliveryStatus.READ


def test_inbound_log_is_bounded() -> None:
    log = InboundLog()
    for n in range(MAX_SEEN_MESSAGES + 1):
        log.add(A, n.to_bytes(16, "big"), DeliveryStatus.DELIVERED)
    assert (A, (0).to_bytes(16, "big")) not in log
    assert log.mark_read((0).to_bytes(16, "big")) is None
    assert (A, MAX_SEEN_MESSAGES.to_bytes(16, "big")) in log
