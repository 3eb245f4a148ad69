from __future__ import annotations

import hashlib
import re

from hypothesis import given
from hypothesis import strategies as st

from quicko.identity.names import (
    ADJECTIVES,
    ANIMALS,
    DISPLAY_NAME_LABEL,
    MAX_CLAIM_CHARS,
    claimed_name,
    display_name,
    shown_name,
)

NAME = re.compile(r"^[A-Z][a-z]+ [A-Z][a-z]+ #[0-9A-F]{4}$")


def test_lists_have_256_unique_capitalised_words() -> None:
    for words in (ADJECTIVES, ANIMALS):
        assert len(words) == 256
        assert len(set(words)) == 256
        assert all(word.isascii() and word.isalpha() and word.istitle() for word in words)


def test_no_word_is_both_an_adjective_and_an_animal() -> None:
    assert not set(ADJECTIVES) & set(ANIMALS)


def test_label() -> None:
    assert DISPLAY_NAME_LABEL == b"quicko2/v2/display-name"


def test_display_name_known_answer() -> None:
    address = bytes(16)
    data = b"".join(len(part).to_bytes(4, "big") + part for part in (DISPLAY_NAME_LABEL, address))
    h = hashlib.sha256(data).digest()
    expected = f"{ADJECTIVES[h[0]]} {ANIMALS[h[1]]} #{h[2:4].hex().upper()}"
    assert display_name(address) == expected


@given(st.binary(min_size=16, max_size=16))
def test_display_name_is_deterministic_and_well_formed(address: bytes) -> None:
    name = display_name(address)
    assert name == display_name(bytes(address))
    assert NAME.match(name)


def test_different_addresses_usually_have_different_names() -> None:
    names = {display_name(i.to_bytes(16, "big")) for i in range(200)}
    assert len(names) == 200


def test_shown_name_is_the_derived_name_whatever_the_claim() -> None:
    address = bytes(range(16))
    derived = display_name(address)
    assert shown_name(address) == derived
    assert shown_name(address, derived) == derived  # an honest claim adds nothing
    assert shown_name(address, "Alice") == f'{derived} (claims "Alice")'
    assert shown_name(address, "Alice").startswith(derived)


def test_claimed_name_cannot_break_out_of_its_label() -> None:
    address = bytes(16)
    assert claimed_name(address, "") is None
    assert claimed_name(address, " \n\t ") is None
    assert claimed_name(address, display_name(address)) is None
    assert claimed_name(address, 'Bob") verified ✓') == "Bob') verified ✓"
    assert claimed_name(address, "Al\u202eice\nline\u200b2") == "Al ice line 2"
    long = claimed_name(address, "x" * 64)
    assert long is not None and len(long) == MAX_CLAIM_CHARS and long.endswith("…")


@given(st.binary(min_size=16, max_size=16), st.text(max_size=80))
def test_shown_name_always_starts_with_the_derived_name(address: bytes, claim: str) -> None:
    shown = shown_name(address, claim)
    assert shown.startswith(display_name(address))
    assert "\n" not in shown
    claimed = claimed_name(address, claim)
    assert claimed is None or (len(claimed) <= MAX_CLAIM_CHARS and '"' not in claimed)
