"""Property tests of the frame codec (docs/protocol.md §2, §4; STYLE.md rule 5).

Strategies are derived from each payload class's ``FIELDS`` schema, so a new payload or a
changed field is covered without touching this file. A few fields also get values shaped like
the real ones (canonical relay URLs; Joins by nameplate and by id, §4.3), so that the common
cases are exercised as often as the boundaries.
"""

from __future__ import annotations

import struct
from typing import Any

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quicko.errors import (
    FrameTooLargeError,
    MalformedFrameError,
    RemoteProtocolError,
    UnknownTypeError,
    UnsupportedVersionError,
)
from quicko.protocol import (
    HEADER_SIZE,
    MAX_PAYLOAD_BYTES,
    PAYLOAD_TYPES,
    PROTOCOL_VERSION,
    ErrorCode,
    Join,
    LobbyMessage,
    MessageType,
    Payload,
    canonical_relay_url,
    decode_frame,
    encode_frame,
    error_code_for,
)
from quicko.protocol.fields import Bin, Bool, FieldSpec, Int, ListOf, Str

PAYLOAD_CLASSES = sorted(PAYLOAD_TYPES.values(), key=lambda cls: cls.TYPE)
ALL_PAYLOADS = tuple(PAYLOAD_CLASSES)
UNKNOWN_CODES = [code for code in range(256) if code not in PAYLOAD_TYPES]
MOST_FIELDS = max(len(cls.FIELDS) for cls in PAYLOAD_CLASSES)

#: Sizes at which MessagePack changes the header of a bin (bin8, bin16, bin32).
BIN_BOUNDARIES = (0, 1, 31, 32, 255, 256, 65535, 65536)
#: Characters a Str field accepts: everything printable (docs/protocol.md §1).
PRINTABLE = st.characters(
    codec="utf-8",
    exclude_categories=("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs"),
    include_characters=" ",
)


def binary_of_length(length: int) -> st.SearchStrategy[bytes]:
    """Random bytes of exactly *length*; long ones are one repeated random byte (fast)."""
    if length <= 64:
        return st.binary(min_size=length, max_size=length)
    return st.integers(0, 255).map(lambda byte: bytes([byte]) * length)


def strategy_for(spec: FieldSpec) -> st.SearchStrategy[Any]:
    """Valid Python values of one field kind, boundaries included."""
    if isinstance(spec, Bin):
        if spec.sizes:
            return st.sampled_from(spec.sizes).flatmap(binary_of_length)
        sizes = [size for size in BIN_BOUNDARIES if size <= spec.max_size] + [spec.max_size]
        return st.one_of(
            st.binary(max_size=min(spec.max_size, 48)),
            st.sampled_from(sizes).flatmap(binary_of_length),
        )
    if isinstance(spec, Str):
        return st.text(PRINTABLE, max_size=spec.max_chars)
    if isinstance(spec, Int):
        return st.integers(spec.minimum, spec.maximum)
    if isinstance(spec, Bool):
        return st.booleans()
    assert isinstance(spec, ListOf)
    item = st.builds(
        spec.item_type, **{name: strategy_for(field) for name, field in spec.item_fields}
    )
    return st.lists(item, max_size=spec.max_items).map(tuple)


HOSTS = st.one_of(
    st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?(\.[a-z]{2,10}){0,3}", fullmatch=True),
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(lambda address: f"[{address}]"),
)
#: Canonical nameplates: 4 characters of Crockford's base 32 (docs/protocol.md §6.6).
NAMEPLATES = st.text("0123456789ABCDEFGHJKMNPQRSTVWXYZ", min_size=4, max_size=4)
#: Canonical relay URLs (docs/protocol.md §4.1): what real clients put in ``relay_url``.
CANONICAL_URLS = st.builds(
    "{}://{}:{}".format, st.sampled_from(["ws", "wss"]), HOSTS, st.integers(1, 65535)
)


def field_strategy(name: str, spec: FieldSpec) -> st.SearchStrategy[Any]:
    """Valid values of one field: shaped like real ones where that matters, else by kind."""
    if name == "relay_url":
        return st.one_of(CANONICAL_URLS, strategy_for(spec))
    return strategy_for(spec)


