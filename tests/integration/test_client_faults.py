"""Delivery under network faults: clients, a real relay, and a fault-injecting TCP proxy between.

Both clients reach the relay only through :class:`~quicko.bench.faultproxy.FaultProxy` on
loopback. Each test chats, injects one fault while both sides keep sending (``send_message``
never waits for the network), ends it, and counts at the application through the public client API:

- every message is shown exactly once to its recipient, and none is lost while both live;
- every sender status is true: DELIVERED (or READ) for every message that arrived, and no
  FAILED at all (nothing here is undeliverable);
- after a blackhole or a path change, everything arrives within a few seconds of the link
  working again (a generous bound: the latencies belong in a benchmark).

Timeouts are configured short (ping every 2 s, a 1.5 s Pong timeout, a probe 1 s after an
unacknowledged Message, a 2 s relay ack timeout) so that each test stays fast. The tests wait
on events with generous bounds; the only ``sleep`` is the length of the 10 s blackhole itself.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from client_support import Watcher, chat_pair, closing
from fault_support import FAULTY, Pair, both_disconnected, trust
from relay_support import StartRelay

from quicko.bench.faultproxy import FaultProxy
from quicko.client import (
    AsyncQuickoClient,
    ConnectionSettings,
    DeliveryStatus,
    Disconnected,
    DisconnectReason,
    PeerLeft,
    StatusChanged,
)

pytestmark = pytest.mark.timeout(120)

#: After a blackhole or a path change, everything arrives within this of the link working.
RECOVERY_BOUND_S = 15.0


@contextlib.asynccontextmanager
async def open_pair(start_relay: StartRelay, **settings: float) -> AsyncIterator[Pair]:
    """A relay (with ``settings``), the proxy, two clients chatting through it."""
    relay = await start_relay(ack_timeout_s=2.0, **settings)
    async with FaultProxy(relay.port) as proxy:
        trust(relay, proxy)
        a, b, created, _ = await chat_pair(proxy.url, settings=FAULTY)
        async with closing(a.client, b.client):
            chat = Pair(a, b, created.session_id, proxy)
            await chat.send("a", "before", 3)
            await chat.send("b", "before", 3)
            await chat.settle()
            yield chat


async def test_a_10_s_blackhole_loses_nothing(start_relay: StartRelay) -> None:
    async with open_pair(start_relay) as chat:
        await _a_10_s_blackhole_loses_nothing(chat)


async def _a_10_s_blackhole_loses_nothing(chat: Pair) -> None:
    loop = asyncio.get_running_loop()
    start = loop.time()
    chat.proxy.blackhole()  # no FIN, no RST: the flows just go silent
    await chat.send("a", "in the dark", 10)
    await chat.send("b", "in the dark", 10)
    await both_disconnected(chat)  # detected by the clients, with data outstanding
    detected = loop.time() - start
    assert detected < 10.0
    await asyncio.sleep(max(0.0, 10.0 - (loop.time() - start)))  # the fault's length
    chat.proxy.restore()
    back = loop.time()
    await chat.send("a", "after", 3)
    await chat.settle()
    assert loop.time() - back < RECOVERY_BOUND_S
    chat.check()


async def test_a_path_change_loses_nothing(start_relay: StartRelay) -> None:
    async with open_pair(start_relay) as chat:
        await _a_path_change_loses_nothing(chat)


async def _a_path_change_loses_nothing(chat: Pair) -> None:
    loop = asyncio.get_running_loop()
    chat.proxy.path_change()  # the old flows are dead for good; new ones work at once
    changed = loop.time()
    await chat.send("a", "after the change", 10)
    await chat.send("b", "after the change", 10)
    await chat.settle()
    assert loop.time() - changed < RECOVERY_BOUND_S
    assert chat.proxy.opened >= 4  # both clients found a new path
    chat.check()


async def test_a_reset_loses_nothing(start_relay: StartRelay) -> None:
    async with open_pair(start_relay) as chat:
        await _a_reset_loses_nothing(chat)


async def _a_reset_loses_nothing(chat: Pair) -> None:
    await chat.send("a", "racing the reset", 10)
    chat.proxy.reset()
    await chat.send("b", "after the reset", 10)
    await chat.send("a", "after the reset", 5)
    await chat.settle()
    chat.check()


async def test_a_stall_whose_backlog_arrives_as_one_burst_loses_nothing(
    start_relay: StartRelay,
) -> None:
    async with open_pair(start_relay, rate=30.0, burst=60) as chat:
        await _stall_then_burst(chat)


async def _stall_then_burst(chat: Pair) -> None:
    chat.proxy.stall()
    # Far more than the relay's burst of 60 frames, all held by the stalled flow.
    await chat.send("a", "stalled", 150)
    await chat.send("b", "stalled", 20)
    chat.proxy.release()  # the backlog hits the relay as one burst: slowed, never dropped
    await chat.settle()
    chat.check()


async def test_an_outage_longer_than_the_relay_buffer_loses_nothing(
    start_relay: StartRelay,
) -> None:
    async with open_pair(start_relay, buffer_ttl_s=1.0) as chat:
        await _outage_past_the_buffer(chat)


async def _outage_past_the_buffer(chat: Pair) -> None:
    await chat.b.client.disconnect()  # Bob is away for longer than the relay holds frames
    await chat.a.wait(PeerLeft, lambda e: e.reason == "disconnected")
    await chat.send("a", "while bob is away", 10)
    # The relay's 1 s buffer TTL passes: it drops Bob and its copies of Alice's texts.
    await chat.a.wait(PeerLeft, lambda e: e.reason == "expired", timeout=20.0)
    assert not any(e.status is DeliveryStatus.FAILED for e in chat.a.of(StatusChanged))
    await chat.b.client.connect()
    await chat.send("b", "back", 3)
    await chat.settle()
    chat.check()


async def test_a_dead_link_is_dropped_without_waiting_for_a_closing_handshake(
    start_relay: StartRelay,
) -> None:
    # A link found dead (no Pong) answers no close frame: the client must not wait
    # close_timeout for one before it reports the loss and reconnects.
    relay = await start_relay()
    settings = ConnectionSettings(ping_interval=0.2, ping_timeout=0.5, close_timeout=60.0)
    async with FaultProxy(relay.port) as proxy:
        trust(relay, proxy)
        client = AsyncQuickoClient(proxy.url, settings=settings)
        await client.connect()
        async with closing(client):
            watcher = Watcher(client)
            proxy.blackhole()
            dropped = await watcher.wait(Disconnected, timeout=20.0)  # far below close_timeout
            assert dropped == Disconnected(
                "no Pong within 0.5 s", will_retry=True, code=DisconnectReason.PING_TIMEOUT
            )
