"""Every refusal path of a session, asserted by its event or outcome (and a few bounds)."""

from __future__ import annotations

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

from quicko.client.compiled import is_compiled
from quicko.errors import LocalProtocolError
from quicko.identity import Identity, InviteCode, PublicIdentity
from quicko.protocol import (
    Ack,
    AckStatus,
    Join,
    Joined,
    KeyExchange,
    Leave,
    LeaveReason,
    Lobby,
    LobbyMessage,
    Member,
    Message,
    PeerJoined,
    PeerLeft,
    encode_frame,
)
from quicko.session import (
    DEFAULT_MESSAGE_TTL_MS,
    DeliveryStatus,
    KeyChanged,
    PeerAuthenticated,
    Session,
    SessionFailed,
    State,
    StatusChanged,
    WrongInviteCode,
    core,
    handshake,
)
from quicko.session import envelope as env
from quicko.session.bundle import HandshakeKeys, IdentityBundle, make_bundle, member_init_context
from quicko.session.core import TRANSITIONS
from quicko.session.delivery import RETRY_INITIAL_MS
from quicko.session.pake import (
    ConfirmC,
    ConfirmJ,
    CreatorPake,
    JoinerPake,
    LobbyBody,
    PakeFail,
    PakeReply,
    decode_member_init,
    encode_lobby_body,
    encode_member_init,
)

CODE = InviteCode("KBQW", "E3TV")
WRONG = InviteCode("KBQW", "0000")
_IDS = SeededRng(b"misbehaving message ids")


_PURE_ONLY = pytest.mark.skipif(
    is_compiled("quicko.session.core"),
    reason="compiled (mypyc), the Final bound is inlined: patching the module's constant "
    "changes nothing",
)
"""For the tests only the pure-Python path can run (quicko.client.compiled)."""


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
    """A MEMBER_INIT bundle of ``who`` for ``session``'s owner."""
    ephemeral = HandshakeKeys.generate(SeededRng(seed))
    return make_bundle(who, ephemeral, member_init_context(session.session_id, session.address))


def vouch(who: PublicIdentity) -> env.MemberAdd:
    return env.MemberAdd(who.address, who.x25519_public, who.ed25519_public)


def lobby(session: Session, peer: bytes, body: LobbyBody) -> LobbyMessage:
    return LobbyMessage(CODE.nameplate, peer, encode_lobby_body(body))


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


def test_a_vouch_for_a_known_member_is_ignored() -> None:
    pump, alice, bob, carol = three_members()
    misbehave(pump, alice, bob, vouch(identity("carol").public))
    assert pump.take(bob.address) == [] and bob.dropped_frames == 0
    assert bob.safety_number(carol.address) == carol.safety_number(bob.address)


def test_a_vouch_whose_keys_are_not_its_address_is_dropped() -> None:
    pump, alice, bob, carol = three_members()
    evil = identity("evil").public.x25519_public
    carol_public = identity("carol").public
    swapped = env.MemberAdd(carol_public.address, evil, carol_public.ed25519_public)
    misbehave(pump, alice, bob, swapped)
    # Self-certifying: no key can be substituted under an address, not even by the creator.
    assert pump.take(bob.address) == [] and bob.dropped_frames == 1
    assert bob.safety_number(carol.address) == carol.safety_number(bob.address)
    assert not of_type(pump.take(bob.address), KeyChanged)


def test_only_the_creator_vouches_and_only_to_joiners() -> None:
    pump, alice, bob, carol = three_members()
    dave = identity("dave").public
    misbehave(pump, carol, bob, vouch(dave))  # Carol is not the creator
    misbehave(pump, bob, alice, vouch(dave))  # Alice is the creator
    for session in (alice, bob):
        assert not of_type(pump.take(session.address), PeerAuthenticated)
        assert dave.address not in {m.address for m in session.members}
        assert session.dropped_frames == 0


def test_the_creators_own_identity_among_the_vouched_is_skipped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = CreatorPake.confirm

    def confirm(
        self: CreatorPake,
        own: IdentityBundle,
        *,
        session_id: bytes,
        join_seed: bytes,
        vouched: tuple[PublicIdentity, ...],
    ) -> ConfirmC:
        return original(self, own, session_id=session_id, join_seed=join_seed,
                        vouched=(*vouched, own.public_identity))  # fmt: skip

    monkeypatch.setattr(CreatorPake, "confirm", confirm)
    pump, alice, bob = two_party()
    events = pump.take(bob.address)
    assert [e.address for e in of_type(events, PeerAuthenticated)] == [alice.address]
    assert not of_type(events, KeyChanged) and bob.state is State.ACTIVE


# ------------------------------------------------------------------ handshake out of place


