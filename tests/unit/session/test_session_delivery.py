"""Delivery bookkeeping: aggregated statuses, retransmission over UnackedTracker, TTL, dedupe."""

from __future__ import annotations

import gc

import pytest

from quicko.client.compiled import is_compiled
from quicko.messaging.status import DeliveryStatus
from quicko.protocol import Message
from quicko.session import delivery
from quicko.session.delivery import (
    DEFAULT_MESSAGE_TTL_MS,
    MAX_SEEN_MESSAGES,
    MAX_TRACKED_MESSAGES,
    RETRY_INITIAL_MS,
    InboundLog,
    OutboundLedger,
    ReceiptTracker,
)

A, B = b"a" * 16, b"b" * 16
SID = b"s" * 16
T0 = 1_000


def frame(message_id: bytes, recipient: bytes) -> Message:
    return Message(SID, b"m" * 16, recipient, message_id, 0, b"body")


def test_aggregate_is_the_lowest_and_failed_wins() -> None:
    ledger = OutboundLedger()
    mid = b"1" * 16
    assert ledger.add(mid, (A, B), T0) == []
    assert ledger.status(mid) is DeliveryStatus.PENDING
    assert ledger.update(mid, A, DeliveryStatus.SENT) is None
    assert ledger.update(mid, B, DeliveryStatus.SENT) is DeliveryStatus.SENT
    assert ledger.update(mid, A, DeliveryStatus.READ) is None
    assert ledger.update(mid, B, DeliveryStatus.DELIVERED) is DeliveryStatus.DELIVERED
    assert ledger.update(mid, B, DeliveryStatus.SENT) is None  # never backwards
    # Settled (nobody outstanding), it is still known and a read receipt still counts.
    assert ledger.next_deadline() is None and mid in ledger
    assert ledger.update(mid, B, DeliveryStatus.READ) is DeliveryStatus.READ
    other = b"2" * 16
    ledger.add(other, (A, B), T0)
    assert ledger.update(other, None, DeliveryStatus.SENT) is DeliveryStatus.SENT
    assert ledger.update(other, A, DeliveryStatus.FAILED) is DeliveryStatus.FAILED
    assert ledger.is_failed(other, A) and not ledger.is_failed(other, B)
    assert not ledger.is_failed(b"?" * 16, A)
    assert ledger.update(b"?" * 16, A, DeliveryStatus.SENT) is None
    assert ledger.status(b"?" * 16) is None
    with pytest.raises(ValueError, match="already tracked"):
        ledger.add(other, (A,), T0)


def test_undelivered_frames_and_a_leaving_recipient() -> None:
    ledger = OutboundLedger()
    mid = b"1" * 16
    ledger.add(mid, (A, B), T0)
    ledger.set_frame(mid, A, frame(mid, A))
    ledger.set_frame(mid, B, frame(mid, B))
    ledger.set_frame(mid, b"c" * 16, frame(mid, b"c" * 16))  # not a recipient: ignored
    ledger.set_frame(b"?" * 16, A, frame(mid, A))
    assert ledger.undelivered() == [frame(mid, A), frame(mid, B)]
    ledger.update(mid, A, DeliveryStatus.DELIVERED)
    assert ledger.undelivered() == [frame(mid, B)]
    assert ledger.forget_recipient(B) == [(mid, DeliveryStatus.FAILED)]
    assert ledger.undelivered() == [] and ledger.next_deadline() is None
    assert ledger.forget_recipient(A) == []
    # A leaving recipient changes nothing for a message that was not sent to it, or whose
    # aggregate had already failed.
    other = b"2" * 16
    ledger.add(other, (A, B), T0)
    ledger.update(other, A, DeliveryStatus.FAILED)
    assert ledger.forget_recipient(b"c" * 16) == []
    assert ledger.forget_recipient(B) == []
    assert ledger.is_failed(other, B) and ledger.next_deadline() is None


