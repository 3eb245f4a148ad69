"""Ed25519 signatures (RFC 8032).

:func:`verify` returns ``None`` or raises one opaque :class:`~quicko.errors.AuthenticationError`,
whatever is wrong: the signature, its length, or the public key.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from quicko.crypto.random import RandomSource
from quicko.errors import AuthenticationError

__all__ = ["PUBLIC_KEY_SIZE", "SEED_SIZE", "SIGNATURE_SIZE", "Ed25519KeyPair", "verify"]

PUBLIC_KEY_SIZE = 32
"""Size of an Ed25519 public key, in bytes."""
SIGNATURE_SIZE = 64
"""Size of an Ed25519 signature, in bytes."""
SEED_SIZE = 32
"""Size of an Ed25519 private key seed, in bytes."""


class Ed25519KeyPair:
    """An Ed25519 signing key and its public key.

    The private key never leaves the object; ``repr()`` shows only the start of the public key.
    """

    __slots__ = ("_private_key", "_public")

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._private_key = private_key
        # public_bytes_raw(), not public_bytes(Encoding.Raw, …): importing cryptography's
        # serialization module (and its SSH parser) would add ~20 ms to every command's start.
        self._public = private_key.public_key().public_bytes_raw()

    @classmethod
    def from_seed(cls, seed: bytes) -> Ed25519KeyPair:
        """Load a key pair from its 32-byte seed (the RFC 8032 private key).

        Raises:
            ValueError: ``seed`` is not 32 bytes long.
        """
        if len(seed) != SEED_SIZE:
            raise ValueError(f"an Ed25519 seed must be {SEED_SIZE} bytes")
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    @classmethod
    def generate(cls, rng: RandomSource) -> Ed25519KeyPair:
        """Make a new key pair from 32 bytes of ``rng``.

        Raises:
            ValueError: ``rng`` did not return 32 bytes.
        """
        return cls.from_seed(rng(SEED_SIZE))

    @property
    def public(self) -> bytes:
        """The 32-byte public key."""
        return self._public

    def sign(self, message: bytes) -> bytes:
        """Return the 64-byte signature of ``message`` (deterministic, as RFC 8032 defines)."""
        return self._private_key.sign(message)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(public={self._public[:4].hex()}...)"


def verify(public: bytes, signature: bytes, message: bytes) -> None:
    """Check that ``signature`` is a signature of ``message`` by the holder of ``public``.

    Args:
        public: the signer's 32-byte public key.
        signature: the 64-byte signature.
        message: the signed bytes.

    Raises:
        AuthenticationError: the signature does not verify, or a length or the key is malformed.
    """
    if len(public) != PUBLIC_KEY_SIZE or len(signature) != SIGNATURE_SIZE:
        raise AuthenticationError
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
    except (InvalidSignature, ValueError) as exc:
        raise AuthenticationError from exc
