"""What Hello, RegisterKey and Join signatures cover (docs/protocol.md §4.1, §4.3, §4.6).

The known answers are written out field by field from the formulas of docs/protocol.md and
/work/v3-spec.md, independently of quicko.crypto.kdf.encode_fields.
"""

from __future__ import annotations

import datetime
import hashlib
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from quicko.crypto import ed25519
from quicko.errors import AuthenticationError
from quicko.protocol import (
    canonical_relay_url,
    hello_transcript,
    join_transcript,
    register_transcript,
    tls_channel_binding,
)
from quicko.protocol.auth import HELLO_LABEL, JOIN_LABEL, REGISTER_LABEL

NONCE = bytes(range(32))
ADDRESS = bytes(range(0x40, 0x50))
X_PUB = bytes(range(0x60, 0x80))
ED_PUB = bytes(range(0x80, 0xA0))
BINDING = bytes(range(0xC0, 0xE0))  # stands for SHA-256 of a relay certificate
SESSION_ID = bytes(range(0xE0, 0xF0))
RELAY_URL = "wss://relay.example:443"

HELLO_FIELDS: dict[str, Any] = {
    "nonce": NONCE,
    "node_id": "relay-1",
    "server_time": 1_767_225_600_000,
    "relay_url": RELAY_URL,
    "channel_binding": BINDING,
    "address": ADDRESS,
    "display_name": "Swift Falcon #7A3F",
    "x25519_public": X_PUB,
    "ed25519_public": ED_PUB,
}
REGISTER_FIELDS: dict[str, Any] = {
    "address": ADDRESS,
    "display_name": "Swift Falcon #7A3F",
    "x25519_public": X_PUB,
    "ed25519_public": ED_PUB,
    "relay_url": RELAY_URL,
    "signed_at": 1_767_225_600_000,
}
JOIN_FIELDS: dict[str, Any] = {
    "nonce": NONCE,
    "node_id": "relay-1",
    "session_id": SESSION_ID,
    "address": ADDRESS,
}


def prefixed(part: bytes) -> bytes:
    """Written out independently of quicko.crypto.kdf.encode_fields."""
    return len(part).to_bytes(4, "big") + part


def split_fields(transcript: bytes) -> list[bytes]:
    """The parts of an ``LP(…)`` encoding, read back by their length prefixes."""
    parts = []
    offset = 0
    while offset < len(transcript):
        length = int.from_bytes(transcript[offset : offset + 4], "big")
        parts.append(transcript[offset + 4 : offset + 4 + length])
        offset += 4 + length
    assert offset == len(transcript)
    return parts


# ------------------------------------------------------------------ labels


def test_labels() -> None:
    assert HELLO_LABEL == b"quicko2/v4/hello"
    assert REGISTER_LABEL == b"quicko2/v4/register"
    assert JOIN_LABEL == b"quicko2/v4/join"


# ------------------------------------------------------------------ Hello


def test_hello_transcript_known_bytes() -> None:
    # LP(label, nonce, node_id, u64(server_time), relay_url, channel_binding, address,
    #    display_name, x25519_public, ed25519_public)  (docs/protocol.md §4.1)
    expected = (
        bytes.fromhex("00000010") + b"quicko2/v4/hello"
        + bytes.fromhex("00000020") + NONCE
        + bytes.fromhex("00000007") + b"relay-1"
        + bytes.fromhex("00000008 0000019b 76daa800")
        + bytes.fromhex("00000017") + b"wss://relay.example:443"
        + bytes.fromhex("00000020") + BINDING
        + bytes.fromhex("00000010") + ADDRESS
        + bytes.fromhex("00000012") + b"Swift Falcon #7A3F"
        + bytes.fromhex("00000020") + X_PUB
        + bytes.fromhex("00000020") + ED_PUB
    )  # fmt: skip
    transcript = hello_transcript(**HELLO_FIELDS)
    assert transcript == expected
    assert len(transcript) == 4 * 10 + 16 + 32 + 7 + 8 + 23 + 32 + 16 + 18 + 32 + 32
    assert hashlib.sha256(transcript).hexdigest() == (
        "40cfb7a50c884502ab7c925cc4eed2a9e315c143922bd04a90f92359bacd10ec"
    )


