"""Identity bundles: encoding, signing, and every way verification refuses."""

from __future__ import annotations

import dataclasses

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st
from session_pump import SeededRng, identity

from quicko.crypto import kdf
from quicko.errors import AuthenticationError, MalformedFrameError
from quicko.session.bundle import (
    BUNDLE_LABEL,
    MAX_BUNDLE_BYTES,
    HandshakeKeys,
    IdentityBundle,
    bundle_context,
    bundle_transcript,
    call_context,
    make_bundle,
    member_init_context,
    pake_creator_context,
    pake_joiner_context,
    unpack_array,
    verify_bundle,
)

SESSION_ID = bytes(range(16))
KEM = b"k" * 1184
ALICE = identity("alice")
EPHEMERAL = HandshakeKeys.generate(SeededRng(b"ephemeral"))


def alice_bundle(context: bytes = SESSION_ID) -> IdentityBundle:
    return make_bundle(ALICE, EPHEMERAL, context)


def test_make_and_verify() -> None:
    bundle = alice_bundle()
    assert bundle.address == ALICE.address
    assert bundle.display_name == ALICE.display_name
    assert (bundle.x25519_public, bundle.ed25519_public) == (
        ALICE.public.x25519_public,
        ALICE.public.ed25519_public,
    )
    assert bundle.ephemeral_public == EPHEMERAL.ephemeral.public
    assert bundle.kem_public == EPHEMERAL.kem.public
    assert len(bundle.kem_public) == 1184
    assert verify_bundle(bundle, SESSION_ID, expected_address=ALICE.address) is bundle
    assert bundle.public_identity == ALICE.public
    assert bundle.same_identity(ALICE.public)
    assert not bundle.same_identity(identity("bob").public)


def test_signature_covers_the_documented_transcript() -> None:
    bundle = alice_bundle()
    expected = kdf.encode_fields(
        b"quicko2/v4/bundle",
        SESSION_ID,
        ALICE.address,
        ALICE.display_name.encode(),
        ALICE.public.x25519_public,
        ALICE.public.ed25519_public,
        EPHEMERAL.ephemeral.public,
        EPHEMERAL.kem.public,
    )
    assert BUNDLE_LABEL == b"quicko2/v4/bundle"
    transcript = bundle_transcript(
        SESSION_ID,
        address=bundle.address,
        display_name=bundle.display_name,
        x25519_public=bundle.x25519_public,
        ed25519_public=bundle.ed25519_public,
        ephemeral_public=bundle.ephemeral_public,
        kem_public=bundle.kem_public,
    )
    assert transcript == expected
    assert bundle.signature == ALICE.sign(expected)


def test_encoding_is_the_documented_array_and_round_trips() -> None:
    bundle = alice_bundle()
    data = bundle.encode()
    assert msgpack.unpackb(data) == [
        ALICE.address,
        ALICE.display_name,
        ALICE.public.x25519_public,
        ALICE.public.ed25519_public,
        EPHEMERAL.ephemeral.public,
        EPHEMERAL.kem.public,
        bundle.signature,
    ]
    assert IdentityBundle.decode(data) == bundle
    assert repr(bundle).startswith("IdentityBundle(")
    assert ALICE.address.hex() not in repr(bundle)
    assert bundle.signature.hex() not in repr(bundle)


@pytest.mark.parametrize(
    "field",
    ["display_name", "x25519_public", "ed25519_public", "ephemeral_public", "kem_public",
     "signature"],
)  # fmt: skip
def test_any_changed_field_fails(field: str) -> None:
    bundle = alice_bundle()
    value = getattr(bundle, field)
    changed = value + "!" if isinstance(value, str) else bytes([value[0] ^ 1]) + value[1:]
    tampered = dataclasses.replace(bundle)
    object.__setattr__(tampered, field, changed)  # frozen dataclass: build the tampered copy
    with pytest.raises(AuthenticationError):
        verify_bundle(
            tampered,
            SESSION_ID,
            expected_address=ALICE.address,
        )


