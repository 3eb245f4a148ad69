"""Frames to bytes and back: the header, MessagePack with limits, and the payload schemas.

``decode_frame`` is the only place where bytes from the network become values. It returns a
payload or raises a :class:`~quicko.errors.RemoteProtocolError` subclass that names what is
wrong; it never raises anything else, never allocates by a length it has not checked, and caps
every container, so that no frame of at most ``MAX_PAYLOAD_BYTES`` decodes into much more memory
than its own size (docs/protocol.md §2).
"""

from __future__ import annotations

import struct
from typing import Any

import msgpack

from quicko.errors import (
    FrameTooLargeError,
    LocalProtocolError,
    MalformedFrameError,
    RemoteProtocolError,
    UnknownTypeError,
    UnsupportedVersionError,
)
from quicko.protocol.constants import (
    HEADER_SIZE,
    MAX_CONTAINERS,
    MAX_PAYLOAD_BYTES,
    PROTOCOL_VERSION,
)
from quicko.protocol.fields import FieldSpec, ListOf
from quicko.protocol.payloads import PAYLOAD_TYPES, Payload
from quicko.protocol.types import ErrorCode

__all__ = ["decode_frame", "encode_frame", "error_code_for", "read_header"]

_HEADER = struct.Struct(">BBI")
#: Frame types with a field whose Python value differs from its wire value (lists of records).
_CONVERTED = frozenset(
    code
    for code, cls in PAYLOAD_TYPES.items()
    if any(isinstance(spec, ListOf) for _, spec in cls.FIELDS)
)


def encode_frame(payload: Payload) -> bytes:
    """Encode *payload* as a complete frame (header and MessagePack payload).

    Raises:
        LocalProtocolError: a field does not fit the protocol (wrong size, too long, …) or the
            payload is over ``MAX_PAYLOAD_BYTES``.
    """
    items = []
    for name, spec in payload.FIELDS:
        try:
            value = spec.to_wire(getattr(payload, name))
        except (AttributeError, TypeError) as exc:
            raise LocalProtocolError(f"{type(payload).__name__}.{name} has a bad value") from exc
        what = spec.problem(value)
        if what is not None:
            raise LocalProtocolError(f"{type(payload).__name__}.{name} {what}")
        items.append(value)
    body: bytes = msgpack.packb(items, use_bin_type=True)
    if len(body) > MAX_PAYLOAD_BYTES:
        raise LocalProtocolError(f"payload of {len(body)} bytes is over {MAX_PAYLOAD_BYTES}")
    return _HEADER.pack(PROTOCOL_VERSION, payload.TYPE, len(body)) + body


def read_header(data: bytes) -> tuple[int, int]:
    """Check a frame's header against the whole frame and return ``(type code, length)``.

    Raises:
        MalformedFrameError: the frame is shorter than its header, or its declared length is
            not the length of the rest.
        UnsupportedVersionError: the version byte is not ``PROTOCOL_VERSION`` (4).
        FrameTooLargeError: the declared length is over ``MAX_PAYLOAD_BYTES``.
    """
    if len(data) < HEADER_SIZE:
        raise MalformedFrameError(f"frame of {len(data)} bytes is shorter than its header")
    version, type_code, length = _HEADER.unpack_from(data)
    if version != PROTOCOL_VERSION:
        raise UnsupportedVersionError(
            f"protocol version {version} is not supported; this side speaks version "
            f"{PROTOCOL_VERSION}"
        )
    if length > MAX_PAYLOAD_BYTES:
        raise FrameTooLargeError(f"declared payload of {length} bytes is over {MAX_PAYLOAD_BYTES}")
    if len(data) - HEADER_SIZE != length:
        raise MalformedFrameError(
            f"header declares {length} payload bytes but {len(data) - HEADER_SIZE} follow"
        )
    return type_code, length


def decode_frame(data: bytes) -> Payload:
    """Decode one complete frame received from the network.

    Raises:
        RemoteProtocolError: (a subclass naming what is wrong) for every invalid input.
    """
    type_code, _ = read_header(data)
    cls = PAYLOAD_TYPES.get(type_code)
    if cls is None:
        raise UnknownTypeError(f"unknown frame type 0x{type_code:02x}")
    payload = memoryview(data)[HEADER_SIZE:]
    name = cls.__name__
    if _array_length(payload) != len(cls.FIELDS):
        raise MalformedFrameError(f"{name} payload must be an array of {len(cls.FIELDS)} fields")
    if type_code in _CONVERTED:
        items = _unpack_nested(payload, cls.FIELDS)
    else:
        items = _unpack_flat(payload, len(cls.FIELDS))
    for (field, spec), value in zip(cls.FIELDS, items, strict=True):
        what = spec.problem(value)
        if what is not None:
            raise MalformedFrameError(f"{name} field '{field}' {what}")
    if type_code in _CONVERTED:
        items = [spec.from_wire(value) for (_, spec), value in zip(cls.FIELDS, items, strict=True)]
    return cls(*items)


