"""Tests of quicko.crypto.kdf: RFC 5869 and Wycheproof HKDF vectors, labels, field encoding."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from quicko.client.compiled import is_compiled
from quicko.crypto.kdf import (
    HKDF_MAX_LENGTH,
    LABEL_PREFIX,
    encode_fields,
    hkdf_sha256,
    hmac_sha256,
    hmac_sha256_pair,
    identity_label,
    label,
    sha256,
)

VECTORS = Path(__file__).resolve().parents[2] / "vectors"
RFC5869: list[dict[str, Any]] = json.loads(
    (VECTORS / "rfc" / "rfc5869_hkdf_sha256.json").read_text()
)["tests"]
assert len(RFC5869) == 3


def _wycheproof_cases() -> list[dict[str, Any]]:
    data = json.loads((VECTORS / "wycheproof" / "hkdf_sha256_test.json").read_text())
    assert data["algorithm"] == "HKDF-SHA-256"
    return [test for group in data["testGroups"] for test in group["tests"]]


WYCHEPROOF = _wycheproof_cases()
WYCHEPROOF_VALID = [t for t in WYCHEPROOF if t["result"] == "valid"]
WYCHEPROOF_INVALID = [t for t in WYCHEPROOF if t["result"] == "invalid"]

# The filters must select what the snapshot holds (tests/vectors/README.md): all 86 cases.
assert len(WYCHEPROOF_VALID) == 83
assert len(WYCHEPROOF_INVALID) == 3
assert len(WYCHEPROOF) == 86


def _ids(case: dict[str, Any]) -> str:
    return f"tc{case['tcId']}"


@pytest.mark.parametrize("case", RFC5869, ids=["A.1", "A.2", "A.3"])
def test_rfc5869_appendix_a(case: dict[str, Any]) -> None:
    ikm, salt, info = (bytes.fromhex(case[name]) for name in ("ikm", "salt", "info"))
    okm = hkdf_sha256(ikm, salt=salt, info=info, length=case["length"])
    assert okm == bytes.fromhex(case["okm"])
    # HKDF-Extract is HMAC-SHA256 keyed with the salt (RFC 5869 §2.2).
    assert hmac_sha256(salt, ikm) == bytes.fromhex(case["prk"])


def test_rfc5869_test_case_3_with_no_salt() -> None:
    # RFC 5869 §2.2: a missing salt is a string of HashLen zeros; A.3 uses an empty salt.
    case = RFC5869[2]
    okm = hkdf_sha256(bytes.fromhex(case["ikm"]), salt=None, info=b"", length=case["length"])
    assert okm == bytes.fromhex(case["okm"])


@pytest.mark.parametrize("case", WYCHEPROOF_VALID, ids=_ids)
def test_wycheproof_valid(case: dict[str, Any]) -> None:
    ikm, salt, info = (bytes.fromhex(case[name]) for name in ("ikm", "salt", "info"))
    okm = hkdf_sha256(ikm, salt=salt, info=info, length=case["size"])
    assert okm == bytes.fromhex(case["okm"])


@pytest.mark.parametrize("case", WYCHEPROOF_INVALID, ids=_ids)
def test_wycheproof_invalid_output_size(case: dict[str, Any]) -> None:
    assert case["flags"] == ["SizeTooLarge"]
    ikm, salt, info = (bytes.fromhex(case[name]) for name in ("ikm", "salt", "info"))
    with pytest.raises(ValueError, match="output length"):
        hkdf_sha256(ikm, salt=salt, info=info, length=case["size"])


@pytest.mark.parametrize("length", [0, -1, HKDF_MAX_LENGTH + 1])
def test_hkdf_length_out_of_range(length: int) -> None:
    with pytest.raises(ValueError, match="output length"):
        hkdf_sha256(b"ikm", salt=None, info=b"", length=length)


def test_hkdf_labels_separate_domains() -> None:
    first = hkdf_sha256(b"ikm", salt=None, info=label("a"), length=32)
    second = hkdf_sha256(b"ikm", salt=None, info=label("b"), length=32)
    assert first != second


def test_label() -> None:
    assert LABEL_PREFIX == b"quicko2/v4/"
    assert label("hello") == b"quicko2/v4/hello"


def test_identity_labels_stay_at_version_2() -> None:
    # Identities must survive protocol upgrades (docs/protocol.md §6.3).
    assert identity_label("identity/x25519") == b"quicko2/v2/identity/x25519"


@pytest.mark.parametrize("purpose", ["", "clé", "\u00a0"])
@pytest.mark.parametrize("make", [label, identity_label])
def test_label_rejects_empty_or_non_ascii(purpose: str, make: Callable[[str], bytes]) -> None:
    with pytest.raises(ValueError, match="non-empty ASCII"):
        make(purpose)


def test_hmac_sha256_rfc4231_test_case_2() -> None:
    # RFC 4231 §4.3 (Test Case 2), HMAC-SHA-256.
    expected = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    assert hmac_sha256(b"Jefe", b"what do ya want for nothing?").hex() == expected


def test_hmac_sha256_pair_is_two_hmacs_under_one_key() -> None:
    # RFC 4231 §4.3 (Test Case 2) as the first message; a second, independent one.
    first, second = hmac_sha256_pair(b"Jefe", b"what do ya want for nothing?", b"\x01")
    assert first.hex() == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    assert second == hmac.new(b"Jefe", b"\x01", hashlib.sha256).digest()
    assert hmac_sha256_pair(b"k" * 100, b"", b"x") == (
        hmac_sha256(b"k" * 100, b""),
        hmac_sha256(b"k" * 100, b"x"),
    )


def test_encode_fields() -> None:
    assert encode_fields() == b""
    assert encode_fields(b"") == b"\x00\x00\x00\x00"
    assert encode_fields(b"ab", b"c") == b"\x00\x00\x00\x02ab\x00\x00\x00\x01c"


def test_encode_fields_is_unambiguous() -> None:
    assert encode_fields(b"ab", b"c") != encode_fields(b"a", b"bc")
    assert encode_fields(b"ab") != encode_fields(b"a", b"b")
    assert encode_fields(b"", b"a") != encode_fields(b"a", b"")


class _HugeBytes(bytes):
    """Pretends to be 2**32 bytes long, to reach the length check without 4 GiB of memory."""

    def __len__(self) -> int:
        return 2**32


@pytest.mark.skipif(
    is_compiled("quicko.crypto.kdf"),
    reason="compiled (mypyc), len() of a bytes argument reads the object's own size: the "
    "stand-in cannot lie",
)
def test_encode_fields_rejects_overlong_field() -> None:
    with pytest.raises(ValueError, match="too long"):
        encode_fields(_HugeBytes(b"x"))
    with pytest.raises(ValueError, match="too long"):
        sha256(b"ok", _HugeBytes(b"x"))


def test_sha256_hashes_the_encoding() -> None:
    assert sha256(b"ab", b"c") == hashlib.sha256(encode_fields(b"ab", b"c")).digest()
    assert sha256() == hashlib.sha256(b"").digest()
    assert sha256(b"abc") != hashlib.sha256(b"abc").digest()
    assert not hmac.compare_digest(sha256(b"ab", b"c"), sha256(b"a", b"bc"))
