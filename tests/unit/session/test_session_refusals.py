"""Every refusal path of a session, asserted by its event or outcome (and a few bounds)."""

from __future__ import annotations

import dataclasses

import pytest
from session_pump import (
    NOW,
    Delay,
    Pump,
    SeededRng,
    identity,
    messages,
    of_type,
    texts,
    two_party,
)

from quicko.crypto import X25519KeyPair
from quicko.errors import LocalProtocolError
from quicko.identity import Identity, InviteCode
from quicko.protocol import (
    Ack,
    AckStatus,
    Joined,
    KeyExchange,
    Leave,
    LeaveReason,
    Member,
    Message,
    Payload,
    PeerJoined,
    PeerLeft,
    encode_frame,
)
from quicko.session import (
    DEFAULT_MESSAGE_TTL_MS,
    DeliveryStatus,
    InviteRetired,
    KeyChanged,
    PeerAuthenticated,
    PeerRefused,
    Session,
    State,
    StatusChanged,
    WrongInviteCode,
    core,
    handshake,
)
from quicko.session import envelope as env
from quicko.session.bundle import IdentityBundle, make_bundle
from quicko.session.core import TRANSITIONS
from quicko.session.pake import (
    ConfirmC,
    ConfirmJ,
    CreatorPake,
    JoinerPake,
    MemberInit,
    PakeFail,
    decode_handshake,
    encode_handshake,
)

CODE = InviteCode("KBQW", "E3TV")
WRONG = InviteCode("KBQW", "0000")
_IDS = SeededRng(b"misbehaving message ids")


def state(session: Session) -> State:
    """The session's state, read afresh (so that mypy does not narrow it across calls)."""
    return session.state


def three_members() -> tuple[Pump, Session, Session, Session]:
    pump, alice, bob = two_party()
    carol = pump.add(Session.join(identity("carol"), CODE, SeededRng(b"c"), NOW))
    pump.run()
    for session in (alice, bob, carol):
        pump.take(session.address)
    return pump, alice, bob, carol


def misbehave(pump: Pump, sender: Session, to: Session, envelope: env.Envelope) -> None:
    """``sender`` seals an envelope its state machine would never send, and the pump routes it.

    This is what a buggy or malicious member can do: the channel is real, only the content is
    chosen by hand.
    """
    peer = sender._peers[to.address]
    sender._send_envelope(peer, envelope, _IDS(16), pump.now)
    pump.run()


def bundle(who: Identity, session: Session, seed: bytes = b"e") -> IdentityBundle:
    ephemeral = X25519KeyPair.generate(SeededRng(seed))
    return make_bundle(who, ephemeral, session.session_id)


def key_exchange(session: Session, sender: bytes, body: bytes) -> KeyExchange:
    return KeyExchange(session.session_id, sender, session.address, body)


def carol_without_channel_at_bob() -> tuple[Pump, Session, Session, Session]:
    """Bob knows Carol from Alice's vouch, but Carol's MEMBER_INIT never reaches him."""
    pump, alice, bob = two_party()
    pump.tamper = Delay(bob.address, identity("carol").address, KeyExchange)
    carol = pump.add(Session.join(identity("carol"), CODE, SeededRng(b"c"), NOW))
    pump.run()
    assert carol.address in {m.address for m in bob.members}
    assert not bob.can_send_to(carol.address)
    for session in (alice, bob, carol):
        pump.take(session.address)
    return pump, alice, bob, carol


# ------------------------------------------------------------------ vouches (MEMBER_ADD)


def test_a_vouch_for_a_known_member_is_ignored_or_reported_as_a_key_change() -> None:
    pump, alice, bob, carol = three_members()
    carol_bundle = bundle(identity("carol"), alice)
    misbehave(pump, alice, bob, env.MemberAdd(carol_bundle.encode()))
    assert pump.take(bob.address) == [] and bob.dropped_frames == 0
    evil = identity("evil").public.x25519_public
    swapped = dataclasses.replace(carol_bundle, x25519_public=evil)
    misbehave(pump, alice, bob, env.MemberAdd(swapped.encode()))
    assert pump.take(bob.address) == [KeyChanged(carol.address)]
    assert bob.safety_number(carol.address) == carol.safety_number(bob.address)


def test_a_vouch_whose_bundle_does_not_verify_is_refused() -> None:
    pump, alice, bob, _carol = three_members()
    dave = identity("dave")
    forged = dataclasses.replace(bundle(dave, alice), signature=bytes(64))
    misbehave(pump, alice, bob, env.MemberAdd(forged.encode()))
    assert pump.take(bob.address) == [PeerRefused(dave.address, "vouched bundle did not verify")]
    assert dave.address not in {m.address for m in bob.members}


