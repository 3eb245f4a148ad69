"""Thin, stateless wrappers over pyca/cryptography: the only primitives Quicko2 uses.

- :mod:`quicko.crypto.aead`: AES-256-GCM (:func:`encrypt`, :func:`decrypt`).
- :mod:`quicko.crypto.kdf`: HKDF-SHA256 with versioned labels, HMAC-SHA256, SHA-256 and the
  unambiguous length-prefixed field encoding.
- :mod:`quicko.crypto.x25519`: X25519 key agreement that rejects low-order keys.
- :mod:`quicko.crypto.ed25519`: Ed25519 signatures.
- :mod:`quicko.crypto.random`: :data:`RandomSource`, the type of injected randomness.
- :mod:`quicko.crypto.mlkem`: ML-KEM-768 (FIPS 203) key encapsulation (:class:`MLKEMKeyPair`;
  ``from quicko.crypto import mlkem`` for :func:`~quicko.crypto.mlkem.encapsulate` and sizes).
- :mod:`quicko.crypto.cpace`: the CPace PAKE (CPACE-X25519-SHA512). Its names are not
  re-exported here (``lv_cat``, ``DSI``… mean nothing out of context): use
  ``from quicko.crypto import cpace`` and call ``cpace.calculate_generator(…)``.

Nothing here does I/O or reads the OS random source: randomness is an argument (one exception:
ML-KEM encapsulation draws its message inside OpenSSL, see :mod:`quicko.crypto.mlkem`). Security
outcomes raise :class:`~quicko.errors.AuthenticationError` or
:class:`~quicko.errors.InvalidKeyError`; misuse by our own code raises ``ValueError``.

The X25519 and Ed25519 size constants share names in their modules, so the package re-exports
them with a prefix (``X25519_PUBLIC_KEY_SIZE``, ``ED25519_PUBLIC_KEY_SIZE``, …). Note that the
package attribute ``x25519`` is the *function*; import the module's names with
``from quicko.crypto.x25519 import …``.
"""

from __future__ import annotations

from quicko.crypto.aead import KEY_SIZE, NONCE_SIZE, TAG_SIZE, decrypt, encrypt
from quicko.crypto.ed25519 import PUBLIC_KEY_SIZE as ED25519_PUBLIC_KEY_SIZE
from quicko.crypto.ed25519 import SEED_SIZE as ED25519_SEED_SIZE
from quicko.crypto.ed25519 import SIGNATURE_SIZE as ED25519_SIGNATURE_SIZE
from quicko.crypto.ed25519 import Ed25519KeyPair, verify
from quicko.crypto.kdf import (
    HKDF_MAX_LENGTH,
    LABEL_PREFIX,
    encode_fields,
    hkdf_sha256,
    hmac_sha256,
    label,
    sha256,
)
from quicko.crypto.mlkem import MLKEMKeyPair
from quicko.crypto.random import RandomSource
from quicko.crypto.x25519 import PRIVATE_KEY_SIZE as X25519_PRIVATE_KEY_SIZE
from quicko.crypto.x25519 import PUBLIC_KEY_SIZE as X25519_PUBLIC_KEY_SIZE
from quicko.crypto.x25519 import X25519KeyPair, x25519

__all__ = [
    "ED25519_PUBLIC_KEY_SIZE",
    "ED25519_SEED_SIZE",
    "ED25519_SIGNATURE_SIZE",
    "HKDF_MAX_LENGTH",
    "KEY_SIZE",
    "LABEL_PREFIX",
    "NONCE_SIZE",
    "TAG_SIZE",
    "X25519_PRIVATE_KEY_SIZE",
    "X25519_PUBLIC_KEY_SIZE",
    "Ed25519KeyPair",
    "MLKEMKeyPair",
    "RandomSource",
    "X25519KeyPair",
    "decrypt",
    "encode_fields",
    "encrypt",
    "hkdf_sha256",
    "hmac_sha256",
    "label",
    "sha256",
    "verify",
    "x25519",
]
