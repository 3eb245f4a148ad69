"""The root secret and its 16-word seed phrase (DESIGN.md §4.1).

The root secret is 16 random bytes; the seed phrase writes each byte as one word of
:data:`~quicko.identity.wordlist.WORDS`, so the round trip root → words → root is lossless.

Parsing is forgiving in the ways people are: case, any whitespace and commas between words
do not matter, enumeration labels such as ``1.`` (as ``quicko keygen`` prints them) are
skipped, and a word may be typed as a prefix of four letters or more, as in BIP-39. Anything
else raises :class:`~quicko.errors.SeedPhraseError` saying what to fix.
"""

from __future__ import annotations

import difflib
import hmac
import re
from typing import Final

from quicko.crypto import RandomSource
from quicko.errors import SeedPhraseError
from quicko.identity.wordlist import WORDS

__all__ = [
    "MIN_PREFIX_LETTERS",
    "ROOT_SECRET_BYTES",
    "SEED_PHRASE_WORDS",
    "RootSecret",
    "normalize_seed_phrase",
    "parse_seed_phrase",
    "seed_phrase_words",
]

ROOT_SECRET_BYTES: Final = 16
"""Size of the root secret, in bytes (128 bits)."""

SEED_PHRASE_WORDS: Final = ROOT_SECRET_BYTES
"""Number of words in a seed phrase: one per byte of the root secret."""

MIN_PREFIX_LETTERS: Final = 4
"""Shortest prefix that may stand for a word (every word is unique in its first four letters)."""

_MAX_SUGGESTIONS: Final = 3
_MAX_SHOWN_CHARS: Final = 24
_SEPARATORS: Final = re.compile(r"[\s,]+")
_ENUMERATION_LABEL: Final = re.compile(r"\d{1,2}[.):]?")
_INDEX_OF_WORD: Final = {word: index for index, word in enumerate(WORDS)}
_INDEX_OF_PREFIX: Final = {word[:MIN_PREFIX_LETTERS]: index for index, word in enumerate(WORDS)}


class RootSecret:
    """The 16-byte root secret of an identity, in a buffer that :meth:`wipe` overwrites.

    Python cannot promise that no other copy of the bytes exists (DESIGN.md §10); this class
    keeps its own copy in a ``bytearray``, zeroes it on :meth:`wipe`, and never shows it in
    ``repr()`` or ``str()``.
    """

    __slots__ = ("_buffer", "_wiped")

    def __init__(self, data: bytes | bytearray) -> None:
        """Copy ``data`` into a new root secret.

        Args:
            data: exactly :data:`ROOT_SECRET_BYTES` bytes.

        Raises:
            ValueError: ``data`` has the wrong length.
        """
        if len(data) != ROOT_SECRET_BYTES:
            raise ValueError(f"a root secret is {ROOT_SECRET_BYTES} bytes, got {len(data)}")
        self._buffer = bytearray(data)
        self._wiped = False

    @classmethod
    def generate(cls, rng: RandomSource) -> RootSecret:
        """Return a fresh root secret of ``rng(16)`` bytes."""
        return cls(rng(ROOT_SECRET_BYTES))

    @classmethod
    def from_seed_phrase(cls, text: str) -> RootSecret:
        """Return the root secret a seed phrase encodes (see :func:`parse_seed_phrase`)."""
        return parse_seed_phrase(text)

    @property
    def wiped(self) -> bool:
        """Whether :meth:`wipe` has been called."""
        return self._wiped

    def to_bytes(self) -> bytes:
        """Return a copy of the secret bytes; keep it no longer than needed.

        Raises:
            ValueError: the secret has been wiped.
        """
        return bytes(self._checked())

    def seed_phrase(self) -> list[str]:
        """Return the 16 words that encode this secret.

        Raises:
            ValueError: the secret has been wiped.
        """
        return [WORDS[byte] for byte in self._checked()]

    def copy(self) -> RootSecret:
        """Return an independent copy, which :meth:`wipe` on either one does not affect."""
        return RootSecret(self._checked())

    def wipe(self) -> None:
        """Overwrite the secret with zeros; the object is unusable afterwards."""
        for index in range(len(self._buffer)):
            self._buffer[index] = 0
        self._wiped = True

    def _checked(self) -> bytearray:
        if self._wiped:
            raise ValueError("the root secret has been wiped")
        return self._buffer

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RootSecret):
            return NotImplemented
        return hmac.compare_digest(self._checked(), other._checked())

    __hash__ = None  # type: ignore[assignment]  # mutable (wipe), so deliberately unhashable

    def __repr__(self) -> str:
        state = "wiped" if self._wiped else "redacted"
        return f"<RootSecret ({state})>"

    __str__ = __repr__