def test_only_the_creator_vouches_and_only_to_joiners() -> None:
    pump, alice, bob, carol = three_members()
    dave = bundle(identity("dave"), alice)
    misbehave(pump, carol, bob, env.MemberAdd(dave.encode()))  # Carol is not the creator
    misbehave(pump, bob, alice, env.MemberAdd(dave.encode()))  # Alice is the creator
    for session in (alice, bob):
        assert not of_type(pump.take(session.address), PeerAuthenticated)
        assert dave.address not in {m.address for m in session.members}
        assert session.dropped_frames == 0


def test_the_creators_own_bundle_among_the_vouched_is_skipped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = CreatorPake.confirm

    def confirm(
        self: CreatorPake, own: IdentityBundle, vouched: tuple[IdentityBundle, ...]
    ) -> ConfirmC:
        return original(self, own, (*vouched, own))

    monkeypatch.setattr(CreatorPake, "confirm", confirm)
    pump, alice, bob = two_party()
    events = pump.take(bob.address)
    assert [e.address for e in of_type(events, PeerAuthenticated)] == [alice.address]
    assert not of_type(events, KeyChanged) and bob.state is State.ACTIVE


# ------------------------------------------------------------------ handshake out of place


def test_handshake_frames_out_of_place_are_dropped() -> None:
    pump, alice, bob = two_party()
    pump.take(alice.address), pump.take(bob.address)
    start = JoinerPake(CODE.password, alice.session_id, bob.address, SeededRng(b"x")).start()
    confirm = ConfirmJ(bytes(32), b"sealed")
    cases: list[tuple[Session, KeyExchange]] = [
        # A member already authenticated starts a PAKE again: the creator does not answer.
        (alice, key_exchange(alice, bob.address, encode_handshake(start))),
        # A confirmation for an attempt the creator does not have.
        (alice, key_exchange(alice, b"z" * 16, encode_handshake(confirm))),
        # CONFIRM_C and PAKE_FAIL to a joiner that is no longer authenticating.
        (bob, key_exchange(bob, alice.address, encode_handshake(ConfirmC(bytes(32), b"s")))),
        (bob, key_exchange(bob, alice.address, encode_handshake(PakeFail(1)))),
    ]
    for session, frame in cases:
        before = session.dropped_frames
        session.receive(frame, pump.now)
        assert session.dropped_frames == before + 1
        assert session.data_to_send() == [] and session.events() == []
        assert session.state is State.ACTIVE


def test_a_retired_code_answers_no_pake_start() -> None:
    pump, alice, _bob = two_party()
    for n in range(3):
        pump.add(Session.join(identity(f"w{n}"), WRONG, SeededRng(bytes([n])), NOW))
        pump.run()
    assert of_type(pump.take(alice.address), InviteRetired) == [InviteRetired()]
    joiner = identity("late")
    start = JoinerPake(CODE.password, alice.session_id, joiner.address, SeededRng(b"l")).start()
    before = alice.dropped_frames
    alice.receive(key_exchange(alice, joiner.address, encode_handshake(start)), pump.now)
    assert alice.dropped_frames == before + 1 and alice.data_to_send() == []


def test_pake_fail_from_someone_other_than_the_creator_is_dropped() -> None:
    pump = Pump()
    alice = pump.add(Session.create(identity("alice"), SeededRng(b"a"), NOW, CODE))
    pump.run()

    def no_confirm_j(to: bytes, payload: Payload) -> list[Payload]:
        unicast = isinstance(payload, KeyExchange) and payload.recipient == alice.address
        return [] if to == alice.address and unicast else [payload]

    pump.tamper = no_confirm_j
    bob = pump.add(Session.join(identity("bob"), CODE, SeededRng(b"b"), NOW))
    pump.run()
    assert bob.state is State.AUTHENTICATING
    pump.take(bob.address)
    bob.receive(key_exchange(bob, b"z" * 16, encode_handshake(PakeFail(0))), pump.now)
    assert bob.state is State.AUTHENTICATING and bob.events() == [] and bob.dropped_frames == 1
    bob.receive(key_exchange(bob, alice.address, encode_handshake(PakeFail(2))), pump.now)
    assert bob.events() == [WrongInviteCode(2)] and state(bob) is State.FAILED
    assert bob.data_to_send()[-1] == Leave(alice.session_id)


def test_a_member_init_after_the_channel_exists_is_dropped() -> None:
    pump, alice, bob, carol = three_members()
    again = MemberInit(bundle(identity("carol"), alice, b"again").encode())
    bob.receive(key_exchange(bob, carol.address, encode_handshake(again)), pump.now)
    assert bob.dropped_frames == 1 and bob.events() == []
    carol.send_text("same channel", pump.now)
    pump.run()
    assert texts(pump.take(bob.address)) == ["same channel"]
    # Nor does the creator (whose channels come from the PAKE) take one.
    alice.receive(key_exchange(alice, carol.address, encode_handshake(again)), pump.now)
    assert alice.dropped_frames == 1