def test_a_frame_not_sealed_yet_is_not_retransmitted() -> None:
    ledger = OutboundLedger()
    mid = b"1" * 16
    ledger.add(mid, (A, B), T0)
    ledger.set_frame(mid, A, frame(mid, A))  # B's channel could not send yet
    assert ledger.undelivered() == [frame(mid, A)]


def test_capacity_abandons_the_oldest_outstanding_message() -> None:
    ledger = OutboundLedger()
    ids = [n.to_bytes(16, "big") for n in range(MAX_TRACKED_MESSAGES + 2)]
    ledger.add(ids[0], (A,), T0)
    ledger.update(ids[0], A, DeliveryStatus.DELIVERED)  # settled: out of the tracker
    abandoned = [d for mid in ids[1:] for d in ledger.add(mid, (A,), T0)]
    # Only outstanding messages count against the capacity: ids[1] is the one given up.
    assert abandoned == [(ids[1], DeliveryStatus.FAILED)]
    assert ledger.status(ids[1]) is DeliveryStatus.FAILED and ledger.is_failed(ids[1], A)
    assert ledger.status(ids[0]) is DeliveryStatus.DELIVERED and ids[2] in ledger


@pytest.mark.skipif(
    is_compiled("quicko.session.delivery"),
    reason="compiled (mypyc), the Final capacity is inlined: patching the module's constant "
    "changes nothing",
)
def test_settled_messages_are_remembered_up_to_the_capacity(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(delivery, "MAX_SETTLED_MESSAGES", 2)
    ledger = OutboundLedger(capacity=2)
    ids = [bytes([n]) * 16 for n in range(3)]
    for mid in ids:
        ledger.add(mid, (A,), T0)
        ledger.update(mid, A, DeliveryStatus.DELIVERED)
    assert ids[0] not in ledger and ledger.status(ids[0]) is None
    assert ledger.status(ids[2]) is DeliveryStatus.DELIVERED


def test_ttl_abandons_what_is_not_delivered_in_time() -> None:
    ledger = OutboundLedger(ttl_ms=100)
    first, second, third = b"1" * 16, b"2" * 16, b"3" * 16
    ledger.add(first, (A, B), T0)
    ledger.add(second, (A,), T0 + 10)
    ledger.add(third, (A,), T0 + 20)
    ledger.set_frame(first, B, frame(first, B))
    ledger.update(first, A, DeliveryStatus.DELIVERED)  # B is still outstanding
    ledger.update(second, A, DeliveryStatus.FAILED)  # settled by a refusal
    assert ledger.next_deadline() == T0 + 100
    assert ledger.expire(T0 + 99) == []
    assert ledger.expire(T0 + 100) == [(first, DeliveryStatus.FAILED)]
    assert ledger.is_failed(first, B) and not ledger.is_failed(first, A)
    assert ledger.undelivered() == [] and ledger.next_deadline() == T0 + 120
    # Already FAILED in aggregate: abandoned, but no second change to report.
    ledger.update(third, None, DeliveryStatus.SENT)
    ledger.add(b"4" * 16, (A, B), T0 + 30)
    ledger.update(b"4" * 16, A, DeliveryStatus.FAILED)
    assert ledger.expire(T0 + 130) == [(third, DeliveryStatus.FAILED), (b"4" * 16, None)]
    assert ledger.next_deadline() is None


def test_default_ttl_is_the_session_ttl_and_limits_are_checked() -> None:
    assert DEFAULT_MESSAGE_TTL_MS == 3_600_000
    ledger = OutboundLedger()
    ledger.add(b"1" * 16, (A,), T0)
    ledger.set_frame(b"1" * 16, A, frame(b"1" * 16, A))
    # The first retry comes long before the TTL; retries back off to a minute apart.
    assert ledger.next_deadline() == T0 + RETRY_INITIAL_MS
    now, gaps = T0 + RETRY_INITIAL_MS, []
    for _ in range(6):
        assert ledger.due(now, lambda _who: True) == [frame(b"1" * 16, A)]
        deadline = ledger.next_deadline()
        assert deadline is not None
        gaps.append(deadline - now)
        now = deadline
    assert gaps == [5_000, 10_000, 20_000, 40_000, 60_000, 60_000]
    assert ledger.due(now, lambda _who: False) == []  # not reachable: it waits for the peer
    assert ledger.expire(T0 + DEFAULT_MESSAGE_TTL_MS) == [(b"1" * 16, DeliveryStatus.FAILED)]
    with pytest.raises(ValueError, match="ttl_ms"):
        OutboundLedger(ttl_ms=0)
    with pytest.raises(ValueError, match="capacity"):
        OutboundLedger(capacity=0)


def test_inbound_log_dedupes_and_tracks_reads() -> None:
    log = InboundLog()
    mid = b"1" * 16
    log.add(A, mid, DeliveryStatus.DELIVERED)
    log.add(A, b"2" * 16, None)
    assert (A, mid) in log and (B, mid) not in log
    assert log.receipt(A, mid) is DeliveryStatus.DELIVERED
    assert log.receipt(A, b"2" * 16) is None
    assert log.mark_read(mid) == [A]
    assert log.mark_read(mid) == []
    assert log.mark_read(b"2" * 16) == []
    assert log.receipt(A, mid) is DeliveryStatus.READ


def test_inbound_log_keys_by_sender_and_id() -> None:
    # Issue 8, finding 6: B reusing A's id is another message, with its own receipt state.
    log = InboundLog()
    mid = b"1" * 16
    log.add(B, mid, DeliveryStatus.PENDING)
    log.add(A, mid, DeliveryStatus.PENDING)
    assert log.receipt(A, mid) is None  # shown, not stored yet: no receipt earned
    assert log.mark_read(mid) == []  # nothing delivered yet
    assert log.stored(A, mid) and not log.stored(A, mid)
    assert log.receipt(A, mid) is DeliveryStatus.DELIVERED
    assert log.receipt(B, mid) is None
    assert log.mark_read(mid) == [A]
    assert log.stored(B, mid)
    assert log.mark_read(mid) == [B]
    assert not log.stored(B, b"9" * 16)  # unknown


def test_inbound_log_is_bounded() -> None:
    log = InboundLog()
    for n in range(MAX_SEEN_MESSAGES + 1):
        log.add(A, n.to_bytes(16, "big"), DeliveryStatus.DELIVERED)
    assert (A, (0).to_bytes(16, "big")) not in log
    assert log.mark_read((0).to_bytes(16, "big")) == []
    assert (A, MAX_SEEN_MESSAGES.to_bytes(16, "big")) in log


def test_inbound_log_forgets_one_sender_of_a_shared_id_and_keeps_the_other() -> None:
    log = InboundLog()
    shared = b"1" * 16
    log.add(A, shared, DeliveryStatus.DELIVERED)
    log.add(B, shared, DeliveryStatus.DELIVERED)
    for n in range(2, MAX_SEEN_MESSAGES + 1):  # one too many: the oldest, A's, goes
        log.add(A, n.to_bytes(16, "big"), None)
    assert (A, shared) not in log and (B, shared) in log
    assert log.mark_read(shared) == [B]


def test_inbound_log_keeps_no_container_per_message() -> None:
    # Up to 10,000 remembered texts live for minutes: per text, only tuples of bytes (which
    # the collector untracks), no list or dict of its own for every collection to walk.
    log = InboundLog()
    gc.collect()
    before = len(gc.get_objects())
    for n in range(2_000):
        log.add(A, n.to_bytes(16, "big"), DeliveryStatus.PENDING)
        log.stored(A, n.to_bytes(16, "big"))
    log.add(B, (5).to_bytes(16, "big"), DeliveryStatus.DELIVERED)  # a shared id
    gc.collect()
    assert len(gc.get_objects()) - before < 10


def test_receipts_are_kept_until_the_relay_acknowledges_them() -> None:
    receipts = ReceiptTracker()
    first, second = frame(b"1" * 16, A), frame(b"2" * 16, B)
    receipts.add(first, T0)
    receipts.add(second, T0)
    assert receipts.next_deadline() == T0 + RETRY_INITIAL_MS
    assert receipts.due(T0 + RETRY_INITIAL_MS, lambda who: who == A) == [first]
    receipts.acknowledged(first.message_id)
    assert first.message_id not in receipts and len(receipts) == 1
    # The relay's copy expired: no timer any more, sent again when B is back.
    receipts.expired(second.message_id)
    assert receipts.next_deadline() is None
    assert receipts.for_recipient(A) == [] and receipts.for_recipient(B) == [second]
    receipts.forget_recipient(B)
    assert len(receipts) == 0


def test_a_receipt_is_not_resent_after_a_text_lifetime() -> None:
    # Its text's sender gave the text up by then: resending the receipt would only cost frames.
    receipts = ReceiptTracker(ttl_ms=20_000)
    receipt = frame(b"1" * 16, A)
    receipts.add(receipt, T0)
    assert receipts.due(T0 + RETRY_INITIAL_MS, lambda _: True) == [receipt]
    assert receipts.due(T0 + 19_999, lambda _: True) == [receipt]
    assert receipts.due(T0 + 20_000, lambda _: True) == []
    assert len(receipts) == 0 and receipts.next_deadline() is None


def test_ledger_deadline_is_never_late_and_exact_after_due() -> None:
    # next_deadline is read after every frame, so it is kept as a lower bound (no scan): it may
    # be early after a message settles, never late, and due() makes it exact again.
    ledger = OutboundLedger()
    ids = [n.to_bytes(16, "big") for n in range(1, 6)]
    for n, mid in enumerate(ids):
        ledger.add(mid, (A,), T0 + n)
        ledger.set_frame(mid, A, frame(mid, A))
    assert ledger.next_deadline() == T0 + RETRY_INITIAL_MS
    ledger.update(ids[0], A, DeliveryStatus.DELIVERED)  # settles: the bound may stay early
    assert ledger.next_deadline() == T0 + RETRY_INITIAL_MS
    assert ledger.due(T0 + RETRY_INITIAL_MS, lambda _: True) == []
    assert ledger.next_deadline() == T0 + 1 + RETRY_INITIAL_MS  # exact again
    # Message 1 is due: sent again and moved on by its doubled interval; the others follow.
    [again] = ledger.due(T0 + 1 + RETRY_INITIAL_MS, lambda _: True)
    assert again.message_id == ids[1]
    assert ledger.next_deadline() == T0 + 2 + RETRY_INITIAL_MS
    for mid in ids[1:]:
        ledger.update(mid, A, DeliveryStatus.DELIVERED)
    assert ledger.next_deadline() is None  # nothing live: no timer at all
    ledger.add(b"n" * 16, (A,), T0 + 50)
    assert ledger.next_deadline() == T0 + 50 + RETRY_INITIAL_MS
    ledger.restart_retries(T0 + 60)
    assert ledger.next_deadline() == T0 + 60 + RETRY_INITIAL_MS


def test_receipt_deadline_is_never_late_and_exact_after_due() -> None:
    receipts = ReceiptTracker()
    first, second = frame(b"1" * 16, A), frame(b"2" * 16, A)
    receipts.add(first, T0)
    receipts.add(second, T0 + 10)
    receipts.acknowledged(first.message_id)
    assert receipts.next_deadline() == T0 + RETRY_INITIAL_MS  # early, never late
    assert receipts.due(T0 + RETRY_INITIAL_MS, lambda _: True) == []
    assert receipts.next_deadline() == T0 + 10 + RETRY_INITIAL_MS
    receipts.acknowledged(second.message_id)
    assert receipts.next_deadline() is None
