"""The owner's side of the lobby, the join proofs and MEMBER_INIT replays, pumped (no I/O)."""

from __future__ import annotations

import dataclasses

from session_pump import NOW, SeededRng, identity, of_type, two_party

from quicko.identity import InviteCode
from quicko.protocol import (
    Join,
    Joined,
    KeyExchange,
    LobbyMessage,
    Payload,
    ReleaseNameplate,
    decode_frame,
)
from quicko.session import (
    InviteRetired,
    JoinerFailed,
    JoinerPending,
    MessageReceived,
    PeerAuthenticated,
    Session,
    SessionFailed,
    State,
    WrongInviteCode,
)
from quicko.session.pake import (
    ATTEMPT_TIMEOUT_MS,
    MAX_ATTEMPTS_IN_FLIGHT,
    MAX_PAKE_FAILURES,
    JoinerPake,
    PakeFail,
    decode_lobby_body,
    encode_lobby_body,
)

CODE = InviteCode("KBQW", "E3TV")
WRONG = InviteCode("KBQW", "0000")


def owner() -> Session:
    alice = Session.create(identity("alice"), SeededRng(b"a"), NOW, CODE)
    alice.receive(Joined(alice.session_id, CODE.nameplate, ()), NOW)
    alice.data_to_send(), alice.events()
    return alice


def start_from(joiner: bytes, n: int) -> LobbyMessage:
    pake = JoinerPake(CODE.password, CODE.nameplate, joiner, SeededRng(bytes([n])))
    return LobbyMessage(CODE.nameplate, joiner, encode_lobby_body(pake.start_message))


def answers(session: Session) -> list[tuple[bytes, object]]:
    out = session.data_to_send()
    return [(p.peer, decode_lobby_body(p.body)) for p in out if isinstance(p, LobbyMessage)]


def test_at_most_four_attempts_in_flight_and_nobody_is_evicted() -> None:
    alice = owner()
    joiners = [identity(f"j{n}").address for n in range(MAX_ATTEMPTS_IN_FLIGHT + 1)]
    for n, joiner in enumerate(joiners):
        alice.receive(start_from(joiner, n), NOW + n)
    replies = answers(alice)
    assert [peer for peer, _ in replies] == joiners
    assert all(type(body).__name__ == "PakeReply" for _, body in replies[:-1])
    # The fifth is told when a slot frees (the oldest attempt's timeout), not answered.
    late = MAX_ATTEMPTS_IN_FLIGHT  # it came that many ms after the first
    assert replies[-1][1] == PakeFail(ATTEMPT_TIMEOUT_MS - late)
    assert of_type(alice.events(), JoinerPending) == [JoinerPending(j) for j in joiners[:-1]]
    assert alice.next_deadline() == NOW + ATTEMPT_TIMEOUT_MS
    # An abandoned attempt (no CONFIRM_J) expires without counting as a failure.
    alice.handle_timeout(NOW + ATTEMPT_TIMEOUT_MS)
    alice.receive(start_from(joiners[-1], 99), NOW + ATTEMPT_TIMEOUT_MS)
    [(_, body)] = answers(alice)
    assert type(body).__name__ == "PakeReply"
    assert alice._budget.failures == 0


def test_a_joiner_restarting_replaces_its_own_attempt() -> None:
    alice = owner()
    joiner = identity("j").address
    for n in range(MAX_ATTEMPTS_IN_FLIGHT + 2):
        alice.receive(start_from(joiner, n), NOW)
    assert all(type(body).__name__ == "PakeReply" for _, body in answers(alice))
    assert len(alice._attempts) == 1


def test_the_code_is_retired_after_32_failures_with_a_back_off() -> None:
    pump, alice, _bob = two_party()
    pump.take(alice.address)
    sent: list[Payload] = []
    original = pump.route

    def spy(sender: bytes, payload: Payload) -> None:
        sent.append(payload)
        original(sender, payload)

    pump.route = spy  # type: ignore[method-assign]  # spying on the pump's routing
    for n in range(MAX_PAKE_FAILURES):
        pump.advance(alice._budget.backoff_ms())  # a patient guesser waits out the back-off
        guesser = pump.add(Session.join(identity(f"g{n}"), WRONG, SeededRng(b"g%d" % n), pump.now))
        pump.run()
        assert of_type(pump.take(guesser.address), WrongInviteCode) == [WrongInviteCode(0)]
    events = pump.take(alice.address)
    assert [e.failures for e in of_type(events, JoinerFailed)] == list(
        range(1, MAX_PAKE_FAILURES + 1)
    )
    assert of_type(events, InviteRetired) == [InviteRetired()]
    assert ReleaseNameplate(alice.session_id, CODE.nameplate) in sent
    # Thirty-two guesses took the back-off: 1 s, 2 s, ... then 60 s each.
    assert pump.now - 1_700_000_000_000 >= 1_000 * (1 + 2 + 4 + 8 + 16 + 32) + 60_000 * 22
    # The code is gone, for the right password too.
    late = pump.add(Session.join(identity("late"), CODE, SeededRng(b"l"), pump.now))
    pump.run()
    assert of_type(pump.take(late.address), SessionFailed) == [
        SessionFailed("unknown or retired invite code")
    ]