def test_pending_member_inits_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(handshake, "MAX_MEMBERS", 0)  # no MEMBER_INIT is kept before its vouch
    pump, alice, bob = two_party()
    delay = Delay(bob.address, alice.address, Message)  # Alice's vouch for Carol is late
    pump.tamper = delay
    carol = pump.add(Session.join(identity("carol"), CODE, SeededRng(b"c"), NOW))
    pump.run()
    delay.release(pump)
    pump.run()
    # Bob now trusts Carol, but did not keep her early MEMBER_INIT: no channel with her. (With
    # the real bound, MAX_MEMBERS, only strangers beyond a full session's worth are not kept.)
    assert carol.address in {m.address for m in bob.members}
    assert not bob.can_send_to(carol.address)


# ------------------------------------------------------------------ bounds


def test_early_frames_are_bounded_and_repaired_by_retransmission(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pump, _alice, bob = two_party()
    carol_identity = next(
        who for who in map(identity, [f"carol{n}" for n in range(64)]) if who.address < bob.address
    )
    delay = Delay(bob.address, carol_identity.address, KeyExchange)  # Carol's MEMBER_INIT
    pump.tamper = delay
    carol = pump.add(Session.join(carol_identity, CODE, SeededRng(b"c"), NOW))
    pump.run()
    pump.take(bob.address)
    monkeypatch.setattr(core, "MAX_HELD_FRAMES", 2)
    for n in range(3):
        carol.send_text(f"early {n}", pump.now)
    pump.run()  # Bob keeps only the newest two frames of SYNC + 3 texts
    delay.release(pump)
    pump.run()
    assert texts(pump.take(bob.address)) == ["early 1", "early 2"]
    pump.reconnect(carol.address)  # "early 0" was never delivered: retransmitted
    pump.run()
    assert texts(pump.take(bob.address)) == ["early 0"]


def test_held_frames_are_bounded_and_the_dropped_text_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pump, alice, bob = two_party()
    alice.events(), alice.data_to_send()
    alice.rejoin(pump.now)  # until the relay shows Bob again, frames to him are held
    alice.data_to_send()
    monkeypatch.setattr(core, "MAX_HELD_FRAMES", 2)
    ids = [alice.send_text(f"t{n}", pump.now) for n in range(3)]
    assert alice.events() == [StatusChanged(ids[0], DeliveryStatus.FAILED)]
    alice.receive(Joined(alice.session_id, "", (Member(bob.address, "b", True),)), pump.now)
    sent = {frame.message_id for frame in messages(alice.data_to_send())}
    assert ids[0] not in sent and {ids[1], ids[2]} <= sent


def test_held_handshake_frames_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    alice = Session.create(identity("alice"), SeededRng(b"a"), NOW, CODE)
    sid = alice.session_id
    alice.receive(Joined(sid, CODE.nameplate, ()), NOW)
    alice.data_to_send(), alice.events()
    monkeypatch.setattr(core, "MAX_HELD_FRAMES", 1)
    joiners = [identity(f"j{n}") for n in range(2)]
    for n, joiner in enumerate(joiners):  # the relay has not announced them yet
        start = JoinerPake(CODE.password, sid, joiner.address, SeededRng(bytes([n]))).start()
        alice.receive(KeyExchange(sid, joiner.address, b"", encode_handshake(start)), NOW)
    assert alice.data_to_send() == []
    alice.receive(PeerJoined(sid, joiners[0].address, "j0"), NOW)
    assert alice.data_to_send() == []  # its PAKE_REPLY was dropped to make room
    alice.receive(PeerJoined(sid, joiners[1].address, "j1"), NOW)
    [reply] = alice.data_to_send()
    assert isinstance(reply, KeyExchange) and reply.recipient == joiners[1].address


# ------------------------------------------------------------------ members leaving


def test_a_recipient_that_leaves_fails_what_it_did_not_get() -> None:
    pump, alice, bob = two_party()
    pump.take(alice.address)
    pump.disconnect(bob.address)
    message_id = alice.send_text("too late", pump.now)
    pump.run()
    alice.receive(PeerLeft(alice.session_id, bob.address, LeaveReason.LEFT), pump.now)
    events = pump.take(alice.address) + alice.events()
    assert [e.status for e in of_type(events, StatusChanged)] == [
        DeliveryStatus.SENT,
        DeliveryStatus.FAILED,
    ]
    assert alice.status(message_id) is DeliveryStatus.FAILED and not alice.members


def test_a_member_without_a_channel_leaves_or_is_left() -> None:
    pump, _alice, bob, carol = carol_without_channel_at_bob()
    bob.receive(PeerLeft(bob.session_id, carol.address, LeaveReason.LEFT), pump.now)
    assert carol.address not in {m.address for m in bob.members}
    pump, alice, bob, carol = carol_without_channel_at_bob()
    bob.leave(pump.now)
    out = bob.data_to_send()
    # The encrypted LEAVE goes to Alice only: there is no channel to Carol to carry one.
    assert [frame.recipient for frame in messages(out)] == [alice.address]
    assert out[-1] == Leave(bob.session_id) and bob.state is State.CLOSED


def test_a_group_text_failed_for_one_recipient_expires_without_a_second_event() -> None:
    pump, alice, bob, carol = three_members()
    pump.disconnect(carol.address)
    message_id = alice.send_text("to both", pump.now)
    alice.data_to_send()
    sid = alice.session_id
    # The relay's copy for Bob expired: not a failure (it goes again when he is back) ...
    alice.receive(Ack(sid, alice.address, bob.address, message_id, AckStatus.EXPIRED), pump.now)
    assert alice.events() == []
    # ... but Bob leaving for good is: FAILED for him, so FAILED for the group text.
    alice.receive(PeerLeft(sid, bob.address, LeaveReason.LEFT), pump.now)
    assert of_type(alice.events(), StatusChanged) == [
        StatusChanged(message_id, DeliveryStatus.FAILED)
    ]
    alice.handle_timeout(pump.now + DEFAULT_MESSAGE_TTL_MS)
    assert alice.events() == [] and alice.next_deadline() is None


def test_mark_read_after_the_sender_left_sends_nothing() -> None:
    pump, alice, bob = two_party()
    message_id = alice.send_text("bye", pump.now)
    pump.run()
    alice.leave(pump.now)
    pump.run()
    assert bob.address not in {m.address for m in alice.members} or alice.state is State.CLOSED
    assert alice.address not in {m.address for m in bob.members}
    bob.data_to_send()
    bob.mark_read([message_id], pump.now)
    assert bob.data_to_send() == []


# ------------------------------------------------------------------ relay frames, leave, state


def test_a_joiner_that_leaves_before_joining_sends_no_leave() -> None:
    joiner = Session.join(identity("bob"), CODE, SeededRng(b"b"), NOW)
    joiner.data_to_send()
    joiner.leave(NOW)
    assert joiner.data_to_send() == [] and joiner.state is State.CLOSED


def test_a_rejoining_joiner_ignores_a_joined_for_another_session() -> None:
    joiner = Session.join(identity("bob"), CODE, SeededRng(b"b"), NOW)
    joiner.receive(Joined(b"s" * 16, CODE.nameplate, ()), NOW)
    assert state(joiner) is State.AUTHENTICATING
    joiner.rejoin(NOW)
    assert state(joiner) is State.CONNECTING
    joiner.receive(Joined(b"o" * 16, CODE.nameplate, ()), NOW)
    assert state(joiner) is State.CONNECTING and joiner.dropped_frames == 1
    joiner.receive(Joined(b"s" * 16, CODE.nameplate, ()), NOW)
    assert state(joiner) is State.AUTHENTICATING


def test_peer_joined_about_ourselves_is_dropped() -> None:
    _, alice, _bob = two_party()
    alice.events()
    alice.receive(PeerJoined(alice.session_id, alice.address, "me"), NOW)
    assert alice.dropped_frames == 1 and alice.events() == []


def test_the_transition_table_is_enforced() -> None:
    session = Session.create(identity("alice"), SeededRng(b"a"), NOW, CODE)
    assert TRANSITIONS[State.CLOSED] == frozenset()
    assert TRANSITIONS[State.FAILED] == frozenset({State.CLOSED})
    session.leave(NOW)
    for state in State:
        with pytest.raises(LocalProtocolError, match="cannot go from closed"):
            session._move(state)
    assert session.state is State.CLOSED


def test_repr_shows_role_and_state_but_no_ids() -> None:
    _, alice, bob = two_party()
    text = repr(alice)
    assert text.startswith("<Session creator active peers=1 id=")
    assert alice.session_id.hex() not in text and bob.address.hex() not in text


def test_rejoin_retransmits_member_init_to_a_member_without_a_channel() -> None:
    pump, alice, bob, carol = carol_without_channel_at_bob()
    bob.rejoin(pump.now)
    bob.data_to_send()
    members = tuple(Member(m.address, "m", True) for m in (alice, carol))
    bob.receive(Joined(bob.session_id, "", members), pump.now)
    [init] = [p for p in bob.data_to_send() if isinstance(p, KeyExchange)]
    assert init.recipient == carol.address
    assert encode_frame(init) in pump.frames  # the very frame sent the first time
    assert isinstance(decode_handshake(init.body), MemberInit)
