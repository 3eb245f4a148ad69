"""Cluster mode against a real redis-server: members, calls and buffers across relay nodes.

Two (or three) relay nodes on loopback share one private Redis (the ``redis_server`` fixture:
persistence off, a temporary directory). Clients are real :class:`AsyncQuickoClient`\\ s, each
dialling one node; every wait is on events or Redis state, with a bound.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import redis.asyncio as aioredis
from client_support import FAST, Watcher, closing
from cluster_support import mirror, replicated, texts, until
from relay_support import http_get, relay_url, spawn_relay

from quicko.client import (
    AsyncQuickoClient,
    CallEnded,
    DeliveryStatus,
    IncomingCall,
    MessageReceived,
    SessionReady,
    StatusChanged,
)
from quicko.errors import CallCancelledError, SessionError
from quicko.relay.cluster import ClusterError, ClusterLink, ClusterState, check_persistence
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


async def move(client: AsyncQuickoClient, url: str) -> None:
    """Reconnect *client* to another node (its sessions stay; they are re-joined there).

    The client dials one URL (``AsyncQuickoClient(relay_url)`` takes no list): the test
    re-points it, as a load balancer in front of the nodes would.
    """
    await client.disconnect()
    client._url = url
    await client.connect()


async def test_call_and_directory_lookup_across_nodes(start_node: StartNode) -> None:
    node_a = await start_node("node-a")
    node_b = await start_node("node-b")
    bob = AsyncQuickoClient(relay_url(node_a), settings=FAST)
    alice = AsyncQuickoClient(relay_url(node_b), settings=FAST)
    async with closing(alice, bob):
        await bob.connect()
        await bob.generate_quickokey()
        await bob.register_key()
        await alice.connect()
        quickokey = bob.identity_info.quickokey
        await until(lambda: len(mirror(node_b).directory) == 1)
        found = await alice.lookup_key(quickokey)  # answered by node B from its mirror
        assert found.found and found.online
        b, a = Watcher(bob, "bob"), Watcher(alice, "alice")
        dialling = asyncio.create_task(alice.call(quickokey, timeout=10))
        ring = await b.wait(IncomingCall)
        answered = await bob.answer_call(ring.call_id, accept=True)
        placed = await dialling
        assert answered is not None and placed.session_id == answered.session_id
        await a.wait(SessionReady)
        await alice.send_message(placed.session_id, "calling across nodes")
        assert (await b.wait(MessageReceived)).message.text == "calling across nodes"
        await until(lambda: len(mirror(node_a).calls) == 0 and len(mirror(node_b).calls) == 0)


async def test_away_recipient_gets_buffer_on_another_node(start_node: StartNode) -> None:
    node_a = await start_node("node-a")
    node_b = await start_node("node-b")
    alice = AsyncQuickoClient(relay_url(node_b), settings=FAST)
    bob = AsyncQuickoClient(relay_url(node_a), settings=FAST)
    async with closing(alice, bob):
        await alice.connect()
        await bob.connect()
        created = await alice.create_session()
        assert created.invite_code is not None
        await replicated(node_a, created.invite_code)
        await bob.join_session(created.invite_code)
        a, b = Watcher(alice, "alice"), Watcher(bob, "bob")
        await a.wait(SessionReady)
        await b.wait(SessionReady)
        sid = created.session_id
        await bob.disconnect()  # away: node A held him
        await until(lambda: mirror(node_b).connections.bound_count == 1)
        await until(lambda: len(mirror(node_a).connections.holders()) == 1)
        texts = [f"while you were away {i}" for i in range(3)]
        for text in texts:
            await alice.send_message(sid, text)
        await until(lambda: len(mirror(node_a).buffer) >= 3 and len(mirror(node_b).buffer) >= 3)
        await move(bob, relay_url(node_b))  # back, on the other node
        b.events.clear()
        await b.until(
            lambda events: (
                {e.message.text for e in events if isinstance(e, MessageReceived)} >= set(texts)
            )
        )
        got = [e.message.text for e in b.of(MessageReceived)]
        assert sorted(got) == sorted(texts)  # each once
        await until(lambda: len(mirror(node_a).buffer) == 0 and len(mirror(node_b).buffer) == 0)


async def test_refuses_a_persisting_redis(redis_server: str) -> None:
    client = aioredis.from_url(redis_server)
    try:
        await client.config_set("appendonly", "yes")
        config = RelayConfig(host="127.0.0.1", port=0, node_id="persist")
        server = RelayServer(
            config, cluster=ClusterLink(ClusterState(config, "p"), redis_server, config)
        )
        with pytest.raises(ClusterError, match="persists to disk"):
            await server.start()
        allowed = ClusterLink(
            ClusterState(config, "p2"), redis_server, config, allow_persistence=True
        )
        server = RelayServer(config, cluster=allowed)
        await server.start()
        await server.shutdown(grace_s=0.5)
        await client.config_set("appendonly", "no")
        await client.config_set("save", "3600 1")
        with pytest.raises(ClusterError, match="RDB"):
            await check_persistence(client, allow=False)
        await client.config_set("save", "")
    finally:
        await client.aclose()


async def test_redis_sees_no_plaintext(start_node: StartNode, redis_server: str) -> None:
    monitor_client = aioredis.from_url(redis_server)
    captured: list[bytes] = []
    async with monitor_client.monitor() as monitor:

        async def record() -> None:
            async for command in monitor.listen():
                captured.append(str(command.get("command", "")).encode())

        recorder = asyncio.create_task(record())
        node_a = await start_node("node-a")
        node_b = await start_node("node-b")
        a_client, b_client = await _pair(node_a, node_b)
        async with closing(a_client.client, b_client.client):
            sid = a_client.client.sessions()[0].session_id
            secret = "the eagle lands at midnight 7f3a"
            await b_client.client.disconnect()  # so the message is also buffered in Redis
            await until(lambda: mirror(node_b).connections.bound_count == 0)
            await a_client.client.send_message(sid, secret)
            await until(lambda: len(mirror(node_a).buffer) >= 1)
            await move(b_client.client, relay_url(node_b))
            assert (
                await b_client.wait(MessageReceived, lambda e: e.message.text == secret)
            ).message.text == secret
            await until(
                lambda: any(b"RPUSH" in line or b"rpush" in line.lower() for line in captured)
            )
        recorder.cancel()
    await monitor_client.aclose()
    joined = b"\n".join(captured)
    assert b"PUBLISH" in joined.upper() and b"q:b:" in joined
    assert secret.encode() not in joined
    assert b"eagle" not in joined


async def _pair(node_a: RelayServer, node_b: RelayServer) -> tuple[Watcher, Watcher]:
    alice = AsyncQuickoClient(relay_url(node_a), settings=FAST)
    bob = AsyncQuickoClient(relay_url(node_b), settings=FAST)
    await alice.connect()
    await bob.connect()
    created = await alice.create_session()
    assert created.invite_code is not None
    await replicated(node_b, created.invite_code)
    await bob.join_session(created.invite_code)
    a, b = Watcher(alice, "alice"), Watcher(bob, "bob")
    await a.wait(SessionReady)
    await b.wait(SessionReady)
    return a, b


async def test_node_killed_mid_conversation(start_node: StartNode, redis_server: str) -> None:
    """SIGKILL the node Alice is on; she reconnects to the other; nothing is lost or doubled."""
    killed = await spawn_relay(["--redis", redis_server, "--node-id", "doomed"])
    survivor = await start_node("survivor")
    url_killed = f"ws://127.0.0.1:{killed.port}/ws"
    alice = AsyncQuickoClient(url_killed, settings=FAST)
    bob = AsyncQuickoClient(relay_url(survivor), settings=FAST)
    try:
        async with closing(alice, bob):
            await alice.connect()
            await bob.connect()
            created = await alice.create_session()
            assert created.invite_code is not None
            await replicated(survivor, created.invite_code)
            await bob.join_session(created.invite_code)
            a, b = Watcher(alice, "alice"), Watcher(bob, "bob")
            await a.wait(SessionReady)
            await b.wait(SessionReady)
            sid = created.session_id
            for i in range(3):
                await alice.send_message(sid, f"a{i}")
                await bob.send_message(sid, f"b{i}")
            await b.until(lambda ev: texts(ev) >= {"a0", "a1", "a2"})
            await a.until(lambda ev: texts(ev) >= {"b0", "b1", "b2"})
            await alice.send_message(sid, "a3")  # in flight when the node dies
            killed.process.kill()
            await killed.process.wait()
            await bob.send_message(sid, "b3")  # to a node that is gone
            await move(alice, relay_url(survivor))
            await alice.send_message(sid, "a4")
            await bob.send_message(sid, "b4")
            want_b = {f"a{i}" for i in range(5)}
            want_a = {f"b{i}" for i in range(5)}
            await b.until(lambda ev: texts(ev) >= want_b, timeout=30)
            await a.until(lambda ev: texts(ev) >= want_a, timeout=30)
            for watcher, want in ((a, want_a), (b, want_b)):
                got = [e.message.text for e in watcher.of(MessageReceived)]
                assert sorted(got) == sorted(want), got  # every message exactly once
    finally:
        if killed.process.returncode is None:
            killed.process.kill()
            await killed.process.wait()


async def test_workers_need_redis() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "quicko", "relay", "--port", "0", "--workers", "2",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode == 2
    assert b"--workers above 1 needs --redis" in err


def _alive(pid: int) -> bool:
    """Whether *pid* runs (a zombie waiting for its new parent to reap it counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
async def test_workers_stop_when_their_parent_is_killed(redis_server: str) -> None:
    # A SIGKILLed parent cannot pass the signal on: the kernel's parent-death signal must stop
    # the workers, or they keep the port and serve on as orphans.
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "quicko", "relay", "--host", "127.0.0.1", "--port", "0",
        "--redis", redis_server, "--workers", "2",
        stdin=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stderr is not None
    try:
        listening = 0
        async with asyncio.timeout(30):
            while listening < 2:
                line = await process.stderr.readline()
                assert line, "a worker exited before listening"
                listening += b'"listening"' in line
        children_file = f"/proc/{process.pid}/task/{process.pid}/children"
        with open(children_file) as children:
            workers = [int(pid) for pid in children.read().split()]
        assert len(workers) == 2
        process.kill()
        await process.wait()
        async with asyncio.timeout(20):
            while any(_alive(pid) for pid in workers):
                await asyncio.sleep(0.05)
            # The workers held the stderr pipe too: read it to its end, so that its transport
            # is closed before the test's loop is (else the loop's close can race the EOF).
            await process.stderr.read()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_health_reports_redis(start_node: StartNode) -> None:
    node = await start_node("node-h")
    status, _, body = await http_get(node.port, "/health")
    assert status == 200 and b'"redis": "connected"' in body
    status, _, metrics = await http_get(node.port, "/metrics")
    assert b"quicko_relay_cluster_redis_connected 1.0" in metrics


async def test_call_cancel_and_timeout_across_nodes(start_node: StartNode) -> None:
    # The caller's node owns the pending call; the callee's node only mirrors it. A cancel is
    # forwarded to the callee's node like an answer, and the caller's node sends the deadline's
    # TIMEOUT to both parties (no cluster change was needed: both go through stand-ins).
    node_a = await start_node("node-a", call_timeout_s=1.0)
    node_b = await start_node("node-b", call_timeout_s=1.0)
    bob = AsyncQuickoClient(relay_url(node_a), settings=FAST)
    alice = AsyncQuickoClient(relay_url(node_b), settings=FAST)
    async with closing(alice, bob):
        await bob.connect()
        await bob.generate_quickokey()
        await bob.register_key()
        await alice.connect()
        quickokey = bob.identity_info.quickokey
        await until(lambda: len(mirror(node_b).directory) == 1)
        b = Watcher(bob, "bob")
        dialling = asyncio.create_task(alice.call(quickokey, timeout=10))
        ring = await b.wait(IncomingCall)
        await until(lambda: len(mirror(node_a).calls) == 1)
        await alice.cancel_call(ring.call_id)
        with pytest.raises(CallCancelledError):
            await dialling
        assert (await b.wait(CallEnded)) == CallEnded(ring.call_id, "cancelled")
        await until(lambda: len(mirror(node_a).calls) == 0 and len(mirror(node_b).calls) == 0)
        dialling = asyncio.create_task(alice.call(quickokey, timeout=10))
        second = await b.wait(IncomingCall, lambda e: e.call_id != ring.call_id)
        with pytest.raises(SessionError, match="did not answer"):
            await dialling
        assert (await b.wait(CallEnded, lambda e: e.call_id == second.call_id)).reason == "timeout"
