"""Tests of quicko.crypto.mlkem: Wycheproof ML-KEM-768 vectors through our wrapper, round trips,
implicit rejection, input checks, repr."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from quicko.crypto import MLKEMKeyPair, mlkem
from quicko.errors import AuthenticationError, InvalidKeyError

VECTORS = Path(__file__).resolve().parents[2] / "vectors" / "wycheproof"


def _cases(name: str) -> list[dict[str, Any]]:
    data = json.loads((VECTORS / name).read_text())
    assert data["algorithm"] == "ML-KEM"
    return [
        test
        for group in data["testGroups"]
        if group["parameterSet"] == "ML-KEM-768"
        for test in group["tests"]
    ]


DECAPS = _cases("mlkem_768_test.json")
DECAPS_VALID = [t for t in DECAPS if t["result"] == "valid"]
BAD_SEED = [t for t in DECAPS if t["result"] == "invalid" and len(t["seed"]) != 128]
BAD_CIPHERTEXT = [t for t in DECAPS if t["result"] == "invalid" and len(t["seed"]) == 128]
ENCAPS = _cases("mlkem_768_encaps_test.json")
ENCAPS_VALID = [t for t in ENCAPS if t["result"] == "valid"]
ENCAPS_INVALID = [t for t in ENCAPS if t["result"] == "invalid"]

# The filters must select what the snapshot holds (tests/vectors/README.md).
assert (len(DECAPS), len(DECAPS_VALID), len(BAD_SEED), len(BAD_CIPHERTEXT)) == (193, 153, 20, 20)
assert (len(ENCAPS), len(ENCAPS_VALID), len(ENCAPS_INVALID)) == (265, 133, 132)
assert sum("ModulusOverflow" in t["flags"] for t in ENCAPS_INVALID) == 12
assert sum(t.get("comment") == "Public key not reduced" for t in ENCAPS_INVALID) == 100


def _ids(case: dict[str, Any]) -> str:
    return f"tc{case['tcId']}-{case['result']}"


@pytest.mark.parametrize("case", DECAPS_VALID, ids=_ids)
def test_wycheproof_keygen_and_decapsulation(case: dict[str, Any]) -> None:
    """The seed gives the expected encapsulation key, and c decapsulates to K (including the
    implicit-rejection cases, whose K is the pseudo-random rejection secret)."""
    pair = MLKEMKeyPair.from_seed(bytes.fromhex(case["seed"]))
    assert pair.public == bytes.fromhex(case["ek"])
    assert pair.decapsulate(bytes.fromhex(case["c"])) == bytes.fromhex(case["K"])


@pytest.mark.parametrize("case", BAD_SEED, ids=_ids)
def test_wycheproof_bad_seed_is_local_misuse(case: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="64 bytes"):
        MLKEMKeyPair.from_seed(bytes.fromhex(case["seed"]))


@pytest.mark.parametrize("case", BAD_CIPHERTEXT, ids=_ids)
def test_wycheproof_bad_ciphertext_size_fails_authentication(case: dict[str, Any]) -> None:
    pair = MLKEMKeyPair.from_seed(bytes.fromhex(case["seed"]))
    with pytest.raises(AuthenticationError):
        pair.decapsulate(bytes.fromhex(case["c"]))


@pytest.mark.parametrize("case", ENCAPS_VALID, ids=_ids)
def test_wycheproof_valid_encapsulation_keys_are_accepted(case: dict[str, Any]) -> None:
    # pyca draws the encapsulation randomness itself, so (c, K) cannot be compared; the key
    # must be accepted and give a ciphertext and secret of the right sizes.
    public = bytes.fromhex(case["ek"])
    mlkem.check_public_key(public)
    secret, ciphertext = mlkem.encapsulate(public)
    assert (len(secret), len(ciphertext)) == (32, 1088)


@pytest.mark.parametrize("case", ENCAPS_INVALID, ids=_ids)
def test_wycheproof_invalid_encapsulation_keys_are_refused(case: dict[str, Any]) -> None:
    """Unreduced coefficients (FIPS 203 §7.2 modulus check) and wrong sizes."""
    public = bytes.fromhex(case["ek"])
    with pytest.raises(InvalidKeyError):
        mlkem.check_public_key(public)
    with pytest.raises(InvalidKeyError):
        mlkem.encapsulate(public)


def test_round_trip_and_sizes() -> None:
    pair = MLKEMKeyPair.generate(lambda n: hashlib.sha256(b"kem").digest() * (n // 32))
    assert (mlkem.PUBLIC_KEY_SIZE, mlkem.CIPHERTEXT_SIZE, mlkem.SHARED_SECRET_SIZE) == (
        1184,
        1088,
        32,
    )
    assert len(pair.public) == mlkem.PUBLIC_KEY_SIZE
    secret, ciphertext = mlkem.encapsulate(pair.public)
    assert pair.decapsulate(ciphertext) == secret
    # Fresh randomness every time: another ciphertext, another secret.
    secret2, ciphertext2 = mlkem.encapsulate(pair.public)
    assert (secret2, ciphertext2) != (secret, ciphertext)
    assert pair.decapsulate(ciphertext2) == secret2


def test_generate_uses_the_injected_randomness() -> None:
    seed = bytes(range(64))
    calls: list[int] = []

    def rng(n: int) -> bytes:
        calls.append(n)
        return seed[:n]

    assert MLKEMKeyPair.generate(rng).public == MLKEMKeyPair.from_seed(seed).public
    assert calls == [64]


def test_tampered_ciphertext_gives_another_secret() -> None:
    """Implicit rejection: no error, but a secret unrelated to the real one."""
    pair = MLKEMKeyPair.from_seed(bytes(64))
    secret, ciphertext = mlkem.encapsulate(pair.public)
    tampered = bytes([ciphertext[0] ^ 1]) + ciphertext[1:]
    other = pair.decapsulate(tampered)
    assert len(other) == 32 and other != secret
    assert pair.decapsulate(tampered) == other  # deterministic


def test_repr_shows_no_secret() -> None:
    pair = MLKEMKeyPair.from_seed(bytes(range(64)))
    text = repr(pair)
    assert text.startswith("MLKEMKeyPair(public=")
    assert bytes(range(64)).hex()[:16] not in text
