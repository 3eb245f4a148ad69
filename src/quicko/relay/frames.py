"""Fast, exact frame helpers for the relay's hot path (docs/protocol.md §2, §4.4).

The general decoder (:func:`quicko.protocol.decode_frame`) builds a payload object and checks
every field; that costs a few microseconds, which is most of the relay's budget per frame. A
MESSAGE frame has a fixed layout when it is encoded the usual way (a fixarray of six items,
four ``bin 8`` identifiers of the stated sizes, an unsigned integer and one ``bin``), so
:func:`parse_message` reads that layout directly with index arithmetic. It is *sound* rather
than complete: whatever it accepts is a valid MESSAGE frame (every field within its limits, no
trailing bytes), and whatever it does not recognise returns ``None`` so that the caller falls
back to the full decoder, which accepts other valid encodings and names the error of invalid
ones. Tests check it against the codec on generated frames.

:func:`ack_frame_from_message` builds the relay's Ack to a MESSAGE from the message's own bytes
(the four identifier fields are contiguous and encoded exactly as an Ack encodes them).
"""

from __future__ import annotations

import struct
from typing import Final

from quicko.protocol import Error, encode_frame
from quicko.protocol.constants import (
    HEADER_SIZE,
    MAX_BLOB_BYTES,
    MAX_PAYLOAD_BYTES,
    MAX_REASON_CHARS,
    PROTOCOL_VERSION,
)
from quicko.protocol.types import ErrorCode, MessageType

__all__ = [
    "ACCEPTED_ACK_BYTES",
    "ACCEPTED_ACK_PARTS",
    "MessageFields",
    "accepted_ack",
    "ack_frame_from_message",
    "error_frame",
    "parse_message",
    "received_count",
    "route_fields",
]

#: ``(session_id, sender, recipient, message_id, end of message_id)`` of a MESSAGE frame; the
#: last item is the offset just past the identifier fields, for :func:`ack_frame_from_message`.
MessageFields = tuple[bytes, bytes, bytes, bytes, int]

_BIN8: Final = 0xC4
_BIN16: Final = 0xC5
_BIN32: Final = 0xC6
_ID_SIZE: Final = 16
_FIXARRAY6: Final = 0x96
_FIXARRAY5: Final = 0x95
_POSITIVE_FIXINT_END: Final = 0x80
#: Bytes that follow each MessagePack unsigned-integer marker (uint 8, 16, 32, 64).
_UINT_WIDTH: Final = {0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8}
_MESSAGE: Final = int(MessageType.MESSAGE)
#: Offset of the recipient's ``bin 8`` length byte: header, fixarray, two "c4 10" + 16 bytes.
_RECIPIENT_SIZE_AT: Final = HEADER_SIZE + 1 + 2 * (2 + _ID_SIZE) + 1
#: Offset of the session id's ``bin 8`` marker (just after the fixarray marker).
_IDS_AT: Final = HEADER_SIZE + 1
# Header, fixarray marker, the four ids (each "c4 10" + 16 bytes; "c4 00" for an empty
# recipient) and the timestamp's first byte, read in one call.
_DIRECT: Final = struct.Struct(">BBIBBB16sBB16sBB16sBB16sB")
_TO_ALL: Final = struct.Struct(">BBIBBB16sBB16sBBBB16sB")


def _ack_header(payload_length: int) -> bytes:
    return (
        bytes((PROTOCOL_VERSION, MessageType.ACK))
        + payload_length.to_bytes(4, "big")
        + bytes((_FIXARRAY5,))
    )


# An Ack payload: fixarray 5, three 16-byte ids (18 bytes each), the recipient (2 or 18 bytes)
# and a positive fixint status.
_ACK_PREFIX_DIRECT: Final = _ack_header(1 + 3 * (2 + _ID_SIZE) + (2 + _ID_SIZE) + 1)
_ACK_PREFIX_ALL: Final = _ack_header(1 + 3 * (2 + _ID_SIZE) + 2 + 1)
_STATUS_BYTES: Final = tuple(bytes((status,)) for status in range(_POSITIVE_FIXINT_END))