def payloads(cls: type[Payload]) -> st.SearchStrategy[Payload]:
    """Valid instances of one payload class."""
    generic: st.SearchStrategy[Payload] = st.builds(
        cls, **{name: field_strategy(name, spec) for name, spec in cls.FIELDS}
    )
    if cls is Join:
        by_nameplate = st.builds(Join, st.just(b""), NAMEPLATES)
        by_id = st.builds(
            Join,
            st.binary(min_size=16, max_size=16),
            st.one_of(st.just(""), NAMEPLATES),
            st.binary(min_size=32, max_size=32),
            st.binary(min_size=64, max_size=64),
        )
        return st.one_of(generic, by_nameplate, by_id)
    if cls is LobbyMessage:
        # From a joiner and to a joiner ``peer`` is empty; to and from the owner it is set.
        peers = st.one_of(st.just(b""), st.binary(min_size=16, max_size=16))
        bodies = st.binary(max_size=200)
        shaped: st.SearchStrategy[Payload] = st.builds(LobbyMessage, NAMEPLATES, peers, bodies)
        return st.one_of(generic, shaped)
    return generic


ANY_PAYLOAD = st.sampled_from(PAYLOAD_CLASSES).flatmap(payloads)

#: Values MessagePack can carry, of every kind, nested: what a hostile peer can put in fields.
MSGPACK_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats()
    | st.text(max_size=70)
    | st.binary(max_size=70),
    lambda inner: (
        st.lists(inner, max_size=8)
        | st.dictionaries(st.text(max_size=4) | st.integers(0, 9), inner, max_size=3)
    ),
    max_leaves=20,
)


def frame(type_code: int, body: bytes, *, version: int = PROTOCOL_VERSION) -> bytes:
    return struct.pack(">BBI", version, type_code, len(body)) + body


def check_contract(data: bytes) -> Payload | RemoteProtocolError:
    """Decode *data*; only a payload of the header's type or a RemoteProtocolError may result."""
    try:
        value = decode_frame(data)
    except RemoteProtocolError as exc:
        assert isinstance(error_code_for(exc), ErrorCode)
        return exc
    assert isinstance(value, ALL_PAYLOADS)
    assert data[1] == value.TYPE
    assert encode_frame(value)[:2] == data[:2]
    return value


@pytest.mark.parametrize("cls", PAYLOAD_CLASSES, ids=lambda cls: cls.__name__)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_round_trip(cls: type[Payload], data: st.DataObject) -> None:
    payload = data.draw(payloads(cls))
    encoded = encode_frame(payload)
    assert encoded[0] == PROTOCOL_VERSION
    assert encoded[1] == cls.TYPE
    assert int.from_bytes(encoded[2:HEADER_SIZE], "big") == len(encoded) - HEADER_SIZE
    decoded = decode_frame(encoded)
    assert type(decoded) is cls
    assert decoded == payload
    assert encode_frame(decoded) == encoded


def test_every_type_and_field_kind_has_a_strategy() -> None:
    assert {cls.TYPE for cls in PAYLOAD_CLASSES} == set(PAYLOAD_TYPES)
    assert set(PAYLOAD_TYPES) == {int(member) for member in MessageType}
    kinds = {type(spec) for cls in PAYLOAD_CLASSES for _, spec in cls.FIELDS}
    assert kinds == {Bin, Str, Int, Bool, ListOf}


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_arbitrary_bytes(data: bytes) -> None:
    check_contract(data)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(PAYLOAD_TYPES)), st.binary(max_size=200))
def test_arbitrary_payload_behind_a_valid_header(type_code: int, body: bytes) -> None:
    result = check_contract(frame(type_code, body))
    if isinstance(result, RemoteProtocolError):
        assert type(result) is MalformedFrameError


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(PAYLOAD_TYPES)), st.lists(MSGPACK_VALUES, max_size=MOST_FIELDS + 1))
def test_arbitrary_msgpack_arrays(type_code: int, items: list[Any]) -> None:
    result = check_contract(frame(type_code, msgpack.packb(items, use_bin_type=True)))
    if isinstance(result, RemoteProtocolError):
        assert type(result) is MalformedFrameError
        assert error_code_for(result) is ErrorCode.MALFORMED


