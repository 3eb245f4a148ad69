"""Specific cases of the frame codec: header checks, field checks, encode-side refusals."""

from __future__ import annotations

import struct
from typing import Any

import msgpack
import pytest

from quicko.errors import (
    FrameTooLargeError,
    LocalProtocolError,
    MalformedFrameError,
    ProtocolError,
    RemoteProtocolError,
    UnknownTypeError,
    UnsupportedVersionError,
)
from quicko.protocol import (
    HEADER_SIZE,
    MAX_BLOB_BYTES,
    MAX_DISPLAY_NAME_CHARS,
    MAX_MEMBERS,
    MAX_PAYLOAD_BYTES,
    PAYLOAD_TYPES,
    PROTOCOL_VERSION,
    Ack,
    AckStatus,
    Error,
    ErrorCode,
    Hello,
    Join,
    Joined,
    Lobby,
    LobbyMessage,
    LookupResponse,
    Member,
    Message,
    MessageType,
    Payload,
    Ping,
    RegisterAck,
    RegisterKey,
    codec,
    decode_frame,
    encode_frame,
    error_code_for,
    read_header,
)
from quicko.protocol.fields import UINT64_MAX, Bin, Bool, FieldSpec, Int, ListOf, Str

ID_A = bytes(range(16))
ID_B = bytes(range(16, 32))
ID_S = bytes(range(32, 48))
ID_M = bytes(range(48, 64))
KEY = bytes(range(32))
SIG = bytes(range(64))

PAYLOAD_CLASSES = sorted(PAYLOAD_TYPES.values(), key=lambda cls: cls.TYPE)
UNKNOWN_CODES = [code for code in range(256) if code not in PAYLOAD_TYPES]


def frame(type_code: int, body: bytes, *, version: int = 4, length: int | None = None) -> bytes:
    declared = len(body) if length is None else length
    return struct.pack(">BBI", version, type_code, declared) + body


def packed(type_code: int, items: Any) -> bytes:
    return frame(type_code, msgpack.packb(items, use_bin_type=True))


def valid_value(spec: FieldSpec) -> Any:
    """A valid wire value of one field kind."""
    if isinstance(spec, Bin):
        return bytes(spec.sizes[-1]) if spec.sizes else b"x"
    if isinstance(spec, Str):
        return "ok"
    if isinstance(spec, Int):
        return spec.minimum
    if isinstance(spec, Bool):
        return True
    assert isinstance(spec, ListOf)
    return [[valid_value(field) for _, field in spec.item_fields]]


def valid_items(cls: type[Payload]) -> list[Any]:
    return [valid_value(spec) for _, spec in cls.FIELDS]


def wrong_values(spec: FieldSpec) -> list[Any]:
    """Wire values of the wrong kind or out of range for one field kind."""
    common: list[Any] = [None, 1.5, {}]  # non-empty maps: test_maps_exts_and_other_kinds
    if isinstance(spec, Bin):
        too_long = bytes(spec.sizes[-1] + 1) if spec.sizes else bytes(spec.max_size + 1)
        return [*common, "text", 7, [], too_long]
    if isinstance(spec, Str):
        return [*common, b"bytes", 7, [], "x" * (spec.max_chars + 1), "a\nb"]
    if isinstance(spec, Int):
        # Above UINT64_MAX MessagePack has no encoding at all.
        above = [spec.maximum + 1] if spec.maximum < UINT64_MAX else [-(2**63)]
        return [*common, True, b"\x01", "1", -1, *above]
    if isinstance(spec, Bool):
        return [*common, 0, 1, b"", "true"]
    assert isinstance(spec, ListOf)
    return [*common, b"", 7, [7], [[]], [[None] * len(spec.item_fields)]]


# ------------------------------------------------------------------ header


def test_valid_header() -> None:
    encoded = encode_frame(Ping(nonce=7))
    assert encoded == bytes.fromhex("04 20 00000002 91 07")
    assert read_header(encoded) == (0x20, 2)


@pytest.mark.parametrize("version", [0, 1, 2, 3, 0x7F, 0xFF])
def test_other_versions_are_refused_with_a_clear_message(version: int) -> None:
    data = frame(0x20, b"\x91\x07", version=version)
    with pytest.raises(UnsupportedVersionError) as info:
        decode_frame(data)
    assert f"version {version}" in str(info.value)
    assert "version 4" in str(info.value)
    assert error_code_for(info.value) is ErrorCode.UNSUPPORTED_VERSION


