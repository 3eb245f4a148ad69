"""Tests of quicko.crypto.ratchet: two real ratchets pumped against each other, seeded.

Covers the Signal spec's behaviour (in-order, out-of-order, DH ratchet steps), the transactional
receive (every failure leaves the state exactly as it was), replays, the skip bounds, the
skipped-key store's cap, wiping and reprs.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from quicko.crypto import ratchet as ratchet_module
from quicko.crypto.kdf import encode_fields, hkdf_sha256, hmac_sha256, label
from quicko.crypto.ratchet import (
    HEADER_SIZE,
    MAX_SKIP,
    MAX_STORED_SKIPPED,
    MIN_BODY_SIZE,
    DoubleRatchet,
)
from quicko.crypto.x25519 import X25519KeyPair
from quicko.errors import AuthenticationError, InvalidKeyError

AD = b"associated data"
SHARED_KEY = bytes(range(32))
LOW_ORDER_POINT = bytes(32)


class SeededRng:
    """A deterministic RandomSource: SHA-256 of (seed, counter) blocks; counts its calls."""

    def __init__(self, seed: bytes) -> None:
        self.seed = seed
        self.calls = 0
        self._counter = 0

    def __call__(self, n: int) -> bytes:
        self.calls += 1
        out = b""
        while len(out) < n:
            out += hashlib.sha256(self.seed + self._counter.to_bytes(8, "big")).digest()
            self._counter += 1
        return out[:n]


def make_pair(seed: bytes = b"pair") -> tuple[DoubleRatchet, DoubleRatchet]:
    """An (initiator, responder) pair sharing SHARED_KEY, each with its own seeded rng."""
    bob_rng = SeededRng(seed + b"/bob")
    bob_pair = X25519KeyPair.generate(bob_rng)
    alice = DoubleRatchet.initiator(SHARED_KEY, bob_pair.public, SeededRng(seed + b"/alice"))
    bob = DoubleRatchet.responder(SHARED_KEY, bob_pair, bob_rng)
    return alice, bob


def snapshot(r: DoubleRatchet) -> tuple[object, ...]:
    """Every state variable, by value (so that a wiped shared secret shows as a change)."""
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
        tuple((key, bytes(mk)) for key, mk in r._skipped.items()),
        r._wiped,
    )


def assert_refused(r: DoubleRatchet, body: bytes, ad: bytes = AD) -> None:
    before = snapshot(r)
    with pytest.raises(AuthenticationError):
        r.decrypt(body, ad)
    assert snapshot(r) == before


def synced_pair() -> tuple[DoubleRatchet, DoubleRatchet]:
    """A pair where both sides can send (Bob has received Alice's first message)."""
    alice, bob = make_pair()
    assert bob.decrypt(alice.encrypt(b"sync", AD), AD) == b"sync"
    return alice, bob


# ---------------------------------------------------------------- basics


def test_roles_and_first_exchange() -> None:
    alice, bob = make_pair()
    assert (alice.can_send, bob.can_send) == (True, False)
    with pytest.raises(ValueError, match="cannot send"):
        bob.encrypt(b"too early", AD)
    body = alice.encrypt(b"hello", AD)
    assert len(body) == HEADER_SIZE + len(b"hello") + 16
    assert bob.decrypt(body, AD) == b"hello"
    assert bob.can_send
    assert alice.decrypt(bob.encrypt(b"hi", AD), AD) == b"hi"


def test_header_layout() -> None:
    alice, bob = synced_pair()
    bodies = [bob.encrypt(b"x", AD) for _ in range(3)]
    bob_public = bob._state.dhs.public
    for n, body in enumerate(bodies):
        assert body[:32] == bob_public
        assert body[32:36] == (0).to_bytes(4, "big")  # pn: Bob had sent nothing before
        assert body[36:40] == n.to_bytes(4, "big")
    for body in bodies:
        alice.decrypt(body, AD)
    # Alice's second sending chain says how long her first one was.
    next_body = alice.encrypt(b"y", AD)
    assert next_body[32:36] == (1).to_bytes(4, "big")
    assert next_body[36:40] == bytes(4)
    assert next_body[:32] != bodies[0][:32]


def test_message_key_schedule_matches_the_spec() -> None:
    # The first message of Alice, re-derived by hand from the spec's functions.
    bob_rng, alice_rng = SeededRng(b"kat/bob"), SeededRng(b"kat/alice")
    bob_pair = X25519KeyPair.generate(bob_rng)
    alice = DoubleRatchet.initiator(SHARED_KEY, bob_pair.public, alice_rng)
    body = alice.encrypt(b"plaintext", AD)

    alice_pair = X25519KeyPair.generate(SeededRng(b"kat/alice"))
    root = hkdf_sha256(
        alice_pair.exchange(bob_pair.public), salt=SHARED_KEY, info=label("ratchet/root"), length=64
    )
    chain_key = root[32:]
    message_key = hmac_sha256(chain_key, b"\x01")
    header = alice_pair.public + bytes(8)
    # ENCRYPT (v4): the message key is the AES-256-GCM key, the nonce 12 zero bytes.
    expected = AESGCM(message_key).encrypt(bytes(12), b"plaintext", encode_fields(AD, header))
    assert body == header + expected
    # The second message uses the next chain key, HMAC(ck, 0x02).
    second = alice.encrypt(b"plaintext", AD)
    next_key = hmac_sha256(hmac_sha256(chain_key, b"\x02"), b"\x01")
    header2 = alice_pair.public + bytes(4) + (1).to_bytes(4, "big")
    assert second == header2 + AESGCM(next_key).encrypt(
        bytes(12), b"plaintext", encode_fields(AD, header2)
    )


def test_same_seeds_same_bodies_and_rng_is_the_only_randomness() -> None:
    runs = []
    for _ in range(2):
        alice, bob = make_pair(b"det")
        bodies = [alice.encrypt(b"a", AD)]
        bob.decrypt(bodies[0], AD)
        bodies.append(bob.encrypt(b"b", AD))
        alice.decrypt(bodies[1], AD)
        bodies.append(alice.encrypt(b"c", AD))
        runs.append(bodies)
    assert runs[0] == runs[1]


def test_rng_called_once_per_dh_ratchet_step() -> None:
    bob_rng, alice_rng = SeededRng(b"b"), SeededRng(b"a")
    bob_pair = X25519KeyPair.generate(bob_rng)
    alice = DoubleRatchet.initiator(SHARED_KEY, bob_pair.public, alice_rng)
    bob = DoubleRatchet.responder(SHARED_KEY, bob_pair, bob_rng)
    assert (alice_rng.calls, bob_rng.calls) == (1, 1)
    for _ in range(3):
        bob.decrypt(alice.encrypt(b"m", AD), AD)
    assert bob_rng.calls == 2  # one step: the first message of Alice's chain
    alice.decrypt(bob.encrypt(b"m", AD), AD)
    assert alice_rng.calls == 2


def test_long_conversation_with_bursts() -> None:
    alice, bob = make_pair(b"long")
    bursts = [1, 1, 1, 5, 1, 17, 2, 0, 3, 40, 1, 1, 9, 0, 0, 4, 1, 1, 1, 25]
    count = 0
    for turn, burst in enumerate(bursts * 3):
        sender, receiver = (alice, bob) if turn % 2 == 0 else (bob, alice)
        for _ in range(burst):
            text = f"message {count}".encode()
            assert receiver.decrypt(sender.encrypt(text, AD), AD) == text
            count += 1
    assert count == sum(bursts) * 3
    assert not alice._skipped
    assert not bob._skipped


def test_every_message_key_is_different() -> None:
    alice, bob = synced_pair()
    bodies = [alice.encrypt(b"same plaintext", AD) for _ in range(20)]
    bodies += [bob.encrypt(b"same plaintext", AD) for _ in range(20)]
    assert len({body[HEADER_SIZE:] for body in bodies}) == 40


# ---------------------------------------------------------------- out of order


def test_out_of_order_within_and_across_chains() -> None:
    alice, bob = make_pair()
    first_chain = [alice.encrypt(f"a{i}".encode(), AD) for i in range(5)]
    assert bob.decrypt(first_chain[3], AD) == b"a3"
    assert alice.decrypt(bob.encrypt(b"b0", AD), AD) == b"b0"
    second_chain = [alice.encrypt(f"c{i}".encode(), AD) for i in range(3)]
    assert bob.decrypt(second_chain[2], AD) == b"c2"  # pn = 5: a4 is skipped too
    assert len(bob._skipped) == 3 + 1 + 2
    for i in (4, 0, 2, 1):
        assert bob.decrypt(first_chain[i], AD) == f"a{i}".encode()
    for i in (1, 0):
        assert bob.decrypt(second_chain[i], AD) == f"c{i}".encode()
    assert not bob._skipped


@dataclass
class Network:
    """Two ratchets and the messages in flight between them, delivered in any order."""

    alice: DoubleRatchet
    bob: DoubleRatchet
    in_flight: list[tuple[str, bytes, bytes]] = field(default_factory=list)  # (to, body, text)
    delivered: list[tuple[str, bytes]] = field(default_factory=list)
    sent: int = 0

    def side(self, name: str) -> DoubleRatchet:
        return self.alice if name == "alice" else self.bob

    def send(self, sender: str) -> None:
        text = f"{sender} {self.sent}".encode()
        self.sent += 1
        to = "bob" if sender == "alice" else "alice"
        self.in_flight.append((to, self.side(sender).encrypt(text, AD), text))

    def deliver(self, index: int) -> None:
        to, body, text = self.in_flight.pop(index)
        assert self.side(to).decrypt(body, AD) == text
        self.delivered.append((to, body))

    def replay(self, index: int) -> None:
        to, body = self.delivered[index]
        assert_refused(self.side(to), body)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_random_schedule_delivers_everything_exactly_once(data: st.DataObject) -> None:
    net = Network(*make_pair(b"net"))
    net.send("alice")
    for _ in range(data.draw(st.integers(10, 80), label="steps")):
        actions = ["alice"]
        if net.bob.can_send:
            actions.append("bob")
        if net.in_flight:
            actions.append("deliver")
        if net.delivered:
            actions.append("replay")
        action = data.draw(st.sampled_from(actions))
        if action in {"alice", "bob"}:
            for _ in range(data.draw(st.integers(1, 6), label="burst")):
                net.send(action)
        elif action == "deliver":
            net.deliver(data.draw(st.integers(0, len(net.in_flight) - 1), label="which"))
        else:
            net.replay(data.draw(st.integers(0, len(net.delivered) - 1), label="replayed"))
    while net.in_flight:
        net.deliver(data.draw(st.integers(0, len(net.in_flight) - 1), label="drain"))
    for to, body in net.delivered:
        assert_refused(net.side(to), body)
    assert not net.alice._skipped
    assert not net.bob._skipped


# ---------------------------------------------------------------- replays and failures


def test_replays_are_refused_in_every_position() -> None:
    alice, bob = make_pair()
    chain = [alice.encrypt(f"a{i}".encode(), AD) for i in range(4)]
    bob.decrypt(chain[0], AD)
    assert_refused(bob, chain[0])  # same chain, below Nr
    bob.decrypt(chain[3], AD)
    bob.decrypt(chain[1], AD)  # from the skipped keys
    assert_refused(bob, chain[1])  # a skipped key is used once
    alice.decrypt(bob.encrypt(b"b", AD), AD)
    bob.decrypt(alice.encrypt(b"next chain", AD), AD)
    assert_refused(bob, chain[3])  # an old chain: a DH ratchet is staged, then undone
    assert bob.decrypt(chain[2], AD) == b"a2"  # still in the skipped keys


def test_used_skipped_key_is_zeroed() -> None:
    alice, bob = make_pair()
    chain = [alice.encrypt(b"m", AD) for _ in range(2)]
    bob.decrypt(chain[1], AD)
    (stored,) = bob._skipped.values()
    bob.decrypt(chain[0], AD)
    assert stored == bytearray(32)


@pytest.mark.parametrize("kind", ["new-chain", "same-chain", "skipped"])
def test_tampering_any_byte_is_refused_and_changes_nothing(kind: str) -> None:
    alice, bob = make_pair()
    if kind == "new-chain":
        body = alice.encrypt(b"first message", AD)
    else:
        bodies = [alice.encrypt(b"first message", AD) for _ in range(3)]
        bob.decrypt(bodies[0] if kind == "same-chain" else bodies[2], AD)
        body = bodies[1]
    for index in range(len(body)):
        for flip in (0x01, 0x80):
            tampered = bytearray(body)
            tampered[index] ^= flip
            assert_refused(bob, bytes(tampered))
    assert_refused(bob, body[:-1])
    assert_refused(bob, body + b"\x00")
    assert bob.decrypt(body, AD) == b"first message"


def test_wrong_associated_data_is_refused() -> None:
    alice, bob = make_pair()
    body = alice.encrypt(b"m", AD)
    assert_refused(bob, body, AD + b"!")
    assert_refused(bob, body, b"")
    assert bob.decrypt(body, AD) == b"m"


@pytest.mark.parametrize("size", [0, 1, HEADER_SIZE, MIN_BODY_SIZE - 1])
def test_short_bodies_are_refused(size: int) -> None:
    _, bob = synced_pair()
    assert_refused(bob, bytes(size))


def test_empty_plaintext_round_trips() -> None:
    alice, bob = make_pair()
    body = alice.encrypt(b"", AD)
    assert len(body) == MIN_BODY_SIZE
    assert bob.decrypt(body, AD) == b""


def test_low_order_ratchet_key_in_a_header_is_refused() -> None:
    alice, bob = synced_pair()
    genuine = alice.encrypt(b"g", AD)
    # pn = 3 makes Bob stage skipped keys of the current chain before the DH step fails.
    forged = LOW_ORDER_POINT + (3).to_bytes(4, "big") + bytes(4) + bytes(16)
    assert_refused(bob, forged)
    assert bob.decrypt(genuine, AD) == b"g"


def test_initiator_refuses_its_peers_initial_ratchet_key_before_a_reply() -> None:
    bob_pair = X25519KeyPair.generate(SeededRng(b"k"))
    alice = DoubleRatchet.initiator(SHARED_KEY, bob_pair.public, SeededRng(b"a"))
    # Alice has no receiving chain for Bob's first key: nothing can decrypt under it.
    assert_refused(alice, bob_pair.public + bytes(8) + bytes(16))


# ---------------------------------------------------------------- skip bounds


def test_skipping_exactly_max_skip_is_allowed() -> None:
    alice, bob = make_pair()
    bodies = [alice.encrypt(b"m", AD) for _ in range(MAX_SKIP + 1)]
    assert bob.decrypt(bodies[MAX_SKIP], AD) == b"m"
    assert len(bob._skipped) == MAX_SKIP
    assert bob.decrypt(bodies[0], AD) == b"m"


def test_skipping_more_than_max_skip_is_refused() -> None:
    alice, bob = make_pair()
    bodies = [alice.encrypt(b"m", AD) for _ in range(MAX_SKIP + 2)]
    assert_refused(bob, bodies[MAX_SKIP + 1])
    assert bob.decrypt(bodies[0], AD) == b"m"
    assert bob.decrypt(bodies[MAX_SKIP + 1], AD) == b"m"  # now only 1000 keys are skipped


def _forge(dh: bytes, pn: int, n: int) -> bytes:
    return dh + pn.to_bytes(4, "big") + n.to_bytes(4, "big") + bytes(16)


@pytest.mark.parametrize(
    ("new_key", "pn", "n"),
    [
        (False, 0, 2**32 - 1),
        (False, 0, 1 + MAX_SKIP + 1),
        (True, 0, MAX_SKIP + 1),
        (True, 1 + MAX_SKIP + 1, 0),
        (True, 2**32 - 1, 2**32 - 1),
    ],
)
def test_out_of_bound_headers_are_refused_without_derivation(
    monkeypatch: pytest.MonkeyPatch, new_key: bool, pn: int, n: int
) -> None:
    _, bob = synced_pair()  # Bob has received one message: Nr = 1
    dh = X25519KeyPair.generate(SeededRng(b"new")).public if new_key else bob._state.dhr
    assert dh is not None
    calls = []

    def counting_kdf_ck(chain_key: bytearray) -> tuple[bytearray, bytearray]:
        calls.append(1)
        return (bytearray(32), bytearray(32))

    monkeypatch.setattr(ratchet_module, "_kdf_ck", counting_kdf_ck)
    assert_refused(bob, _forge(dh, pn, n))
    assert calls == []


def test_responder_refuses_a_first_header_with_a_huge_pn() -> None:
    _, bob = make_pair()
    dh = X25519KeyPair.generate(SeededRng(b"x")).public
    assert_refused(bob, _forge(dh, MAX_SKIP + 1, 0))


def test_stored_skipped_keys_are_capped_oldest_first() -> None:
    alice, bob = make_pair()
    oldest_chain: list[bytes] = []
    for round_ in range(2):
        chain = [alice.encrypt(b"m", AD) for _ in range(MAX_SKIP + 1)]
        bob.decrypt(chain[MAX_SKIP], AD)
        alice.decrypt(bob.encrypt(b"r", AD), AD)
        if round_ == 0:
            oldest_chain = chain
    assert len(bob._skipped) == MAX_STORED_SKIPPED
    first_stored = next(iter(bob._skipped.values()))
    late = [alice.encrypt(b"late", AD) for _ in range(2)]
    bob.decrypt(late[1], AD)  # one more skipped key: the oldest goes
    assert len(bob._skipped) == MAX_STORED_SKIPPED
    assert first_stored == bytearray(32)  # zeroed when dropped
    assert_refused(bob, oldest_chain[0])
    assert bob.decrypt(oldest_chain[1], AD) == b"m"
    assert bob.decrypt(late[0], AD) == b"late"


# ---------------------------------------------------------------- set-up, misuse, wipe, repr


@pytest.mark.parametrize("size", [0, 16, 31, 33, 64])
def test_shared_key_must_be_32_bytes(size: int) -> None:
    pair = X25519KeyPair.generate(SeededRng(b"k"))
    with pytest.raises(ValueError, match="32 bytes"):
        DoubleRatchet.initiator(bytes(size), pair.public, SeededRng(b"a"))
    with pytest.raises(ValueError, match="32 bytes"):
        DoubleRatchet.responder(bytes(size), pair, SeededRng(b"b"))


@pytest.mark.parametrize("public", [LOW_ORDER_POINT, (1).to_bytes(32, "little"), bytes(31)])
def test_initiator_refuses_a_bad_remote_key(public: bytes) -> None:
    with pytest.raises(InvalidKeyError):
        DoubleRatchet.initiator(SHARED_KEY, public, SeededRng(b"a"))


def test_sending_chain_exhaustion() -> None:
    alice, _ = make_pair()
    alice._state.ns = 2**32 - 1
    with pytest.raises(ValueError, match="exhausted"):
        alice.encrypt(b"m", AD)


def test_wipe_zeroes_secrets_and_disables() -> None:
    alice, bob = make_pair()
    chain = [alice.encrypt(b"m", AD) for _ in range(3)]
    bob.decrypt(chain[2], AD)
    state = bob._state
    secrets = [state.rk, state.cks, state.ckr, *bob._skipped.values()]
    bob.wipe()
    assert all(secret == bytearray(32) for secret in secrets if secret is not None)
    assert not bob._skipped
    assert not bob.can_send
    with pytest.raises(ValueError, match="wiped"):
        bob.encrypt(b"m", AD)
    with pytest.raises(ValueError, match="wiped"):
        bob.decrypt(chain[0], AD)
    assert "wiped=True" in repr(bob)


def test_replaced_chain_keys_are_zeroed() -> None:
    alice, bob = synced_pair()
    sending, root = alice._state.cks, alice._state.rk
    alice.encrypt(b"m", AD)
    assert sending == bytearray(32)
    alice.decrypt(bob.encrypt(b"r", AD), AD)  # a DH ratchet step replaces the root key
    assert root == bytearray(32)


def test_repr_shows_no_secret() -> None:
    alice, bob = synced_pair()
    alice.decrypt(bob.encrypt(b"reply", AD), AD)
    for r in (alice, bob):
        text = repr(r)
        state = r._state
        for secret in (state.rk, state.cks, state.ckr, state.dhs.public, state.dhr):
            assert secret is not None
            assert bytes(secret).hex()[:8] not in text
        assert text.startswith("DoubleRatchet(can_send=True")


def test_state_copy_is_a_shallow_copy_of_every_field() -> None:
    # _State.copy replaces dataclasses.replace on the receive path: it must copy every field.
    state = ratchet_module._State(
        rk=bytearray(b"r" * 32),
        dhs=X25519KeyPair.generate(lambda n: b"\x07" * n),
        dhr=b"d" * 32,
        cks=bytearray(b"s" * 32),
        ckr=bytearray(b"c" * 32),
        ns=1,
        nr=2,
        pn=3,
    )
    copy = state.copy()
    assert copy is not state
    for item in dataclasses.fields(state):
        assert getattr(copy, item.name) is getattr(state, item.name), item.name


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=32, max_size=32))
def test_message_key_is_the_gcm_key_under_a_constant_nonce(message_key: bytes) -> None:
    # ENCRYPT (protocol v4, docs/protocol.md §9.2): the message key is the AES-256-GCM key and
    # the nonce is 12 zero bytes; no expansion (v3 ran HKDF over it).
    key, nonce = ratchet_module._message_cipher(bytearray(message_key))
    assert (key, nonce) == (message_key, bytes(12))
    assert type(key) is bytes


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300), st.binary(min_size=HEADER_SIZE, max_size=HEADER_SIZE))
def test_gcm_associated_data_is_the_fields_encoding(associated_data: bytes, header: bytes) -> None:
    # The inlined associated data is exactly encode_fields(ad, header) (docs/protocol.md §9).
    assert ratchet_module._aad(associated_data, header) == encode_fields(associated_data, header)
