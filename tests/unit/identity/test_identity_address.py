from __future__ import annotations

import hashlib

import pytest

from quicko.errors import AuthenticationError, InputError, QuickoKeyFormatError
from quicko.identity.address import (
    ADDRESS_BYTES,
    ADDRESS_LABEL,
    QUICKOKEY_EXAMPLE,
    compute_address,
    format_quickokey,
    parse_quickokey,
    verify_address,
)

X = bytes(range(32))
ED = bytes(range(32, 64))
ADDRESS = bytes.fromhex("00112233445566778899aabbccddeeff")
QK = "QK-0011-2233-4455-6677-8899-AABB-CCDD-EEFF"


def length_prefixed_sha256(*parts: bytes) -> bytes:
    data = b"".join(len(part).to_bytes(4, "big") + part for part in parts)
    return hashlib.sha256(data).digest()


def test_label() -> None:
    assert ADDRESS_LABEL == b"quicko2/v2/address"


def test_compute_address_is_truncated_domain_separated_sha256() -> None:
    expected = length_prefixed_sha256(b"quicko2/v2/address", X, ED)[:16]
    assert compute_address(X, ED) == expected
    assert len(compute_address(X, ED)) == ADDRESS_BYTES


def test_compute_address_depends_on_both_keys_and_their_order() -> None:
    addresses = {compute_address(X, ED), compute_address(ED, X), compute_address(X, X)}
    assert len(addresses) == 3


@pytest.mark.parametrize(("x", "ed"), [(X[:31], ED), (X, ED + b"\0"), (b"", b"")])
def test_compute_address_rejects_wrong_key_length(x: bytes, ed: bytes) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        compute_address(x, ed)


def test_verify_address_accepts_matching_keys() -> None:
    verify_address(compute_address(X, ED), X, ED)


@pytest.mark.parametrize(
    ("address", "x", "ed"),
    [
        (ADDRESS, X, ED),
        (compute_address(X, ED), ED, X),
        (compute_address(X, ED)[:15], X, ED),
        (compute_address(X, ED) + b"\0", X, ED),
        (compute_address(X, ED), X[:31], ED),
        (compute_address(X, ED), X, ED[:31]),
    ],
)
def test_verify_address_raises_on_mismatch(address: bytes, x: bytes, ed: bytes) -> None:
    with pytest.raises(AuthenticationError, match=r"^authentication failed$"):
        verify_address(address, x, ed)


def test_format_quickokey() -> None:
    assert format_quickokey(ADDRESS) == QK
    assert format_quickokey(bytes(16)) == "QK-" + "-".join(["0000"] * 8)


@pytest.mark.parametrize("size", [0, 15, 17])
def test_format_quickokey_rejects_wrong_length(size: int) -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        format_quickokey(bytes(size))


@pytest.mark.parametrize(
    "text",
    [
        QK,
        QK.lower(),
        f"  {QK}\n",
        QK.replace("-", ""),
        "QK" + QK[3:],
        QK[3:],
        QK[3:].replace("-", "").lower(),
        "qk-" + QK[3:].replace("-", ""),
        "Qk-" + QK[3:],
        QK.replace("-", " "),  # typed with spaces, like an invite code
        "qk " + QK[3:].replace("-", " ").lower(),
        QK.replace("-", "\u2013"),  # en dashes from a word processor
        QK.replace("-", "\u2212"),  # minus signs
        QK.replace("-", " - "),
        "QK\u00a0" + QK[3:],  # a no-break space after the prefix
    ],
)
def test_parse_quickokey_is_lenient(text: str) -> None:
    assert parse_quickokey(text) == ADDRESS


def test_parse_round_trips_format() -> None:
    assert parse_quickokey(format_quickokey(ADDRESS)) == ADDRESS
    assert parse_quickokey(QUICKOKEY_EXAMPLE) == bytes.fromhex(
        QUICKOKEY_EXAMPLE[3:].replace("-", "")
    )


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "expected 32 hexadecimal digits, got 0"),
        ("QK-", "expected 32 hexadecimal digits, got 0"),
        (QK[:-1], "expected 32 hexadecimal digits, got 31"),
        (QK + "0", "expected 32 hexadecimal digits, got 33"),
        (
            QK[:-1] + "G",
            "character 42 'G' is not a hexadecimal digit",
        ),
        (QK[3:-1] + "Z", "character 39 'Z' is not a hexadecimal digit"),
        ("QK 0011 2233 4455 6677", "expected 32 hexadecimal digits, got 16"),
        ("QK-0011_2233", "character 8 '_' is not a hexadecimal digit"),
        ("QK-0011\x00", "character 8 '\\x00' is not a hexadecimal digit"),
        (
            "KQ" + QK[2:],
            "character 1 'K' is not a hexadecimal digit",
        ),
    ],
)
def test_parse_quickokey_errors_say_what_is_wrong(text: str, problem: str) -> None:
    with pytest.raises(QuickoKeyFormatError) as info:
        parse_quickokey(text)
    message = str(info.value)
    assert message.startswith(f"not a QuickoKey: {problem}")
    assert message.endswith(f"a QuickoKey looks like {QUICKOKEY_EXAMPLE}")
    assert isinstance(info.value, InputError)