def test_lobby_frames_out_of_place_are_dropped() -> None:
    pump, alice, bob = two_party()
    pump.take(alice.address), pump.take(bob.address)
    start = JoinerPake(CODE.password, CODE.nameplate, bob.address, SeededRng(b"x")).start_message
    confirm = ConfirmJ(bytes(32), b"sealed")
    cases: list[tuple[Session, LobbyMessage]] = [
        # A confirmation for an attempt the creator does not have.
        (alice, lobby(alice, b"z" * 16, confirm)),
        # A PAKE_START about another nameplate, or with a sid already used.
        (alice, LobbyMessage("ZZZZ", bob.address, encode_lobby_body(start))),
        # Joiner-bound bodies to the owner, owner-bound bodies to a joiner.
        (alice, lobby(alice, b"z" * 16, PakeReply(bytes(32)))),
        (bob, lobby(bob, b"", start)),
        # CONFIRM_C and PAKE_FAIL to a joiner that is no longer authenticating.
        (bob, lobby(bob, b"", ConfirmC(bytes(32), b"s"))),
        (bob, lobby(bob, b"", PakeFail(1))),
        (bob, LobbyMessage(CODE.nameplate, b"", b"\x91\x09")),
    ]
    for session, frame in cases:
        before = session.dropped_frames
        session.receive(frame, pump.now)
        assert session.dropped_frames == before + 1
        assert session.data_to_send() == [] and session.events() == []
        assert session.state is State.ACTIVE


def test_a_replayed_pake_start_is_not_answered_twice() -> None:
    pump, alice, _bob = two_party()
    alice.data_to_send()
    start = JoinerPake(CODE.password, CODE.nameplate, b"j" * 16, SeededRng(b"x")).start_message
    alice.receive(lobby(alice, b"j" * 16, start), pump.now)
    [reply] = alice.data_to_send()
    assert isinstance(reply, LobbyMessage) and reply.peer == b"j" * 16
    before = alice.dropped_frames
    alice.receive(lobby(alice, b"k" * 16, start), pump.now)  # the same sid, replayed
    assert alice.data_to_send() == [] and alice.dropped_frames == before + 1


def test_pake_fail_before_a_reply_is_a_refusal_or_a_retry_and_after_it_a_wrong_code() -> None:
    def pending() -> Session:
        joiner = Session.join(identity("bob"), CODE, SeededRng(b"b"), NOW)
        joiner.receive(Lobby(CODE.nameplate), NOW)
        joiner.data_to_send()
        return joiner

    refused = pending()
    refused.receive(lobby(refused, b"", PakeFail(0)), NOW)
    assert refused.events() == [SessionFailed("the session's creator refused the join")]
    busy = pending()
    busy.receive(lobby(busy, b"", PakeFail(5_000)), NOW)
    assert busy.events() == [] and busy.next_deadline() == NOW + 5_000
    busy.handle_timeout(NOW + 5_000)
    assert busy.data_to_send() == [Join(b"", CODE.nameplate)]  # a new lobby period
    too_late = pending()
    too_late.receive(lobby(too_late, b"", PakeFail(60_000)), NOW)
    assert of_type(too_late.events(), SessionFailed)
    # After our CONFIRM_J: the code was wrong.
    alice = Session.create(identity("alice"), SeededRng(b"a"), NOW, CODE)
    wrong = pending()
    assert wrong._joiner_pake is not None
    alice.receive(lobby(alice, wrong.address, wrong._joiner_pake.start_message), NOW)
    reply = [p for p in alice.data_to_send() if isinstance(p, LobbyMessage)][-1]
    wrong.receive(LobbyMessage(CODE.nameplate, b"", reply.body), NOW)
    wrong.data_to_send()
    wrong.receive(lobby(wrong, b"", PakeFail(0)), NOW)
    assert wrong.events() == [WrongInviteCode(0)] and state(wrong) is State.FAILED


def test_a_member_init_after_the_channel_exists_is_dropped() -> None:
    pump, alice, bob, carol = three_members()
    again = encode_member_init(bundle(identity("carol"), bob, b"again"))
    bob.receive(key_exchange(bob, carol.address, again), pump.now)
    assert bob.dropped_frames == 1 and bob.events() == []
    carol.send_text("same channel", pump.now)
    pump.run()
    assert texts(pump.take(bob.address)) == ["same channel"]
    # Nor does the creator (whose channels come from the PAKE) take one.
    again = encode_member_init(bundle(identity("carol"), alice, b"again"))
    alice.receive(key_exchange(alice, carol.address, again), pump.now)
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


@_PURE_ONLY
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


