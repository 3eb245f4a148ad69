"""Tests of quicko.session.pairwise: triple DH, roles, the AD binding, and two real channels
pumped against each other with seeded randomness (docs/protocol.md §9)."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as pyca_hmac
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given, settings
from hypothesis import strategies as st

from quicko.crypto.ratchet import HEADER_SIZE
from quicko.crypto.x25519 import X25519KeyPair
from quicko.errors import AuthenticationError, InvalidKeyError, MalformedFrameError
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
from quicko.session.pairwise import PairwiseChannel, message_ad, triple_dh

SESSION = bytes([0x53]) * 16
ALICE = bytes([0x0A]) * 16  # the smaller address: the initiator
BOB = bytes([0x0B]) * 16
CAROL = bytes([0x0C]) * 16
MESSAGE_ID = bytes([0x4D]) * 16
TIMESTAMP = 1_700_000_000_000
TAG_SIZE = 16

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


def keys(seed: bytes) -> tuple[X25519KeyPair, X25519KeyPair]:
    rng = SeededRng(seed)
    return X25519KeyPair.generate(rng), X25519KeyPair.generate(rng)


def make_channels(
    a_addr: bytes = ALICE, b_addr: bytes = BOB, seed: bytes = b"s"
) -> tuple[PairwiseChannel, PairwiseChannel]:
    """Channels of two peers; returns (the side with a_addr, the side with b_addr)."""
    a_id, a_eph = keys(seed + b"/a")
    b_id, b_eph = keys(seed + b"/b")
    a = PairwiseChannel.establish(
        session_id=SESSION,
        own_address=a_addr,
        own_identity=a_id,
        own_ephemeral=a_eph,
        peer_address=b_addr,
        peer_identity_public=b_id.public,
        peer_ephemeral_public=b_eph.public,
        rng=SeededRng(seed + b"/a-rng"),
    )
    b = PairwiseChannel.establish(
        session_id=SESSION,
        own_address=b_addr,
        own_identity=b_id,
        own_ephemeral=b_eph,
        peer_address=a_addr,
        peer_identity_public=a_id.public,
        peer_ephemeral_public=a_eph.public,
        rng=SeededRng(seed + b"/b-rng"),
    )
    return a, b


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
    a_id, a_eph = keys(b"ta")
    b_id, b_eph = keys(b"tb")
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
    info = b"".join(len(p).to_bytes(4, "big") + p for p in (b"quicko2/v3/3dh", ALICE, BOB))
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
    own_id, own_eph = keys(b"o")
    peer_id, peer_eph = keys(b"p")
    with pytest.raises(InvalidKeyError):
        PairwiseChannel.establish(
            session_id=SESSION,
            own_address=own,
            own_identity=own_id,
            own_ephemeral=own_eph,
            peer_address=BOB,
            peer_identity_public=point if which == "identity" else peer_id.public,
            peer_ephemeral_public=point if which == "ephemeral" else peer_eph.public,
            rng=SeededRng(b"r"),
        )


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
    own_id, own_eph = keys(b"o")
    peer_id, peer_eph = keys(b"p")
    with pytest.raises(ValueError, match=match):
        PairwiseChannel.establish(
            session_id=session_id,
            own_address=own,
            own_identity=own_id,
            own_ephemeral=own_eph,
            peer_address=peer,
            peer_identity_public=peer_id.public,
            peer_ephemeral_public=peer_eph.public,
            rng=SeededRng(b"r"),
        )


def test_mismatched_keys_do_not_open() -> None:
    # Bob believes in another identity key for Alice (a substituted key): nothing opens.
    alice, _ = make_channels(seed=b"one")
    _, bob = make_channels(seed=b"two")
    body = alice.seal(Sync(), message_id=MESSAGE_ID, timestamp=TIMESTAMP)
    with pytest.raises(AuthenticationError):
        bob.open(body, message_id=MESSAGE_ID, timestamp=TIMESTAMP)


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
KAT_FIRST_BODY_HEX = (
    "a4e09292b651c278b9772c569f5fa9bb13d906b46ab68c9df9dc2b4409f8a209"  # header: DHs.public
    "0000000000000000"  # header: pn = 0, n = 0
    "700919791c8908ead27c411a01e40fcf848e8be9d38db07eda13dae3f2bd5501"  # ciphertext (64)
    "e8d5135643d669794a8e544190f6777adb0454b9374a1739e1bacdf17cf291e3"
    "ef7668dc2a3ccb0f2299dcd751093118"  # tag (16)
)


def test_known_answer_first_message() -> None:
    """The initiator's first body for fixed keys and randomness, pinned.

    Inputs: session_id = 0x53 * 16, initiator address 0x0A * 16, responder address 0x0B * 16,
    private keys IK_I = 0xA1 * 32, EK_I = 0xA2 * 32, IK_R = 0xB1 * 32, EK_R = 0xB2 * 32; the
    initiator's rng returns 0x01 * 32 on its first call (its first ratchet private key);
    envelope SYNC, message_id = 0x4D * 16, timestamp = 1_700_000_000_000.

    Derivation (docs/protocol.md §9, §10):
      1. SK = HKDF-SHA256(DH(IK_I, EK_R) || DH(EK_I, IK_R) || DH(EK_I, EK_R), salt=session_id,
         info=encode_fields("quicko2/v3/3dh", addr_I, addr_R), 32)
      2. DHs = X25519 key pair of private 0x01 * 32; out = HKDF-SHA256(DH(DHs, EK_R.public),
         salt=SK, info="quicko2/v3/ratchet/root", 64); RK = out[:32], CKs = out[32:]
      3. mk = HMAC-SHA256(CKs, 0x01)
      4. km = HKDF-SHA256(mk, salt=None, info="quicko2/v3/ratchet/message", 44);
         key = km[:32], nonce = km[32:]
      5. header = DHs.public || u32(0) || u32(0)
      6. ad = encode_fields("quicko2/v3/message", 0x03, session_id, addr_I, addr_R, message_id,
         u64(timestamp)); aad = encode_fields(ad, header)
      7. plaintext = u32(2) || 0x91 0x00 || 58 zero bytes (SYNC padded to 64)
      8. body = header || AES-256-GCM(key, nonce, plaintext, aad)  (40 + 64 + 16 = 120 bytes)
    """
    rng = CallCountRng()
    channel = PairwiseChannel.establish(
        session_id=SESSION,
        own_address=ALICE,
        own_identity=X25519KeyPair.from_private_bytes(KAT_IK_A),
        own_ephemeral=X25519KeyPair.from_private_bytes(KAT_EK_A),
        peer_address=BOB,
        peer_identity_public=_pyca_public(KAT_IK_B),
        peer_ephemeral_public=_pyca_public(KAT_EK_B),
        rng=rng,
    )
    body = channel.seal(Sync(), message_id=MESSAGE_ID, timestamp=TIMESTAMP)
    assert rng.calls == 1
    assert body.hex() == KAT_FIRST_BODY_HEX

    # The same steps, independently on pyca/cryptography.
    ek_r = _pyca_public(KAT_EK_B)
    ikm = (
        _pyca_dh(KAT_IK_A, ek_r)
        + _pyca_dh(KAT_EK_A, _pyca_public(KAT_IK_B))
        + _pyca_dh(KAT_EK_A, ek_r)
    )
    info = _fields(b"quicko2/v3/3dh", ALICE, BOB)
    sk = HKDF(algorithm=hashes.SHA256(), length=32, salt=SESSION, info=info).derive(ikm)
    dhs_private = bytes([1]) * 32
    out = HKDF(
        algorithm=hashes.SHA256(), length=64, salt=sk, info=b"quicko2/v3/ratchet/root"
    ).derive(_pyca_dh(dhs_private, ek_r))
    mac = pyca_hmac.HMAC(out[32:], hashes.SHA256())
    mac.update(b"\x01")
    mk = mac.finalize()
    km = HKDF(
        algorithm=hashes.SHA256(), length=44, salt=None, info=b"quicko2/v3/ratchet/message"
    ).derive(mk)
    header = _pyca_public(dhs_private) + bytes(8)
    ad = _fields(
        b"quicko2/v3/message",
        b"\x03",
        SESSION,
        ALICE,
        BOB,
        MESSAGE_ID,
        TIMESTAMP.to_bytes(8, "big"),
    )
    plaintext = bytes.fromhex("000000029100") + bytes(58)
    expected = header + AESGCM(km[:32]).encrypt(km[32:], plaintext, _fields(ad, header))
    assert body == expected
    assert len(body) == 120


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
    assert not bob._ratchet._skipped


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
    assert_refused(bob, body[: HEADER_SIZE + TAG_SIZE - 1], message_id, ts)
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
    body = alice._ratchet.encrypt(pad_envelope(Text("moved")), other_ad)
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
    body = alice._ratchet.encrypt(b"\x00\x00\x00\x02\x91\x09" + bytes(58), ad)
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
    assert len(body) - HEADER_SIZE - TAG_SIZE in BUCKET_SIZES
    assert len(body) == HEADER_SIZE + len(pad_envelope(Text("x" * size))) + TAG_SIZE
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
    assert bytes(bob._ratchet._state.rk) == bytes(32)
