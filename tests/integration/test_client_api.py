"""The client API the apps read, against a real relay: the relay URL, why a connection fails,
operations refused while not connected, and a failed message sent again.
"""

from __future__ import annotations

import socket
import ssl
from pathlib import Path

import pytest
from client_support import FAST, Proxy, Watcher, chat_pair, closing, trust_proxy
from relay_support import StartRelay, relay_url, write_self_signed

from quicko.client import (
    AsyncQuickoClient,
    DeliveryStatus,
    MessageReceived,
    QuickoClient,
    Reconnecting,
    SessionReady,
    StatusChanged,
)
from quicko.errors import ConnectionClosedError, InviteCodeError, SessionError
from quicko.protocol import (
    Ack,
    AckStatus,
    Error,
    ErrorCode,
    MessageType,
    decode_frame,
    encode_frame,
)
from quicko.relay.server import RelayServer

pytestmark = pytest.mark.integration


def closed_port() -> int:
    """A loopback port nobody listens on (connections to it are refused at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_relay_url_is_canonical(relay: RelayServer) -> None:
    port = relay_url(relay).split(":")[2].split("/")[0]
    client = AsyncQuickoClient(f"WS://127.0.0.1:{port}/ws")
    assert client.relay_url == f"ws://127.0.0.1:{port}"
    sync = QuickoClient(f"ws://127.0.0.1:{port}")
    try:
        assert sync.relay_url == f"ws://127.0.0.1:{port}"
    finally:
        sync.close()


async def test_operations_need_the_relay_and_say_why() -> None:
    url = f"ws://127.0.0.1:{closed_port()}"
    client = Watcher(AsyncQuickoClient(url, settings=FAST))
    async with closing(client.client):
        with pytest.raises(ConnectionClosedError, match=r"not connected to the relay at ws://"):
            await client.client.create_session()
        with pytest.raises(TimeoutError):
            await client.client.connect(timeout=0.2)  # refused: it keeps trying
        again = await client.wait(Reconnecting)
        assert again.reason == "connection refused"
        expected = f"not connected to the relay at {url}: connection refused"
        with pytest.raises(ConnectionClosedError) as refused:
            await client.client.create_session()
        assert str(refused.value) == expected
        with pytest.raises(ConnectionClosedError, match="connection refused"):
            await client.client.join_session("KBQW-E3T7")
        with pytest.raises(InviteCodeError):
            await client.client.join_session("not a code")  # the typing mistake first
        quickokey = client.client.identity_info.quickokey
        with pytest.raises(SessionError, match="your own"):
            await client.client.call(quickokey)
        other = AsyncQuickoClient(url).identity_info.quickokey
        with pytest.raises(ConnectionClosedError, match="connection refused"):
            await client.client.call(other)
        assert client.client.sessions() == []


async def test_reconnecting_says_the_certificate_is_not_trusted(
    start_relay: StartRelay, tmp_path: Path
) -> None:
    cert, key = write_self_signed(tmp_path)
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    served.load_cert_chain(cert, key)
    relay = await start_relay(ssl_context=served)
    url = relay_url(relay).replace("ws://", "wss://")
    client = Watcher(AsyncQuickoClient(url, settings=FAST))  # the system's CAs only
    async with closing(client.client):
        with pytest.raises(TimeoutError):
            await client.client.connect(timeout=0.2)
        again = await client.wait(Reconnecting)
        assert again.reason == "TLS certificate not trusted"


async def test_a_failed_message_is_sent_again_and_shown_once(relay: RelayServer) -> None:
    target: list[bytes] = []

    def refuse_its_ack(data: bytes) -> list[bytes]:
        """The relay's Ack for the marked message becomes a refusal that can never succeed."""
        payload = decode_frame(data)
        if (
            isinstance(payload, Ack)
            and target
            and payload.message_id == target[0]
            and payload.status in (AckStatus.ACCEPTED, AckStatus.BUFFERED)
        ):
            target.clear()
            error = Error(ErrorCode.TOO_LARGE, "too large", MessageType.MESSAGE,
                          payload.message_id)  # fmt: skip
            return [encode_frame(error)]
        return [data]

    async with Proxy(relay_url(relay), to_client=refuse_its_ack) as proxy:
        trust_proxy(relay, proxy)
        bob = AsyncQuickoClient(relay_url(relay), settings=FAST)
        alice = AsyncQuickoClient(proxy.url, settings=FAST)
        async with closing(alice, bob):
            await alice.connect()
            await bob.connect()
            created = await alice.create_session()
            assert created.invite_code is not None
            await bob.join_session(created.invite_code)
            a, b = Watcher(alice, "alice"), Watcher(bob, "bob")
            await a.wait(SessionReady)
            sid = created.session_id
            sent = await alice.send_message(sid, "hello")
            mid = sent.message_id.hex()
            target.append(sent.message_id)
            failed = await a.wait(
                StatusChanged,
                lambda e: e.message_id == mid and e.status is DeliveryStatus.FAILED,
            )
            assert failed.reason == "the relay refused it: TOO_LARGE"
            assert (await b.wait(MessageReceived)).message.text == "hello"  # it got there
            again = await alice.retry_message(sid, mid)
            assert again.message_id == sent.message_id
            assert again.status is DeliveryStatus.PENDING
            await a.wait(
                StatusChanged,
                lambda e: e.message_id == mid and e.status is DeliveryStatus.PENDING,
            )
            await a.wait(
                StatusChanged,
                lambda e: e.message_id == mid and e.status is DeliveryStatus.DELIVERED,
            )
            assert [m.text for m in bob.messages(sid)] == ["hello"]  # shown once
            assert len(b.of(MessageReceived)) == 1
            with pytest.raises(SessionError, match="only a message that failed"):
                await alice.retry_message(sid, mid)


async def test_retry_is_refused_for_a_message_still_on_its_way(relay: RelayServer) -> None:
    a, b, created, _ = await chat_pair(relay_url(relay), FAST)
    async with closing(a.client, b.client):
        sid = created.session_id
        await b.client.disconnect()
        sent = await a.client.send_message(sid, "nobody will read this")
        with pytest.raises(SessionError, match="only a message that failed"):
            await a.client.retry_message(sid, sent.message_id.hex())
