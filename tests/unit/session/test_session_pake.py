"""The invite-code PAKE: both sides of an attempt, wrong passwords, tampering, bad input."""

from __future__ import annotations

import dataclasses

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st
from session_pump import SeededRng, identity

from quicko.crypto import X25519KeyPair, aead, kdf
from quicko.errors import AuthenticationError, MalformedFrameError
from quicko.session.bundle import IdentityBundle, make_bundle
from quicko.session.pake import (
    MAX_PAKE_FAILURES,
    PAKE_MESSAGE_SIZE,
    ConfirmC,
    ConfirmJ,
    CreatorPake,
    HandshakeKind,
    HandshakeMessage,
    JoinerPake,
    MemberInit,
    PakeFail,
    PakeKeys,
    PakeReply,
    PakeStart,
    decode_handshake,
    encode_handshake,
)

SESSION_ID = bytes(range(16))
PASSWORD = "E3TV"
JOINER, CREATOR, MEMBER = identity("bob"), identity("alice"), identity("carol")


def bundle_of(who: object, seed: bytes) -> IdentityBundle:
    assert hasattr(who, "address")
    return make_bundle(who, X25519KeyPair.generate(SeededRng(seed)), SESSION_ID)  # type: ignore[arg-type]


def attempt(
    joiner_password: str = PASSWORD,
) -> tuple[JoinerPake, CreatorPake, ConfirmJ]:
    joiner = JoinerPake(joiner_password, SESSION_ID, JOINER.address, SeededRng(b"j"))
    creator = CreatorPake(PASSWORD, SESSION_ID, JOINER.address, joiner.start(), SeededRng(b"c"))
    confirm_j = joiner.receive_reply(creator.reply, bundle_of(JOINER, b"ej"))
    return joiner, creator, confirm_j


def test_a_full_attempt_authenticates_both_sides() -> None:
    joiner, creator, confirm_j = attempt()
    creator.check_confirm(confirm_j)
    joiner_bundle = creator.open_bundle(confirm_j, SESSION_ID)
    assert joiner_bundle.address == JOINER.address
    member = bundle_of(MEMBER, b"em")
    confirm_c = creator.confirm(bundle_of(CREATOR, b"ec"), (member,))
    creator_bundle, vouched = joiner.receive_confirm(confirm_c, CREATOR.address)
    assert creator_bundle.address == CREATOR.address
    assert vouched == (member,)
    assert "E3TV" not in repr(joiner) + repr(creator)


def test_key_schedule_matches_the_documented_derivation() -> None:
    key = bytes(32)
    keys = PakeKeys.derive(key, session_id=SESSION_ID, joiner=b"j" * 16, message_j=b"J",
                           message_c=b"C")  # fmt: skip
    transcript = kdf.encode_fields(SESSION_ID, b"j" * 16, b"J", b"C")
    assert keys.transcript == transcript
    for purpose, value in [
        ("pake/confirm-j", keys.confirm_j),
        ("pake/confirm-c", keys.confirm_c),
        ("pake/seal-j", keys.seal_j),
        ("pake/seal-c", keys.seal_c),
    ]:
        assert value == kdf.hkdf_sha256(key, salt=SESSION_ID, info=kdf.label(purpose), length=32)
    assert keys.mac(keys.confirm_j) == kdf.hmac_sha256(keys.confirm_j, transcript)
    ad = kdf.encode_fields(b"quicko2/v2/pake/seal", transcript)
    sealed = keys.seal(keys.seal_j, b"bundle")
    assert aead.decrypt(keys.seal_j, bytes(12), sealed, ad) == b"bundle"


def test_wrong_password_fails_the_joiner_confirmation() -> None:
    _, creator, confirm_j = attempt("0000")
    with pytest.raises(AuthenticationError):
        creator.check_confirm(confirm_j)


def test_tampered_seals_and_macs_fail() -> None:
    joiner, creator, confirm_j = attempt()
    bad_seal = dataclasses.replace(confirm_j, sealed=confirm_j.sealed[:-1] + b"\x00")
    creator.check_confirm(bad_seal)
    with pytest.raises(AuthenticationError):
        creator.open_bundle(bad_seal, SESSION_ID)
    confirm_c = creator.confirm(bundle_of(CREATOR, b"ec"), ())
    with pytest.raises(AuthenticationError):
        joiner.receive_confirm(dataclasses.replace(confirm_c, mac=bytes(32)), CREATOR.address)
    with pytest.raises(AuthenticationError):
        joiner.receive_confirm(
            dataclasses.replace(confirm_c, sealed=confirm_c.sealed[:-1] + b"\x00"),
            CREATOR.address,
        )
    # The creator's bundle must name the relay-level sender of CONFIRM_C.
    with pytest.raises(AuthenticationError):
        joiner.receive_confirm(confirm_c, MEMBER.address)


