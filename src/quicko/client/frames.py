"""Fast, exact codec paths for the two frames a chatting client moves most: MESSAGE and ACK.

Per text, a client decodes one MESSAGE (the receiver) and one ACK (the sender) and encodes one
MESSAGE. The general codec (:mod:`quicko.protocol.codec`) checks every field through its
schema, one Python call per field, which is most of a frame's cost on the client. Both frames
have a fixed layout when encoded the usual way (a fixarray, ``bin 8`` identifiers of 16 bytes,
an unsigned integer and, for a MESSAGE, one ``bin``), so:

- :func:`decode` reads that layout with one ``struct`` call and a few comparisons. It is *sound*
  rather than complete: what it accepts is a valid frame (every field within the schema's
  limits, no trailing bytes) and it returns exactly the payload
  :func:`~quicko.protocol.decode_frame` returns; anything else (another type, another valid
  encoding, an invalid frame) goes to :func:`~quicko.protocol.decode_frame`, which accepts or
  names the error. The tests check it against the codec on generated and mutated frames.
- :func:`encode_message` writes a :class:`~quicko.protocol.Message` whose fields are within the
  schema in the bytes :func:`~quicko.protocol.encode_frame` writes (the same MessagePack
  encoding); any other value goes to :func:`~quicko.protocol.encode_frame`, which raises.

The wire format is unchanged (docs/protocol.md §2, §4.4).
"""

from __future__ import annotations

import struct
from typing import Any, Final

from quicko.protocol import Ack, Message, Payload, decode_frame, encode_frame
from quicko.protocol.constants import HEADER_SIZE, MAX_BLOB_BYTES, PROTOCOL_VERSION
from quicko.protocol.types import MessageType

__all__ = ["decode", "encode_message"]

_ID: Final = 16
_BIN8: Final = 0xC4
_BIN16: Final = 0xC5
_BIN32: Final = 0xC6
_BIN8_ID: Final = _BIN8 << 8 | _ID  # "c4 10": a bin 8 of 16 bytes
_BIN8_EMPTY: Final = _BIN8 << 8  # "c4 00": an empty bin 8 (a message to every member)
_FIXARRAY5: Final = 0x95
_FIXARRAY6: Final = 0x96
_FIXINT_END: Final = 0x80  # positive fixints are 0x00-0x7f
_UINT8: Final = 0xCC
#: Bytes that follow each MessagePack unsigned-integer marker (uint 8, 16, 32, 64).
_UINT_WIDTH: Final = {0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8}
_MESSAGE_HEAD: Final = PROTOCOL_VERSION << 8 | MessageType.MESSAGE
_ACK_HEAD: Final = PROTOCOL_VERSION << 8 | MessageType.ACK
_MESSAGE: Final = int(MessageType.MESSAGE)
_ACK: Final = int(MessageType.ACK)

# Version and type as one 16-bit word, the length, the fixarray marker, then the identifiers:
# each "c4 10" as one 16-bit word and its 16 bytes. A recipient is 16 bytes ("c4 10") or empty
# ("c4 00"): two layouts.
_FOUR_IDS: Final = struct.Struct(">HIBH16sH16sH16sH16s")
_THREE_IDS: Final = struct.Struct(">HIBH16sH16sHH16s")  # the recipient empty
_RECIPIENT_MARK_AT: Final = HEADER_SIZE + 1 + 2 * (2 + _ID)
_NO_RECIPIENT: Final = b""

_HEADER: Final = struct.Struct(">BBI")
_MESSAGE_TYPE: Final = bytes((PROTOCOL_VERSION, MessageType.MESSAGE))
_ID_MARK: Final = bytes((_BIN8, _ID))
_EMPTY_MARK: Final = bytes((_BIN8, 0))
_ARRAY_ID_MARK: Final = bytes((_FIXARRAY6, _BIN8, _ID))
_IDS_LENGTH: Final = 1 + 4 * (2 + _ID)
_IDS_LENGTH_TO_ALL: Final = 1 + 3 * (2 + _ID) + 2
_UINT64: Final = struct.Struct(">BQ")
_UINT32: Final = struct.Struct(">BI")
_UINT16: Final = struct.Struct(">BH")
_BIN16_HEAD: Final = struct.Struct(">BH")
_BIN32_HEAD: Final = struct.Struct(">BI")


def decode(data: bytes) -> Payload:
    """Decode a frame from the relay: MESSAGE and ACK directly, anything else by the codec.

    Raises:
        RemoteProtocolError: as :func:`~quicko.protocol.decode_frame`, for an invalid frame.
    """
    if type(data) is bytes and len(data) > _RECIPIENT_MARK_AT + 1:
        kind = data[1]
        if kind == _MESSAGE:
            found = _message(data)
            if found is not None:
                return found
        elif kind == _ACK:
            ack = _ack(data)
            if ack is not None:
                return ack
    return decode_frame(data)