# The relay's hot path reads a MESSAGE to one recipient in one call: the version and type as one
# 16-bit word, the length, the fixarray marker, each id's "c4 10" as one 16-bit word, the three
# routing ids, the message id skipped, and the timestamp's first byte.
_ROUTE: Final = struct.Struct(">HIBH16sH16sH16sH16xB")
_VERSION_MESSAGE: Final = PROTOCOL_VERSION << 8 | _MESSAGE
_BIN8_ID: Final = _BIN8 << 8 | _ID_SIZE
_UINT64: Final = 0xCF
#: Where the ids end and the timestamp starts in a MESSAGE to one recipient.
_DIRECT_IDS_END: Final = _ROUTE.size - 1
_ACCEPTED: Final = 1  # AckStatus.ACCEPTED (protocol/types.py); checked by the tests
_ACCEPTED_TAIL: Final = bytes((_ACCEPTED,))

ACCEPTED_ACK_BYTES: Final = len(_ACK_PREFIX_DIRECT) + _DIRECT_IDS_END - _IDS_AT + 1
"""The size of :func:`accepted_ack`'s frame (the relay's Ack of a MESSAGE to one recipient)."""


def route_fields(data: bytes) -> tuple[bytes, bytes, bytes] | None:
    """``(session_id, sender, recipient)`` of a MESSAGE to one recipient, in its usual encoding.

    The relay's hot path: one ``unpack_from`` and a few comparisons. Like
    :func:`parse_message`, it is sound, not complete: whatever it accepts is a valid MESSAGE
    frame with a non-empty recipient (the same checks, and a ``bin 8``/``bin 16`` body that ends
    the frame); anything else — a message to all, a body of 64 KiB or more, another encoding,
    an invalid frame — returns ``None``, for :func:`parse_message` or the full decoder.
    """
    size = len(data)
    if size < _ROUTE.size + 2:
        return None
    (head, length, array, m1, session_id, m2, sender, m3, recipient, m4,
     marker) = _ROUTE.unpack_from(data)  # fmt: skip
    if not (
        head == _VERSION_MESSAGE
        and length == size - HEADER_SIZE
        and array == _FIXARRAY6
        and m1 == m2 == m3 == m4 == _BIN8_ID
    ):
        return None
    if marker == _UINT64:  # a client's timestamp (ms since the epoch)
        pos = _ROUTE.size + 8
    elif marker < _POSITIVE_FIXINT_END:
        pos = _ROUTE.size
    else:
        width = _UINT_WIDTH.get(marker)
        if width is None:
            return None
        pos = _ROUTE.size + width
    if pos + 2 > size:
        return None
    marker = data[pos]
    if marker == _BIN16 and pos + 3 <= size:
        end = pos + 3 + (data[pos + 1] << 8 | data[pos + 2])
    elif marker == _BIN8:
        end = pos + 2 + data[pos + 1]
    else:
        return None
    if end != size or length > MAX_PAYLOAD_BYTES:
        return None
    return session_id, sender, recipient


ACCEPTED_ACK_PARTS: Final = (_ACK_PREFIX_DIRECT, _IDS_AT, _DIRECT_IDS_END, _ACCEPTED_TAIL)
""":func:`accepted_ack` is ``parts[0] + data[parts[1]:parts[2]] + parts[3]`` (for inlining)."""


def accepted_ack(data: bytes) -> bytes:
    """The relay's ``Ack(ACCEPTED)`` of a MESSAGE frame that :func:`route_fields` accepted."""
    return _ACK_PREFIX_DIRECT + data[_IDS_AT:_DIRECT_IDS_END] + _ACCEPTED_TAIL


_FIXARRAY1: Final = 0x91
_RECEIVED_HEAD: Final = bytes((PROTOCOL_VERSION, MessageType.RECEIVED))
#: A Received's payload length by its count's first byte, for each unsigned-integer marker.
_UINT_PAYLOAD: Final = {marker: 2 + width for marker, width in _UINT_WIDTH.items()}


def received_count(data: bytes) -> int | None:
    """The count of a ``Received`` frame in its usual encoding, else ``None`` (decode it fully).

    Sound like :func:`parse_message`: a count is returned only for a valid ``Received`` frame
    (version, type, exact length, a fixarray of one unsigned integer, no trailing bytes).
    """
    size = len(data)
    if size < HEADER_SIZE + 2 or data[:2] != _RECEIVED_HEAD or data[HEADER_SIZE] != _FIXARRAY1:
        return None
    marker = data[HEADER_SIZE + 1]
    if marker < _POSITIVE_FIXINT_END:
        length = 2
    else:
        found = _UINT_PAYLOAD.get(marker)
        if found is None:
            return None
        length = found
    if size != HEADER_SIZE + length or int.from_bytes(data[2:HEADER_SIZE], "big") != length:
        return None
    if length == 2:
        return marker
    return int.from_bytes(data[HEADER_SIZE + 2 :], "big")


