"""Router: challenge, Hello, authentication failures, replacement, handshake rules (§1-§4)."""

from __future__ import annotations

import pytest
from router_harness import (
    NODE_ID,
    RELAY_URL,
    T0,
    Harness,
    closes,
    errors,
    hello_for,
    identity,
    payloads,
    raw,
    sid,
)

from quicko.protocol import (
    Challenge,
    Error,
    ErrorCode,
    Hello,
    HelloAck,
    Join,
    Ping,
    Pong,
    encode_frame,
    hello_transcript,
)
from quicko.relay.actions import (
    CLOSE_GOING_AWAY,
    CLOSE_POLICY_VIOLATION,
    CLOSE_REPLACED,
    CLOSE_UNSUPPORTED_DATA,
)
from quicko.relay.config import RelayConfig
from quicko.relay.router import Close, Router, Send


def test_open_sends_challenge_with_nonce_node_id_and_time() -> None:
    h = Harness()
    conn = h.open()
    challenge = h.challenges[conn]
    assert len(challenge.nonce) == 32
    assert challenge.node_id == NODE_ID
    assert challenge.server_time == T0
    assert h.challenges[h.open()].nonce != challenge.nonce


def test_open_twice_is_a_caller_bug() -> None:
    h = Harness()
    conn = h.open()
    with pytest.raises(ValueError, match="already open"):
        h.router.open(conn, h.now)


@pytest.mark.parametrize("node_id", ["", "x" * 65, "bad\nid"])
def test_node_id_must_fit_a_challenge(node_id: str) -> None:
    with pytest.raises(ValueError, match="node_id"):
        Router(RelayConfig(), node_id=node_id, rng=bytes)


def test_valid_hello_gets_hello_ack() -> None:
    h = Harness()
    peer, actions = h.connect(1)
    [ack] = payloads(actions, peer.conn)
    assert ack == HelloAck(peer.address, NODE_ID, T0, 0)
    assert h.router.health()["authenticated_connections"] == 1


def test_bad_signature_fails_and_closes() -> None:
    h = Harness()
    conn = h.open()
    hello = hello_for(identity(1), h.challenges[conn])
    forged = Hello(
        hello.address,
        hello.display_name,
        hello.x25519_public,
        hello.ed25519_public,
        hello.relay_url,
        bytes(64),
    )
    actions = h.send(conn, forged)
    assert errors(actions, conn) == [ErrorCode.AUTHENTICATION_FAILED]
    assert closes(actions) == {conn: CLOSE_POLICY_VIOLATION}
    assert h.recv(conn, encode_frame(Ping(1))) == []  # closing: ignored


def test_signature_over_another_challenge_fails() -> None:
    h = Harness()
    first, second = h.open(), h.open()
    actions = h.send(second, hello_for(identity(1), h.challenges[first]))
    assert errors(actions, second) == [ErrorCode.AUTHENTICATION_FAILED]


def test_address_not_matching_keys_fails() -> None:
    h = Harness()
    conn = h.open()
    real = hello_for(identity(1), h.challenges[conn])
    other = identity(2)
    # Signed correctly by identity 1's key, but claiming identity 2's address.
    challenge = h.challenges[conn]
    transcript = hello_transcript(
        nonce=challenge.nonce,
        node_id=NODE_ID,
        server_time=T0,
        relay_url=RELAY_URL,
        channel_binding=b"",
        address=other.address,
        display_name="x",
        x25519_public=real.x25519_public,
        ed25519_public=real.ed25519_public,
    )
    claim = Hello(
        other.address,
        "x",
        real.x25519_public,
        real.ed25519_public,
        RELAY_URL,
        identity(1).sign(transcript),
    )
    actions = h.send(conn, claim)
    assert errors(actions, conn) == [ErrorCode.AUTHENTICATION_FAILED]
    assert closes(actions) == {conn: CLOSE_POLICY_VIOLATION}