@settings(max_examples=200, deadline=None)
@given(ANY_PAYLOAD, st.data())
def test_bit_flips(payload: Payload, data: st.DataObject) -> None:
    encoded = bytearray(encode_frame(payload))
    for _ in range(data.draw(st.integers(1, 3))):
        index = data.draw(st.integers(0, len(encoded) - 1))
        encoded[index] ^= 1 << data.draw(st.integers(0, 7))
    result = check_contract(bytes(encoded))
    if encoded[0] != PROTOCOL_VERSION:
        assert type(result) is UnsupportedVersionError
        assert error_code_for(result) is ErrorCode.UNSUPPORTED_VERSION


@settings(max_examples=200, deadline=None)
@given(ANY_PAYLOAD, st.data())
def test_truncation_and_extension(payload: Payload, data: st.DataObject) -> None:
    encoded = encode_frame(payload)
    cut = data.draw(st.integers(0, len(encoded) - 1))
    extra = data.draw(st.binary(min_size=1, max_size=16))
    for mutated in (encoded[:cut], encoded + extra):
        result = check_contract(mutated)
        assert type(result) is MalformedFrameError
        assert error_code_for(result) is ErrorCode.MALFORMED


@settings(max_examples=200, deadline=None)
@given(ANY_PAYLOAD, st.integers(0, 2**32 - 1))
def test_header_length_changes(payload: Payload, length: int) -> None:
    encoded = encode_frame(payload)
    mutated = encoded[:2] + length.to_bytes(4, "big") + encoded[HEADER_SIZE:]
    result = check_contract(mutated)
    if length > MAX_PAYLOAD_BYTES:
        assert type(result) is FrameTooLargeError
        assert error_code_for(result) is ErrorCode.TOO_LARGE
    elif length != len(encoded) - HEADER_SIZE:
        assert type(result) is MalformedFrameError
    else:
        assert result == payload


@settings(max_examples=200, deadline=None)
@given(ANY_PAYLOAD, st.integers(0, 255))
def test_type_byte_changes(payload: Payload, type_code: int) -> None:
    encoded = encode_frame(payload)
    result = check_contract(encoded[:1] + bytes([type_code]) + encoded[2:])
    if type_code not in PAYLOAD_TYPES:
        assert type(result) is UnknownTypeError
        assert error_code_for(result) is ErrorCode.UNKNOWN_TYPE
    elif type_code == payload.TYPE:
        assert result == payload
    elif isinstance(result, RemoteProtocolError):
        assert type(result) is MalformedFrameError


@settings(max_examples=100, deadline=None)
@given(ANY_PAYLOAD, st.integers(0, 255).filter(lambda v: v != PROTOCOL_VERSION))
def test_version_byte_changes(payload: Payload, version: int) -> None:
    encoded = encode_frame(payload)
    result = check_contract(bytes([version]) + encoded[1:])
    assert type(result) is UnsupportedVersionError
    assert error_code_for(result) is ErrorCode.UNSUPPORTED_VERSION


# ------------------------------------------------------------------ canonical relay URLs


@settings(max_examples=300, deadline=None)
@given(
    scheme=st.sampled_from(["ws", "wss"]),
    upper=st.lists(st.booleans(), min_size=2, max_size=2),
    host=HOSTS,
    port=st.one_of(st.none(), st.integers(1, 65535)),
    path=st.sampled_from(["", "/", "/ws", "/ws/", "/a/b?c=d#e", "?x", "#y"]),
)
def test_canonical_relay_url_properties(
    scheme: str, upper: list[bool], host: str, port: int | None, path: str
) -> None:
    """Any spelling of a relay's URL gives ``scheme://host:port``, lower case, port explicit."""
    written_scheme = scheme.upper() if upper[0] else scheme
    written_host = host.upper() if upper[1] else host
    written = f"{written_scheme}://{written_host}" + ("" if port is None else f":{port}") + path
    canonical = canonical_relay_url(written)
    expected_port = port if port is not None else {"ws": 80, "wss": 443}[scheme]
    assert canonical == f"{scheme}://{host.lower()}:{expected_port}"
    assert canonical_relay_url(canonical) == canonical
    assert canonical == canonical.lower()
    assert "/" not in canonical.removeprefix(f"{scheme}://")