def test_hello_transcript_over_ws_has_an_empty_binding() -> None:
    transcript = hello_transcript(
        **{**HELLO_FIELDS, "relay_url": "ws://relay.example:80", "channel_binding": b""}
    )
    parts = split_fields(transcript)
    assert parts[4:6] == [b"ws://relay.example:80", b""]
    assert prefixed(b"ws://relay.example:80") + bytes(4) + prefixed(ADDRESS) in transcript


def test_strings_are_utf8() -> None:
    transcript = hello_transcript(**{**HELLO_FIELDS, "display_name": "Zoë 🦊", "node_id": "ñ"})
    assert prefixed("Zoë 🦊".encode()) in transcript
    assert prefixed(b"\xc3\xb1") in transcript


@pytest.mark.parametrize(
    ("name", "other"),
    [
        ("nonce", bytes(32)),
        ("node_id", "relay-2"),
        ("server_time", 1_767_225_600_001),
        ("relay_url", "wss://relay.example:8443"),
        ("relay_url", "ws://relay.example:443"),
        ("channel_binding", b""),
        ("channel_binding", bytes(32)),
        ("address", bytes(16)),
        ("display_name", "Swift Falcon #7A3E"),
        ("x25519_public", ED_PUB),
        ("ed25519_public", X_PUB),
    ],
)
def test_every_hello_field_changes_the_transcript(name: str, other: Any) -> None:
    assert hello_transcript(**{**HELLO_FIELDS, name: other}) != hello_transcript(**HELLO_FIELDS)


def test_moving_bytes_between_fields_changes_the_transcript() -> None:
    a = hello_transcript(**{**HELLO_FIELDS, "node_id": "relay-1", "display_name": "ab"})
    b = hello_transcript(**{**HELLO_FIELDS, "node_id": "relay-1a", "display_name": "b"})
    assert a != b
    # The URL and the binding are adjacent: moving a byte across them changes the transcript.
    c = hello_transcript(**{**HELLO_FIELDS, "relay_url": "ws://a:1", "channel_binding": b"x"})
    d = hello_transcript(**{**HELLO_FIELDS, "relay_url": "ws://a:1x", "channel_binding": b""})
    assert c != d


def test_times_are_eight_bytes_big_endian() -> None:
    zero = hello_transcript(**{**HELLO_FIELDS, "server_time": 0})
    top = hello_transcript(**{**HELLO_FIELDS, "server_time": 2**64 - 1})
    assert prefixed(bytes(8)) in zero
    assert prefixed(b"\xff" * 8) in top
    assert len(zero) == len(top)


# ------------------------------------------------------------------ RegisterKey


def test_register_transcript_known_bytes() -> None:
    # LP(label, address, display_name, x25519_public, ed25519_public, relay_url, u64(signed_at))
    # (docs/protocol.md §4.6)
    expected = b"".join(
        prefixed(part)
        for part in (
            b"quicko2/v4/register",
            ADDRESS,
            b"Swift Falcon #7A3F",
            X_PUB,
            ED_PUB,
            b"wss://relay.example:443",
            (1_767_225_600_000).to_bytes(8, "big"),
        )
    )
    assert register_transcript(**REGISTER_FIELDS) == expected
    assert expected[:4] == bytes.fromhex("00000013")
    assert len(expected) == 4 * 7 + 19 + 16 + 18 + 32 + 32 + 23 + 8


@pytest.mark.parametrize(
    ("name", "other"),
    [
        ("address", bytes(16)),
        ("display_name", ""),
        ("x25519_public", ED_PUB),
        ("ed25519_public", X_PUB),
        ("relay_url", "wss://other.example:443"),
        ("relay_url", ""),
        ("signed_at", 0),
    ],
)
def test_every_register_field_changes_the_transcript(name: str, other: Any) -> None:
    changed = register_transcript(**{**REGISTER_FIELDS, name: other})
    assert changed != register_transcript(**REGISTER_FIELDS)


# ------------------------------------------------------------------ Join


