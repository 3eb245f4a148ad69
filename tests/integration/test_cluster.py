"""Cluster mode against a real redis-server: members, calls and buffers across relay nodes.

Two (or three) relay nodes on loopback share one private Redis (the ``redis_server`` fixture:
persistence off, a temporary directory). Clients are real :class:`AsyncQuickoClient`\\ s, each
dialling one node; every wait is on events or Redis state, with a bound.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import redis.asyncio as aioredis
from client_support import FAST, Watcher, closing
from relay_support import relay_url

from quicko.client import (
    AsyncQuickoClient,
    DeliveryStatus,
    MessageReceived,
    SessionReady,
    StatusChanged,
)
from quicko.relay.cluster import ClusterLink, ClusterState
from quicko.relay.config import RelayConfig
from quicko.relay.server import RelayServer

pytestmark = pytest.mark.integration

StartNode = Callable[..., Awaitable[RelayServer]]


@pytest.fixture
async def start_node(redis_server: str) -> AsyncIterator[StartNode]:
    """Start in-process cluster nodes on 127.0.0.1:0 sharing ``redis_server``."""
    servers: list[RelayServer] = []

    async def start(node_id: str, **settings: object) -> RelayServer:
        config = RelayConfig(**{"host": "127.0.0.1", "port": 0, "node_id": node_id, **settings})  # type: ignore[arg-type]
        link = ClusterLink(ClusterState(config, node_id), redis_server, config)
        server = RelayServer(config, cluster=link)
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.shutdown(grace_s=1.0)


async def until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait until ``check()`` holds (polling the event loop), or fail."""
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.01)


def mirror(node: RelayServer) -> ClusterState:
    """A node's cluster mirror."""
    assert node._cluster is not None
    return node._cluster.state


async def replicated(node: RelayServer, invite_code: str) -> None:
    """Wait until *node*'s mirror knows the invite code's nameplate (one publish away).

    A code typed by a person arrives seconds after it was claimed; a test types at once.
    """
    await until(lambda: mirror(node).sessions.by_nameplate(invite_code[:4]) is not None)


def status_is(message_id: str, status: DeliveryStatus) -> Callable[[StatusChanged], bool]:
    return lambda e: e.message_id == message_id and e.status == status


async def test_chat_across_nodes(start_node: StartNode) -> None:
    node_a = await start_node("node-a")
    node_b = await start_node("node-b")
    alice = AsyncQuickoClient(relay_url(node_a), settings=FAST)
    bob = AsyncQuickoClient(relay_url(node_b), settings=FAST)
    async with closing(alice, bob):
        await alice.connect()
        await bob.connect()
        created = await alice.create_session()
        assert created.invite_code is not None
        await replicated(node_b, created.invite_code)
        joined = await bob.join_session(created.invite_code)  # the lobby, across nodes
        a, b = Watcher(alice, "alice"), Watcher(bob, "bob")
        await a.wait(SessionReady)
        await b.wait(SessionReady)
        assert created.session_id == joined.session_id
        sid = created.session_id
        sent = await alice.send_message(sid, "hello bob")
        got = await b.wait(MessageReceived)
        assert got.message.text == "hello bob"
        mid = sent.message_id.hex()
        await a.wait(StatusChanged, status_is(mid, DeliveryStatus.DELIVERED))
        await bob.mark_read(sid, [mid])
        await a.wait(StatusChanged, status_is(mid, DeliveryStatus.READ))
        reply = await bob.send_message(sid, "hi alice")
        assert (await a.wait(MessageReceived)).message.text == "hi alice"
        await b.wait(StatusChanged, status_is(reply.message_id.hex(), DeliveryStatus.DELIVERED))
    cluster_a = node_a._cluster
    assert cluster_a is not None and cluster_a.stats.frames_out > 0
