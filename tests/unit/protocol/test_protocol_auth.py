"""The signed transcripts of Hello and RegisterKey (docs/protocol.md §4.1, §4.6)."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from quicko.protocol import hello_transcript, register_transcript
from quicko.protocol.auth import HELLO_LABEL, REGISTER_LABEL

NONCE = bytes(range(32))
ADDRESS = bytes(range(0x40, 0x50))
X_PUB = bytes(range(0x60, 0x80))
ED_PUB = bytes(range(0x80, 0xA0))

HELLO_FIELDS: dict[str, Any] = {
    "nonce": NONCE,
    "node_id": "relay-1",
    "server_time": 1_767_225_600_000,
    "address": ADDRESS,
    "display_name": "Swift Falcon #7A3F",
    "x25519_public": X_PUB,
    "ed25519_public": ED_PUB,
}
REGISTER_FIELDS: dict[str, Any] = {
    "address": ADDRESS,
    "display_name": "Swift Falcon #7A3F",
    "x25519_public": X_PUB,
    "ed25519_public": ED_PUB,
    "signed_at": 1_767_225_600_000,
}


def prefixed(part: bytes) -> bytes:
    """Written out independently of quicko.crypto.kdf.encode_fields."""
    return len(part).to_bytes(4, "big") + part


def test_labels() -> None:
    assert HELLO_LABEL == b"quicko2/v2/hello"
    assert REGISTER_LABEL == b"quicko2/v2/register"


def test_hello_transcript_known_bytes() -> None:
    expected = (
        bytes.fromhex("00000010") + b"quicko2/v2/hello"
        + bytes.fromhex("00000020") + NONCE
        + bytes.fromhex("00000007") + b"relay-1"
        + bytes.fromhex("00000008 0000019b 76daa800")
        + bytes.fromhex("00000010") + ADDRESS
        + bytes.fromhex("00000012") + b"Swift Falcon #7A3F"
        + bytes.fromhex("00000020") + X_PUB
        + bytes.fromhex("00000020") + ED_PUB
    )  # fmt: skip
    transcript = hello_transcript(**HELLO_FIELDS)
    assert transcript == expected
    assert len(transcript) == 4 * 8 + 16 + 32 + 7 + 8 + 16 + 18 + 32 + 32
    assert hashlib.sha256(transcript).hexdigest() == hashlib.sha256(expected).hexdigest()


def test_register_transcript_known_bytes() -> None:
    expected = b"".join(
        prefixed(part)
        for part in (
            b"quicko2/v2/register",
            ADDRESS,
            b"Swift Falcon #7A3F",
            X_PUB,
            ED_PUB,
            (1_767_225_600_000).to_bytes(8, "big"),
        )
    )
    assert register_transcript(**REGISTER_FIELDS) == expected
    assert expected[:4] == bytes.fromhex("00000013")


def test_strings_are_utf8() -> None:
    transcript = hello_transcript(**{**HELLO_FIELDS, "display_name": "Zoë 🦊", "node_id": "ñ"})
    assert prefixed("Zoë 🦊".encode()) in transcript
    assert prefixed(b"\xc3\xb1") in transcript


@pytest.mark.parametrize(
    ("name", "other"),
    [
        ("nonce", bytes(32)),
        ("node_id", "relay-2"),
        ("server_time", 1_767_225_600_001),
        ("address", bytes(16)),
        ("display_name", "Swift Falcon #7A3E"),
        ("x25519_public", ED_PUB),
        ("ed25519_public", X_PUB),
    ],
)
def test_every_hello_field_changes_the_transcript(name: str, other: Any) -> None:
    assert hello_transcript(**{**HELLO_FIELDS, name: other}) != hello_transcript(**HELLO_FIELDS)


@pytest.mark.parametrize(
    ("name", "other"),
    [
        ("address", bytes(16)),
        ("display_name", ""),
        ("x25519_public", ED_PUB),
        ("ed25519_public", X_PUB),
        ("signed_at", 0),
    ],
)
def test_every_register_field_changes_the_transcript(name: str, other: Any) -> None:
    changed = register_transcript(**{**REGISTER_FIELDS, name: other})
    assert changed != register_transcript(**REGISTER_FIELDS)


def test_moving_bytes_between_fields_changes_the_transcript() -> None:
    a = hello_transcript(**{**HELLO_FIELDS, "node_id": "relay-1", "display_name": "ab"})
    b = hello_transcript(**{**HELLO_FIELDS, "node_id": "relay-1a", "display_name": "b"})
    assert a != b


def test_hello_and_register_transcripts_never_collide() -> None:
    hello = hello_transcript(**HELLO_FIELDS)
    register = register_transcript(**REGISTER_FIELDS)
    assert hello != register
    assert hello[4:20] == HELLO_LABEL
    assert register[4:23] == REGISTER_LABEL


def test_times_are_eight_bytes_big_endian() -> None:
    zero = hello_transcript(**{**HELLO_FIELDS, "server_time": 0})
    top = hello_transcript(**{**HELLO_FIELDS, "server_time": 2**64 - 1})
    assert prefixed(bytes(8)) in zero
    assert prefixed(b"\xff" * 8) in top
    assert len(zero) == len(top)
