"""Tests of quicko.session.pairwise: the hybrid (PQXDH-style) key agreement, roles, the body
kinds, the AD binding, and two real channels pumped against each other with seeded randomness
(docs/protocol.md §9)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import cast

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as pyca_hmac
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given, settings
from hypothesis import strategies as st

from quicko.crypto import mlkem
from quicko.crypto.random import RandomSource
from quicko.crypto.ratchet import HEADER_SIZE, DoubleRatchet
from quicko.crypto.x25519 import X25519KeyPair
from quicko.errors import AuthenticationError, InvalidKeyError, MalformedFrameError
from quicko.protocol import MAX_BLOB_BYTES, MAX_PAYLOAD_BYTES, Message, decode_frame, encode_frame
from quicko.session.bundle import HandshakeKeys
from quicko.session.envelope import (
    BUCKET_SIZES,
    RECEIPT_READ,
    Envelope,
    Leave,
    MemberAdd,
    Receipt,
    Sync,
    Text,
    pad_envelope,
)
from quicko.session.pairwise import (
    BODY_PQXDH_INIT,
    BODY_RATCHET,
    Encapsulate,
    PairwiseChannel,
    message_ad,
    pqxdh_shared_key,
    triple_dh,
)

SESSION = bytes([0x53]) * 16
ALICE = bytes([0x0A]) * 16  # the smaller address: the initiator
BOB = bytes([0x0B]) * 16
CAROL = bytes([0x0C]) * 16
MESSAGE_ID = bytes([0x4D]) * 16
TIMESTAMP = 1_700_000_000_000
TAG_SIZE = 16
INIT_PREFIX = 1 + 1088  # kind byte and ML-KEM-768 ciphertext

# Low-order X25519 points (RFC 7748 §5 / Wycheproof "LowOrderPublic"): 0, 1 and a point of order 8.
LOW_ORDER_POINTS = [
    bytes(32),
    (1).to_bytes(32, "little"),
    bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
]


class SeededRng:
    """A deterministic RandomSource: SHA-256 of (seed, counter) blocks."""

    def __init__(self, seed: bytes) -> None:
        self.seed = seed
        self._counter = 0

    def __call__(self, n: int) -> bytes:
        out = b""
        while len(out) < n:
            out += hashlib.sha256(self.seed + self._counter.to_bytes(8, "big")).digest()
            self._counter += 1
        return out[:n]


class CallCountRng:
    """The k-th call returns n bytes of value k (1, 2, …): simple to re-derive by hand."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, n: int) -> bytes:
        self.calls += 1
        return bytes([self.calls]) * n


def keys(seed: bytes) -> tuple[X25519KeyPair, HandshakeKeys]:
    """An identity X25519 key pair and the fresh key pairs of one bundle."""
    rng = SeededRng(seed)
    return X25519KeyPair.generate(rng), HandshakeKeys.generate(rng)


def establish(
    own: bytes,
    own_keys: tuple[X25519KeyPair, HandshakeKeys],
    peer: bytes,
    peer_keys: tuple[X25519KeyPair, HandshakeKeys],
    *,
    session_id: bytes = SESSION,
    rng: RandomSource | None = None,
    peer_identity_public: bytes | None = None,
    peer_ephemeral_public: bytes | None = None,
    **kwargs: Encapsulate,
) -> PairwiseChannel:
    """Our channel with ``peer``, from our key pairs and the public halves of the peer's."""
    own_id, own_hs = own_keys
    peer_id, peer_hs = peer_keys
    return PairwiseChannel.establish(
        session_id=session_id,
        own_address=own,
        own_identity=own_id,
        own_ephemeral=own_hs.ephemeral,
        own_kem=own_hs.kem,
        peer_address=peer,
        peer_identity_public=peer_identity_public or peer_id.public,
        peer_ephemeral_public=peer_ephemeral_public or peer_hs.ephemeral.public,
        peer_kem_public=peer_hs.kem.public,
        rng=rng or SeededRng(own + b"-rng"),
        **kwargs,
    )


def make_channels(
    a_addr: bytes = ALICE, b_addr: bytes = BOB, seed: bytes = b"s"
) -> tuple[PairwiseChannel, PairwiseChannel]:
    """Channels of two peers; returns (the side with a_addr, the side with b_addr)."""
    a_keys, b_keys = keys(seed + b"/a"), keys(seed + b"/b")
    a = establish(a_addr, a_keys, b_addr, b_keys, rng=SeededRng(seed + b"/a-rng"))
    b = establish(b_addr, b_keys, a_addr, a_keys, rng=SeededRng(seed + b"/b-rng"))
    return a, b


def wrap(sender: PairwiseChannel, message: bytes) -> bytes:
    """A raw ratchet message as ``sender`` would send it: with the body kind (and CT)."""
    if sender.is_initiator and not sender._heard:
        return bytes([BODY_PQXDH_INIT]) + sender._kem_ciphertext + message
    return bytes([BODY_RATCHET]) + message


def ratchet_of(channel: PairwiseChannel) -> DoubleRatchet:
    assert channel._ratchet is not None
    return channel._ratchet


class Clock:
    """Fresh (message_id, timestamp) pairs for frames."""

    def __init__(self) -> None:
        self.count = 0

    def next(self) -> tuple[bytes, int]:
        self.count += 1
        return self.count.to_bytes(16, "big"), TIMESTAMP + self.count


