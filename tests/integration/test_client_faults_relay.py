"""Delivery through the public client API when the relay itself fails, or its other users do.

- A relay killed with SIGKILL mid-conversation (a real ``python -m quicko relay`` process),
  restarted on the same port: the clients notice, reconnect by themselves and re-join, and
  everything either side sent before, during and after the outage arrives exactly once, every
  sender status ending DELIVERED (issue 10, "How it is checked").
- A thousand clients dropping at once beside a chatting pair (issue 10 item 2): frames are queued
  for them when they go, so the relay's flush writes to sockets that are already closed; the
  pair, two :class:`~quicko.client.AsyncQuickoClient`, keeps its connections (no Disconnected)
  and gets everything exactly once. The relay-level regression test of the same fault is
  ``test_relay_flush.py``; the droppers here are light authenticated picows connections
  (``quicko.bench.client``, the load generator's).

Counting is at the application, as in ``test_client_faults.py`` (``fault_support.Pair``). Waits
are on events with generous bounds; nothing sleeps to synchronise.
"""

from __future__ import annotations

import contextlib
import secrets
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from client_helpers import stop_relay
from client_support import chat_pair, closing
from fault_support import FAULTY, Pair, both_disconnected, disconnects
from relay_support import RelayProcess, StartRelay, relay_url, spawn_relay

from quicko.bench.client import DRAIN, BenchClient, authenticate, bounded_map, connect, join
from quicko.client import Connected, ConnectionSettings
from quicko.crypto.ed25519 import Ed25519KeyPair
from quicko.identity import Identity
from quicko.protocol import MAX_MEMBERS, Message, encode_frame

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


# ---------------------------------------------------------------- relay SIGKILL


def free_fixed_port() -> int:
    """A free loopback port below the ephemeral range.

    The relay must come back on the same port after its SIGKILL. A port from the ephemeral
    range could meanwhile be taken as the local end of the clients' own reconnect attempts
    (even a TCP self-connect to it), so the port is picked where the kernel never picks one.
    """
    with open("/proc/sys/net/ipv4/ip_local_port_range") as ports:
        low = int(ports.read().split()[0])
    first = 10_000 if low > 11_000 else 1_024  # unprivileged, and a choice of a thousand or more
    for _ in range(200):
        port = first + secrets.randbelow(max(1, low - first))
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError("no free loopback port below the ephemeral range")


@contextlib.asynccontextmanager
async def relay_on(port: int) -> AsyncIterator[RelayProcess]:
    """``python -m quicko relay`` on 127.0.0.1:``port``; SIGKILLed (if alive) when done."""
    relay = await spawn_relay(["--port", str(port), "--ack-timeout", "2"])
    try:
        yield relay
    finally:
        await stop_relay(relay)


async def test_a_relay_sigkilled_mid_conversation_loses_nothing() -> None:
    port = free_fixed_port()
    async with relay_on(port) as first:
        a, b, created, _ = await chat_pair(f"ws://127.0.0.1:{port}", settings=FAULTY)
        async with closing(a.client, b.client):
            chat = Pair(a, b, created.session_id)
            await chat.send("a", "before", 5)
            await chat.send("b", "before", 5)
            await chat.settle()
            # Mid-conversation: the relay dies without a word while some of these are still in
            # its hands (accepted, not yet delivered or acknowledged) or on their way to it;
            # more are written into the dying sockets.
            await chat.send("a", "racing the kill", 10)
            await chat.send("b", "racing the kill", 10)
            await stop_relay(first)  # SIGKILL: no goodbye, every buffer gone
            await chat.send("a", "as it dies", 5)
            await chat.send("b", "as it dies", 5)
            await both_disconnected(chat)
            await chat.send("a", "during the outage", 10)
            await chat.send("b", "during the outage", 10)
            connected = (len(a.of(Connected)), len(b.of(Connected)))
            async with relay_on(port):  # the same port: the clients come back by themselves
                await a.until(lambda _: len(a.of(Connected)) > connected[0])
                await b.until(lambda _: len(b.of(Connected)) > connected[1])
                await chat.send("a", "after", 5)
                await chat.send("b", "after", 5)
                await chat.settle()
                chat.check()


