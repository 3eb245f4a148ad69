"""Router: JOIN, LEAVE, PeerJoined/PeerLeft, away members, nameplates, caps (§6-§8, §11)."""

from __future__ import annotations

import pytest
from router_harness import Harness, closes, errors, payloads, raw, sid

from quicko.protocol import (
    ErrorCode,
    Join,
    Joined,
    Leave,
    LeaveReason,
    Member,
    Message,
    PeerJoined,
    PeerLeft,
    ReleaseNameplate,
)
from quicko.relay.config import RelayConfig


def test_create_then_join_by_nameplate() -> None:
    h = Harness()
    a, b = h.peer(1), h.peer(2)
    actions = h.send(a.conn, Join(sid(1), "KBQW"))
    assert payloads(actions, a.conn) == [Joined(sid(1), "KBQW", ())]
    actions = h.send(b.conn, Join(b"", "KBQW"))
    name_a = a.ident.display_name
    assert payloads(actions, b.conn) == [Joined(sid(1), "KBQW", (Member(a.address, name_a, True),))]
    assert payloads(actions, a.conn) == [PeerJoined(sid(1), b.address, b.ident.display_name)]


def test_join_by_id_creates_and_rejoin_is_idempotent() -> None:
    h = Harness()
    a, b = h.peer(1), h.peer(2)
    h.join(a, sid(1))
    h.join(b, sid(1))
    again = h.send(b.conn, Join(sid(1), ""))
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
    assert errors(h.send(b.conn, Join(sid(2), "ABCD")), b.conn) == [ErrorCode.NAMEPLATE_TAKEN]
    assert h.router.health()["sessions"] == 1  # nothing created


def test_session_with_a_nameplate_cannot_take_another() -> None:
    h = Harness()
    a = h.peer(1)
    h.join(a, sid(1), "ABCD")
    assert errors(h.send(a.conn, Join(sid(1), "WXYZ")), a.conn) == [ErrorCode.NAMEPLATE_TAKEN]
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
    assert errors(h.send(c.conn, Join(sid(1), "")), c.conn) == [ErrorCode.SESSION_FULL]
    h.join(b, sid(1))  # a member re-joining a full session is fine


@pytest.mark.parametrize(
    ("config", "second"),
    [
        (RelayConfig(max_sessions=1), Join(sid(2), "")),
        (RelayConfig(max_nameplates=1), Join(sid(2), "WXYZ")),
        (RelayConfig(max_sessions_per_address=1), Join(sid(2), "")),
    ],
)
def test_limits(config: RelayConfig, second: Join) -> None:
    h = Harness(config)
    a = h.peer(1)
    h.join(a, sid(1), "ABCD")
    assert errors(h.send(a.conn, second), a.conn) == [ErrorCode.LIMIT_REACHED]
    assert h.router.health()["sessions"] == 1


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
    [joined] = payloads(h.send(a.conn, Join(sid(1), "")), a.conn)
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
    h.join(b, b"", "ABCD")
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
