"""Key derivation, MAC and hashing: HKDF-SHA256, HMAC-SHA256, SHA-256.

Every derivation is domain-separated by a versioned label (:func:`label`), and everything that
hashes or authenticates several fields encodes them unambiguously with :func:`encode_fields`
(each field prefixed by its 4-byte big-endian length), so that no two different field lists
produce the same bytes.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_SHA256 = hashes.SHA256()  # an algorithm descriptor without state: one for every call

__all__ = [
    "HKDF_MAX_LENGTH",
    "IDENTITY_LABEL_PREFIX",
    "LABEL_PREFIX",
    "encode_fields",
    "hkdf_sha256",
    "hmac_sha256",
    "hmac_sha256_pair",
    "identity_label",
    "label",
    "sha256",
]

LABEL_PREFIX = b"quicko2/v4/"
"""Prefix of every protocol label; the version in it changes with any change of derivation."""

IDENTITY_LABEL_PREFIX = b"quicko2/v2/"
"""Prefix of the identity derivations (keys, address, display name), frozen at version 2.

An identity must survive protocol upgrades: changing these labels would give every seed phrase a
new QuickoKey. They change only if the identity derivations themselves change.
"""

HKDF_MAX_LENGTH = 255 * 32
"""Largest HKDF-SHA256 output, in bytes (RFC 5869 §2.3: 255 times the hash length)."""

_FIELD_LENGTH_SIZE = 4
_MAX_FIELD_LENGTH = 2 ** (8 * _FIELD_LENGTH_SIZE) - 1


def label(purpose: str) -> bytes:
    """Return the versioned, domain-separated HKDF info label for ``purpose``.

    Args:
        purpose: a short, non-empty ASCII name such as ``"identity/x25519"``.

    Returns:
        ``b"quicko2/v4/" + purpose`` encoded as ASCII.

    Raises:
        ValueError: ``purpose`` is empty or not ASCII.
    """
    if not purpose or not purpose.isascii():
        raise ValueError("a KDF label purpose must be a non-empty ASCII string")
    return LABEL_PREFIX + purpose.encode("ascii")


def identity_label(purpose: str) -> bytes:
    """Return the label of an identity derivation: ``b"quicko2/v2/" + purpose`` (frozen)."""
    if not purpose or not purpose.isascii():
        raise ValueError("a KDF label purpose must be a non-empty ASCII string")
    return IDENTITY_LABEL_PREFIX + purpose.encode("ascii")


def hkdf_sha256(ikm: bytes, *, salt: bytes | None, info: bytes, length: int) -> bytes:
    """Derive ``length`` bytes with HKDF-SHA256 (RFC 5869).

    Args:
        ikm: input keying material.
        salt: the salt; ``None`` (or empty) means a string of 32 zero bytes.
        info: context; build it with :func:`label` (and :func:`encode_fields`).
        length: number of bytes to derive, from 1 to :data:`HKDF_MAX_LENGTH`.

    Returns:
        The output keying material.

    Raises:
        ValueError: ``length`` is out of range.
    """
    if not 1 <= length <= HKDF_MAX_LENGTH:
        raise ValueError(f"HKDF-SHA256 output length must be between 1 and {HKDF_MAX_LENGTH}")
    return HKDF(algorithm=_SHA256, length=length, salt=salt, info=info).derive(ikm)


def hmac_sha256(key: bytes, data: bytes) -> bytes:
    """Return the 32-byte HMAC-SHA256 of ``data`` under ``key``.

    Compare tags with :func:`hmac.compare_digest`, never with ``==``.
    """
    mac = crypto_hmac.HMAC(key, _SHA256)
    mac.update(data)
    return mac.finalize()


def hmac_sha256_pair(key: bytes, first: bytes, second: bytes) -> tuple[bytes, bytes]:
    """Return the HMAC-SHA256 of ``first`` and of ``second`` under one ``key``.

    The same values as two :func:`hmac_sha256` calls, with the key schedule computed once (a
    Double Ratchet chain step needs both; it halves the step's cost).
    """
    mac = crypto_hmac.HMAC(key, _SHA256)
    other = mac.copy()
    mac.update(first)
    other.update(second)
    return mac.finalize(), other.finalize()


def encode_fields(*parts: bytes) -> bytes:
    """Encode ``parts`` unambiguously: each one prefixed by its 4-byte big-endian length.

    Use it to build associated data and hash inputs from several fields.

    Raises:
        ValueError: a part is 2**32 bytes or longer.
    """
    out = bytearray()
    for part in parts:
        if len(part) > _MAX_FIELD_LENGTH:
            raise ValueError("a field is too long to be length-prefixed")
        out += len(part).to_bytes(_FIELD_LENGTH_SIZE, "big")
        out += part
    return bytes(out)


def sha256(*parts: bytes) -> bytes:
    """Return the SHA-256 of the unambiguous encoding of ``parts`` (see :func:`encode_fields`).

    Note that this is *not* the plain SHA-256 of the concatenated parts, even for one part.
    """
    digest = hashes.Hash(_SHA256)
    digest.update(encode_fields(*parts))
    return digest.finalize()
