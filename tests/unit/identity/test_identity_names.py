from __future__ import annotations

import hashlib
import re

from hypothesis import given
from hypothesis import strategies as st

from quicko.identity.names import ADJECTIVES, ANIMALS, DISPLAY_NAME_LABEL, display_name

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
