"""Real clients over a real relay: a message's objects are freed by reference counting alone.

The applications raise the collector's thresholds and freeze their start-up objects
(:func:`quicko.client.tune_client_gc`), which is safe only if the client makes no reference
cycles as messages flow. Here two AsyncQuickoClients (and the relay, in this process) exchange
unpaced messages with the collector off and ``gc.DEBUG_SAVEALL`` on; a collection afterwards
must find no garbage of quicko's own types. (asyncio and websockets may make cycles of their
own, e.g. a cancelled waiter's exception and its traceback: those are not the client's and are
not counted; in practice this run finds none at all.)
"""

from __future__ import annotations

import gc

from client_support import FAST, Watcher, chat_pair, closing
from relay_support import relay_url

from quicko.client import MessageReceived, StatusChanged
from quicko.messaging import DeliveryStatus
from quicko.relay.server import RelayServer

MESSAGES = 300


def delivered(watcher: Watcher) -> set[str]:
    return {e.message_id for e in watcher.of(StatusChanged) if e.status is DeliveryStatus.DELIVERED}


async def exchange(a: Watcher, b: Watcher, session_id: str, first: int, count: int) -> None:
    """Alice sends ``count`` texts; wait until Bob has them all and Alice sees them DELIVERED."""
    for n in range(first, first + count):
        await a.client.send_message(session_id, f"{n:08d} ".ljust(100, "x"))
    await b.until(lambda events: len(b.of(MessageReceived)) >= first + count, timeout=30)
    await a.until(lambda events: len(delivered(a)) >= first + count, timeout=30)


async def test_messages_between_real_clients_leave_no_cyclic_garbage_of_quicko(
    relay: RelayServer,
) -> None:
    a, b, created, _ = await chat_pair(relay_url(relay), FAST)
    async with closing(a.client, b.client):
        await exchange(a, b, created.session_id, 0, 20)  # first-use costs out of the way
        enabled = gc.isenabled()
        gc.collect()
        gc.disable()
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            await exchange(a, b, created.session_id, 20, MESSAGES)
            gc.collect()
            garbage = [f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.garbage]
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
            if enabled:
                gc.enable()
        assert [name for name in garbage if name.startswith("quicko.")] == []
        assert len(b.of(MessageReceived)) == 20 + MESSAGES
