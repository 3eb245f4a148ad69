"""Session objects pumped against each other through an in-memory relay (no I/O)."""

from __future__ import annotations

import dataclasses

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from session_pump import (
    NOW,
    Delay,
    Pump,
    SeededRng,
    identity,
    of_type,
    statuses,
    texts,
    two_party,
)

from quicko.errors import LocalProtocolError, SessionError
from quicko.identity import InviteCode
from quicko.protocol import (
    Ack,
    AckStatus,
    Error,
    ErrorCode,
    Join,
    Joined,
    KeyExchange,
    Leave,
    LeaveReason,
    LobbyMessage,
    Member,
    Message,
    MessageType,
    Payload,
    ReleaseNameplate,
)
from quicko.session import (
    PAKE_TIMEOUT_MS,
    DeliveryStatus,
    InviteRetired,
    KeyChanged,
    MessageReceived,
    PeerAuthenticated,
    PeerLeft,
    PeerRefused,
    Role,
    Session,
    SessionFailed,
    SessionOpened,
    State,
    WrongInviteCode,
)
from quicko.session import envelope as env
from quicko.session.pake import PakeKind, decode_member_init, encode_member_init

CODE = InviteCode("KBQW", "E3TV")
WRONG = InviteCode("KBQW", "0000")


# ------------------------------------------------------------------ two-party chat


def test_two_party_chat_by_invite_code() -> None:
    pump, alice, bob = two_party()
    a_events, b_events = pump.take(alice.address), pump.take(bob.address)
    assert alice.state is State.ACTIVE and bob.state is State.ACTIVE
    assert alice.role is Role.CREATOR and bob.role is Role.JOINER
    assert bob.session_id == alice.session_id and len(alice.session_id) == 16
    assert of_type(a_events, SessionOpened) == [SessionOpened(alice.session_id)]
    [bob_seen] = of_type(a_events, PeerAuthenticated)
    [alice_seen] = of_type(b_events, PeerAuthenticated)
    assert bob_seen.address == bob.address and alice_seen.address == alice.address
    assert bob_seen.display_name == identity("bob").display_name
    assert bob_seen.safety_number == alice_seen.safety_number == alice.safety_number(bob.address)
    assert [m.address for m in alice.members] == [bob.address]
    assert alice.can_send_to(bob.address) and bob.can_send_to(alice.address)
    assert alice.dropped_frames == bob.dropped_frames == 0


def test_messages_both_ways_with_statuses_to_read() -> None:
    pump, alice, bob = two_party()
    pump.take(alice.address), pump.take(bob.address)
    first = alice.send_text("hello bob", pump.now)
    reply = bob.send_text("hi alice", pump.now + 1)
    pump.run()
    a_events, b_events = pump.take(alice.address), pump.take(bob.address)
    assert texts(b_events) == ["hello bob"] and texts(a_events) == ["hi alice"]
    [shown] = of_type(b_events, MessageReceived)
    assert (shown.message_id, shown.sender, shown.timestamp) == (first, alice.address, pump.now)
    assert shown.display_name == identity("alice").display_name
    assert "hello" not in repr(shown)
    assert statuses(a_events, first) == [DeliveryStatus.SENT, DeliveryStatus.DELIVERED]
    assert statuses(b_events, reply) == [DeliveryStatus.SENT, DeliveryStatus.DELIVERED]
    bob.mark_read([first, b"\x00" * 16], pump.now)
    bob.mark_read([first], pump.now)  # already read: no second receipt
    pump.run()
    assert statuses(pump.take(alice.address), first) == [DeliveryStatus.READ]
    assert alice.status(first) is DeliveryStatus.READ
    assert alice.status(b"\x01" * 16) is None


