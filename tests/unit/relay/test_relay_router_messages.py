"""Router: MESSAGE, ACK and KEY_EXCHANGE routing, acks, buffering, decode errors (§4-§5, §9-§10)."""

from __future__ import annotations

import msgpack
import pytest
from router_harness import Harness, Peer, closes, errors, mid, payloads, raw, sid

from quicko.protocol import (
    Ack,
    AckStatus,
    Error,
    ErrorCode,
    HelloAck,
    Joined,
    KeyExchange,
    LookupResponse,
    Message,
    MessageType,
    Pong,
    decode_frame,
    encode_frame,
)
from quicko.relay.config import RelayConfig
from quicko.relay.router import Send


def _pair(h: Harness) -> tuple[Peer, Peer]:
    a, b = h.peer(1), h.peer(2)
    h.join(a, sid(1))
    h.join(b, sid(1))
    return a, b


def _message(a: Peer, to: bytes, n: int, body: bytes = b"ciphertext") -> Message:
    return Message(sid(1), a.address, to, mid(n), 1_700_000_000_000, body)


def test_message_is_forwarded_unchanged_and_accepted() -> None:
    h = Harness()
    a, b = _pair(h)
    frame = encode_frame(_message(a, b.address, 1))
    actions = h.recv(a.conn, frame)
    assert raw(actions, b.conn) == [frame]
    assert payloads(actions, a.conn) == [
        Ack(sid(1), a.address, b.address, mid(1), AckStatus.ACCEPTED)
    ]


def test_message_in_another_valid_encoding_takes_the_slow_path() -> None:
    h = Harness()
    a, b = _pair(h)
    items = [sid(1), a.address, b.address, mid(1), 5, b"body"]
    # A signed 64-bit timestamp is valid MessagePack for an integer, but not the usual layout.
    body = msgpack.packb(items, use_bin_type=True).replace(
        b"\x05\xc4", b"\xd3" + bytes(7) + b"\x05\xc4"
    )
    frame = b"\x04\x10" + len(body).to_bytes(4, "big") + body
    actions = h.recv(a.conn, frame)
    assert raw(actions, b.conn) == [frame]
    assert payloads(actions, a.conn) == [Ack(sid(1), a.address, b.address, mid(1), 1)]
    items[1] = b.address
    body = msgpack.packb(items, use_bin_type=True).replace(
        b"\x05\xc4", b"\xd3" + bytes(7) + b"\x05\xc4"
    )
    forged = b"\x04\x10" + len(body).to_bytes(4, "big") + body
    assert errors(h.recv(a.conn, forged), a.conn) == [ErrorCode.SENDER_MISMATCH]


def test_sender_mismatch() -> None:
    h = Harness()
    a, b = _pair(h)
    forged = Message(sid(1), b.address, a.address, mid(1), 0, b"x")
    actions = h.send(a.conn, forged)
    [error] = payloads(actions, a.conn)
    assert isinstance(error, Error)
    assert (error.code, error.ref_type, error.ref_id) == (ErrorCode.SENDER_MISMATCH, 0x10, mid(1))
    assert raw(actions, b.conn) == []


def test_not_a_member_and_recipient_unknown() -> None:
    h = Harness()
    a, b = _pair(h)
    c = h.peer(3)
    assert errors(
        h.send(c.conn, Message(sid(1), c.address, a.address, mid(1), 0, b"")), c.conn
    ) == [ErrorCode.NOT_A_MEMBER]
    assert errors(
        h.send(a.conn, Message(sid(7), a.address, b.address, mid(1), 0, b"")), a.conn
    ) == [ErrorCode.NOT_A_MEMBER]
    assert errors(h.send(a.conn, _message(a, c.address, 2)), a.conn) == [
        ErrorCode.RECIPIENT_UNKNOWN
    ]


def test_message_to_everyone() -> None:
    h = Harness()
    a, b = _pair(h)
    c = h.peer(3)
    h.join(c, sid(1))
    frame = encode_frame(_message(a, b"", 1))
    actions = h.recv(a.conn, frame)
    assert raw(actions, b.conn) == [frame]
    assert raw(actions, c.conn) == [frame]
    assert payloads(actions, a.conn) == [Ack(sid(1), a.address, b"", mid(1), AckStatus.ACCEPTED)]


def test_message_alone_in_a_session_is_accepted() -> None:
    h = Harness()
    a = h.peer(1)
    h.join(a, sid(1))
    actions = h.send(a.conn, _message(a, b"", 1))
    assert payloads(actions, a.conn) == [Ack(sid(1), a.address, b"", mid(1), AckStatus.ACCEPTED)]


def test_buffered_across_reconnect_in_order() -> None:
    h = Harness()
    a, b = _pair(h)
    h.drop(b)
    frames = [encode_frame(_message(a, b.address, n)) for n in range(3)]
    for n, frame in enumerate(frames):
        actions = h.recv(a.conn, frame)
        assert payloads(actions, a.conn) == [
            Ack(sid(1), a.address, b.address, mid(n), AckStatus.BUFFERED)
        ]
    assert h.router.metrics.buffered_frames == 3
    h.now += 10_000
    b2, actions = h.connect(2)
    sent = raw(actions, b2.conn)
    assert decode_ack(sent[0]) == HelloAck(b.address, "node-test", h.now, 3)
    assert sent[1:] == frames
    assert h.router.health()["buffered_frames"] == 0
    assert h.advance(60_000) == []  # nothing left to expire