def test_a_failed_joiner_is_refused_for_good() -> None:
    pump, alice, _ = two_party()
    mallory = identity("mallory")
    first = pump.add(Session.join(mallory, WRONG, SeededRng(b"m1"), pump.now))
    pump.run()
    assert first.state is State.FAILED
    del pump.clients[mallory.address]
    again = pump.add(Session.join(mallory, CODE, SeededRng(b"m2"), pump.now))
    pump.run()
    assert of_type(pump.take(again.address), SessionFailed) == [
        SessionFailed("the session's creator refused the join")
    ]
    assert mallory.address not in {m.address for m in alice.members}


def test_joins_by_id_carry_a_valid_proof_and_a_wrong_key_is_refused() -> None:
    pump, alice, bob = two_party()
    assert pump.refused_proofs == 0
    joins = [p for p in pump.frames if p[1] == 0x30]
    assert joins  # the frames went through the codec: Joins by id had key and proof
    room = pump.sessions[alice.session_id]
    assert len(room.join_key) == 32
    # A session member's proof is bound to its own connection's Challenge.
    signed = bob.sign_join(Join(bob.session_id, "", room.join_key, b""), nonce=b"x" * 16,
                           node_id="pump")  # fmt: skip
    pump._join(bob.address, signed)  # a proof made for another connection's Challenge
    assert pump.refused_proofs == 1
    # A stranger with the session id but not the join key cannot join.
    mallory = pump.add(Session.create(identity("mallory"), SeededRng(b"m"), NOW, CODE))
    mallory.data_to_send()
    mallory._session_id = alice.session_id  # it learnt the id; its join key is its own
    mallory.rejoin(pump.now)
    pump.run()
    assert pump.refused_proofs == 2
    assert mallory.address not in room.members


def test_a_member_init_replayed_to_another_member_is_refused() -> None:
    pump, alice, bob = two_party()
    carol = pump.add(Session.join(identity("carol"), CODE, SeededRng(b"c"), NOW))
    pump.run()
    inits = [
        f
        for f in map(_decode, pump.frames)
        if isinstance(f, KeyExchange) and f.sender == carol.address
    ]
    to_bob = next(f for f in inits if f.recipient == bob.address)
    # The relay sends Carol's MEMBER_INIT for Bob to Dave, before Carol's real one for Dave.
    dave_id = identity("dave")
    replayed = dataclasses.replace(to_bob, recipient=dave_id.address)
    pump.tamper = lambda to, p: ([replayed, p] if to == dave_id.address and p == _first_kx(
        to, p, carol.address) else [p])  # fmt: skip
    dave = pump.add(Session.join(dave_id, CODE, SeededRng(b"d"), NOW))
    pump.run()
    assert dave.can_send_to(carol.address) and carol.can_send_to(dave.address)
    assert dave.dropped_frames >= 1
    pump.take(dave.address)
    carol.send_text("hi dave", pump.now)
    pump.run()
    assert [e.text for e in of_type(pump.take(dave.address), MessageReceived)] == ["hi dave"]
    assert alice.can_send_to(dave.address)
    assert not of_type(pump.take(dave.address), PeerAuthenticated)


_SEEN: set[bytes] = set()


def _first_kx(to: bytes, payload: Payload, sender: bytes) -> Payload | None:
    """``payload`` if it is the first KeyExchange from ``sender`` to ``to``, else ``None``."""
    if isinstance(payload, KeyExchange) and payload.sender == sender and to not in _SEEN:
        _SEEN.add(to)
        return payload
    return None


def _decode(frame: bytes) -> Payload:
    return decode_frame(frame)
