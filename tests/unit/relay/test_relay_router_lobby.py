"""Router: the nameplate lobby, LobbyMessage routing and the nameplate miss limiter (§6).

Every Error on the nameplate path is checked to carry an empty ``ref_id``: a pending joiner
never learns the session id from the relay.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from router_harness import Harness, Peer, errors, payloads, raw, sid

from quicko.protocol import (
    Error,
    ErrorCode,
    Join,
    Joined,
    Lobby,
    LobbyMessage,
    Message,
    PeerJoined,
    ReleaseNameplate,
)
from quicko.relay.actions import Action
from quicko.relay.config import RelayConfig
from quicko.relay.misses import MissLimiter

CODE = "KBQW"
OTHER_CODE = "WXYZ"


def lobby_errors(actions: Sequence[Action], conn: int) -> list[int]:
    """The Error codes sent to *conn*; each must name no session (``ref_id`` empty)."""
    found = [p for p in payloads(actions, conn) if isinstance(p, Error)]
    assert all(error.ref_id == b"" for error in found), found
    return [error.code for error in found]


def owner_and_joiner(h: Harness) -> tuple[Peer, Peer]:
    """a owns CODE on sid(1); b waits in its lobby."""
    a, b = h.peer(1), h.peer(2)
    h.join(a, sid(1), CODE)
    assert payloads(h.send(b.conn, Join(b"", CODE)), b.conn) == [Lobby(CODE)]
    return a, b


def test_a_nameplate_join_learns_nothing_and_tells_nobody() -> None:
    h = Harness()
    a, member = h.peer(1), h.peer(3)
    h.join(a, sid(1), CODE)
    h.join(member, sid(1))
    b = h.peer(2)
    actions = h.send(b.conn, Join(b"", CODE))
    assert payloads(actions, b.conn) == [Lobby(CODE)]
    assert [x for x in actions if getattr(x, "conn", b.conn) != b.conn] == []  # nobody else
    assert not any(sid(1) in data for data in raw(actions, b.conn))
    # Pending is not membership: b cannot send into the session, and the members are as before.
    message = Message(sid(1), b.address, b"", bytes(16), 0, b"x")
    assert errors(h.send(b.conn, message), b.conn) == [ErrorCode.NOT_A_MEMBER]
    c = h.peer(4)
    [joined] = payloads(h.join(c, sid(1)), c.conn)
    assert isinstance(joined, Joined)
    assert [m.address for m in joined.members] == [a.address, member.address]


def test_lobby_messages_go_between_the_joiner_and_the_owner_only() -> None:
    h = Harness()
    a, b = owner_and_joiner(h)
    member = h.peer(3)
    h.join(member, sid(1))
    start = LobbyMessage(CODE, b"", b"pake start")
    actions = h.send(b.conn, start)
    assert payloads(actions, a.conn) == [LobbyMessage(CODE, b.address, b"pake start")]
    assert raw(actions, member.conn) == raw(actions, b.conn) == []
    actions = h.send(a.conn, LobbyMessage(CODE, b.address, b"pake reply"))
    assert payloads(actions, b.conn) == [LobbyMessage(CODE, b"", b"pake reply")]
    assert raw(actions, a.conn) == raw(actions, member.conn) == []
    # The admitted joiner joins by id: it becomes a member, and pending ends.
    actions = h.send(b.conn, h.join_request(b, sid(1)))
    assert isinstance(payloads(actions, b.conn)[0], Joined)
    assert payloads(actions, a.conn) == [PeerJoined(sid(1), b.address, b.ident.display_name)]
    assert lobby_errors(h.send(b.conn, start), b.conn) == [ErrorCode.NOT_PENDING]


def test_nobody_but_the_owner_reaches_a_pending_joiner() -> None:
    h = Harness()
    a, b = owner_and_joiner(h)
    member, stranger, other_owner = h.peer(3), h.peer(4), h.peer(5)
    h.join(member, sid(1))
    h.join(other_owner, sid(2), OTHER_CODE)
    for sender, frame in [
        (member, LobbyMessage(CODE, b.address, b"fake reply")),  # a member, not the owner
        (stranger, LobbyMessage(CODE, b.address, b"fake reply")),
        (other_owner, LobbyMessage(OTHER_CODE, b.address, b"x")),  # b waits on another code
        (other_owner, LobbyMessage(CODE, b.address, b"x")),
        (a, LobbyMessage(CODE, stranger.address, b"x")),  # the owner, to someone not pending
        (stranger, LobbyMessage(CODE, b"", b"x")),  # not pending: reaches no owner
        (b, LobbyMessage(OTHER_CODE, b"", b"x")),  # pending, but on another code
    ]:
        actions = h.send(sender.conn, frame)
        assert lobby_errors(actions, sender.conn) == [ErrorCode.NOT_PENDING], (sender, frame)
        [error] = payloads(actions, sender.conn)
        assert isinstance(error, Error) and error.ref_type == 0x42
        assert [x for x in actions if getattr(x, "conn", None) != sender.conn] == []


def test_lobby_message_caps_per_joiner_and_per_owner_to_joiner() -> None:
    h = Harness()
    a, b = owner_and_joiner(h)
    for n in range(4):
        assert len(payloads(h.send(b.conn, LobbyMessage(CODE, b"", bytes([n]))), a.conn)) == 1
        assert len(payloads(h.send(a.conn, LobbyMessage(CODE, b.address, b"r")), b.conn)) == 1
    assert lobby_errors(h.send(b.conn, LobbyMessage(CODE, b"", b"5")), b.conn) == [
        ErrorCode.RATE_LIMITED
    ]
    assert lobby_errors(h.send(a.conn, LobbyMessage(CODE, b.address, b"5")), a.conn) == [
        ErrorCode.RATE_LIMITED
    ]
    # A new pending period counts afresh.
    assert payloads(h.send(b.conn, Join(b"", CODE)), b.conn) == [Lobby(CODE)]
    assert len(payloads(h.send(b.conn, LobbyMessage(CODE, b"", b"again")), a.conn)) == 1


def test_a_joiner_whose_owner_is_offline_gets_recipient_unknown_without_a_session_id() -> None:
    h = Harness()
    a, b = owner_and_joiner(h)
    h.drop(a)
    actions = h.send(b.conn, LobbyMessage(CODE, b"", b"start"))
    assert lobby_errors(actions, b.conn) == [ErrorCode.RECIPIENT_UNKNOWN]


@pytest.mark.parametrize("how", ["disconnect", "new nameplate join", "ttl", "release"])
def test_pending_ends(how: str) -> None:
    h = Harness()
    a, b = owner_and_joiner(h)
    h.join(h.peer(3), sid(2), OTHER_CODE)
    if how == "disconnect":
        h.drop(b)
    elif how == "new nameplate join":
        assert payloads(h.send(b.conn, Join(b"", OTHER_CODE)), b.conn) == [Lobby(OTHER_CODE)]
    elif how == "ttl":
        assert h.router.next_deadline() == h.now + 60_000
        h.advance(59_999)
        assert len(payloads(h.send(a.conn, LobbyMessage(CODE, b.address, b"r")), b.conn)) == 1
        assert h.advance(1) == []  # nobody is told
    else:
        assert h.send(a.conn, ReleaseNameplate(sid(1), CODE)) == []
        h.join(a, sid(1), CODE)  # claimed again: the old lobby is not inherited
    actions = h.send(a.conn, LobbyMessage(CODE, b.address, b"reply"))
    assert lobby_errors(actions, a.conn) == [ErrorCode.NOT_PENDING]
    assert raw(actions, b.conn) == []


def test_squatters_cannot_fill_a_lobby_or_evict_anyone() -> None:
    h = Harness()
    a = h.peer(1)
    h.join(a, sid(1), CODE)
    waiting = []
    for n in range(8):  # 2 per source is the most: 4 sources
        joiner = h.peer(10 + n, source=f"198.51.100.{n // 2}")
        assert payloads(h.send(joiner.conn, Join(b"", CODE)), joiner.conn) == [Lobby(CODE)]
        waiting.append(joiner)
    third = h.peer(30, source="198.51.100.0")
    ninth = h.peer(31, source="203.0.113.1")
    for late in (third, ninth):
        actions = h.send(late.conn, Join(b"", CODE))
        assert lobby_errors(actions, late.conn) == [ErrorCode.LIMIT_REACHED]
    # Nobody was evicted: the first joiner still reaches the owner.
    actions = h.send(waiting[0].conn, LobbyMessage(CODE, b"", b"start"))
    assert payloads(actions, a.conn) == [LobbyMessage(CODE, waiting[0].address, b"start")]
    # The per-source cap counts per nameplate: the third may wait on another code.
    h.join(h.peer(40), sid(2), OTHER_CODE)
    assert payloads(h.send(third.conn, Join(b"", OTHER_CODE)), third.conn) == [Lobby(OTHER_CODE)]
    assert h.router.health()["sessions"] == 2


def test_nameplate_misses_are_rate_limited_per_source() -> None:
    h = Harness()
    a = h.peer(1)
    h.join(a, sid(1), CODE)
    prober = h.peer(2, source="198.51.100.66")
    for n in range(10):  # the burst
        miss = f"{n:04d}".replace("0", "A")
        assert lobby_errors(h.send(prober.conn, Join(b"", miss)), prober.conn) == [
            ErrorCode.UNKNOWN_INVITE
        ]
    for probe in ("ABCD", CODE):  # over the limit, a hit is refused like a miss
        actions = h.send(prober.conn, Join(b"", probe))
        assert lobby_errors(actions, prober.conn) == [ErrorCode.RATE_LIMITED]
        [error] = payloads(actions, prober.conn)
        assert isinstance(error, Error) and error.ref_type == 0x30
    honest = h.peer(3, source="203.0.113.5")  # another source is not slowed down
    assert payloads(h.send(honest.conn, Join(b"", CODE)), honest.conn) == [Lobby(CODE)]
    h.now += 2_999
    assert lobby_errors(h.send(prober.conn, Join(b"", "ABCD")), prober.conn) == [
        ErrorCode.RATE_LIMITED
    ]
    h.now += 1  # one token per 3 s
    assert lobby_errors(h.send(prober.conn, Join(b"", "ABCD")), prober.conn) == [
        ErrorCode.UNKNOWN_INVITE
    ]
    assert lobby_errors(h.send(prober.conn, Join(b"", "ABCD")), prober.conn) == [
        ErrorCode.RATE_LIMITED
    ]


def test_hits_cost_no_token() -> None:
    h = Harness(RelayConfig(nameplate_miss_burst=1))
    _, b = owner_and_joiner(h)
    for _ in range(5):
        assert payloads(h.send(b.conn, Join(b"", CODE)), b.conn) == [Lobby(CODE)]
    assert lobby_errors(h.send(b.conn, Join(b"", "ABCD")), b.conn) == [ErrorCode.UNKNOWN_INVITE]
    assert lobby_errors(h.send(b.conn, Join(b"", CODE)), b.conn) == [ErrorCode.RATE_LIMITED]


def test_nameplate_misses_are_rate_limited_in_total() -> None:
    h = Harness(RelayConfig(nameplate_miss_total_rate=5.0))
    for n in range(5):
        p = h.peer(10 + n, source=f"198.51.100.{n}")
        assert lobby_errors(h.send(p.conn, Join(b"", "ABCD")), p.conn) == [ErrorCode.UNKNOWN_INVITE]
    fresh = h.peer(20, source="203.0.113.20")
    assert lobby_errors(h.send(fresh.conn, Join(b"", "ABCD")), fresh.conn) == [
        ErrorCode.RATE_LIMITED
    ]
    h.now += 200  # 5 per second: one token back
    assert lobby_errors(h.send(fresh.conn, Join(b"", "ABCD")), fresh.conn) == [
        ErrorCode.UNKNOWN_INVITE
    ]


def test_the_miss_limiter_forgets_sources_whose_bucket_is_full_again() -> None:
    limiter = MissLimiter(rate=1 / 3, burst=10, total_rate=50.0)
    for n in range(3):
        assert limiter.allows(f"s{n}", 0)
        limiter.charge(f"s{n}", 0)
    assert len(limiter) == 3
    limiter.charge("late", 29_999)
    assert len(limiter) == 4  # s0-s2 need 30 s to refill
    limiter.charge("late", 30_000)
    assert len(limiter) == 1
    # 2^20 nameplates from one source at the defaults: (2^20 - 10) * 3 s, over 30 days.
    assert (2**20 - 10) * 3 / 86_400 > 36
