"""Regression tests: malformed-but-authentic messages, message TTL, abandoned frames."""

from __future__ import annotations

import struct

import msgpack
import pytest
from session_pump import (
    NOW,
    Pump,
    SeededRng,
    call_pair,
    identity,
    messages,
    of_type,
    statuses,
    two_party,
)

from quicko.identity import InviteCode
from quicko.protocol import Joined, Member
from quicko.session import (
    DEFAULT_MESSAGE_TTL_MS,
    DeliveryStatus,
    MessageReceived,
    Session,
    StatusChanged,
    pairwise,
)
from quicko.session import envelope as env
from quicko.session.delivery import MAX_TRACKED_MESSAGES, RETRY_INITIAL_MS

CODE = InviteCode("KBQW", "E3TV")


def joined(session: Session, *others: bytes) -> Joined:
    return Joined(session.session_id, "", tuple(Member(o, "x", True) for o in others))


def padded(items: list[object]) -> bytes:
    """A well-padded plaintext around any MessagePack array (valid or not as an envelope)."""
    packed: bytes = msgpack.packb(items, use_bin_type=True)
    plain = struct.pack(">I", len(packed)) + packed
    return plain + bytes(env.padded_size(len(plain)) - len(plain))


# ------------------------------------------------------------------ authentic but malformed


@pytest.mark.parametrize(
    "inside",
    [
        [9, "unknown kind"],  # unpad_envelope refuses it: MalformedFrameError from open()
        [3, b"not a bundle"],  # a MEMBER_ADD from the creator whose bundle does not decode
    ],
    ids=["unknown-kind", "bad-member-add"],
)
def test_authentic_malformed_message_is_dropped_once_then_deduped(
    monkeypatch: pytest.MonkeyPatch, inside: list[object]
) -> None:
    pump, alice, bob = two_party()
    pump.take(alice.address), pump.take(bob.address)
    # Alice's channel seals a malformed envelope under a real ratchet key.
    monkeypatch.setattr(pairwise, "pad_envelope", lambda _: padded(inside))
    message_id = alice.send_text("never shown", pump.now)
    monkeypatch.undo()
    [frame] = messages(alice.data_to_send())
    bob.receive(frame, pump.now)
    assert bob.dropped_frames == 1
    assert bob.events() == [] and bob.data_to_send() == []
    # Alice retransmits the same frame after every reconnect (it was never Delivered).
    for _ in range(3):
        alice.rejoin(pump.now)
        alice.receive(joined(alice, bob.address), pump.now)
        assert frame in alice.data_to_send()
        bob.receive(frame, pump.now)
    # Each retransmission is a duplicate: not refused as a replay (dropped_frames unchanged),
    # never shown and never receipted.
    assert bob.dropped_frames == 1
    assert bob.events() == [] and bob.data_to_send() == []
    # The channel still works both ways.
    bob.send_text("still here", pump.now)
    [reply] = messages(bob.data_to_send())
    alice.receive(reply, pump.now)
    assert [e.text for e in of_type(alice.events(), MessageReceived)] == ["still here"]
    # The sender gives up when the message TTL passes: FAILED, and no more retransmission.
    alice.handle_timeout(pump.now + DEFAULT_MESSAGE_TTL_MS)
    assert statuses(alice.events(), message_id) == [DeliveryStatus.FAILED]
    alice.rejoin(pump.now)
    alice.receive(joined(alice, bob.address), pump.now)
    assert frame not in alice.data_to_send()


# ------------------------------------------------------------------ message TTL

EXPIRED = "not delivered within 3,600 s"


def test_undelivered_text_fails_after_the_message_ttl() -> None:
    pump = Pump()
    alice = pump.add(
        Session.create(identity("alice"), SeededRng(b"a"), NOW, CODE, message_ttl_ms=1000)
    )
    pump.run()
    bob = pump.add(Session.join(identity("bob"), CODE, SeededRng(b"b"), NOW, message_ttl_ms=5))
    pump.run()
    pump.take(alice.address)
    assert alice.next_deadline() is None
    pump.disconnect(bob.address)
    message_id = alice.send_text("are you there?", pump.now)
    pump.run()
    assert statuses(pump.take(alice.address), message_id) == [DeliveryStatus.SENT]
    assert alice.next_deadline() == pump.now + 1000
    alice.handle_timeout(pump.now + 999)
    assert alice.events() == [] and alice.status(message_id) is DeliveryStatus.SENT
    alice.handle_timeout(pump.now + 1000)
    assert alice.events() == [
        StatusChanged(message_id, DeliveryStatus.FAILED, "not delivered within 1 s")
    ]
    assert alice.status(message_id) is DeliveryStatus.FAILED
    assert alice.next_deadline() is None
    # A late receipt does not revive it, and it is not retransmitted any more.
    pump.reconnect(bob.address)
    pump.reconnect(alice.address)
    pump.run()
    assert statuses(pump.take(alice.address), message_id) == []
    assert alice.status(message_id) is DeliveryStatus.FAILED