def send(sender: PairwiseChannel, envelope: Envelope, clock: Clock) -> tuple[bytes, bytes, int]:
    message_id, timestamp = clock.next()
    return sender.seal(envelope, message_id=message_id, timestamp=timestamp), message_id, timestamp


def synced() -> tuple[PairwiseChannel, PairwiseChannel, Clock]:
    alice, bob = make_channels()
    clock = Clock()
    body, message_id, timestamp = send(alice, Sync(), clock)
    assert bob.open(body, message_id=message_id, timestamp=timestamp) == Sync()
    return alice, bob, clock


def ratchet_state(channel: PairwiseChannel) -> tuple[object, ...]:
    if channel._ratchet is None:  # a responder before its first message
        return (None, channel._kem_ciphertext, bytes(channel._dh or b""))
    r = channel._ratchet
    s = r._state
    return (
        bytes(s.rk),
        s.dhs.public,
        s.dhr,
        None if s.cks is None else bytes(s.cks),
        None if s.ckr is None else bytes(s.ckr),
        s.ns,
        s.nr,
        s.pn,
        tuple((k, bytes(v)) for k, v in r._skipped.items()),
    )


def assert_refused(channel: PairwiseChannel, body: bytes, message_id: bytes, ts: int) -> None:
    before = ratchet_state(channel)
    with pytest.raises(AuthenticationError):
        channel.open(body, message_id=message_id, timestamp=ts)
    assert ratchet_state(channel) == before


# ---------------------------------------------------------------- triple DH and roles


def test_roles_follow_address_order_whichever_side_builds_first() -> None:
    alice, bob = make_channels(ALICE, BOB)
    assert alice.is_initiator and not bob.is_initiator
    bob2, alice2 = make_channels(BOB, ALICE)
    assert alice2.is_initiator and not bob2.is_initiator
    assert alice.can_send and not bob.can_send
    assert alice.peer_address == BOB and bob.peer_address == ALICE


def test_triple_dh_agrees_and_matches_the_formula() -> None:
    (a_id, a_hs), (b_id, b_hs) = keys(b"ta"), keys(b"tb")
    a_eph, b_eph = a_hs.ephemeral, b_hs.ephemeral
    sk_a = triple_dh(
        own_identity=a_id,
        own_ephemeral=a_eph,
        own_address=ALICE,
        peer_identity_public=b_id.public,
        peer_ephemeral_public=b_eph.public,
        peer_address=BOB,
        session_id=SESSION,
    )
    sk_b = triple_dh(
        own_identity=b_id,
        own_ephemeral=b_eph,
        own_address=BOB,
        peer_identity_public=a_id.public,
        peer_ephemeral_public=a_eph.public,
        peer_address=ALICE,
        session_id=SESSION,
    )
    assert sk_a == sk_b
    ikm = a_id.exchange(b_eph.public) + a_eph.exchange(b_id.public) + a_eph.exchange(b_eph.public)
    info = b"".join(len(p).to_bytes(4, "big") + p for p in (b"quicko2/v4/3dh", ALICE, BOB))
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=SESSION, info=info)
    assert sk_a == hkdf.derive(ikm)
    # Another session, or a swapped role, gives another key.
    other = triple_dh(
        own_identity=a_id,
        own_ephemeral=a_eph,
        own_address=ALICE,
        peer_identity_public=b_id.public,
        peer_ephemeral_public=b_eph.public,
        peer_address=BOB,
        session_id=bytes(16),
    )
    assert other != sk_a


@pytest.mark.parametrize("point", LOW_ORDER_POINTS)
@pytest.mark.parametrize("which", ["ephemeral", "identity"])
@pytest.mark.parametrize("own", [ALICE, CAROL])  # initiator towards BOB, responder towards BOB
def test_low_order_peer_keys_are_invalid(point: bytes, which: str, own: bytes) -> None:
    own_keys, peer_keys = keys(b"o"), keys(b"p")
    with pytest.raises(InvalidKeyError):
        establish(own, own_keys, BOB, peer_keys,
                  peer_identity_public=point if which == "identity" else None,
                  peer_ephemeral_public=point if which == "ephemeral" else None)  # fmt: skip


