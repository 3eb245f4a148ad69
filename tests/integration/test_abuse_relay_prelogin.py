"""Attack: large or fragmented messages before login (issue 9 item 3).

Before: a fragmented message was accumulated up to 1 MiB before any Hello (+2.0 MiB per
unauthenticated connection until the 10 s handshake timeout). Now nothing larger than a Hello
is accepted before login: a fragment or a message over 1 KiB closes the connection (1009), and
so do more than 4 KiB of frame bytes in all, checked as they are read, so a large frame is
refused long before it is buffered in full.
"""

from __future__ import annotations

import asyncio
import secrets

import pytest
from abuse_support import relay_process, rss_bytes
from relay_support import RelayClient

from quicko.protocol import Error, ErrorCode, Ping, Pong

pytestmark = pytest.mark.integration

KIB = 1024
CONNECTIONS = 300
#: Stated bound: what one connection that has not logged in may cost the relay, everything
#: included (socket, TLS-less transport, picows' 4 KiB read buffer, router state).
PRELOGIN_BOUND = 24 * KIB
BOUND_S = 60.0
ARGS = ["--max-connections-per-ip", "1000", "--connect-rate", "1000"]


def _frame_header(length: int, *, fin: bool = True, opcode: int = 0x2) -> bytes:
    """A masked client frame header (zero mask) announcing ``length`` payload bytes."""
    first = (0x80 if fin else 0) | opcode
    if length < 126:
        head = bytes((first, 0x80 | length))
    elif length < 65536:
        head = bytes((first, 0xFE)) + length.to_bytes(2, "big")
    else:
        head = bytes((first, 0xFF)) + length.to_bytes(8, "big")
    return head + bytes(4)


async def test_prelogin_memory_per_connection_is_bounded() -> None:
    async with relay_process(ARGS) as relay, asyncio.timeout(BOUND_S):
        url = f"ws://127.0.0.1:{relay.port}/ws"
        for _ in range(16):  # one-time allocations first
            await (await RelayClient.connect(url, authenticate=False)).close()
        before = rss_bytes(relay.process.pid)
        clients = []
        for _ in range(CONNECTIONS):
            client = await RelayClient.connect(url, authenticate=False)
            # The most a connection can make the relay hold before login: a 1 KiB message it
            # answers with an Error (an unknown type), the connection staying open.
            await client.send_raw(b"\x04\x7e" + (1018).to_bytes(4, "big") + bytes(1018))
            assert (await client.expect(Error)).code == ErrorCode.UNKNOWN_TYPE
            clients.append(client)
        after = rss_bytes(relay.process.pid)
        per_connection = (after - before) / CONNECTIONS
        print(f"pre-login: {per_connection / KIB:.1f} KiB per connection")
        assert per_connection <= PRELOGIN_BOUND
        # And the relay still serves someone who logs in.
        client = await RelayClient.connect(url)
        await client.send(Ping(1))
        assert (await client.expect(Pong)).nonce == 1


async def test_fragmented_and_large_prelogin_messages_are_refused() -> None:
    async with relay_process(ARGS) as relay, asyncio.timeout(BOUND_S):
        url = f"ws://127.0.0.1:{relay.port}/ws"
        # A fragmented message before login: refused at its first fragment.
        fragmented = await RelayClient.connect(url, authenticate=False)
        await fragmented.ws.send(iter([bytes(500), bytes(500)]))
        assert await fragmented.wait_closed() == 1009
        # One whole message over 1 KiB before login.
        large = await RelayClient.connect(url, authenticate=False)
        await large.send_raw(secrets.token_bytes(2 * KIB))
        assert await large.wait_closed() == 1009
        # A frame announcing 100 KiB, trickled: refused after a few KiB, never buffered whole.
        trickle = await RelayClient.connect(url, authenticate=False)
        trickle.ws.transport.write(_frame_header(100 * KIB))
        sent = 0
        while not trickle.ws.transport.is_closing() and sent < 100 * KIB:
            trickle.ws.transport.write(bytes(KIB))
            sent += KIB
            try:
                await asyncio.wait_for(asyncio.shield(trickle.ws.wait_closed()), 0.05)
            except TimeoutError:
                continue
        assert sent <= 16 * KIB, sent
        # A Hello-sized login still works, and so does a large frame after it.
        client = await RelayClient.connect(url)
        await client.send_raw(b"\x04\x7e" + (64 * KIB).to_bytes(4, "big") + bytes(64 * KIB))
        assert (await client.expect(Error)).code == ErrorCode.UNKNOWN_TYPE
