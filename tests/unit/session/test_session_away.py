"""Regression tests: peers away past the relay's buffer TTL, and the bounded pre-ratchet queue.

A peer the relay reports DISCONNECTED or EXPIRED keeps its keys and channel; a relay Ack EXPIRED
leaves a text outstanding; when the peer is back (PeerJoined) the same frames go again, shown
once, with monotonic statuses (docs/protocol.md §10).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from session_pump import (
    NOW,
    Delay,
    Pump,
    SeededRng,
    call_pair,
    identity,
    messages,
    of_type,
    statuses,
    texts,
    two_party,
)

from quicko.identity import InviteCode
from quicko.protocol import (
    Ack,
    AckStatus,
    Error,
    ErrorCode,
    Joined,
    KeyExchange,
    LeaveReason,
    Member,
    Message,
    MessageType,
    Payload,
    PeerJoined,
    PeerLeft,
)
from quicko.session import DeliveryStatus, PeerAuthenticated, Session, StatusChanged
from quicko.session import events as ev
from quicko.session.core import MAX_QUEUED_TEXTS
from quicko.session.pake import decode_member_init

CODE = InviteCode("KBQW", "E3TV")
D, S, P = DeliveryStatus.DELIVERED, DeliveryStatus.SENT, DeliveryStatus.PENDING


def joined(session: Session, *others: bytes, online: bool = True) -> Joined:
    return Joined(session.session_id, "", tuple(Member(o, "x", online) for o in others))


def is_member(session: Session, address: bytes) -> bool:
    return address in {member.address for member in session.members}


def sent_ids(session: Session, *wanted: bytes) -> list[bytes]:
    """The ids of the ``wanted`` messages among what ``session`` sends now, in order.

    (Other frames may go too: the SYNC a peer never answered is owed until it is heard from.)
    """
    return [f.message_id for f in messages(session.data_to_send()) if f.message_id in wanted]


# ------------------------------------------------------------------ away past the buffer TTL


def test_a_peer_back_after_the_buffer_ttl_gets_its_messages_once() -> None:
    pump, alice, bob = two_party()
    pump.take(alice.address), pump.take(bob.address)
    pump.disconnect(bob.address)
    ids = [alice.send_text(f"while away {n}", pump.now) for n in range(3)]
    offline = bob.send_text("written offline", pump.now)  # lost: Bob has no connection
    pump.run()
    pump.expire(bob.address)
    pump.run()
    # PeerLeft(EXPIRED) and the relay's Ack EXPIRED fail nothing and forget no key.
    assert ev.PeerLeft(bob.address, LeaveReason.EXPIRED) in pump.events[alice.address]
    assert [alice.status(i) for i in ids] == [S, S, S]
    assert is_member(alice, bob.address) and alice.is_away(bob.address)
    # Written while Bob is not a member at the relay: held here, never refused there.
    late = alice.send_text("after expiry", pump.now)
    pump.run()
    assert alice.dropped_frames == 0 and alice.status(late) is P
    pump.reconnect(bob.address)
    pump.run()
    bob_events, alice_events = pump.take(bob.address), pump.take(alice.address)
    assert sorted(texts(bob_events)) == ["after expiry"] + [f"while away {n}" for n in range(3)]
    assert texts(alice_events) == ["written offline"]
    for message_id in ids:
        assert statuses(alice_events, message_id) == [S, D]  # Sent before, now Delivered
    assert statuses(alice_events, late) == [S, D]
    assert statuses(bob_events, offline) == [S, D]
    assert not alice.is_away(bob.address)
    assert alice.dropped_frames == bob.dropped_frames == 0


def test_a_peer_back_within_the_buffer_ttl_sees_each_text_once() -> None:
    pump, alice, bob = two_party()
    pump.take(alice.address), pump.take(bob.address)
    seen: list[Message] = []

    def record(to: bytes, payload: Payload) -> list[Payload]:
        if to == bob.address and isinstance(payload, Message) and payload.sender == alice.address:
            seen.append(payload)
        return [payload]

    pump.tamper = record
    pump.disconnect(bob.address)
    pump.run()
    assert alice.is_away(bob.address)
    ids = [alice.send_text(f"held {n}", pump.now) for n in range(2)]
    pump.run()  # the relay holds them for Bob
    pump.reconnect(bob.address)
    pump.run()
    # Bob got each text twice (the relay's held copy and Alice's resend on his PeerJoined),
    # the same frame both times; he shows it once and receipts it again.
    for message_id in ids:
        copies = [frame for frame in seen if frame.message_id == message_id]
        assert len(copies) == 2 and copies[0] == copies[1]
    assert sorted(texts(pump.take(bob.address))) == ["held 0", "held 1"]
    events = pump.take(alice.address)
    for message_id in ids:
        assert statuses(events, message_id) == [S, D]
    assert bob.dropped_frames == 0


def test_only_leave_drops_a_peer() -> None:
    pump, alice, bob = two_party()
    sid = alice.session_id
    # Whatever the relay says, LEFT included (a relay can forge it: issue 8, finding 6), an
    # authenticated peer is only away.
    for reason in (LeaveReason.DISCONNECTED, LeaveReason.EXPIRED, 99, LeaveReason.LEFT):
        alice.receive(PeerLeft(sid, bob.address, int(reason)), NOW)
        assert alice.events() == [ev.PeerLeft(bob.address, int(reason), gone=False)]
        assert is_member(alice, bob.address) and alice.is_away(bob.address)
        assert alice.can_send_to(bob.address)
    # Only Bob's own encrypted LEAVE removes him.
    pump.take(alice.address)
    bob.leave(pump.now)
    pump.run()
    assert ev.PeerLeft(bob.address, LeaveReason.LEFT, gone=True) in pump.take(alice.address)
    assert not is_member(alice, bob.address) and not alice.can_send_to(bob.address)
    with pytest.raises(KeyError):
        alice.is_away(bob.address)


def test_disconnected_peers_still_get_frames_expired_ones_wait() -> None:
    _pump, alice, bob = two_party()
    sid = alice.session_id
    alice.data_to_send()
    # DISCONNECTED: still a member at the relay, which holds what we send.
    alice.receive(PeerLeft(sid, bob.address, LeaveReason.DISCONNECTED), NOW)
    first = alice.send_text("held by the relay", NOW)
    assert sent_ids(alice, first) == [first]
    # EXPIRED (or a reason we do not know): no longer a member; frames wait for its return.
    alice.receive(PeerLeft(sid, bob.address, 99), NOW)
    second = alice.send_text("held here", NOW)
    assert alice.data_to_send() == []
    alice.receive(PeerJoined(sid, bob.address, "bob"), NOW)
    assert sent_ids(alice, first, second) == [first, second]


def test_joined_tells_which_peers_are_away() -> None:
    _pump, alice, bob = two_party()
    alice.receive(joined(alice, bob.address, online=False), NOW)
    assert alice.is_away(bob.address)
    alice.receive(joined(alice, bob.address), NOW)
    assert not alice.is_away(bob.address)


def test_recipient_unknown_leaves_a_text_outstanding_until_its_recipient_is_back() -> None:
    _pump, alice, bob = two_party()
    sid = alice.session_id
    alice.events()
    message_id = alice.send_text("racing the expiry", NOW)
    [frame] = messages(alice.data_to_send())
    refusal = Error(ErrorCode.RECIPIENT_UNKNOWN, "no", MessageType.MESSAGE, message_id)
    alice.receive(refusal, NOW)
    assert alice.events() == [] and alice.dropped_frames == 0
    assert alice.status(message_id) is P
    alice.receive(PeerLeft(sid, bob.address, LeaveReason.EXPIRED), NOW)
    alice.receive(PeerJoined(sid, bob.address, "bob"), NOW)
    assert [f for f in messages(alice.data_to_send()) if f.message_id == message_id] == [frame]


# ------------------------------------------------------------------ what a returning peer is owed


def test_a_returning_peer_gets_the_sync_until_it_was_heard_from() -> None:
    initiator, responder = call_pair()
    sid = initiator.session_id
    initiator.receive(joined(initiator, responder.address), NOW)
    [sync] = messages(initiator.data_to_send())
    initiator.receive(PeerLeft(sid, responder.address, LeaveReason.EXPIRED), NOW)
    initiator.receive(PeerJoined(sid, responder.address, "r"), NOW)
    assert messages(initiator.data_to_send()) == [sync]
    responder.receive(sync, NOW)
    responder.receive(joined(responder, initiator.address), NOW)
    responder.send_text("heard", NOW)
    [text] = messages(responder.data_to_send())
    initiator.receive(text, NOW)
    [receipt] = messages(initiator.data_to_send())
    # The receipt is repeated until the relay acknowledges it; then nothing is owed any more.
    initiator.receive(PeerJoined(sid, responder.address, "r"), NOW)
    assert messages(initiator.data_to_send()) == [receipt]
    ack = Ack(sid, initiator.address, responder.address, receipt.message_id, AckStatus.ACCEPTED)
    initiator.receive(ack, NOW)
    initiator.receive(PeerJoined(sid, responder.address, "r"), NOW)
    assert initiator.data_to_send() == []


def test_a_returning_member_gets_the_member_init_until_the_channel_exists() -> None:
    pump, _alice, bob = two_party()
    delay = Delay(bob.address, identity("carol").address, KeyExchange)
    pump.tamper = delay
    carol = pump.add(Session.join(identity("carol"), CODE, SeededRng(b"c"), NOW))
    pump.run()
    assert is_member(bob, carol.address) and not bob.can_send_to(carol.address)
    sid = bob.session_id
    bob.receive(PeerLeft(sid, carol.address, LeaveReason.EXPIRED), NOW)
    bob.receive(PeerJoined(sid, carol.address, "carol"), NOW)
    [init] = bob.data_to_send()
    assert isinstance(init, KeyExchange) and init.recipient == carol.address
    assert decode_member_init(init.body).address == bob.address
    delay.release(pump)
    pump.run()
    assert bob.can_send_to(carol.address)
    bob.receive(PeerJoined(sid, carol.address, "carol"), NOW)
    assert not any(isinstance(p, KeyExchange) for p in bob.data_to_send())


def test_a_frame_already_held_is_not_sent_twice() -> None:
    _pump, alice, bob = two_party()
    sid = alice.session_id
    alice.receive(PeerLeft(sid, bob.address, LeaveReason.EXPIRED), NOW)
    held = alice.send_text("held while Bob is gone", NOW)
    alice.data_to_send()
    # Our own reconnect (a relay restart: the session is new, Bob not back yet), then Bob.
    alice.rejoin(NOW)
    alice.receive(joined(alice), NOW)
    alice.data_to_send()
    alice.receive(PeerJoined(sid, bob.address, "bob"), NOW)
    assert sent_ids(alice, held) == [held]
    alice.rejoin(NOW)
    alice.receive(joined(alice, bob.address), NOW)
    assert sent_ids(alice, held) == [held]


# ------------------------------------------------------------------ the pre-ratchet queue


def test_the_queue_before_the_ratchet_can_send_is_bounded_never_silently() -> None:
    initiator, responder = call_pair()
    assert of_type(responder.events(), PeerAuthenticated)
    responder.receive(joined(responder, initiator.address), NOW)
    ids = [responder.send_text(f"q{n}", NOW) for n in range(MAX_QUEUED_TEXTS + 1)]
    assert of_type(responder.events(), StatusChanged) == [
        StatusChanged(ids[0], DeliveryStatus.FAILED, "too many messages waiting")
    ]
    assert responder.status(ids[1]) is P
    assert messages(responder.data_to_send()) == []
    initiator.receive(joined(initiator, responder.address), NOW)
    [sync] = messages(initiator.data_to_send())
    responder.receive(sync, NOW)
    assert [frame.message_id for frame in messages(responder.data_to_send())] == ids[1:]


# ------------------------------------------------------------------ any sequence of absences

_RANK = {P: 0, S: 1, D: 2}
_STEPS = ("a-sends", "b-sends", "a-drops", "b-drops", "a-expires", "b-expires", "a-back",
          "b-back", "run")  # fmt: skip


def _play(pump: Pump, sessions: dict[str, Session], step: str, sent: dict[bytes, str]) -> None:
    who, _, what = step.partition("-")
    if who == "run":
        pump.run()
        return
    session = sessions[who]
    online = session.address in pump.online
    if what == "sends":
        text = f"{who}{len(sent)}"
        sent[session.send_text(text, pump.now)] = text
    elif what == "drops" and online:
        pump.disconnect(session.address)
    elif what == "expires" and not online:
        pump.expire(session.address)
    elif what == "back" and not online:
        pump.reconnect(session.address)


@settings(max_examples=25, deadline=None)
@given(steps=st.lists(st.sampled_from(_STEPS), max_size=14))
def test_any_absences_deliver_every_text_once_with_monotonic_statuses(steps: list[str]) -> None:
    pump, alice, bob = two_party()
    pump.take(alice.address), pump.take(bob.address)
    sessions = {"a": alice, "b": bob}
    sent: dict[bytes, str] = {}
    for step in steps:
        _play(pump, sessions, step, sent)
    for session in sessions.values():
        if session.address not in pump.online:
            pump.reconnect(session.address)
    pump.run()
    for name, session in sessions.items():
        other = bob if session is alice else alice
        shown = texts(pump.events[other.address])
        mine = sorted(text for text in sent.values() if text.startswith(name))
        assert sorted(shown) == mine  # each text shown once, none lost
        for message_id in (i for i, text in sent.items() if text.startswith(name)):
            seen = statuses(pump.events[session.address], message_id)
            assert [_RANK[status] for status in seen] == sorted(_RANK[s] for s in seen)
            assert session.status(message_id) is D
        assert session.dropped_frames == 0


def test_members_already_there_are_announced_when_joining() -> None:
    # The relay's Joined lists the members who were there before us: each is announced with a
    # PeerJoined, like those who join later; our own address is never announced.
    me, other = identity("creator"), identity("other")
    invite = InviteCode.generate(SeededRng(b"announce"))
    session = Session.create(me, SeededRng(b"creator"), NOW, invite)
    session.data_to_send()
    members = (
        Member(other.address, other.display_name, True),
        Member(me.address, me.display_name, True),
    )
    session.receive(Joined(session.session_id, invite.nameplate, members), NOW)
    announced = of_type(session.events(), ev.PeerJoined)
    assert [(e.address, e.display_name, e.verified) for e in announced] == [
        (other.address, other.display_name, False)
    ]