def test_an_original_version_1_frame() -> None:
    # The original protocol's Ping: version 1, type 0x20, MessagePack payload.
    original = frame(0x20, msgpack.packb({"timestamp": 1}), version=1)
    with pytest.raises(UnsupportedVersionError, match="speaks version 4"):
        decode_frame(original)


@pytest.mark.parametrize("size", range(HEADER_SIZE))
def test_short_header(size: int) -> None:
    with pytest.raises(MalformedFrameError, match="shorter than its header"):
        decode_frame(bytes([4, 0x20, 0, 0, 0, 0])[:size])


@pytest.mark.parametrize("length", [MAX_PAYLOAD_BYTES + 1, 2**31, 2**32 - 1])
def test_declared_length_over_the_limit_is_refused_before_the_payload(length: int) -> None:
    # Only the header is there: the length is refused without looking for the payload.
    with pytest.raises(FrameTooLargeError, match="over 135168") as info:
        decode_frame(frame(0x10, b"", length=length))
    assert error_code_for(info.value) is ErrorCode.TOO_LARGE


def test_declared_length_at_the_limit_is_a_length_mismatch() -> None:
    with pytest.raises(MalformedFrameError, match="declares 135168 payload bytes but 0 follow"):
        decode_frame(frame(0x10, b"", length=MAX_PAYLOAD_BYTES))


@pytest.mark.parametrize("delta", [-2, -1, 1, 5])
def test_header_length_mismatch(delta: int) -> None:
    body = b"\x91\x07"
    with pytest.raises(MalformedFrameError, match="header declares"):
        decode_frame(frame(0x20, body, length=len(body) + delta))


@pytest.mark.parametrize("type_code", UNKNOWN_CODES)
def test_unknown_types(type_code: int) -> None:
    with pytest.raises(UnknownTypeError, match=f"0x{type_code:02x}") as info:
        decode_frame(frame(type_code, b"\x91\x07"))
    assert error_code_for(info.value) is ErrorCode.UNKNOWN_TYPE


def test_version_is_checked_before_length_and_type() -> None:
    with pytest.raises(UnsupportedVersionError):
        decode_frame(frame(0x00, b"", version=1, length=2**32 - 1))


# ------------------------------------------------------------------ payload shape


@pytest.mark.parametrize("cls", PAYLOAD_CLASSES, ids=lambda cls: cls.__name__)
def test_valid_items_decode(cls: type[Payload]) -> None:
    value = decode_frame(packed(cls.TYPE, valid_items(cls)))
    assert type(value) is cls


@pytest.mark.parametrize("cls", PAYLOAD_CLASSES, ids=lambda cls: cls.__name__)
def test_wrong_field_count(cls: type[Payload]) -> None:
    items = valid_items(cls)
    for wrong in (items[:-1], [*items, 0], []):
        with pytest.raises(MalformedFrameError, match=f"{cls.__name__} payload must be an array"):
            decode_frame(packed(cls.TYPE, wrong))


@pytest.mark.parametrize("top", [7, "x", b"x", None, True, 1.0, {}, {"a": 1}])
def test_payload_that_is_not_an_array(top: Any) -> None:
    with pytest.raises(MalformedFrameError):
        decode_frame(packed(0x20, top))


@pytest.mark.parametrize(
    ("cls", "index"),
    [(cls, index) for cls in PAYLOAD_CLASSES for index in range(len(cls.FIELDS))],
    ids=lambda v: v.__name__ if isinstance(v, type) else str(v),
)
def test_wrong_field_types(cls: type[Payload], index: int) -> None:
    name, spec = cls.FIELDS[index]
    for wrong in wrong_values(spec):
        items = valid_items(cls)
        items[index] = wrong
        with pytest.raises(MalformedFrameError, match=f"field '{name}'") as info:
            decode_frame(packed(cls.TYPE, items))
        assert error_code_for(info.value) is ErrorCode.MALFORMED


@pytest.mark.parametrize("size", [0, 15, 17, 32])
def test_wrong_id_size_names_the_sizes(size: int) -> None:
    with pytest.raises(MalformedFrameError, match=f"must be 16 bytes long, not {size}"):
        decode_frame(packed(0x51, [bytes(size)]))