def test_plaintext_never_appears_in_any_frame() -> None:
    pump, alice, bob = two_party()
    secret = "the eagle lands at midnight"
    alice.send_text(secret, pump.now)
    bob.send_text(secret.upper(), pump.now)
    pump.run()
    assert texts(pump.take(bob.address)) == [secret]
    frames = b"".join(pump.frames)
    assert len(pump.frames) > 10
    for needle in (secret, secret.upper(), "eagle", CODE.password, str(CODE)):
        assert needle.encode() not in frames
    # The password half of the invite code never goes to the relay, in any form.
    assert CODE.nameplate.encode() in frames


def test_send_before_any_peer_is_refused() -> None:
    pump = Pump()
    alice = pump.add(Session.create(identity("alice"), SeededRng(b"a"), NOW, CODE))
    [join] = alice.data_to_send()
    assert isinstance(join, Join)
    assert (join.session_id, join.nameplate, join.proof) == (alice.session_id, CODE.nameplate, b"")
    assert len(join.join_key) == 32  # the I/O layer adds the proof (Session.sign_join)
    with pytest.raises(SessionError, match="no authenticated peer"):
        alice.send_text("anyone?", NOW)
    with pytest.raises(ValueError, match="UTF-8 bytes"):
        alice.send_text("x" * (env.MAX_TEXT_BYTES + 1), NOW)


# ------------------------------------------------------------------ groups


def three_members() -> tuple[Pump, Session, Session, Session]:
    pump, alice, bob = two_party()
    carol = pump.add(Session.join(identity("carol"), CODE, SeededRng(b"c"), NOW))
    pump.run()
    return pump, alice, bob, carol


def test_three_member_group_with_vouching() -> None:
    pump, alice, bob, carol = three_members()
    everyone = (alice, bob, carol)
    for session in everyone:
        others = {s.address for s in everyone if s is not session}
        assert {m.address for m in session.members} == others
        assert all(session.can_send_to(other) for other in others)
        assert session.dropped_frames == 0
    # Bob learnt Carol's keys only from Alice's vouch; the safety numbers agree.
    assert bob.safety_number(carol.address) == carol.safety_number(bob.address)
    pump.take(alice.address), pump.take(bob.address), pump.take(carol.address)
    message_id = carol.send_text("hello group", pump.now)
    pump.run()
    assert texts(pump.take(alice.address)) == ["hello group"]
    assert texts(pump.take(bob.address)) == ["hello group"]
    assert statuses(pump.take(carol.address), message_id)[-1] is DeliveryStatus.DELIVERED
    bob.send_text("hi carol", pump.now)
    pump.run()
    assert texts(pump.take(carol.address)) == ["hi carol"]


def test_group_message_is_one_frame_per_recipient_with_the_same_id() -> None:
    pump, alice, bob, carol = three_members()
    message_id = alice.send_text("fan out", pump.now)
    frames = [p for p in alice.data_to_send() if isinstance(p, Message)]
    assert {f.recipient for f in frames} == {bob.address, carol.address}
    assert {f.message_id for f in frames} == {message_id}
    assert frames[0].body != frames[1].body


# ------------------------------------------------------------------ wrong codes


def test_wrong_invite_codes_do_not_retire_the_code_for_everyone() -> None:
    pump, alice, _ = two_party()
    pump.take(alice.address)
    for attempt in range(3):
        mallory = pump.add(
            Session.join(identity(f"m{attempt}"), WRONG, SeededRng(bytes([attempt])), NOW)
        )
        pump.run()
        events = pump.take(mallory.address)
        assert of_type(events, WrongInviteCode) == [WrongInviteCode(0)]
        assert mallory.state is State.FAILED
        assert not of_type(events, PeerAuthenticated)
        assert mallory.address not in pump.sessions[alice.session_id].members
    assert not of_type(pump.take(alice.address), InviteRetired)
    # Three strangers' wrong guesses leave the code working for the real invitee.
    carol = pump.add(Session.join(identity("carol"), CODE, SeededRng(b"c"), NOW))
    pump.run()
    states = [carol.state]  # told to retry after the back-off (1 s)
    pump.advance(1_000)
    states.append(carol.state)
    assert states == [State.AUTHENTICATING, State.ACTIVE]
    assert carol.address in {m.address for m in alice.members}


