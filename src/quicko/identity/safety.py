"""Safety numbers: a short number two peers compare out of band (DESIGN.md §4.3).

Both sides compute the same 30 digits from both public identities, whichever side they are
on; if a relay substituted a key, the numbers differ. The rendering follows Signal's: groups
of 5 decimal digits, each from 5 bytes of a hash reduced modulo 100,000.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from quicko.crypto import kdf

if TYPE_CHECKING:
    from quicko.identity.keys import PublicIdentity

__all__ = ["SAFETY_NUMBER_GROUPS", "SAFETY_NUMBER_LABEL", "safety_number"]

SAFETY_NUMBER_LABEL: Final = kdf.label("safety-number")
"""Domain-separation label of the safety-number hash."""

SAFETY_NUMBER_GROUPS: Final = 6
"""Groups of digits in a safety number."""

_GROUP_BYTES: Final = 5
_GROUP_MODULUS: Final = 100_000


def _encode(identity: PublicIdentity) -> bytes:
    """Encode one party unambiguously: address and both public keys, length-prefixed."""
    return kdf.encode_fields(identity.address, identity.x25519_public, identity.ed25519_public)


def safety_number(a: PublicIdentity, b: PublicIdentity) -> str:
    """Return the safety number of two parties, the same whichever order they are given in.

    Args:
        a: one party's public identity.
        b: the other party's public identity.

    Returns:
        Six groups of five digits separated by spaces, such as
        ``"12345 67890 12345 67890 12345 67890"``.
    """
    first, second = sorted((_encode(a), _encode(b)))
    digest = kdf.sha256(SAFETY_NUMBER_LABEL, first, second)
    groups = []
    for index in range(SAFETY_NUMBER_GROUPS):
        chunk = digest[index * _GROUP_BYTES : (index + 1) * _GROUP_BYTES]
        groups.append(f"{int.from_bytes(chunk, 'big') % _GROUP_MODULUS:05d}")
    return " ".join(groups)