def test_frames_before_hello_are_unauthenticated_and_close() -> None:
    h = Harness()
    conn = h.open()
    actions = h.send(conn, Join(sid(1), ""))
    [error] = payloads(actions, conn)
    assert isinstance(error, Error)
    assert error.code == ErrorCode.UNAUTHENTICATED
    assert error.ref_type == 0x30
    assert closes(actions) == {conn: CLOSE_POLICY_VIOLATION}


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"\x03", ErrorCode.MALFORMED),
        (b"\x01\x01\x00\x00\x00\x00", ErrorCode.UNSUPPORTED_VERSION),
        (b"\x04\x77\x00\x00\x00\x00", ErrorCode.UNKNOWN_TYPE),
        (b"\x04\x01\x00\x00\x00\x01\xc0", ErrorCode.MALFORMED),
    ],
)
def test_undecodable_frames_before_hello_keep_the_connection(data: bytes, code: int) -> None:
    h = Harness()
    conn = h.open()
    actions = h.recv(conn, data)
    assert errors(actions, conn) == [code]
    assert closes(actions) == {}
    # A valid Hello afterwards still works.
    hello = h.send(conn, hello_for(identity(1), h.challenges[conn]))
    assert isinstance(payloads(hello, conn)[0], HelloAck)


def test_second_hello_is_unexpected() -> None:
    h = Harness()
    peer = h.peer(1)
    actions = h.send(peer.conn, hello_for(identity(1), h.challenges[peer.conn]))
    assert errors(actions, peer.conn) == [ErrorCode.UNEXPECTED_TYPE]
    assert closes(actions) == {}


def test_newer_connection_replaces_older() -> None:
    h = Harness()
    old = h.peer(1)
    new, actions = h.connect(1)
    assert errors(actions, old.conn) == [ErrorCode.REPLACED]
    assert closes(actions) == {old.conn: CLOSE_REPLACED}
    assert isinstance(payloads(actions, new.conn)[0], HelloAck)
    # The old connection's frames are ignored; its close announces nothing.
    assert h.send(old.conn, Ping(1)) == []
    assert h.drop(old) == []
    assert h.send(new.conn, Ping(2)) != []


def test_replacement_keeps_the_member_online_in_sessions() -> None:
    h = Harness()
    a, b = h.peer(1), h.peer(2)
    h.join(a, sid(1))
    h.join(b, sid(1))
    a2, actions = h.connect(1)
    assert raw(actions, b.conn) == []  # no PeerLeft / PeerJoined for a replacement
    assert h.router.health()["authenticated_connections"] == 2
    assert a2.conn != a.conn


def test_text_frame_is_refused_and_closed() -> None:
    h = Harness()
    peer = h.peer(1)
    actions = h.router.receive_text(peer.conn, h.now)
    assert errors(actions, peer.conn) == [ErrorCode.TEXT_FRAME]
    assert closes(actions) == {peer.conn: CLOSE_UNSUPPORTED_DATA}
    assert h.router.receive_text(peer.conn, h.now) == []
    assert h.router.receive_text(999, h.now) == []


def test_handshake_timeout() -> None:
    h = Harness()
    conn = h.open()
    assert h.router.next_deadline() == T0 + 10_000
    assert h.advance(9_999) == []
    actions = h.advance(1)
    assert errors(actions, conn) == [ErrorCode.HANDSHAKE_TIMEOUT]
    assert closes(actions) == {conn: CLOSE_POLICY_VIOLATION}
    assert h.router.closed(conn, h.now) == []
    assert h.router.health()["connections"] == 0


def test_unknown_and_closed_connections_are_ignored() -> None:
    h = Harness()
    assert h.recv(12345, b"\x04\x20") == []
    assert h.router.closed(12345, h.now) == []


def test_ping_pong() -> None:
    h = Harness()
    peer = h.peer(1)
    h.now += 5
    assert payloads(h.send(peer.conn, Ping(77)), peer.conn) == [Pong(77, T0 + 5)]


def test_shutdown_tells_and_closes_everyone() -> None:
    h = Harness()
    a, b = h.peer(1), h.peer(2)
    h.join(a, sid(1))
    h.join(b, sid(1))
    waiting = h.open()
    actions = h.router.shutdown(h.now)
    for conn in (a.conn, b.conn, waiting):
        assert errors(actions, conn) == [ErrorCode.SHUTTING_DOWN]
    assert closes(actions) == dict.fromkeys((a.conn, b.conn, waiting), CLOSE_GOING_AWAY)
    assert h.router.shutdown(h.now) == []
    assert h.drop(a) == []  # nobody is told anything after shutdown