def test_optional_id_sizes() -> None:
    items: list[Any] = [ID_S, ID_A, bytes(3), ID_M, AckStatus.ACCEPTED.value]
    with pytest.raises(MalformedFrameError, match="must be 0 or 16 bytes long, not 3"):
        decode_frame(packed(0x11, items))
    items[2] = b""
    assert decode_frame(packed(0x11, items)) == Ack(ID_S, ID_A, b"", ID_M, 1)


@pytest.mark.parametrize(
    "text",
    ["a\x00b", "tab\there", "new\nline", "cr\r", "\x7f", "\x85", "zero\u200bwidth", "\u2028",
     "\u00a0", "\ue000", "\U000e0001", "\U0010ffff", "\u0378"],
)  # fmt: skip
def test_strings_with_control_or_invisible_characters(text: str) -> None:
    with pytest.raises(MalformedFrameError, match="control characters"):
        decode_frame(packed(0x32, [ID_S, ID_A, text]))


@pytest.mark.parametrize("raw", [b"\xc3\x28", b"\xed\xa0\x80", b"\xff", b"\xf4\x90\x80\x80"])
def test_strings_that_are_not_utf8(raw: bytes) -> None:
    body = b"\x93\xc4\x10" + ID_S + b"\xc4\x10" + ID_A + bytes([0xA0 | len(raw)]) + raw
    with pytest.raises(MalformedFrameError, match="not valid MessagePack"):
        decode_frame(frame(0x32, body))


def test_string_length_counts_characters_not_bytes() -> None:
    name = "\U0001f98a" * MAX_DISPLAY_NAME_CHARS  # 64 foxes, 256 bytes of UTF-8
    value = decode_frame(packed(0x32, [ID_S, ID_A, name]))
    assert value == decode_frame(encode_frame(value))
    with pytest.raises(MalformedFrameError, match="at most 64 characters"):
        decode_frame(packed(0x32, [ID_S, ID_A, name + "a"]))


@pytest.mark.parametrize(
    "body",
    [
        b"\x80",  # payload is an empty map
        b"\x81\x01\x02",  # payload is a map
        b"\x91\x80",  # a field is an empty map
        b"\x91\x81\xa1k\x01",  # a field is a map
        b"\x91\xd4\x01\x00",  # fixext 1
        b"\x91\xc7\x00\x05",  # ext 8 of length 0
        b"\x91\xd6\xff\x00\x00\x00\x01",  # timestamp 32
        b"\x91\xc0",  # nil
        b"\x91\xca\x00\x00\x00\x00",  # float 32
        b"\x91\xcb" + bytes(8),  # float 64
        b"\x91\xc1",  # never-used byte
        b"\x91\x07\x07",  # trailing data
        b"",  # nothing at all
        b"\x92\x07",  # truncated array
    ],
)
def test_maps_exts_and_other_kinds_are_refused(body: bytes) -> None:
    with pytest.raises(MalformedFrameError):
        decode_frame(frame(0x20, body))


def test_non_canonical_encodings_are_accepted() -> None:
    # Receivers accept any MessagePack form of a value (docs/protocol.md §1); senders use
    # the shortest, so re-encoding gives the canonical bytes.
    body = b"\x91\xcf" + (7).to_bytes(8, "big")
    assert decode_frame(frame(0x20, body)) == Ping(nonce=7)
    body = b"\x91\xc6\x00\x00\x00\x10" + ID_A
    assert decode_frame(frame(0x51, body)) == decode_frame(packed(0x51, [ID_A]))
    assert encode_frame(Ping(nonce=7)) == frame(0x20, b"\x91\x07")


def test_bytes_like_input() -> None:
    encoded = encode_frame(Ping(nonce=1))
    assert decode_frame(bytearray(encoded)) == Ping(nonce=1)  # type: ignore[arg-type]  # bytes-like works
    assert decode_frame(memoryview(encoded)) == Ping(nonce=1)  # type: ignore[arg-type]  # bytes-like works


# ------------------------------------------------------------------ Joined, the nested payload


def member(index: int, *, online: bool = True) -> Member:
    return Member(address=bytes([index]) * 16, display_name=f"Member {index}", online=online)


def test_joined_with_the_most_members() -> None:
    members = tuple(member(index, online=index % 2 == 0) for index in range(MAX_MEMBERS))
    joined = Joined(session_id=ID_S, nameplate="KBQW", members=members)
    encoded = encode_frame(joined)
    assert decode_frame(encoded) == joined