def test_a_substituted_kem_key_fails() -> None:
    """A relay swapping in its own (valid) ML-KEM key, to decapsulate the initiator's secret."""
    bundle = alice_bundle()
    relay_keys = HandshakeKeys.generate(SeededRng(b"relay"))
    swapped = dataclasses.replace(bundle, kem_public=relay_keys.kem.public)
    with pytest.raises(AuthenticationError):
        verify_bundle(swapped, SESSION_ID, expected_address=ALICE.address)
    # The same substitution through the wire encoding.
    items = msgpack.unpackb(bundle.encode())
    items[5] = relay_keys.kem.public
    decoded = IdentityBundle.decode(msgpack.packb(items, use_bin_type=True))
    with pytest.raises(AuthenticationError):
        verify_bundle(decoded, SESSION_ID, expected_address=ALICE.address)


def test_a_signed_but_invalid_kem_key_fails() -> None:
    """FIPS 203's modulus check runs at verification: 0xFFF coefficients are not below q."""
    bad = b"\xff" * 1184
    public = ALICE.public
    signature = ALICE.sign(
        bundle_transcript(SESSION_ID, address=public.address, display_name="a",
                          x25519_public=public.x25519_public, ed25519_public=public.ed25519_public,
                          ephemeral_public=EPHEMERAL.ephemeral.public, kem_public=bad)
    )  # fmt: skip
    bundle = IdentityBundle(public.address, "a", public.x25519_public, public.ed25519_public,
                            EPHEMERAL.ephemeral.public, bad, signature)  # fmt: skip
    with pytest.raises(AuthenticationError):
        verify_bundle(bundle, SESSION_ID, expected_address=ALICE.address)


def test_size_cap_holds_the_largest_bundle() -> None:
    longest = make_bundle(ALICE, EPHEMERAL, SESSION_ID, display_name="\U0001f600" * 64)
    assert len(alice_bundle().encode()) < len(longest.encode()) == 1633 <= MAX_BUNDLE_BYTES
    assert verify_bundle(IdentityBundle.decode(longest.encode()), SESSION_ID,
                         expected_address=ALICE.address) == longest  # fmt: skip
    with pytest.raises(MalformedFrameError, match="too large"):
        IdentityBundle.decode(longest.encode() + bytes(MAX_BUNDLE_BYTES))


def test_wrong_context_or_expected_address_fails() -> None:
    bundle = alice_bundle()
    with pytest.raises(AuthenticationError):
        verify_bundle(bundle, bytes(16), expected_address=ALICE.address)
    with pytest.raises(AuthenticationError):
        verify_bundle(bundle, SESSION_ID, expected_address=identity("bob").address)
    with pytest.raises(AuthenticationError):
        verify_bundle(bundle, SESSION_ID, expected_address=b"")


def test_a_key_substituted_under_the_same_address_fails() -> None:
    evil = identity("evil")
    forged = make_bundle(evil, EPHEMERAL, SESSION_ID)
    forged = dataclasses.replace(forged, address=ALICE.address)
    with pytest.raises(AuthenticationError):
        verify_bundle(forged, SESSION_ID, expected_address=ALICE.address)
    with pytest.raises(AuthenticationError):
        _ = forged.public_identity


def test_contexts_bind_purpose_scope_and_recipient() -> None:
    caller, callee = ALICE.address, identity("bob").address
    carol = identity("carol").address
    assert member_init_context(SESSION_ID, callee) == kdf.encode_fields(
        b"member-init", SESSION_ID, callee
    )
    assert call_context(SESSION_ID, caller, callee, recipient=callee) == bundle_context(
        b"call", kdf.encode_fields(SESSION_ID, caller, callee), callee
    )
    assert pake_joiner_context(SESSION_ID) == kdf.encode_fields(b"pake-joiner", SESSION_ID, b"")
    assert pake_creator_context(SESSION_ID, callee) == kdf.encode_fields(
        b"pake-creator", SESSION_ID, callee
    )
    contexts = [
        call_context(SESSION_ID, caller, callee, recipient=callee),
        call_context(SESSION_ID, caller, callee, recipient=caller),
        call_context(SESSION_ID, callee, caller, recipient=callee),
        member_init_context(SESSION_ID, callee),
        member_init_context(SESSION_ID, carol),
        pake_joiner_context(SESSION_ID),
        pake_creator_context(SESSION_ID, callee),
    ]
    assert len(set(contexts)) == len(contexts)
    # A bundle made for one of them verifies for no other: not another purpose, scope or
    # recipient (a MEMBER_INIT for Bob replayed to Carol fails).
    for made_for in contexts:
        bundle = alice_bundle(made_for)
        for other in contexts:
            if other != made_for:
                with pytest.raises(AuthenticationError):
                    verify_bundle(bundle, other, expected_address=caller)


