"""Tests of quicko.session.envelope: exact encodings, padding buckets, round trips, and the
decoder's contract (an Envelope or a MalformedFrameError, whatever the bytes)."""

from __future__ import annotations

from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quicko.errors import MalformedFrameError, RemoteProtocolError
from quicko.session.envelope import (
    BUCKET_SIZES,
    MAX_BUNDLE_BYTES,
    MAX_RECEIPT_IDS,
    MAX_TEXT_BYTES,
    RECEIPT_DELIVERED,
    RECEIPT_READ,
    Envelope,
    Leave,
    MemberAdd,
    Receipt,
    Sync,
    Text,
    _packed,
    _packed_text,
    _unpacked_text,
    pad_envelope,
    padded_size,
    unpad_envelope,
)

ID = bytes(range(16))


def frame(packed: bytes, size: int | None = None) -> bytes:
    """Length-prefix and zero-pad ``packed`` to its bucket (or to ``size``)."""
    plain = len(packed).to_bytes(4, "big") + packed
    return plain + bytes((size or padded_size(len(plain))) - len(plain))


def packb(obj: object) -> bytes:
    out: bytes = msgpack.packb(obj, use_bin_type=True)
    return out


# ---------------------------------------------------------------- exact encodings


@pytest.mark.parametrize(
    ("envelope", "packed_hex"),
    [
        (Sync(), "9100"),
        (Text("hi"), "9201a26869"),
        (Text(""), "9201a0"),
        (Receipt(RECEIPT_DELIVERED, (ID,)), "930203" + "91c410" + ID.hex()),
        (Receipt(RECEIPT_READ, (ID, ID)), "930204" + "92" + ("c410" + ID.hex()) * 2),
        (Leave(), "9104"),
    ],
)
def test_exact_encoding(envelope: Envelope, packed_hex: str) -> None:
    packed = bytes.fromhex(packed_hex)
    expected = len(packed).to_bytes(4, "big") + packed
    expected += bytes(64 - len(expected))
    assert pad_envelope(envelope) == expected
    assert unpad_envelope(expected) == envelope


def test_member_add_exact_encoding() -> None:
    vouch = MemberAdd(b"\xaa" * 16, b"\xbb" * 32, b"\xcc" * 32)
    packed = bytes.fromhex("9403c410" + "aa" * 16 + "c420" + "bb" * 32 + "c420" + "cc" * 32)
    expected = len(packed).to_bytes(4, "big") + packed
    expected += bytes(128 - len(expected))
    assert pad_envelope(vouch) == expected
    assert unpad_envelope(expected) == vouch


def test_sync_literal_bytes() -> None:
    assert pad_envelope(Sync()).hex() == "00000002" + "9100" + "00" * 58


# ---------------------------------------------------------------- padding


@pytest.mark.parametrize(
    ("length", "bucket"),
    [
        (0, 64),
        (1, 64),
        (64, 64),
        (65, 128),
        (128, 128),
        (129, 256),
        (4097, 8192),
        (32769, 65536),
        (65536, 65536),
        (65537, 131072),
        (131072, 131072),
        (131073, 196608),
    ],
)
def test_padded_size(length: int, bucket: int) -> None:
    assert padded_size(length) == bucket


def test_every_bucket_is_reached_by_text() -> None:
    seen = set()
    # Text overhead: prefix 4 + fixarray 1 + kind 1 + str header (1, 2, 3 or 5 bytes).
    for size in [0, 50, 60, 100, 200, 500, 1000, 2000, 4000, 8000, 16000, 32000, 60000]:
        padded = pad_envelope(Text("x" * size))
        assert len(padded) in BUCKET_SIZES
        seen.add(len(padded))
    assert seen == set(BUCKET_SIZES)
    assert len(pad_envelope(Text("x" * MAX_TEXT_BYTES))) == 2 * BUCKET_SIZES[-1]


@pytest.mark.parametrize("size", [0, 57, 58, 59, 121, 122, 123, 1000])
def test_bucket_boundaries_of_text(size: int) -> None:
    # [1, "x" * size]: overhead is 4 + 1 + 1 + (1 if size < 32 else 2 if size < 256 else 3).
    header = 1 if size < 32 else 2 if size < 256 else 3
    padded = pad_envelope(Text("x" * size))
    assert len(padded) == padded_size(4 + 2 + header + size)
    assert unpad_envelope(padded) == Text("x" * size)