def test_joined_with_too_many_members() -> None:
    items = [ID_S, "", [[bytes([i]) * 16, "x", True] for i in range(MAX_MEMBERS + 1)]]
    with pytest.raises(MalformedFrameError):
        decode_frame(packed(0x34, items))
    members = tuple(member(index) for index in range(MAX_MEMBERS + 1))
    with pytest.raises(LocalProtocolError, match="at most 64 items"):
        encode_frame(Joined(ID_S, "", members))


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ([[ID_A, "x"]], "item 0 must be an array of 3 fields"),
        ([[ID_A, "x", True], 7], "item 1 must be an array of 3 fields"),
        ([[ID_A, "x", 1]], "item 0 field 'online' must be true or false"),
        ([[ID_A[:8], "x", True]], "item 0 field 'address' must be 16 bytes long"),
    ],
)
def test_joined_member_checks(members: list[Any], message: str) -> None:
    with pytest.raises(MalformedFrameError, match=message):
        decode_frame(packed(0x34, [ID_S, "", members]))


def test_too_many_arrays_in_one_payload() -> None:
    # LookupResponse has 9 fields: 1 + 9 + 9 * 9 arrays, each within the item cap of 9, are
    # over MAX_CONTAINERS (66) in total.
    width = len(LookupResponse.FIELDS)
    assert width == 9
    nested: list[list[list[int]]] = [[[] for _ in range(width)] for _ in range(width)]
    with pytest.raises(MalformedFrameError, match="too many nested arrays"):
        decode_frame(packed(0x52, nested))


# ------------------------------------------------------------------ encode side


def hello(**changes: Any) -> Hello:
    fields: dict[str, Any] = {
        "address": ID_A,
        "display_name": "Swift Falcon #7A3F",
        "x25519_public": KEY,
        "ed25519_public": KEY,
        "relay_url": "ws://127.0.0.1:9900",
        "signature": SIG,
    }
    fields.update(changes)
    return Hello(**fields)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (hello(address=ID_A[:15]), "Hello.address must be 16 bytes long, not 15"),
        (hello(signature=SIG + b"\x00"), "Hello.signature must be 64 bytes long"),
        (hello(display_name="x" * 65), "Hello.display_name must be at most 64 characters"),
        (hello(display_name="line\nbreak"), "Hello.display_name must not contain control"),
        (hello(display_name=b"bytes"), "Hello.display_name must be a string"),
        (hello(address="00" * 16), "Hello.address must be a binary string"),
        (hello(address=bytearray(ID_A)), "Hello.address must be a binary string"),
        (Ping(nonce=-1), "Ping.nonce must be between 0 and 18446744073709551615"),
        (Ping(nonce=UINT64_MAX + 1), "Ping.nonce must be between"),
        (Ping(nonce=True), "Ping.nonce must be an integer"),
        (Ping(nonce=1.0), "Ping.nonce must be an integer"),  # type: ignore[arg-type]  # wrong on purpose
        (Error(code=65536, reason="", ref_type=0, ref_id=b""), "Error.code must be between"),
        (Error(code=1, reason="", ref_type=256, ref_id=b""), "Error.ref_type must be between"),
        (Error(code=1, reason="", ref_type=0, ref_id=bytes(33)), "at most 32 bytes"),
        (RegisterAck(address=ID_A, registered=1), "RegisterAck.registered must be true or false"),  # type: ignore[arg-type]  # wrong on purpose
    ],
)  # fmt: skip
def test_encode_refuses_out_of_range_values(payload: Payload, message: str) -> None:
    with pytest.raises(LocalProtocolError, match=message) as info:
        encode_frame(payload)
    assert isinstance(info.value, ProtocolError)
    assert not isinstance(info.value, RemoteProtocolError)


def test_encode_refuses_a_body_over_the_blob_limit() -> None:
    at_limit = Message(ID_S, ID_A, ID_B, ID_M, 1, bytes(MAX_BLOB_BYTES))
    encoded = encode_frame(at_limit)
    assert len(encoded) - HEADER_SIZE <= MAX_PAYLOAD_BYTES
    assert decode_frame(encoded) == at_limit
    over = Message(ID_S, ID_A, ID_B, ID_M, 1, bytes(MAX_BLOB_BYTES + 1))
    with pytest.raises(LocalProtocolError, match=f"Message.body must be at most {MAX_BLOB_BYTES}"):
        encode_frame(over)


