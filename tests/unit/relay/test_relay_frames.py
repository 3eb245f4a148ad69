"""The fast MESSAGE parser and Ack builder agree with the protocol codec."""

from __future__ import annotations

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from quicko.errors import RemoteProtocolError
from quicko.protocol import (
    Ack,
    AckStatus,
    Error,
    ErrorCode,
    Message,
    Received,
    decode_frame,
    encode_frame,
)
from quicko.relay.frames import (
    ACCEPTED_ACK_BYTES,
    accepted_ack,
    ack_frame_from_message,
    error_frame,
    parse_message,
    received_count,
    route_fields,
)

ids = st.binary(min_size=16, max_size=16)
messages = st.builds(
    Message,
    session_id=ids,
    sender=ids,
    recipient=st.one_of(st.just(b""), ids),
    message_id=ids,
    timestamp=st.one_of(st.integers(0, 2**64 - 1), st.integers(0, 300)),
    body=st.binary(max_size=70_000),
)


@given(messages, st.integers(1, 127))
def test_parse_message_reads_what_the_codec_writes(message: Message, status: int) -> None:
    frame = encode_frame(message)
    fields = parse_message(frame)
    assert fields is not None
    assert fields[:4] == (message.session_id, message.sender, message.recipient, message.message_id)
    ack = Ack(message.session_id, message.sender, message.recipient, message.message_id, status)
    assert ack_frame_from_message(frame, fields[4], status) == encode_frame(ack)


@given(messages, st.binary(max_size=12), st.integers(0, 200))
def test_parse_message_accepts_only_valid_frames(
    message: Message, noise: bytes, position: int
) -> None:
    frame = bytearray(encode_frame(message))
    where = min(position, len(frame))
    mutated = bytes(frame[:where] + noise + frame[where + len(noise) :])
    fields = parse_message(mutated)
    if fields is not None:
        decoded = decode_frame(mutated)
        assert isinstance(decoded, Message)
        assert fields[:4] == (
            decoded.session_id,
            decoded.sender,
            decoded.recipient,
            decoded.message_id,
        )


@given(st.binary(max_size=200))
def test_parse_message_on_arbitrary_bytes(data: bytes) -> None:
    data = b"\x04\x10" + (len(data)).to_bytes(4, "big") + data
    if parse_message(data) is not None:
        assert isinstance(decode_frame(data), Message)


def _frame(items: list[object]) -> bytes:
    body: bytes = msgpack.packb(items, use_bin_type=True)
    return b"\x04\x10" + len(body).to_bytes(4, "big") + body


S = b"s" * 16


@pytest.mark.parametrize(
    "data",
    [
        b"\x04\x10",
        _frame([S, S, S, S, 1]),  # too short for a body
        _frame([S, S, b"", S, 1]),  # to-all, too short
        _frame([S, S, b"x" * 5, S, 1, b""]),  # recipient of a bad size
        _frame([S, S, S, S, -1, b""]),  # negative timestamp
        _frame([S, S, S, S, 1.5, b""]),  # float timestamp
        _frame([S, S, S, S, 1, "text"]),  # body is a str
        _frame([S, S, S, S, 1, b""]) + b"\x00",  # trailing byte
        _frame([S, S, S, S, 1, b"x" * 300])[:-1],  # truncated body
        _frame([S, S, S, S, 1, b"x" * 70_000])[:84],  # truncated bin 32 header
        _frame([S, S, S, S, 1, b"x" * 300])[:84],  # truncated bin 16 header
        _frame([S, S, S, S, 2**40]).replace(b"\xcf", b"\xcf", 1),
        _frame([S, S, S, S, 1, b"", 1]),  # seven items
        b"\x01" + _frame([S, S, S, S, 1, b""])[1:],  # version 1
        _frame([S, S, S, S, 1, b""])[:2] + b"\x00\x00\x00\x00" + _frame([S, S, S, S, 1, b""])[6:],
    ],
)
def test_parse_message_declines(data: bytes) -> None:
    assert parse_message(data) is None


def test_parse_message_declines_the_first_fixed_fields() -> None:
    good = _frame([S, S, S, S, 1, b""])
    for offset in range(6, 62):
        mutated = good[:offset] + bytes([good[offset] ^ 0x01]) + good[offset + 1 :]
        fields = parse_message(mutated)
        if fields is not None:  # only the id bytes themselves may change
            decoded = decode_frame(mutated)
            assert isinstance(decoded, Message)


