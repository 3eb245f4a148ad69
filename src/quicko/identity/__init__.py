"""Identities, QuickoKey addresses, seed phrases, display names, invite codes, safety numbers.

Everything here is pure (DESIGN.md §3): no I/O, and randomness is an ``rng`` argument
(:data:`quicko.crypto.RandomSource`); the edge passes the OS CSPRNG
(:func:`os.urandom`, or :func:`secrets.token_bytes`, which returns the same).

- :class:`RootSecret`: the 16-byte root secret, written down as a 16-word seed phrase
  (:func:`parse_seed_phrase`, :func:`normalize_seed_phrase`, :func:`seed_phrase_words`)
  whose last word is a checksum (:func:`seed_checksum`); :func:`seed_word` and
  :func:`seed_word_suggestions` check one word as it is typed.
- :class:`Identity`: the private side (root secret, X25519 and Ed25519 key pairs derived
  with HKDF); :class:`PublicIdentity`: the address and the public keys it commits to.
- QuickoKey addresses (:func:`compute_address`, :func:`verify_address`,
  :func:`format_quickokey`, :func:`parse_quickokey`) and display names (:func:`display_name`,
  :func:`shown_name` with a peer's claim labelled, :func:`claimed_name`).
- Invite codes (:class:`InviteCode`, :func:`parse_invite_code`, :func:`is_valid_nameplate`).
- Safety numbers (:func:`safety_number`, per-party :func:`fingerprint`, and
  :func:`safety_number_lines` to show one on two lines).
"""

from __future__ import annotations

from quicko.identity.address import (
    ADDRESS_BYTES,
    PUBLIC_KEY_BYTES,
    QUICKOKEY_EXAMPLE,
    compute_address,
    format_quickokey,
    parse_quickokey,
    verify_address,
)
from quicko.identity.invite import (
    CROCKFORD_ALPHABET,
    INVITE_CODE_BYTES,
    InviteCode,
    is_valid_nameplate,
    parse_invite_code,
)
from quicko.identity.keys import Identity, PublicIdentity, derive_key_pairs
from quicko.identity.names import claimed_name, display_name, shown_name
from quicko.identity.safety import fingerprint, safety_number, safety_number_lines
from quicko.identity.seed import (
    CHECKSUM_MESSAGE,
    ROOT_SECRET_BYTES,
    SEED_PHRASE_WORDS,
    RootSecret,
    has_valid_checksum,
    normalize_seed_phrase,
    parse_seed_phrase,
    seed_checksum,
    seed_phrase_words,
    seed_word,
    seed_word_suggestions,
)
from quicko.identity.wordlist import WORDS

__all__ = [
    "ADDRESS_BYTES",
    "CHECKSUM_MESSAGE",
    "CROCKFORD_ALPHABET",
    "INVITE_CODE_BYTES",
    "PUBLIC_KEY_BYTES",
    "QUICKOKEY_EXAMPLE",
    "ROOT_SECRET_BYTES",
    "SEED_PHRASE_WORDS",
    "WORDS",
    "Identity",
    "InviteCode",
    "PublicIdentity",
    "RootSecret",
    "claimed_name",
    "compute_address",
    "derive_key_pairs",
    "display_name",
    "fingerprint",
    "format_quickokey",
    "has_valid_checksum",
    "is_valid_nameplate",
    "normalize_seed_phrase",
    "parse_invite_code",
    "parse_quickokey",
    "parse_seed_phrase",
    "safety_number",
    "safety_number_lines",
    "seed_checksum",
    "seed_phrase_words",
    "seed_word",
    "seed_word_suggestions",
    "shown_name",
    "verify_address",
]