def test_multibyte_text_is_measured_in_utf8() -> None:
    text = "é" * (MAX_TEXT_BYTES // 2)
    assert unpad_envelope(pad_envelope(Text(text))) == Text(text)
    with pytest.raises(ValueError, match="UTF-8"):
        pad_envelope(Text(text + "é"))


# ---------------------------------------------------------------- round trips

message_ids = st.binary(min_size=16, max_size=16)
envelopes = st.one_of(
    st.just(Sync()),
    st.just(Leave()),
    st.builds(Text, st.text(max_size=300)),
    st.builds(
        Receipt,
        st.sampled_from([RECEIPT_DELIVERED, RECEIPT_READ]),
        st.lists(message_ids, min_size=1, max_size=MAX_RECEIPT_IDS).map(tuple),
    ),
    st.builds(
        MemberAdd,
        st.binary(min_size=16, max_size=16),
        st.binary(min_size=32, max_size=32),
        st.binary(min_size=32, max_size=32),
    ),
)


@settings(max_examples=300)
@given(envelopes)
def test_round_trip(envelope: Envelope) -> None:
    padded = pad_envelope(envelope)
    assert len(padded) in BUCKET_SIZES
    assert unpad_envelope(padded) == envelope


def test_round_trip_at_the_caps() -> None:
    for envelope in (
        Text("x" * MAX_TEXT_BYTES),
        Text("line one\nline two\ttab\x00nul"),
        Receipt(RECEIPT_READ, tuple(bytes([i]) * 16 for i in range(MAX_RECEIPT_IDS))),
        MemberAdd(b"\x01" * 16, b"\x02" * 32, b"\x03" * 32),
    ):
        assert unpad_envelope(pad_envelope(envelope)) == envelope


# ---------------------------------------------------------------- local misuse


@pytest.mark.parametrize(
    ("envelope", "match"),
    [
        (Text(5), "must be a string"),  # type: ignore[arg-type]
        (Text("x" * (MAX_TEXT_BYTES + 1)), "at most"),
        (Text("\ud800"), "surrogates"),
        (Receipt(5, (ID,)), "status"),
        (Receipt(True, (ID,)), "status"),
        (Receipt(RECEIPT_READ, ()), "1 to 256"),
        (Receipt(RECEIPT_READ, (ID,) * (MAX_RECEIPT_IDS + 1)), "1 to 256"),
        (Receipt(RECEIPT_READ, [ID]), "must be an array"),  # type: ignore[arg-type]
        (Receipt(RECEIPT_READ, (ID, b"short")), "id 1 must be 16 bytes"),
        (Receipt(RECEIPT_READ, (bytearray(ID),)), "id 0 must be 16 bytes"),  # type: ignore[arg-type]
        (MemberAdd(b"", b"k" * 32, b"k" * 32), "vouched identity"),
        (MemberAdd(b"a" * 16, b"k" * 31, b"k" * 32), "vouched identity"),
        (MemberAdd(b"a" * 16, b"k" * 32, "k" * 32), "vouched identity"),  # type: ignore[arg-type]
    ],
)
def test_pad_refuses_invalid_envelopes(envelope: Envelope, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        pad_envelope(envelope)


# ---------------------------------------------------------------- malformed input


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"", "shorter than its length prefix"),
        (b"\x00\x00\x00", "shorter than its length prefix"),
        ((61).to_bytes(4, "big") + bytes(60), "beyond"),
        ((2**32 - 1).to_bytes(4, "big") + bytes(60), "beyond"),
        (frame(packb([0]))[:-1], "bucket"),
        (frame(packb([0])) + b"\x00", "bucket"),
        (frame(packb([0]), 128), "bucket"),
        (frame(packb([0]))[:-1] + b"\x01", "padding"),
        (frame(packb([0]))[:10] + b"\x80" + frame(packb([0]))[11:], "padding"),
        (frame(b""), "MessagePack"),
        (frame(b"\xc1"), "MessagePack"),
        (frame(packb([0]) + b"\x00"), "MessagePack"),
        (frame(packb([1, "x"])[:-1]), "MessagePack"),
        (frame(b"\x92\x01\xa2\xff\xfe"), "MessagePack"),
        (frame(packb({1: 2})), "MessagePack"),
        (frame(packb([1, {"a": 1}])), "MessagePack"),
        (frame(packb([1, msgpack.ExtType(1, b"x")])), "MessagePack"),
        (frame(packb([2, 3, [[ID]]])), "too many arrays"),
        (frame(packb([[], [], []])), "too many arrays"),
        (frame(packb([2, 3, [ID] * (MAX_RECEIPT_IDS + 1)])), "MessagePack"),
        (frame(packb([1, "x" * (MAX_TEXT_BYTES + 1)])), "MessagePack"),
        (frame(packb([3, b"x" * (MAX_BUNDLE_BYTES + 1)])), "MessagePack"),
        (frame(packb(0)), "array that starts"),
        (frame(packb([])), "array that starts"),
        (frame(packb(["1", "x"])), "array that starts"),
        (frame(packb([True])), "array that starts"),
        (frame(packb([1.0, "x"])), "array that starts"),
        (frame(packb([5])), "unknown envelope kind 5"),
        (frame(packb([-1])), "unknown envelope kind -1"),
        (frame(packb([2**64 - 1])), "unknown envelope kind"),
        (frame(packb([0, 0])), "kind 0 must have 1 items"),
        (frame(packb([1])), "kind 1 must have 2 items"),
        (frame(packb([4, None])), "kind 4 must have 1 items"),
        (frame(packb([2, 3])), "kind 2 must have 3 items"),
        (frame(packb([1, b"bytes"])), "text must be a string"),
        (frame(packb([1, None])), "text must be a string"),
        (frame(packb([2, 5, [ID]])), "status"),
        (frame(packb([2, "3", [ID]])), "status"),
        (frame(packb([2, 3, ID])), "must be an array"),
        (frame(packb([2, 3, []])), "1 to 256"),
        (frame(packb([2, 3, [ID, ID[:15]]])), "id 1 must be 16 bytes"),
        (frame(packb([2, 3, ["x" * 16]])), "id 0 must be 16 bytes"),
        (frame(packb([3, b""])), "4 items"),
        (frame(packb([3, b"a" * 16, b"k" * 32, b"k" * 31])), "vouched identity"),
        (frame(packb([3, "a" * 16, b"k" * 32, b"k" * 32])), "vouched identity"),
    ],
)
def test_malformed_plaintexts(data: bytes, match: str) -> None:
    with pytest.raises(MalformedFrameError, match=match):
        unpad_envelope(data)


