from __future__ import annotations

import dataclasses

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given, settings
from hypothesis import strategies as st

from quicko.crypto import ed25519
from quicko.errors import AuthenticationError, InvalidKeyError, SeedPhraseError
from quicko.identity import (
    Identity,
    PublicIdentity,
    RootSecret,
    compute_address,
    display_name,
    format_quickokey,
    verify_address,
)
from quicko.identity.keys import ED25519_SEED_LABEL, X25519_SEED_LABEL, derive_key_pairs

ROOT = bytes(range(16))  # any 16 bytes derive keys; this one fails the phrase checksum
VALID_ROOT = bytes([*range(15), 0xAE])  # 0x00…0x0e and their checksum (§6.2)
QUICKOKEY = "QK-0C85-ACA8-D45E-5305-D081-6B0F-C71B-C0A5"
NAME = "Fiery Loon #E664"


def hkdf(ikm: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(ikm)


def raw(key: X25519PrivateKey | Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def test_labels() -> None:
    assert X25519_SEED_LABEL == b"quicko2/v2/identity/x25519"
    assert ED25519_SEED_LABEL == b"quicko2/v2/identity/ed25519"


def test_derivation_matches_an_independent_hkdf() -> None:
    x25519, ed = derive_key_pairs(RootSecret(ROOT))
    expected_x = raw(X25519PrivateKey.from_private_bytes(hkdf(ROOT, X25519_SEED_LABEL)))
    expected_ed = raw(Ed25519PrivateKey.from_private_bytes(hkdf(ROOT, ED25519_SEED_LABEL)))
    assert x25519.public == expected_x
    assert ed.public == expected_ed
    assert expected_x != expected_ed


def test_known_answer() -> None:
    identity = Identity.from_root(ROOT)
    assert identity.quickokey == QUICKOKEY
    assert identity.display_name == NAME
    assert identity.public.x25519_public.hex() == (
        "977a38f793f0be3f7963370e7aeaa8afde185c4029ed0fd1c810906beb365d38"
    )
    assert identity.public.ed25519_public.hex() == (
        "3e5f27ec468c97d2706f9cbad93fc474ba10577e94f3e7fe9ccf2983b6e48fed"
    )


def test_address_and_name_come_from_public_keys_only() -> None:
    identity = Identity.from_root(ROOT)
    public = PublicIdentity.from_keys(identity.public.x25519_public, identity.public.ed25519_public)
    assert public == identity.public
    assert public.quickokey == identity.quickokey == QUICKOKEY
    assert public.display_name == identity.display_name == NAME
    assert display_name(public.address) == NAME
    assert identity.address == public.address


def test_generate_uses_rng_and_makes_a_root_with_its_checksum() -> None:
    identity = Identity.generate(lambda n: ROOT[:n])
    assert identity.root.to_bytes() == VALID_ROOT
    assert identity.public == Identity.from_root(VALID_ROOT).public
    assert Identity.from_seed_phrase(" ".join(identity.seed_phrase)).public == identity.public


def test_a_phrase_of_a_root_without_its_checksum_is_refused() -> None:
    with pytest.raises(SeedPhraseError, match="not a valid QuickoKey phrase"):
        Identity.from_seed_phrase(" ".join(Identity.from_root(ROOT).seed_phrase))


def test_from_seed_phrase_recovers_the_same_identity() -> None:
    original = Identity.from_root(VALID_ROOT)
    recovered = Identity.from_seed_phrase(" ".join(original.seed_phrase))
    assert recovered.public == original.public
    assert recovered.seed_phrase == original.seed_phrase


def test_from_seed_phrase_reports_bad_words() -> None:
    with pytest.raises(SeedPhraseError, match="expected 16 words, got 1"):
        Identity.from_seed_phrase("abandon")


@settings(max_examples=25)
@given(st.binary(min_size=16, max_size=16))
def test_round_trip_root_phrase_identity(entropy: bytes) -> None:
    identity = Identity.generate(lambda n: entropy[:n])
    root = identity.root.to_bytes()
    recovered = Identity.from_seed_phrase(" ".join(identity.seed_phrase))
    assert recovered.quickokey == identity.quickokey
    assert recovered.root.to_bytes() == root


def test_from_root_accepts_root_secret_and_copies_it() -> None:
    secret = RootSecret(ROOT)
    identity = Identity.from_root(secret)
    secret.wipe()
    assert identity.quickokey == QUICKOKEY
    assert identity.root.to_bytes() == ROOT
    assert Identity.from_root(bytearray(ROOT)).quickokey == QUICKOKEY


def test_from_root_rejects_bad_roots() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        Identity.from_root(bytes(15))
    secret = RootSecret(ROOT)
    secret.wipe()
    with pytest.raises(ValueError, match="wiped"):
        Identity.from_root(secret)


def test_root_property_returns_a_copy() -> None:
    identity = Identity.from_root(ROOT)
    identity.root.wipe()
    assert identity.seed_phrase[0] == "abandon"


def test_sign_and_exchange() -> None:
    alice = Identity.from_root(ROOT)
    bob = Identity.from_root(bytes([7] * 16))
    signature = alice.sign(b"hello")
    ed25519.verify(alice.public.ed25519_public, signature, b"hello")
    with pytest.raises(AuthenticationError):
        ed25519.verify(bob.public.ed25519_public, signature, b"hello")
    shared = alice.exchange(bob.public.x25519_public)
    assert shared == bob.exchange(alice.public.x25519_public)
    assert alice.x25519.public == alice.public.x25519_public
    assert alice.ed25519.public == alice.public.ed25519_public
    with pytest.raises(InvalidKeyError):
        alice.exchange(bytes(32))


def test_wipe() -> None:
    identity = Identity.from_root(ROOT)
    states = [identity.wiped]
    identity.wipe()
    states.append(identity.wiped)
    assert states == [False, True]
    for use in (
        lambda: identity.seed_phrase,
        lambda: identity.root,
        lambda: identity.x25519,
        lambda: identity.ed25519,
        lambda: identity.sign(b"x"),
        lambda: identity.exchange(bytes(32)),
    ):
        with pytest.raises(ValueError, match="wiped"):
            use()
    assert identity.quickokey == QUICKOKEY  # the public side stays usable
    assert "wiped" in repr(identity)


def test_repr_shows_no_secret() -> None:
    identity = Identity.from_root(ROOT)
    text = repr(identity) + str(identity)
    assert QUICKOKEY in text
    assert NAME in text
    assert ROOT.hex() not in text
    assert not any(word in text for word in identity.seed_phrase)
    assert repr(identity.public) == f"PublicIdentity({QUICKOKEY}, {NAME!r})"


# -- PublicIdentity


def test_public_identity_is_frozen_and_hashable() -> None:
    public = Identity.from_root(ROOT).public
    with pytest.raises(dataclasses.FrozenInstanceError):
        public.address = bytes(16)  # type: ignore[misc]
    assert hash(public) == hash(
        PublicIdentity.from_keys(public.x25519_public, public.ed25519_public)
    )


def test_public_identity_checks_its_address() -> None:
    alice = Identity.from_root(ROOT).public
    bob = Identity.from_root(bytes(16)).public
    alice.verify()
    with pytest.raises(AuthenticationError):
        PublicIdentity(alice.address, bob.x25519_public, alice.ed25519_public)
    with pytest.raises(AuthenticationError):
        PublicIdentity(bob.address, alice.x25519_public, alice.ed25519_public)
    with pytest.raises(AuthenticationError):
        PublicIdentity(alice.address[:15], alice.x25519_public, alice.ed25519_public)


def test_verify_address_function_rejects_a_substituted_key() -> None:
    alice = Identity.from_root(ROOT).public
    bob = Identity.from_root(bytes(16)).public
    verify_address(alice.address, alice.x25519_public, alice.ed25519_public)
    with pytest.raises(AuthenticationError):
        verify_address(alice.address, alice.x25519_public, bob.ed25519_public)


@pytest.mark.parametrize("bad", [b"", bytes(31), bytes(33), bytearray(32)])
def test_public_identity_rejects_malformed_keys(bad: bytes) -> None:
    good = bytes(range(32))
    with pytest.raises(InvalidKeyError, match="32 bytes"):
        PublicIdentity.from_keys(bad, good)
    with pytest.raises(InvalidKeyError, match="32 bytes"):
        PublicIdentity.from_keys(good, bad)
    with pytest.raises(InvalidKeyError):
        PublicIdentity(bytes(16), bad, good)


def test_public_identity_properties() -> None:
    x, ed = bytes(range(32)), bytes(range(32, 64))
    public = PublicIdentity.from_keys(x, ed)
    assert public.address == compute_address(x, ed)
    assert public.quickokey == format_quickokey(public.address)
    assert public.display_name == display_name(public.address)
