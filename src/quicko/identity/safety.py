"""Safety numbers: 60 digits two peers compare out of band (DESIGN.md §4.3, docs/protocol.md §6.7).

The construction is Signal's ``NumericFingerprintGenerator`` (version 2 of its safety numbers)
with Quicko's inputs. Each party has a *fingerprint* of 30 digits computed from its own public
identity alone:

.. code-block:: text

    key    = LP("quicko2/v3/safety-number", address, x25519_public, ed25519_public)
    hash   = u16(0) || key || address           # version 0, big-endian; address = stable id
    repeat 5200 times: hash = SHA-512(hash || key)
    fingerprint = for i in 0..5: (hash[5i : 5i+5] as a big-endian integer) mod 100000, as %05d

The safety number of two parties is their two fingerprints concatenated, the smaller digit
string first (Signal's order), so both sides see the same 60 digits. It is written as 12 groups
of 5 digits separated by one space; the apps show it as two lines of six groups
(:func:`safety_number_lines`).

Why per party: with one joint hash of both identities (Quicko v2), an attacker in the middle
who chooses *both* substituted identities needs only a claw between the two sides' numbers,
about 2^50 hashes for 30 digits. With per-party fingerprints each side's digits depend on that
side's keys alone, so the attacker must find, for a fixed victim, a second identity whose
fingerprint equals the victim's 30 digits: a second preimage of a 10^30 ≈ 2^99.7-valued function
that costs 5,200 SHA-512 evaluations per try. **Work factor: 2^99.7 * 5200 ≈ 2^112.0 SHA-512
evaluations per party** (a man in the middle must do it for both parties: 2^113.0). Against
any one of N target identities at once the cost divides by N. Generating a candidate identity
is negligible next to that (one point addition per try), and the reduction of a 40-bit chunk
modulo 100,000 is biased by less than 10^-7, which changes nothing.

Label and version are fixed for ever, like the identity labels: a safety number must not
change when the wire protocol does, or every verified contact would look unverified.
Fingerprints are memoised per identity (a bounded LRU cache over public keys only), so that a
UI refreshing a chat, or a session asked again, does not pay the ~4 ms again.
"""

from __future__ import annotations

import functools
import hashlib
from typing import TYPE_CHECKING, Final

from quicko.crypto import kdf

if TYPE_CHECKING:
    from quicko.identity.keys import PublicIdentity

__all__ = [
    "FINGERPRINT_DIGITS",
    "SAFETY_NUMBER_GROUPS",
    "SAFETY_NUMBER_GROUPS_PER_LINE",
    "SAFETY_NUMBER_ITERATIONS",
    "SAFETY_NUMBER_LABEL",
    "SAFETY_NUMBER_VERSION",
    "fingerprint",
    "safety_number",
    "safety_number_lines",
]

SAFETY_NUMBER_LABEL: Final = b"quicko2/v3/safety-number"
"""Domain-separation label, the first field of each party's key material (fixed for ever)."""

SAFETY_NUMBER_VERSION: Final = 0
"""Fingerprint format version, hashed first as 2 bytes big-endian (Signal's position)."""

SAFETY_NUMBER_ITERATIONS: Final = 5200
"""SHA-512 evaluations per fingerprint (Signal's ``iterations``)."""

FINGERPRINT_DIGITS: Final = 30
"""Decimal digits of one party's fingerprint."""

SAFETY_NUMBER_GROUPS: Final = 12
"""Groups of five digits in a safety number (two fingerprints of six groups)."""

SAFETY_NUMBER_GROUPS_PER_LINE: Final = 6
"""Groups per line when a safety number is shown on two lines."""

_GROUP_DIGITS: Final = 5
_GROUP_BYTES: Final = 5
_GROUP_MODULUS: Final = 100_000
_FINGERPRINT_BYTES: Final = FINGERPRINT_DIGITS // _GROUP_DIGITS * _GROUP_BYTES  # 30
_FINGERPRINT_CACHE_SIZE: Final = 1024


@functools.lru_cache(maxsize=_FINGERPRINT_CACHE_SIZE)
def fingerprint(identity: PublicIdentity) -> str:
    """Return one party's 30-digit fingerprint (no spaces), Signal's iterated SHA-512.

    Args:
        identity: the party's public identity.

    Returns:
        30 decimal digits, such as ``"427596029101436162346790818183"``.
    """
    key = kdf.encode_fields(
        SAFETY_NUMBER_LABEL, identity.address, identity.x25519_public, identity.ed25519_public
    )
    digest = SAFETY_NUMBER_VERSION.to_bytes(2, "big") + key + identity.address
    for _ in range(SAFETY_NUMBER_ITERATIONS):
        digest = hashlib.sha512(digest + key).digest()
    chunks = (digest[i : i + _GROUP_BYTES] for i in range(0, _FINGERPRINT_BYTES, _GROUP_BYTES))
    return "".join(f"{int.from_bytes(chunk, 'big') % _GROUP_MODULUS:05d}" for chunk in chunks)


def safety_number(a: PublicIdentity, b: PublicIdentity) -> str:
    """Return the safety number of two parties, the same whichever order they are given in.

    Args:
        a: one party's public identity.
        b: the other party's public identity.

    Returns:
        Twelve groups of five digits separated by single spaces: the smaller of the two
        fingerprints (as digit strings) first, such as ``"12345 67890 … 67890"``.
    """
    first, second = sorted((fingerprint(a), fingerprint(b)))
    digits = first + second
    return " ".join(digits[i : i + _GROUP_DIGITS] for i in range(0, len(digits), _GROUP_DIGITS))


def safety_number_lines(
    number: str, *, groups_per_line: int = SAFETY_NUMBER_GROUPS_PER_LINE
) -> str:
    """Lay a safety number out on lines of ``groups_per_line`` groups (two lines by default).

    Args:
        number: a safety number as :func:`safety_number` returns it (groups separated by
            whitespace).
        groups_per_line: groups on each line; at least 1.

    Returns:
        The groups, one space apart, lines separated by a newline.

    Raises:
        ValueError: ``groups_per_line`` is below 1.
    """
    if groups_per_line < 1:
        raise ValueError("a line holds at least one group")
    groups = number.split()
    return "\n".join(
        " ".join(groups[i : i + groups_per_line]) for i in range(0, len(groups), groups_per_line)
    )