def test_actions_are_plain_values() -> None:
    send = Send(1, b"\x04\x20abc")
    assert send == Send(1, b"\x04\x20abc")
    assert "5 bytes" in repr(send)
    assert "?" in repr(Send(1, b""))
    assert Close(1, 1000, "bye").code == 1000
    challenge = Challenge(bytes(32), NODE_ID, T0)
    assert challenge.node_id == NODE_ID


@pytest.mark.parametrize(
    "relay_url",
    [
        "ws://relay-one.example:9900",  # another relay's name: a forwarded Challenge
        "ws://127.0.0.1:9901",  # another port on this host
        "wss://127.0.0.1:9900",  # another scheme
        "not a url",
        "",
    ],
)
def test_hello_for_another_relay_is_wrong_relay_and_closes(relay_url: str) -> None:
    h = Harness()
    conn = h.open()
    actions = h.send(conn, hello_for(identity(1), h.challenges[conn], relay_url=relay_url))
    [error] = payloads(actions, conn)
    assert isinstance(error, Error)
    assert (error.code, error.ref_type) == (ErrorCode.WRONG_RELAY, 0x01)
    assert closes(actions) == {conn: CLOSE_POLICY_VIOLATION}
    assert h.router.health()["authenticated_connections"] == 0


def test_hello_names_the_relay_in_any_spelling_of_a_public_url() -> None:
    h = Harness(RelayConfig(public_urls=("ws://127.0.0.1:9900", "wss://relay.example:443")))
    for url in ("WS://127.0.0.1:9900/ws", "wss://RELAY.example", "wss://relay.example:443/"):
        conn = h.open()
        actions = h.send(conn, hello_for(identity(1), h.challenges[conn], relay_url=url))
        assert isinstance(payloads(actions, conn)[0], HelloAck), url


def test_public_urls_set_after_binding_replace_the_configured_ones() -> None:
    h = Harness()
    h.router.set_public_urls(["ws://127.0.0.1:45678/ws"])
    assert h.router.public_urls == frozenset({"ws://127.0.0.1:45678"})
    conn = h.open()
    refused = h.send(conn, hello_for(identity(1), h.challenges[conn]))  # RELAY_URL: not any more
    assert errors(refused, conn) == [ErrorCode.WRONG_RELAY]
    conn = h.open()
    hello = hello_for(identity(1), h.challenges[conn], relay_url="ws://127.0.0.1:45678")
    assert isinstance(payloads(h.send(conn, hello), conn)[0], HelloAck)
    with pytest.raises(ValueError, match="ws://"):
        h.router.set_public_urls(["http://127.0.0.1:1"])


def test_a_router_without_public_urls_accepts_no_hello() -> None:
    router = Router(RelayConfig(), node_id=NODE_ID, rng=bytes)
    [challenge_send] = router.open(1, T0)
    assert isinstance(challenge_send, Send)
    challenge = Challenge(bytes(32), NODE_ID, T0)
    actions = router.receive(1, encode_frame(hello_for(identity(1), challenge)), T0)
    assert errors(actions, 1) == [ErrorCode.WRONG_RELAY]


def test_the_hello_signs_the_relays_channel_binding() -> None:
    binding = bytes(range(32))  # SHA-256 of the relay's certificate under wss://
    h = Harness(RelayConfig(channel_binding=binding, public_urls=("wss://127.0.0.1:9900",)))
    conn = h.open()
    unbound = hello_for(identity(1), h.challenges[conn], relay_url="wss://127.0.0.1:9900")
    actions = h.send(conn, unbound)  # signed with an empty binding: another TLS channel
    assert errors(actions, conn) == [ErrorCode.AUTHENTICATION_FAILED]
    assert closes(actions) == {conn: CLOSE_POLICY_VIOLATION}
    conn = h.open()
    challenge = h.challenges[conn]
    ident = identity(1)
    transcript = hello_transcript(
        nonce=challenge.nonce,
        node_id=challenge.node_id,
        server_time=challenge.server_time,
        relay_url="wss://127.0.0.1:9900",
        channel_binding=binding,
        address=ident.address,
        display_name=ident.display_name,
        x25519_public=ident.x25519.public,
        ed25519_public=ident.ed25519.public,
    )
    bound = Hello(
        ident.address,
        ident.display_name,
        ident.x25519.public,
        ident.ed25519.public,
        "wss://127.0.0.1:9900",
        ident.sign(transcript),
    )
    assert isinstance(payloads(h.send(conn, bound), conn)[0], HelloAck)
