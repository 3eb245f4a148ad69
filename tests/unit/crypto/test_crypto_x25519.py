"""Tests of quicko.crypto.x25519: RFC 7748 and Wycheproof vectors, low-order keys, repr."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from quicko.crypto.x25519 import (
    PRIVATE_KEY_SIZE,
    PUBLIC_KEY_SIZE,
    X25519KeyPair,
    _check_shared,
    x25519,
)
from quicko.errors import InvalidKeyError

VECTORS = Path(__file__).resolve().parents[2] / "vectors"
RFC7748: dict[str, Any] = json.loads((VECTORS / "rfc" / "rfc7748_x25519.json").read_text())


def _wycheproof_cases() -> list[dict[str, Any]]:
    data = json.loads((VECTORS / "wycheproof" / "x25519_test.json").read_text())
    return [
        {**test, "flags": tuple(test["flags"])}
        for group in data["testGroups"]
        if group["type"] == "XdhComp" and group["curve"] == "curve25519"
        for test in group["tests"]
    ]


WYCHEPROOF = _wycheproof_cases()
WYCHEPROOF_ZERO = [t for t in WYCHEPROOF if "ZeroSharedSecret" in t["flags"]]
WYCHEPROOF_NONZERO = [t for t in WYCHEPROOF if "ZeroSharedSecret" not in t["flags"]]

# The filters must select what the snapshot holds (tests/vectors/README.md): all 518 cases,
# of which 31 are low-order public keys that give an all-zero shared secret.
assert len(WYCHEPROOF) == 518
assert len(WYCHEPROOF_ZERO) == 31
assert len(WYCHEPROOF_NONZERO) == 487


def _ids(case: dict[str, Any]) -> str:
    return f"tc{case['tcId']}-{case['result']}"


@pytest.mark.parametrize("case", WYCHEPROOF_NONZERO, ids=_ids)
def test_wycheproof_shared_secret(case: dict[str, Any]) -> None:
    # Every non-zero case is "valid" or "acceptable" (twist points, non-canonical or special
    # public keys): RFC 7748 says to compute them, so we must give the expected secret.
    assert case["result"] in {"valid", "acceptable"}
    private, public = bytes.fromhex(case["private"]), bytes.fromhex(case["public"])
    expected = bytes.fromhex(case["shared"])
    assert expected != bytes(32)
    assert x25519(private, public) == expected
    assert X25519KeyPair.from_private_bytes(private).exchange(public) == expected


@pytest.mark.parametrize("case", WYCHEPROOF_ZERO, ids=_ids)
def test_wycheproof_low_order_rejected(case: dict[str, Any]) -> None:
    # "acceptable" for Wycheproof, but DESIGN.md §4.4 rejects all-zero secrets as invalid keys.
    assert case["result"] == "acceptable"
    assert "LowOrderPublic" in case["flags"]
    assert bytes.fromhex(case["shared"]) == bytes(32)
    private, public = bytes.fromhex(case["private"]), bytes.fromhex(case["public"])
    with pytest.raises(InvalidKeyError):
        x25519(private, public)
    with pytest.raises(InvalidKeyError):
        X25519KeyPair.from_private_bytes(private).exchange(public)


@pytest.mark.parametrize("case", RFC7748["scalarMult"]["tests"], ids=["vector1", "vector2"])
def test_rfc7748_section_5_2(case: dict[str, str]) -> None:
    scalar, u = bytes.fromhex(case["scalar"]), bytes.fromhex(case["u"])
    assert x25519(scalar, u) == bytes.fromhex(case["output"])


def _iterate(rounds: int) -> bytes:
    # RFC 7748 §5.2: k = u = 9; each round k, u = X25519(k, u), k.
    k = u = bytes.fromhex(RFC7748["iterated"]["start"])
    for _ in range(rounds):
        k, u = x25519(k, u), k
    return k


@pytest.mark.parametrize("rounds", [1, 1000])
def test_rfc7748_section_5_2_iterated(rounds: int) -> None:
    assert _iterate(rounds) == bytes.fromhex(RFC7748["iterated"]["after"][str(rounds)])


@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get("QUICKO_SLOW") != "1", reason="one million X25519 rounds; set QUICKO_SLOW=1"
)
@pytest.mark.timeout(600)
def test_rfc7748_section_5_2_iterated_one_million() -> None:
    expected = bytes.fromhex(RFC7748["iterated"]["after"]["1000000"])
    assert _iterate(1_000_000) == expected


def test_rfc7748_section_6_1_diffie_hellman() -> None:
    dh = RFC7748["diffieHellman"]
    alice = X25519KeyPair.from_private_bytes(bytes.fromhex(dh["alicePrivate"]))
    bob = X25519KeyPair.from_private_bytes(bytes.fromhex(dh["bobPrivate"]))
    assert alice.public == bytes.fromhex(dh["alicePublic"])
    assert bob.public == bytes.fromhex(dh["bobPublic"])
    shared = bytes.fromhex(dh["shared"])
    assert alice.exchange(bob.public) == shared
    assert bob.exchange(alice.public) == shared


def test_generate_uses_rng_and_agrees() -> None:
    requests: list[int] = []

    def rng(n: int) -> bytes:
        requests.append(n)
        return bytes([len(requests)]) * n

    alice, bob = X25519KeyPair.generate(rng), X25519KeyPair.generate(rng)
    assert requests == [PRIVATE_KEY_SIZE, PRIVATE_KEY_SIZE]
    assert len(alice.public) == PUBLIC_KEY_SIZE
    assert alice.public == X25519KeyPair.from_private_bytes(bytes([1]) * 32).public
    assert alice.exchange(bob.public) == bob.exchange(alice.public)


def test_generate_rejects_short_rng() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        X25519KeyPair.generate(lambda n: bytes(n - 1))


@pytest.mark.parametrize("size", [0, 31, 33])
def test_wrong_private_key_size_is_local_misuse(size: int) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        X25519KeyPair.from_private_bytes(bytes(size))
    with pytest.raises(ValueError, match="32 bytes"):
        x25519(bytes(size), bytes(32))


@pytest.mark.parametrize("size", [0, 31, 33, 64])
def test_wrong_public_key_size_is_invalid_key(size: int) -> None:
    pair = X25519KeyPair.from_private_bytes(bytes(range(32)))
    with pytest.raises(InvalidKeyError):
        pair.exchange(bytes(size))
    with pytest.raises(InvalidKeyError):
        x25519(bytes(range(32)), bytes(size))


def test_all_zero_public_key_is_invalid_key() -> None:
    with pytest.raises(InvalidKeyError):
        X25519KeyPair.from_private_bytes(bytes(range(32))).exchange(bytes(32))


def test_check_shared_rejects_all_zero() -> None:
    # Our own guard, behind pyca/cryptography's: it must hold even if the library changes.
    with pytest.raises(InvalidKeyError):
        _check_shared(bytes(32))
    assert _check_shared(b"\x01" * 32) == b"\x01" * 32


def test_repr_shows_no_private_key() -> None:
    private = bytes.fromhex(RFC7748["diffieHellman"]["alicePrivate"])
    pair = X25519KeyPair.from_private_bytes(private)
    for text in (repr(pair), str(pair)):
        assert private.hex() not in text
        assert private.hex()[:8] not in text
        assert text == f"X25519KeyPair(public={pair.public[:4].hex()}...)"


def test_invalid_key_error_does_not_echo_key() -> None:
    private = bytes.fromhex(RFC7748["diffieHellman"]["alicePrivate"])
    with pytest.raises(InvalidKeyError) as info:
        x25519(private, bytes(32))
    assert private.hex() not in str(info.value)
