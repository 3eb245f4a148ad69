"""Attacks on the relay's lobby, joins and login (issue 8, items 2-4), run for real on loopback.

Each test runs the attack against a real relay (picows + router) with real WebSocket clients and
asserts that it now fails. Nothing here depends on timing: the rate limits are checked against
their burst, which no test waits out.
"""

from __future__ import annotations

import secrets

import pytest
from relay_support import RelayClient, StartRelay, join_key, register_key, relay_url

from quicko.crypto.ed25519 import Ed25519KeyPair
from quicko.protocol import (
    Error,
    ErrorCode,
    Join,
    Joined,
    Lobby,
    LobbyMessage,
    LookupKey,
    LookupResponse,
    PeerJoined,
    Ping,
    Pong,
    RegisterAck,
    decode_frame,
)
from quicko.relay.config import RelayConfig
from quicko.relay.server import RelayServer

pytestmark = pytest.mark.integration

CODE = "K7QW"


async def creator(
    relay: RelayServer, nameplate: str = CODE
) -> tuple[RelayClient, bytes, Ed25519KeyPair]:
    """A client that created a session and claimed *nameplate*: it, the session id, the key."""
    owner = await RelayClient.connect(relay_url(relay))
    session, key = secrets.token_bytes(16), join_key()
    await owner.send(owner.join(session, key, nameplate))
    assert (await owner.expect(Joined)).nameplate == nameplate
    return owner, session, key


async def quiet(client: RelayClient) -> None:
    """Assert that *client* was sent nothing so far (a Ping round trip flushes its queue)."""
    await client.send(Ping(77))
    pong = await client.recv()
    assert isinstance(pong, Pong) and pong.nonce == 77, pong


async def test_a_nameplate_probe_learns_nothing_and_is_throttled(relay: RelayServer) -> None:
    owner, session, _ = await creator(relay)
    prober = await RelayClient.connect(relay_url(relay))
    # A hit: the prober is only pending. No session id, no member, no presence, no PeerJoined.
    await prober.send(Join(b"", CODE))
    raw = await prober.recv_raw()
    assert session not in raw and owner.address not in raw
    assert decode_frame(raw) == Lobby(CODE)
    await quiet(owner)
    # Misses, up to the per-source burst: UNKNOWN_INVITE with an empty ref_id...
    burst = RelayConfig().nameplate_miss_burst
    for n in range(burst):
        await prober.send(Join(b"", f"ZZ{n:02d}".replace("0", "A").replace("1", "B")))
        error = await prober.expect(Error)
        assert (error.code, error.ref_id) == (ErrorCode.UNKNOWN_INVITE, b"")
    # ...then RATE_LIMITED for misses and hits alike, so a hit no longer stands out.
    for probe in ("ZZZZ", CODE):
        await prober.send(Join(b"", probe))
        error = await prober.expect(Error)
        assert (error.code, error.ref_type, error.ref_id) == (ErrorCode.RATE_LIMITED, 0x30, b"")
    # A new connection from the same address buys nothing: the bucket is per source.
    again = await RelayClient.connect(relay_url(relay))
    await again.send(Join(b"", CODE))
    assert (await again.expect(Error)).code == ErrorCode.RATE_LIMITED


async def test_join_by_id_without_or_with_a_wrong_proof_is_refused(relay: RelayServer) -> None:
    owner, session, _ = await creator(relay)
    intruder = await RelayClient.connect(relay_url(relay))
    own_key = join_key()  # proven, but not the session's
    forged = Join(session, "", join_key().public, bytes(64))
    for attempt in (Join(session, ""), intruder.join(session, own_key), forged):
        await intruder.send(attempt)
        error = await intruder.expect(Error)
        assert error.code == ErrorCode.PROOF_INVALID
    # The intruder is no member (its message is refused), and the owner never heard of it.
    await intruder.send(Join(session, "K7QX"))  # nor can it learn about the nameplate
    assert (await intruder.expect(Error)).code == ErrorCode.PROOF_INVALID
    await quiet(owner)


async def test_a_stranger_cannot_reach_someone_elses_pending_joiner(relay: RelayServer) -> None:
    owner, _, _ = await creator(relay)
    joiner = await RelayClient.connect(relay_url(relay))
    await joiner.send(Join(b"", CODE))
    await joiner.expect(Lobby)
    # The stranger knows the nameplate and the joiner's address, and is even pending itself.
    stranger = await RelayClient.connect(relay_url(relay))
    await stranger.send(Join(b"", CODE))
    await stranger.expect(Lobby)
    for frame in (
        LobbyMessage(CODE, joiner.address, b"PAKE_FAIL from a bystander"),
        LobbyMessage("ZZZZ", joiner.address, b"x"),
    ):
        await stranger.send(frame)
        error = await stranger.expect(Error)
        assert (error.code, error.ref_type, error.ref_id) == (ErrorCode.NOT_PENDING, 0x42, b"")
    await quiet(joiner)
    # The joiner's PAKE start reaches the owner alone, and the owner's reply reaches the joiner.
    await joiner.send(LobbyMessage(CODE, b"", b"PAKE_START"))
    assert await owner.expect(LobbyMessage) == LobbyMessage(CODE, joiner.address, b"PAKE_START")
    await owner.send(LobbyMessage(CODE, joiner.address, b"PAKE_REPLY"))
    assert await joiner.expect(LobbyMessage) == LobbyMessage(CODE, b"", b"PAKE_REPLY")
    await quiet(stranger)


