"""The native hot path (quicko.relay.native) is a pure accelerator of the Python one.

Two relays over identical routers (same config, same seeded nonces, same clock): one with
``RelayServer(native=False)``, the reference, one with the C path. The same sequences of
frames — logins, Joins, Leaves, MESSAGEs valid and invalid (truncated, extended, byte-flipped,
forged senders, strangers, unknown sessions), Received, time passing over the rate, windows
overflowing, paused writers — go through each exactly as picows hands them over
(``NativeConnection.on_ws_frame``: ``NativePath.forward``, else ``RelayServer._receive``), and
every byte written to every connection, every counter and the router's per-connection state
must be equal after every step. The C path must also have taken the common MESSAGE (it is
checked to run), and never anything the Python path refuses.

Skipped, with the reason, when the module is not built (the default; ``scripts/compile.sh``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from router_harness import Harness, Peer, mid, sid

from quicko.protocol import Leave, Message, Received, encode_frame
from quicko.relay.compiled import native_built
from quicko.relay.config import RelayConfig
from quicko.relay.server import RelayServer

pytestmark = pytest.mark.skipif(
    not native_built(),
    reason="the native hot path (quicko/relay/native.pyx) is not built (pure Python, the "
    "default): run scripts/compile.sh (Cython) to test it",
)

#: Low limits, so that short sequences reach them: a rate of 50/s with a burst of 4, a debt
#: of 3 frames is abuse, a window of 1,200 unacknowledged bytes.
CONFIG = RelayConfig(
    rate=50.0,
    burst=4,
    source_rate=200.0,
    source_burst=12,
    abuse_limit=3,
    send_queue_bytes=1200,
    idle_timeout_s=600.0,
)
PEERS = 4
SESSIONS = 2


class _Underlying:
    """The asyncio transport under a fake picows transport: records what is written."""

    def __init__(self) -> None:
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def get_write_buffer_size(self) -> int:
        return 0

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def abort(self) -> None:
        pass


class _Transport:
    """What the server uses of a picows transport."""

    def __init__(self) -> None:
        self.underlying_transport = _Underlying()
        self.is_close_frame_sent = False
        self.is_disconnected = False
        self.closes: list[int] = []

    def send_close(self, code: int, reason: bytes = b"") -> None:
        self.closes.append(int(code))
        self.is_close_frame_sent = True

    def send(self, kind: object, data: bytes) -> None:
        self.underlying_transport.written.append(data)

    def disconnect(self) -> None:
        self.is_disconnected = True


class World:
    """A relay server (not listening) around a router, with logged-in peers on fake sockets."""

    def __init__(self, native: bool) -> None:
        self.h = Harness(dataclasses.replace(CONFIG), seed=7)
        self.server = RelayServer(self.h.config, router=self.h.router, native=native)
        assert self.server.native is native
        self.peers: list[Peer] = []
        self.listeners: list[Any] = []
        for n in range(PEERS):
            peer = self.h.peer(n + 1, source=f"192.0.2.{n % 2 + 1}")
            listener: Any = self.server._listener(f"192.0.2.{n % 2 + 1}")
            listener.conn_id = peer.conn
            listener.parts = None  # logged in
            listener.transport = _Transport()
            self.server._conns[peer.conn] = listener
            self.peers.append(peer)
            self.listeners.append(listener)
        self.server.read_ms = self.h.now
        for n in range(PEERS - 1):  # most steps then meet members (the last peer is a stranger)
            self.frame(n, encode_frame(self.h.join_request(self.peers[n], sid(0))))

    def frame(self, n: int, data: bytes) -> None:
        """What ``NativeConnection.on_ws_frame`` does with a final binary frame."""
        listener: Any = self.listeners[n]
        open_ = self.server._conns.get(listener.conn_id) is listener
        if not open_:
            return  # closed: picows no longer delivers its frames to the router
        path = self.server._native_path
        if path is None or not path.forward(listener, data):
            self.server._receive(listener, data)
        self.server._flush()

    def advance(self, ms: int) -> None:
        self.h.now += ms
        self.server.read_ms = self.h.now
        self.server._run(self.h.router.handle_timeout(self.h.now))
        self.server._flush()

    def pause(self, n: int, paused: bool) -> None:
        listener = self.listeners[n]
        if paused:
            self.server._write_paused(listener)
        else:
            self.server._write_resumed(listener)
        self.server._flush()

    def observe(self) -> dict[str, object]:
        """Everything the two paths must agree on."""
        router: Any = self.h.router
        conns = router._conns
        state = []
        for peer, listener in zip(self.peers, self.listeners, strict=True):
            c = conns.get(peer.conn)
            row: tuple[object, ...] = (
                b"".join(listener.transport.underlying_transport.written),
                tuple(listener.transport.closes),
                listener.outgoing,
                listener.release,
            )
            if c is not None:
                row += (
                    c.address,
                    c.closing,
                    c.last_ms,
                    c.sent,
                    c.acked,
                    c.acking,
                    None if c.inflight is None else list(c.inflight),
                    c.inflight_bytes,
                    c.blocked,
                    c.write_paused,
                    c.paused_until,
                    None if c.bucket is None else c.bucket.tat,
                    None if c.source_bucket is None else c.source_bucket.tat,
                )
            state.append(row)
        return {
            "connections": state,
            "metrics": router.metrics.as_dict(),
            "activity": list(conns._activity),
            "ack_waits": list(router._ack_waits),
            "buffered": len(router._buffer),
            "sessions": {
                session_id: dict(session.members)
                for session_id, session in router._sessions._sessions.items()
            },
        }


def message(world: World, sender: int, claimed: int, recipient: int, session: int, n: int) -> bytes:
    """A MESSAGE in the usual encoding (the C path's case when everything checks out)."""
    peers = world.peers
    return encode_frame(
        Message(
            sid(session),
            peers[claimed].address,
            peers[recipient].address,
            mid(n),
            world.h.now if n % 3 else n % 200,  # a uint64 timestamp, or a small int
            bytes(n % 7) * (n % 700),
        )
    )


def mutate(data: bytes, how: int, at: int, value: int) -> bytes:
    """Damage a frame: truncate, extend, or flip a byte (0: leave it alone)."""
    at %= len(data)
    if how == 1:
        return data[:at]
    if how == 2:
        return data + bytes([value])
    if how == 3:
        return data[:at] + bytes([data[at] ^ (value or 1)]) + data[at + 1 :]
    if how == 4:  # the length field says one byte more or less
        return data[:5] + bytes([(data[5] + (1 if value % 2 else 255)) % 256]) + data[6:]
    if how == 5:  # a trailing byte after the body, the length field counting it
        length = int.from_bytes(data[2:6], "big") + 1
        return data[:2] + length.to_bytes(4, "big") + data[6:] + bytes([value])
    return data


peer_ = st.integers(0, PEERS - 1)
session_ = st.integers(0, SESSIONS - 1)
step = st.one_of(
    st.tuples(st.just("join"), peer_, session_),
    st.tuples(st.just("leave"), peer_, session_),
    st.tuples(
        st.just("message"),
        st.tuples(peer_, peer_, peer_, session_, st.integers(0, 10_000)),
        st.tuples(
            st.sampled_from([0, 0, 0, 0, 1, 2, 3, 4, 5]),
            st.integers(0, 10_000),
            st.integers(0, 255),
        ),
    ),
    st.tuples(st.just("burst"), peer_, peer_, session_, st.integers(1, 12)),
    st.tuples(st.just("burst"), peer_, peer_, session_, st.integers(1, 12)),
    st.tuples(st.just("received"), peer_, st.integers(-1, 3)),
    st.tuples(st.just("advance"), st.sampled_from([0, 1, 7, 20, 100, 1000])),
    st.tuples(st.just("pause"), peer_, st.booleans()),
    st.tuples(st.just("raw"), peer_, st.binary(max_size=120)),
)


def run(world: World, steps: list[tuple[Any, ...]]) -> list[dict[str, object]]:
    seen = [world.observe()]
    for item in steps:
        kind = item[0]
        if kind == "join":
            _, n, s = item
            world.frame(n, encode_frame(world.h.join_request(world.peers[n], sid(s))))
        elif kind == "leave":
            _, n, s = item
            world.frame(n, encode_frame(Leave(sid(s))))
        elif kind == "message":
            _, (n, claimed, to, s, k), (how, at, value) = item
            world.frame(n, mutate(message(world, n, claimed, to, s, k), how, at, value))
        elif kind == "burst":
            _, n, to, s, count = item
            for k in range(count):
                world.frame(n, message(world, n, n, to, s, 1000 + k))
        elif kind == "received":
            _, n, delta = item
            router: Any = world.h.router
            c = router._conns.get(world.peers[n].conn)
            if c is not None:
                world.frame(n, encode_frame(Received(max(0, c.sent - delta))))
        elif kind == "advance":
            world.advance(item[1])
        elif kind == "pause":
            world.pause(item[1], item[2])
        else:
            world.frame(item[1], item[2])
        seen.append(world.observe())
    return seen


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(step, max_size=40))
def test_the_native_path_changes_and_writes_exactly_what_the_python_path_does(
    steps: list[tuple[Any, ...]],
) -> None:
    pure, native = World(native=False), World(native=True)
    assert run(pure, steps) == run(native, steps)


