"""Attack: flood away recipients from several senders (issue 9 item 1).

Before: the offline buffer was bounded in frames only (256 per recipient, 100,000 in all, of up
to 1 MiB each): eight senders and three away recipients took the relay from 46 to 823 MiB in
1.3 s. Now it is bounded in bytes per recipient, per sender and in total, and whatever does not
fit is answered BUFFER_FULL to its sender.
"""

from __future__ import annotations

import asyncio
import secrets

import pytest
from abuse_support import health, relay_process, rss_bytes
from relay_support import RelayClient, join_key

from quicko.protocol import Ack, AckStatus, Error, ErrorCode, Joined, Message
from quicko.protocol.constants import MAX_PAYLOAD_BYTES

pytestmark = pytest.mark.integration

MIB = 1024 * 1024
TOTAL = 8 * MIB
PER_SENDER = 4 * MIB
PER_RECIPIENT = 1 * MIB
SENDERS = 8
AWAY = 12
MESSAGES_PER_SENDER = 48
#: The largest body a client sends (a 64 KiB text padded to 128 KiB), within the frame limit.
BODY = min(131_072, MAX_PAYLOAD_BYTES - 1024)
#: What the relay may grow by beyond the buffer budget: the read and write buffers of the
#: sender connections (each grows to hold one large frame) and the allocator's slack.
OVERHEAD = 16 * MIB
BOUND_S = 60.0


async def test_a_buffer_flood_stays_within_its_byte_budgets() -> None:
    args = [
        "--rate", "1000000", "--burst", "1000000", "--max-connections-per-ip", "1000",
        "--connect-rate", "1000",
        "--buffer-bytes-total", str(TOTAL),
        "--buffer-bytes-per-sender", str(PER_SENDER),
        "--buffer-bytes-per-recipient", str(PER_RECIPIENT),
    ]  # fmt: skip
    async with relay_process(args) as relay, asyncio.timeout(BOUND_S):
        url = f"ws://127.0.0.1:{relay.port}/ws"
        session = secrets.token_bytes(16)
        senders = [await RelayClient.connect(url) for _ in range(SENDERS)]
        away = [await RelayClient.connect(url) for _ in range(AWAY)]
        key = join_key()
        for client in (*senders, *away):
            await client.send(client.join(session, key))
            while not isinstance(await client.recv(), Joined):
                pass
        for client in away:
            await client.close()
        while (await health(relay.port))["authenticated_connections"] > SENDERS:
            await asyncio.sleep(0.01)  # polling the relay's own count, bounded by BOUND_S
        before = rss_bytes(relay.process.pid)

        async def flood(sender: RelayClient, index: int) -> tuple[int, int]:
            buffered = refused = 0
            for n in range(MESSAGES_PER_SENDER):
                # Half fan-outs to every away member, half to one of them.
                recipient = b"" if n % 2 else away[(index + n) % AWAY].address
                message_id = secrets.token_bytes(16)
                body = secrets.token_bytes(BODY)
                await sender.send(Message(session, sender.address, recipient, message_id, n, body))
                while True:
                    reply = await sender.recv()
                    if isinstance(reply, Error) and reply.ref_id == message_id:
                        assert reply.code == ErrorCode.BUFFER_FULL
                        refused += 1
                        break
                    if isinstance(reply, Ack) and reply.message_id == message_id:
                        assert reply.status == AckStatus.BUFFERED
                        buffered += 1
                        break
            return buffered, refused

        results = await asyncio.gather(*(flood(s, i) for i, s in enumerate(senders)))
        after = rss_bytes(relay.process.pid)
        counts = await health(relay.port)
    offered = SENDERS * MESSAGES_PER_SENDER * BODY
    refused = sum(r for _, r in results)
    print(
        f"offered {offered / MIB:.0f} MiB; buffered {counts['buffered_bytes'] / MIB:.1f} MiB "
        f"in {counts['buffered_frames']} frames; refused {refused}; "
        f"RSS {before / MIB:.0f} -> {after / MIB:.0f} MiB"
    )
    assert offered > 5 * TOTAL  # the attack offered far more than the budget
    assert refused > 0
    assert counts["buffered_bytes"] <= TOTAL
    assert after - before <= TOTAL + OVERHEAD