def decode_ack(data: bytes) -> object:
    return decode_frame(data)


def test_fan_out_holds_for_away_members_and_expires_once() -> None:
    h = Harness()
    a, b = _pair(h)
    c, d = h.peer(3), h.peer(4)
    h.join(c, sid(1))
    h.join(d, sid(1))
    h.drop(b)
    h.drop(c)
    frame = encode_frame(_message(a, b"", 1))
    actions = h.recv(a.conn, frame)
    assert raw(actions, d.conn) == [frame]
    assert payloads(actions, a.conn) == [Ack(sid(1), a.address, b"", mid(1), AckStatus.BUFFERED)]
    actions = h.advance(60_000)
    assert (
        payloads(actions, a.conn).count(Ack(sid(1), a.address, b"", mid(1), AckStatus.EXPIRED)) == 1
    )
    assert h.router.metrics.buffer_expired == 2


def test_expired_ack_only_to_a_connected_sender() -> None:
    h = Harness()
    a, b = _pair(h)
    h.drop(b)
    h.send(a.conn, _message(a, b.address, 1))
    h.now += 30_000
    h.drop(a)
    a2, _ = h.connect(1)
    actions = h.advance(30_000)
    assert Ack(sid(1), a.address, b.address, mid(1), AckStatus.EXPIRED) in payloads(
        actions, a2.conn
    )
    h2 = Harness()
    a, b = _pair(h2)
    h2.drop(b)
    h2.send(a.conn, _message(a, b.address, 1))
    h2.drop(a)
    assert not [x for x in h2.advance(60_000) if getattr(x, "conn", None) == a.conn]


def test_buffer_full_per_recipient_and_total() -> None:
    h = Harness(RelayConfig(rate=1000, burst=1000, buffer_per_recipient=2, buffer_total=3))
    a, b = _pair(h)
    c = h.peer(3)
    h.join(c, sid(1))
    h.drop(b)
    h.drop(c)
    for n in range(2):
        h.send(a.conn, _message(a, b.address, n))
    actions = h.send(a.conn, _message(a, b.address, 2))
    [error] = payloads(actions, a.conn)
    assert isinstance(error, Error)
    assert (error.code, error.ref_id) == (ErrorCode.BUFFER_FULL, mid(2))
    # Broadcast: c still has room for one (total 3), b has none: BUFFERED and BUFFER_FULL.
    actions = h.send(a.conn, _message(a, b"", 3))
    assert [type(p).__name__ for p in payloads(actions, a.conn)] == ["Error", "Ack"]
    assert errors(h.send(a.conn, _message(a, c.address, 4)), a.conn) == [ErrorCode.BUFFER_FULL]


def test_client_ack_is_routed_to_the_sender() -> None:
    h = Harness()
    a, b = _pair(h)
    ack = Ack(sid(1), a.address, b.address, mid(1), int(AckStatus.RECEIVED))
    frame = encode_frame(ack)
    actions = h.recv(b.conn, frame)
    assert raw(actions, a.conn) == [frame]
    assert raw(actions, b.conn) == []
    # Held while the sender is away, delivered after its HelloAck; the first copy, never
    # acknowledged with Received on a's first connection, is re-delivered before it.
    h.drop(a)
    assert h.recv(b.conn, frame) == []
    a2, actions = h.connect(1)
    assert raw(actions, a2.conn)[1:] == [frame, frame]


@pytest.mark.parametrize(
    ("ack", "code"),
    [
        (Ack(sid(1), b"A" * 16, b"B" * 16, mid(1), int(AckStatus.ACCEPTED)), ErrorCode.MALFORMED),
        (
            Ack(sid(1), b"A" * 16, b"C" * 16, mid(1), int(AckStatus.RECEIVED)),
            ErrorCode.SENDER_MISMATCH,
        ),
        (Ack(sid(1), b"A" * 16, b"", mid(1), int(AckStatus.RECEIVED)), ErrorCode.SENDER_MISMATCH),
        (
            Ack(sid(1), b"C" * 16, b"B" * 16, mid(1), int(AckStatus.RECEIVED)),
            ErrorCode.RECIPIENT_UNKNOWN,
        ),
        (
            Ack(sid(9), b"A" * 16, b"B" * 16, mid(1), int(AckStatus.RECEIVED)),
            ErrorCode.NOT_A_MEMBER,
        ),
    ],
)
def test_bad_client_acks(ack: Ack, code: ErrorCode) -> None:
    h = Harness()
    a, b = _pair(h)
    real = Ack(
        ack.session_id,
        a.address if ack.sender == b"A" * 16 else ack.sender,
        b.address if ack.recipient == b"B" * 16 else ack.recipient,
        ack.message_id,
        ack.status,
    )
    assert errors(h.send(b.conn, real), b.conn) == [code]


