"""A burst larger than the relay's rate limit arrives whole: the client paces itself.

The relay keeps its default limits here (30 frames/s, burst 60 per connection). Without the
client's pacing, most of these messages would be dropped with Error(RATE_LIMITED) and fail.
"""

from __future__ import annotations

from client_support import Watcher, chat_pair, closing
from relay_support import relay_url

from quicko.client import MessageReceived, StatusChanged
from quicko.messaging import DeliveryStatus
from quicko.relay.server import RelayServer

BURST = 90  # more than the relay's burst of 60 frames


def delivered(watcher: Watcher, ids: set[str]) -> bool:
    done = {e.message_id for e in watcher.of(StatusChanged) if e.status >= DeliveryStatus.DELIVERED}
    return ids <= done


async def test_a_burst_over_the_relays_limit_is_paced_not_dropped(relay: RelayServer) -> None:
    a, b, created, _ = await chat_pair(relay_url(relay))
    async with closing(a.client, b.client):
        sent = [await a.client.send_message(created.session_id, f"burst {n}") for n in range(BURST)]
        ids = {message.message_id.hex() for message in sent}
        await a.until(lambda _: delivered(a, ids), timeout=30)
        await b.until(lambda _: len(b.of(MessageReceived)) >= BURST, timeout=30)
        assert sorted(e.message.text for e in b.of(MessageReceived)) == sorted(
            f"burst {n}" for n in range(BURST)
        )
        assert not any(e.status is DeliveryStatus.FAILED for e in a.of(StatusChanged))
        assert relay.router.metrics.rate_limited == 0


async def test_texts_sent_in_a_row_then_a_disconnect_arrive_once(relay: RelayServer) -> None:
    # send_message flushes once the caller yields (one flush for texts sent in a row);
    # disconnect() right after must not leave them behind: they go out, before or after the
    # reconnect, and are shown once.
    a, b, created, _ = await chat_pair(relay_url(relay))
    async with closing(a.client, b.client):
        sent = [await a.client.send_message(created.session_id, f"row {n}") for n in range(5)]
        await a.client.disconnect()
        await a.client.connect()
        ids = {message.message_id.hex() for message in sent}
        await a.until(lambda _: delivered(a, ids), timeout=30)
        await b.until(lambda _: len(b.of(MessageReceived)) >= 5, timeout=30)
        assert [e.message.text for e in b.of(MessageReceived)] == [f"row {n}" for n in range(5)]
        for message_id in ids:
            shown = [e.status for e in a.of(StatusChanged) if e.message_id == message_id]
            assert shown == sorted(shown)  # forward only