def _array_length(payload: memoryview) -> int | None:
    """The item count of the MessagePack array that starts *payload*, or ``None``."""
    size = len(payload)
    first = payload[0] if size else 0
    if 0x90 <= first <= 0x9F:
        return first & 0x0F
    if first == 0xDC and size >= 3:
        return int.from_bytes(payload[1:3], "big")
    if first == 0xDD and size >= 5:
        return int.from_bytes(payload[1:5], "big")
    return None


class _ContainerCounter:
    """``list_hook`` for msgpack that stops decoding after ``MAX_CONTAINERS`` arrays."""

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, items: list[Any]) -> list[Any]:
        self.count += 1
        if self.count > MAX_CONTAINERS:
            raise MalformedFrameError("payload has too many nested arrays")
        return items


def _unpack_flat(payload: memoryview, field_count: int) -> Any:
    """Decode the payload of a type whose fields are all scalars.

    Every array may hold at most *field_count* items and at most ``MAX_CONTAINERS`` arrays may
    complete, so even arrays nested as deep as msgpack allows (1,024 levels) stay a few
    thousand small objects: the cost of any input is bounded by its size (docs/protocol.md §2).
    """
    try:
        return msgpack.unpackb(
            payload,
            raw=False,
            use_list=True,
            list_hook=_ContainerCounter(),
            max_array_len=field_count,
            max_map_len=0,
            max_ext_len=0,
            max_str_len=MAX_PAYLOAD_BYTES,
            max_bin_len=MAX_PAYLOAD_BYTES,
            strict_map_key=True,
        )
    except MalformedFrameError:
        raise
    except Exception as exc:  # msgpack raises many kinds (ValueError, StackError, ExtraData…)
        raise MalformedFrameError("payload is not valid MessagePack within the limits") from exc


def _unpack_nested(payload: memoryview, fields: tuple[tuple[str, FieldSpec], ...]) -> Any:
    """Decode, driven by the schema, the payload of a type with a list of records.

    Arrays are only read where the schema has one, and their lengths are checked before their
    items are read; a scalar field can hold at most an empty array. So nothing nests deeper than
    the schema, whatever the input (docs/protocol.md §2).
    """
    unpacker = msgpack.Unpacker(
        raw=False,
        max_buffer_size=max(len(payload), 1),
        max_array_len=0,
        max_map_len=0,
        max_ext_len=0,
        strict_map_key=True,
    )
    try:
        unpacker.feed(payload)
        unpacker.read_array_header()  # its length was checked by decode_frame
        items = [
            _unpack_records(unpacker, name, spec) if isinstance(spec, ListOf) else unpacker.unpack()
            for name, spec in fields
        ]
        if unpacker.tell() != len(payload):
            raise MalformedFrameError("payload has bytes after its last field")
    except MalformedFrameError:
        raise
    except Exception as exc:  # msgpack raises many kinds (ValueError, OutOfData, StackError…)
        raise MalformedFrameError("payload is not valid MessagePack within the limits") from exc
    return items


def _unpack_records(unpacker: msgpack.Unpacker, name: str, spec: ListOf) -> list[list[Any]]:
    """Read the ListOf field *name*: an array of at most ``max_items`` arrays of known width."""
    count = _read_array_header(unpacker, f"field '{name}' must be an array")
    if count > spec.max_items:
        raise MalformedFrameError(f"field '{name}' must have at most {spec.max_items} items")
    width = len(spec.item_fields)
    records = []
    for index in range(count):
        wrong = f"field '{name}' item {index} must be an array of {width} fields"
        if _read_array_header(unpacker, wrong) != width:
            raise MalformedFrameError(wrong)
        records.append([unpacker.unpack() for _ in range(width)])
    return records


def _read_array_header(unpacker: msgpack.Unpacker, wrong: str) -> int:
    """Read an array header, or raise ``MalformedFrameError(wrong)`` if something else is next."""
    try:
        count: int = unpacker.read_array_header()
    except (msgpack.UnpackValueError, msgpack.OutOfData, ValueError) as exc:
        raise MalformedFrameError(wrong) from exc
    return count


_ERROR_CODES: tuple[tuple[type[RemoteProtocolError], ErrorCode], ...] = (
    (UnsupportedVersionError, ErrorCode.UNSUPPORTED_VERSION),
    (FrameTooLargeError, ErrorCode.TOO_LARGE),
    (UnknownTypeError, ErrorCode.UNKNOWN_TYPE),
)


def error_code_for(exc: RemoteProtocolError) -> ErrorCode:
    """The Error frame code that answers a decoding failure."""
    for kind, code in _ERROR_CODES:
        if isinstance(exc, kind):
            return code
    return ErrorCode.MALFORMED
