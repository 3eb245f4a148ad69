"""Pre-encoded benchmark frames: the load's MESSAGE template, the bare forwarder's replies.

The load generator encodes one real MESSAGE frame per sending connection once, with
:func:`encode_frame`, and sends the same buffer again and again; for latency it writes the send
time into the first bytes of the body in place (:func:`stamp`). The body is the last field of a
MESSAGE payload and a MessagePack ``bin``, so it is the last :data:`BODY_BYTES` bytes of the
frame, and writing into it leaves the frame valid.

The bare forwarder answers with fixed, real frames of the sizes the relay sends (a Challenge, a
HelloAck and a Joined), built here once with fixed field values; it never decodes anything.
"""

from __future__ import annotations

import struct
from typing import Final

from quicko.protocol import (
    Challenge,
    HelloAck,
    Joined,
    Message,
    MessageType,
    encode_frame,
)

__all__ = [
    "BARE_CHALLENGE",
    "BARE_HELLO_ACK",
    "BARE_JOINED",
    "BODY_BYTES",
    "MESSAGE_TYPE_CODE",
    "STAMP",
    "TYPE_OFFSET",
    "MessageTemplate",
    "client_ws_frame",
    "read_stamp",
    "server_ws_header",
    "stamp",
]

BODY_BYTES: Final = 256
"""Size of the opaque body of every benchmark MESSAGE (the "256-byte payload")."""

TYPE_OFFSET: Final = 1
"""Offset of the type byte in a frame (after the version byte)."""

MESSAGE_TYPE_CODE: Final = int(MessageType.MESSAGE)
"""The type byte of a MESSAGE frame, compared on receipt without decoding."""

STAMP: Final = struct.Struct("<q")
"""The send time (``time.perf_counter_ns()``) written at the start of a body."""

_FIXED_TIME_MS: Final = 1_700_000_000_000
_WS_FIN_BINARY: Final = 0x82
_WS_MASKED: Final = 0x80
_WS_LENGTH_16: Final = 126
_WS_LENGTH_64: Final = 127
_WS_MAX_LENGTH_16: Final = 0xFFFF
_WS_ZERO_MASK: Final = bytes(4)
_BARE_NODE_ID: Final = "bare0000"

BARE_CHALLENGE: Final = encode_frame(Challenge(bytes(32), _BARE_NODE_ID, _FIXED_TIME_MS))
"""What the bare forwarder sends on open: a Challenge of the relay's size, fixed fields."""

BARE_HELLO_ACK: Final = encode_frame(HelloAck(bytes(16), _BARE_NODE_ID, _FIXED_TIME_MS, 0))
"""What the bare forwarder answers to a connection's first message, unread and unverified."""

BARE_JOINED: Final = encode_frame(Joined(bytes(16), "", ()))
"""What the bare forwarder answers to a connection's second message (the Join)."""


class MessageTemplate:
    """One pre-encoded MESSAGE frame from one sender to one recipient.

    Attributes:
        frame: the whole frame, mutable so that a send time can be stamped into its body.
        body_offset: where the body starts in :attr:`frame`.
    """

    __slots__ = ("body_offset", "frame")

    def __init__(
        self, *, session_id: bytes, sender: bytes, recipient: bytes, message_id: bytes
    ) -> None:
        """Encode the frame once (timestamp fixed, body of :data:`BODY_BYTES` zero bytes)."""
        payload = Message(
            session_id, sender, recipient, message_id, _FIXED_TIME_MS, bytes(BODY_BYTES)
        )
        self.frame = bytearray(encode_frame(payload))
        self.body_offset = len(self.frame) - BODY_BYTES

    def __repr__(self) -> str:
        return f"MessageTemplate({len(self.frame)} bytes)"


def client_ws_frame(payload: bytes | bytearray) -> bytes:
    """*payload* as one whole client-to-server binary WebSocket frame (RFC 6455 §5.2).

    Client frames must be masked; the masking key is all zeros, which RFC 6455 allows and which
    leaves the payload bytes as they are, so the frame can be built once and written many times.
    """
    size = len(payload)
    if size < _WS_LENGTH_16:
        header = bytes((_WS_FIN_BINARY, _WS_MASKED | size))
    elif size <= _WS_MAX_LENGTH_16:
        header = bytes((_WS_FIN_BINARY, _WS_MASKED | _WS_LENGTH_16)) + size.to_bytes(2, "big")
    else:
        header = bytes((_WS_FIN_BINARY, _WS_MASKED | _WS_LENGTH_64)) + size.to_bytes(8, "big")
    return header + _WS_ZERO_MASK + bytes(payload)


def server_ws_header(size: int) -> bytes:
    """The header of an unmasked (server-to-client) binary WebSocket frame of *size* bytes."""
    if size < _WS_LENGTH_16:
        return bytes((_WS_FIN_BINARY, size))
    if size <= _WS_MAX_LENGTH_16:
        return bytes((_WS_FIN_BINARY, _WS_LENGTH_16)) + size.to_bytes(2, "big")
    return bytes((_WS_FIN_BINARY, _WS_LENGTH_64)) + size.to_bytes(8, "big")


def stamp(template: MessageTemplate, now_ns: int) -> None:
    """Write the send time *now_ns* into the first bytes of the template's body."""
    STAMP.pack_into(template.frame, template.body_offset, now_ns)


def read_stamp(frame: memoryview | bytes, size: int) -> int:
    """Return the send time stamped in a received MESSAGE frame of *size* bytes."""
    stamped: int = STAMP.unpack_from(frame, size - BODY_BYTES)[0]
    return stamped
