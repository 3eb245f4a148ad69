"""Helpers of the client-connection tests: event waiting, relay subprocesses, a scripted relay.

- :func:`expect_event`: read a :class:`~quicko.client.connection.Connection`'s events until one
  of a kind arrives (within a timeout), returning it and the ones read on the way.
- :func:`relay_subprocess`: ``python -m quicko relay`` on 127.0.0.1 (port 0 or a given port),
  killed and reaped when the context ends.
- :class:`ScriptedRelay`: a small ``websockets`` server whose behaviour per connection is a test's
  coroutine, for what a real relay never does (garbage frames, no Pong, a refused Hello).
- :func:`signed_join`: a Join by id with a join key and its proof over the connection's
  Challenge, as a real client sends it (docs/protocol.md §4.3).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

from relay_support import RelayProcess, spawn_relay
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from quicko.client.connection import Connection
from quicko.client.events import TransportEvent
from quicko.crypto import Ed25519KeyPair
from quicko.identity import Identity
from quicko.protocol import (
    Challenge,
    Hello,
    HelloAck,
    Join,
    Payload,
    decode_frame,
    encode_frame,
)
from quicko.protocol.auth import join_transcript

E = TypeVar("E")

#: Seconds a test waits for one event before failing.
EVENT_TIMEOUT_S = 10.0


async def expect_event(
    conn: Connection, kind: type[E], timeout: float = EVENT_TIMEOUT_S
) -> tuple[E, list[TransportEvent]]:
    """Read events until one is a ``kind``; return it and every event read before it."""
    skipped: list[TransportEvent] = []
    async with asyncio.timeout(timeout):
        while True:
            event = await conn.next_event()
            if isinstance(event, kind):
                return event, skipped
            skipped.append(event)


@contextlib.asynccontextmanager
async def relay_subprocess(port: int = 0, *args: str) -> AsyncIterator[RelayProcess]:
    """A relay process on 127.0.0.1 (``port`` 0: a free one), stopped when the block ends."""
    relay = await spawn_relay(["--port", str(port), *args])
    try:
        yield relay
    finally:
        await stop_relay(relay, signal.SIGTERM)


async def stop_relay(relay: RelayProcess, how: signal.Signals = signal.SIGKILL) -> None:
    """Signal a relay process (SIGKILL by default) and reap it; harmless if it has exited."""
    process = relay.process
    if process.returncode is None:
        process.send_signal(how)
    with contextlib.suppress(Exception):
        assert process.stderr is not None
        await asyncio.wait_for(process.stderr.read(), EVENT_TIMEOUT_S)
    await asyncio.wait_for(process.wait(), EVENT_TIMEOUT_S)


Script = Callable[[ServerConnection, int], Awaitable[None]]
"""What a :class:`ScriptedRelay` does with its n-th connection (counting from 1)."""


class ScriptedRelay:
    """A WebSocket server on 127.0.0.1 that runs a script per connection."""

    def __init__(self, script: Script) -> None:
        self._script = script
        self.connections = 0
        #: Exceptions of the scripts, other than the client closing the connection.
        self.failures: list[Exception] = []
        self._server: Server | None = None

    async def __aenter__(self) -> ScriptedRelay:
        self._server = await serve(
            self._handle, "127.0.0.1", 0, compression=None, ping_interval=None
        )
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()
        assert not self.failures, f"a script failed: {self.failures[0]!r}"

    @property
    def url(self) -> str:
        """The server's URL (no path: the client adds ``/ws``)."""
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"ws://127.0.0.1:{port}"

    async def _handle(self, ws: ServerConnection) -> None:
        self.connections += 1
        try:
            await self._script(ws, self.connections)
        except ConnectionClosed:
            pass  # the client dropped the connection, as it should after what it was sent
        except Exception as exc:
            self.failures.append(exc)


async def recv_payload(ws: ServerConnection) -> Payload:
    """The next frame a client sent, decoded."""
    data = await asyncio.wait_for(ws.recv(decode=False), EVENT_TIMEOUT_S)
    assert isinstance(data, bytes)
    return decode_frame(data)


async def accept_hello(ws: ServerConnection, node_id: str = "scripted") -> Hello:
    """Play the relay's side of the handshake, trusting the Hello (these tests are not about it)."""
    now = time.time_ns() // 1_000_000  # within the client's clock-skew bound
    await ws.send(encode_frame(Challenge(bytes(32), node_id, now)))
    hello = await recv_payload(ws)
    assert isinstance(hello, Hello)
    await ws.send(encode_frame(HelloAck(hello.address, node_id, now, 0)))
    return hello


def signed_join(
    conn: Connection, identity: Identity, session_id: bytes, key: Ed25519KeyPair
) -> Join:
    """A Join by id with ``key`` as the session's join key and its proof for ``conn``."""
    connected = conn.connected
    assert connected is not None, "not connected"
    transcript = join_transcript(nonce=connected.nonce, node_id=connected.node_id,
                                 session_id=session_id, address=identity.address)  # fmt: skip
    return Join(session_id, "", key.public, key.sign(transcript))
