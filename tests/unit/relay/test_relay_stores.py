"""The clustering seam (quicko.relay.stores): the router reaches its state only through it."""

from __future__ import annotations

import random  # noqa: TID251  # seeded randomness for reproducible tests
from typing import Any

import pytest
from router_harness import (
    NODE_ID,
    Harness,
    Peer,
    closes,
    errors,
    mid,
    payloads,
    raw,
    register_for,
    sid,
)

from quicko.protocol import (
    Ack,
    AckStatus,
    CallPeer,
    CallResponse,
    CallStatus,
    ErrorCode,
    HelloAck,
    Join,
    Joined,
    Leave,
    LeaveReason,
    Lobby,
    LobbyMessage,
    LookupKey,
    LookupResponse,
    Message,
    PeerJoined,
    PeerLeft,
    ReleaseNameplate,
    UnregisterKey,
    encode_frame,
)
from quicko.relay.buffer import OfflineBuffer
from quicko.relay.calls import PendingCalls
from quicko.relay.config import RelayConfig
from quicko.relay.connections import ConnectionTable
from quicko.relay.directory import Directory
from quicko.relay.router import CLOSE_NORMAL, Router
from quicko.relay.sessions import SessionStore
from quicko.relay.stores import (
    AddressRegistry,
    BufferStore,
    CallStore,
    ConnectionStore,
    DirectoryStore,
    MembershipStore,
    RelayState,
)

CONFIG = RelayConfig(rate=1000.0, burst=1000, idle_timeout_s=600.0, directory_ttl_s=120.0)
NAMEPLATE = "KBQW"
CALL_1, CALL_2 = b"\xca\x01" + bytes(14), b"\xca\x02" + bytes(14)
Log = list[tuple[str, str]]

# The static half of the check: mypy --strict fails here if an in-memory class stops
# satisfying its Protocol.
_CONNECTIONS: ConnectionStore = ConnectionTable()
_REGISTRY: AddressRegistry = _CONNECTIONS
_SESSIONS: MembershipStore = SessionStore()
_DIRECTORY: DirectoryStore = Directory()
_BUFFER: BufferStore = OfflineBuffer(1, 1)
_CALLS: CallStore = PendingCalls()

_PROTOCOLS: dict[str, type] = {
    "connections": ConnectionStore,
    "sessions": MembershipStore,
    "directory": DirectoryStore,
    "buffer": BufferStore,
    "calls": CallStore,
}


def _members(protocol: type) -> frozenset[str]:
    """The members a Protocol of quicko.relay.stores declares (its bases' included)."""
    return frozenset(
        name
        for cls in protocol.__mro__
        if cls.__module__ == "quicko.relay.stores"
        for name in vars(cls)
        if not name.startswith("_") or name in {"__len__", "__contains__"}
    )


class Recording:
    """A store seen only through *protocol*: records each member used, refuses any other."""

    __slots__ = ("_allowed", "_inner", "_log", "_name")

    def __init__(self, name: str, inner: object, protocol: type, log: Log) -> None:
        self._name = name
        self._inner = inner
        self._allowed = _members(protocol)
        self._log = log

    def _member(self, member: str) -> Any:
        if member not in self._allowed:
            raise AttributeError(f"{member!r} is not part of the {self._name} interface")
        return getattr(self._inner, member)

    def __getattr__(self, member: str) -> Any:
        value = self._member(member)
        log, entry = self._log, (self._name, member)
        if not callable(value):  # a property: recorded when read
            log.append(entry)
            return value

        def call(*args: Any, **kwargs: Any) -> Any:
            log.append(entry)
            return value(*args, **kwargs)

        return call

    def __len__(self) -> int:
        return int(self.__getattr__("__len__")())

    def __contains__(self, item: object) -> bool:
        return bool(self.__getattr__("__contains__")(item))


def _recording_state(log: Log) -> RelayState:
    plain = RelayState.in_memory(CONFIG)
    return RelayState(
        connections=Recording("connections", plain.connections, ConnectionStore, log),
        sessions=Recording("sessions", plain.sessions, MembershipStore, log),
        directory=Recording("directory", plain.directory, DirectoryStore, log),
        buffer=Recording("buffer", plain.buffer, BufferStore, log),
        calls=Recording("calls", plain.calls, CallStore, log),
    )


def _harness(state: RelayState | None) -> Harness:
    """A Harness whose router (same seed, same config) keeps its state in *state*."""
    h = Harness(CONFIG)
    if state is not None:
        h.router = Router(h.config, node_id=NODE_ID, rng=random.Random(1).randbytes, state=state)
    return h


