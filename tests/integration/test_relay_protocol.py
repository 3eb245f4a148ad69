"""End-to-end: every message type through a real relay (picows + router) and real clients."""

from __future__ import annotations

import secrets
import time

import pytest
from relay_support import RelayClient, StartRelay, join_key, register_key, relay_url

from quicko.protocol import (
    Ack,
    AckStatus,
    CallPeer,
    CallResponse,
    CallStatus,
    Challenge,
    Error,
    ErrorCode,
    Hello,
    Join,
    Joined,
    KeyExchange,
    LeaveReason,
    Lobby,
    LobbyMessage,
    LookupKey,
    LookupResponse,
    Message,
    PeerJoined,
    PeerLeft,
    Ping,
    Pong,
    RegisterAck,
    UnregisterKey,
)
from quicko.relay.server import RelayServer

pytestmark = pytest.mark.integration


def sid() -> bytes:
    return secrets.token_bytes(16)


async def pair(relay: RelayServer) -> tuple[RelayClient, RelayClient, bytes]:
    """Two authenticated clients in one new session (the second saw PeerJoined of nobody)."""
    url = relay_url(relay)
    alice, bob = await RelayClient.connect(url), await RelayClient.connect(url)
    session, key = sid(), join_key()
    await alice.send(alice.join(session, key))
    await alice.expect(Joined)
    await bob.send(bob.join(session, key))
    joined = await bob.expect(Joined)
    assert [m.address for m in joined.members] == [alice.address]
    peer = await alice.expect(PeerJoined)
    assert (peer.address, peer.display_name) == (bob.address, bob.display_name)
    return alice, bob, session


async def test_challenge_hello_hello_ack(relay: RelayServer) -> None:
    client = await RelayClient.connect(relay_url(relay))
    assert client.challenge.node_id == "test"
    assert len(client.challenge.nonce) == 32
    assert abs(client.challenge.server_time - time.time() * 1000) < 60_000
    assert client.hello_ack is not None
    assert client.hello_ack.address == client.address
    assert client.hello_ack.buffered == 0


async def test_hello_with_wrong_signature_is_refused_with_1008(relay: RelayServer) -> None:
    client = await RelayClient.connect(relay_url(relay), authenticate=False)
    hello = client.hello()
    forged = Hello(
        hello.address, hello.display_name, hello.x25519_public, hello.ed25519_public,
        hello.relay_url, bytes(64),
    )  # fmt: skip
    await client.send(forged)
    error = await client.expect(Error)
    assert error.code == ErrorCode.AUTHENTICATION_FAILED
    assert await client.wait_closed() == 1008


async def test_frame_before_hello_is_unauthenticated(relay: RelayServer) -> None:
    client = await RelayClient.connect(relay_url(relay), authenticate=False)
    await client.send(Ping(1))
    assert (await client.expect(Error)).code == ErrorCode.UNAUTHENTICATED
    assert await client.wait_closed() == 1008


async def test_ping_pong(relay: RelayServer) -> None:
    client = await RelayClient.connect(relay_url(relay))
    await client.send(Ping(42))
    pong = await client.expect(Pong)
    assert pong.nonce == 42


async def test_lobby_then_join_by_id_and_peer_left_on_disconnect(relay: RelayServer) -> None:
    url = relay_url(relay)
    alice, bob = await RelayClient.connect(url), await RelayClient.connect(url)
    session, key = sid(), join_key()
    await alice.send(alice.join(session, key, "K7QW"))
    assert (await alice.expect(Joined)).nameplate == "K7QW"
    await bob.send(Join(b"", "K7QW"))
    assert await bob.expect(Lobby) == Lobby("K7QW")
    # The PAKE travels in LobbyMessages between bob and the owner only.
    await bob.send(LobbyMessage("K7QW", b"", b"pake start"))
    assert await alice.expect(LobbyMessage) == LobbyMessage("K7QW", bob.address, b"pake start")
    await alice.send(LobbyMessage("K7QW", bob.address, b"confirm with the join key"))
    assert await bob.expect(LobbyMessage) == LobbyMessage("K7QW", b"", b"confirm with the join key")
    await bob.send(bob.join(session, key))
    joined = await bob.expect(Joined)
    assert joined.session_id == session
    assert (await alice.expect(PeerJoined)).address == bob.address
    await bob.close()
    left = await alice.expect(PeerLeft)
    assert (left.address, left.reason) == (bob.address, LeaveReason.DISCONNECTED)


