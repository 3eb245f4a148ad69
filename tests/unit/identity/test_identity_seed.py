from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quicko.errors import InputError, SeedPhraseError
from quicko.identity.seed import (
    CHECKSUM_MESSAGE,
    ENTROPY_BYTES,
    ROOT_SECRET_BYTES,
    SEED_CHECKSUM_LABEL,
    SEED_PHRASE_WORDS,
    RootSecret,
    has_valid_checksum,
    normalize_seed_phrase,
    parse_seed_phrase,
    seed_checksum,
    seed_phrase_words,
    seed_word,
    seed_word_suggestions,
)
from quicko.identity.wordlist import WORDS

# 0x00 … 0x0e and their checksum 0xae (docs/protocol.md §6.2).
ROOT = bytes([*range(15), 0xAE])
PHRASE = [*(WORDS[i] for i in range(15)), "puppy"]


def phrase_with(position: int, word: str) -> str:
    words = list(PHRASE)
    words[position - 1] = word
    return " ".join(words)


# -- RootSecret


def test_root_secret_holds_a_copy_in_a_bytearray() -> None:
    data = bytearray(ROOT)
    root = RootSecret(data)
    data[0] = 99
    assert root.to_bytes() == ROOT
    assert isinstance(root._buffer, bytearray)


@pytest.mark.parametrize("size", [0, 15, 17, 32])
def test_root_secret_rejects_wrong_length(size: int) -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        RootSecret(bytes(size))


def test_generate_keeps_15_random_bytes_and_sets_their_checksum() -> None:
    calls: list[int] = []

    def rng(n: int) -> bytes:
        calls.append(n)
        return bytes(range(n))

    root = RootSecret.generate(rng)
    assert root.to_bytes() == ROOT and root.has_valid_checksum
    assert calls == [ROOT_SECRET_BYTES]  # the 16th byte drawn is replaced: 120 random bits
    assert ENTROPY_BYTES == 15


# -- checksum (docs/protocol.md §6.2)


def test_checksum_known_answer() -> None:
    assert SEED_CHECKSUM_LABEL == b"quicko2/v2/seed-checksum"
    body = bytes(range(15))
    expected = hashlib.sha256(
        len(SEED_CHECKSUM_LABEL).to_bytes(4, "big") + SEED_CHECKSUM_LABEL
        + len(body).to_bytes(4, "big") + body
    ).digest()[0]  # fmt: skip
    assert seed_checksum(body) == expected == 0xAE
    assert has_valid_checksum(ROOT) and not has_valid_checksum(bytes(range(16)))
    with pytest.raises(ValueError, match="15 bytes"):
        seed_checksum(ROOT)
    with pytest.raises(ValueError, match="16 bytes"):
        has_valid_checksum(ROOT[:15])


def test_a_wrong_last_word_is_always_refused() -> None:
    for index in range(256):
        if index != ROOT[15]:
            with pytest.raises(SeedPhraseError) as info:
                parse_seed_phrase(phrase_with(16, WORDS[index]))
            assert str(info.value) == CHECKSUM_MESSAGE and info.value.position is None


def test_swapped_words_are_refused() -> None:
    # Issue 12, item 6: two swapped words silently recovered another identity.
    refused = 0
    for first in range(16):
        for second in range(first + 1, 16):
            words = list(PHRASE)
            words[first], words[second] = words[second], words[first]
            try:
                parse_seed_phrase(" ".join(words))
            except SeedPhraseError as exc:
                assert str(exc) == CHECKSUM_MESSAGE
                refused += 1
    assert refused == 120  # every one of the 120 swaps of this phrase


def test_repeated_words_are_fine() -> None:
    body = bytes([7] * 15)
    root = body + bytes([seed_checksum(body)])
    assert parse_seed_phrase(" ".join(seed_phrase_words(root))).to_bytes() == root


def test_one_word_is_checked_as_typed() -> None:
    assert seed_word("puppy") == "puppy"
    assert seed_word(" PUPP ") == "puppy"
    assert seed_word("pup") is None and seed_word("puppx") is None
    assert seed_word_suggestions("pupy")[0] == "puppy"
    assert seed_word_suggestions("QQQQQQQ") == ()


def test_wipe_zeroes_the_buffer_and_disables_the_secret() -> None:
    root = RootSecret(ROOT)
    buffer = root._buffer
    states = [root.wiped]
    root.wipe()
    states.append(root.wiped)
    assert states == [False, True]
    assert buffer == bytearray(16)
    for use in (root.to_bytes, root.seed_phrase, root.copy):
        with pytest.raises(ValueError, match="wiped"):
            use()


def test_repr_and_str_never_show_the_secret() -> None:
    root = RootSecret(bytes.fromhex("deadbeef" * 4))
    for text in (repr(root), str(root), f"{root}"):
        assert "dead" not in text.lower()
        assert "redacted" in text
        assert not any(word in text for word in root.seed_phrase())
    root.wipe()
    assert "wiped" in repr(root)


def test_copy_is_independent() -> None:
    root = RootSecret(ROOT)
    copy = root.copy()
    root.wipe()
    assert copy.to_bytes() == ROOT


def test_equality_is_by_value_and_roots_are_unhashable() -> None:
    assert RootSecret(ROOT) == RootSecret(ROOT)
    assert RootSecret(ROOT) != RootSecret(bytes(16))
    assert RootSecret(ROOT) != ROOT
    with pytest.raises(TypeError):
        hash(RootSecret(ROOT))


def test_from_seed_phrase() -> None:
    assert RootSecret.from_seed_phrase(" ".join(PHRASE)).to_bytes() == ROOT


