"""QuickoKey addresses: a self-certifying 128-bit hash of two public keys (DESIGN.md §4.1).

An address is the first 16 bytes of the domain-separated SHA-256 of an X25519 and an Ed25519
public key. It is public, and anyone holding an address and a pair of public keys can check
that they belong together (:func:`verify_address`), so no directory can substitute keys.

It is written ``QK-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX`` in upper-case hexadecimal;
:func:`parse_quickokey` also accepts lower case, spaces or other dashes instead of the dashes,
missing dashes and a missing ``QK`` prefix.
"""

from __future__ import annotations

import hmac
from typing import Final, NoReturn

from quicko.crypto import kdf
from quicko.errors import AuthenticationError, QuickoKeyFormatError
from quicko.identity._separators import is_separator

__all__ = [
    "ADDRESS_BYTES",
    "ADDRESS_LABEL",
    "PUBLIC_KEY_BYTES",
    "QUICKOKEY_EXAMPLE",
    "QUICKOKEY_PREFIX",
    "compute_address",
    "format_quickokey",
    "parse_quickokey",
    "verify_address",
]

ADDRESS_BYTES: Final = 16
"""Size of an address, in bytes (128 bits)."""

PUBLIC_KEY_BYTES: Final = 32
"""Size of an X25519 or Ed25519 public key, in bytes."""

ADDRESS_LABEL: Final = kdf.identity_label("address")
"""Domain-separation label of the address hash (``b"quicko2/v2/address"``)."""

QUICKOKEY_PREFIX: Final = "QK"
"""The prefix of a formatted QuickoKey."""

QUICKOKEY_EXAMPLE: Final = "QK-1A2B-3C4D-5E6F-7A8B-9C0D-1E2F-3A4B-5C6D"
"""What a QuickoKey looks like, for error messages and help texts."""

_GROUP_DIGITS: Final = 4
_HEX_DIGITS: Final = frozenset("0123456789ABCDEF")


def compute_address(x25519_public: bytes, ed25519_public: bytes) -> bytes:
    """Return the 16-byte address of a pair of public keys.

    Args:
        x25519_public: the 32-byte X25519 public key.
        ed25519_public: the 32-byte Ed25519 public key.

    Raises:
        ValueError: a key does not have 32 bytes.
    """
    for name, key in (("X25519", x25519_public), ("Ed25519", ed25519_public)):
        if len(key) != PUBLIC_KEY_BYTES:
            raise ValueError(f"an {name} public key is {PUBLIC_KEY_BYTES} bytes, got {len(key)}")
    return kdf.sha256(ADDRESS_LABEL, x25519_public, ed25519_public)[:ADDRESS_BYTES]


def verify_address(address: bytes, x25519_public: bytes, ed25519_public: bytes) -> None:
    """Check that ``address`` is the address of the two public keys, in constant time.

    Raises:
        AuthenticationError: they do not belong together (including keys or an address of
            the wrong length).
    """
    if len(x25519_public) != PUBLIC_KEY_BYTES or len(ed25519_public) != PUBLIC_KEY_BYTES:
        raise AuthenticationError
    expected = compute_address(x25519_public, ed25519_public)
    if not hmac.compare_digest(expected, address):
        raise AuthenticationError


def format_quickokey(address: bytes) -> str:
    """Return ``address`` written as ``QK-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX``.

    Raises:
        ValueError: ``address`` does not have 16 bytes.
    """
    if len(address) != ADDRESS_BYTES:
        raise ValueError(f"an address is {ADDRESS_BYTES} bytes, got {len(address)}")
    digits = address.hex().upper()
    groups = [digits[i : i + _GROUP_DIGITS] for i in range(0, len(digits), _GROUP_DIGITS)]
    return "-".join([QUICKOKEY_PREFIX, *groups])


def parse_quickokey(text: str) -> bytes:
    """Parse a QuickoKey as a person may type it, and return its 16-byte address.

    Accepted: upper or lower case, spaces and dashes of any kind (an en dash, a minus sign…)
    anywhere or none, and the ``QK`` prefix, or none.

    Raises:
        QuickoKeyFormatError: anything else; the message says what is wrong and what a
            QuickoKey looks like.
    """
    stripped = text.strip()
    body_start = _prefix_length(stripped)
    digits: list[str] = []
    for offset, char in enumerate(stripped[body_start:]):
        if is_separator(char):
            continue
        if char.upper() not in _HEX_DIGITS:
            position = body_start + offset + 1
            _fail(f"character {position} {_shown(char)} is not a hexadecimal digit (0-9, A-F)")
        digits.append(char)
    if len(digits) != 2 * ADDRESS_BYTES:
        _fail(f"expected {2 * ADDRESS_BYTES} hexadecimal digits, got {len(digits)}")
    return bytes.fromhex("".join(digits))


def _prefix_length(text: str) -> int:
    """Return the length of the optional ``QK`` prefix at the start of ``text``.

    What follows it (a dash, a space) is skipped with the other separators; ``K`` is not a
    hexadecimal digit, so ``QK`` is never the start of the address itself.
    """
    return 2 if text[:2].upper() == QUICKOKEY_PREFIX else 0


def _shown(char: str) -> str:
    """Quote one character for an error message, escaping it if it is not printable."""
    return repr(char) if char.isprintable() else ascii(char)


def _fail(problem: str) -> NoReturn:
    """Raise :class:`QuickoKeyFormatError` for ``problem`` with an example of a QuickoKey."""
    raise QuickoKeyFormatError(
        f"not a QuickoKey: {problem}; a QuickoKey looks like {QUICKOKEY_EXAMPLE}"
    )