@pytest.mark.parametrize(
    ("session_id", "own", "peer", "match"),
    [
        (SESSION, ALICE, ALICE, "two different addresses"),
        (SESSION[:15], ALICE, BOB, "session id"),
        (SESSION, ALICE[:15], BOB, "address"),
        (SESSION, ALICE, BOB + b"\x00", "address"),
    ],
)
def test_bad_ids_are_local_misuse(session_id: bytes, own: bytes, peer: bytes, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        establish(own, keys(b"o"), peer, keys(b"p"), session_id=session_id)


def test_mismatched_keys_do_not_open() -> None:
    # Bob believes in another identity key for Alice (a substituted key): nothing opens.
    alice, _ = make_channels(seed=b"one")
    _, bob = make_channels(seed=b"two")
    body = alice.seal(Sync(), message_id=MESSAGE_ID, timestamp=TIMESTAMP)
    with pytest.raises(AuthenticationError):
        bob.open(body, message_id=MESSAGE_ID, timestamp=TIMESTAMP)


# ---------------------------------------------------------------- the hybrid key agreement

PQXDH_INPUTS = {
    "dh": bytes(range(96)),
    "kem_secret": bytes([0x55]) * 32,
    "session_id": SESSION,
    "initiator": ALICE,
    "responder": BOB,
    "kem_public": bytes([0x66]) * 1184,
    "kem_ciphertext": bytes([0x77]) * 1088,
}


def test_pqxdh_key_matches_the_formula() -> None:
    sk = pqxdh_shared_key(**PQXDH_INPUTS)
    i = PQXDH_INPUTS
    ikm = b"\xff" * 32 + i["dh"] + i["kem_secret"]
    info = _fields(b"quicko2/v4/pqxdh", b"CURVE25519_SHA-256_ML-KEM-768", ALICE, BOB,
                   i["kem_public"], i["kem_ciphertext"])  # fmt: skip
    assert sk == HKDF(algorithm=hashes.SHA256(), length=32, salt=SESSION, info=info).derive(ikm)


@pytest.mark.parametrize(
    ("field", "change"),
    [
        ("kem_secret", lambda v: bytes([v[0] ^ 1]) + v[1:]),  # the ML-KEM secret alone
        ("dh", lambda v: bytes([v[0] ^ 1]) + v[1:]),  # dh1
        ("dh", lambda v: v[:32] + bytes([v[32] ^ 1]) + v[33:]),  # dh2
        ("dh", lambda v: v[:95] + bytes([v[95] ^ 1])),  # dh3
        ("session_id", lambda v: bytes(16)),
        ("initiator", lambda v: CAROL),
        ("responder", lambda v: CAROL),
        ("kem_public", lambda v: bytes([v[0] ^ 1]) + v[1:]),
        ("kem_ciphertext", lambda v: v[:-1] + bytes([v[-1] ^ 1])),
    ],
)
def test_sk_depends_on_every_input(field: str, change: Callable[[bytes], bytes]) -> None:
    """Changing the KEM secret, any DH output or any bound value gives another SK."""
    sk = pqxdh_shared_key(**PQXDH_INPUTS)
    changed = dict(PQXDH_INPUTS, **{field: change(PQXDH_INPUTS[field])})
    assert pqxdh_shared_key(**changed) != sk


@pytest.mark.parametrize(
    ("field", "size"),
    [("dh", 64), ("kem_secret", 31), ("kem_public", 1183), ("kem_ciphertext", 1089)],
)
def test_pqxdh_sizes_are_checked(field: str, size: int) -> None:
    with pytest.raises(ValueError):
        pqxdh_shared_key(**dict(PQXDH_INPUTS, **{field: bytes(size)}))


def test_both_sides_derive_the_same_hybrid_key() -> None:
    """The responder's SK, derived from the ciphertext, is the initiator's: it opens and
    answers; and SK is not the classical triple-DH key of the same keys."""
    a_keys, b_keys = keys(b"ha"), keys(b"hb")
    alice = establish(ALICE, a_keys, BOB, b_keys)
    bob = establish(BOB, b_keys, ALICE, a_keys)
    assert (alice.established, bob.established, bob.can_send) == (True, False, False)
    body = alice.seal(Sync(), message_id=MESSAGE_ID, timestamp=TIMESTAMP)
    assert body[0] == BODY_PQXDH_INIT and body[1:INIT_PREFIX] == alice._kem_ciphertext
    assert bob.open(body, message_id=MESSAGE_ID, timestamp=TIMESTAMP) == Sync()
    assert (bob.established, bob.can_send) == (True, True)
    assert bob._ratchet is not None and alice._ratchet is not None
    classical = triple_dh(own_identity=a_keys[0], own_ephemeral=a_keys[1].ephemeral,
                          own_address=ALICE, peer_identity_public=b_keys[0].public,
                          peer_ephemeral_public=b_keys[1].ephemeral.public, peer_address=BOB,
                          session_id=SESSION)  # fmt: skip
    secret = b_keys[1].kem.decapsulate(alice._kem_ciphertext)
    dh = (a_keys[0].exchange(b_keys[1].ephemeral.public)
          + a_keys[1].ephemeral.exchange(b_keys[0].public)
          + a_keys[1].ephemeral.exchange(b_keys[1].ephemeral.public))  # fmt: skip
    hybrid = pqxdh_shared_key(dh=dh, kem_secret=secret, session_id=SESSION, initiator=ALICE,
                              responder=BOB, kem_public=b_keys[1].kem.public,
                              kem_ciphertext=alice._kem_ciphertext)  # fmt: skip
    assert hybrid != classical
    # That SK, and not the classical one, opens the first message.
    ad = message_ad(session_id=SESSION, sender=ALICE, recipient=BOB, message_id=MESSAGE_ID,
                    timestamp=TIMESTAMP)  # fmt: skip
    for shared, ok in ((hybrid, True), (classical, False)):
        ratchet = DoubleRatchet.responder(shared, b_keys[1].ephemeral, SeededRng(b"x"))
        if ok:
            assert ratchet.decrypt(body[INIT_PREFIX:], ad) == pad_envelope(Sync())
        else:
            with pytest.raises(AuthenticationError):
                ratchet.decrypt(body[INIT_PREFIX:], ad)
    # Bob answers in RATCHET bodies; once Alice has heard from him, she sends RATCHET too.
    reply = bob.seal(Text("hi"), message_id=bytes(16), timestamp=TIMESTAMP)
    assert reply[0] == BODY_RATCHET
    assert alice.open(reply, message_id=bytes(16), timestamp=TIMESTAMP) == Text("hi")
    after = alice.seal(Text("yo"), message_id=bytes([1]) * 16, timestamp=TIMESTAMP)
    assert after[0] == BODY_RATCHET and len(after) == 1 + HEADER_SIZE + 64 + TAG_SIZE
    assert bob.open(after, message_id=bytes([1]) * 16, timestamp=TIMESTAMP) == Text("yo")


def test_initiator_sends_the_ciphertext_until_it_hears_from_the_responder() -> None:
    alice, bob = make_channels()
    clock = Clock()
    sent = [send(alice, Text(f"early {i}"), clock) for i in range(3)]
    assert {body[:INIT_PREFIX] for body, _, _ in sent} == {b"\x01" + alice._kem_ciphertext}
    # Out of order: the responder derives SK from whichever arrives first.
    for (body, message_id, ts), i in zip(reversed(sent), (2, 1, 0), strict=True):
        assert bob.open(body, message_id=message_id, timestamp=ts) == Text(f"early {i}")


def test_tampered_kem_ciphertext_fails_to_establish_then_the_genuine_one_works() -> None:
    """Implicit rejection: another CT decapsulates to another SS, so SK differs and nothing
    opens; the responder keeps nothing from the attempt."""
    alice, bob = make_channels()
    body = alice.seal(Sync(), message_id=MESSAGE_ID, timestamp=TIMESTAMP)
    for index in (1, 500, INIT_PREFIX - 1):
        tampered = bytearray(body)
        tampered[index] ^= 0x01
        assert_refused(bob, bytes(tampered), MESSAGE_ID, TIMESTAMP)
        assert not bob.established
    # A valid ciphertext of another encapsulation to Bob's real key: refused too.
    _, other_ct = mlkem.encapsulate(keys(b"s/b")[1].kem.public)
    assert_refused(bob, b"\x01" + other_ct + body[INIT_PREFIX:], MESSAGE_ID, TIMESTAMP)
    assert bob.open(body, message_id=MESSAGE_ID, timestamp=TIMESTAMP) == Sync()
    # Once established, only that ciphertext is accepted.
    message_id, ts = bytes([9]) * 16, TIMESTAMP + 1
    second = alice.seal(Text("2"), message_id=message_id, timestamp=ts)
    assert_refused(bob, b"\x01" + other_ct + second[INIT_PREFIX:], message_id, ts)
    assert bob.open(second, message_id=message_id, timestamp=ts) == Text("2")


def test_tampered_x25519_part_fails_to_establish() -> None:
    """The ML-KEM part alone does not establish: Bob with another ephemeral key for Alice (a
    substituted X25519 key) cannot open her first message although he decapsulates CT."""
    a_keys, b_keys = keys(b"xa"), keys(b"xb")
    alice = establish(ALICE, a_keys, BOB, b_keys)
    wrong = keys(b"xm")[1].ephemeral.public
    bob = establish(BOB, b_keys, ALICE, a_keys, peer_ephemeral_public=wrong)
    body = alice.seal(Sync(), message_id=MESSAGE_ID, timestamp=TIMESTAMP)
    assert_refused(bob, body, MESSAGE_ID, TIMESTAMP)
    assert not bob.established


def test_classical_only_bodies_are_refused() -> None:
    """No downgrade: a responder never derives SK without CT, and nobody accepts a body kind
    it should not receive."""
    alice, bob = make_channels()
    body = alice.seal(Sync(), message_id=MESSAGE_ID, timestamp=TIMESTAMP)
    ratchet_message = body[INIT_PREFIX:]
    # The same ratchet message as a RATCHET body (the CT stripped), or with no kind at all.
    assert_refused(bob, b"\x00" + ratchet_message, MESSAGE_ID, TIMESTAMP)
    assert_refused(bob, ratchet_message, MESSAGE_ID, TIMESTAMP)
    for kind in (0x02, 0x03, 0xFF):
        assert_refused(bob, bytes([kind]) + body[1:], MESSAGE_ID, TIMESTAMP)
    assert bob.open(body, message_id=MESSAGE_ID, timestamp=TIMESTAMP) == Sync()
    # The initiator never accepts a PQXDH_INIT body (the responder never sends one).
    reply = bob.seal(Text("r"), message_id=bytes(16), timestamp=TIMESTAMP)
    assert_refused(alice, b"\x01" + bytes(1088) + reply[1:], bytes(16), TIMESTAMP)
    assert alice.open(reply, message_id=bytes(16), timestamp=TIMESTAMP) == Text("r")


def test_recorded_transcript_does_not_open_with_the_x25519_secrets_alone() -> None:
    """Harvest now, decrypt later: an adversary holding every X25519 private key of both sides
    (identity and ephemeral: what a quantum computer would recover from the recorded public
    keys) but not the ML-KEM secret cannot open the recorded first message."""
    a_keys, b_keys = keys(b"ra"), keys(b"rb")
    alice = establish(ALICE, a_keys, BOB, b_keys)
    body = alice.seal(Text("secret"), message_id=MESSAGE_ID, timestamp=TIMESTAMP)
    ct, message = body[1:INIT_PREFIX], body[INIT_PREFIX:]
    ad = message_ad(session_id=SESSION, sender=ALICE, recipient=BOB, message_id=MESSAGE_ID,
                    timestamp=TIMESTAMP)  # fmt: skip
    dh = (a_keys[0].exchange(b_keys[1].ephemeral.public)
          + a_keys[1].ephemeral.exchange(b_keys[0].public)
          + a_keys[1].ephemeral.exchange(b_keys[1].ephemeral.public))  # fmt: skip

    def opens(shared: bytes) -> bool:
        ratchet = DoubleRatchet.responder(shared, b_keys[1].ephemeral, SeededRng(b"eve"))
        try:
            ratchet.decrypt(message, ad)
        except AuthenticationError:
            return False
        return True

    classical = triple_dh(own_identity=a_keys[0], own_ephemeral=a_keys[1].ephemeral,
                          own_address=ALICE, peer_identity_public=b_keys[0].public,
                          peer_ephemeral_public=b_keys[1].ephemeral.public, peer_address=BOB,
                          session_id=SESSION)  # fmt: skip
    guesses = [classical, hkdf_guess(dh), *(
        pqxdh_shared_key(dh=dh, kem_secret=guess, session_id=SESSION, initiator=ALICE,
                         responder=BOB, kem_public=b_keys[1].kem.public, kem_ciphertext=ct)
        for guess in (bytes(32), b"\xff" * 32, ct[:32], SeededRng(b"g")(32))
    )]  # fmt: skip
    assert not any(opens(guess) for guess in guesses)
    # The ML-KEM decapsulation key is what was missing.
    real = pqxdh_shared_key(dh=dh, kem_secret=b_keys[1].kem.decapsulate(ct), session_id=SESSION,
                            initiator=ALICE, responder=BOB, kem_public=b_keys[1].kem.public,
                            kem_ciphertext=ct)  # fmt: skip
    assert opens(real)


def hkdf_guess(dh: bytes) -> bytes:
    """SK as the hybrid formula would give it with the KEM secret simply left out."""
    info = _fields(b"quicko2/v4/pqxdh", b"CURVE25519_SHA-256_ML-KEM-768", ALICE, BOB)
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=SESSION, info=info).derive(
        b"\xff" * 32 + dh
    )