def test_join_transcript_known_bytes() -> None:
    # LP("quicko2/v4/join", Challenge.nonce, node_id, session_id, address)  (§4.3)
    expected = (
        bytes.fromhex("0000000f") + b"quicko2/v4/join"
        + bytes.fromhex("00000020") + NONCE
        + bytes.fromhex("00000007") + b"relay-1"
        + bytes.fromhex("00000010") + SESSION_ID
        + bytes.fromhex("00000010") + ADDRESS
    )  # fmt: skip
    transcript = join_transcript(**JOIN_FIELDS)
    assert transcript == expected
    assert len(transcript) == 4 * 5 + 15 + 32 + 7 + 16 + 16


@pytest.mark.parametrize(
    ("name", "other"),
    [
        ("nonce", bytes(32)),
        ("nonce", NONCE[::-1]),
        ("node_id", "relay-2"),
        ("node_id", ""),
        ("session_id", bytes(16)),
        ("address", bytes(16)),
        ("address", SESSION_ID),
    ],
)
def test_every_join_field_changes_the_transcript(name: str, other: Any) -> None:
    assert join_transcript(**{**JOIN_FIELDS, name: other}) != join_transcript(**JOIN_FIELDS)


def test_join_transcript_session_and_address_are_not_interchangeable() -> None:
    swapped = {**JOIN_FIELDS, "session_id": ADDRESS, "address": SESSION_ID}
    assert join_transcript(**swapped) != join_transcript(**JOIN_FIELDS)


def test_a_join_proof_is_bound_to_its_connection_and_joiner() -> None:
    join_key = ed25519.Ed25519KeyPair.from_seed(bytes(range(100, 132)))
    proof = join_key.sign(join_transcript(**JOIN_FIELDS))
    ed25519.verify(join_key.public, proof, join_transcript(**JOIN_FIELDS))
    for changes in (
        {"nonce": bytes(32)},  # another connection's Challenge
        {"node_id": "relay-2"},  # another relay node
        {"session_id": bytes(16)},  # another session
        {"address": bytes(16)},  # another joiner
    ):
        with pytest.raises(AuthenticationError):
            ed25519.verify(join_key.public, proof, join_transcript(**{**JOIN_FIELDS, **changes}))


# ------------------------------------------------------------------ domain separation


def test_hello_register_and_join_transcripts_never_collide() -> None:
    hello = hello_transcript(**HELLO_FIELDS)
    register = register_transcript(**REGISTER_FIELDS)
    join = join_transcript(**JOIN_FIELDS)
    assert len({hello, register, join}) == 3
    assert split_fields(hello)[0] == HELLO_LABEL
    assert split_fields(register)[0] == REGISTER_LABEL
    assert split_fields(join)[0] == JOIN_LABEL


@settings(max_examples=200, deadline=None)
@given(
    nonce=st.binary(min_size=32, max_size=32),
    node_id=st.text(max_size=20),
    session_id=st.binary(min_size=16, max_size=16),
    address=st.binary(min_size=16, max_size=16),
    relay_url=st.text(max_size=40),
    binding=st.sampled_from([b"", BINDING]),
    name=st.text(max_size=20),
    keys=st.binary(min_size=64, max_size=64),
    time=st.integers(0, 2**64 - 1),
)
def test_transcripts_of_different_purposes_never_collide(
    nonce: bytes,
    node_id: str,
    session_id: bytes,
    address: bytes,
    relay_url: str,
    binding: bytes,
    name: str,
    keys: bytes,
    time: int,
) -> None:
    # A proof signed by a join key must never verify as a Hello or a RegisterKey signature, and
    # the other way round: LP is unambiguous and the first field is the purpose's label.
    join = join_transcript(nonce=nonce, node_id=node_id, session_id=session_id, address=address)
    hello = hello_transcript(
        nonce=nonce, node_id=node_id, server_time=time, relay_url=relay_url,
        channel_binding=binding, address=address, display_name=name,
        x25519_public=keys[:32], ed25519_public=keys[32:],
    )  # fmt: skip
    register = register_transcript(
        address=address, display_name=name, x25519_public=keys[:32],
        ed25519_public=keys[32:], relay_url=relay_url, signed_at=time,
    )  # fmt: skip
    assert len({join, hello, register}) == 3
    labels = [split_fields(transcript)[0] for transcript in (join, hello, register)]
    assert labels == [JOIN_LABEL, HELLO_LABEL, REGISTER_LABEL]


