"""The load connection's modes (setup queue, closed loop, open loop), with fake transports."""

from __future__ import annotations

import asyncio
import secrets
from typing import cast

import pytest
from picows import WSFrame, WSMsgType, WSTransport
from picows.picows import _make_test_ws_frame

from quicko.bench.client import (
    CLOSED_LOOP,
    DRAIN,
    OPEN_LOOP,
    BenchClient,
    BenchError,
    Recorder,
    bounded_map,
)
from quicko.bench.wire import MessageTemplate, client_ws_frame, stamp
from quicko.protocol import Ack, AckStatus, Error, ErrorCode, encode_frame


class FakeTcp:
    def __init__(self) -> None:
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(data)


class FakeTransport:
    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.underlying_transport = FakeTcp()

    def send(self, msg_type: WSMsgType, data: bytes | bytearray) -> None:
        self.sent.append(bytes(data))


def _ws(fake: FakeTransport) -> WSTransport:
    """The fake, typed as the picows transport it stands in for."""
    return cast("WSTransport", fake)


class FakeFrame:
    """A received binary frame, with picows' ``last_in_buffer`` settable (a real one's is not)."""

    msg_type = WSMsgType.BINARY

    def __init__(self, data: bytes | bytearray, last: bool) -> None:
        self.data = bytes(data)
        self.last_in_buffer = last

    def get_payload_as_bytes(self) -> bytes:
        return self.data

    def get_payload_as_memoryview(self) -> memoryview:
        return memoryview(self.data)


def _frame(data: bytes | bytearray, *, last: bool = True) -> WSFrame:
    if last:  # a real picows frame where the flag's default (True) is what the test needs
        return _make_test_ws_frame(WSMsgType.BINARY, bytes(data), True, False)
    return cast("WSFrame", FakeFrame(data, last))


def _message() -> MessageTemplate:
    ids = [secrets.token_bytes(16) for _ in range(4)]
    return MessageTemplate(session_id=ids[0], sender=ids[1], recipient=ids[2], message_id=ids[3])


def _ack() -> bytes:
    return encode_frame(Ack(bytes(16), bytes(16), bytes(16), bytes(16), int(AckStatus.ACCEPTED)))


def _pair() -> tuple[BenchClient, FakeTransport, BenchClient, FakeTransport]:
    a, b = BenchClient(), BenchClient()
    a_transport, b_transport = FakeTransport(), FakeTransport()
    a.on_ws_connected(_ws(a_transport))
    b.on_ws_connected(_ws(b_transport))
    a.peer, b.peer = b, a
    a.frame, b.frame = _message().frame, _message().frame
    return a, a_transport, b, b_transport


def test_closed_loop_receipts_let_the_peer_send_as_many_frames_in_one_write() -> None:
    a, a_transport, b, b_transport = _pair()
    for client in (a, b):
        client.start(CLOSED_LOOP)
    a.running = True
    b.on_ws_frame(_ws(b_transport), _frame(a.frame, last=False))
    b.on_ws_frame(_ws(b_transport), _frame(a.frame, last=False))
    assert b.received == 2
    assert a_transport.underlying_transport.written == []
    b.on_ws_frame(_ws(b_transport), _frame(a.frame, last=True))
    assert a_transport.underlying_transport.written == [client_ws_frame(a.frame) * 3]
    assert a.sent == 3
    a.running = False
    b.on_ws_frame(_ws(b_transport), _frame(a.frame))
    assert b.received == 4
    assert len(a_transport.underlying_transport.written) == 1


def test_closed_loop_flushes_after_an_ack_ends_the_read() -> None:
    a, a_transport, b, b_transport = _pair()
    for client in (a, b):
        client.start(CLOSED_LOOP)
    a.running = True
    b.on_ws_frame(_ws(b_transport), _frame(a.frame, last=False))
    b.on_ws_frame(_ws(b_transport), _frame(_ack(), last=True))
    assert a_transport.underlying_transport.written == [client_ws_frame(a.frame)]
    assert (b.received, b.acks) == (1, 1)


def test_acks_and_errors_are_counted_apart_and_never_answered() -> None:
    a, a_transport, b, b_transport = _pair()
    a.start(CLOSED_LOOP)
    b.start(CLOSED_LOOP)
    b.running = True
    error = encode_frame(Error(int(ErrorCode.RATE_LIMITED), "slow down", 0x10, b""))
    a.on_ws_frame(_ws(a_transport), _frame(_ack()))
    a.on_ws_frame(_ws(a_transport), _frame(error))
    assert (a.received, a.acks, a.others) == (0, 1, 1)
    assert a.first_error == error
    assert b_transport.underlying_transport.written == []


def test_open_loop_records_latency_only_inside_the_window() -> None:
    a, _, b, b_transport = _pair()
    recorder = Recorder()
    recorder.start_ns, recorder.stop_ns = 1_000, 2_000
    b.recorder = recorder
    b.start(OPEN_LOOP)
    template = MessageTemplate(
        session_id=bytes(16), sender=bytes(16), recipient=bytes(16), message_id=bytes(16)
    )
    for sent_ns in (500, 1_500, 2_500):
        stamp(template, sent_ns)
        b.on_ws_frame(_ws(b_transport), _frame(template.frame))
    assert b.received == 3
    assert len(recorder.latencies) == 1
    assert recorder.latencies[0] > 0
    assert a.received == 0


def test_drain_mode_counts_messages_without_sending() -> None:
    a, a_transport, b, b_transport = _pair()
    b.start(DRAIN)
    a.running = True
    b.on_ws_frame(_ws(b_transport), _frame(a.frame))
    assert b.received == 1
    assert a_transport.sent == []


async def test_setup_frames_are_queued_for_next_frame() -> None:
    client = BenchClient()
    client.on_ws_connected(_ws(FakeTransport()))
    client.on_ws_frame(_ws(FakeTransport()), _frame(b"first"))
    client.on_ws_frame(_ws(FakeTransport()), _frame(b"second"))
    assert await client.next_frame(1.0) == b"first"
    assert await client.next_frame(1.0) == b"second"
    client.start(CLOSED_LOOP)
    client.on_ws_frame(_ws(FakeTransport()), _frame(_ack()))
    assert client.acks == 1


async def test_next_frame_times_out_and_reports_disconnection() -> None:
    client = BenchClient()
    with pytest.raises(BenchError, match="no frame"):
        await client.next_frame(0.01)
    waiting = asyncio.ensure_future(client.next_frame(5.0))
    await asyncio.sleep(0)
    client.on_ws_disconnected(_ws(FakeTransport()))
    with pytest.raises(BenchError, match="closed"):
        await waiting


async def test_bounded_map_keeps_order_and_bounds_concurrency() -> None:
    running = peak = 0

    async def work(item: int) -> int:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0)
        running -= 1
        return item * 2

    assert await bounded_map(work, range(20), 3) == [2 * n for n in range(20)]
    assert peak == 3


async def test_bounded_map_raises_the_first_failure() -> None:
    async def work(item: int) -> int:
        if item == 5:
            raise BenchError("refused")
        return item

    with pytest.raises(ExceptionGroup) as group:
        await bounded_map(work, range(10), 2)
    assert group.group_contains(BenchError)