# ---------------------------------------------------------------- known answer


def _pyca_public(private: bytes) -> bytes:
    return (
        X25519PrivateKey.from_private_bytes(private)
        .public_key()
        .public_bytes(Encoding.Raw, PublicFormat.Raw)
    )


def _pyca_dh(private: bytes, public: bytes) -> bytes:
    return X25519PrivateKey.from_private_bytes(private).exchange(
        X25519PublicKey.from_public_bytes(public)
    )


def _fields(*parts: bytes) -> bytes:
    return b"".join(len(p).to_bytes(4, "big") + p for p in parts)


KAT_IK_A, KAT_EK_A = bytes([0xA1]) * 32, bytes([0xA2]) * 32
KAT_IK_B, KAT_EK_B = bytes([0xB1]) * 32, bytes([0xB2]) * 32
VECTORS = Path(__file__).resolve().parents[2] / "vectors" / "wycheproof"


def _mlkem_vector(tc_id: int) -> dict[str, str]:
    """A case of Wycheproof's mlkem_768_test.json (seed, ek, c, K)."""
    data = json.loads((VECTORS / "mlkem_768_test.json").read_text())
    [case] = [t for g in data["testGroups"] for t in g["tests"] if t["tcId"] == tc_id]
    return cast(dict[str, str], case)


