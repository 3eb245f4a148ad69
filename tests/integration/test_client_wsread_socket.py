"""RelayConnection over a real socket returns what websockets' own connection returns.

A websockets server on a free loopback port sends a script (runs of binary messages, a text,
a fragmented message, a ping, many small messages that pass the read queue's high-water mark
while the client does not read, a large message, then a close); a client with
:class:`quicko.client.wsread.RelayConnection` and one with plain ``websockets`` must receive the
same messages in the same order, then the same close — whether the client reads with ``recv()``
alone or, like the connection's read loop, takes ``recv_ready()`` first and awaits ``recv()``
only when it returns ``None``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from quicko.client.wsread import RelayConnection

_SMALL = 300


class _Watched(RelayConnection):
    """RelayConnection that says when it paused reading for its own queue."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.paused_once = asyncio.Event()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._held_back:
            self.paused_once.set()


async def _script(ws: ServerConnection) -> None:
    await ws.recv()  # the client is connected: what follows reaches an open connection
    for n in range(50):
        await ws.send(bytes([n]) * n)
    await ws.send("a text message")
    await ws.send([b"first ", b"second ", b"third"])  # one message in three frames
    await ws.ping()
    for n in range(_SMALL):
        await ws.send(n.to_bytes(2, "big") * 40)
    await ws.send(b"x" * 70_000)
    await ws.close(4000, "done")


async def _receive_all(
    url: str, cls: type[ClientConnection], ready_first: bool
) -> tuple[list[bytes | str], int | None]:
    out: list[bytes | str] = []
    taken_at_once = 0
    async with connect(url, create_connection=cls, compression=None, max_queue=16) as ws:
        assert type(ws) is cls
        await ws.send("go")
        if isinstance(ws, _Watched):  # no read before the queue passed its high-water mark
            await asyncio.wait_for(ws.paused_once.wait(), 10)
        try:
            while True:
                message = ws.recv_ready() if ready_first and isinstance(ws, _Watched) else None
                taken_at_once += message is not None
                out.append(await ws.recv() if message is None else message)
        except ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd is not None else None
    assert taken_at_once > 0 or not ready_first or not isinstance(ws, _Watched)
    return out, code


async def _run(
    cls: type[ClientConnection], ready_first: bool = False
) -> tuple[list[bytes | str], int | None]:
    async with serve(_script, "127.0.0.1", 0, compression=None) as server:
        port = server.sockets[0].getsockname()[1]
        url = f"ws://127.0.0.1:{port}"
        return await asyncio.wait_for(_receive_all(url, cls, ready_first), 30)


@pytest.mark.parametrize("ready_first", [False, True], ids=["recv", "recv_ready_first"])
async def test_same_messages_and_close_as_websockets(ready_first: bool) -> None:
    ours = await _run(_Watched, ready_first)
    plain = await _run(ClientConnection)
    assert ours == plain
    messages, code = ours
    assert code == 4000 and len(messages) == 50 + 2 + _SMALL + 1
    assert messages[50] == "a text message" and messages[51] == b"first second third"
    assert messages[-1] == b"x" * 70_000
