"""MessagePack bombs: refused, and refused cheaply (docs/protocol.md §2.2, §2.3).

Cheap is measured in memory with tracemalloc, not in wall-clock time: the peak allocated
while one hostile frame is decoded must stay below a small multiple of the frame's size (plus,
for the flat decoder, the fixed cost of msgpack's 1,024 nesting levels), and below 1 MiB in
all cases. Every bomb is as large as a frame may be (``MAX_PAYLOAD_BYTES``, 132 KiB) unless
its point is to be small, and every bomb is tried behind every frame type.
"""

from __future__ import annotations

import struct
import tracemalloc

import pytest

from quicko.errors import MalformedFrameError, RemoteProtocolError
from quicko.protocol import (
    ADDRESS_SIZE,
    HEADER_SIZE,
    MAX_BLOB_BYTES,
    MAX_PAYLOAD_BYTES,
    MESSAGE_ID_SIZE,
    PAYLOAD_TYPES,
    PROTOCOL_VERSION,
    SESSION_ID_SIZE,
    Message,
    MessageType,
    Payload,
    decode_frame,
    encode_frame,
)
from quicko.protocol.constants import MAX_CONTAINER_ITEMS
from quicko.protocol.fields import UINT64_MAX

KIB = 1 << 10
MIB = 1 << 20
#: Room for the exception, its traceback and msgpack's own state, whatever the frame.
SLACK = 64 * KIB
#: Allowed peak per byte of frame: the frame itself and one decoded copy of it.
FACTOR = 2
#: msgpack's nesting limit: no decoder call goes deeper than this many arrays.
MSGPACK_DEPTH = 1024
JOINED = MessageType.JOINED  # the one payload decoded by its schema (nested arrays)
PAYLOAD_CLASSES = sorted(PAYLOAD_TYPES.values(), key=lambda cls: cls.TYPE)


def frame(body: bytes, type_code: int = JOINED) -> bytes:
    assert len(body) <= MAX_PAYLOAD_BYTES
    return struct.pack(">BBI", PROTOCOL_VERSION, type_code, len(body)) + body


def fill(prefix: bytes, filler: bytes = b"\x00") -> bytes:
    """*prefix* followed by *filler* up to exactly MAX_PAYLOAD_BYTES."""
    count = (MAX_PAYLOAD_BYTES - len(prefix)) // len(filler)
    body = prefix + filler * count
    return body + b"\x00" * (MAX_PAYLOAD_BYTES - len(body))