def parse_message(data: bytes) -> MessageFields | None:
    """Read the routing fields of a MESSAGE frame in its usual encoding.

    Args:
        data: one complete frame as received.

    Returns:
        The fields, when *data* is a valid MESSAGE frame in the layout described in the module
        docstring; ``None`` for anything else (which may still be valid: decode it fully).
    """
    size = len(data)
    if size <= _RECIPIENT_SIZE_AT:
        return None
    if data[_RECIPIENT_SIZE_AT] == _ID_SIZE:
        if size < _DIRECT.size + 2:
            return None
        (version, kind, length, array, m1, n1, session_id, m2, n2, sender, m3, _, recipient,
         m4, n4, message_id, marker) = _DIRECT.unpack_from(data)  # fmt: skip
        pos = _DIRECT.size
    elif data[_RECIPIENT_SIZE_AT] == 0:
        if size < _TO_ALL.size + 2:
            return None
        (version, kind, length, array, m1, n1, session_id, m2, n2, sender, m3, _,
         m4, n4, message_id, marker) = _TO_ALL.unpack_from(data)  # fmt: skip
        recipient = b""
        pos = _TO_ALL.size
    else:
        return None
    if (
        version != PROTOCOL_VERSION
        or kind != _MESSAGE
        or length != size - HEADER_SIZE
        or length > MAX_PAYLOAD_BYTES
        or array != _FIXARRAY6
        or m1 != _BIN8
        or m2 != _BIN8
        or m3 != _BIN8
        or m4 != _BIN8
        or n1 != _ID_SIZE
        or n2 != _ID_SIZE
        or n4 != _ID_SIZE
    ):
        return None
    end_ids = pos - 1
    if marker >= _POSITIVE_FIXINT_END:
        width = _UINT_WIDTH.get(marker)
        if width is None:
            return None
        pos += width
    if not _body_fits(data, pos, size):
        return None
    return session_id, sender, recipient, message_id, end_ids


def _body_fits(data: bytes, pos: int, size: int) -> bool:
    """Whether a ``bin`` of at most MAX_BLOB_BYTES starts at *pos* and ends the frame."""
    if pos + 2 > size:
        return False
    marker = data[pos]
    if marker == _BIN8:
        length = data[pos + 1]
        pos += 2
    elif marker == _BIN16 and pos + 3 <= size:
        length = int.from_bytes(data[pos + 1 : pos + 3], "big")
        pos += 3
    elif marker == _BIN32 and pos + 5 <= size:
        length = int.from_bytes(data[pos + 1 : pos + 5], "big")
        pos += 5
    else:
        return False
    return pos + length == size and length <= MAX_BLOB_BYTES


def ack_frame_from_message(data: bytes, end_ids: int, status: int) -> bytes:
    """Return the Ack frame ``(session_id, sender, recipient, message_id, status)`` of a MESSAGE.

    Args:
        data: a MESSAGE frame accepted by :func:`parse_message`.
        end_ids: the last item :func:`parse_message` returned.
        status: an :class:`~quicko.protocol.AckStatus` (below 128).
    """
    prefix = _ACK_PREFIX_DIRECT if data[_RECIPIENT_SIZE_AT] else _ACK_PREFIX_ALL
    return b"".join((prefix, data[_IDS_AT:end_ids], _STATUS_BYTES[status]))


def error_frame(code: ErrorCode, reason: str, ref_type: int = 0, ref_id: bytes = b"") -> bytes:
    """Encode an Error frame; *reason* is cut to the protocol's limit.

    Args:
        code: what went wrong.
        reason: a short, peer-safe explanation (no secrets, no internals).
        ref_type: the type code of the offending frame, or 0.
        ref_id: the message, call or session id concerned, or empty.
    """
    text = reason[:MAX_REASON_CHARS] if reason.isprintable() else "invalid frame"
    return encode_frame(Error(int(code), text, int(ref_type), ref_id))
