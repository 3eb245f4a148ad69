"""AsyncQuickoClient and QuickoClient against a real relay: chats, groups, invite codes.

Every client is real (WebSocket to an in-process relay on 127.0.0.1:0); every wait is on the
client's events with a timeout.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from functools import partial

import pytest
from client_support import Watcher, chat_pair, closing
from relay_support import relay_url

from quicko.client import (
    AsyncQuickoClient,
    ClientEvent,
    DeliveryStatus,
    JoinerFailed,
    JoinerPending,
    MessageReceived,
    PeerAuthenticated,
    PeerLeft,
    QuickoClient,
    SessionClosed,
    SessionReady,
    SessionStateChanged,
    StatusChanged,
    WrongInviteCode,
)
from quicko.errors import InviteCodeError, SessionError
from quicko.relay.server import RelayServer

pytestmark = pytest.mark.integration


def fully_authenticated(client: AsyncQuickoClient, peers: int) -> bool:
    """Whether the client's one session has ``peers`` peers, all authenticated."""
    found = client.sessions()[0].peers
    return len(found) == peers and all(peer.authenticated for peer in found)


def received_texts(watcher: Watcher) -> set[str]:
    """The texts a client received so far."""
    return {event.message.text for event in watcher.of(MessageReceived)}


def status_is(message_id: str, status: DeliveryStatus) -> Callable[[StatusChanged], bool]:
    return lambda e: e.message_id == message_id and e.status == status


async def test_two_party_chat_reaches_read(relay: RelayServer) -> None:
    a, b, created, joined = await chat_pair(relay_url(relay))
    async with closing(a.client, b.client):
        assert created.session_id == joined.session_id
        assert created.role == "creator" and joined.role == "joiner"
        assert joined.peers[0].authenticated and joined.peers[0].safety_number
        sid = created.session_id
        sent = await a.client.send_message(sid, "hello bob")
        assert sent.status is DeliveryStatus.PENDING and sent.outgoing
        got = await b.wait(MessageReceived)
        assert got.message.text == "hello bob" and got.message.message_id == sent.message_id
        mid = sent.message_id.hex()
        await a.wait(StatusChanged, status_is(mid, DeliveryStatus.DELIVERED))
        await b.client.mark_read(sid, [mid])
        await a.wait(StatusChanged, status_is(mid, DeliveryStatus.READ))
        statuses = [e.status for e in a.of(StatusChanged) if e.message_id == mid]
        assert statuses == [DeliveryStatus.SENT, DeliveryStatus.DELIVERED, DeliveryStatus.READ]
        assert [m.status for m in a.client.messages(sid)] == [DeliveryStatus.READ]
        assert [m.status for m in b.client.messages(sid)] == [DeliveryStatus.READ]
        reply = await b.client.send_message(sid, "hi alice")
        assert (await a.wait(MessageReceived)).message.text == "hi alice"
        await b.wait(StatusChanged, status_is(reply.message_id.hex(), DeliveryStatus.DELIVERED))
        assert a.client.sessions()[0].state == "chatting"
        assert any(e.state == "chatting" for e in a.of(SessionStateChanged))


async def test_safety_numbers_match_and_verify(relay: RelayServer) -> None:
    a, b, created, joined = await chat_pair(relay_url(relay))
    async with closing(a.client, b.client):
        sid = created.session_id
        bob_seen_by_alice = (await a.wait(PeerAuthenticated)).peer
        alice_seen_by_bob = joined.peers[0]
        number = a.client.safety_number(sid, bob_seen_by_alice.address)
        assert number == b.client.safety_number(sid, alice_seen_by_bob.address)
        a.client.mark_verified(sid, bob_seen_by_alice.address)
        assert a.client.sessions()[0].peers[0].verified
        with pytest.raises(SessionError):
            a.client.safety_number(sid, "00" * 16)


async def test_three_member_group(relay: RelayServer) -> None:
    url = relay_url(relay)
    a, b, created, _ = await chat_pair(url)
    carol = AsyncQuickoClient(url)
    c = Watcher(carol, "carol")
    async with closing(a.client, b.client, carol):
        await carol.connect()
        assert created.invite_code is not None
        await carol.join_session(created.invite_code)
        sid = created.session_id
        # Bob authenticates Carol through Alice's vouch; Carol authenticates Bob likewise.
        for watcher in (a, b, c):
            await watcher.until(partial(lambda w, _: fully_authenticated(w.client, 2), watcher))
        for sender, text in ((a, "from alice"), (b, "from bob"), (c, "from carol")):
            await sender.client.send_message(sid, text)
        expected = {a: {"from bob", "from carol"}, b: {"from alice", "from carol"},
                    c: {"from alice", "from bob"}}  # fmt: skip
        for watcher, texts in expected.items():
            await watcher.until(partial(lambda w, x, _: received_texts(w) >= x, watcher, texts))
            assert len(watcher.of(MessageReceived)) == 2
        # A group message is DELIVERED once every member has decrypted it.
        mine = next(m for m in c.client.messages(sid) if m.outgoing)
        await c.wait(StatusChanged, status_is(mine.message_id.hex(), DeliveryStatus.DELIVERED))
        await b.client.leave_session(sid)
        await a.wait(PeerLeft, lambda e: e.reason == "left")
        await c.wait(PeerLeft, lambda e: e.reason == "left")
        assert await b.wait(SessionClosed)
        assert b.client.sessions() == []


