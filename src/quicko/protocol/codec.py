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
    MAX_CONTAINER_ITEMS,
    MAX_CONTAINERS,
    MAX_PAYLOAD_BYTES,
    PROTOCOL_VERSION,
)
from quicko.protocol.fields import ListOf
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
        UnsupportedVersionError: the version byte is not 2.
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
    items = _unpack(memoryview(data)[HEADER_SIZE:])
    name = cls.__name__
    if type(items) is not list or len(items) != len(cls.FIELDS):
        raise MalformedFrameError(f"{name} payload must be an array of {len(cls.FIELDS)} fields")
    for (field, spec), value in zip(cls.FIELDS, items, strict=True):
        what = spec.problem(value)
        if what is not None:
            raise MalformedFrameError(f"{name} field '{field}' {what}")
    if type_code in _CONVERTED:
        items = [spec.from_wire(value) for (_, spec), value in zip(cls.FIELDS, items, strict=True)]
    return cls(*items)


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


def _unpack(payload: memoryview) -> Any:
    """MessagePack-decode a payload with every container and string capped."""
    try:
        return msgpack.unpackb(
            payload,
            raw=False,
            use_list=True,
            list_hook=_ContainerCounter(),
            max_array_len=MAX_CONTAINER_ITEMS,
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