KAT_KEM = _mlkem_vector(2)  # "Test vector based on official round 3 seeds 0"
KAT_SK_HEX = "2c39fe25598bb34146fddb802bcb4ae2c46c4264b05ffb8c9388a8a21e29b68d"
KAT_FIRST_MESSAGE_HEX = (
    "a4e09292b651c278b9772c569f5fa9bb13d906b46ab68c9df9dc2b4409f8a209"  # header: DHs.public
    "0000000000000000"  # header: pn = 0, n = 0
    "d7a24323a30874cb9a241bd9b285e114b2e919730211a58341f63f9f5c9b0a4b"  # ciphertext (64)
    "4b9c86dcd625b6398946ac5ea08212ba67dcf56c347fe7bebe0882c5735e2576"
    "ba20e9a780cac5c22c567c197b386111"  # tag (16)
)


def test_known_answer_first_message() -> None:
    """The initiator's first body for fixed keys and randomness, pinned.

    Inputs: session_id = 0x53 * 16, initiator address 0x0A * 16, responder address 0x0B * 16,
    private keys IK_I = 0xA1 * 32, EK_I = 0xA2 * 32, IK_R = 0xB1 * 32, EK_R = 0xB2 * 32; the
    responder's ML-KEM-768 key pair from the seed of Wycheproof mlkem_768_test tcId 2, and the
    initiator's encapsulation giving that case's (K, c) (its ``ek`` is the responder's key);
    the initiator's rng returns 0x01 * 32 on its first call (its first ratchet private key);
    envelope SYNC, message_id = 0x4D * 16, timestamp = 1_700_000_000_000.

    Derivation (docs/protocol.md §9, §10):
      1. SK = HKDF-SHA256(0xFF * 32 || DH(IK_I, EK_R) || DH(EK_I, IK_R) || DH(EK_I, EK_R) || K,
         salt=session_id, info=encode_fields("quicko2/v4/pqxdh",
         "CURVE25519_SHA-256_ML-KEM-768", addr_I, addr_R, ek, c), 32)
      2. DHs = X25519 key pair of private 0x01 * 32; out = HKDF-SHA256(DH(DHs, EK_R.public),
         salt=SK, info="quicko2/v4/ratchet/root", 64); RK = out[:32], CKs = out[32:]
      3. mk = HMAC-SHA256(CKs, 0x01)
      4. key = mk, nonce = 12 zero bytes (v4; v3 expanded mk with HKDF)
      5. header = DHs.public || u32(0) || u32(0)
      6. ad = encode_fields("quicko2/v4/message", 0x04, session_id, addr_I, addr_R, message_id,
         u64(timestamp)); aad = encode_fields(ad, header)
      7. plaintext = u32(2) || 0x91 0x00 || 58 zero bytes (SYNC padded to 64)
      8. message = header || AES-256-GCM(key, nonce, plaintext, aad)  (40 + 64 + 16 = 120 bytes)
      9. body = 0x01 (PQXDH_INIT) || c (1,088) || message  (1,209 bytes)
    """
    ek, c, k = (bytes.fromhex(KAT_KEM[name]) for name in ("ek", "c", "K"))

    def known_encapsulation(public: bytes) -> tuple[bytes, bytes]:
        assert public == ek
        return k, c

    responder_kem = mlkem.MLKEMKeyPair.from_seed(bytes.fromhex(KAT_KEM["seed"]))
    assert responder_kem.public == ek
    rng = CallCountRng()
    channel = PairwiseChannel.establish(
        session_id=SESSION,
        own_address=ALICE,
        own_identity=X25519KeyPair.from_private_bytes(KAT_IK_A),
        own_ephemeral=X25519KeyPair.from_private_bytes(KAT_EK_A),
        own_kem=mlkem.MLKEMKeyPair.from_seed(bytes(64)),  # unused by the initiator
        peer_address=BOB,
        peer_identity_public=_pyca_public(KAT_IK_B),
        peer_ephemeral_public=_pyca_public(KAT_EK_B),
        peer_kem_public=ek,
        rng=rng,
        encapsulate=known_encapsulation,
    )
    body = channel.seal(Sync(), message_id=MESSAGE_ID, timestamp=TIMESTAMP)
    assert rng.calls == 1
    assert body[0] == 0x01 and body[1:1089] == c
    assert body[1089:].hex() == KAT_FIRST_MESSAGE_HEX
    assert len(body) == 1209

    # The same steps, independently on pyca/cryptography.
    ek_r = _pyca_public(KAT_EK_B)
    ikm = (
        b"\xff" * 32
        + _pyca_dh(KAT_IK_A, ek_r)
        + _pyca_dh(KAT_EK_A, _pyca_public(KAT_IK_B))
        + _pyca_dh(KAT_EK_A, ek_r)
        + k
    )
    info = _fields(b"quicko2/v4/pqxdh", b"CURVE25519_SHA-256_ML-KEM-768", ALICE, BOB, ek, c)
    sk = HKDF(algorithm=hashes.SHA256(), length=32, salt=SESSION, info=info).derive(ikm)
    assert sk.hex() == KAT_SK_HEX
    dhs_private = bytes([1]) * 32
    out = HKDF(
        algorithm=hashes.SHA256(), length=64, salt=sk, info=b"quicko2/v4/ratchet/root"
    ).derive(_pyca_dh(dhs_private, ek_r))
    mac = pyca_hmac.HMAC(out[32:], hashes.SHA256())
    mac.update(b"\x01")
    mk = mac.finalize()
    header = _pyca_public(dhs_private) + bytes(8)
    ad = _fields(
        b"quicko2/v4/message",
        b"\x04",
        SESSION,
        ALICE,
        BOB,
        MESSAGE_ID,
        TIMESTAMP.to_bytes(8, "big"),
    )
    plaintext = bytes.fromhex("000000029100") + bytes(58)
    expected = header + AESGCM(mk).encrypt(bytes(12), plaintext, _fields(ad, header))
    assert body == b"\x01" + c + expected

    # The responder, with the real ML-KEM key, decapsulates c and opens it.
    bob = PairwiseChannel.establish(
        session_id=SESSION,
        own_address=BOB,
        own_identity=X25519KeyPair.from_private_bytes(KAT_IK_B),
        own_ephemeral=X25519KeyPair.from_private_bytes(KAT_EK_B),
        own_kem=responder_kem,
        peer_address=ALICE,
        peer_identity_public=_pyca_public(KAT_IK_A),
        peer_ephemeral_public=_pyca_public(KAT_EK_A),
        peer_kem_public=mlkem.MLKEMKeyPair.from_seed(bytes(64)).public,
        rng=SeededRng(b"bob"),
    )
    assert bob.open(body, message_id=MESSAGE_ID, timestamp=TIMESTAMP) == Sync()