# -- encoding


def test_seed_phrase_words_known_answer() -> None:
    assert seed_phrase_words(ROOT) == PHRASE
    assert seed_phrase_words(bytes([255] * 16)) == ["yellow"] * 16  # any root has words
    assert RootSecret(ROOT).seed_phrase() == PHRASE


def test_seed_phrase_words_rejects_wrong_length() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        seed_phrase_words(bytes(15))


def with_checksum(body: bytes) -> bytes:
    return body + bytes([seed_checksum(body)])


@given(st.binary(min_size=15, max_size=15).map(with_checksum))
def test_round_trip_root_words_root(root: bytes) -> None:
    words = seed_phrase_words(root)
    assert len(words) == SEED_PHRASE_WORDS
    assert parse_seed_phrase(" ".join(words)).to_bytes() == root


@given(
    st.binary(min_size=15, max_size=15).map(with_checksum),
    st.sampled_from([" ", "\n", ", ", "\t", " ,  "]),
)
def test_round_trip_with_prefixes_case_and_separators(root: bytes, separator: str) -> None:
    words = [
        word[:4].upper() if i % 2 else word.title()
        for i, word in enumerate(seed_phrase_words(root))
    ]
    assert parse_seed_phrase(separator.join(words)).to_bytes() == root


# -- parsing leniency


@pytest.mark.parametrize(
    "text",
    [
        " ".join(PHRASE),
        "  " + " ".join(PHRASE).upper() + "\n",
        ",".join(PHRASE),
        "\n".join(PHRASE),
        "\t, ".join(PHRASE),
        " ".join(word[:4] for word in PHRASE),
        " ".join(word[:5] for word in PHRASE),
        " ".join(f"{i}. {word}" for i, word in enumerate(PHRASE, 1)),
        " ".join(f"{i}) {word}" for i, word in enumerate(PHRASE, 1)),
    ],
)
def test_parse_accepts_what_people_type(text: str) -> None:
    assert parse_seed_phrase(text).to_bytes() == ROOT


def test_three_letter_words_are_typed_in_full() -> None:
    short = [word for word in WORDS if len(word) == 3]
    assert short
    root = with_checksum(bytes([WORDS.index(short[0])] * 15))
    text = " ".join([*short[:1] * 15, WORDS[root[15]]])
    assert parse_seed_phrase(text).to_bytes() == root


def test_normalize_returns_full_lower_case_words() -> None:
    text = " ".join(word[:4].upper() for word in PHRASE)
    assert normalize_seed_phrase(text) == PHRASE


# -- errors


@pytest.mark.parametrize("count", [0, 1, 15, 17, 32])
def test_wrong_count(count: int) -> None:
    text = " ".join((PHRASE * 2)[:count])
    with pytest.raises(SeedPhraseError) as info:
        parse_seed_phrase(text)
    assert str(info.value) == f"expected 16 words, got {count}"
    assert info.value.position is None
    assert info.value.suggestions == ()
    assert isinstance(info.value, InputError)


def test_unknown_word_names_its_position_and_suggests_words() -> None:
    with pytest.raises(SeedPhraseError) as info:
        parse_seed_phrase(phrase_with(5, "fxi"))
    error = info.value
    assert error.position == 5
    assert "fix" in error.suggestions
    assert 1 <= len(error.suggestions) <= 3
    assert str(error).startswith("word 5 'fxi' is not in the word list; did you mean: ")
    assert str(error).endswith("?")
    assert all(word in WORDS for word in error.suggestions)


def test_typo_message_exact() -> None:
    with pytest.raises(SeedPhraseError) as info:
        parse_seed_phrase(phrase_with(16, "abandn"))
    message = "word 16 'abandn' is not in the word list; did you mean: abandon, brand?"
    assert str(info.value) == message
    assert info.value.suggestions == ("abandon", "brand")


def test_first_unknown_word_is_reported() -> None:
    words = list(PHRASE)
    words[2] = "zzzz"
    words[9] = "qqqq"
    with pytest.raises(SeedPhraseError) as info:
        parse_seed_phrase(" ".join(words))
    assert info.value.position == 3


def test_word_with_no_close_match_has_no_suggestions() -> None:
    with pytest.raises(SeedPhraseError) as info:
        parse_seed_phrase(phrase_with(1, "qqqqqqq"))
    assert info.value.suggestions == ()
    assert str(info.value) == "word 1 'qqqqqqq' is not in the word list"


def test_short_prefix_is_not_accepted_but_completed() -> None:
    with pytest.raises(SeedPhraseError) as info:
        parse_seed_phrase(phrase_with(2, "aba"))
    assert info.value.position == 2
    assert info.value.suggestions[0] == "abandon"


def test_prefix_must_match_the_word_beyond_four_letters() -> None:
    with pytest.raises(SeedPhraseError) as info:
        parse_seed_phrase(phrase_with(1, "abandoned"))
    assert info.value.suggestions == ("abandon",)
    with pytest.raises(SeedPhraseError):
        parse_seed_phrase(phrase_with(1, "abanx"))


def test_unprintable_and_long_words_are_shown_safely() -> None:
    with pytest.raises(SeedPhraseError) as info:
        parse_seed_phrase(phrase_with(4, "ab\x1b[31mc"))
    assert "\x1b" not in str(info.value)
    assert "\\x1b" in str(info.value)
    with pytest.raises(SeedPhraseError) as info:
        parse_seed_phrase(phrase_with(4, "x" * 100))
    assert "x" * 25 not in str(info.value)
    assert "…" in str(info.value)
