"""Helpers of the QuickoClient integration tests: event watchers, chat set-up, a tampering proxy.

- :class:`Watcher`: reads an :class:`~quicko.client.AsyncQuickoClient`'s events into a list and
  waits, with a timeout, until a condition over them holds (never a sleep).
- :func:`chat_pair`: two connected clients in one authenticated session.
- :class:`Proxy`: a WebSocket proxy on 127.0.0.1 between clients and a real relay that records
  every frame both ways and lets a test rewrite, drop, duplicate or reorder the frames the relay
  sends to a client.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from relay_support import relay_url
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from quicko.client import (
    AsyncQuickoClient,
    ClientEvent,
    ConnectionSettings,
    SessionInfo,
    SessionReady,
)
from quicko.client.link import MAX_MESSAGE_BYTES
from quicko.protocol import canonical_relay_url
from quicko.relay.server import RelayServer

E = TypeVar("E")
T = TypeVar("T")

#: Seconds a test waits for one condition before failing.
WAIT_S = 10.0

#: Fast reconnects so that restarts and outages end within a test's patience.
FAST = ConnectionSettings(
    ping_interval=30.0,
    backoff_initial=0.05,
    backoff_maximum=0.3,
    close_timeout=1.0,
    open_timeout=2.0,
    handshake_timeout=2.0,
    # No client-side pacing here: these tests send little, or lift the relay's rate limit;
    # pacing against the default limit has its own test (test_client_burst.py).
    send_rate=100_000.0,
    send_burst=100_000,
)


class Watcher:
    """Every event of one client, read on demand, with waits on conditions over them."""

    def __init__(self, client: AsyncQuickoClient, name: str = "") -> None:
        self.client = client
        self.name = name
        self.events: list[ClientEvent] = []

    def of(self, kind: type[E]) -> list[E]:
        """The events of one kind so far."""
        return [event for event in self.events if isinstance(event, kind)]

    async def until(
        self, check: Callable[[list[ClientEvent]], T | None], timeout: float = WAIT_S
    ) -> T:
        """Read events until ``check(events)`` is truthy; return its value."""
        async with asyncio.timeout(timeout):
            while True:
                result = check(self.events)
                if result:
                    return result
                self.events.append(await self.client.next_event())

    async def wait(
        self, kind: type[E], where: Callable[[E], bool] = lambda _: True, timeout: float = WAIT_S
    ) -> E:
        """The first event (so far or to come) of ``kind`` for which ``where`` holds."""

        def check(events: list[ClientEvent]) -> E | None:
            return next((e for e in events if isinstance(e, kind) and where(e)), None)

        return await self.until(check, timeout)


async def chat_pair(
    url: str, settings: ConnectionSettings | None = None
) -> tuple[Watcher, Watcher, SessionInfo, SessionInfo]:
    """Two connected clients; the first creates a session, the second joins it."""
    alice = AsyncQuickoClient(url, settings=settings)
    bob = AsyncQuickoClient(url, settings=settings)
    await alice.connect()
    await bob.connect()
    created = await alice.create_session()
    assert created.invite_code is not None
    joined = await bob.join_session(created.invite_code)
    a, b = Watcher(alice, "alice"), Watcher(bob, "bob")
    await a.wait(SessionReady)
    await b.wait(SessionReady)
    return a, b, created, joined


@contextlib.asynccontextmanager
async def closing(*clients: AsyncQuickoClient) -> AsyncIterator[None]:
    """Disconnect every client when the block ends."""
    try:
        yield
    finally:
        for client in clients:
            await client.disconnect()


Rewrite = Callable[[bytes], list[bytes]]
"""What a proxy sends on instead of one frame (empty: drop it; several: duplicate)."""


@dataclass
class Proxy:
    """A WebSocket proxy from 127.0.0.1:port to a relay, recording and rewriting frames.

    Attributes:
        upstream: the relay's WebSocket URL.
        to_client: rewrites each frame the relay sends to a client.
        to_relay: rewrites each frame a client sends to the relay.
        frames: every frame seen, both ways, as the relay sent or received it.
    """

    upstream: str
    to_client: Rewrite | None = None
    to_relay: Rewrite | None = None
    frames: list[bytes] = field(default_factory=list)
    _server: Server | None = None
    _links: list[ClientConnection] = field(default_factory=list)

    async def __aenter__(self) -> Proxy:
        self._server = await serve(
            self._handle, "127.0.0.1", 0, compression=None, ping_interval=None,
            max_size=MAX_MESSAGE_BYTES,
        )  # fmt: skip
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        for link in self._links:
            link.transport.abort()
        self._server.close()
        await self._server.wait_closed()

    @property
    def url(self) -> str:
        """The proxy's URL."""
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"ws://127.0.0.1:{port}/ws"

    async def _handle(self, client: ServerConnection) -> None:
        async with connect(
            self.upstream, compression=None, ping_interval=None, max_size=MAX_MESSAGE_BYTES
        ) as relay:
            self._links.append(relay)
            pumps = [
                asyncio.ensure_future(self._pump(client, relay, lambda: self.to_relay)),
                asyncio.ensure_future(self._pump(relay, client, lambda: self.to_client)),
            ]
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
            for pump in pumps:
                pump.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)

    async def _pump(
        self,
        source: ServerConnection | ClientConnection,
        sink: ServerConnection | ClientConnection,
        rewrite: Callable[[], Rewrite | None],
    ) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for data in source:
                assert isinstance(data, bytes)
                self.frames.append(data)
                hook = rewrite()
                for out in hook(data) if hook is not None else [data]:
                    await sink.send(out)


def trust_proxy(relay: RelayServer, proxy: Proxy) -> None:
    """Let clients that dial ``proxy`` log in to ``relay``: it lists the proxy's URL as its own.

    A v3 Hello names the URL the client dialled, and a relay refuses a Hello for another URL
    (WRONG_RELAY): a proxy that is not one of the relay's public names is a relay forwarding
    another's Challenge. These tests play a tampering network that the relay does trust.
    """
    urls = [canonical_relay_url(url) for url in (relay_url(relay), proxy.url)]
    relay.router.set_public_urls(urls)