def test_the_transcript_binds_the_joiner_address() -> None:
    joiner = JoinerPake(PASSWORD, SESSION_ID, JOINER.address, SeededRng(b"j"))
    # The relay tells the creator the PAKE_START came from someone else.
    creator = CreatorPake(PASSWORD, SESSION_ID, MEMBER.address, joiner.start(), SeededRng(b"c"))
    confirm_j = joiner.receive_reply(creator.reply, bundle_of(JOINER, b"ej"))
    with pytest.raises(AuthenticationError):
        creator.check_confirm(confirm_j)


def test_vouched_bundle_that_does_not_verify_fails_the_confirmation() -> None:
    joiner, creator, _ = attempt()
    member = bundle_of(MEMBER, b"em")
    forged = dataclasses.replace(member, ephemeral_public=bytes(32))
    confirm_c = creator.confirm(bundle_of(CREATOR, b"ec"), (forged,))
    with pytest.raises(AuthenticationError):
        joiner.receive_confirm(confirm_c, CREATOR.address)


def test_joiner_misuse() -> None:
    joiner, creator, _ = attempt()
    with pytest.raises(ValueError, match="already"):
        joiner.receive_reply(creator.reply, bundle_of(JOINER, b"ej"))
    fresh = JoinerPake(PASSWORD, SESSION_ID, JOINER.address, SeededRng(b"k"))
    with pytest.raises(AuthenticationError):
        fresh.receive_confirm(ConfirmC(bytes(32), b""), CREATOR.address)


def test_bad_spake_messages() -> None:
    start = JoinerPake(PASSWORD, SESSION_ID, JOINER.address, SeededRng(b"j")).start()
    for malformed in (b"", b"S" + bytes(31), b"A" + start.pake_message[1:]):
        with pytest.raises(MalformedFrameError):
            CreatorPake(PASSWORD, SESSION_ID, JOINER.address, PakeStart(malformed), SeededRng(b"c"))
    # Not on the curve, the zero element, and a point of small order.
    small_order = bytes.fromhex("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")
    for element in (b"\x02" + bytes(31), bytes(32), small_order):
        with pytest.raises(AuthenticationError):
            CreatorPake(PASSWORD, SESSION_ID, JOINER.address, PakeStart(b"S" + element),
                        SeededRng(b"c"))  # fmt: skip
    joiner = JoinerPake(PASSWORD, SESSION_ID, JOINER.address, SeededRng(b"j"))
    with pytest.raises(AuthenticationError):  # our own message reflected back
        joiner.receive_reply(PakeReply(joiner.start_message), bundle_of(JOINER, b"ej"))


MESSAGES: list[HandshakeMessage] = [
    PakeStart(b"S" + bytes(range(32))),
    PakeReply(b"S" + bytes(range(1, 33))),
    ConfirmJ(b"m" * 32, b"sealed"),
    ConfirmC(b"n" * 32, b"sealed too"),
    PakeFail(2),
    MemberInit(b"bundle"),
]


@pytest.mark.parametrize("message", MESSAGES)
def test_handshake_encoding_round_trips(message: HandshakeMessage) -> None:
    body = encode_handshake(message)
    assert decode_handshake(body) == message
    assert msgpack.unpackb(body)[0] == {
        PakeStart: 1, PakeReply: 2, ConfirmJ: 3, ConfirmC: 4, PakeFail: 5, MemberInit: 6
    }[type(message)]  # fmt: skip
    assert int(HandshakeKind.MEMBER_INIT) == 6 and PAKE_MESSAGE_SIZE == 33


@pytest.mark.parametrize(
    "items",
    [[], [0, b"x"], [7, b"x"], ["1", b"x"], [1], [1, b"S" * 32], [3, b"m" * 31, b""],
     [3, b"m" * 32], [5, MAX_PAKE_FAILURES + 1], [5, -1], [5, "2"], [6, "bundle"]],
)  # fmt: skip
def test_handshake_decoding_refuses_bad_shapes(items: list[object]) -> None:
    with pytest.raises(MalformedFrameError):
        decode_handshake(msgpack.packb(items, use_bin_type=True))


@given(st.binary(max_size=200))
def test_decoding_arbitrary_bodies_is_a_message_or_malformed(body: bytes) -> None:
    try:
        message = decode_handshake(body)
    except MalformedFrameError:
        return
    assert decode_handshake(encode_handshake(message)) == message


@pytest.mark.parametrize(
    "content",
    [
        [b"bundle"],  # not [bundle, [bundles]]
        ["bundle", []],  # the creator's bundle is not bytes
        [b"bundle", b"not a list"],
        [bundle_of(CREATOR, b"ec").encode(), ["not bytes"]],  # a vouched bundle is not bytes
    ],
)
def test_sealed_confirmation_of_the_wrong_shape_is_malformed(content: list[object]) -> None:
    joiner, creator, _ = attempt()
    keys = creator._keys  # the creator's real keys: only the sealed content is wrong
    sealed = keys.seal(keys.seal_c, msgpack.packb(content, use_bin_type=True))
    with pytest.raises(MalformedFrameError):
        joiner.receive_confirm(ConfirmC(keys.mac(keys.confirm_c), sealed), CREATOR.address)