def test_delivered_text_leaves_the_retransmission_tracker() -> None:
    pump, alice, bob = two_party()
    pump.take(alice.address)
    message_id = alice.send_text("hello", pump.now)
    assert alice.next_deadline() == pump.now + RETRY_INITIAL_MS
    pump.run()
    assert statuses(pump.take(alice.address), message_id)[-1] is DeliveryStatus.DELIVERED
    assert alice.next_deadline() is None
    alice.handle_timeout(pump.now + DEFAULT_MESSAGE_TTL_MS)
    assert alice.events() == [] and alice.status(message_id) is DeliveryStatus.DELIVERED
    bob.mark_read([message_id], pump.now)
    pump.run()
    assert statuses(pump.take(alice.address), message_id) == [DeliveryStatus.READ]


def test_a_closed_session_has_no_message_deadline() -> None:
    pump, alice, bob = two_party()
    pump.disconnect(bob.address)
    alice.send_text("lost", pump.now)
    assert alice.next_deadline() is not None
    alice.leave(pump.now)
    assert alice.next_deadline() is None
    alice.events()
    alice.handle_timeout(pump.now + DEFAULT_MESSAGE_TTL_MS)
    assert alice.events() == []


def test_a_held_frame_that_expires_is_never_sent() -> None:
    pump, alice, bob = two_party()
    alice.events(), alice.data_to_send()
    alice.rejoin(pump.now)  # the relay has not shown Bob again yet: frames to him are held
    message_id = alice.send_text("held", pump.now)
    assert messages(alice.data_to_send()) == []
    alice.handle_timeout(pump.now + DEFAULT_MESSAGE_TTL_MS)
    assert alice.events() == [StatusChanged(message_id, DeliveryStatus.FAILED, EXPIRED)]
    alice.receive(joined(alice, bob.address), pump.now)
    sent = messages(alice.data_to_send())
    assert sent  # what else was held (the SYNC Bob has not answered) goes out
    assert message_id not in {frame.message_id for frame in sent}


def test_a_queued_text_that_expires_is_never_sealed() -> None:
    initiator, responder = call_pair()
    responder.events()
    # The responder cannot send before the initiator's SYNC: its text waits, unsealed.
    assert not responder.can_send_to(initiator.address)
    message_id = responder.send_text("queued", NOW)
    responder.receive(joined(responder, initiator.address), NOW)
    assert messages(responder.data_to_send()) == []
    responder.handle_timeout(NOW + 10**7)
    assert statuses(responder.events(), message_id) == [DeliveryStatus.FAILED]
    initiator.receive(joined(initiator, responder.address), NOW)
    [sync] = messages(initiator.data_to_send())
    responder.receive(sync, NOW)
    assert responder.can_send_to(initiator.address)
    assert messages(responder.data_to_send()) == []  # the expired text was dropped, unsealed


def test_capacity_eviction_fails_the_oldest_undelivered_text() -> None:
    pump, alice, _bob = two_party()
    alice.events()
    ids = [alice.send_text(f"m{n}", pump.now) for n in range(MAX_TRACKED_MESSAGES + 1)]
    events = alice.events()
    assert events == [StatusChanged(ids[0], DeliveryStatus.FAILED, "too many messages waiting")]
    assert alice.status(ids[0]) is DeliveryStatus.FAILED
    assert alice.status(ids[1]) is DeliveryStatus.PENDING


def test_message_ttl_must_be_positive() -> None:
    with pytest.raises(ValueError, match="ttl_ms"):
        Session.create(identity("alice"), SeededRng(b"a"), NOW, CODE, message_ttl_ms=0)
