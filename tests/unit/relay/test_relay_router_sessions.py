"""Router: JOIN by id and its proof, LEAVE, PeerJoined/PeerLeft, away members, nameplates,
caps and per-source quotas (§6-§8, §11). The lobby (Join by nameplate) is in
test_relay_router_lobby.py."""

from __future__ import annotations

import pytest
from router_harness import Harness, closes, errors, join_for, join_key, payloads, raw, sid

from quicko.crypto.ed25519 import Ed25519KeyPair
from quicko.protocol import (
    Error,
    ErrorCode,
    Join,
    Joined,
    Leave,
    LeaveReason,
    Lobby,
    Member,
    Message,
    PeerJoined,
    PeerLeft,
    ReleaseNameplate,
)
from quicko.relay.config import RelayConfig


def test_create_with_a_nameplate_then_a_nameplate_join_waits_in_the_lobby() -> None:
    h = Harness()
    a, b = h.peer(1), h.peer(2)
    actions = h.send(a.conn, h.join_request(a, sid(1), "KBQW"))
    assert payloads(actions, a.conn) == [Joined(sid(1), "KBQW", ())]
    actions = h.send(b.conn, Join(b"", "KBQW"))
    assert payloads(actions, b.conn) == [Lobby("KBQW")]
    assert raw(actions, a.conn) == []  # no PeerJoined: b is only pending
    # Admitted (it now holds the join key), b joins by id and a hears of it.
    actions = h.send(b.conn, h.join_request(b, sid(1)))
    name_a = a.ident.display_name
    assert payloads(actions, b.conn) == [Joined(sid(1), "KBQW", (Member(a.address, name_a, True),))]
    assert payloads(actions, a.conn) == [PeerJoined(sid(1), b.address, b.ident.display_name)]


def test_join_by_id_creates_and_rejoin_is_idempotent() -> None:
    h = Harness()
    a, b = h.peer(1), h.peer(2)
    h.join(a, sid(1))
    h.join(b, sid(1))
    again = h.send(b.conn, h.join_request(b, sid(1)))
    assert payloads(again, b.conn) == [
        Joined(sid(1), "", (Member(a.address, a.ident.display_name, True),))
    ]
    assert raw(again, a.conn) == []  # no second PeerJoined
    assert h.router.health()["sessions"] == 1


def test_joined_lists_away_members_offline() -> None:
    h = Harness()
    a, b, c = h.peer(1), h.peer(2), h.peer(3)
    h.join(a, sid(1))
    h.join(b, sid(1))
    h.drop(b)
    [joined] = payloads(h.join(c, sid(1)), c.conn)
    assert isinstance(joined, Joined)
    assert [(m.address, m.online) for m in joined.members] == [
        (a.address, True),
        (b.address, False),
    ]


@pytest.mark.parametrize(
    "join",
    [
        Join(b"", ""),
        Join(sid(1), "KBQ"),
        Join(sid(1), "kbqw"),
        Join(b"", "KBQI"),
        Join(b"", "KBQWX"),
        Join(b"", "KBQW", join_key(sid(1)).public, b""),  # a lobby join carries no key
        Join(b"", "KBQW", b"", bytes(64)),
    ],
)
def test_malformed_joins(join: Join) -> None:
    h = Harness()
    a = h.peer(1)
    actions = h.send(a.conn, join)
    assert errors(actions, a.conn) == [ErrorCode.MALFORMED]
    assert h.router.health()["sessions"] == 0


def test_unknown_nameplate() -> None:
    h = Harness()
    a = h.peer(1)
    assert errors(h.send(a.conn, Join(b"", "ABCD")), a.conn) == [ErrorCode.UNKNOWN_INVITE]


def test_nameplate_taken_by_another_session() -> None:
    h = Harness()
    a, b = h.peer(1), h.peer(2)
    h.join(a, sid(1), "ABCD")
    assert errors(h.send(b.conn, h.join_request(b, sid(2), "ABCD")), b.conn) == [
        ErrorCode.NAMEPLATE_TAKEN
    ]
    assert h.router.health()["sessions"] == 1  # nothing created


def test_session_with_a_nameplate_cannot_take_another() -> None:
    h = Harness()
    a = h.peer(1)
    h.join(a, sid(1), "ABCD")
    assert errors(h.send(a.conn, h.join_request(a, sid(1), "WXYZ")), a.conn) == [
        ErrorCode.NAMEPLATE_TAKEN
    ]
    # The same nameplate again is fine, and a session without one may claim one later.
    h.join(a, sid(1), "ABCD")
    h.join(a, sid(2))
    [joined] = payloads(h.join(a, sid(2), "WXYZ"), a.conn)
    assert joined == Joined(sid(2), "WXYZ", ())