def test_right_code_after_a_wrong_one() -> None:
    pump, alice, _ = two_party(joiner_code=WRONG)
    carol = pump.add(Session.join(identity("carol"), CODE, SeededRng(b"c"), NOW))
    pump.run()
    assert carol.state is State.ACTIVE
    assert {m.address for m in alice.members} == {carol.address}


def test_joiner_times_out_without_an_answer() -> None:
    joiner = Session.join(identity("bob"), CODE, SeededRng(b"b"), NOW)
    assert joiner.next_deadline() == NOW + PAKE_TIMEOUT_MS
    joiner.handle_timeout(NOW + PAKE_TIMEOUT_MS - 1)
    assert joiner.events() == []
    joiner.handle_timeout(NOW + PAKE_TIMEOUT_MS)
    assert joiner.events() == [SessionFailed("the session did not answer in time")]
    assert joiner.next_deadline() is None
    assert joiner.state.value == "failed"


# ------------------------------------------------------------------ tampering relay


def replace_member_init(recipient: bytes, victim: bytes, change: str) -> object:
    """A tamper hook that rewrites MEMBER_INIT bundles sent to ``recipient``."""

    def hook(to: bytes, payload: Payload) -> list[Payload]:
        if to != recipient or not isinstance(payload, KeyExchange) or payload.sender != victim:
            return [payload]
        bundle = decode_member_init(payload.body)
        evil = identity("evil")
        key = evil.public.x25519_public
        if change == "identity":
            bundle = dataclasses.replace(bundle, x25519_public=key)
        else:
            bundle = dataclasses.replace(bundle, ephemeral_public=key)
        body = encode_member_init(bundle)
        return [dataclasses.replace(payload, body=body)]

    return hook


@pytest.mark.parametrize("change", ["identity", "ephemeral"])
def test_substituted_key_in_member_init_is_refused(change: str) -> None:
    pump, alice, bob = two_party()
    carol_identity = identity("carol")
    pump.tamper = replace_member_init(bob.address, carol_identity.address, change)  # type: ignore[assignment]
    carol = pump.add(Session.join(carol_identity, CODE, SeededRng(b"c"), NOW))
    dropped = bob.dropped_frames
    pump.run()
    # Dropped, not reported: it is what a relay replaying another member's MEMBER_INIT looks
    # like, and it must neither alarm nor break the pair (the real one still counts).
    events = pump.take(bob.address)
    assert not of_type(events, KeyChanged) and not of_type(events, PeerRefused)
    assert bob.dropped_frames > dropped
    assert not bob.can_send_to(carol.address)
    assert alice.can_send_to(carol.address)
    # Whatever Carol sends, Bob never shows anything from her over a substituted key.
    pump.take(bob.address)
    pump.tamper = None
    carol.send_text("can you read this?", pump.now)
    pump.run()
    assert texts(pump.take(bob.address)) == []
    assert texts(pump.take(alice.address)) == ["can you read this?"]


def flip_messages_to(recipient: bytes, sender: bytes, limit: int = 1) -> object:
    done: list[int] = []

    def hook(to: bytes, payload: Payload) -> list[Payload]:
        mine = to == recipient and isinstance(payload, Message) and payload.sender == sender
        if mine and len(done) < limit:
            assert isinstance(payload, Message)
            done.append(1)
            body = payload.body[:-1] + bytes([payload.body[-1] ^ 1])
            return [dataclasses.replace(payload, body=body)]
        return [payload]

    return hook


