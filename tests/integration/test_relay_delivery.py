"""Hop-by-hop delivery and flow control against a real relay on loopback (issue 10, issue 9).

- a path change: frames written into a connection that went silent come again, in order, on
  the connection that replaces it;
- a stall whose backlog arrives in one burst is slowed down (reads paused), never dropped;
- a flooder that reconnects finds its address's debt where it left it;
- a reader that stops reading is not disconnected by another member's burst: its frames wait
  in its away buffer (or the sender hears BUFFER_FULL) and arrive when it reads again.

The clients are the raw test client (the real client's Received comes later). Every wait is
on a frame or a counter, bounded; nothing sleeps to synchronise.
"""

from __future__ import annotations

import secrets
import time
from typing import TypeVar

from relay_support import RelayClient, StartRelay, join_key, relay_url

from quicko.protocol import (
    Ack,
    AckStatus,
    Error,
    ErrorCode,
    HelloAck,
    Joined,
    Message,
    Payload,
    PeerJoined,
    Ping,
    Pong,
    Received,
    encode_frame,
)
from quicko.relay.server import RelayServer

P = TypeVar("P")

#: Bound on every loop that waits for a counter of the relay to move.
LOOP_BOUND_S = 20.0


def _since_hello_ack(client: RelayClient) -> int:
    """Frames this client received after its HelloAck (what it acknowledges with Received)."""
    received = client.received
    last = max(i for i, p in enumerate(received) if isinstance(p, HelloAck))
    return len(received) - last - 1


async def _session(relay: RelayServer, count: int) -> tuple[bytes, list[RelayClient]]:
    """*count* clients in one new session, every Joined and PeerJoined read."""
    url, session, key = relay_url(relay), secrets.token_bytes(16), join_key()
    clients: list[RelayClient] = []
    for n in range(count):
        client = await RelayClient.connect(url)
        await client.send(client.join(session, key))
        await client.expect(Joined)
        clients.append(client)
        for earlier in clients[:n]:
            await earlier.expect(PeerJoined)
    return session, clients


def _message(session: bytes, sender: RelayClient, to: bytes, n: int, body: bytes) -> Message:
    return Message(session, sender.address, to, n.to_bytes(16, "big"), 0, body)


def _write_at_once(client: RelayClient, payloads: list[Payload]) -> None:
    """Write *payloads* as WebSocket messages in one go, without yielding to the event loop.

    The relay (in this process, on this loop) then finds them all in one read, as it would a
    backlog that a stalled network releases at once.
    """
    for payload in payloads:
        client.ws.protocol.send_binary(encode_frame(payload))
    client.ws.send_data()


async def _until(client: RelayClient, kind: type[P]) -> P:
    """The next frame of *kind*, skipping others (bounded by the client's receive timeout)."""
    while True:
        payload = await client.recv()
        if isinstance(payload, kind):
            return payload


async def test_a_path_change_redelivers_what_the_silent_connection_never_acknowledged(
    start_relay: StartRelay,
) -> None:
    relay = await start_relay()
    session, (alice, bob) = await _session(relay, 2)
    first = [_message(session, alice, bob.address, n, b"before") for n in range(10)]
    for message in first:
        await alice.send(message)
        assert (await alice.expect(Ack)).status == AckStatus.ACCEPTED
        assert await bob.expect(Message) == message
    await bob.send(Received(_since_hello_ack(bob)))  # bob has these: never sent again
    # The old path dies silently: bob stops reading, its socket stays open, nothing is closed.
    bob.ws.transport.pause_reading()
    lost = [_message(session, alice, bob.address, n, b"after") for n in range(10, 50)]
    for message in lost:
        await alice.send(message)
        assert (await alice.expect(Ack)).status == AckStatus.ACCEPTED  # written to the old one
    # bob's client notices and connects again (a new Hello for the same address replaces it).
    bob2 = await RelayClient.connect(relay_url(relay), bob.identity)
    assert bob2.hello_ack is not None and bob2.hello_ack.buffered == len(lost)
    assert [await bob2.expect(Message) for _ in lost] == lost  # every one, exactly in order
    newer = _message(session, alice, bob.address, 99, b"new path")
    await alice.send(newer)
    assert await _until(bob2, Message) == newer
    assert relay.router.metrics.requeued == len(lost)


