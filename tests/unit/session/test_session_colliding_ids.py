"""Issue 8, finding 6: a member reusing another member's message id cannot hide that message.

Real Session objects pumped against each other (session_pump.py); the victim is kept the way
the client keeps it, a :class:`~quicko.client.live.LiveSession` with its store, so both the
session's deduplication and the store's keys are exercised, and the victim's DELIVERED receipt
goes only once the message is in its store.
"""

from __future__ import annotations

from session_pump import NOW, Delay, Pump, SeededRng, identity, of_type, statuses, two_party

from quicko.client import models as m
from quicko.client.live import LiveSession
from quicko.identity import InviteCode
from quicko.protocol import Message
from quicko.session import DeliveryStatus, MessageReceived, Session

CODE = InviteCode("KBQW", "E3TV")


class SteerableRng(SeededRng):
    """A seeded RandomSource that an attacker's test can make return a chosen message id."""

    def __init__(self, seed: bytes) -> None:
        super().__init__(seed)
        self.next_id: bytes | None = None

    def __call__(self, n: int) -> bytes:
        if self.next_id is not None and n == len(self.next_id):
            chosen, self.next_id = self.next_id, None
            return chosen
        return super().__call__(n)


def run(pump: Pump, victim: LiveSession, shown: list[m.ClientEvent]) -> None:
    """Pump until quiet, handing the victim's session events to its client bookkeeping."""
    for _ in range(100):
        moved = pump.step()
        shown += victim.translate(pump.take(victim.session.address), pump.now)
        if not moved:
            return
    raise AssertionError("the pump did not settle")


def test_a_colliding_message_id_does_not_hide_a_message() -> None:
    # Alice (creator, the victim) is kept by a LiveSession; Bob is honest, Mallory a member.
    pump, alice, bob = two_party(CODE)
    victim = LiveSession(alice, "creator", CODE)
    mallory_rng = SteerableRng(b"m")
    mallory = pump.add(Session.join(identity("mallory"), CODE, mallory_rng, NOW))
    shown: list[m.ClientEvent] = []
    run(pump, victim, shown)
    assert {p.address for p in alice.members} == {bob.address, mallory.address}
    pump.take(bob.address)
    # Bob's message reaches Mallory at once but Alice late (she is slow, or the relay holds it).
    delay = Delay(alice.address, bob.address, Message)
    pump.tamper = delay
    honest_id = bob.send_text("the honest message", pump.now)
    run(pump, victim, shown)
    assert len(delay.stash) == 1
    # Mallory, who saw the id in the frame's header, sends first with the same id.
    mallory_rng.next_id = honest_id
    assert mallory.send_text("a decoy", pump.now) == honest_id
    run(pump, victim, shown)
    delay.release(pump)
    run(pump, victim, shown)

    received = [e.message for e in shown if isinstance(e, m.MessageReceived)]
    assert [(msg.sender, msg.text) for msg in received] == [
        (mallory.address, "a decoy"),
        (bob.address, "the honest message"),
    ]
    stored = victim.store.get(bob.address, honest_id)
    assert stored is not None and stored.text == "the honest message"
    assert len(victim.store) == 2
    # Bob's "Delivered" is true: Alice stored his message before receipting it.
    assert statuses(pump.take(bob.address), honest_id)[-1] is DeliveryStatus.DELIVERED
    # Reading the id sends a READ receipt to each of its senders (receipts name ids only).
    alice.mark_read([honest_id], pump.now)
    receipts = [p for p in alice.data_to_send() if isinstance(p, Message)]
    assert sorted(p.recipient for p in receipts) == sorted([bob.address, mallory.address])
    victim.mark_read([honest_id])
    assert all(msg.status is DeliveryStatus.READ for msg in victim.store)


def test_the_delivered_receipt_waits_until_the_message_is_stored() -> None:
    pump, alice, bob = two_party(CODE)
    bob.hold_delivered_receipts()
    pump.take(alice.address)
    message_id = alice.send_text("hi", pump.now)
    pump.run()
    assert statuses(pump.take(alice.address), message_id) == [DeliveryStatus.SENT]
    # Shown to the application, not stored yet: no receipt.
    (received,) = of_type(pump.take(bob.address), MessageReceived)
    assert received.message_id == message_id
    bob.message_stored(alice.address, message_id, pump.now)
    bob.message_stored(alice.address, message_id, pump.now)  # once only
    assert len([p for p in bob.data_to_send() if isinstance(p, Message)]) == 1
    bob.message_stored(alice.address, b"\x00" * 16, pump.now)  # unknown: ignored
    assert bob.data_to_send() == []


def test_delivered_receipt_goes_after_storing_through_the_pump() -> None:
    pump, alice, bob = two_party(CODE)
    victim = LiveSession(bob, "joiner", CODE)
    shown: list[m.ClientEvent] = []
    pump.take(alice.address)
    message_id = alice.send_text("hi", pump.now)
    run(pump, victim, shown)
    assert victim.store.get(alice.address, message_id) is not None
    assert statuses(pump.take(alice.address), message_id) == [
        DeliveryStatus.SENT,
        DeliveryStatus.DELIVERED,
    ]
