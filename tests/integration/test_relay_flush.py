"""A failed write to one connection never affects another (issue 10 item 2).

Many connections drop at once while frames are queued for them, beside a pair that keeps
chatting: the relay's coalesced flush must write each connection on its own, so the pair keeps
getting its frames. Before the fix, the first write to an already-closed socket raised inside
the flush and every connection after it in that batch was never written to again.
"""

from __future__ import annotations

import asyncio
import secrets

import pytest
from relay_support import RelayClient, StartRelay, join_key, relay_url

from quicko.protocol import Ack, Joined, Message, PeerJoined, encode_frame

pytestmark = pytest.mark.integration

WAVES = 5
DROPPERS_PER_WAVE = 40
BOUND_S = 10.0


KEY = join_key()


async def _join(clients: list[RelayClient], session: bytes) -> None:
    for client in clients:
        await client.send(client.join(session, KEY))
        await _drain(client, Joined, 1)  # notices of earlier waves may come first


async def _drain(client: RelayClient, kind: type, count: int) -> None:
    """Read until ``count`` frames of ``kind`` have arrived (other frames are skipped)."""
    async with asyncio.timeout(BOUND_S):
        seen = 0
        while seen < count:
            seen += isinstance(await client.recv(), kind)


async def test_many_connections_dropping_at_once_never_freeze_a_chatting_pair(
    start_relay: StartRelay,
) -> None:
    relay = await start_relay(
        rate=1e6, burst=1_000_000, max_connections_per_ip=10_000, connect_rate=10_000
    )
    url = relay_url(relay)
    alice, bob = [await RelayClient.connect(url) for _ in range(2)]
    pair = secrets.token_bytes(16)
    await _join([alice, bob], pair)
    await alice.expect(PeerJoined)
    for wave in range(WAVES):
        broadcaster = await RelayClient.connect(url)
        droppers = [await RelayClient.connect(url) for _ in range(DROPPERS_PER_WAVE)]
        group = secrets.token_bytes(16)
        # Bob is in the group too, after the droppers: the broadcast below queues a frame
        # for every dropper and then one for him, all flushed together.
        await _join([broadcaster, *droppers, bob], group)
        await _drain(broadcaster, PeerJoined, DROPPERS_PER_WAVE + 1)
        # In one go, without yielding to the loop: the broadcast, then the droppers' sockets
        # closed. The relay reads both in one turn of its loop, so its flush writes to sockets
        # that are already closed before it writes Bob's copy.
        shout = Message(group, broadcaster.address, b"", secrets.token_bytes(16), 0, b"x")
        broadcaster.ws.transport.write(_masked(encode_frame(shout)))
        for dropper in droppers:
            dropper.ws.transport.abort()
        await _drain(bob, Message, 1)
        note = Message(pair, alice.address, bob.address, secrets.token_bytes(16), wave, b"hi")
        alice.ws.transport.write(_masked(encode_frame(note)))
        # The pair keeps getting frames, wave after wave, within the bound.
        async with asyncio.timeout(BOUND_S):
            while (got := await bob.recv()) != note:  # PeerLefts of the droppers come too
                assert not isinstance(got, Message), got
            await _drain(alice, Ack, 1)
            reply = Message(pair, bob.address, alice.address, secrets.token_bytes(16), 0, b"ok")
            await bob.send(reply)
            assert (await alice.expect(Message)).message_id == reply.message_id
            await _drain(bob, Ack, 1)
        await broadcaster.close()
        async with asyncio.timeout(BOUND_S):
            while relay.connections > 2:  # every dropper and the broadcaster are gone
                await asyncio.sleep(0.01)
    assert relay.io.internal_errors == 0


def _masked(data: bytes) -> bytes:
    """One final binary client frame of ``data`` with a zero mask (RFC 6455 §5.3 allows it)."""
    length = len(data)
    if length < 126:
        header = bytes((0x82, 0x80 | length))
    elif length < 65536:
        header = b"\x82\xfe" + length.to_bytes(2, "big")
    else:
        header = b"\x82\xff" + length.to_bytes(8, "big")
    return header + b"\x00\x00\x00\x00" + data