def test_tampered_member_add_is_dropped_and_the_member_not_trusted() -> None:
    pump, alice, bob = two_party()
    pump.take(bob.address)
    pump.tamper = flip_messages_to(bob.address, alice.address)  # type: ignore[assignment]
    carol = pump.add(Session.join(identity("carol"), CODE, SeededRng(b"c"), NOW))
    pump.run()
    assert not of_type(pump.take(bob.address), PeerAuthenticated)
    assert carol.address not in {m.address for m in bob.members}
    assert bob.dropped_frames >= 1
    # Carol's MEMBER_INIT stays pending at Bob; Carol never gets a channel with Bob.
    assert not carol.can_send_to(bob.address)


def test_tampered_confirmations_are_detected() -> None:
    def flip_kind(kind: PakeKind) -> object:
        def hook(to: bytes, payload: Payload) -> list[Payload]:
            if isinstance(payload, LobbyMessage) and payload.body[1] == kind:
                return [dataclasses.replace(payload, body=payload.body[:-1] + b"\x00")]
            return [payload]

        return hook

    pump = Pump()
    alice = pump.add(Session.create(identity("alice"), SeededRng(b"a"), NOW, CODE))
    pump.tamper = flip_kind(PakeKind.CONFIRM_J)  # type: ignore[assignment]
    pump.run()
    bob = pump.add(Session.join(identity("bob"), CODE, SeededRng(b"b"), NOW))
    pump.run()
    assert of_type(pump.take(alice.address), PeerRefused)
    assert not alice.members and bob.state is State.AUTHENTICATING

    pump.tamper = flip_kind(PakeKind.CONFIRM_C)  # type: ignore[assignment]
    carol = pump.add(Session.join(identity("carol"), CODE, SeededRng(b"c"), NOW))
    pump.run()
    assert of_type(pump.take(carol.address), SessionFailed)
    assert carol.state is State.FAILED and not carol.members


# ------------------------------------------------------------------ replay, reorder, loss


def test_replayed_and_reordered_messages_are_shown_once() -> None:
    pump, alice, bob = two_party()
    pump.take(bob.address)
    ids = [alice.send_text(f"m{n}", pump.now + n) for n in range(4)]
    frames = [p for p in alice.data_to_send() if isinstance(p, Message)]
    assert len(frames) == 4
    # The relay delivers them out of order, twice each, in three reads.
    turns = [[frames[2], frames[0], frames[3], frames[2]], [frames[1], frames[0]], [frames[3]]]
    receipts: list[Message] = []
    for turn in turns:
        for frame in turn:
            bob.receive(frame, pump.now)
        # What one read earned goes as one receipt (docs/protocol.md §10.2).
        receipts += [p for p in bob.data_to_send() if isinstance(p, Message)]
    events = bob.events()
    shown = of_type(events, MessageReceived)
    assert sorted(m.text for m in shown) == ["m0", "m1", "m2", "m3"]
    assert [m.text for m in sorted(shown, key=lambda m: m.timestamp)] == ["m0", "m1", "m2", "m3"]
    assert {m.message_id for m in shown} == set(ids)
    # Each read was receipted, the duplicates again (the last read holds only one), never
    # shown again.
    assert len(receipts) == 3
    assert bob.dropped_frames == 0
    for receipt in receipts:
        alice.receive(receipt, pump.now)
    a_events = alice.events()
    assert all(statuses(a_events, m)[-1] is DeliveryStatus.DELIVERED for m in ids)