def test_key_exchange_routing() -> None:
    h = Harness()
    a, b = _pair(h)
    frame = encode_frame(KeyExchange(sid(1), a.address, b.address, b"spake"))
    actions = h.recv(a.conn, frame)
    assert raw(actions, b.conn) == [frame]
    assert raw(actions, a.conn) == []  # no relay ack for key exchanges
    to_all = encode_frame(KeyExchange(sid(1), a.address, b"", b"spake"))
    assert raw(h.recv(a.conn, to_all), b.conn) == [to_all]
    assert errors(h.send(a.conn, KeyExchange(sid(1), b.address, b"", b"")), a.conn) == [
        ErrorCode.SENDER_MISMATCH
    ]
    assert errors(h.send(a.conn, KeyExchange(sid(1), a.address, bytes(16), b"")), a.conn) == [
        ErrorCode.RECIPIENT_UNKNOWN
    ]
    assert errors(h.send(a.conn, KeyExchange(sid(2), a.address, b"", b"")), a.conn) == [
        ErrorCode.NOT_A_MEMBER
    ]


def test_key_exchange_buffer_full() -> None:
    h = Harness(RelayConfig(rate=1000, burst=1000, buffer_per_recipient=1))
    a, b = _pair(h)
    h.drop(b)
    assert h.send(a.conn, KeyExchange(sid(1), a.address, b.address, b"1")) == []
    actions = h.send(a.conn, KeyExchange(sid(1), a.address, b.address, b"2"))
    [error] = payloads(actions, a.conn)
    assert isinstance(error, Error)
    assert (error.code, error.ref_type, error.ref_id) == (ErrorCode.BUFFER_FULL, 0x40, sid(1))


@pytest.mark.parametrize(
    "payload",
    [
        HelloAck(bytes(16), "n", 0, 0),
        Pong(1, 2),
        Joined(sid(1), "", ()),
        LookupResponse(bytes(16), False, False, "", b"", b"", "", 0, b""),
        Error(1, "x", 0, b""),
    ],
)
def test_relay_only_frames_are_unexpected(payload: object) -> None:
    h = Harness()
    a = h.peer(1)
    actions = h.send(a.conn, payload)  # type: ignore[arg-type]  # every case is a Payload
    assert errors(actions, a.conn) == [ErrorCode.UNEXPECTED_TYPE]
    assert closes(actions) == {}


@pytest.mark.parametrize(
    ("data", "code", "ref_type"),
    [
        (b"", ErrorCode.MALFORMED, 0),
        (b"\x04\x10\x00\x00\x00\x05abc", ErrorCode.MALFORMED, 0x10),
        (b"\x01\x10\x00\x00\x00\x00", ErrorCode.UNSUPPORTED_VERSION, 0x10),
        (b"\x04\x10\x7f\xff\xff\xff", ErrorCode.TOO_LARGE, 0x10),
        (b"\x04\x99\x00\x00\x00\x00", ErrorCode.UNKNOWN_TYPE, 0),
        (b"\x04\x10\x00\x00\x00\x01\x90", ErrorCode.MALFORMED, 0x10),
    ],
)
def test_decode_errors_keep_the_connection_open(data: bytes, code: int, ref_type: int) -> None:
    h = Harness()
    a = h.peer(1)
    actions = h.recv(a.conn, data)
    [error] = payloads(actions, a.conn)
    assert isinstance(error, Error)
    assert (error.code, error.ref_type) == (code, ref_type)
    assert 0 < len(error.reason) <= 256
    assert closes(actions) == {}


def test_receive_fast_is_receive_in_short() -> None:
    slow, fast = Harness(seed=7), Harness(seed=7)
    a, b = _pair(slow)
    assert _pair(fast) == (a, b)
    frame = encode_frame(_message(a, b.address, 1))
    actions = slow.recv(a.conn, frame)
    result = fast.router.receive_fast(a.conn, frame, fast.now)
    assert isinstance(result, tuple)
    target, ack = result
    assert [Send(target, frame), Send(a.conn, ack)] == actions
    # Anything unusual is the same list as receive's (here: a sender mismatch).
    forged = encode_frame(Message(sid(1), b.address, a.address, mid(2), 0, b"x"))
    assert fast.router.receive_fast(a.conn, forged, fast.now) == slow.recv(a.conn, forged)


def test_hot_path_counts_in_the_metrics() -> None:
    h = Harness()
    a, b = _pair(h)
    before = h.router.metrics.as_dict()
    frame = encode_frame(_message(a, b.address, 1))
    actions = h.recv(a.conn, frame)
    after = h.router.metrics
    assert after.bytes_in - before["bytes_in"] == len(frame)
    sent = sum(len(action.data) for action in actions if isinstance(action, Send))
    assert after.bytes_out - before["bytes_out"] == sent
    assert after.frames_in[MessageType.MESSAGE] == 1
    assert after.frames_out[MessageType.MESSAGE] == after.frames_out[MessageType.ACK] == 1
    assert h.router.metrics.frames_out[MessageType.ACK] == 1  # folded once, not twice
