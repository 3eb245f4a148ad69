from __future__ import annotations

import hashlib

from quicko.identity.wordlist import WORDS


def test_there_are_256_unique_words() -> None:
    assert len(WORDS) == 256
    assert len(set(WORDS)) == 256


def test_words_are_unique_in_their_first_four_letters() -> None:
    assert len({word[:4] for word in WORDS}) == 256


def test_words_are_lower_case_ascii_letters() -> None:
    assert all(word.isascii() and word.isalpha() and word.islower() for word in WORDS)
    assert all(3 <= len(word) <= 8 for word in WORDS)


def test_no_word_is_a_prefix_of_another() -> None:
    assert not [(a, b) for a in WORDS for b in WORDS if a != b and b.startswith(a)]


def test_list_is_pinned() -> None:
    # Every 8th word of the BIP-39 English list, in order; a changed list breaks every phrase.
    assert WORDS[:4] == ("abandon", "absurd", "acoustic", "adapt")
    assert WORDS[-1] == "yellow"
    assert list(WORDS) == sorted(WORDS)
    digest = hashlib.sha256("\n".join(WORDS).encode()).hexdigest()
    assert digest == EXPECTED_DIGEST


EXPECTED_DIGEST = "c5b2f8969104fca9dbfef700393e3466683db0db83b9e3848c9338bf89c9e3e5"