async def test_a_stalled_backlog_arriving_in_one_burst_is_slowed_not_dropped(
    start_relay: StartRelay,
) -> None:
    relay = await start_relay()  # the default limits: 30 frames/s, burst 60 per address
    session, (alice, bob) = await _session(relay, 2)
    backlog = [_message(session, alice, bob.address, n, b"x" * 100) for n in range(150)]
    _write_at_once(alice, list(backlog))  # as a stalled TCP flow releases them
    got = [await bob.expect(Message) for _ in backlog]
    assert got == backlog
    acks = [await alice.expect(Ack) for _ in backlog]
    assert {ack.status for ack in acks} == {AckStatus.ACCEPTED}
    metrics = relay.router.metrics
    assert metrics.rate_limited == 0 and ErrorCode.RATE_LIMITED not in metrics.rejections
    assert metrics.reads_paused > 0  # it was over its rate: slowed down instead
    await alice.send(Ping(7))  # and it is served again once its debt is repaid
    assert (await alice.expect(Pong, timeout=10)).nonce == 7


async def test_a_flooder_that_reconnects_gets_no_fresh_burst(start_relay: StartRelay) -> None:
    # One frame per 10 s and a burst of 5 per address: a debt lasts long enough to be seen.
    relay = await start_relay(rate=0.1, burst=5)
    url = relay_url(relay)
    metrics = relay.router.metrics
    flooder = await RelayClient.connect(url)
    _write_at_once(flooder, [Ping(n) for n in range(6)])  # the burst, and one over it
    assert [(await flooder.expect(Pong)).nonce for _ in range(6)] == list(range(6))
    assert metrics.reads_paused == 1  # the sixth was served, and its reads paused
    for attempt in range(3):  # each time a new connection, a new Hello: the same address
        flooder.ws.transport.abort()
        flooder = await RelayClient.connect(url, flooder.identity)
        await flooder.send(Ping(100 + attempt))
        assert (await flooder.expect(Pong)).nonce == 100 + attempt
        assert metrics.reads_paused == 2 + attempt  # over the rate at once: no fresh burst
    bystander = await RelayClient.connect(url)  # another address of the same source is not
    _write_at_once(bystander, [Ping(n) for n in range(5)])
    assert [(await bystander.expect(Pong)).nonce for _ in range(5)] == list(range(5))
    assert metrics.reads_paused == 4 and metrics.rate_limited == 0


async def test_a_slow_reader_is_not_disconnected_by_another_members_burst(
    start_relay: StartRelay,
) -> None:
    relay = await start_relay(send_queue_bytes=256 * 1024, rate=1e6, burst=1_000_000)
    session, (alice, bob, carol) = await _session(relay, 3)
    bob.ws.transport.pause_reading()  # bob's link is slow: it stops reading for a while
    body = bytes(16 * 1024)
    sent: list[Message] = []
    refused: set[bytes] = set()
    deadline = time.monotonic() + LOOP_BOUND_S
    extra = 0
    while extra < 100 and len(sent) < 20_000 and time.monotonic() < deadline:
        message = _message(session, alice, b"", len(sent), body)
        await alice.send(message)
        sent.append(message)
        while True:  # the relay's answer: an Ack, perhaps after BUFFER_FULL for bob's copy
            answer = await alice.recv()
            if isinstance(answer, Error):
                assert answer.code == ErrorCode.BUFFER_FULL
                refused.add(answer.ref_id)
            elif isinstance(answer, Ack):
                break
        if relay.router.metrics.writes_blocked:
            extra += 1  # keep going past the point where bob's socket is full
    assert relay.router.metrics.writes_blocked == 1
    assert refused  # bob's away buffer filled up: the sender was told, bob was not dropped
    assert relay.io.slow_disconnects == 0
    received = [await carol.expect(Message) for _ in sent]  # carol got all, in spite of bob
    assert received == sent
    await carol.send(Ping(1))
    assert (await carol.expect(Pong)).nonce == 1
    bob.ws.transport.resume_reading()  # bob reads again: what was held comes after the rest
    expected = [m for m in sent if m.message_id not in refused]
    got = [await bob.expect(Message, timeout=10) for _ in expected]
    assert got == expected
    await bob.send(Ping(2))
    assert (await _until(bob, Pong)).nonce == 2  # still connected, never disconnected
