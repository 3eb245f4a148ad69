"""Pre-encoded benchmark frames: real, decodable frames whose body can be stamped in place."""

from __future__ import annotations

import secrets

from hypothesis import given
from hypothesis import strategies as st

from quicko.bench.wire import (
    BARE_CHALLENGE,
    BARE_HELLO_ACK,
    BARE_JOINED,
    BODY_BYTES,
    MESSAGE_TYPE_CODE,
    TYPE_OFFSET,
    MessageTemplate,
    client_ws_frame,
    read_stamp,
    server_ws_header,
    stamp,
)
from quicko.protocol import Challenge, HelloAck, Joined, Message, decode_frame


def _template() -> tuple[MessageTemplate, bytes, bytes, bytes]:
    session, sender, recipient = (secrets.token_bytes(16) for _ in range(3))
    template = MessageTemplate(
        session_id=session, sender=sender, recipient=recipient, message_id=bytes(16)
    )
    return template, session, sender, recipient


def test_template_is_a_real_message_with_a_256_byte_body() -> None:
    template, session, sender, recipient = _template()
    message = decode_frame(bytes(template.frame))
    assert isinstance(message, Message)
    assert (message.session_id, message.sender, message.recipient) == (session, sender, recipient)
    assert len(message.body) == BODY_BYTES
    assert template.frame[TYPE_OFFSET] == MESSAGE_TYPE_CODE
    assert template.body_offset == len(template.frame) - BODY_BYTES


@given(st.integers(min_value=0, max_value=2**63 - 1))
def test_stamp_round_trips_and_keeps_the_frame_valid(now_ns: int) -> None:
    template, *_ = _template()
    stamp(template, now_ns)
    data = bytes(template.frame)
    assert read_stamp(memoryview(data), len(data)) == now_ns
    message = decode_frame(data)
    assert isinstance(message, Message)
    assert message.body[:8] == now_ns.to_bytes(8, "little")
    assert message.body[8:] == bytes(BODY_BYTES - 8)


def test_bare_replies_are_real_frames_of_the_relay_kinds() -> None:
    assert isinstance(decode_frame(BARE_CHALLENGE), Challenge)
    assert isinstance(decode_frame(BARE_HELLO_ACK), HelloAck)
    joined = decode_frame(BARE_JOINED)
    assert isinstance(joined, Joined)
    assert joined.members == ()


def test_template_repr_shows_no_addresses() -> None:
    template, _, sender, _ = _template()
    assert sender.hex() not in repr(template)
    assert "bytes" in repr(template)


def test_client_ws_frame_is_a_masked_binary_frame_with_a_zero_key() -> None:
    small = client_ws_frame(b"abc")
    assert small == bytes((0x82, 0x80 | 3)) + bytes(4) + b"abc"
    template, *_ = _template()
    medium = client_ws_frame(template.frame)
    size = len(template.frame)
    assert 126 <= size <= 0xFFFF
    assert medium[:4] == bytes((0x82, 0x80 | 126)) + size.to_bytes(2, "big")
    assert medium[4:8] == bytes(4)
    assert medium[8:] == bytes(template.frame)
    large = client_ws_frame(bytes(70_000))
    assert large[:10] == bytes((0x82, 0x80 | 127)) + (70_000).to_bytes(8, "big")
    assert len(large) == 10 + 4 + 70_000


def test_server_ws_header_encodes_the_three_length_forms() -> None:
    assert server_ws_header(125) == bytes((0x82, 125))
    assert server_ws_header(126) == bytes((0x82, 126, 0, 126))
    assert server_ws_header(0xFFFF) == bytes((0x82, 126, 0xFF, 0xFF))
    assert server_ws_header(0x10000) == bytes((0x82, 127)) + (0x10000).to_bytes(8, "big")
