"""Outages with real clients: a relay killed and restarted, a client away past the buffer TTL,
and the offline queue overflowing. No message is lost silently and none is shown twice.
"""

from __future__ import annotations

import pytest
from client_helpers import stop_relay
from client_support import FAST, Watcher, chat_pair, closing
from relay_support import StartRelay, relay_url, spawn_relay

from quicko.client import (
    Connected,
    DeliveryStatus,
    Disconnected,
    MessageReceived,
    PeerLeft,
    StatusChanged,
)
from quicko.session.delivery import MAX_TRACKED_MESSAGES

pytestmark = pytest.mark.integration


def status_of(watcher: Watcher, message_id: bytes) -> DeliveryStatus | None:
    """The last status a client reported for one of its messages."""
    found = [e.status for e in watcher.of(StatusChanged) if e.message_id == message_id.hex()]
    return found[-1] if found else None


def all_reach(watcher: Watcher, ids: list[bytes], status: DeliveryStatus) -> bool:
    """Whether every message reported at least ``status`` (and none FAILED)."""
    last = {e.message_id: e.status for e in watcher.of(StatusChanged)}
    return all(
        (s := last.get(mid.hex())) is not None and status <= s != DeliveryStatus.FAILED
        for mid in ids
    )


async def test_relay_restart_loses_nothing_and_duplicates_nothing() -> None:
    relay = await spawn_relay()
    port = relay.port
    try:
        a, b, created, _ = await chat_pair(f"ws://127.0.0.1:{port}", settings=FAST)
        async with closing(a.client, b.client):
            sid = created.session_id
            before = [await a.client.send_message(sid, f"before {n}") for n in range(3)]
            ids = [m.message_id for m in before]
            await a.until(lambda ev: all_reach(a, ids, DeliveryStatus.DELIVERED))
            await stop_relay(relay)  # SIGKILL: no goodbye, buffers gone
            during = [await a.client.send_message(sid, f"during {n}") for n in range(2)]
            await a.wait(Disconnected)
            await b.wait(Disconnected)
            during += [await b.client.send_message(sid, f"reply {n}") for n in range(2)]
            relay = await spawn_relay(["--port", str(port)])
            await a.wait(Connected, lambda e: True)
            a_ids = [m.message_id for m in during if m.outgoing and m.text.startswith("during")]
            b_ids = [m.message_id for m in during if m.text.startswith("reply")]
            await a.until(lambda ev: all_reach(a, a_ids, DeliveryStatus.DELIVERED))
            await b.until(lambda ev: all_reach(b, b_ids, DeliveryStatus.DELIVERED))
            marker = await a.client.send_message(sid, "marker")
            await b.wait(MessageReceived, lambda e: e.message.message_id == marker.message_id)
            shown_b = [e.message.text for e in b.of(MessageReceived)]
            shown_a = [e.message.text for e in a.of(MessageReceived)]
            expected_b = [*(f"before {n}" for n in range(3)), "during 0", "during 1", "marker"]
            assert sorted(shown_b) == sorted(expected_b)  # each exactly once
            assert sorted(shown_a) == ["reply 0", "reply 1"]
    finally:
        await stop_relay(relay)


async def test_an_outage_fails_nothing_within_the_ledger_bound(start_relay: StartRelay) -> None:
    relay = await start_relay(rate=100_000.0, burst=100_000)
    a, b, created, _ = await chat_pair(relay_url(relay), settings=FAST)
    async with closing(a.client, b.client):
        sid = created.session_id
        # Alice's ratchet can send once she has heard from Bob (docs/protocol.md §10); before
        # that her texts wait inside the session, not in the client's offline queue.
        await b.client.send_message(sid, "warm-up")
        await a.wait(MessageReceived)
        await a.client.disconnect()
        await b.wait(PeerLeft, lambda e: e.reason == "disconnected")
        # More than the old 500-frame offline queue held: the session's ledger keeps them all
        # (its bound is MAX_TRACKED_MESSAGES), and send_message never waits for the network.
        count = 600
        assert count < MAX_TRACKED_MESSAGES
        sent = [await a.client.send_message(sid, f"offline {n}") for n in range(count)]
        assert not any(e.status is DeliveryStatus.FAILED for e in a.of(StatusChanged))
        await a.client.connect()
        kept = [m.message_id for m in sent]
        await a.until(lambda ev: all_reach(a, kept, DeliveryStatus.DELIVERED), timeout=60)
        marker = await a.client.send_message(sid, "marker")
        await b.wait(MessageReceived, lambda e: e.message.message_id == marker.message_id)
        texts = [e.message.text for e in b.of(MessageReceived) if e.message.text != "marker"]
        assert sorted(texts) == sorted(f"offline {n}" for n in range(count))


async def test_client_away_past_buffer_ttl_gets_its_messages(start_relay: StartRelay) -> None:
    relay = await start_relay(buffer_ttl_s=1.0)
    a, b, created, joined = await chat_pair(relay_url(relay), settings=FAST)
    async with closing(a.client, b.client):
        sid = created.session_id
        await b.client.disconnect()
        await a.wait(PeerLeft, lambda e: e.reason == "disconnected")
        to_b = [await a.client.send_message(sid, f"while away {n}") for n in range(3)]
        from_b = await b.client.send_message(joined.session_id, "written offline")
        await a.wait(PeerLeft, lambda e: e.reason == "expired")  # the buffer TTL passed
        await b.client.connect()
        ids = [m.message_id for m in to_b]
        await b.until(lambda ev: len(b.of(MessageReceived)) >= 3)
        await a.until(lambda ev: all_reach(a, ids, DeliveryStatus.DELIVERED))
        await b.until(lambda ev: all_reach(b, [from_b.message_id], DeliveryStatus.DELIVERED))
        assert sorted(e.message.text for e in b.of(MessageReceived)) == [
            f"while away {n}" for n in range(3)
        ]