def test_the_native_path_takes_the_common_message() -> None:
    """Not vacuous: the C path forwards the usual MESSAGE, and declines everything else."""
    steps: list[tuple[Any, ...]] = [
        ("burst", 0, 1, 0, 3),  # within the burst of 4: all three in C
        ("message", (0, 1, 0, 0, 5), (0, 0, 0)),  # forged sender: Python's SENDER_MISMATCH
        ("message", (0, 0, 3, 0, 6), (0, 0, 0)),  # a stranger to the session: Python
        ("message", (0, 0, 1, 1, 7), (0, 0, 0)),  # an unknown session: Python
        ("advance", 1000),
        ("message", (0, 0, 1, 0, 8), (3, 40, 1)),  # a flipped byte: Python decides
        ("message", (1, 1, 0, 0, 9), (0, 0, 0)),  # the other way: C
        ("burst", 0, 1, 0, 8),  # over the rate: C until the bucket is dry, then Python
    ]
    pure, native = World(native=False), World(native=True)
    assert run(pure, steps) == run(native, steps)
    path = native.server._native_path
    assert path is not None
    assert 5 <= path.forwarded < 3 + 1 + 8
    metrics = native.h.router.metrics
    assert metrics.rejections  # the refused ones were refused, by the Python path
    assert metrics.reads_paused > 0