async def test_message_is_forwarded_unchanged_and_acked(relay: RelayServer) -> None:
    alice, bob, session = await pair(relay)
    message = Message(
        session, alice.address, bob.address, sid(), int(time.time() * 1000), b"x" * 300
    )
    await alice.send(message)
    assert await bob.recv() == message
    ack = await alice.expect(Ack)
    assert (ack.message_id, ack.status) == (message.message_id, AckStatus.ACCEPTED)
    receipt = Ack(session, alice.address, bob.address, message.message_id, int(AckStatus.RECEIVED))
    await bob.send(receipt)
    assert await alice.recv() == receipt


@pytest.mark.parametrize("size", [0, 1, 60, 125, 126, 65_400, 65_536, 131_072])
async def test_every_frame_length_encoding_survives_coalesced_writes(
    relay: RelayServer, size: int
) -> None:
    # The relay writes its own WebSocket headers (7-, 16- and 64-bit lengths) and coalesces
    # several frames into one write: a burst of messages of one size must arrive intact and
    # in order, each followed by its Ack to the sender.
    alice, bob, session = await pair(relay)
    sent = [
        Message(
            session, alice.address, bob.address, sid(), int(time.time() * 1000), bytes([n]) * size
        )
        for n in range(3)
    ]
    for message in sent:
        await alice.send(message)
    assert [await bob.recv() for _ in sent] == sent
    acks = [await alice.expect(Ack) for _ in sent]
    assert [ack.message_id for ack in acks] == [message.message_id for message in sent]


async def test_message_with_forged_sender_is_refused(relay: RelayServer) -> None:
    alice, bob, session = await pair(relay)
    forged = Message(session, bob.address, alice.address, sid(), 0, b"x")
    await alice.send(forged)
    assert (await alice.expect(Error)).code == ErrorCode.SENDER_MISMATCH


async def test_key_exchange_is_forwarded(relay: RelayServer) -> None:
    alice, bob, session = await pair(relay)
    exchange = KeyExchange(session, alice.address, bob.address, b"handshake")
    await alice.send(exchange)
    assert await bob.recv() == exchange


async def test_register_lookup_unregister(relay: RelayServer) -> None:
    url = relay_url(relay)
    dana, eve = await RelayClient.connect(url), await RelayClient.connect(url)
    registration = register_key(dana)
    await dana.send(registration)
    assert await dana.expect(RegisterAck) == RegisterAck(dana.address, True)
    await eve.send(LookupKey(dana.address))
    found = await eve.expect(LookupResponse)
    assert (found.found, found.online, found.signature) == (True, True, registration.signature)
    await dana.send(UnregisterKey(dana.address))
    assert await dana.expect(RegisterAck) == RegisterAck(dana.address, False)
    await eve.send(LookupKey(dana.address))
    assert (await eve.expect(LookupResponse)).found is False


async def test_call_and_answer(relay: RelayServer) -> None:
    url = relay_url(relay)
    dana, eve = await RelayClient.connect(url), await RelayClient.connect(url)
    await dana.send(register_key(dana))
    await dana.expect(RegisterAck)
    call = CallPeer(sid(), eve.address, dana.address, b"eve's bundle")
    await eve.send(call)
    assert await dana.recv() == call
    answer = CallResponse(
        call.call_id, eve.address, dana.address, int(CallStatus.ACCEPTED), b"dana's"
    )
    await dana.send(answer)
    assert await eve.recv() == answer


async def test_call_to_offline_callee_is_answered_offline(relay: RelayServer) -> None:
    eve = await RelayClient.connect(relay_url(relay))
    call = CallPeer(sid(), eve.address, secrets.token_bytes(16), b"bundle")
    await eve.send(call)
    response = await eve.expect(CallResponse)
    assert (response.call_id, response.status) == (call.call_id, CallStatus.OFFLINE)


async def test_second_connection_replaces_the_first(relay: RelayServer) -> None:
    url = relay_url(relay)
    first = await RelayClient.connect(url)
    second = await RelayClient.connect(url, first.identity)
    assert (await first.expect(Error)).code == ErrorCode.REPLACED
    assert await first.wait_closed() == 4000
    await second.send(Ping(1))
    assert isinstance(await second.recv(), Pong)


async def test_handshake_timeout(start_relay: StartRelay) -> None:
    relay = await start_relay(handshake_timeout_s=0.2)
    client = await RelayClient.connect(relay_url(relay), authenticate=False)
    assert isinstance(client.challenge, Challenge)
    assert (await client.expect(Error)).code == ErrorCode.HANDSHAKE_TIMEOUT
    assert await client.wait_closed() == 1008
