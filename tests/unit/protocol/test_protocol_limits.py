"""MessagePack bombs: refused, and refused cheaply (docs/protocol.md §2.3).

Cheap is measured in memory with tracemalloc, not in wall-clock time: the peak allocated
while one hostile frame is decoded must stay below a small multiple of the frame's size.
"""

from __future__ import annotations

import struct
import tracemalloc

import pytest

from quicko.errors import MalformedFrameError, RemoteProtocolError
from quicko.protocol import (
    HEADER_SIZE,
    MAX_BLOB_BYTES,
    MAX_PAYLOAD_BYTES,
    MessageType,
    decode_frame,
)

MIB = 1 << 20
#: Allowed peak: four times the frame, plus room for the exception and its traceback.
SLACK = 64 * 1024
JOINED = MessageType.JOINED  # the one payload with nested arrays


def frame(body: bytes, type_code: int = JOINED) -> bytes:
    assert len(body) <= MAX_PAYLOAD_BYTES
    return struct.pack(">BBI", 2, type_code, len(body)) + body


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


def nested_levels(depth: int, leaf: bytes, width: int = 64) -> bytes:
    """*depth* arrays of *width* items, each of (width - 1) *leaf* items and the next array."""
    level = b"\xdc" + width.to_bytes(2, "big") + leaf * (width - 1)
    return level * depth


BOMBS = {
    # 1 MiB of fixarray(1) headers: [[[[…]]]] about a million deep.
    "nested-fixarray": fill(b"", b"\x91"),
    # An array declaring a million empty arrays, all present.
    "million-empty-arrays": fill(b"\xdd" + (MAX_PAYLOAD_BYTES - 5).to_bytes(4, "big"), b"\x90"),
    # Declared lengths far beyond the data.
    "array32-4G": fill(b"\xdd\xff\xff\xff\xff"),
    "array16-64K": fill(b"\xdc\xff\xff"),
    "bin32-4G": fill(b"\x93\xc6\xff\xff\xff\xff"),
    "str32-4G": fill(b"\x93\xdb\xff\xff\xff\xff"),
    "map32-4G": fill(b"\x93\xdf\xff\xff\xff\xff"),
    "ext32-4G": fill(b"\x93\xc9\xff\xff\xff\xff\x01"),
    "bin32-just-over": b"\x93\xc6" + (MAX_PAYLOAD_BYTES - 5).to_bytes(4, "big"),
    # Many small containers: arrays of empty arrays, side by side and nested.
    "arrays-of-empty-arrays": fill(b"\x93", b"\xdc\x00\x40" + b"\x90" * 64),
    "fixarrays-of-fixarrays": fill(b"", b"\x9f" + b"\x90" * 14),
    "deep-empty-arrays": nested_levels(1000, b"\x90"),
}


@pytest.mark.parametrize("name", sorted(BOMBS))
def test_bombs_are_refused_cheaply(name: str) -> None:
    data = frame(BOMBS[name])
    peak, error = peak_while_refusing(data)
    assert type(error) is MalformedFrameError
    assert peak < 4 * len(data) + SLACK, f"{name}: peak {peak} for {len(data)} bytes"
    assert peak < 4 * MIB


def test_a_bomb_behind_each_type_is_refused() -> None:
    for type_code in MessageType:
        peak, error = peak_while_refusing(frame(BOMBS["nested-fixarray"], type_code))
        assert type(error) is MalformedFrameError
        assert peak < 4 * MIB


def test_declared_length_over_the_limit_allocates_nothing_much() -> None:
    header = struct.pack(">BBI", 2, JOINED, 2**32 - 1)
    peak, error = peak_while_refusing(header + b"\x91" * 1024)
    assert error_name(error) == "FrameTooLargeError"
    assert peak < SLACK


def error_name(error: RemoteProtocolError) -> str:
    return type(error).__name__


@pytest.mark.parametrize(
    "leaf",
    [b"\x01", b"\xa2ab", b"\xc4\x02ab", b"\xcd\x12\x34", b"\xaf" + b"s" * 15],
    ids=["fixint", "str2", "bin2", "uint16", "str15"],
)
def test_deep_and_wide_bombs_stay_small(leaf: bytes) -> None:
    body = nested_levels(1023, leaf)[:MAX_PAYLOAD_BYTES]
    data = frame(body)
    peak, error = peak_while_refusing(data)
    assert type(error) is MalformedFrameError
    assert peak < 4 * len(data) + SLACK, f"peak {peak} for {len(data)} bytes"
    assert peak < 4 * MIB


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


@pytest.mark.parametrize(
    ("type_code", "width"),
    [(MessageType.MESSAGE, 6), (MessageType.LOOKUP_RESPONSE, 8), (JOINED, 3)],
    ids=["flat-message", "flat-lookup-response", "nested-joined"],
)
@pytest.mark.parametrize(
    "leaf", [b"\x01", b"\xa2ab", b"\xaf" + b"s" * 15], ids=["int", "s2", "s15"]
)
def test_bombs_behind_a_valid_top_level_array_stay_small(
    type_code: int, width: int, leaf: bytes
) -> None:
    # The top-level array has the right field count, so the decoder goes past the header check
    # and must bound the nested arrays inside the first field by itself. For the flat types the
    # bound is msgpack's 1,024 levels of at most `width` items: a fixed cost of well under 1 MiB
    # (docs/protocol.md §2); the schema-driven Joined decoder never nests at all.
    body = bytes([0x90 + width]) + nested_levels(1023, leaf, width)
    data = frame(body[:MAX_PAYLOAD_BYTES], type_code)
    peak, error = peak_while_refusing(data)
    assert type(error) is MalformedFrameError
    fixed = SLACK if type_code == JOINED else MIB
    assert peak < 4 * len(data) + fixed, f"peak {peak} for {len(data)} bytes"