# ---------------------------------------------------------------- conversations


def test_responder_must_open_before_sending() -> None:
    alice, bob = make_channels()
    with pytest.raises(ValueError, match="cannot send"):
        bob.seal(Text("early"), message_id=MESSAGE_ID, timestamp=TIMESTAMP)
    body = alice.seal(Sync(), message_id=MESSAGE_ID, timestamp=TIMESTAMP)
    assert bob.open(body, message_id=MESSAGE_ID, timestamp=TIMESTAMP) == Sync()
    assert bob.can_send


def test_long_conversation_with_every_envelope_kind() -> None:
    alice, bob, clock = synced()
    bursts = [1, 3, 1, 1, 12, 0, 2, 7, 1, 30, 4, 1]
    opened = 0
    for turn, burst in enumerate(bursts * 4):
        sender, receiver = (bob, alice) if turn % 2 == 0 else (alice, bob)
        for i in range(burst):
            kinds: list[Envelope] = [
                Text(f"message {opened} ✓"),
                Receipt(RECEIPT_READ, (clock.next()[0],)),
                MemberAdd(b"a" * 16, b"x" * 32, b"e" * 32),
                Text("\n" * i),
                Leave(),
            ]
            envelope = kinds[opened % 5]
            body, message_id, ts = send(sender, envelope, clock)
            assert receiver.open(body, message_id=message_id, timestamp=ts) == envelope
            opened += 1
    assert opened == sum(bursts) * 4


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 8), st.integers(1, 8), st.data())
def test_permutations_within_a_window_open_exactly_once(
    first: int, second: int, data: st.DataObject
) -> None:
    alice, bob, clock = synced()
    batch = [(send(alice, Text(f"first {i}"), clock), Text(f"first {i}")) for i in range(first)]
    reply, reply_id, reply_ts = send(bob, Text("reply"), clock)
    assert alice.open(reply, message_id=reply_id, timestamp=reply_ts) == Text("reply")
    # Alice's next messages are on a new sending chain (a DH ratchet step).
    batch += [(send(alice, Text(f"second {i}"), clock), Text(f"second {i}")) for i in range(second)]
    order = data.draw(st.permutations(range(len(batch))))
    for index in order:
        (body, message_id, ts), envelope = batch[index]
        assert bob.open(body, message_id=message_id, timestamp=ts) == envelope
    for (body, message_id, ts), _ in batch:
        assert_refused(bob, body, message_id, ts)
    assert not ratchet_of(bob)._skipped