def test_rejoin_retransmits_the_same_frames_until_delivered() -> None:
    pump, alice, bob = two_party()
    pump.take(alice.address), pump.take(bob.address)
    message_id = alice.send_text("are you there?", pump.now)
    [lost] = [p for p in alice.data_to_send() if isinstance(p, Message)]  # lost in a restart
    alice.rejoin(pump.now)
    [join] = alice.data_to_send()
    assert isinstance(join, Join)
    assert (join.session_id, join.nameplate, join.proof) == (alice.session_id, CODE.nameplate, b"")
    assert len(join.join_key) == 32  # the I/O layer adds the proof (Session.sign_join)
    # Held until the relay shows Bob as a member again, then the very same frame.
    alice.receive(pump_joined(alice, [bob.address]), pump.now)
    again = alice.data_to_send()
    assert lost in again and all(isinstance(p, Message) for p in again)
    bob.receive(lost, pump.now)
    assert texts(bob.events()) == ["are you there?"]
    # The receipt is lost too: a second retransmission is re-receipted, not shown again.
    bob.data_to_send()
    alice.rejoin(pump.now)
    alice.receive(pump_joined(alice, [bob.address]), pump.now)
    assert lost in alice.data_to_send()
    bob.receive(lost, pump.now)
    assert texts(bob.events()) == []
    [receipt] = bob.data_to_send()
    assert isinstance(receipt, Message)
    alice.receive(receipt, pump.now)
    assert statuses(alice.events(), message_id) == [DeliveryStatus.DELIVERED]
    alice.rejoin(pump.now)
    alice.receive(pump_joined(alice, [bob.address]), pump.now)
    [join] = alice.data_to_send()
    assert isinstance(join, Join)
    assert (join.session_id, join.nameplate, join.proof) == (alice.session_id, CODE.nameplate, b"")
    assert len(join.join_key) == 32  # the I/O layer adds the proof (Session.sign_join)


def pump_joined(session: Session, others: list[bytes]) -> Payload:
    return Joined(session.session_id, "", tuple(Member(o, "x", True) for o in others))


def test_reconnect_through_the_pump_loses_nothing() -> None:
    pump, alice, bob = two_party()
    pump.take(bob.address)
    pump.disconnect(bob.address)
    alice.send_text("while you were away", pump.now)
    pump.run()
    pump.inbox[bob.address].clear()  # the relay restarted and lost its buffer
    pump.reconnect(bob.address)
    pump.reconnect(alice.address)
    pump.run()
    assert texts(pump.take(bob.address)) == ["while you were away"]


def test_relay_acks_and_errors_drive_statuses() -> None:
    pump, alice, bob = two_party()
    pump.take(alice.address)
    first = alice.send_text("one", pump.now)
    second = alice.send_text("two", pump.now)
    alice.data_to_send()
    sid = alice.session_id
    alice.receive(Ack(sid, alice.address, bob.address, first, AckStatus.BUFFERED), pump.now)
    alice.receive(Ack(sid, alice.address, bob.address, first, AckStatus.EXPIRED), pump.now)
    full = Error(ErrorCode.BUFFER_FULL, "full", MessageType.MESSAGE, second)
    alice.receive(full, pump.now)
    limited = Error(ErrorCode.RATE_LIMITED, "slow down", MessageType.MESSAGE, second)
    alice.receive(limited, pump.now)
    # A code this client does not know is treated like INTERNAL (§5): no failure.
    alice.receive(Error(777, "news", MessageType.MESSAGE, second), pump.now)
    # An Ack EXPIRED leaves the text Sent (it goes again when Bob is back); a full buffer or a
    # rate limit is no failure either (it goes again on its timer).
    events = alice.events()
    assert statuses(events, first) == [DeliveryStatus.SENT]
    assert statuses(events, second) == []
    # A refusal that can never succeed fails it.
    alice.receive(Error(ErrorCode.TOO_LARGE, "big", MessageType.MESSAGE, second), pump.now)
    assert statuses(alice.events(), second) == [DeliveryStatus.FAILED]
    assert alice.status(first) is DeliveryStatus.SENT


# ------------------------------------------------------------------ leave