def test_decline_means_the_codec_decides() -> None:
    truncated = _frame([S, S, S, S, 1, b"x" * 300])[:-1]
    with pytest.raises(RemoteProtocolError):
        decode_frame(truncated)


def test_error_frame() -> None:
    frame = error_frame(ErrorCode.MALFORMED, "x" * 300, 0x10, b"id")
    decoded = decode_frame(frame)
    assert decoded == Error(ErrorCode.MALFORMED, "x" * 256, 0x10, b"id")
    hidden = decode_frame(error_frame(ErrorCode.MALFORMED, "bad\x00reason"))
    assert isinstance(hidden, Error)
    assert hidden.reason == "invalid frame"


@given(messages)
def test_route_fields_reads_what_the_codec_writes(message: Message) -> None:
    frame = encode_frame(message)
    fields = route_fields(frame)
    if message.recipient and len(message.body) < 65_536:  # what the hot path takes
        assert fields == (message.session_id, message.sender, message.recipient)
        ack = Ack(
            message.session_id,
            message.sender,
            message.recipient,
            message.message_id,
            AckStatus.ACCEPTED,
        )
        assert accepted_ack(frame) == encode_frame(ack)
        assert len(accepted_ack(frame)) == ACCEPTED_ACK_BYTES
    else:
        assert fields is None


@given(messages, st.binary(max_size=12), st.integers(0, 200))
def test_route_fields_accepts_only_valid_frames(
    message: Message, noise: bytes, position: int
) -> None:
    frame = bytearray(encode_frame(message))
    where = min(position, len(frame))
    mutated = bytes(frame[:where] + noise + frame[where + len(noise) :])
    fields = route_fields(mutated)
    if fields is not None:
        decoded = decode_frame(mutated)
        assert isinstance(decoded, Message)
        assert fields == (decoded.session_id, decoded.sender, decoded.recipient)


@given(st.binary(max_size=200))
def test_route_fields_on_arbitrary_bytes(data: bytes) -> None:
    data = b"\x04\x10" + (len(data)).to_bytes(4, "big") + data
    if route_fields(data) is not None:
        assert isinstance(decode_frame(data), Message)


@pytest.mark.parametrize(
    "data",
    [
        b"\x04\x10",
        _frame([S, S, b"", S, 1, b""]),  # to all: parse_message's
        _frame([S, S, S, S, 1, b"x" * 70_000]),  # bin 32 body: parse_message's
        _frame([S, S, S, S, 1, b"x" * 300])[:-1],  # truncated body
        _frame([S, S, S, S, 1, b""]) + b"\x00",  # trailing byte
        _frame([S, S, S, S, 1.5, b""]),  # float timestamp
        _frame([S, S, S, S, 1, "text"]),  # body is a str
        b"\x01" + _frame([S, S, S, S, 1, b""])[1:],  # version 1
    ],
)
def test_route_fields_declines(data: bytes) -> None:
    assert route_fields(data) is None


def test_route_fields_declines_the_fixed_fields() -> None:
    good = _frame([S, S, S, S, 2**40, b"x" * 300])
    assert route_fields(good) is not None
    for offset in range(len(good) - 300):
        mutated = good[:offset] + bytes([good[offset] ^ 0x01]) + good[offset + 1 :]
        if route_fields(mutated) is not None:  # only the id bytes themselves may change
            decoded = decode_frame(mutated)
            assert isinstance(decoded, Message)


@given(st.integers(0, 2**64 - 1))
def test_received_count_reads_what_the_codec_writes(count: int) -> None:
    assert received_count(encode_frame(Received(count))) == count


@given(st.integers(0, 2**64 - 1), st.binary(max_size=6), st.integers(0, 16))
def test_received_count_accepts_only_valid_frames(count: int, noise: bytes, position: int) -> None:
    frame = bytearray(encode_frame(Received(count)))
    where = min(position, len(frame))
    mutated = bytes(frame[:where] + noise + frame[where + len(noise) :])
    found = received_count(mutated)
    if found is not None:
        decoded = decode_frame(mutated)
        assert isinstance(decoded, Received)
        assert decoded.count == found


@given(st.binary(max_size=12))
def test_received_count_on_arbitrary_bytes(data: bytes) -> None:
    data = b"\x04\x12" + (len(data)).to_bytes(4, "big") + data
    found = received_count(data)
    if found is not None:
        decoded = decode_frame(data)
        assert isinstance(decoded, Received)
        assert decoded.count == found
