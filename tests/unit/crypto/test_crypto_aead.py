"""Tests of quicko.crypto.aead: Wycheproof AES-GCM vectors (our parameters), misuse, tampering."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from quicko.crypto.aead import KEY_SIZE, NONCE_SIZE, TAG_SIZE, decrypt, encrypt
from quicko.errors import AuthenticationError

VECTORS = Path(__file__).resolve().parents[2] / "vectors"


def _wycheproof_cases() -> list[dict[str, Any]]:
    """AES-GCM cases with our parameters: 256-bit keys, 96-bit nonces, 128-bit tags."""
    data = json.loads((VECTORS / "wycheproof" / "aes_gcm_test.json").read_text())
    return [
        test
        for group in data["testGroups"]
        if group["keySize"] == 8 * KEY_SIZE
        and group["ivSize"] == 8 * NONCE_SIZE
        and group["tagSize"] == 8 * TAG_SIZE
        for test in group["tests"]
    ]


WYCHEPROOF = _wycheproof_cases()
WYCHEPROOF_VALID = [t for t in WYCHEPROOF if t["result"] == "valid"]
WYCHEPROOF_INVALID = [t for t in WYCHEPROOF if t["result"] == "invalid"]

# The filter must select what the snapshot holds (tests/vectors/README.md): 66 cases.
assert len(WYCHEPROOF_VALID) == 39
assert len(WYCHEPROOF_INVALID) == 27
assert len(WYCHEPROOF) == len(WYCHEPROOF_VALID) + len(WYCHEPROOF_INVALID)

KEY = bytes(range(KEY_SIZE))
NONCE = bytes(range(NONCE_SIZE))
AD = b"associated data"


def _fields(case: dict[str, Any]) -> tuple[bytes, bytes, bytes, bytes, bytes]:
    key, iv, aad = (bytes.fromhex(case[name]) for name in ("key", "iv", "aad"))
    msg, sealed = bytes.fromhex(case["msg"]), bytes.fromhex(case["ct"] + case["tag"])
    return key, iv, aad, msg, sealed


def _ids(case: dict[str, Any]) -> str:
    return f"tc{case['tcId']}"


@pytest.mark.parametrize("case", WYCHEPROOF_VALID, ids=_ids)
def test_wycheproof_valid(case: dict[str, Any]) -> None:
    key, iv, aad, msg, sealed = _fields(case)
    assert encrypt(key, iv, msg, aad) == sealed
    assert decrypt(key, iv, sealed, aad) == msg


@pytest.mark.parametrize("case", WYCHEPROOF_INVALID, ids=_ids)
def test_wycheproof_invalid(case: dict[str, Any]) -> None:
    key, iv, aad, _, sealed = _fields(case)
    with pytest.raises(AuthenticationError):
        decrypt(key, iv, sealed, aad)


def test_round_trip() -> None:
    sealed = encrypt(KEY, NONCE, b"hello", AD)
    assert len(sealed) == len(b"hello") + TAG_SIZE
    assert decrypt(KEY, NONCE, sealed, AD) == b"hello"


def test_empty_plaintext_and_associated_data() -> None:
    sealed = encrypt(KEY, NONCE, b"", b"")
    assert len(sealed) == TAG_SIZE
    assert decrypt(KEY, NONCE, sealed, b"") == b""


@pytest.mark.parametrize("size", [0, 16, 24, 31, 33])
def test_wrong_key_size_is_local_misuse(size: int) -> None:
    with pytest.raises(ValueError, match="key must be 32 bytes"):
        encrypt(bytes(size), NONCE, b"x", AD)
    with pytest.raises(ValueError, match="key must be 32 bytes"):
        decrypt(bytes(size), NONCE, bytes(TAG_SIZE), AD)


@pytest.mark.parametrize("size", [0, 8, 11, 13, 16])
def test_wrong_nonce_size_is_local_misuse(size: int) -> None:
    with pytest.raises(ValueError, match="nonce must be 12 bytes"):
        encrypt(KEY, bytes(size), b"x", AD)
    with pytest.raises(ValueError, match="nonce must be 12 bytes"):
        decrypt(KEY, bytes(size), bytes(TAG_SIZE), AD)


@pytest.mark.parametrize("size", [0, 1, TAG_SIZE - 1, TAG_SIZE, TAG_SIZE + 4])
def test_truncated_ciphertext(size: int) -> None:
    sealed = encrypt(KEY, NONCE, b"hello", AD)
    with pytest.raises(AuthenticationError):
        decrypt(KEY, NONCE, sealed[:size], AD)


def test_tampering_anywhere_fails() -> None:
    sealed = encrypt(KEY, NONCE, b"hello", AD)
    for index in range(len(sealed)):
        flipped = bytearray(sealed)
        flipped[index] ^= 0x80
        with pytest.raises(AuthenticationError):
            decrypt(KEY, NONCE, bytes(flipped), AD)


@pytest.mark.parametrize(
    ("key", "nonce", "ad"),
    [(bytes(KEY_SIZE), NONCE, AD), (KEY, bytes(NONCE_SIZE), AD), (KEY, NONCE, AD + b"!")],
    ids=["other-key", "other-nonce", "other-ad"],
)
def test_wrong_context_fails(key: bytes, nonce: bytes, ad: bytes) -> None:
    sealed = encrypt(KEY, NONCE, b"hello", AD)
    with pytest.raises(AuthenticationError) as info:
        decrypt(key, nonce, sealed, ad)
    assert str(info.value) == "authentication failed"