def test_replay_is_refused() -> None:
    alice, bob, clock = synced()
    body, message_id, ts = send(alice, Text("once"), clock)
    assert bob.open(body, message_id=message_id, timestamp=ts) == Text("once")
    assert_refused(bob, body, message_id, ts)


def test_tampering_any_byte_is_refused_then_the_genuine_body_opens() -> None:
    alice, bob, clock = synced()
    body, message_id, ts = send(alice, Text("tamper me"), clock)
    for index in range(len(body)):
        tampered = bytearray(body)
        tampered[index] ^= 0x04
        assert_refused(bob, bytes(tampered), message_id, ts)
    assert_refused(bob, body[: INIT_PREFIX + HEADER_SIZE + TAG_SIZE - 1], message_id, ts)
    assert_refused(bob, body[:INIT_PREFIX], message_id, ts)
    assert_refused(bob, b"", message_id, ts)
    assert bob.open(body, message_id=message_id, timestamp=ts) == Text("tamper me")


def test_frame_fields_are_bound() -> None:
    alice, bob, clock = synced()
    body, message_id, ts = send(alice, Text("bound"), clock)
    assert_refused(bob, body, bytes(16), ts)
    assert_refused(bob, body, message_id, ts + 1)
    assert bob.open(body, message_id=message_id, timestamp=ts) == Text("bound")


@pytest.mark.parametrize("field", ["session_id", "sender", "recipient", "message_id", "timestamp"])
def test_body_for_another_frame_is_refused(field: str) -> None:
    alice, bob, clock = synced()
    message_id, ts = clock.next()
    fields = {
        "session_id": SESSION,
        "sender": ALICE,
        "recipient": BOB,
        "message_id": message_id,
        "timestamp": ts,
    }
    fields[field] = {
        "session_id": bytes(16),
        "sender": CAROL,
        "recipient": CAROL,
        "message_id": bytes(16),
        "timestamp": ts + 1000,
    }[field]
    other_ad = message_ad(**fields)  # type: ignore[arg-type]
    body = wrap(alice, ratchet_of(alice).encrypt(pad_envelope(Text("moved")), other_ad))
    assert_refused(bob, body, message_id, ts)
    body, message_id, ts = send(alice, Text("genuine"), clock)
    assert bob.open(body, message_id=message_id, timestamp=ts) == Text("genuine")


def test_reflected_body_is_refused() -> None:
    alice, bob, clock = synced()
    body, message_id, ts = send(bob, Text("to alice"), clock)
    assert_refused(bob, body, message_id, ts)
    assert alice.open(body, message_id=message_id, timestamp=ts) == Text("to alice")


