from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quicko.errors import InputError, InviteCodeError
from quicko.identity.invite import (
    CROCKFORD_ALPHABET,
    INVITE_CODE_BYTES,
    InviteCode,
    is_valid_nameplate,
    parse_invite_code,
)


def test_alphabet() -> None:
    assert len(CROCKFORD_ALPHABET) == 32
    assert len(set(CROCKFORD_ALPHABET)) == 32
    assert not set("ILOU") & set(CROCKFORD_ALPHABET)


def test_from_bytes_known_answers() -> None:
    assert str(InviteCode.from_bytes(bytes(5))) == "0000-0000"
    assert str(InviteCode.from_bytes(b"\xff" * 5)) == "ZZZZ-ZZZZ"
    # 0x0123456789 = 00000 00100 10001 10100 01010 11001 11100 01001
    assert str(InviteCode.from_bytes(bytes.fromhex("0123456789"))) == "04HM-ASW9"


def test_generate_uses_five_bytes_of_rng() -> None:
    calls: list[int] = []

    def rng(n: int) -> bytes:
        calls.append(n)
        return bytes.fromhex("0123456789")

    code = InviteCode.generate(rng)
    assert calls == [INVITE_CODE_BYTES]
    assert code == InviteCode("04HM", "ASW9")
    assert code.nameplate == "04HM"
    assert code.password == "ASW9"


@pytest.mark.parametrize("size", [0, 4, 6])
def test_from_bytes_rejects_wrong_length(size: int) -> None:
    with pytest.raises(ValueError, match="5 bytes"):
        InviteCode.from_bytes(bytes(size))


@pytest.mark.parametrize(
    ("nameplate", "password"),
    [("04H", "ASW9"), ("04HM", "ASW9X"), ("04hm", "ASW9"), ("04HM", "ASWU")],
)
def test_constructor_rejects_non_canonical_halves(nameplate: str, password: str) -> None:
    with pytest.raises(ValueError, match="4 upper-case Crockford"):
        InviteCode(nameplate, password)


def test_repr_hides_the_password_and_str_shows_the_code() -> None:
    code = InviteCode("KBQW", "E3TU".replace("U", "V"))
    assert str(code) == "KBQW-E3TV"
    assert "E3TV" not in repr(code)
    assert "KBQW" in repr(code)
    assert "redacted" in repr(code)


@given(st.binary(min_size=5, max_size=5))
def test_round_trip_bytes_code_text(data: bytes) -> None:
    code = InviteCode.from_bytes(data)
    assert code.to_bytes() == data
    assert parse_invite_code(str(code)) == code
    assert parse_invite_code(str(code).lower().replace("-", " ")) == code
    assert is_valid_nameplate(code.nameplate)


@pytest.mark.parametrize(
    "text",
    [
        "04HM-ASW9",
        "04hm-asw9",
        "  04HM-ASW9\n",
        "04HMASW9",
        "04HM ASW9",
        "04HM - ASW9",
        "04hm\tasw9",
        "O4HM-ASW9",
        "o4hm-asw9",
        "04HM\u2013ASW9",  # en dash, as a word processor or a chat app writes it
        "04HM \u2014 ASW9",  # em dash
        "04HM\u2212ASW9",  # minus sign
        "04HM\u2011ASW9",  # non-breaking hyphen
        "04HM\uff0dasw9",  # fullwidth hyphen-minus
        "04HM\u00a0ASW9",  # no-break space
    ],
)
def test_parse_is_lenient(text: str) -> None:
    assert parse_invite_code(text) == InviteCode("04HM", "ASW9")


@pytest.mark.parametrize(
    ("typed", "canonical"), [("O", "0"), ("o", "0"), ("I", "1"), ("i", "1"), ("L", "1"), ("l", "1")]
)
def test_confusables(typed: str, canonical: str) -> None:
    code = parse_invite_code(f"{typed}BCD-EFG{typed}")
    assert str(code) == f"{canonical}BCD-EFG{canonical}"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "expected 8 characters, got 0"),
        ("04HM-ASW", "expected 8 characters, got 7"),
        ("04HM-ASW99", "expected 8 characters, got 9"),
        ("04H-MASW9", "the dash goes after the fourth character"),
        ("04-HM-AS-W9", "the dash goes after the fourth character"),
        ("04HM-ASWU", "character 8 'U' is not used in invite codes"),
        ("u4HM-ASW9", "character 1 'U' is not used in invite codes"),
        ("04HM-A#W9", "character 6 '#' is not a letter or digit"),
        ("04HM_ASW9", "expected 8 characters, got 9"),
        ("04HM-ASW\x00", "character 8 '\\x00' is not a letter or digit"),
    ],
)
def test_parse_errors_name_the_problem(text: str, problem: str) -> None:
    with pytest.raises(InviteCodeError) as info:
        parse_invite_code(text)
    message = str(info.value)
    assert message.startswith(f"not an invite code: {problem}")
    assert message.endswith("an invite code looks like KBQW-E3TV")
    assert isinstance(info.value, InputError)


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("04HM", True),
        ("ZZZZ", True),
        ("04hm", False),
        ("O4HM", False),
        ("04H", False),
        ("04HMA", False),
        ("04HU", False),
        ("", False),
    ],
)
def test_is_valid_nameplate_is_strict(text: str, valid: bool) -> None:
    assert is_valid_nameplate(text) is valid