async def test_wrong_codes_are_counted_and_the_right_one_still_works(relay: RelayServer) -> None:
    url = relay_url(relay)
    alice = AsyncQuickoClient(url)
    a = Watcher(alice)
    async with closing(alice):
        await alice.connect()
        created = await alice.create_session()
        assert created.invite_code is not None
        nameplate, password = created.invite_code.split("-")
        wrong = nameplate + "-" + ("0000" if password != "0000" else "1111")
        for n in range(2):
            mallory = AsyncQuickoClient(url)
            m = Watcher(mallory)
            async with closing(mallory):
                await mallory.connect()
                with pytest.raises(SessionError, match="wrong invite code"):
                    await mallory.join_session(wrong)
                assert await m.wait(WrongInviteCode)
                assert mallory.sessions() == []
            assert (await a.wait(JoinerPending)).session_id == created.session_id
            failed = await a.wait(JoinerFailed, partial(has_failures, n + 1))
            assert failed.session_id == created.session_id
        # Strangers' wrong guesses do not burn the code for the real invitee.
        bob = AsyncQuickoClient(url)
        async with closing(bob):
            await bob.connect()
            joined = await bob.join_session(created.invite_code)
            assert joined.session_id == created.session_id


async def test_bad_codes_are_refused_before_the_network(relay: RelayServer) -> None:
    client = AsyncQuickoClient(relay_url(relay))
    async with closing(client):
        await client.connect()
        with pytest.raises(InviteCodeError):
            await client.join_session("not a code")
        with pytest.raises(SessionError, match="unknown"):
            await client.join_session("ZZZZ-ZZZZ")
        with pytest.raises(SessionError):
            await client.send_message("00" * 16, "to nowhere")


async def test_destroy_wipes_messages(relay: RelayServer) -> None:
    a, b, created, _ = await chat_pair(relay_url(relay))
    async with closing(a.client, b.client):
        sid = created.session_id
        await a.client.send_message(sid, "soon gone")
        await b.wait(MessageReceived)
        await b.client.destroy_session(sid)
        with pytest.raises(SessionError):
            b.client.messages(sid)
        await a.wait(PeerLeft, lambda e: e.reason == "left")
        await a.client.leave_session(sid)
        assert [m.text for m in a.client.messages(sid)] == ["soon gone"]  # left: still readable
        await a.client.destroy_session(sid)
        with pytest.raises(SessionError):
            a.client.messages(sid)


async def test_sync_client_chat(relay: RelayServer) -> None:
    """QuickoClient: blocking calls on its own thread, poll_event, and an on_event callback."""
    # The relay runs on this test's loop, so the blocking client runs in a worker thread.
    await asyncio.to_thread(sync_chat, relay_url(relay))


def sync_chat(url: str) -> None:
    """Chat with two QuickoClients (blocking)."""
    received: list[ClientEvent] = []
    arrived = threading.Event()

    def on_event(event: ClientEvent) -> None:
        received.append(event)
        if isinstance(event, MessageReceived):
            arrived.set()

    with QuickoClient(url) as alice, QuickoClient(url, on_event=on_event) as bob:
        alice.connect()
        bob.connect()
        assert alice.connection_state == "connected"
        created = alice.create_session()
        assert created.invite_code is not None
        joined = bob.join_session(created.invite_code)
        sent = alice.send_message(created.session_id, "sync hello")
        assert arrived.wait(10)
        message = next(e for e in received if isinstance(e, MessageReceived)).message
        assert message.text == "sync hello" and message.message_id == sent.message_id
        assert bob.poll_event() is None  # events went to the callback
        assert [m.text for m in bob.messages(joined.session_id)] == ["sync hello"]
        seen = []
        while (event := alice.next_event(10)) is not None:
            seen.append(event)
            if isinstance(event, SessionReady):
                break
        assert any(isinstance(e, SessionReady) for e in seen)


async def test_async_relay_handles_a_connect_timeout() -> None:
    client = AsyncQuickoClient("ws://127.0.0.1:9", settings=None)
    with pytest.raises(TimeoutError):
        await client.connect(timeout=0.3)
    assert client.connection_state in ("connecting", "reconnecting")
    await client.disconnect()
    assert client.connection_state == "disconnected"


def has_failures(count: int, event: JoinerFailed) -> bool:
    """Whether ``event`` reports ``count`` wrong guesses."""
    return event.failures == count
