"""Attack: one large frame per connection keeps the relay's read buffers grown (issue 9 item 3).

Before: picows doubles a connection's read buffer until a frame fits and never shrinks it, so
after one 128 KiB frame every authenticated connection kept about 137 KiB resident for its life
(a few hundred MiB for a few thousand connections, for one frame each). Now the relay gives the
free part of the buffer back to the OS after any frame (or read) over 16 KiB
(``madvise(MADV_DONTNEED)``, :func:`quicko.relay.server.release_read_buffer`), so a connection
costs about what it did before the frame.
"""

from __future__ import annotations

import asyncio
import sys

import pytest
from abuse_support import relay_process, rss_bytes
from relay_support import RelayClient

from quicko.protocol import Error, ErrorCode, Ping, Pong
from quicko.protocol.constants import PROTOCOL_VERSION

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(sys.platform != "linux", reason="madvise and /proc are Linux's"),
]

KIB = 1024
CONNECTIONS = 100
LARGE_FRAME_BYTES = 128 * KIB
#: Stated bound: what one large frame may leave behind per connection, once handled (the
#: buffer's first 4 KiB of free space and the allocator's slack; before the fix: ~137 KiB).
AFTER_LARGE_FRAME_BOUND = 24 * KIB
BOUND_S = 90.0
ARGS = ["--max-connections-per-ip", "1000", "--connect-rate", "1000"]
_UNKNOWN_TYPE = 0x7E


def _large_frame(size: int) -> bytes:
    """A frame of an unknown type with a *size*-byte payload: answered with an Error only."""
    return bytes((PROTOCOL_VERSION, _UNKNOWN_TYPE)) + size.to_bytes(4, "big") + bytes(size)


async def test_read_buffer_shrinks_after_a_large_frame() -> None:
    async with relay_process(ARGS) as relay, asyncio.timeout(BOUND_S):
        url = f"ws://127.0.0.1:{relay.port}/ws"
        for _ in range(8):  # one-time allocations first, large frame included
            warm = await RelayClient.connect(url)
            await warm.send_raw(_large_frame(LARGE_FRAME_BYTES))
            assert (await warm.expect(Error)).code == ErrorCode.UNKNOWN_TYPE
            await warm.close()
        clients = [await RelayClient.connect(url) for _ in range(CONNECTIONS)]
        for client in clients:  # every connection handles a frame and is idle again
            await client.send(Ping(1))
            assert (await client.expect(Pong)).nonce == 1
        before = rss_bytes(relay.process.pid)
        frame = _large_frame(LARGE_FRAME_BYTES)
        for client in clients:
            await client.send_raw(frame)
            assert (await client.expect(Error)).code == ErrorCode.UNKNOWN_TYPE
        after = rss_bytes(relay.process.pid)
        per_connection = (after - before) / CONNECTIONS
        print(f"after one {LARGE_FRAME_BYTES // KIB} KiB frame: {per_connection / KIB:.1f} KiB")
        assert per_connection <= AFTER_LARGE_FRAME_BOUND
        # The buffers still work: small and large frames are read as before.
        for client in clients[:4]:
            await client.send_raw(frame)
            assert (await client.expect(Error)).code == ErrorCode.UNKNOWN_TYPE
            await client.send(Ping(2))
            assert (await client.expect(Pong)).nonce == 2