def _snapshot(h: Harness) -> tuple[object, ...]:
    m = h.router.metrics
    return (m.as_dict(), list(m.frames_out), dict(m.rejections), h.router.health())


def _message(a: Peer, b: Peer, n: int) -> bytes:
    return encode_frame(Message(sid(1), a.address, b.address, mid(n), 0, b"ciphertext"))


def _join_and_message(h: Harness, a: Peer, b: Peer) -> list[object]:
    """Join by id and by code, a MESSAGE on the hot path, then one buffered for b."""
    h.join(a, sid(1), NAMEPLATE)
    by_code = h.send(b.conn, Join(b"", NAMEPLATE))
    assert payloads(by_code, b.conn) == [Lobby(NAMEPLATE)]
    start = h.send(b.conn, LobbyMessage(NAMEPLATE, b"", b"start"))
    assert payloads(start, a.conn) == [LobbyMessage(NAMEPLATE, b.address, b"start")]
    reply = h.send(a.conn, LobbyMessage(NAMEPLATE, b.address, b"reply"))
    assert payloads(reply, b.conn) == [LobbyMessage(NAMEPLATE, b"", b"reply")]
    by_id = h.send(b.conn, h.join_request(b, sid(1)))
    assert isinstance(payloads(by_id, b.conn)[0], Joined)
    hot = h.recv(a.conn, _message(a, b, 1))
    assert payloads(hot, a.conn) == [Ack(sid(1), a.address, b.address, mid(1), AckStatus.ACCEPTED)]
    gone = h.drop(b)
    buffered = h.recv(a.conn, _message(a, b, 2))
    assert payloads(buffered, a.conn) == [
        Ack(sid(1), a.address, b.address, mid(2), AckStatus.BUFFERED)
    ]
    return [by_code, start, reply, by_id, hot, gone, buffered]


def _keys_and_calls(h: Harness, a: Peer, c: Peer) -> list[object]:
    """Register, look up, one call answered and one left to time out."""
    out = [
        h.send(a.conn, register_for(a.ident, h.now)),
        h.send(c.conn, register_for(c.ident, h.now)),
    ]
    lookup = h.send(a.conn, LookupKey(c.address))
    [found] = payloads(lookup, a.conn)
    assert isinstance(found, LookupResponse) and found.online
    call = CallPeer(CALL_1, a.address, c.address, b"bundle")
    forwarded = h.send(a.conn, call)
    assert payloads(forwarded, c.conn) == [call]
    answer = CallResponse(CALL_1, a.address, c.address, int(CallStatus.ACCEPTED), b"")
    answered = h.send(c.conn, answer)
    assert payloads(answered, a.conn) == [answer]
    unanswered = h.send(a.conn, CallPeer(CALL_2, a.address, c.address, b""))
    return [*out, lookup, forwarded, answered, unanswered]


def _return_and_expiry(h: Harness, a: Peer, b: Peer, c: Peer) -> list[object]:
    """A handshake timeout, b back for its buffered frame, then away for good.

    b never acknowledged the lobby reply and message 1 on its first connection: they come
    back first (re-queued when it dropped), then message 2, held while it was away.
    """
    out: list[object] = [h.open(), h.router.next_deadline(), h.advance(30_000)]
    back, welcome = h.connect(2)
    [ack] = [p for p in payloads(welcome, back.conn) if isinstance(p, HelloAck)]
    assert ack.buffered == 3
    assert raw(welcome, back.conn)[2:4] == [_message(a, b, 1), _message(a, b, 2)]
    assert isinstance(payloads(welcome, a.conn)[0], PeerJoined)
    out += [welcome, h.drop(back), h.recv(a.conn, _message(a, b, 2))]
    expiry = h.advance(61_000)  # the call, the buffered copy and b's membership expire
    told = payloads(expiry, a.conn)
    assert CallResponse(CALL_2, a.address, c.address, int(CallStatus.TIMEOUT), b"") in told
    assert Ack(sid(1), a.address, b.address, mid(2), AckStatus.EXPIRED) in told
    assert PeerLeft(sid(1), b.address, int(LeaveReason.EXPIRED)) in told
    return [*out, expiry]