def peak_while_refusing(data: bytes) -> tuple[int, RemoteProtocolError]:
    """Decode *data* under tracemalloc; return the peak bytes allocated and the error."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        try:
            decode_frame(data)
        except RemoteProtocolError as exc:
            error = exc
        else:
            pytest.fail("the bomb was decoded")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, error


def nested_levels(depth: int, leaf: bytes, width: int = MAX_CONTAINER_ITEMS) -> bytes:
    """*depth* arrays of *width* items, each of (width - 1) *leaf* items and the next array."""
    level = b"\xdc" + width.to_bytes(2, "big") + leaf * (width - 1)
    return level * depth


def top_level(cls: type[Payload]) -> bytes:
    """The array header of a payload of *cls*: the right field count, past §2.3 step 6."""
    count = len(cls.FIELDS)
    assert count < 16
    return bytes([0x90 + count])


BOMBS = {
    # 132 KiB of fixarray(1) headers: [[[[…]]]] about 135,000 deep, far past msgpack's 1,024.
    "nested-fixarray": fill(b"", b"\x91"),
    # An array declaring 135,163 empty arrays, all present.
    "empty-arrays-to-the-limit": fill(
        b"\xdd" + (MAX_PAYLOAD_BYTES - 5).to_bytes(4, "big"), b"\x90"
    ),
    # Declared lengths far beyond the data.
    "array32-4G": fill(b"\xdd\xff\xff\xff\xff"),
    "array16-64K": fill(b"\xdc\xff\xff"),
    "bin32-4G": fill(b"\x93\xc6\xff\xff\xff\xff"),
    "str32-4G": fill(b"\x93\xdb\xff\xff\xff\xff"),
    "map32-4G": fill(b"\x93\xdf\xff\xff\xff\xff"),
    "ext32-4G": fill(b"\x93\xc9\xff\xff\xff\xff\x01"),
    "bin32-just-over": b"\x93\xc6" + (MAX_PAYLOAD_BYTES - 5).to_bytes(4, "big"),
    "bin32-at-the-limit-in-one-field": b"\x91\xc6" + MAX_PAYLOAD_BYTES.to_bytes(4, "big"),
    # Many small containers: arrays of empty arrays, side by side and nested.
    "arrays-of-empty-arrays": fill(b"\x93", b"\xdc\x00\x40" + b"\x90" * 64),
    "fixarrays-of-fixarrays": fill(b"", b"\x9f" + b"\x90" * 14),
    "deep-empty-arrays": nested_levels(1000, b"\x90"),
}


def test_the_bombs_have_the_sizes_they_claim() -> None:
    big = [name for name in BOMBS if "just-over" not in name and "in-one-field" not in name]
    for name in big:
        if name == "deep-empty-arrays":
            assert len(BOMBS[name]) == 1000 * (3 + 63) < MAX_PAYLOAD_BYTES
        else:
            assert len(BOMBS[name]) == MAX_PAYLOAD_BYTES, name


@pytest.mark.parametrize("cls", PAYLOAD_CLASSES, ids=lambda cls: cls.__name__)
@pytest.mark.parametrize("name", sorted(BOMBS))
def test_bombs_are_refused_cheaply(name: str, cls: type[Payload]) -> None:
    data = frame(BOMBS[name], cls.TYPE)
    peak, error = peak_while_refusing(data)
    assert type(error) is MalformedFrameError
    assert peak < FACTOR * len(data) + SLACK, f"{name}: peak {peak} for {len(data)} bytes"


@pytest.mark.parametrize("cls", PAYLOAD_CLASSES, ids=lambda cls: cls.__name__)
def test_a_wrong_field_count_is_refused_before_decoding(cls: type[Payload]) -> None:
    # §2.3 step 6: the first array header alone decides, whatever follows it.
    for name in ("array32-4G", "array16-64K", "empty-arrays-to-the-limit"):
        peak, error = peak_while_refusing(frame(BOMBS[name], cls.TYPE))
        assert "must be an array of" in str(error)
        assert peak < SLACK // 8, f"{name}: peak {peak}"


def test_declared_length_over_the_limit_allocates_nothing_much() -> None:
    header = struct.pack(">BBI", PROTOCOL_VERSION, JOINED, 2**32 - 1)
    peak, error = peak_while_refusing(header + b"\x91" * 1024)
    assert type(error).__name__ == "FrameTooLargeError"
    assert peak < SLACK


LEAVES = {
    "fixint": b"\x01",
    "str2": b"\xa2ab",
    "bin2": b"\xc4\x02ab",
    "uint16": b"\xcd\x12\x34",
    "str15": b"\xaf" + b"s" * 15,
}


@pytest.mark.parametrize("cls", PAYLOAD_CLASSES, ids=lambda cls: cls.__name__)
@pytest.mark.parametrize("leaf", sorted(LEAVES))
def test_deep_and_wide_bombs_stay_small(leaf: str, cls: type[Payload]) -> None:
    # Arrays as wide as the widest valid one (MAX_CONTAINER_ITEMS), nested as deep as fits,
    # behind the right field count: the item cap refuses them at the first level.
    level = 3 + (MAX_CONTAINER_ITEMS - 1) * len(LEAVES[leaf])
    depth = min(MSGPACK_DEPTH - 1, (MAX_PAYLOAD_BYTES - 1) // level)
    body = top_level(cls) + nested_levels(depth, LEAVES[leaf])
    data = frame(body, cls.TYPE)
    peak, error = peak_while_refusing(data)
    assert type(error) is MalformedFrameError
    assert peak < FACTOR * len(data) + SLACK, f"peak {peak} for {len(data)} bytes"


@pytest.mark.parametrize("cls", PAYLOAD_CLASSES, ids=lambda cls: cls.__name__)
@pytest.mark.parametrize("leaf", ["fixint", "str2", "str15"])
def test_bombs_behind_a_valid_top_level_array_stay_small(leaf: str, cls: type[Payload]) -> None:
    # The top-level array has the right field count, and every nested array is exactly as wide
    # as the item cap of the flat decoder (the field count), so the decoder goes past every
    # count check and must bound the nesting by itself. For the flat types the bound is
    # msgpack's 1,024 levels of at most `width` items: a fixed cost well under 1 MiB
    # (docs/protocol.md §2.3); the schema-driven Joined decoder never nests at all.
    width = len(cls.FIELDS)
    body = top_level(cls) + nested_levels(MSGPACK_DEPTH - 1, LEAVES[leaf], width)
    assert len(body) <= MAX_PAYLOAD_BYTES, "all 1,023 levels must fit in one frame"
    data = frame(body, cls.TYPE)
    peak, error = peak_while_refusing(data)
    assert type(error) is MalformedFrameError
    fixed = SLACK if cls.TYPE == JOINED else MIB
    assert peak < FACTOR * len(data) + fixed, f"peak {peak} for {len(data)} bytes"
    assert peak < MIB


def test_a_valid_large_frame_costs_about_its_size() -> None:
    body = b"\x96\xc4\x10" + bytes(16) + b"\xc4\x10" + bytes(16) + b"\xc4\x10" + bytes(16)
    body += b"\xc4\x10" + bytes(16) + b"\x01"
    body += b"\xc6" + MAX_BLOB_BYTES.to_bytes(4, "big") + bytes(MAX_BLOB_BYTES)
    data = frame(body, MessageType.MESSAGE)
    assert len(data) > HEADER_SIZE + MAX_PAYLOAD_BYTES - 1024
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        message = decode_frame(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert message.TYPE == MessageType.MESSAGE
    assert peak < 2 * len(data)


# ------------------------------------------------------------------ the limits themselves


def test_the_limits() -> None:
    assert MAX_PAYLOAD_BYTES == 135_168 == 132 * KIB
    assert MAX_BLOB_BYTES == MAX_PAYLOAD_BYTES - 1024 == 134_144
    assert MAX_CONTAINER_ITEMS == 64


def test_the_largest_client_frame_fits_with_little_to_spare() -> None:
    # docs/protocol.md §2.2: the largest frame a client sends is a Message whose body is a
    # 64 KiB text padded to 128 KiB, sealed under a 40-byte ratchet header and a 16-byte tag.
    body_size = 40 + 128 * KIB + 16
    assert body_size == 131_128 <= MAX_BLOB_BYTES
    largest = Message(
        session_id=bytes(SESSION_ID_SIZE),
        sender=bytes(ADDRESS_SIZE),
        recipient=bytes(ADDRESS_SIZE),
        message_id=bytes(MESSAGE_ID_SIZE),
        timestamp=UINT64_MAX,
        body=bytes(body_size),
    )
    encoded = encode_frame(largest)
    payload_size = len(encoded) - HEADER_SIZE
    # fixarray, four bin8 of 16 bytes, uint64, bin32 header, the body.
    assert payload_size == 1 + 4 * (2 + 16) + 9 + 5 + body_size == 131_215
    assert payload_size <= MAX_PAYLOAD_BYTES
    assert MAX_PAYLOAD_BYTES - payload_size < 4 * KIB  # what the protocol needs and no more
    assert decode_frame(encoded) == largest
