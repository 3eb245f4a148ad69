"""Arbitrary bytes into the router never raise and produce only Send/Close actions."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from router_harness import Harness, identity, sid

from quicko.protocol import (
    Ack,
    CallPeer,
    CallResponse,
    Join,
    KeyExchange,
    Leave,
    LobbyMessage,
    LookupKey,
    Message,
    MessageType,
    Ping,
    ReleaseNameplate,
    UnregisterKey,
    decode_frame,
    encode_frame,
)
from quicko.relay.config import RelayConfig
from quicko.relay.router import Action, Close, PauseReading, Send

_TYPES = sorted(int(t) for t in MessageType)
frames = st.one_of(
    st.binary(max_size=300),
    st.builds(
        lambda kind, body: b"\x03" + bytes([kind]) + len(body).to_bytes(4, "big") + body,
        st.sampled_from(_TYPES),
        st.binary(max_size=200),
    ),
)


def _check(actions: Sequence[Action], known: set[int]) -> None:
    for action in actions:
        assert isinstance(action, Send | Close | PauseReading)
        assert action.conn in known
        if isinstance(action, Send):
            decode_frame(action.data)  # everything the relay sends is a valid frame


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.booleans(), frames), max_size=12))
def test_arbitrary_frames_never_crash(script: list[tuple[bool, bytes]]) -> None:
    h = Harness(RelayConfig(rate=5, burst=5, abuse_limit=3))
    a, b = h.peer(1), h.peer(2)
    h.join(a, sid(1))
    h.join(b, sid(1))
    stranger = h.open()
    known = {a.conn, b.conn, stranger}
    for to_stranger, data in script:
        conn = stranger if to_stranger else a.conn
        _check(h.recv(conn, data), known)
        h.now += 50
        _check(h.router.handle_timeout(h.now), known)
    _check(h.router.closed(a.conn, h.now), known)
    _check(h.router.shutdown(h.now), known)


_A, _B = identity(1).address, identity(2).address
_VALID = [
    encode_frame(p)
    for p in (
        Message(sid(1), _A, _B, bytes(16), 1, b"body"),
        Message(sid(1), _A, b"", bytes(16), 1, b"body"),
        Ack(sid(1), _B, _A, bytes(16), 4),
        KeyExchange(sid(1), _A, _B, b"kx"),
        Join(sid(2), "ABCD"),
        Join(b"", "ABCD"),
        LobbyMessage("ABCD", b"", b"pake"),
        LobbyMessage("ABCD", _B, b"pake"),
        Leave(sid(1)),
        ReleaseNameplate(sid(2), "ABCD"),
        LookupKey(_B),
        UnregisterKey(_A),
        CallPeer(bytes(16), _A, _B, b""),
        CallResponse(bytes(16), _B, _A, 1, b""),
        Ping(1),
    )
]


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.sampled_from(_VALID), st.integers(0, 80), st.integers(0, 255)),
        max_size=10,
    )
)
def test_mutated_valid_frames_never_crash(script: list[tuple[bytes, int, int]]) -> None:
    h = Harness()
    a, b = h.peer(1), h.peer(2)
    h.join(a, sid(1))
    h.join(b, sid(1))
    known = {a.conn, b.conn}
    for frame, position, value in script:
        mutated = bytearray(frame)
        mutated[min(position, len(frame) - 1)] = value
        _check(h.recv(a.conn, bytes(mutated)), known)