def test_malformed_is_a_remote_protocol_error() -> None:
    assert issubclass(MalformedFrameError, RemoteProtocolError)


def test_padding_of_a_big_envelope_must_be_zero_to_the_end() -> None:
    padded = bytearray(pad_envelope(Text("x" * 40000)))
    assert len(padded) == 65536
    padded[-1] = 1
    with pytest.raises(MalformedFrameError, match="padding"):
        unpad_envelope(bytes(padded))


def _check_contract(data: bytes) -> None:
    try:
        envelope = unpad_envelope(data)
    except MalformedFrameError as exc:
        assert str(exc)
    else:
        # A valid plaintext has a valid, stable re-encoding.
        assert unpad_envelope(pad_envelope(envelope)) == envelope


@settings(max_examples=500)
@given(st.binary(max_size=300))
def test_any_bytes_give_an_envelope_or_malformed(data: bytes) -> None:
    _check_contract(data)


msgpack_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.binary(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=3), children, max_size=2)
    ),
    max_leaves=10,
)


@settings(max_examples=500)
@given(st.one_of(msgpack_values, st.lists(msgpack_values, min_size=1, max_size=4)))
def test_any_padded_msgpack_gives_an_envelope_or_malformed(value: Any) -> None:
    _check_contract(frame(packb(value)))


