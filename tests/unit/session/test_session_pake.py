"""The invite-code PAKE (CPace): both sides of an attempt, wrong passwords, tampering, bad input."""

from __future__ import annotations

import dataclasses

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st
from session_pump import SeededRng, identity

from quicko.crypto import aead, cpace, kdf
from quicko.errors import AuthenticationError, MalformedFrameError
from quicko.session.bundle import (
    HandshakeKeys,
    IdentityBundle,
    make_bundle,
    pake_creator_context,
    pake_joiner_context,
)
from quicko.session.pake import (
    BACKOFF_MAX_MS,
    MAX_PAKE_FAILURES,
    ConfirmC,
    ConfirmJ,
    CreatorPake,
    InviteBudget,
    JoinerPake,
    LobbyBody,
    PakeFail,
    PakeKeys,
    PakeKind,
    PakeReply,
    PakeStart,
    decode_lobby_body,
    decode_member_init,
    encode_lobby_body,
    encode_member_init,
    invite_ci,
)

SESSION_ID = bytes(range(16))
SEED = bytes(range(32, 64))
NAMEPLATE, PASSWORD = "KBQW", "E3TV"
JOINER, CREATOR, MEMBER = identity("bob"), identity("alice"), identity("carol")


def joiner_bundle(sid: bytes) -> IdentityBundle:
    ephemeral = HandshakeKeys.generate(SeededRng(b"ej"))
    return make_bundle(JOINER, ephemeral, pake_joiner_context(sid))


def creator_bundle(sid: bytes, joiner: bytes = JOINER.address) -> IdentityBundle:
    ephemeral = HandshakeKeys.generate(SeededRng(b"ec"))
    return make_bundle(CREATOR, ephemeral, pake_creator_context(sid, joiner))


def attempt(
    joiner_password: str = PASSWORD, peer: bytes = JOINER.address
) -> tuple[JoinerPake, CreatorPake, ConfirmJ]:
    joiner = JoinerPake(joiner_password, NAMEPLATE, JOINER.address, SeededRng(b"j"))
    creator = CreatorPake(PASSWORD, NAMEPLATE, peer, joiner.start_message, SeededRng(b"c"))
    confirm_j = joiner.receive_reply(creator.reply, joiner_bundle(joiner.sid))
    return joiner, creator, confirm_j


def confirm_c(creator: CreatorPake, *vouched: object) -> ConfirmC:
    return creator.confirm(creator_bundle(creator.sid), session_id=SESSION_ID, join_seed=SEED,
                           vouched=tuple(vouched))  # type: ignore[arg-type]  # fmt: skip


def test_a_full_attempt_authenticates_both_sides() -> None:
    joiner, creator, confirm_j = attempt()
    assert joiner.sid == creator.sid and len(joiner.sid) == 16
    creator.check_confirm(confirm_j)
    assert creator.open_bundle(confirm_j).address == JOINER.address
    admission = joiner.receive_confirm(confirm_c(creator, MEMBER.public))
    assert admission.creator.address == CREATOR.address
    assert (admission.session_id, admission.join_seed) == (SESSION_ID, SEED)
    assert admission.vouched == (MEMBER.public,)
    assert PASSWORD not in repr(joiner) + repr(creator) + repr(admission)
    assert SEED.hex() not in repr(admission)


def test_cpace_inputs_and_key_schedule_match_the_documented_derivation() -> None:
    joiner, creator, confirm_j = attempt()
    start, yb = joiner.start_message, creator.reply.share
    # The joiner's share is CPace's Ya for PRS = password, CI = LP(label("invite"), nameplate).
    assert invite_ci(NAMEPLATE) == kdf.encode_fields(b"quicko2/v4/invite", NAMEPLATE.encode())
    generator = cpace.calculate_generator(PASSWORD.encode(), invite_ci(NAMEPLATE), start.sid)
    rng = SeededRng(b"j")  # the joiner's draws: the 16-byte sid, then the scalar
    rng(16)
    ya_scalar = cpace.sample_scalar(rng)
    assert cpace.scalar_mult_vfy(ya_scalar, generator) == start.share
    k = cpace.scalar_mult_vfy(ya_scalar, yb)
    isk = cpace.isk_ir(start.sid, k, start.share, JOINER.address, yb, b"")
    keys = PakeKeys.derive(isk, nameplate=NAMEPLATE, sid=start.sid, joiner=JOINER.address,
                           ya=start.share, yb=yb)  # fmt: skip
    transcript = kdf.encode_fields(b"quicko2/v4/pake/transcript", NAMEPLATE.encode(), start.sid,
                                   JOINER.address, start.share, yb)  # fmt: skip
    assert keys.transcript == transcript
    for purpose, value in [
        ("pake/confirm-j", keys.confirm_j),
        ("pake/confirm-c", keys.confirm_c),
        ("pake/seal-j", keys.seal_j),
        ("pake/seal-c", keys.seal_c),
    ]:
        assert value == kdf.hkdf_sha256(isk, salt=start.sid, info=kdf.label(purpose), length=32)
    assert confirm_j.mac == kdf.hmac_sha256(keys.confirm_j, transcript)
    ad = kdf.encode_fields(b"quicko2/v4/pake/seal", transcript)
    plain = aead.decrypt(keys.seal_j, bytes(12), confirm_j.sealed, ad)
    assert IdentityBundle.decode(plain).address == JOINER.address