def test_encode_refuses_a_payload_over_the_frame_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    # No payload of the protocol can exceed the limit within its field caps (the blob cap
    # leaves 1 KiB of room), so the last line of defence is tested with a lower limit.
    monkeypatch.setattr(codec, "MAX_PAYLOAD_BYTES", 100)
    with pytest.raises(LocalProtocolError, match=r"payload of 1\d\d bytes is over 100"):
        encode_frame(Message(ID_S, ID_A, ID_B, ID_M, 1, bytes(64)))


@pytest.mark.parametrize("members", [None, (1, 2), ("not a member",), 5])
def test_encode_refuses_members_that_are_not_records(members: Any) -> None:
    with pytest.raises(LocalProtocolError, match=r"Joined\.members has a bad value"):
        encode_frame(Joined(ID_S, "", members))


def test_encode_refuses_a_bad_member_field() -> None:
    bad = Member(address=ID_A, display_name="x", online="yes")  # type: ignore[arg-type]  # wrong on purpose
    with pytest.raises(LocalProtocolError, match="item 0 field 'online'"):
        encode_frame(Joined(ID_S, "", (bad,)))


def test_encode_accepts_enum_members() -> None:
    ack = Ack(ID_S, ID_A, ID_B, ID_M, AckStatus.ACCEPTED)
    assert decode_frame(encode_frame(ack)) == ack
    error = Error(ErrorCode.MALFORMED, "bad", 0x10, ID_M)
    assert decode_frame(encode_frame(error)) == error


# ------------------------------------------------------------------ error codes


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (UnsupportedVersionError("v"), ErrorCode.UNSUPPORTED_VERSION),
        (FrameTooLargeError("big"), ErrorCode.TOO_LARGE),
        (UnknownTypeError("type"), ErrorCode.UNKNOWN_TYPE),
        (MalformedFrameError("shape"), ErrorCode.MALFORMED),
        (RemoteProtocolError("other"), ErrorCode.MALFORMED),
    ],
)
def test_error_code_for(exc: RemoteProtocolError, code: ErrorCode) -> None:
    assert error_code_for(exc) is code


def test_reasons_are_short_and_never_echo_payload_bytes() -> None:
    secret = "SECRET-PLAINTEXT"
    with pytest.raises(MalformedFrameError) as info:
        decode_frame(packed(0x32, [ID_S, ID_A, secret + "\n"]))
    assert secret not in str(info.value)
    assert len(str(info.value)) <= 256


# ------------------------------------------------------------------ version 3 and later frames

NAMEPLATE = "R1F3"
NAMEPLATE_HEX = "a4 52314633"  # fixstr 4 "R1F3"
RELAY_URL = "ws://127.0.0.1:9900"


def test_version_4() -> None:
    assert PROTOCOL_VERSION == 4
    assert encode_frame(Lobby(NAMEPLATE))[0] == 0x04


def test_the_new_codes() -> None:
    assert (MessageType.LOBBY, MessageType.LOBBY_MESSAGE) == (0x36, 0x42)
    assert (ErrorCode.WRONG_RELAY, ErrorCode.PROOF_INVALID) == (16, 35)
    assert int(ErrorCode.NOT_PENDING) == 52
    # Both new frames decode (they were once missing from PAYLOAD_TYPES).
    assert PAYLOAD_TYPES[0x36] is Lobby
    assert PAYLOAD_TYPES[0x42] is LobbyMessage


@pytest.mark.parametrize(
    ("payload", "hex_frame"),
    [
        (Lobby(NAMEPLATE), f"04 36 00000006 91 {NAMEPLATE_HEX}"),
        (
            LobbyMessage(NAMEPLATE, b"", b"\x01\x02"),
            f"04 42 0000000c 93 {NAMEPLATE_HEX} c4 00 c4 02 0102",
        ),
        (
            LobbyMessage(NAMEPLATE, ID_A, b""),
            f"04 42 0000001a 93 {NAMEPLATE_HEX} c4 10 {ID_A.hex()} c4 00",
        ),
        (Join(b"", NAMEPLATE), f"04 30 0000000c 94 c4 00 {NAMEPLATE_HEX} c4 00 c4 00"),
        (
            Join(ID_S, "", KEY, SIG),
            f"04 30 00000078 94 c4 10 {ID_S.hex()} a0 c4 20 {KEY.hex()} c4 40 {SIG.hex()}",
        ),
        (
            Hello(ID_A, "Swift Falcon #7A3F", KEY, KEY, RELAY_URL, SIG),
            f"04 01 000000c0 96 c4 10 {ID_A.hex()} b2 {b'Swift Falcon #7A3F'.hex()}"
            f" c4 20 {KEY.hex()} c4 20 {KEY.hex()} b3 {RELAY_URL.encode().hex()}"
            f" c4 40 {SIG.hex()}",
        ),
    ],
    ids=["lobby", "lobby-message-from-joiner", "lobby-message-to-owner", "join-by-nameplate",
         "join-by-id", "hello"],
)  # fmt: skip
def test_v3_frames_known_bytes(payload: Payload, hex_frame: str) -> None:
    encoded = bytes.fromhex(hex_frame)
    assert encode_frame(payload) == encoded
    assert decode_frame(encoded) == payload