@settings(max_examples=300, deadline=None)
@given(
    st.tuples(peer_, peer_, session_, st.integers(0, 10_000)),
    st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), min_size=1, max_size=4),
    st.integers(0, 400),
    st.binary(max_size=12),
)
def test_damaged_frames_are_never_taken_unless_python_would(
    fields: tuple[int, int, int, int],
    flips: list[tuple[int, int]],
    cut: int,
    tail: bytes,
) -> None:
    """Fuzz: a valid MESSAGE, bytes flipped, cut short or extended: same outcome both ways."""
    pure, native = World(native=False), World(native=True)
    sender, to, _, k = fields
    out = []
    for world in (pure, native):
        data = bytearray(message(world, sender, sender, to, 0, k))
        for at, value in flips:
            data[at % len(data)] ^= value
        frame = bytes(data[: max(1, len(data) - cut % 8)] if cut % 3 == 0 else data) + tail
        if cut % 5 == 1:  # the length field made to agree with the damage
            frame = frame[:2] + (len(frame) - 6).to_bytes(4, "big") + frame[6:]
        world.frame(sender, frame)
        out.append(world.observe())
    assert out[0] == out[1]


@pytest.mark.parametrize("acking", [False, True])
def test_windows_and_paused_writers_are_the_python_paths(acking: bool) -> None:
    """A recipient over its window (forgotten frames, or blocked), or paused: same both ways."""
    steps: list[tuple[Any, ...]] = []
    if acking:
        steps.append(("received", 1, 0))  # peer 1 acknowledges: over its window it is blocked
    for k in range(6):  # 6 x ~700 bytes > the window of 1,200
        steps += [("message", (0, 0, 1, 0, 699 + k * 700), (0, 0, 0)), ("advance", 100)]
    steps += [
        ("pause", 2, True),
        ("message", (0, 0, 2, 0, 5), (0, 0, 0)),  # held for the paused writer
        ("advance", 100),
        ("pause", 2, False),
        ("received", 1, 0),
        ("message", (0, 0, 1, 0, 6), (0, 0, 0)),
        ("message", (0, 0, 1, 0, 7), (5, 0, 9)),  # a trailing byte the length counts
    ]
    pure, native = World(native=False), World(native=True)
    assert run(pure, steps) == run(native, steps)
    metrics = native.h.router.metrics
    assert metrics.writes_blocked > 0
    if not acking:
        assert metrics.unacked_forgotten > 0


def test_every_damaged_header_byte_and_every_cut_is_decided_alike() -> None:
    """Each byte of a MESSAGE's fixed part flipped, and the frame cut at every length."""
    pure, native = World(native=False), World(native=True)
    frames: list[bytes] = []
    for k, small in ((5, True), (300, False)):  # a small timestamp, and a uint64 one
        valid = message(pure, 0, 0, 1, 0, k if small else 3 * k + 1)
        for at in range(min(len(valid), 100)):
            for value in (0x01, 0x10, 0x80, 0xFF):
                frames.append(mutate(valid, 3, at, value))
        frames += [valid[:cut] for cut in range(len(valid))]
        frames += [mutate(valid, 5, 0, value) for value in (0, 1, 0xC4)]
    taken = []
    for frame in frames:
        for world in (pure, native):
            world.advance(100)  # a token for every frame: the frame decides
            world.frame(0, frame)
        assert pure.observe() == native.observe(), frame.hex()
        path = native.server._native_path
        assert path is not None
        taken.append(path.forwarded)
    assert taken[-1] > 0  # the valid-looking ones (a flip in the body's bytes) went through C


def test_a_large_message_flags_the_read_buffer_for_release_in_both() -> None:
    """A frame over RELEASE_AFTER_BYTES sets the listener's release flag, on either path."""
    pure, native = World(native=False), World(native=True)
    for world in (pure, native):
        frame = encode_frame(
            Message(
                sid(0), world.peers[0].address, world.peers[1].address, mid(1), 0, bytes(20_000)
            )
        )
        world.listeners[0].release = False
        world.frame(0, frame)
    assert pure.observe() == native.observe()
    assert native.listeners[0].release
    path = native.server._native_path
    assert path is not None and path.forwarded == 1