def test_wrong_password_fails_the_joiner_confirmation() -> None:
    _, creator, confirm_j = attempt("0000")
    with pytest.raises(AuthenticationError):
        creator.check_confirm(confirm_j)


def test_tampered_seals_and_macs_fail() -> None:
    joiner, creator, confirm_j = attempt()
    bad_seal = dataclasses.replace(confirm_j, sealed=confirm_j.sealed[:-1] + b"\x00")
    creator.check_confirm(bad_seal)
    with pytest.raises(AuthenticationError):
        creator.open_bundle(bad_seal)
    confirm = confirm_c(creator)
    with pytest.raises(AuthenticationError):
        joiner.receive_confirm(dataclasses.replace(confirm, mac=bytes(32)))
    with pytest.raises(AuthenticationError):
        joiner.receive_confirm(dataclasses.replace(confirm, sealed=confirm.sealed[:-1] + b"\x00"))


def test_the_creator_bundle_must_be_signed_for_this_attempt_and_this_joiner() -> None:
    joiner, creator, _ = attempt()
    for bundle in (creator_bundle(b"x" * 16), creator_bundle(creator.sid, MEMBER.address)):
        confirm = creator.confirm(bundle, session_id=SESSION_ID, join_seed=SEED, vouched=())
        with pytest.raises(AuthenticationError):
            joiner.receive_confirm(confirm)


def test_the_transcript_binds_the_joiner_address() -> None:
    # The relay tells the creator the PAKE_START came from someone else.
    _, creator, confirm_j = attempt(peer=MEMBER.address)
    with pytest.raises(AuthenticationError):
        creator.check_confirm(confirm_j)


def test_a_joiner_bundle_for_another_attempt_is_refused() -> None:
    joiner = JoinerPake(PASSWORD, NAMEPLATE, JOINER.address, SeededRng(b"j"))
    creator = CreatorPake(PASSWORD, NAMEPLATE, JOINER.address, joiner.start_message,
                          SeededRng(b"c"))  # fmt: skip
    confirm_j = joiner.receive_reply(creator.reply, joiner_bundle(b"o" * 16))
    creator.check_confirm(confirm_j)
    with pytest.raises(AuthenticationError):
        creator.open_bundle(confirm_j)


def test_joiner_misuse() -> None:
    joiner, creator, _ = attempt()
    assert joiner.replied
    with pytest.raises(ValueError, match="already"):
        joiner.receive_reply(creator.reply, joiner_bundle(joiner.sid))
    fresh = JoinerPake(PASSWORD, NAMEPLATE, JOINER.address, SeededRng(b"k"))
    assert not fresh.replied
    with pytest.raises(AuthenticationError):
        fresh.receive_confirm(ConfirmC(bytes(32), b""))


def test_low_order_shares_are_refused() -> None:
    joiner = JoinerPake(PASSWORD, NAMEPLATE, JOINER.address, SeededRng(b"j"))
    small_order = bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800")
    for element in (bytes(32), small_order, b"\x01" + bytes(31)):
        with pytest.raises(AuthenticationError):
            CreatorPake(PASSWORD, NAMEPLATE, JOINER.address, PakeStart(joiner.sid, element),
                        SeededRng(b"c"))  # fmt: skip
        with pytest.raises(AuthenticationError):
            JoinerPake(PASSWORD, NAMEPLATE, JOINER.address, SeededRng(b"j")).receive_reply(
                PakeReply(element), joiner_bundle(joiner.sid)
            )


MESSAGES: list[LobbyBody] = [
    PakeStart(b"s" * 16, bytes(range(32))),
    PakeReply(bytes(range(1, 33))),
    ConfirmJ(b"m" * 32, b"sealed"),
    ConfirmC(b"n" * 32, b"sealed too"),
    PakeFail(2_000),
]


@pytest.mark.parametrize("message", MESSAGES)
def test_lobby_body_encoding_round_trips(message: LobbyBody) -> None:
    body = encode_lobby_body(message)
    assert decode_lobby_body(body) == message
    kinds = {PakeStart: 1, PakeReply: 2, ConfirmJ: 3, ConfirmC: 4, PakeFail: 5}
    assert msgpack.unpackb(body)[0] == kinds[type(message)] == PakeKind(kinds[type(message)])