async def test_squatters_cannot_fill_a_session(start_relay: StartRelay) -> None:
    # Loopback is one source: lift the per-source lobby cap to fill the lobby from it.
    relay = await start_relay(max_pending_per_source=100)
    owner, session, key = await creator(relay)
    squatters = [await RelayClient.connect(relay_url(relay)) for _ in range(9)]
    for squatter in squatters[:8]:
        await squatter.send(Join(b"", CODE))
        assert await squatter.expect(Lobby) == Lobby(CODE)
    await squatters[8].send(Join(b"", CODE))
    error = await squatters[8].expect(Error)
    assert (error.code, error.ref_id) == (ErrorCode.LIMIT_REACHED, b"")
    await quiet(owner)  # pending is not membership: no PeerJoined
    # The session's members are unchanged: an admitted joiner (it holds the join key) finds
    # the owner alone, and no squatter was evicted from the lobby.
    admitted = await RelayClient.connect(relay_url(relay))
    await admitted.send(admitted.join(session, key))
    assert [m.address for m in (await admitted.expect(Joined)).members] == [owner.address]
    await owner.expect(PeerJoined)
    await squatters[0].send(LobbyMessage(CODE, b"", b"still here"))
    assert (await owner.expect(LobbyMessage)).peer == squatters[0].address


async def test_a_squatter_from_one_source_holds_two_places_at_most(relay: RelayServer) -> None:
    owner, _, _ = await creator(relay)
    squatters = [await RelayClient.connect(relay_url(relay)) for _ in range(3)]
    for squatter in squatters[:2]:
        await squatter.send(Join(b"", CODE))
        await squatter.expect(Lobby)
    await squatters[2].send(Join(b"", CODE))
    assert (await squatters[2].expect(Error)).code == ErrorCode.LIMIT_REACHED
    await quiet(owner)


async def test_a_forwarded_hello_is_refused(start_relay: StartRelay) -> None:
    # R1 (malicious) passes R2's Challenge to its client, which signs it naming R1, the relay
    # it dialled; R1 replays the Hello to R2 to log in there as the victim.
    r1, r2 = await start_relay(), await start_relay()
    victim_on_r1 = await RelayClient.connect(relay_url(r1), authenticate=False)
    r1_forwarding = await RelayClient.connect(relay_url(r2), authenticate=False)
    victim_on_r1.challenge = r1_forwarding.challenge  # R1 hands R2's Challenge over
    hello = victim_on_r1.hello()
    assert hello.relay_url == f"ws://127.0.0.1:{r1.port}"
    await r1_forwarding.send(hello)
    error = await r1_forwarding.expect(Error)
    assert (error.code, error.ref_type) == (ErrorCode.WRONG_RELAY, 0x01)
    assert await r1_forwarding.wait_closed() == 1008
    # The victim's own login on R2, naming R2, works.
    victim_on_r2 = await RelayClient.connect(relay_url(r2), victim_on_r1.identity)
    assert victim_on_r2.hello_ack is not None


async def test_a_register_key_for_another_relay_is_refused(start_relay: StartRelay) -> None:
    r1, r2 = await start_relay(), await start_relay()
    dana = await RelayClient.connect(relay_url(r2))
    # An entry Dana signed for R1 (which R1 could replay here) is refused on R2.
    await dana.send(register_key(dana, relay_url=f"ws://127.0.0.1:{r1.port}"))
    error = await dana.expect(Error)
    assert (error.code, error.ref_type) == (ErrorCode.WRONG_RELAY, 0x50)
    await dana.send(LookupKey(dana.address))
    assert (await dana.expect(LookupResponse)).found is False
    # The connection stays open, and her entry for R2 is accepted and looked up as signed.
    entry = register_key(dana)
    await dana.send(entry)
    assert await dana.expect(RegisterAck) == RegisterAck(dana.address, True)
    await dana.send(LookupKey(dana.address))
    found = await dana.expect(LookupResponse)
    assert (found.relay_url, found.signature) == (f"ws://127.0.0.1:{r2.port}", entry.signature)
