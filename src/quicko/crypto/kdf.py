"""Key derivation, MAC and hashing: HKDF-SHA256, HMAC-SHA256, SHA-256.

Every derivation is domain-separated by a versioned label (:func:`label`), and everything that
hashes or authenticates several fields encodes them unambiguously with :func:`encode_fields`
(each field prefixed by its 4-byte big-endian length), so that no two different field lists
produce the same bytes.

HKDF-SHA256 and the ratchet's paired HMAC are computed from ``hashlib``'s SHA-256 (OpenSSL) as
RFC 2104 and RFC 5869 define them (:func:`_hmac_keyed`: what Python's ``hmac`` module does),
a few C calls each; single HMACs and hashes use ``cryptography``. Both give the same bytes
(tested against each other and the RFC and Wycheproof vectors).
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Final

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac

if TYPE_CHECKING:
    from hashlib import _Hash

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

LABEL_PREFIX = b"quicko2/v3/"
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
        ``b"quicko2/v3/" + purpose`` encoded as ASCII.

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
    # Extract: PRK = HMAC(salt, ikm); no salt (or an empty one) is a key of zeros, and a key of
    # zeros is what HMAC pads any key shorter than the block with.
    if salt:
        inner, outer = _hmac_keyed(salt)
    else:
        inner, outer = _ZERO_KEY_INNER.copy(), _ZERO_KEY_OUTER.copy()
    inner.update(ikm)
    outer.update(inner.digest())
    # Expand: T(i) = HMAC(PRK, T(i-1) || info || i), the output their concatenation. The
    # last block takes the PRK's states themselves, the others copies.
    inner, outer = _hmac_keyed(outer.digest())
    last = (length + _HASH_SIZE - 1) // _HASH_SIZE
    okm = block = b""
    for counter in _COUNTERS[1:last]:
        step_inner, step_outer = inner.copy(), outer.copy()
        step_inner.update(block + info + counter)
        step_outer.update(step_inner.digest())
        block = step_outer.digest()
        okm += block
    inner.update(block + info + _COUNTERS[last])
    outer.update(inner.digest())
    return (okm + outer.digest())[:length]


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
    inner, outer = _hmac_keyed(key)
    other_inner, other_outer = inner.copy(), outer.copy()
    inner.update(first)
    outer.update(inner.digest())
    other_inner.update(second)
    other_outer.update(other_inner.digest())
    return outer.digest(), other_outer.digest()


_HASH_SIZE: Final = 32
_BLOCK_SIZE: Final = 64
_INNER_PAD: Final = bytes(byte ^ 0x36 for byte in range(256))
_OUTER_PAD: Final = bytes(byte ^ 0x5C for byte in range(256))
_COUNTERS: Final = tuple(bytes((n,)) for n in range(256))  # HKDF's one-byte block counters


def _hmac_keyed(key: bytes) -> tuple[_Hash, _Hash]:
    """HMAC-SHA256's two hash states after the padded key (RFC 2104, as Python's ``hmac``).

    HMAC(K, m) = H((K' ^ opad) || H((K' ^ ipad) || m)), K' the key zero-padded to the 64-byte
    block (hashed first if longer). Returns the inner and outer SHA-256 states after their
    padded key: update the inner one with the message, the outer one with the inner digest;
    the outer digest is the MAC. ``hashlib``'s SHA-256 (OpenSSL) and ``bytes.translate``
    compute it with a few C calls, a third of what ``cryptography``'s HMAC and HKDF objects
    cost per call from Python (the ratchet makes four such derivations per message). Tested
    equal to ``hmac``, to ``cryptography`` and to the RFC 4231, RFC 5869 and Wycheproof vectors.
    """
    if len(key) > _BLOCK_SIZE:
        key = hashlib.sha256(key).digest()
    padded = bytes(key).ljust(_BLOCK_SIZE, b"\0")
    return (
        hashlib.sha256(padded.translate(_INNER_PAD)),
        hashlib.sha256(padded.translate(_OUTER_PAD)),
    )


# The extract step without a salt (the ratchet's message keys): its states computed once. They
# hold no secret (the key is zeros); hkdf_sha256 only ever uses copies.
_ZERO_KEY_INNER, _ZERO_KEY_OUTER = _hmac_keyed(b"")


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
