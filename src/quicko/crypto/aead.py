"""AES-256-GCM authenticated encryption with associated data.

Each (key, nonce) pair must be used at most once; choosing nonces is the caller's job (the
ratchet uses each message key once). :func:`decrypt` returns the plaintext or raises one opaque
:class:`~quicko.errors.AuthenticationError`, whatever went wrong with the ciphertext.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from quicko.errors import AuthenticationError

__all__ = ["KEY_SIZE", "NONCE_SIZE", "TAG_SIZE", "decrypt", "encrypt"]

KEY_SIZE = 32
"""Key size in bytes (AES-256)."""
NONCE_SIZE = 12
"""Nonce size in bytes (96 bits, the size GCM is designed for)."""
TAG_SIZE = 16
"""Authentication tag size in bytes (128 bits), appended to the ciphertext."""


def _cipher(key: bytes, nonce: bytes) -> AESGCM:
    """Check the sizes of our own key and nonce and return the cipher.

    Raises:
        ValueError: the key or the nonce has the wrong size (local misuse).
    """
    if len(key) != KEY_SIZE:
        raise ValueError(f"AES-256-GCM key must be {KEY_SIZE} bytes")
    if len(nonce) != NONCE_SIZE:
        raise ValueError(f"AES-256-GCM nonce must be {NONCE_SIZE} bytes")
    return AESGCM(key)


def encrypt(key: bytes, nonce: bytes, plaintext: bytes, associated_data: bytes) -> bytes:
    """Encrypt and authenticate ``plaintext``, and authenticate ``associated_data``.

    Args:
        key: a 32-byte key.
        nonce: a 12-byte nonce, never reused with the same key.
        plaintext: the bytes to encrypt.
        associated_data: bytes to authenticate but not encrypt (may be empty).

    Returns:
        The ciphertext followed by the 16-byte tag.

    Raises:
        ValueError: the key or the nonce has the wrong size.
    """
    return _cipher(key, nonce).encrypt(nonce, plaintext, associated_data)


def decrypt(key: bytes, nonce: bytes, ciphertext: bytes, associated_data: bytes) -> bytes:
    """Check and decrypt ``ciphertext`` (ciphertext followed by its tag).

    Args:
        key: the 32-byte key it was encrypted with.
        nonce: the 12-byte nonce it was encrypted with.
        ciphertext: the output of :func:`encrypt`.
        associated_data: the associated data it was encrypted with.

    Returns:
        The plaintext.

    Raises:
        ValueError: the key or the nonce has the wrong size (local misuse).
        AuthenticationError: the input is shorter than a tag, or the tag does not verify.
    """
    cipher = _cipher(key, nonce)
    if len(ciphertext) < TAG_SIZE:
        raise AuthenticationError
    try:
        return cipher.decrypt(nonce, ciphertext, associated_data)
    except InvalidTag as exc:
        raise AuthenticationError from exc
