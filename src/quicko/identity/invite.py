"""Invite codes: 40 bits in 8 Crockford base-32 characters, shown ``XXXX-XXXX`` (DESIGN.md §4.3).

The first half is the *nameplate*: the relay uses it to route a join to its session. The
second half is the *password*: it never goes to the relay, it feeds the PAKE. So ``str()``
of an :class:`InviteCode` is the whole code, for a person to read out, and ``repr()`` hides
the password.

Parsing forgives what people do when they read a code aloud or copy it: any case,
surrounding whitespace, spaces, another dash (an en dash, a minus sign…) or nothing instead of
the dash, and the Crockford look-alikes ``O`` for ``0`` and ``I`` or ``L`` for ``1``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, NoReturn

from quicko.crypto import RandomSource
from quicko.errors import InviteCodeError
from quicko.identity._separators import SEPARATORS

__all__ = [
    "CROCKFORD_ALPHABET",
    "INVITE_CODE_BYTES",
    "INVITE_CODE_CHARS",
    "NAMEPLATE_CHARS",
    "PASSWORD_CHARS",
    "InviteCode",
    "is_valid_nameplate",
    "parse_invite_code",
]

CROCKFORD_ALPHABET: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
"""Crockford's base-32 alphabet: digits and upper-case letters without I, L, O and U."""

INVITE_CODE_BYTES: Final = 5
"""Random bytes in an invite code (40 bits)."""

INVITE_CODE_CHARS: Final = 8
"""Characters in an invite code, not counting the dash."""

NAMEPLATE_CHARS: Final = INVITE_CODE_CHARS // 2
"""Characters of the nameplate, the first half (20 bits)."""

PASSWORD_CHARS: Final = INVITE_CODE_CHARS - NAMEPLATE_CHARS
"""Characters of the password, the second half (20 bits)."""

_BITS_PER_CHAR: Final = 5
_CHAR_MASK: Final = (1 << _BITS_PER_CHAR) - 1
_VALUE_OF_CHAR: Final = {char: value for value, char in enumerate(CROCKFORD_ALPHABET)}
_CONFUSABLES: Final = {"O": "0", "I": "1", "L": "1"}
_EXAMPLE: Final = "KBQW-E3TV"


def is_valid_nameplate(text: str) -> bool:
    """Whether ``text`` is a nameplate in canonical form: 4 upper-case Crockford characters.

    The relay uses this on nameplates from the network, so it accepts no look-alikes.
    """
    return len(text) == NAMEPLATE_CHARS and all(char in _VALUE_OF_CHAR for char in text)


@dataclass(frozen=True, slots=True, repr=False)
class InviteCode:
    """An invite code: a nameplate for the relay and a password for the PAKE.

    Attributes:
        nameplate: the first 4 characters, sent to the relay to find the session.
        password: the last 4 characters, which never leave the two devices.

    Raises:
        ValueError: a half is not 4 canonical Crockford characters.
    """

    nameplate: str
    password: str

    def __post_init__(self) -> None:
        if not (is_valid_nameplate(self.nameplate) and is_valid_nameplate(self.password)):
            raise ValueError("each half of an invite code is 4 upper-case Crockford characters")

    @classmethod
    def generate(cls, rng: RandomSource) -> InviteCode:
        """Return a new invite code made of ``rng(5)``."""
        return cls.from_bytes(rng(INVITE_CODE_BYTES))

    @classmethod
    def from_bytes(cls, data: bytes) -> InviteCode:
        """Return the invite code that encodes 5 bytes (big-endian, 5 bits a character).

        Raises:
            ValueError: ``data`` does not have 5 bytes.
        """
        if len(data) != INVITE_CODE_BYTES:
            raise ValueError(f"an invite code encodes {INVITE_CODE_BYTES} bytes, got {len(data)}")
        value = int.from_bytes(data, "big")
        shifts = range(_BITS_PER_CHAR * (INVITE_CODE_CHARS - 1), -1, -_BITS_PER_CHAR)
        chars = "".join(CROCKFORD_ALPHABET[(value >> shift) & _CHAR_MASK] for shift in shifts)
        return cls(chars[:NAMEPLATE_CHARS], chars[NAMEPLATE_CHARS:])

    def to_bytes(self) -> bytes:
        """Return the 5 bytes this code encodes (the inverse of :meth:`from_bytes`)."""
        value = 0
        for char in self.nameplate + self.password:
            value = (value << _BITS_PER_CHAR) | _VALUE_OF_CHAR[char]
        return value.to_bytes(INVITE_CODE_BYTES, "big")

    def __str__(self) -> str:
        return f"{self.nameplate}-{self.password}"

    def __repr__(self) -> str:
        return f"InviteCode(nameplate={self.nameplate!r}, password=<redacted>)"


def parse_invite_code(text: str) -> InviteCode:
    """Parse an invite code as a person may type it.

    Args:
        text: such as ``"KBQW-E3TV"``, ``"kbqw e3tv"``, ``"KBQW\u2013E3TV"`` (an en dash) or
            ``"KBQWE3TV"``.

    Raises:
        InviteCodeError: the code has the wrong length, a misplaced separator or a character
            outside the alphabet; the message names the problem and its position.
    """
    pieces = [piece for piece in SEPARATORS.split(text.strip().upper()) if piece]
    count = sum(len(piece) for piece in pieces)
    if count != INVITE_CODE_CHARS:
        _fail(f"expected {INVITE_CODE_CHARS} characters, got {count}")
    if len(pieces) > 1 and [len(piece) for piece in pieces] != [NAMEPLATE_CHARS, PASSWORD_CHARS]:
        _fail("the dash goes after the fourth character")
    body = "".join(pieces)
    chars = [_canonical_char(char, position) for position, char in enumerate(body, 1)]
    return InviteCode("".join(chars[:NAMEPLATE_CHARS]), "".join(chars[NAMEPLATE_CHARS:]))


def _canonical_char(char: str, position: int) -> str:
    """Return the alphabet character for ``char``, the ``position``-th of the code."""
    char = _CONFUSABLES.get(char, char)
    if char in _VALUE_OF_CHAR:
        return char
    if char == "U":
        _fail(f"character {position} 'U' is not used in invite codes (did you mean V?)")
    shown = repr(char) if char.isprintable() else ascii(char)
    _fail(f"character {position} {shown} is not a letter or digit of the invite-code alphabet")


def _fail(problem: str) -> NoReturn:
    """Raise :class:`InviteCodeError` for ``problem`` with an example of an invite code."""
    raise InviteCodeError(f"not an invite code: {problem}; an invite code looks like {_EXAMPLE}")