@_PURE_ONLY
def test_held_frames_are_bounded_and_a_text_dropped_from_them_is_sent_by_the_ledger(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pump, alice, bob = two_party()
    alice.events(), alice.data_to_send()
    alice.rejoin(pump.now)  # until the relay shows Bob again, frames to him are held
    alice.data_to_send()
    monkeypatch.setattr(core, "MAX_HELD_FRAMES", 2)
    ids = [alice.send_text(f"t{n}", pump.now) for n in range(3)]
    assert alice.events() == []  # not a failure: the ledger still has it
    alice.receive(Joined(alice.session_id, "", (Member(bob.address, "b", True),)), pump.now)
    sent = {frame.message_id for frame in messages(alice.data_to_send())}
    assert ids[0] not in sent and {ids[1], ids[2]} <= sent
    alice.handle_timeout(pump.now + RETRY_INITIAL_MS)
    again = {frame.message_id for frame in messages(alice.data_to_send())}
    assert ids[0] in again


# ------------------------------------------------------------------ members leaving


def test_a_recipient_that_leaves_fails_what_it_did_not_get() -> None:
    pump, alice, bob = two_party()
    pump.take(alice.address)
    pump.disconnect(bob.address)
    message_id = alice.send_text("too late", pump.now)
    pump.run()
    # The relay's LEFT is not Bob's word: he is away, the text still waits for him.
    alice.receive(PeerLeft(alice.session_id, bob.address, LeaveReason.LEFT), pump.now)
    assert alice.status(message_id) is DeliveryStatus.SENT and alice.members
    # His own encrypted LEAVE removes him; what he did not get fails.
    pump.online.add(bob.address)
    misbehave(pump, bob, alice, env.Leave())
    events = pump.take(alice.address) + alice.events()
    assert [e.status for e in of_type(events, StatusChanged)] == [
        DeliveryStatus.SENT,
        DeliveryStatus.FAILED,
    ]
    assert alice.status(message_id) is DeliveryStatus.FAILED and not alice.members


def test_a_member_without_a_channel_leaves_or_is_left() -> None:
    pump, _alice, bob, carol = carol_without_channel_at_bob()
    bob.receive(PeerLeft(bob.session_id, carol.address, LeaveReason.LEFT), pump.now)
    assert carol.address in {m.address for m in bob.members} and bob.is_away(carol.address)
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
    # ... nor is the relay saying he left (a relay could forge it) ...
    alice.receive(PeerLeft(sid, bob.address, LeaveReason.LEFT), pump.now)
    assert not of_type(alice.events(), StatusChanged)
    # ... but his own LEAVE is: FAILED for him, so FAILED for the group text.
    misbehave(pump, bob, alice, env.Leave())
    assert of_type(pump.take(alice.address), StatusChanged) == [
        StatusChanged(message_id, DeliveryStatus.FAILED, "the peer left")
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


def test_a_joiner_in_the_lobby_ignores_joined_and_rejoins_by_nameplate() -> None:
    joiner = Session.join(identity("bob"), CODE, SeededRng(b"b"), NOW)
    assert joiner.data_to_send() == [Join(b"", CODE.nameplate)]
    joiner.receive(Lobby(CODE.nameplate), NOW)
    assert state(joiner) is State.AUTHENTICATING
    [start] = joiner.data_to_send()
    assert isinstance(start, LobbyMessage) and start.peer == b""
    joiner.receive(Joined(b"s" * 16, CODE.nameplate, ()), NOW)  # no session id yet: dropped
    assert joiner.dropped_frames == 1
    joiner.rejoin(NOW)
    assert state(joiner) is State.CONNECTING
    assert joiner.data_to_send() == [Join(b"", CODE.nameplate)]
    joiner.receive(Lobby("ZZZZ"), NOW)  # another nameplate's lobby
    assert state(joiner) is State.CONNECTING and joiner.dropped_frames == 2
    joiner.receive(Lobby(CODE.nameplate), NOW)
    [again] = joiner.data_to_send()
    assert isinstance(again, LobbyMessage) and again.body != start.body  # a fresh sid


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
    assert decode_member_init(init.body).address == bob.address


# ------------------------------------------------------------------ strangers (issue 9, finding 6)


def test_frames_from_a_stranger_are_not_kept_at_all() -> None:
    pump, alice, _bob = two_party()
    stranger = identity("mallory").address
    before = alice.dropped_frames
    for n in range(50):
        body = bytes(131_000)
        frame = Message(alice.session_id, stranger, alice.address, bytes([n]) * 16, NOW, body)
        alice.receive(frame, pump.now)
    # Nobody we expect a channel with: dropped at once, nothing held (it used to keep 2,000).
    assert alice.dropped_frames == before + 50
    assert alice._early == [] and alice._early_bytes == 0


def test_early_frames_of_an_expected_member_are_bounded_by_bytes() -> None:
    pump, _alice, bob = two_party()
    carol = identity("carol-early").address
    # Carol's MEMBER_INIT waits for the creator's vouch: her early frames may be kept...
    bob._pending_inits[carol] = None  # type: ignore[assignment]  # only membership is read
    for n in range(20):
        frame = Message(bob.session_id, carol, bob.address, bytes([n]) * 16, NOW, bytes(131_000))
        bob.receive(frame, pump.now)
    # ...but never more than 1 MiB of them: the oldest give way.
    assert bob._early_bytes <= core.MAX_EARLY_BYTES
    assert len(bob._early) == core.MAX_EARLY_BYTES // 131_000
    assert bob._early[-1].message_id == bytes([19]) * 16