def test_leave() -> None:
    pump, alice, bob, carol = three_members()
    for s in (alice, bob, carol):
        pump.take(s.address)
    bob.leave(pump.now)
    out = bob.data_to_send()
    assert out[-1] == Leave(bob.session_id)
    assert sum(isinstance(p, Message) for p in out) == 2
    for payload in out:
        pump.route(bob.address, payload)
    pump.run()
    for other in (alice, carol):
        assert of_type(pump.take(other.address), PeerLeft) == [
            PeerLeft(bob.address, LeaveReason.LEFT, gone=True)
        ]
        assert bob.address not in {m.address for m in other.members}
    assert bob.state is State.CLOSED
    with pytest.raises(LocalProtocolError):
        bob.send_text("still here?", pump.now)
    bob.leave(pump.now)  # idempotent
    assert bob.data_to_send() == []
    alice.leave(pump.now)
    out = alice.data_to_send()
    assert ReleaseNameplate(alice.session_id, CODE.nameplate) in out


# ------------------------------------------------------------------ robustness


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=st.binary(max_size=300),
    kind=st.one_of(st.none(), st.integers(0, 7)),
    as_message=st.booleans(),
)
def test_arbitrary_bodies_from_a_peer_never_raise(
    body: bytes, kind: int | None, as_message: bool
) -> None:
    alice, bob, session_id = _PAIR
    if as_message:
        frame: Payload = Message(session_id, bob, alice.address, b"\x07" * 16, NOW, body)
    else:
        packed = body if kind is None else msgpack.packb([kind, body], use_bin_type=True)
        frame = KeyExchange(session_id, bob, alice.address, packed)
    before = alice.dropped_frames
    alice.receive(frame, NOW)
    alice.events(), alice.data_to_send()
    assert alice.state is State.ACTIVE
    assert alice.dropped_frames >= before


def _make_pair() -> tuple[Session, bytes, bytes]:
    _, alice, bob = two_party()
    alice.events(), alice.data_to_send()
    return alice, bob.address, alice.session_id


_PAIR = _make_pair()


# ------------------------------------------------------------------ other interleavings


def test_member_init_that_overtakes_the_vouch_waits_for_it() -> None:
    pump, alice, bob = two_party()
    delay = Delay(bob.address, alice.address, Message)  # Alice's MEMBER_ADD to Bob is late
    pump.tamper = delay
    carol = pump.add(Session.join(identity("carol"), CODE, SeededRng(b"c"), NOW))
    pump.run()
    assert delay.stash and carol.address not in {m.address for m in bob.members}
    delay.release(pump)
    pump.run()
    assert bob.can_send_to(carol.address) and carol.can_send_to(bob.address)
    carol.send_text("late but fine", pump.now)
    pump.run()
    assert texts(pump.take(bob.address)) == ["late but fine"]
    assert bob.dropped_frames == 0


def test_messages_before_the_channel_exists_are_kept_until_it_does() -> None:
    pump, _alice, bob = two_party()
    # A Carol whose address sorts first: she is the initiator of her channel with Bob.
    carol_identity = next(
        who for who in map(identity, [f"carol{n}" for n in range(64)]) if who.address < bob.address
    )
    delay = Delay(bob.address, carol_identity.address, KeyExchange)  # Carol's MEMBER_INIT
    pump.tamper = delay
    carol = pump.add(Session.join(carol_identity, CODE, SeededRng(b"c"), NOW))
    pump.run()
    assert carol.can_send_to(bob.address) and not bob.can_send_to(carol.address)
    pump.take(bob.address)
    carol.send_text("early bird", pump.now)
    pump.run()
    assert texts(pump.take(bob.address)) == []
    delay.release(pump)
    pump.run()
    assert texts(pump.take(bob.address)) == ["early bird"]
    assert bob.can_send_to(carol.address)
    assert bob.dropped_frames == 0


