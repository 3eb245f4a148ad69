"""The root secret and its 16-word seed phrase (DESIGN.md §4.1, docs/protocol.md §6.2).

The root secret is 16 bytes; the seed phrase writes each byte as one word of
:data:`~quicko.identity.wordlist.WORDS`, so the round trip root → words → root is lossless.

The last byte is a checksum of the first fifteen (:func:`seed_checksum`): ``root[15] =
SHA-256(LP("quicko2/v2/seed-checksum", root[0:15]))[0]``. A generated root has 120 random
bits and its checksum byte; a phrase whose 16th word does not match is refused, so a wrong or a
swapped word is caught (a wrong 16th word always, any other change with probability 255/256)
instead of silently recovering somebody else's identity. :class:`RootSecret` itself holds any
16 bytes (keys derive from all of them); only phrases are checked.

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

from quicko.crypto import RandomSource, kdf
from quicko.errors import SeedPhraseError
from quicko.identity.wordlist import WORDS

__all__ = [
    "CHECKSUM_MESSAGE",
    "ENTROPY_BYTES",
    "MIN_PREFIX_LETTERS",
    "ROOT_SECRET_BYTES",
    "SEED_CHECKSUM_LABEL",
    "SEED_PHRASE_WORDS",
    "RootSecret",
    "has_valid_checksum",
    "normalize_seed_phrase",
    "parse_seed_phrase",
    "seed_checksum",
    "seed_phrase_words",
    "seed_word",
    "seed_word_suggestions",
]

ROOT_SECRET_BYTES: Final = 16
"""Size of the root secret, in bytes (128 bits)."""

SEED_PHRASE_WORDS: Final = ROOT_SECRET_BYTES
"""Number of words in a seed phrase: one per byte of the root secret."""

ENTROPY_BYTES: Final = ROOT_SECRET_BYTES - 1
"""Random bytes of a generated root secret (120 bits); the 16th byte is their checksum."""

SEED_CHECKSUM_LABEL: Final = kdf.identity_label("seed-checksum")
"""Label of the checksum byte, in the identity namespace that never changes (§6.2)."""

CHECKSUM_MESSAGE: Final = (
    "these 16 words are not a valid QuickoKey phrase (a word may be wrong or two swapped)"
)
"""What a phrase of 16 known words with a wrong checksum is told."""

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
        """Return a fresh root secret: 15 random bytes and their checksum byte.

        It draws ``rng(16)`` and replaces the last byte by the checksum, so a seeded source
        gives the same later values as before the checksum existed (tests pin them).
        """
        data = bytearray(rng(ROOT_SECRET_BYTES))
        try:
            data[ENTROPY_BYTES] = seed_checksum(data[:ENTROPY_BYTES])
            return cls(data)
        finally:
            for index in range(len(data)):
                data[index] = 0

    @property
    def has_valid_checksum(self) -> bool:
        """Whether the last byte is the checksum of the others (true of generated roots)."""
        return has_valid_checksum(self._checked())

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


def seed_checksum(body: bytes | bytearray) -> int:
    """The checksum byte of the first 15 bytes of a root secret.

    ``SHA-256(LP(SEED_CHECKSUM_LABEL, body))[0]`` with ``LP`` as in :func:`kdf.encode_fields`.

    Raises:
        ValueError: ``body`` is not :data:`ENTROPY_BYTES` long.
    """
    if len(body) != ENTROPY_BYTES:
        raise ValueError(f"a checksum covers {ENTROPY_BYTES} bytes, got {len(body)}")
    return kdf.sha256(SEED_CHECKSUM_LABEL, bytes(body))[0]


def has_valid_checksum(root: bytes | bytearray) -> bool:
    """Whether the last byte of a 16-byte root secret is the checksum of the first 15."""
    if len(root) != ROOT_SECRET_BYTES:
        raise ValueError(f"a root secret is {ROOT_SECRET_BYTES} bytes, got {len(root)}")
    return hmac.compare_digest(bytes([seed_checksum(root[:ENTROPY_BYTES])]), root[-1:])


def seed_word(token: str) -> str | None:
    """The word of the list that ``token`` stands for (a word or a 4+ letter prefix), or None.

    Case and surrounding spaces do not matter; this checks one word as it is typed.
    """
    index = _lookup(token.strip().lower())
    return None if index is None else WORDS[index]


def seed_word_suggestions(token: str) -> tuple[str, ...]:
    """Up to three valid words close to ``token``: completions first, then look-alikes."""
    return _suggestions(token.strip().lower())


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
        SeedPhraseError: the phrase does not have 16 words (``position`` is ``None``), a
            word is not in the list (``position`` is its 1-based position and
            ``suggestions`` the nearest valid words), or the 16 words fail the checksum
            (:data:`CHECKSUM_MESSAGE`, ``position`` ``None``).
    """
    tokens = _tokens(text)
    if len(tokens) != SEED_PHRASE_WORDS:
        raise SeedPhraseError(f"expected {SEED_PHRASE_WORDS} words, got {len(tokens)}")
    indices = bytearray(_word_index(token, position) for position, token in enumerate(tokens, 1))
    try:
        if not has_valid_checksum(indices):
            raise SeedPhraseError(CHECKSUM_MESSAGE)
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


def _lookup(token: str) -> int | None:
    """The byte value of a lower-case word or 4+ letter prefix, or ``None``."""
    index = _INDEX_OF_WORD.get(token)
    if index is not None:
        return index
    if len(token) >= MIN_PREFIX_LETTERS:
        index = _INDEX_OF_PREFIX.get(token[:MIN_PREFIX_LETTERS])
        if index is not None and WORDS[index].startswith(token):
            return index
    return None


def _word_index(token: str, position: int) -> int:
    """Return the byte value of ``token``, the word at 1-based ``position``."""
    index = _lookup(token)
    if index is not None:
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