def test_session_full() -> None:
    h = Harness(RelayConfig(rate=1000, burst=1000, max_members=2))
    a, b, c = h.peer(1), h.peer(2), h.peer(3)
    h.join(a, sid(1))
    h.join(b, sid(1))
    assert errors(h.send(c.conn, h.join_request(c, sid(1))), c.conn) == [ErrorCode.SESSION_FULL]
    h.join(b, sid(1))  # a member re-joining a full session is fine


@pytest.mark.parametrize(
    ("config", "nameplate"),
    [
        (RelayConfig(max_sessions=1), ""),
        (RelayConfig(max_nameplates=1), "WXYZ"),
        (RelayConfig(max_sessions_per_address=1), ""),
        (RelayConfig(max_sessions_per_source=1), ""),
        (RelayConfig(max_nameplates_per_source=1), "WXYZ"),
    ],
)
def test_limits(config: RelayConfig, nameplate: str) -> None:
    h = Harness(config)
    a = h.peer(1)
    h.join(a, sid(1), "ABCD")
    second = h.send(a.conn, h.join_request(a, sid(2), nameplate))
    assert errors(second, a.conn) == [ErrorCode.LIMIT_REACHED]
    assert h.router.health()["sessions"] == 1


def test_per_source_quotas_count_live_sessions_and_nameplates_of_the_source() -> None:
    h = Harness(RelayConfig(max_sessions_per_source=2, max_nameplates_per_source=1))
    a, b = h.peer(1, source="198.51.100.7"), h.peer(2, source="198.51.100.7")
    other = h.peer(3, source="203.0.113.9")
    h.join(a, sid(1), "ABCD")
    # Another address from the same source shares the source's quotas...
    assert errors(h.send(b.conn, h.join_request(b, sid(2), "WXYZ")), b.conn) == [
        ErrorCode.LIMIT_REACHED
    ]
    h.join(b, sid(2))
    assert errors(h.send(b.conn, h.join_request(b, sid(3))), b.conn) == [ErrorCode.LIMIT_REACHED]
    # ...another source does not, and joining an existing session creates nothing.
    h.join(other, sid(3), "WXYZ")
    h.join(b, sid(3))
    # A session deleted (its last member left) and a nameplate released no longer count.
    h.send(a.conn, Leave(sid(1)))
    h.join(b, sid(4), "KBQW")


def test_join_by_id_needs_a_proof_and_learns_nothing_without_one() -> None:
    h = Harness()
    a, b = h.peer(1), h.peer(2)
    # Creating needs a proof too: the creator proves it holds the key it names.
    [refused] = payloads(h.send(a.conn, Join(sid(1), "ABCD")), a.conn)
    assert isinstance(refused, Error)
    assert (refused.code, refused.ref_type, refused.ref_id) == (
        ErrorCode.PROOF_INVALID,
        0x30,
        sid(1),
    )
    assert h.router.health()["sessions"] == 0
    h.join(a, sid(1), "ABCD")
    stranger = Ed25519KeyPair.from_seed(bytes(range(32)))
    elsewhere = h.join_request(b, sid(2), key=join_key(sid(1)))  # signed for session 2
    attempts = [
        Join(sid(1), ""),  # no key, no proof
        Join(sid(1), "", join_key(sid(1)).public, bytes(64)),  # the key, a junk proof
        h.join_request(b, sid(1), key=stranger),  # its own key, proven: not the session's
        # The session's key, but a proof made for another connection's Challenge...
        join_for(h.challenges[a.conn], b.address, sid(1)),
        # ...for another address, and for another session.
        join_for(h.challenges[b.conn], a.address, sid(1)),
        Join(sid(1), "", join_key(sid(1)).public, elsewhere.proof),
    ]
    for attempt in attempts:
        actions = h.send(b.conn, attempt)
        assert errors(actions, b.conn) == [ErrorCode.PROOF_INVALID], attempt
        assert raw(actions, a.conn) == []  # no PeerJoined
        assert closes(actions) == {}  # the connection stays open
    # b is no member: it can neither send into the session nor learn who is in it.
    message = Message(sid(1), b.address, b"", bytes(16), 0, b"x")
    assert errors(h.send(b.conn, message), b.conn) == [ErrorCode.NOT_A_MEMBER]
    # The proof is checked before the nameplate: a stranger learns nothing about it.
    assert errors(h.send(b.conn, Join(sid(1), "WXYZ")), b.conn) == [ErrorCode.PROOF_INVALID]
    h.join(b, sid(1))