def test_malformed_envelope_inside_an_authentic_body() -> None:
    alice, bob, clock = synced()
    message_id, ts = clock.next()
    ad = message_ad(
        session_id=SESSION, sender=ALICE, recipient=BOB, message_id=message_id, timestamp=ts
    )
    body = wrap(alice, ratchet_of(alice).encrypt(b"\x00\x00\x00\x02\x91\x09" + bytes(58), ad))
    with pytest.raises(MalformedFrameError, match="unknown envelope kind 9"):
        bob.open(body, message_id=message_id, timestamp=ts)
    # It was authentic: its key is used up, and the conversation goes on.
    assert_refused(bob, body, message_id, ts)
    body, message_id, ts = send(alice, Text("next"), clock)
    assert bob.open(body, message_id=message_id, timestamp=ts) == Text("next")


@pytest.mark.parametrize("size", [0, 100, 200, 1000, 3000, 6000, 10000, 20000, 40000])
def test_body_sizes_follow_the_buckets(size: int) -> None:
    alice, bob, clock = synced()
    body, message_id, ts = send(alice, Text("x" * size), clock)
    assert body[0] == BODY_PQXDH_INIT  # Alice has not heard from Bob yet
    assert len(body) - INIT_PREFIX - HEADER_SIZE - TAG_SIZE in BUCKET_SIZES
    assert len(body) == INIT_PREFIX + HEADER_SIZE + len(pad_envelope(Text("x" * size))) + TAG_SIZE
    assert bob.open(body, message_id=message_id, timestamp=ts) == Text("x" * size)


@pytest.mark.parametrize(
    ("message_id", "timestamp", "match"),
    [
        (bytes(15), TIMESTAMP, "message id"),
        (bytes(17), TIMESTAMP, "message id"),
        (MESSAGE_ID, -1, "timestamp"),
        (MESSAGE_ID, 2**64, "timestamp"),
    ],
)
def test_bad_frame_fields_are_local_misuse(message_id: bytes, timestamp: int, match: str) -> None:
    alice, bob, _ = synced()
    with pytest.raises(ValueError, match=match):
        alice.seal(Text("x"), message_id=message_id, timestamp=timestamp)
    with pytest.raises(ValueError, match=match):
        bob.open(bytes(120), message_id=message_id, timestamp=timestamp)


def test_timestamp_extremes_are_allowed() -> None:
    alice, bob, _ = synced()
    for ts in (0, 2**64 - 1):
        body = alice.seal(Text("t"), message_id=MESSAGE_ID, timestamp=ts)
        assert bob.open(body, message_id=MESSAGE_ID, timestamp=ts) == Text("t")


def test_wipe_and_repr() -> None:
    alice, bob, clock = synced()
    text = repr(alice)
    assert text == "PairwiseChannel(is_initiator=True, can_send=True)"
    for secret in (ALICE, BOB, SESSION):
        assert secret.hex()[:8] not in text
    bob.wipe()
    assert not bob.can_send
    with pytest.raises(ValueError, match="cannot send"):
        bob.seal(Text("x"), message_id=MESSAGE_ID, timestamp=TIMESTAMP)
    body, message_id, ts = send(alice, Text("x"), clock)
    with pytest.raises(ValueError, match="wiped"):
        bob.open(body, message_id=message_id, timestamp=ts)
    assert bytes(ratchet_of(bob)._state.rk) == bytes(32)


def test_largest_text_with_the_kem_ciphertext_fits_one_frame() -> None:
    """A 64 KiB text sent before the initiator has heard back: 1 + 1,088 + 40 + 131,072 + 16 =
    132,217 body bytes, within MAX_BLOB_BYTES, and its Message frame within MAX_PAYLOAD_BYTES."""
    alice, bob = make_channels()
    text = Text("x" * 65536)
    body = alice.seal(text, message_id=MESSAGE_ID, timestamp=2**64 - 1)
    assert body[0] == BODY_PQXDH_INIT and len(body) == 132_217 <= MAX_BLOB_BYTES
    frame = encode_frame(Message(SESSION, ALICE, BOB, MESSAGE_ID, 2**64 - 1, body))
    assert len(frame) - 6 == 132_304 <= MAX_PAYLOAD_BYTES
    decoded = decode_frame(frame)
    assert isinstance(decoded, Message)
    assert bob.open(decoded.body, message_id=MESSAGE_ID, timestamp=2**64 - 1) == text


@pytest.mark.parametrize("timestamp", [0, TIMESTAMP, 2**64 - 1])
def test_channel_ad_is_message_ad_in_both_directions(timestamp: int) -> None:
    # The channel encodes the fixed part of the AD once (a speed-up): the bytes must not change.
    alice, _ = make_channels()
    for outgoing, sender, recipient in ((True, ALICE, BOB), (False, BOB, ALICE)):
        expected = message_ad(session_id=SESSION, sender=sender, recipient=recipient,
                              message_id=MESSAGE_ID, timestamp=timestamp)  # fmt: skip
        got = alice._ad(outgoing=outgoing, message_id=MESSAGE_ID, timestamp=timestamp)
        assert got == expected


@pytest.mark.parametrize(("message_id", "timestamp"), [(bytes(15), 0), (bytes(16), -1),
                                                       (bytes(16), 2**64)])  # fmt: skip
def test_channel_ad_refuses_bad_frame_fields(message_id: bytes, timestamp: int) -> None:
    alice, _ = make_channels()
    with pytest.raises(ValueError, match=r"message id|timestamp"):
        alice._ad(outgoing=True, message_id=message_id, timestamp=timestamp)
