"""Tests of quicko.crypto.ed25519: RFC 8032 known answer, round trip, tampering, lengths, repr."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from quicko.crypto.ed25519 import (
    PUBLIC_KEY_SIZE,
    SEED_SIZE,
    SIGNATURE_SIZE,
    Ed25519KeyPair,
    verify,
)
from quicko.errors import AuthenticationError

VECTORS = Path(__file__).resolve().parents[2] / "vectors"
RFC8032: list[dict[str, Any]] = json.loads((VECTORS / "rfc" / "rfc8032_ed25519.json").read_text())[
    "tests"
]
assert len(RFC8032) == 1

SEED = bytes(range(32))
MESSAGE = b"quicko2 test message"


@pytest.fixture
def pair() -> Ed25519KeyPair:
    return Ed25519KeyPair.from_seed(SEED)


@pytest.mark.parametrize("case", RFC8032, ids=["test1"])
def test_rfc8032_section_7_1(case: dict[str, str]) -> None:
    pair = Ed25519KeyPair.from_seed(bytes.fromhex(case["secretKey"]))
    message = bytes.fromhex(case["message"])
    signature = bytes.fromhex(case["signature"])
    assert pair.public == bytes.fromhex(case["publicKey"])
    assert pair.sign(message) == signature
    verify(pair.public, signature, message)


def test_round_trip(pair: Ed25519KeyPair) -> None:
    signature = pair.sign(MESSAGE)
    assert len(signature) == SIGNATURE_SIZE
    assert len(pair.public) == PUBLIC_KEY_SIZE
    verify(pair.public, signature, MESSAGE)


def test_tampered_message(pair: Ed25519KeyPair) -> None:
    signature = pair.sign(MESSAGE)
    with pytest.raises(AuthenticationError):
        verify(pair.public, signature, MESSAGE + b"!")


@pytest.mark.parametrize("index", [0, 31, 32, 63])
def test_tampered_signature(pair: Ed25519KeyPair, index: int) -> None:
    signature = bytearray(pair.sign(MESSAGE))
    signature[index] ^= 0x01
    with pytest.raises(AuthenticationError):
        verify(pair.public, bytes(signature), MESSAGE)


def test_other_key(pair: Ed25519KeyPair) -> None:
    other = Ed25519KeyPair.from_seed(bytes(32))
    with pytest.raises(AuthenticationError):
        verify(other.public, pair.sign(MESSAGE), MESSAGE)


@pytest.mark.parametrize("size", [0, 31, 33])
def test_wrong_public_key_length(pair: Ed25519KeyPair, size: int) -> None:
    with pytest.raises(AuthenticationError):
        verify(pair.public[:size].ljust(size, b"\x00"), pair.sign(MESSAGE), MESSAGE)


@pytest.mark.parametrize("size", [0, 63, 65])
def test_wrong_signature_length(pair: Ed25519KeyPair, size: int) -> None:
    signature = pair.sign(MESSAGE)
    with pytest.raises(AuthenticationError):
        verify(pair.public, signature[:size].ljust(size, b"\x00"), MESSAGE)


@pytest.mark.parametrize("public", [b"\xff" * 32, bytes(32), b"\x01" + bytes(31)])
def test_malformed_or_small_order_public_key(pair: Ed25519KeyPair, public: bytes) -> None:
    with pytest.raises(AuthenticationError):
        verify(public, pair.sign(MESSAGE), MESSAGE)


def test_authentication_error_is_opaque(pair: Ed25519KeyPair) -> None:
    with pytest.raises(AuthenticationError) as info:
        verify(pair.public, bytes(SIGNATURE_SIZE), MESSAGE)
    assert str(info.value) == "authentication failed"


def test_generate_uses_rng() -> None:
    requests: list[int] = []

    def rng(n: int) -> bytes:
        requests.append(n)
        return SEED[:n]

    generated = Ed25519KeyPair.generate(rng)
    assert requests == [SEED_SIZE]
    assert generated.public == Ed25519KeyPair.from_seed(SEED).public


@pytest.mark.parametrize("size", [0, 31, 33, 64])
def test_wrong_seed_size_is_local_misuse(size: int) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        Ed25519KeyPair.from_seed(bytes(size))
    with pytest.raises(ValueError, match="32 bytes"):
        Ed25519KeyPair.generate(lambda n: bytes(size))


def test_repr_shows_no_private_key(pair: Ed25519KeyPair) -> None:
    for text in (repr(pair), str(pair)):
        assert SEED.hex() not in text
        assert SEED.hex()[:8] not in text
        assert text == f"Ed25519KeyPair(public={pair.public[:4].hex()}...)"