def test_custom_display_name_is_signed() -> None:
    bundle = make_bundle(ALICE, EPHEMERAL, SESSION_ID, display_name="Alice")
    assert verify_bundle(bundle, SESSION_ID, expected_address=ALICE.address).display_name == "Alice"


@pytest.mark.parametrize(
    "items",
    [
        [],
        [b"\x00" * 16, "n", b"k" * 32, b"k" * 32, b"k" * 32, b"s" * 64],  # v3 before ML-KEM
        [b"\x00" * 16, "n", b"k" * 32, b"k" * 32, b"k" * 32, KEM, b"s" * 64, b""],
        [b"\x00" * 15, "n", b"k" * 32, b"k" * 32, b"k" * 32, KEM, b"s" * 64],
        [b"\x00" * 16, 7, b"k" * 32, b"k" * 32, b"k" * 32, KEM, b"s" * 64],
        [b"\x00" * 16, "x" * 65, b"k" * 32, b"k" * 32, b"k" * 32, KEM, b"s" * 64],
        [b"\x00" * 16, "bell\x07", b"k" * 32, b"k" * 32, b"k" * 32, KEM, b"s" * 64],
        [b"\x00" * 16, "n", "k" * 32, b"k" * 32, b"k" * 32, KEM, b"s" * 64],
        [b"\x00" * 16, "n", b"k" * 32, b"k" * 32, b"k" * 32, KEM, b"s" * 63],
        [b"\x00" * 16, "n", b"k" * 32, b"k" * 32, b"k" * 32, KEM[:-1], b"s" * 64],
        [b"\x00" * 16, "n", b"k" * 32, b"k" * 32, b"k" * 32, KEM + b"k", b"s" * 64],
        [b"\x00" * 16, "n", b"k" * 32, b"k" * 32, b"k" * 32, "k" * 1184, b"s" * 64],
    ],
)
def test_decode_refuses_malformed_shapes(items: list[object]) -> None:
    with pytest.raises(MalformedFrameError):
        IdentityBundle.decode(msgpack.packb(items, use_bin_type=True))


def test_unpack_array_limits() -> None:
    assert unpack_array(msgpack.packb([1, 2]), max_items=2, max_bytes=10, what="x") == [1, 2]
    with pytest.raises(MalformedFrameError, match="too large"):
        unpack_array(b"\x90" * 11, max_items=2, max_bytes=10, what="x")
    with pytest.raises(MalformedFrameError, match="MessagePack"):
        unpack_array(msgpack.packb([1, 2, 3]), max_items=2, max_bytes=10, what="x")
    with pytest.raises(MalformedFrameError, match="array"):
        unpack_array(msgpack.packb(5), max_items=2, max_bytes=10, what="x")
    with pytest.raises(MalformedFrameError):
        unpack_array(msgpack.packb({1: 2}), max_items=2, max_bytes=10, what="x")


@given(st.binary(max_size=600))
def test_decode_of_arbitrary_bytes_is_a_bundle_or_malformed(data: bytes) -> None:
    try:
        bundle = IdentityBundle.decode(data)
    except MalformedFrameError:
        return
    with pytest.raises(AuthenticationError):
        verify_bundle(bundle, SESSION_ID, expected_address=bundle.address)
