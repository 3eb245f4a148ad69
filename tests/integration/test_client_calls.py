"""Calls by QuickoKey between real clients through a real relay.

Accepted, declined, offline; cancelled by the caller (the callee's ring ends at once), and
unanswered (the relay's deadline, or the callee's own ring time, ends it).
"""

from __future__ import annotations

import asyncio

import pytest
from client_support import Watcher, closing
from relay_support import StartRelay, relay_url

from quicko.client import (
    AsyncQuickoClient,
    CallDeclined,
    CallEnded,
    CallRinging,
    ClientError,
    DeliveryStatus,
    IncomingCall,
    MessageReceived,
    SessionReady,
    StatusChanged,
)
from quicko.errors import CallCancelledError, QuickoKeyFormatError, SessionError
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


async def test_call_cancelled_ends_the_ring_at_once(relay: RelayServer) -> None:
    url = relay_url(relay)
    bob = await callee(url)
    alice = Watcher(AsyncQuickoClient(url), "caller")
    async with closing(alice.client, bob.client):
        await alice.client.connect()
        quickokey = bob.client.identity_info.quickokey
        dialling = asyncio.create_task(alice.client.call(quickokey, timeout=30))
        ringing = await alice.wait(CallRinging)
        assert ringing.callee_quickokey == quickokey
        ring = await bob.wait(IncomingCall)
        assert ring.call_id == ringing.call_id
        assert ring.expires_ms > 0
        await alice.client.cancel_call(ringing.call_id)
        with pytest.raises(CallCancelledError):
            await dialling
        ended = await bob.wait(CallEnded)
        assert ended == CallEnded(ring.call_id, "cancelled")
        with pytest.raises(SessionError, match="the call has ended"):
            await bob.client.answer_call(ring.call_id, accept=True)
        assert alice.client.sessions() == [] and bob.client.sessions() == []
        assert not alice.of(ClientError) and not bob.of(ClientError)
        assert not alice.of(CallDeclined)  # we stopped it: nothing was declined


async def test_a_call_whose_task_is_cancelled_ends_the_callees_ring(relay: RelayServer) -> None:
    # An app that stops waiting (the terminal app's Escape cancels the task running call())
    # used to leave the callee ringing for up to 60 s, and an accept then went nowhere.
    url = relay_url(relay)
    bob = await callee(url)
    alice = Watcher(AsyncQuickoClient(url), "caller")
    async with closing(alice.client, bob.client):
        await alice.client.connect()
        dialling = asyncio.create_task(alice.client.call(bob.client.identity_info.quickokey))
        ringing = await alice.wait(CallRinging)
        ring = await bob.wait(IncomingCall)
        dialling.cancel()
        with pytest.raises(asyncio.CancelledError):
            await dialling
        assert (await bob.wait(CallEnded)) == CallEnded(ring.call_id, "cancelled")
        with pytest.raises(SessionError, match="the call has ended"):
            await bob.client.answer_call(ring.call_id, accept=True)
        await alice.client.cancel_call(ringing.call_id)  # nothing left: no error
        assert alice.client.sessions() == [] and bob.client.sessions() == []


async def test_unanswered_call_ends_for_both_at_the_relay_deadline(
    start_relay: StartRelay,
) -> None:
    relay = await start_relay(call_timeout_s=0.3)
    url = relay_url(relay)
    bob = await callee(url)  # its own ring time is the default 60 s: the relay ends it first
    alice = Watcher(AsyncQuickoClient(url), "caller")
    async with closing(alice.client, bob.client):
        await alice.client.connect()
        dialling = asyncio.create_task(alice.client.call(bob.client.identity_info.quickokey))
        ring = await bob.wait(IncomingCall)
        with pytest.raises(SessionError, match="did not answer"):
            await dialling
        assert (await bob.wait(CallEnded)) == CallEnded(ring.call_id, "timeout")
        with pytest.raises(SessionError, match="the call has ended"):
            await bob.client.answer_call(ring.call_id, accept=True)
        assert bob.client.sessions() == []


async def test_a_ring_ends_by_the_client_ring_time(relay: RelayServer) -> None:
    url = relay_url(relay)
    bob = Watcher(AsyncQuickoClient(url, ring_ms=300), "callee")
    alice = Watcher(AsyncQuickoClient(url), "caller")
    async with closing(alice.client, bob.client):
        await bob.client.connect()
        await bob.client.generate_quickokey()
        await bob.client.register_key()
        await alice.client.connect()
        dialling = asyncio.create_task(alice.client.call(bob.client.identity_info.quickokey))
        ring = await bob.wait(IncomingCall)
        assert (await bob.wait(CallEnded)) == CallEnded(ring.call_id, "timeout")
        await alice.client.cancel_call(ring.call_id)
        with pytest.raises(CallCancelledError):
            await dialling


async def test_a_call_that_times_out_at_the_caller_is_cancelled_for_the_callee(
    relay: RelayServer,
) -> None:
    url = relay_url(relay)
    bob = await callee(url)
    alice = Watcher(AsyncQuickoClient(url), "caller")
    async with closing(alice.client, bob.client):
        await alice.client.connect()
        dialling = asyncio.create_task(
            alice.client.call(bob.client.identity_info.quickokey, timeout=0.3)
        )
        ring = await bob.wait(IncomingCall)
        with pytest.raises(SessionError, match="timed out"):
            await dialling
        assert (await bob.wait(CallEnded)) == CallEnded(ring.call_id, "cancelled")