def _ids(data: bytes) -> tuple[int, int, int, bytes, bytes, bytes, bytes, int] | None:
    """``(head, length, array marker, session, sender, recipient, message id, end)``."""
    if data[_RECIPIENT_MARK_AT + 1] == _ID:
        if len(data) < _FOUR_IDS.size:
            return None
        (head, length, array, m1, session_id, m2, sender, m3, recipient, m4,
         message_id) = _FOUR_IDS.unpack_from(data)  # fmt: skip
        end = _FOUR_IDS.size
        if m3 != _BIN8_ID:
            return None
    else:
        if len(data) < _THREE_IDS.size:
            return None
        (head, length, array, m1, session_id, m2, sender, m3, m4,
         message_id) = _THREE_IDS.unpack_from(data)  # fmt: skip
        end = _THREE_IDS.size
        if m3 != _BIN8_EMPTY:
            return None
        recipient = _NO_RECIPIENT
    if m1 != _BIN8_ID or m2 != _BIN8_ID or m4 != _BIN8_ID or length != len(data) - HEADER_SIZE:
        return None
    return head, length, array, session_id, sender, recipient, message_id, end


def _message(data: bytes) -> Message | None:
    """A MESSAGE in its usual encoding, checked like the codec; ``None`` for anything else."""
    found = _ids(data)
    if found is None:
        return None
    head, _, array, session_id, sender, recipient, message_id, pos = found
    if head != _MESSAGE_HEAD or array != _FIXARRAY6:
        return None
    size = len(data)
    if pos >= size:
        return None
    marker = data[pos]
    if marker < _FIXINT_END:
        timestamp = marker
        pos += 1
    else:
        width = _UINT_WIDTH.get(marker)
        if width is None:
            return None
        timestamp = int.from_bytes(data[pos + 1 : pos + 1 + width], "big")
        pos += 1 + width
    if pos + 2 > size:
        return None
    marker = data[pos]
    if marker == _BIN8:
        length = data[pos + 1]
        pos += 2
    elif marker == _BIN16 and pos + 3 <= size:
        length = data[pos + 1] << 8 | data[pos + 2]
        pos += 3
    elif marker == _BIN32 and pos + 5 <= size:
        length = int.from_bytes(data[pos + 1 : pos + 5], "big")
        pos += 5
    else:
        return None
    if pos + length != size or length > MAX_BLOB_BYTES:
        return None
    return Message(session_id, sender, recipient, message_id, timestamp, data[pos:])


def _ack(data: bytes) -> Ack | None:
    """An ACK in its usual encoding, checked like the codec; ``None`` for anything else."""
    found = _ids(data)
    if found is None:
        return None
    head, _, array, session_id, sender, recipient, message_id, pos = found
    if head != _ACK_HEAD or array != _FIXARRAY5:
        return None
    rest = len(data) - pos
    if rest == 1:
        status = data[pos]
        if status >= _FIXINT_END:
            return None
    elif rest == 2 and data[pos] == _UINT8:
        status = data[pos + 1]  # a uint 8 is 0-255: within the status's range
    else:
        return None
    return Ack(session_id, sender, recipient, message_id, status)


def encode_message(message: Message) -> bytes:
    """``encode_frame(message)``, written directly when every field is within the schema.

    Raises:
        LocalProtocolError: as :func:`~quicko.protocol.encode_frame`, for a bad field.
    """
    # Read through Any: compiled (mypyc), reading a field declared bytes or int checks or
    # converts its value (True becomes 1) before the checks below could see it.
    fields: Any = message
    session_id, sender, recipient = fields.session_id, fields.sender, fields.recipient
    message_id, timestamp, body = fields.message_id, fields.timestamp, fields.body
    if not (
        type(session_id) is bytes
        and type(sender) is bytes
        and type(recipient) is bytes
        and type(message_id) is bytes
        and type(body) is bytes
        and type(timestamp) is int
        and len(session_id) == _ID
        and len(sender) == _ID
        and len(recipient) in (0, _ID)
        and len(message_id) == _ID
        and 0 <= timestamp < 1 << 64
        and len(body) <= MAX_BLOB_BYTES
    ):
        return encode_frame(message)
    stamp, size = _uint(timestamp), len(body)
    head = _bin_head(size)
    # fixarray, then three or four "c4 10" ids (one "c4 00" for an empty recipient).
    length = (_IDS_LENGTH if recipient else _IDS_LENGTH_TO_ALL) + len(stamp) + len(head) + size
    return b"".join((
        _HEADER.pack(PROTOCOL_VERSION, _MESSAGE, length), _ARRAY_ID_MARK, session_id,
        _ID_MARK, sender, _ID_MARK if recipient else _EMPTY_MARK, recipient, _ID_MARK,
        message_id, stamp, head, body,
    ))  # fmt: skip


def _uint(value: int) -> bytes:
    """A non-negative integer below 2**64 as MessagePack writes it (the shortest form)."""
    if value < _FIXINT_END:
        return bytes((value,))
    if value < 1 << 8:
        return bytes((_UINT8, value))
    if value < 1 << 16:
        return _UINT16.pack(0xCD, value)
    if value < 1 << 32:
        return _UINT32.pack(0xCE, value)
    return _UINT64.pack(0xCF, value)


def _bin_head(size: int) -> bytes:
    """The MessagePack ``bin`` header of ``size`` bytes (the shortest form)."""
    if size < 1 << 8:
        return bytes((_BIN8, size))
    if size < 1 << 16:
        return _BIN16_HEAD.pack(_BIN16, size)
    return _BIN32_HEAD.pack(_BIN32, size)