# ---------------------------------------------------------------- a thousand clients dropping

DROPPERS = 1_000
#: Each group: one session of MAX_MEMBERS droppers, one of whom broadcasts as they all go.
GROUP = MAX_MEMBERS
#: How long the pair may take to get everything after the wave (generous: nothing freezes).
WAVE_BOUND_S = 30.0

#: The pair notices a dead link in its production timings (probe 3 s, Pong 5 s), not the
#: fault tests' short ones: a pair whose link froze would be seen reconnecting, and one that
#: did not must never be disconnected by a loop busy with a thousand closes. Each client paces
#: its frames one every 10 ms, so that the pair's frames keep arriving while the relay handles
#: the wave and share its flush batches with the dead connections (with the per-connection
#: flush reverted, this test fails: both links freeze and are replaced).
PAIR = ConnectionSettings(
    backoff_initial=0.05, backoff_maximum=0.5, close_timeout=0.5, send_rate=100.0, send_burst=1
)


@dataclass
class Group:
    """One session of droppers, and the frame its first member broadcasts as they all go."""

    members: list[BenchClient]
    shout: bytes


async def open_droppers(url: str, count: int) -> list[Group]:
    """``count`` authenticated connections, joined in sessions of ``GROUP``."""
    identities = [Identity.generate(secrets.token_bytes) for _ in range(count)]
    sessions = [(secrets.token_bytes(16), Ed25519KeyPair.generate(secrets.token_bytes))
                for _ in range(0, count, GROUP)]  # fmt: skip

    async def open_one(index: int) -> BenchClient:
        client = BenchClient()
        await connect(url, client, 20.0)
        await authenticate(client, identities[index], 20.0, relay_url=url)
        session_id, key = sessions[index // GROUP]
        await join(client, identities[index], session_id, key, 20.0)
        client.start(DRAIN)  # from now on frames are counted and dropped
        return client

    clients = await bounded_map(open_one, range(count), 32)
    groups = []
    for number, (session_id, _) in enumerate(sessions):
        first = number * GROUP
        shout = Message(session_id, identities[first].address, b"", secrets.token_bytes(16), 0,
                        b"x")  # fmt: skip
        groups.append(Group(clients[first : first + GROUP], encode_frame(shout)))
    return groups


def drop_at_once(groups: list[Group]) -> None:
    """In one go, without yielding to the loop: each group's broadcast, then every socket reset.

    The relay reads the broadcasts and the resets in the same turns of its loop, so it queues
    frames (the broadcasts, then PeerLefts) for connections that are already gone.
    """
    for group in groups:
        group.members[0].send(group.shout)
    for group in groups:
        for client in group.members:
            assert client.transport is not None
            client.transport.underlying_transport.abort()


async def test_a_thousand_clients_dropping_at_once_never_disturb_a_chatting_pair(
    start_relay: StartRelay,
) -> None:
    relay = await start_relay(
        rate=1e6, burst=1_000_000, source_rate=1e7, source_burst=10_000_000,
        max_connections_per_ip=10_000, connect_rate=1e6, max_sessions_per_source=10_000,
    )  # fmt: skip
    url = relay_url(relay)
    a, b, created, _ = await chat_pair(url, settings=PAIR)
    async with closing(a.client, b.client):
        chat = Pair(a, b, created.session_id)
        await chat.send("a", "before", 5)
        await chat.send("b", "before", 5)
        await chat.settle()
        groups = await open_droppers(url, DROPPERS)
        assert relay.connections == DROPPERS + 2
        marks = (disconnects(a), disconnects(b))
        await chat.send("a", "beside the wave", 50)  # posted: written as the wave hits
        await chat.send("b", "beside the wave", 50)
        drop_at_once(groups)
        await chat.send("a", "after the wave", 10)
        await chat.send("b", "after the wave", 10)
        await chat.settle(WAVE_BOUND_S)
        chat.check()
        # Nobody else's failure touched the pair: neither of its links went down.
        assert (disconnects(a), disconnects(b)) == marks
        assert relay.io.internal_errors == 0