def _endings(h: Harness, a: Peer, c: Peer) -> list[object]:
    """Release, leave, unregister, idle timeouts, directory expiry, shutdown."""
    out: list[object] = [h.send(a.conn, ReleaseNameplate(sid(1), NAMEPLATE)), h.join(c, sid(2))]
    out += [h.send(c.conn, Leave(sid(2))), h.send(c.conn, UnregisterKey(c.address)), _snapshot(h)]
    idle = h.advance(600_000)
    assert closes(idle) == {a.conn: CLOSE_NORMAL, c.conn: CLOSE_NORMAL}
    assert h.router.health()["directory_entries"] == 1  # a's, offline now
    out += [idle, h.router.next_deadline(), h.advance(120_000)]
    assert h.router.health()["directory_entries"] == h.router.health()["sessions"] == 0
    d = h.peer(4)
    shutdown = h.router.shutdown(h.now)
    assert errors(shutdown, d.conn) == [ErrorCode.SHUTTING_DOWN]
    return [*out, _snapshot(h), shutdown, h.router.closed(d.conn, h.now), _snapshot(h)]


def _flow(h: Harness) -> list[object]:
    """Drive every kind of state change through *h*; return every output of the router."""
    a, b, c = h.peer(1), h.peer(2), h.peer(3)
    return [
        *_join_and_message(h, a, b),
        *_keys_and_calls(h, a, c),
        *_return_and_expiry(h, a, b, c),
        *_endings(h, a, c),
    ]


def test_in_memory_state_builds_the_single_node_stores_with_the_configs_caps() -> None:
    state = RelayState.in_memory(RelayConfig(buffer_per_recipient=2, buffer_total=3))
    assert isinstance(state.connections, ConnectionTable)
    assert isinstance(state.sessions, SessionStore)
    assert isinstance(state.directory, Directory)
    assert isinstance(state.calls, PendingCalls)
    pushed = [state.buffer.push(b"A" * 16, b"f", 10, None, b"S" * 16) for _ in range(3)]
    pushed.append(state.buffer.push(b"B" * 16, b"f", 10, None, b"S" * 16))
    pushed.append(state.buffer.push(b"C" * 16, b"f", 10, None, b"S" * 16))
    assert pushed == [True, True, False, True, False]  # per recipient, then in total
    with pytest.raises(AttributeError):
        state.buffer = OfflineBuffer(1, 1)  # type: ignore[misc]  # frozen, on purpose


def test_injected_state_gives_the_same_results_as_the_default_router() -> None:
    log: Log = []
    assert _flow(_harness(_recording_state(log))) == _flow(_harness(None))
    assert ("buffer", "push") in log and ("buffer", "take") in log
    assert ("calls", "add") in log and ("calls", "pop_expired") in log


def test_the_router_uses_every_member_of_each_interface_and_nothing_else() -> None:
    log: Log = []
    _flow(_harness(_recording_state(log)))  # a member outside an interface would raise
    for name, protocol in _PROTOCOLS.items():
        used = {member for store, member in log if store == name}
        assert used == _members(protocol), name


def test_the_message_hot_path_costs_four_store_lookups_and_three_in_the_same_ms() -> None:
    log: Log = []
    h = _harness(_recording_state(log))
    a, b = h.peer(1), h.peer(2)
    h.join(a, sid(1))
    h.join(b, sid(1))
    h.now += 1  # a's last frame (its Join) was a millisecond ago: its idle timer restarts
    frame = _message(a, b, 1)
    del log[:]
    actions = h.recv(a.conn, frame)
    assert raw(actions, b.conn) == [frame]
    assert log == [
        ("connections", "get"),
        ("connections", "touch"),
        ("sessions", "get"),
        ("connections", "bound"),
    ]
    # Another frame in the same millisecond (the same socket read): a is at the end of the
    # activity order already, with this time, so the touch is skipped.
    del log[:]
    frame = _message(a, b, 2)
    assert raw(h.recv(a.conn, frame), b.conn) == [frame]
    assert log == [("connections", "get"), ("sessions", "get"), ("connections", "bound")]


def test_a_member_outside_the_interface_is_refused() -> None:
    log: Log = []
    state = _recording_state(log)
    with pytest.raises(AttributeError, match="not part of the buffer interface"):
        getattr(state.buffer, "_queues")  # noqa: B009  # what a router must never reach
    assert "__contains__" not in _members(MembershipStore)
    with pytest.raises(AttributeError, match="not part of the sessions interface"):
        _ = sid(1) in state.sessions  # type: ignore[operator]  # not in the Protocol
    assert log == []