def test_lobby_body_exact_bytes() -> None:
    assert encode_lobby_body(PakeFail(0)).hex() == "920500"
    start = encode_lobby_body(PakeStart(b"s" * 16, b"y" * 32))
    assert start.hex() == "9301c410" + "73" * 16 + "c420" + "79" * 32


@pytest.mark.parametrize(
    "items",
    [[], [0, b"x"], [6, b"x"], ["1", b"x"], [1, b"s" * 16], [1, b"s" * 15, b"y" * 32],
     [1, b"s" * 16, b"y" * 31], [2, b"y" * 33], [3, b"m" * 31, b""], [3, b"m" * 32],
     [5, -1], [5, 2**32], [5, "2"]],
)  # fmt: skip
def test_lobby_body_decoding_refuses_bad_shapes(items: list[object]) -> None:
    with pytest.raises(MalformedFrameError):
        decode_lobby_body(msgpack.packb(items, use_bin_type=True))


@given(st.binary(max_size=200))
def test_decoding_arbitrary_bodies_is_a_message_or_malformed(body: bytes) -> None:
    try:
        message = decode_lobby_body(body)
    except MalformedFrameError:
        return
    assert decode_lobby_body(encode_lobby_body(message)) == message


def test_member_init_codec() -> None:
    bundle = joiner_bundle(b"s" * 16)
    body = encode_member_init(bundle)
    assert msgpack.unpackb(body) == [6, bundle.encode()]
    assert decode_member_init(body) == bundle
    for items in ([6], [5, bundle.encode()], [6, "x"], [True, bundle.encode()]):
        with pytest.raises(MalformedFrameError):
            decode_member_init(msgpack.packb(items, use_bin_type=True))


@pytest.mark.parametrize(
    "content",
    [
        [b"bundle"],
        ["bundle", SESSION_ID, SEED, []],
        [b"bundle", SESSION_ID, SEED, b"not a list"],
        ["creator", SESSION_ID[:15], SEED, []],
        [None, SESSION_ID, SEED, [[b"a" * 16, b"k" * 32]]],
    ],
)
def test_sealed_confirmation_of_the_wrong_shape_is_malformed(content: list[object]) -> None:
    joiner, creator, _ = attempt()
    keys = creator._keys  # the creator's real keys: only the sealed content is wrong
    if content[0] is None:
        content[0] = creator_bundle(creator.sid).encode()
    sealed = keys.seal(keys.seal_c, msgpack.packb(content, use_bin_type=True))
    with pytest.raises(MalformedFrameError):
        joiner.receive_confirm(ConfirmC(keys.mac(keys.confirm_c), sealed))


def test_a_vouched_identity_whose_keys_are_not_its_address_fails() -> None:
    joiner, creator, _ = attempt()
    keys = creator._keys
    forged = [MEMBER.address, JOINER.public.x25519_public, MEMBER.public.ed25519_public]
    content = [creator_bundle(creator.sid).encode(), SESSION_ID, SEED, [forged]]
    sealed = keys.seal(keys.seal_c, msgpack.packb(content, use_bin_type=True))
    with pytest.raises(AuthenticationError):
        joiner.receive_confirm(ConfirmC(keys.mac(keys.confirm_c), sealed))


# ------------------------------------------------------------------ the owner's budget


def test_budget_refuses_a_failed_joiner_and_backs_off_after_three() -> None:
    budget = InviteBudget()
    now = 1_000_000
    for n in range(3):
        assert budget.retry_after(bytes([n]) * 16, now) is None
        budget.fail(bytes([n]) * 16, now)
        assert budget.retry_after(bytes([n]) * 16, now) == 0  # refused for this code for good
    # After the third failure: 1 s, then 2 s, 4 s, ... at most 60 s after the last failure.
    assert budget.retry_after(b"x" * 16, now) == 1_000
    assert budget.retry_after(b"x" * 16, now + 1_000) is None
    waits = []
    for n in range(3, MAX_PAKE_FAILURES - 1):
        budget.fail(bytes([n]) * 16, now)
        waits.append(budget.retry_after(b"x" * 16, now))
    assert waits[:7] == [2_000, 4_000, 8_000, 16_000, 32_000, BACKOFF_MAX_MS, BACKOFF_MAX_MS]
    assert not budget.exhausted
    budget.fail(b"last" * 4, now)
    assert (budget.exhausted, budget.failures) == (True, MAX_PAKE_FAILURES)
    assert budget.retry_after(b"x" * 16, now + 10**9) == 0