def test_join_by_nameplate_defaults_to_empty_key_and_proof() -> None:
    assert Join(b"", NAMEPLATE) == Join(
        session_id=b"", nameplate=NAMEPLATE, join_key=b"", proof=b""
    )


@pytest.mark.parametrize(
    ("cls", "names"),
    [
        (Hello, ["address", "display_name", "x25519_public", "ed25519_public", "relay_url",
                 "signature"]),
        (RegisterKey, ["address", "display_name", "x25519_public", "ed25519_public", "relay_url",
                       "signed_at", "signature"]),
        (LookupResponse, ["address", "found", "online", "display_name", "x25519_public",
                          "ed25519_public", "relay_url", "signed_at", "signature"]),
        (Join, ["session_id", "nameplate", "join_key", "proof"]),
        (Lobby, ["nameplate"]),
        (LobbyMessage, ["nameplate", "peer", "body"]),
    ],
    ids=lambda v: v.__name__ if isinstance(v, type) else "",
)  # fmt: skip
def test_v3_field_order(cls: type[Payload], names: list[str]) -> None:
    assert [name for name, _ in cls.FIELDS] == names


def register_key(**changes: Any) -> RegisterKey:
    fields: dict[str, Any] = {
        "address": ID_A,
        "display_name": "Swift Falcon #7A3F",
        "x25519_public": KEY,
        "ed25519_public": KEY,
        "relay_url": RELAY_URL,
        "signed_at": 1_767_225_600_000,
        "signature": SIG,
    }
    fields.update(changes)
    return RegisterKey(**fields)


def lookup_response(**changes: Any) -> LookupResponse:
    fields: dict[str, Any] = {
        "address": ID_A,
        "found": True,
        "online": True,
        "display_name": "Swift Falcon #7A3F",
        "x25519_public": KEY,
        "ed25519_public": KEY,
        "relay_url": RELAY_URL,
        "signed_at": 1_767_225_600_000,
        "signature": SIG,
    }
    fields.update(changes)
    return LookupResponse(**fields)


LONGEST_URL = "wss://" + "r" * 246 + ":443"


