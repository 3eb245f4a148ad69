"""Attack: one source fills the connection table or the directory (issue 9 item 4).

Before: 1,000 connections per source and a global directory of 100,000 entries with no
per-source share: one source registered 152 throw-away QuickoKeys a second and a real user got
"the directory is full". Now, at the defaults, a source has at most 32 connections and 16
directory entries, and another source still connects and registers.
"""

from __future__ import annotations

import asyncio

import pytest
from abuse_support import connect_from, relay_process
from relay_support import RelayClient, register_key
from websockets.exceptions import InvalidStatus

from quicko.protocol import Error, ErrorCode, RegisterAck
from quicko.relay.config import RelayConfig

pytestmark = pytest.mark.integration

ATTACKER, USER = "127.0.0.2", "127.0.0.3"
BOUND_S = 60.0


async def test_one_source_cannot_fill_the_connection_table_or_the_directory() -> None:
    defaults = RelayConfig()
    # Only the connect rate is raised, so that the attacker reaches its cap within the test.
    async with relay_process(["--connect-rate", "1000"]) as relay, asyncio.timeout(BOUND_S):
        attackers: list[RelayClient] = []
        refused = 0
        for _ in range(defaults.max_connections_per_ip + 8):
            try:
                attackers.append(await connect_from(ATTACKER, relay.port))
            except InvalidStatus as exc:
                assert exc.response.status_code == 429
                refused += 1
        assert (len(attackers), refused) == (defaults.max_connections_per_ip, 8)
        # Each attacking connection registers its throw-away identity: 16 get in.
        results = []
        for client in attackers:
            await client.send(register_key(client))
            results.append(await client.recv())
        registered = [r for r in results if isinstance(r, RegisterAck)]
        limited = [r for r in results if isinstance(r, Error)]
        assert len(registered) == defaults.max_directory_entries_per_ip
        assert {e.code for e in limited} == {ErrorCode.LIMIT_REACHED}
        # Another source still connects and registers.
        user = await connect_from(USER, relay.port)
        await user.send(register_key(user))
        assert await user.expect(RegisterAck) == RegisterAck(user.address, True)