def seed_phrase_words(root: bytes | bytearray) -> list[str]:
    """Return the 16 words that encode ``root``, one per byte.

    Args:
        root: the :data:`ROOT_SECRET_BYTES`-byte root secret.

    Raises:
        ValueError: ``root`` has the wrong length.
    """
    secret = RootSecret(root)
    try:
        return secret.seed_phrase()
    finally:
        secret.wipe()


def parse_seed_phrase(text: str) -> RootSecret:
    """Parse a seed phrase into the root secret it encodes.

    Args:
        text: 16 words as a person typed them.

    Returns:
        The root secret.

    Raises:
        SeedPhraseError: the phrase does not have 16 words (``position`` is ``None``), or a
            word is not in the list (``position`` is its 1-based position and
            ``suggestions`` the nearest valid words).
    """
    tokens = _tokens(text)
    if len(tokens) != SEED_PHRASE_WORDS:
        raise SeedPhraseError(f"expected {SEED_PHRASE_WORDS} words, got {len(tokens)}")
    indices = bytearray(_word_index(token, position) for position, token in enumerate(tokens, 1))
    try:
        return RootSecret(indices)
    finally:
        for position in range(len(indices)):
            indices[position] = 0


def normalize_seed_phrase(text: str) -> list[str]:
    """Return the 16 full, lower-case words of a seed phrase typed in any accepted form.

    Raises:
        SeedPhraseError: as :func:`parse_seed_phrase`.
    """
    root = parse_seed_phrase(text)
    try:
        return root.seed_phrase()
    finally:
        root.wipe()


def _tokens(text: str) -> list[str]:
    """Split ``text`` into lower-case words, dropping separators and enumeration labels."""
    pieces = _SEPARATORS.split(text.strip().lower())
    return [piece for piece in pieces if piece and not _ENUMERATION_LABEL.fullmatch(piece)]


def _word_index(token: str, position: int) -> int:
    """Return the byte value of ``token``, the word at 1-based ``position``."""
    index = _INDEX_OF_WORD.get(token)
    if index is not None:
        return index
    if len(token) >= MIN_PREFIX_LETTERS:
        index = _INDEX_OF_PREFIX.get(token[:MIN_PREFIX_LETTERS])
        if index is not None and WORDS[index].startswith(token):
            return index
    suggestions = _suggestions(token)
    message = f"word {position} '{_shown(token)}' is not in the word list"
    if suggestions:
        message += f"; did you mean: {', '.join(suggestions)}?"
    raise SeedPhraseError(message, position=position, suggestions=suggestions)


def _suggestions(token: str) -> tuple[str, ...]:
    """Return up to three valid words close to ``token``: completions first, then look-alikes."""
    completions = [word for word in WORDS if len(token) >= 2 and word.startswith(token)]
    close = difflib.get_close_matches(token, WORDS, n=_MAX_SUGGESTIONS, cutoff=0.6)
    ordered = dict.fromkeys(completions + close)
    return tuple(ordered)[:_MAX_SUGGESTIONS]


def _shown(token: str) -> str:
    """Return ``token`` safe to print: printable, and cut short if very long."""
    if not token.isprintable():
        token = token.encode("unicode_escape").decode("ascii")
    if len(token) > _MAX_SHOWN_CHARS:
        token = token[:_MAX_SHOWN_CHARS] + "…"
    return token
