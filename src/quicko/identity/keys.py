"""Identities: the private side (:class:`Identity`) and the public side (:class:`PublicIdentity`).

From the 16-byte root secret, HKDF-SHA256 with distinct, versioned labels derives a 32-byte
X25519 private key and a 32-byte Ed25519 seed (DESIGN.md §4.1). The public side is the
address and the two public keys; it is all anyone else ever sees, and its address commits to
its keys, so a :class:`PublicIdentity` is checked when it is made.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from quicko.crypto import Ed25519KeyPair, RandomSource, X25519KeyPair, kdf
from quicko.errors import InvalidKeyError
from quicko.identity.address import (
    PUBLIC_KEY_BYTES,
    compute_address,
    format_quickokey,
    verify_address,
)
from quicko.identity.names import display_name
from quicko.identity.seed import RootSecret, parse_seed_phrase

__all__ = [
    "ED25519_SEED_LABEL",
    "KEY_SEED_BYTES",
    "X25519_SEED_LABEL",
    "Identity",
    "PublicIdentity",
    "derive_key_pairs",
]

KEY_SEED_BYTES: Final = 32
"""Size of each derived private key seed, in bytes."""

X25519_SEED_LABEL: Final = kdf.identity_label("identity/x25519")
"""HKDF info label of the X25519 private key."""

ED25519_SEED_LABEL: Final = kdf.identity_label("identity/ed25519")
"""HKDF info label of the Ed25519 seed."""


def derive_key_pairs(root: RootSecret) -> tuple[X25519KeyPair, Ed25519KeyPair]:
    """Derive the X25519 and Ed25519 key pairs of a root secret.

    Raises:
        ValueError: the root secret has been wiped.
    """
    # kdf.hkdf_sha256 takes bytes, so the root is copied briefly; the copies die here.
    ikm = root.to_bytes()
    x25519_seed = kdf.hkdf_sha256(ikm, salt=None, info=X25519_SEED_LABEL, length=KEY_SEED_BYTES)
    ed25519_seed = kdf.hkdf_sha256(ikm, salt=None, info=ED25519_SEED_LABEL, length=KEY_SEED_BYTES)
    return X25519KeyPair.from_private_bytes(x25519_seed), Ed25519KeyPair.from_seed(ed25519_seed)


def _check_public_keys(*keys: bytes) -> None:
    """Raise :class:`InvalidKeyError` unless every key is a 32-byte ``bytes``."""
    for key in keys:
        if not isinstance(key, bytes) or len(key) != PUBLIC_KEY_BYTES:
            raise InvalidKeyError(f"a public key must be {PUBLIC_KEY_BYTES} bytes")


@dataclass(frozen=True, slots=True, repr=False)
class PublicIdentity:
    """The public side of an identity: an address and the two public keys it commits to.

    Construction checks that the address is the hash of the keys, so every instance is
    consistent; build one from keys alone with :meth:`from_keys`.

    Attributes:
        address: the 16-byte QuickoKey address.
        x25519_public: the 32-byte X25519 public key (key agreement).
        ed25519_public: the 32-byte Ed25519 public key (signatures).

    Raises:
        InvalidKeyError: a public key does not have 32 bytes.
        AuthenticationError: the address is not the address of the keys.
    """

    address: bytes
    x25519_public: bytes
    ed25519_public: bytes

    def __post_init__(self) -> None:
        _check_public_keys(self.x25519_public, self.ed25519_public)
        self.verify()

    @classmethod
    def from_keys(cls, x25519_public: bytes, ed25519_public: bytes) -> PublicIdentity:
        """Return the public identity of two public keys, computing their address.

        Raises:
            InvalidKeyError: a public key does not have 32 bytes.
        """
        _check_public_keys(x25519_public, ed25519_public)
        return cls(compute_address(x25519_public, ed25519_public), x25519_public, ed25519_public)

    def verify(self) -> None:
        """Check again that the address is the address of the keys.

        Raises:
            AuthenticationError: it is not.
        """
        verify_address(self.address, self.x25519_public, self.ed25519_public)

    @property
    def quickokey(self) -> str:
        """The address written as ``QK-XXXX-…-XXXX``."""
        return format_quickokey(self.address)

    @property
    def display_name(self) -> str:
        """The display name derived from the address, such as ``"Swift Falcon #7A3F"``."""
        return display_name(self.address)

    def __repr__(self) -> str:
        return f"PublicIdentity({self.quickokey}, {self.display_name!r})"


class Identity:
    """The private side of an identity: the root secret and the key pairs derived from it.

    Keep an ``Identity`` in memory only; the seed phrase is its only backup. Call
    :meth:`wipe` when done with it. ``repr()`` shows the public QuickoKey only.
    """

    __slots__ = ("_ed25519", "_public", "_root", "_x25519")

    def __init__(self, root: RootSecret) -> None:
        """Derive an identity from ``root``, keeping a private copy of it.

        Raises:
            ValueError: ``root`` has been wiped.
        """
        self._root: RootSecret = root.copy()
        x25519, ed25519 = derive_key_pairs(self._root)
        self._x25519: X25519KeyPair | None = x25519
        self._ed25519: Ed25519KeyPair | None = ed25519
        self._public = PublicIdentity.from_keys(x25519.public, ed25519.public)

    @classmethod
    def generate(cls, rng: RandomSource) -> Identity:
        """Return a new identity from a fresh root: 15 random bytes and their checksum.

        Its seed phrase passes the checksum of :func:`parse_seed_phrase` (docs/protocol.md
        §6.2); :meth:`from_root` takes any 16 bytes, whose phrase may not.
        """
        root = RootSecret.generate(rng)
        try:
            return cls(root)
        finally:
            root.wipe()

    @classmethod
    def from_root(cls, root: RootSecret | bytes | bytearray) -> Identity:
        """Return the identity of a root secret (copied; the caller still owns ``root``).

        Raises:
            ValueError: ``root`` has the wrong length or has been wiped.
        """
        if isinstance(root, RootSecret):
            return cls(root)
        secret = RootSecret(root)
        try:
            return cls(secret)
        finally:
            secret.wipe()

    @classmethod
    def from_seed_phrase(cls, text: str) -> Identity:
        """Recover the identity a seed phrase encodes.

        Raises:
            SeedPhraseError: the phrase is not valid; the message says how to fix it.
        """
        root = parse_seed_phrase(text)
        try:
            return cls(root)
        finally:
            root.wipe()

    @property
    def public(self) -> PublicIdentity:
        """The public side: address and public keys."""
        return self._public

    @property
    def address(self) -> bytes:
        """The 16-byte address."""
        return self._public.address

    @property
    def quickokey(self) -> str:
        """The address written as ``QK-XXXX-…-XXXX``."""
        return self._public.quickokey

    @property
    def display_name(self) -> str:
        """The display name derived from the address."""
        return self._public.display_name

    @property
    def seed_phrase(self) -> list[str]:
        """The 16 words that back this identity up.

        Raises:
            ValueError: the identity has been wiped.
        """
        return self._root.seed_phrase()

    @property
    def root(self) -> RootSecret:
        """A copy of the root secret; wipe it when done.

        Raises:
            ValueError: the identity has been wiped.
        """
        return self._root.copy()

    @property
    def x25519(self) -> X25519KeyPair:
        """The X25519 key pair (key agreement).

        Raises:
            ValueError: the identity has been wiped.
        """
        if self._x25519 is None:
            raise ValueError("the identity has been wiped")
        return self._x25519

    @property
    def ed25519(self) -> Ed25519KeyPair:
        """The Ed25519 key pair (signatures).

        Raises:
            ValueError: the identity has been wiped.
        """
        if self._ed25519 is None:
            raise ValueError("the identity has been wiped")
        return self._ed25519

    def sign(self, message: bytes) -> bytes:
        """Sign ``message`` with the Ed25519 key; check with :func:`quicko.crypto.verify`."""
        return self.ed25519.sign(message)

    def exchange(self, peer_public: bytes) -> bytes:
        """Return the X25519 shared secret with ``peer_public``.

        Raises:
            InvalidKeyError: the peer key is malformed or of low order.
        """
        return self.x25519.exchange(peer_public)

    @property
    def wiped(self) -> bool:
        """Whether :meth:`wipe` has been called."""
        return self._root.wiped

    def wipe(self) -> None:
        """Zero the root secret and drop the key pairs (OpenSSL frees their keys with them)."""
        self._root.wipe()
        self._x25519 = None
        self._ed25519 = None

    def __repr__(self) -> str:
        state = ", wiped" if self.wiped else ""
        return f"<Identity {self.quickokey} {self.display_name!r}{state}>"
