"""Calls by QuickoKey between real clients through a real relay: accepted, declined, offline."""

from __future__ import annotations

import asyncio

import pytest
from client_support import Watcher, closing
from relay_support import relay_url

from quicko.client import (
    AsyncQuickoClient,
    CallDeclined,
    DeliveryStatus,
    IncomingCall,
    MessageReceived,
    SessionReady,
    StatusChanged,
)
from quicko.errors import QuickoKeyFormatError, SessionError
from quicko.relay.server import RelayServer

pytestmark = pytest.mark.integration


async def callee(url: str) -> Watcher:
    """A connected client with a long-term QuickoKey, registered in the directory."""
    client = AsyncQuickoClient(url)
    await client.connect()
    info = await client.generate_quickokey()
    assert len(info.seed_phrase) == 16 and "seed_phrase" not in repr(info)
    assert client.connection_state == "connected"
    await client.register_key()
    return Watcher(client, "callee")


async def test_call_accepted_and_chat(relay: RelayServer) -> None:
    url = relay_url(relay)
    bob = await callee(url)
    alice = Watcher(AsyncQuickoClient(url), "caller")
    async with closing(alice.client, bob.client):
        await alice.client.connect()
        quickokey = bob.client.identity_info.quickokey
        found = await alice.client.lookup_key(quickokey)
        assert found.found and found.online
        assert found.display_name == bob.client.identity_info.display_name
        dialling = asyncio.create_task(alice.client.call(quickokey, timeout=10))
        ring = await bob.wait(IncomingCall)
        assert ring.caller_quickokey == alice.client.identity_info.quickokey
        answered = await bob.client.answer_call(ring.call_id, accept=True)
        placed = await dialling
        assert answered is not None and answered.role == "callee" and placed.role == "caller"
        assert placed.session_id == answered.session_id
        assert placed.peers[0].safety_number == ring.safety_number
        sid = placed.session_id
        await alice.wait(SessionReady)
        sent = await alice.client.send_message(sid, "calling you")
        assert (await bob.wait(MessageReceived)).message.text == "calling you"
        await bob.client.send_message(sid, "answering")
        assert (await alice.wait(MessageReceived)).message.text == "answering"
        await alice.wait(
            StatusChanged,
            lambda e: (
                e.message_id == sent.message_id.hex() and e.status == DeliveryStatus.DELIVERED
            ),
        )


async def test_call_declined(relay: RelayServer) -> None:
    url = relay_url(relay)
    bob = await callee(url)
    alice = Watcher(AsyncQuickoClient(url), "caller")
    async with closing(alice.client, bob.client):
        await alice.client.connect()
        dialling = asyncio.create_task(alice.client.call(bob.client.identity_info.quickokey))
        ring = await bob.wait(IncomingCall)
        assert await bob.client.answer_call(ring.call_id, accept=False) is None
        with pytest.raises(SessionError, match="declined"):
            await dialling
        declined = await alice.wait(CallDeclined)
        assert declined.call_id == ring.call_id
        assert alice.client.sessions() == [] and bob.client.sessions() == []
        with pytest.raises(SessionError):
            await bob.client.answer_call(ring.call_id, accept=True)  # answered already


async def test_call_unregistered_and_offline(relay: RelayServer) -> None:
    url = relay_url(relay)
    bob = await callee(url)
    alice = AsyncQuickoClient(url)
    stranger = AsyncQuickoClient(url)
    async with closing(alice, stranger):
        await alice.connect()
        unknown = stranger.identity_info.quickokey
        assert not (await alice.lookup_key(unknown)).found
        with pytest.raises(SessionError, match="not registered"):
            await alice.call(unknown)
        with pytest.raises(QuickoKeyFormatError):
            await alice.call("QK-nope")
        await bob.client.disconnect()
        entry = await alice.lookup_key(bob.client.identity_info.quickokey)
        assert entry.found and not entry.online
        with pytest.raises(SessionError, match="not online"):
            await alice.call(bob.client.identity_info.quickokey)


async def test_recovered_key_is_the_same_quickokey(relay: RelayServer) -> None:
    client = AsyncQuickoClient(relay_url(relay))
    async with closing(client):
        await client.connect()
        first = await client.generate_quickokey()
        again = await client.recover_quickokey(" ".join(first.seed_phrase))
        assert again.quickokey == first.quickokey
        assert client.connection_state == "connected"
        await client.register_key()
        await client.unregister_key()
        assert not (await client.lookup_key(first.quickokey)).found