# ------------------------------------------------------------------ canonical_relay_url


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("ws://relay.example:9900", "ws://relay.example:9900"),
        ("ws://relay.example", "ws://relay.example:80"),
        ("wss://relay.example", "wss://relay.example:443"),
        ("ws://relay.example:443", "ws://relay.example:443"),
        ("wss://relay.example:80", "wss://relay.example:80"),
        ("WS://Relay.EXAMPLE:9900", "ws://relay.example:9900"),
        ("Wss://RELAY.example", "wss://relay.example:443"),
        ("wss://relay.example/ws", "wss://relay.example:443"),
        ("wss://relay.example:8443/ws/", "wss://relay.example:8443"),
        ("ws://relay.example:9900/", "ws://relay.example:9900"),
        ("ws://relay.example:9900/ws?x=1#top", "ws://relay.example:9900"),
        ("ws://127.0.0.1:9900/ws", "ws://127.0.0.1:9900"),
        ("ws://[::1]:9900", "ws://[::1]:9900"),
        ("wss://[::1]", "wss://[::1]:443"),
        ("ws://[2001:DB8::A]/ws", "ws://[2001:db8::a]:80"),
        ("ws://[2001:0db8:0:0:0:0:0:000a]:9900", "ws://[2001:db8::a]:9900"),
        ("ws://[0:0:0:0:0:0:0:1]:9900", "ws://[::1]:9900"),
        ("ws://[::ffff:127.0.0.1]:9900", "ws://[::ffff:7f00:1]:9900"),
        ("  wss://relay.example  ", "wss://relay.example:443"),
        ("wss://relay.example:65535", "wss://relay.example:65535"),
    ],
)
def test_canonical_relay_url(url: str, canonical: str) -> None:
    assert canonical_relay_url(url) == canonical
    assert canonical_relay_url(canonical) == canonical  # idempotent


def test_urls_naming_the_same_relay_are_equal() -> None:
    same = {
        canonical_relay_url(url)
        for url in ("wss://relay.example", "WSS://Relay.Example:443/", "wss://relay.example/ws")
    }
    assert same == {"wss://relay.example:443"}
    assert canonical_relay_url("ws://relay.example") != canonical_relay_url("wss://relay.example")


@pytest.mark.parametrize(
    "url",
    [
        "",
        "relay.example:9900",
        "http://relay.example",
        "https://relay.example:443",
        "ftp://relay.example",
        "ws:relay.example",
        "ws://",
        "ws:///ws",
        "ws://:9900",
        "ws://relay.example:0",
        "ws://relay.example:65536",
        "ws://relay.example:-1",
        "ws://relay.example:+80",
        "ws://relay.example:http",
        "ws://relay.example:80:90",
        "ws://[::1",
    ],
)
def test_bad_relay_urls_raise_value_error(url: str) -> None:
    with pytest.raises(ValueError):  # the message varies with the fault; the kind is the contract
        canonical_relay_url(url)


# ------------------------------------------------------------------ tls_channel_binding


def certificate_der(signature_hash: hashes.SHA256 | hashes.SHA384) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "relay.example")])
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=1))
        .sign(key, signature_hash)
    )
    return certificate.public_bytes(serialization.Encoding.DER)


def test_no_certificate_gives_the_empty_binding() -> None:
    assert tls_channel_binding(None) == b""


@pytest.mark.parametrize(
    "signature_hash", [hashes.SHA256(), hashes.SHA384()], ids=["sha256", "sha384"]
)
def test_the_binding_is_sha256_of_the_certificate_der(
    signature_hash: hashes.SHA256 | hashes.SHA384,
) -> None:
    # RFC 5929 tls-server-end-point would follow the certificate's signature hash (SHA-384 for
    # the second one); Quicko2 always uses SHA-256 (docs/protocol.md §4.1).
    der = certificate_der(signature_hash)
    binding = tls_channel_binding(der)
    assert binding == hashlib.sha256(der).digest()
    assert binding == x509.load_der_x509_certificate(der).fingerprint(hashes.SHA256())
    assert len(binding) == 32


def test_another_certificate_gives_another_binding() -> None:
    first, second = certificate_der(hashes.SHA256()), certificate_der(hashes.SHA256())
    assert tls_channel_binding(first) != tls_channel_binding(second)