def test_joiner_rejoins_in_the_middle_of_the_pake() -> None:
    pump = Pump()
    alice = pump.add(Session.create(identity("alice"), SeededRng(b"a"), NOW, CODE))
    pump.run()
    bob = pump.add(Session.join(identity("bob"), CODE, SeededRng(b"b"), NOW))
    pump.step()  # Bob's Join is routed; Joined waits in his inbox
    pump.step()  # Bob starts the PAKE
    states = [bob.state]
    pump.disconnect(bob.address)
    pump.reconnect(bob.address)
    states.append(bob.state)
    pump.run()
    states.append(bob.state)
    assert states == [State.AUTHENTICATING, State.CONNECTING, State.ACTIVE]
    assert alice.can_send_to(bob.address)


def test_frames_that_do_not_concern_the_session_are_dropped() -> None:
    _, alice, bob = two_party()
    sid, other = alice.session_id, b"o" * 16
    before = alice.dropped_frames
    frames: list[Payload] = [
        Message(other, bob.address, alice.address, b"1" * 16, NOW, b"x" * 60),
        Message(sid, alice.address, bob.address, b"1" * 16, NOW, b"x" * 60),  # our own
        Message(sid, bob.address, b"c" * 16, b"1" * 16, NOW, b"x" * 60),  # someone else's
        KeyExchange(sid, alice.address, b"", b"\x91\x01"),
        Ack(sid, bob.address, alice.address, b"1" * 16, AckStatus.ACCEPTED),
        Ack(sid, alice.address, bob.address, b"1" * 16, AckStatus.RECEIVED),
        Error(ErrorCode.UNKNOWN_INVITE, "x", MessageType.JOIN, b""),  # not joining any more
        Error(ErrorCode.RATE_LIMITED, "x", MessageType.PING, b""),
        Join(sid, ""),
        Joined(other, "", ()),
    ]
    for frame in frames:
        alice.receive(frame, NOW)
    assert alice.dropped_frames == before + 10
    assert alice.state is State.ACTIVE and alice.events() == []


def test_relay_refusals_of_a_join_fail_the_session() -> None:
    creator = Session.create(identity("alice"), SeededRng(b"a"), NOW, CODE)
    creator.receive(Error(ErrorCode.NAMEPLATE_TAKEN, "taken", MessageType.JOIN, b""), NOW)
    assert creator.events() == [SessionFailed("invite code already in use")]
    assert creator.data_to_send()[-1] == Leave(creator.session_id)
    creator.rejoin(NOW)
    creator.receive(Joined(creator.session_id, "", ()), NOW)
    assert creator.data_to_send() == [] and creator.events() == []
    with pytest.raises(LocalProtocolError):
        creator.mark_read([], NOW)
    creator.leave(NOW)
    assert creator.state is State.CLOSED


@settings(max_examples=10, deadline=None)
@given(order=st.binary(min_size=1, max_size=8))
def test_any_interleaving_of_senders_converges(order: bytes) -> None:
    pump = Pump()
    pump.order = order
    alice = pump.add(Session.create(identity("alice"), SeededRng(b"a"), NOW, CODE))
    pump.run()
    # Bob and Carol join at the same time: their handshakes interleave.
    bob = pump.add(Session.join(identity("bob"), CODE, SeededRng(b"b"), NOW))
    carol = pump.add(Session.join(identity("carol"), CODE, SeededRng(b"c"), NOW))
    pump.run()
    everyone = (alice, bob, carol)
    assert all(session.state is State.ACTIVE for session in everyone)
    for session in everyone:
        session.send_text(f"from {session.role.value}", pump.now)
    pump.run()
    for session in everyone:
        events = pump.take(session.address)
        shown = sorted(texts(events))
        expected = sorted(f"from {s.role.value}" for s in everyone if s is not session)
        assert shown == expected
        assert session.dropped_frames == 0


def test_sent_names_our_kept_texts_and_receipts() -> None:
    # A relay Error about a Message names only its id: the client finds the session by `sent`,
    # receipts included (they are kept until the relay acknowledges them, §10.3.5).
    pump, alice, bob = two_party()
    pump.take(alice.address)
    text = alice.send_text("hello", pump.now)
    assert alice.sent(text) and not bob.sent(text)
    [frame] = [p for p in alice.data_to_send() if isinstance(p, Message)]
    bob.receive(frame, pump.now)
    [receipt] = [p for p in bob.data_to_send() if isinstance(p, Message)]
    assert bob.sent(receipt.message_id) and not alice.sent(receipt.message_id)