@settings(max_examples=300)
@given(envelopes, st.data())
def test_mutated_envelopes_give_an_envelope_or_malformed(
    envelope: Envelope, data: st.DataObject
) -> None:
    padded = bytearray(pad_envelope(envelope))
    for _ in range(data.draw(st.integers(1, 4))):
        index = data.draw(st.integers(0, len(padded) - 1))
        padded[index] = data.draw(st.integers(0, 255))
    _check_contract(bytes(padded))


# ---------------------------------------------------------------- the TEXT fast paths

# pad_envelope encodes a TEXT itself (_packed_text) and unpad_envelope decodes one itself
# (_unpacked_text); both must equal the general path (msgpack) on everything they take, and
# leave everything else to it.
texts = st.one_of(
    st.text(max_size=300),
    st.integers(0, 70_000).map(lambda size: "é" * (size // 2) + "x" * (size % 2)),
    st.sampled_from([0, 31, 32, 255, 256, 65_535, 65_536, 65_537]).map(lambda size: "x" * size),
    st.just("lone \ud800 surrogate"),
)


def _general_unpad(data: bytes) -> Envelope:
    """unpad_envelope without its TEXT fast path: the bytes as a bytearray (not taken)."""
    return unpad_envelope(bytearray(data))  # type: ignore[arg-type]  # any bytes-like is read


def _outcome(call: Any) -> tuple[str, Any]:
    try:
        return "ok", call()
    except (ValueError, MalformedFrameError) as exc:
        return type(exc).__name__, str(exc)


@settings(max_examples=300)
@given(texts)
def test_text_is_packed_as_msgpack_packs_it(text: str) -> None:
    envelope = Text(text)
    fast = _packed_text(envelope)
    general = _outcome(lambda: _packed(envelope))
    if fast is None:
        assert general[0] != "ok"  # only what the general path refuses is left to it
    else:
        assert general == ("ok", fast) == ("ok", msgpack.packb([1, text], use_bin_type=True))
    assert _outcome(lambda: pad_envelope(envelope)) == _outcome(
        lambda: frame(_packed(envelope)) if general[0] == "ok" else _packed(envelope)
    )


@settings(max_examples=300)
@given(envelopes, st.data())
def test_unpad_fast_path_equals_the_general_path(envelope: Envelope, data: st.DataObject) -> None:
    padded = bytearray(pad_envelope(envelope))
    for _ in range(data.draw(st.integers(0, 4))):
        index = data.draw(st.integers(0, len(padded) - 1))
        padded[index] = data.draw(st.integers(0, 255))
    plain = bytes(padded)
    assert _outcome(lambda: unpad_envelope(plain)) == _outcome(lambda: _general_unpad(plain))


@settings(max_examples=300)
@given(texts, st.sampled_from(["fixstr", "str8", "str16", "str32", "bin"]))
def test_unpad_of_any_string_encoding_equals_the_general_path(text: str, kind: str) -> None:
    # Texts written with every MessagePack string header, also the ones msgpack would not
    # choose for that length (a str16 for 3 bytes) and binary: taken or left, never different.
    encoded = text.encode("utf-8", "surrogatepass")
    size = len(encoded)
    heads = {
        "fixstr": bytes([0xA0 | size]) if size < 32 else None,
        "str8": bytes([0xD9, size]) if size < 0x100 else None,
        "str16": bytes([0xDA]) + size.to_bytes(2, "big") if size < 0x10000 else None,
        "str32": bytes([0xDB]) + size.to_bytes(4, "big"),
        "bin": bytes([0xC6]) + size.to_bytes(4, "big"),
    }
    head = heads[kind]
    if head is None:
        return
    plain = frame(b"\x92\x01" + head + encoded)
    fast = _unpacked_text(plain, 4 + len(b"\x92\x01" + head + encoded))
    general = _outcome(lambda: _general_unpad(plain))
    assert _outcome(lambda: unpad_envelope(plain)) == general
    if fast is not None:
        assert general == ("ok", fast)


def test_the_fast_paths_are_taken_for_usual_texts() -> None:
    for text in ["", "hi", "x" * 31, "x" * 32, "é" * 200, "x" * 65_535]:
        packed = _packed_text(Text(text))
        assert packed is not None
        plain = frame(packed)
        assert _unpacked_text(plain, 4 + len(packed)) == Text(text)
