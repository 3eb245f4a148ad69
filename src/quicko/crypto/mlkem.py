"""ML-KEM-768 (FIPS 203) key encapsulation, a thin wrapper over pyca/cryptography.

Quicko2 uses ML-KEM-768 in the hybrid (PQXDH-style) initial key agreement of every pairwise
channel (docs/protocol.md §9.1). Sizes: encapsulation (public) key 1,184 bytes, ciphertext
1,088 bytes, shared secret 32 bytes; a key pair is stored as its 64-byte FIPS 203 seed
``d || z`` (``ML-KEM.KeyGen_internal(d, z)``), which is how the injected ``rng`` makes one.

Two things this wrapper adds to pyca:

- every input from the network is checked and fails as a security outcome: a malformed or
  unreduced encapsulation key (FIPS 203 §7.2 "modulus check") raises
  :class:`~quicko.errors.InvalidKeyError`, a ciphertext of the wrong size
  :class:`~quicko.errors.AuthenticationError`. A ciphertext of the right size always
  decapsulates (ML-KEM's implicit rejection gives a pseudo-random secret for a forged one), so
  a tampered ciphertext is noticed only when the key derived from it fails to open a message.
- key pairs come from the injected randomness (:data:`~quicko.crypto.random.RandomSource`),
  as everywhere in :mod:`quicko.crypto`.

One exception to "randomness is an argument": :func:`encapsulate` draws its 32-byte message
``m`` inside OpenSSL, because pyca/cryptography offers no deterministic encapsulation. Tests
that need a fixed ciphertext use a known (ciphertext, secret) pair from the published vectors.
"""

from __future__ import annotations

from typing import Final

from cryptography.hazmat.primitives.asymmetric.mlkem import MLKEM768PrivateKey, MLKEM768PublicKey

from quicko.crypto.random import RandomSource
from quicko.errors import AuthenticationError, InvalidKeyError

__all__ = [
    "CIPHERTEXT_SIZE",
    "PUBLIC_KEY_SIZE",
    "SEED_SIZE",
    "SHARED_SECRET_SIZE",
    "MLKEMKeyPair",
    "check_public_key",
    "encapsulate",
]

PUBLIC_KEY_SIZE: Final = 1184
"""Size of an ML-KEM-768 encapsulation key, in bytes."""
CIPHERTEXT_SIZE: Final = 1088
"""Size of an ML-KEM-768 ciphertext, in bytes."""
SHARED_SECRET_SIZE: Final = 32
"""Size of the shared secret, in bytes."""
SEED_SIZE: Final = 64
"""Size of a key pair's seed ``d || z``, in bytes."""


def _public_key(public: bytes) -> MLKEM768PublicKey:
    if len(public) != PUBLIC_KEY_SIZE:
        raise InvalidKeyError(f"an ML-KEM-768 public key is {PUBLIC_KEY_SIZE} bytes")
    try:
        return MLKEM768PublicKey.from_public_bytes(public)
    except ValueError as exc:  # not reduced modulo q (FIPS 203 §7.2)
        raise InvalidKeyError("invalid ML-KEM-768 public key") from exc


def check_public_key(public: bytes) -> None:
    """Check an encapsulation key from the network (size and FIPS 203 modulus check).

    Raises:
        InvalidKeyError: it is not a valid ML-KEM-768 encapsulation key.
    """
    _public_key(public)


def encapsulate(public: bytes) -> tuple[bytes, bytes]:
    """Encapsulate a fresh secret to ``public``.

    Returns:
        ``(shared_secret, ciphertext)``: 32 and 1,088 bytes.

    Raises:
        InvalidKeyError: ``public`` is not a valid ML-KEM-768 encapsulation key.
    """
    return _public_key(public).encapsulate()


class MLKEMKeyPair:
    """An ML-KEM-768 key pair (decapsulation key and encapsulation key).

    ``repr()`` never shows key material.
    """

    __slots__ = ("_private", "public")

    def __init__(self, private: MLKEM768PrivateKey) -> None:
        self._private = private
        self.public: bytes = private.public_key().public_bytes_raw()
        """The 1,184-byte encapsulation key."""

    @classmethod
    def generate(cls, rng: RandomSource) -> MLKEMKeyPair:
        """A fresh key pair from 64 bytes of ``rng`` (the seed ``d || z``)."""
        return cls.from_seed(rng(SEED_SIZE))

    @classmethod
    def from_seed(cls, seed: bytes) -> MLKEMKeyPair:
        """The key pair of a 64-byte FIPS 203 seed ``d || z``.

        Raises:
            ValueError: ``seed`` is not 64 bytes.
        """
        if len(seed) != SEED_SIZE:
            raise ValueError(f"an ML-KEM seed is {SEED_SIZE} bytes")
        return cls(MLKEM768PrivateKey.from_seed_bytes(seed))

    def decapsulate(self, ciphertext: bytes) -> bytes:
        """Return the 32-byte shared secret of ``ciphertext``.

        A forged ciphertext of the right size gives an unrelated secret (implicit rejection).

        Raises:
            AuthenticationError: ``ciphertext`` is not 1,088 bytes.
        """
        if len(ciphertext) != CIPHERTEXT_SIZE:
            raise AuthenticationError
        return self._private.decapsulate(ciphertext)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(public={self.public[:4].hex()}...)"