def test_a_receipt_refused_for_good_is_dropped_a_transient_refusal_kept() -> None:
    # §10.3.5: sending again cannot help a receipt the relay refused as malformed; it must not
    # be resent every minute. A rate limit or a full buffer is retried on the timer.
    pump, alice, bob = two_party()
    pump.take(alice.address)
    for code, kept in ((ErrorCode.RATE_LIMITED, True), (ErrorCode.MALFORMED, False)):
        alice.send_text(f"{code.name}", pump.now)
        [frame] = [p for p in alice.data_to_send() if isinstance(p, Message)]
        bob.receive(frame, pump.now)
        [receipt] = [p for p in bob.data_to_send() if isinstance(p, Message)]
        refusal = Error(code, "no", MessageType.MESSAGE, receipt.message_id)
        bob.receive(refusal, pump.now)
        assert bob.sent(receipt.message_id) is kept


# ------------------------------------------------------------------ receipts grouped per read


def _texts(alice: Session, count: int, now: int) -> tuple[list[bytes], list[Message]]:
    ids = [alice.send_text(f"m{n}", now + n) for n in range(count)]
    return ids, [p for p in alice.data_to_send() if isinstance(p, Message)]


def test_texts_read_together_get_one_receipt_of_at_most_256_ids() -> None:
    pump, alice, bob = two_party()
    pump.take(alice.address), pump.take(bob.address)
    ids, frames = _texts(alice, env.MAX_RECEIPT_IDS + 1, pump.now)
    for frame in frames:
        bob.receive(frame, pump.now)
    receipts = [p for p in bob.data_to_send() if isinstance(p, Message)]
    assert len(receipts) == 2  # 256 ids, then 1 (docs/protocol.md §10.2)
    for receipt in receipts:
        alice.receive(receipt, pump.now)
    a_events = alice.events()
    assert all(statuses(a_events, m)[-1] is DeliveryStatus.DELIVERED for m in ids)
    assert bob.data_to_send() == []  # nothing owed twice


def test_held_receipts_go_once_stored_grouped_per_drain() -> None:
    pump, alice, bob = two_party()
    pump.take(alice.address), pump.take(bob.address)
    bob.hold_delivered_receipts()
    ids, frames = _texts(alice, 3, pump.now)
    for frame in frames:
        bob.receive(frame, pump.now)
    assert [p for p in bob.data_to_send() if isinstance(p, Message)] == []  # not stored yet
    for message_id in ids[:2]:
        bob.message_stored(alice.address, message_id, pump.now)
    [receipt] = [p for p in bob.data_to_send() if isinstance(p, Message)]
    alice.receive(receipt, pump.now)
    a_events = alice.events()
    assert [statuses(a_events, m)[-1:] for m in ids] == [[DeliveryStatus.DELIVERED]] * 2 + [[]]


def test_receipts_owed_go_before_our_leave() -> None:
    pump, alice, bob = two_party()
    pump.take(alice.address), pump.take(bob.address)
    ids, frames = _texts(alice, 3, pump.now)
    for frame in frames:
        bob.receive(frame, pump.now)
    bob.leave(pump.now)  # before the frames were drained: the receipt is still sealed first
    for payload in bob.data_to_send():
        if isinstance(payload, Message):
            alice.receive(payload, pump.now)
    a_events = alice.events()
    assert all(statuses(a_events, m)[-1] is DeliveryStatus.DELIVERED for m in ids)
    assert of_type(a_events, PeerLeft) == [PeerLeft(bob.address, LeaveReason.LEFT, gone=True)]