@pytest.mark.parametrize(
    "payload",
    [
        hello(relay_url=LONGEST_URL),
        hello(relay_url=""),
        register_key(relay_url=LONGEST_URL),
        lookup_response(relay_url=LONGEST_URL),
        lookup_response(found=False, online=False, display_name="", x25519_public=b"",
                        ed25519_public=b"", relay_url="", signed_at=0, signature=b""),
        Join(ID_S, NAMEPLATE, KEY, SIG),
        LobbyMessage("", b"", b""),
        LobbyMessage(NAMEPLATE, ID_A, bytes(MAX_BLOB_BYTES)),
    ],
    ids=["hello-longest-url", "hello-empty-url", "register-longest-url",
         "lookup-longest-url", "lookup-not-found", "join-full", "lobby-message-empty",
         "lobby-message-largest"],
)  # fmt: skip
def test_v3_boundary_values_round_trip(payload: Payload) -> None:
    assert len(LONGEST_URL) == 256
    encoded = encode_frame(payload)
    assert len(encoded) - HEADER_SIZE <= MAX_PAYLOAD_BYTES
    assert decode_frame(encoded) == payload


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (hello(relay_url=LONGEST_URL + "x"), "Hello.relay_url must be at most 256 characters"),
        (hello(relay_url="ws://a:1\n"), "Hello.relay_url must not contain control"),
        (hello(relay_url=b"ws://a:1"), "Hello.relay_url must be a string"),
        (register_key(relay_url=LONGEST_URL + "x"), "RegisterKey.relay_url must be at most 256"),
        (lookup_response(relay_url=LONGEST_URL + "x"), "LookupResponse.relay_url must be at most"),
        (Join(ID_S, "", KEY[:31], SIG), "Join.join_key must be 0 or 32 bytes long, not 31"),
        (Join(ID_S, "", KEY + b"\x00", SIG), "Join.join_key must be 0 or 32 bytes long, not 33"),
        (Join(ID_S, "", KEY, SIG[:32]), "Join.proof must be 0 or 64 bytes long, not 32"),
        (Join(ID_S, "", KEY, SIG + b"\x00"), "Join.proof must be 0 or 64 bytes long, not 65"),
        (Join(ID_S, "", KEY.hex(), SIG), "Join.join_key must be a binary string"),  # type: ignore[arg-type]  # wrong on purpose
        (Lobby("R1F3R1F3X"), "Lobby.nameplate must be at most 8 characters"),
        (Lobby(b"R1F3"), "Lobby.nameplate must be a string"),  # type: ignore[arg-type]  # wrong on purpose
        (LobbyMessage("R1F3R1F3X", b"", b""), "LobbyMessage.nameplate must be at most 8"),
        (LobbyMessage(NAMEPLATE, ID_A[:15], b""), "LobbyMessage.peer must be 0 or 16 bytes long"),
        (LobbyMessage(NAMEPLATE, b"", bytes(MAX_BLOB_BYTES + 1)),
         f"LobbyMessage.body must be at most {MAX_BLOB_BYTES} bytes"),
    ],
)  # fmt: skip
def test_encode_refuses_bad_v3_fields(payload: Payload, message: str) -> None:
    with pytest.raises(LocalProtocolError, match=message):
        encode_frame(payload)


@pytest.mark.parametrize(
    ("type_code", "items", "message"),
    [
        (0x30, [ID_S, "", KEY[:31], SIG], "Join field 'join_key' must be 0 or 32 bytes long"),
        (0x30, [ID_S, "", KEY, SIG[:63]], "Join field 'proof' must be 0 or 64 bytes long"),
        (0x30, [ID_S, ""], "Join payload must be an array of 4 fields"),  # a version 2 Join
        (0x36, ["R1F3R1F3X"], "Lobby field 'nameplate' must be at most 8"),
        (0x36, [], "Lobby payload must be an array of 1 fields"),
        (0x42, [NAMEPLATE, ID_A[:8], b""], "LobbyMessage field 'peer' must be 0 or 16 bytes"),
        (0x42, [NAMEPLATE, b"", "text"], "LobbyMessage field 'body' must be a binary string"),
        (0x01, [ID_A, "x", KEY, KEY, SIG], "Hello payload must be an array of 6"),  # version 2
        (0x01, [ID_A, "x", KEY, KEY, "u" * 257, SIG], "Hello field 'relay_url' must be at most"),
        (0x01, [ID_A, "x", KEY, KEY, b"ws://a:1", SIG], "Hello field 'relay_url' must be a str"),
        (0x50, [ID_A, "x", KEY, KEY, 1, SIG], "RegisterKey payload must be an array of 7"),
        (0x52, [ID_A, False, False, "", b"", b"", 0, b""],
         "LookupResponse payload must be an array of 9"),
    ],
)  # fmt: skip
def test_decode_refuses_bad_v3_fields(type_code: int, items: Any, message: str) -> None:
    with pytest.raises(MalformedFrameError, match=message) as info:
        decode_frame(packed(type_code, items))
    assert error_code_for(info.value) is ErrorCode.MALFORMED


def test_a_lobby_message_body_at_the_blob_limit_decodes() -> None:
    body = b"\x93" + bytes.fromhex(NAMEPLATE_HEX) + b"\xc4\x00"
    body += b"\xc6" + MAX_BLOB_BYTES.to_bytes(4, "big") + bytes(MAX_BLOB_BYTES)
    assert decode_frame(frame(0x42, body)) == LobbyMessage(NAMEPLATE, b"", bytes(MAX_BLOB_BYTES))
    over = b"\x93" + bytes.fromhex(NAMEPLATE_HEX) + b"\xc4\x00"
    over += b"\xc6" + (MAX_BLOB_BYTES + 1).to_bytes(4, "big") + bytes(MAX_BLOB_BYTES + 1)
    with pytest.raises(MalformedFrameError, match="field 'body' must be at most"):
        decode_frame(frame(0x42, over))
