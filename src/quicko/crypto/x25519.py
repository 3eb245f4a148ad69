"""X25519 key agreement (RFC 7748).

A peer's public key is external input: a wrong length or a low-order point (one that makes the
shared secret all zero, DESIGN.md §4.4) raises :class:`~quicko.errors.InvalidKeyError`, never
anything else. Our own private key is local input: a wrong length raises ``ValueError``.
"""

from __future__ import annotations

import hmac

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from quicko.crypto.random import RandomSource
from quicko.errors import InvalidKeyError

__all__ = ["PRIVATE_KEY_SIZE", "PUBLIC_KEY_SIZE", "X25519KeyPair", "x25519"]

PUBLIC_KEY_SIZE = 32
"""Size of an X25519 public key (a u-coordinate), in bytes."""
PRIVATE_KEY_SIZE = 32
"""Size of an X25519 private key (a scalar), in bytes."""

_ALL_ZERO = bytes(32)


def _private_key(private: bytes) -> X25519PrivateKey:
    """Load our own private key; a wrong length is local misuse (``ValueError``)."""
    if len(private) != PRIVATE_KEY_SIZE:
        raise ValueError(f"an X25519 private key must be {PRIVATE_KEY_SIZE} bytes")
    return X25519PrivateKey.from_private_bytes(private)


def _check_shared(shared: bytes) -> bytes:
    """Reject an all-zero shared secret, the mark of a low-order peer key.

    pyca/cryptography already refuses it; this check keeps the guarantee ours.
    """
    if hmac.compare_digest(shared, _ALL_ZERO):
        raise InvalidKeyError("X25519 public key is of low order")
    return shared


def _exchange(private_key: X25519PrivateKey, peer_public: bytes) -> bytes:
    """Compute the shared secret with a peer's public key, checking the peer's key."""
    if len(peer_public) != PUBLIC_KEY_SIZE:
        raise InvalidKeyError(f"an X25519 public key must be {PUBLIC_KEY_SIZE} bytes")
    peer_key = X25519PublicKey.from_public_bytes(peer_public)
    try:
        shared = private_key.exchange(peer_key)
    except ValueError as exc:
        # pyca/cryptography raises ValueError when the result is all zero.
        raise InvalidKeyError("X25519 public key is of low order") from exc
    return _check_shared(shared)


class X25519KeyPair:
    """An X25519 private key and its public key.

    The private key never leaves the object; ``repr()`` shows only the start of the public key.
    """

    __slots__ = ("_private_key", "_public")

    def __init__(self, private_key: X25519PrivateKey) -> None:
        self._private_key = private_key
        # public_bytes_raw(), not public_bytes(Encoding.Raw, …): importing cryptography's
        # serialization module (and its SSH parser) would add ~20 ms to every command's start.
        self._public = private_key.public_key().public_bytes_raw()

    @classmethod
    def from_private_bytes(cls, private: bytes) -> X25519KeyPair:
        """Load a key pair from its 32-byte private key.

        Raises:
            ValueError: ``private`` is not 32 bytes long.
        """
        return cls(_private_key(private))

    @classmethod
    def generate(cls, rng: RandomSource) -> X25519KeyPair:
        """Make a new key pair from 32 bytes of ``rng``.

        Raises:
            ValueError: ``rng`` did not return 32 bytes.
        """
        return cls.from_private_bytes(rng(PRIVATE_KEY_SIZE))

    @property
    def public(self) -> bytes:
        """The 32-byte public key."""
        return self._public

    def exchange(self, peer_public: bytes) -> bytes:
        """Return the 32-byte shared secret with the holder of ``peer_public``.

        Raises:
            InvalidKeyError: ``peer_public`` is not 32 bytes long, or is a low-order point.
        """
        return _exchange(self._private_key, peer_public)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(public={self._public[:4].hex()}...)"


def x25519(private: bytes, public: bytes) -> bytes:
    """Compute X25519(private, public), the raw function of RFC 7748 §5.

    Args:
        private: our 32-byte private key (scalar).
        public: the peer's 32-byte public key (u-coordinate).

    Returns:
        The 32-byte shared secret.

    Raises:
        ValueError: ``private`` is not 32 bytes long.
        InvalidKeyError: ``public`` is not 32 bytes long, or is a low-order point.
    """
    return _exchange(_private_key(private), public)