def test_a_session_recreated_after_it_is_gone_takes_the_new_join_key() -> None:
    h = Harness()
    a, b = h.peer(1), h.peer(2)
    h.join(a, sid(1))
    h.send(a.conn, Leave(sid(1)))  # deleted: every member may re-create it (relay restart)
    fresh = Ed25519KeyPair.from_seed(bytes(32))
    assert isinstance(
        payloads(h.send(b.conn, h.join_request(b, sid(1), key=fresh)), b.conn)[0], Joined
    )
    assert errors(h.send(a.conn, h.join_request(a, sid(1))), a.conn) == [ErrorCode.PROOF_INVALID]
    assert isinstance(
        payloads(h.send(a.conn, h.join_request(a, sid(1), key=fresh)), a.conn)[0], Joined
    )


def test_leave_announces_and_deletes_empty_sessions() -> None:
    h = Harness()
    a, b = h.peer(1), h.peer(2)
    h.join(a, sid(1), "ABCD")
    h.join(b, sid(1))
    actions = h.send(b.conn, Leave(sid(1)))
    assert payloads(actions, b.conn) == []
    assert payloads(actions, a.conn) == [PeerLeft(sid(1), b.address, LeaveReason.LEFT)]
    assert errors(h.send(b.conn, Leave(sid(1))), b.conn) == [ErrorCode.NOT_A_MEMBER]
    assert errors(h.send(b.conn, Leave(sid(9))), b.conn) == [ErrorCode.NOT_A_MEMBER]
    h.send(a.conn, Leave(sid(1)))
    assert h.router.health()["sessions"] == 0
    assert errors(h.send(b.conn, Join(b"", "ABCD")), b.conn) == [ErrorCode.UNKNOWN_INVITE]


def test_disconnect_announces_away_then_expired() -> None:
    h = Harness()
    a, b = h.peer(1), h.peer(2)
    h.join(a, sid(1))
    h.join(b, sid(1))
    actions = h.drop(b)
    assert payloads(actions, a.conn) == [PeerLeft(sid(1), b.address, LeaveReason.DISCONNECTED)]
    assert h.router.next_deadline() == h.now + 60_000
    assert h.advance(59_999) == []
    actions = h.advance(1)
    assert payloads(actions, a.conn) == [PeerLeft(sid(1), b.address, LeaveReason.EXPIRED)]
    [joined] = payloads(h.send(a.conn, h.join_request(a, sid(1))), a.conn)
    assert joined == Joined(sid(1), "", ())


def test_away_member_coming_back_is_announced() -> None:
    h = Harness()
    a, b = h.peer(1), h.peer(2)
    h.join(a, sid(1))
    h.join(b, sid(1))
    h.drop(b)
    h.now += 1_000
    b2, actions = h.connect(2, display_name="Bee")
    assert payloads(actions, a.conn) == [PeerJoined(sid(1), b.address, "Bee")]
    assert h.advance(120_000) == []  # no longer expires
    # Re-joining after coming back is idempotent.
    assert raw(h.join(b2, sid(1)), a.conn) == []


def test_last_member_expiring_deletes_the_session() -> None:
    h = Harness()
    a = h.peer(1)
    h.join(a, sid(1), "ABCD")
    h.drop(a)
    assert h.router.health()["sessions"] == 1
    h.advance(60_000)
    assert h.router.health()["sessions"] == 0


def test_release_nameplate() -> None:
    h = Harness()
    a, b = h.peer(1), h.peer(2)
    h.join(a, sid(1), "ABCD")
    h.join(b, sid(1))
    assert errors(h.send(b.conn, ReleaseNameplate(sid(1), "ABCD")), b.conn) == [ErrorCode.NOT_OWNER]
    assert errors(h.send(a.conn, ReleaseNameplate(sid(2), "ABCD")), a.conn) == [
        ErrorCode.UNKNOWN_INVITE
    ]
    assert errors(h.send(a.conn, ReleaseNameplate(sid(1), "WXYZ")), a.conn) == [
        ErrorCode.UNKNOWN_INVITE
    ]
    assert h.send(a.conn, ReleaseNameplate(sid(1), "ABCD")) == []
    c = h.peer(3)
    assert errors(h.send(c.conn, Join(b"", "ABCD")), c.conn) == [ErrorCode.UNKNOWN_INVITE]
    # The session lives on, and the nameplate may be claimed again.
    h.join(c, sid(2), "ABCD")


def test_members_of_a_session_see_each_other_leave_on_close_by_router() -> None:
    h = Harness()
    a, b = h.peer(1), h.peer(2)
    h.join(a, sid(1))
    h.join(b, sid(1))
    actions = h.router.receive_text(b.conn, h.now)
    assert closes(actions) == {b.conn: 1003}
    assert payloads(actions, a.conn) == [PeerLeft(sid(1), b.address, LeaveReason.DISCONNECTED)]
    # Messages to b are now held, not sent to the closing connection.
    message = Message(sid(1), a.address, b.address, bytes(16), h.now, b"hi")
    actions = h.send(a.conn, message)
    assert raw(actions, b.conn) == []
    assert h.drop(b) == []
