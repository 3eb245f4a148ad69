"""Cluster mode behind a real load balancer: HAProxy (Debian's package) in front of two nodes.

Clients dial HAProxy's URL (every node's ``--public-url``); HAProxy spreads them over two relay
node processes sharing one private Redis. The node Alice is on is SIGKILLed: her client
reconnects by itself through HAProxy, which sends it to the live node, and the chat goes on with
every message delivered exactly once.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator

import pytest
import redis.asyncio as aioredis
from client_support import FAST, Watcher, closing
from cluster_support import HAProxy, RedisProcess, texts
from relay_support import RelayProcess, spawn_relay

from quicko.client import AsyncQuickoClient, MessageReceived, SessionReady
from quicko.errors import SessionError

pytestmark = pytest.mark.integration


@pytest.fixture
def redis_proc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisProcess]:
    """A private redis-server (skipped only if none is installed)."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (scripts/system-deps.sh --tests installs it)")
    server = RedisProcess(binary, tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.close()


@pytest.fixture
def haproxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HAProxy]:
    """An HAProxy not started yet (skipped only if none is installed)."""
    binary = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin")
    if binary is None:
        pytest.skip("haproxy is not installed (scripts/system-deps.sh --tests installs it)")
    proxy = HAProxy(binary, tmp_path_factory.mktemp("haproxy"))
    yield proxy
    proxy.close()


async def until_joined(client: AsyncQuickoClient, code: str) -> None:
    """Join by *code*, again while the other node's mirror has not heard of it (bounded).

    The nodes run in other processes, so the test cannot wait on their mirrors; a person
    types a code seconds after it was made, long after the one publish it takes.
    """
    for _ in range(20):
        try:
            await client.join_session(code)
            return
        except SessionError:
            await asyncio.sleep(0.05)
    raise AssertionError("the invite code never reached the other node")


async def test_node_killed_behind_haproxy(redis_proc: RedisProcess, haproxy: HAProxy) -> None:
    nodes: list[RelayProcess] = []
    store = aioredis.from_url(redis_proc.url)
    try:
        for name in ("n0", "n1"):
            nodes.append(
                await spawn_relay(
                    ["--redis", redis_proc.url, "--node-id", name, "--public-url", haproxy.url]
                )
            )
        haproxy.start([node.port for node in nodes])
        alice = AsyncQuickoClient(haproxy.url, settings=FAST)
        bob = AsyncQuickoClient(haproxy.url, settings=FAST)
        async with closing(alice, bob):
            await alice.connect()
            await bob.connect()
            created = await alice.create_session()
            assert created.invite_code is not None
            await until_joined(bob, created.invite_code)
            a, b = Watcher(alice, "alice"), Watcher(bob, "bob")
            await a.wait(SessionReady)
            await b.wait(SessionReady)
            sid = created.session_id
            for i in range(3):
                await alice.send_message(sid, f"a{i}")
                await bob.send_message(sid, f"b{i}")
            await b.until(lambda ev: texts(ev) >= {"a0", "a1", "a2"})
            await a.until(lambda ev: texts(ev) >= {"b0", "b1", "b2"})
            holder = await store.get(f"q:p:{alice._core.identity.address.hex()}")
            assert holder in (b"n0", b"n1")
            doomed = nodes[int(holder == b"n1")]
            await alice.send_message(sid, "a3")  # perhaps in flight when the node dies
            doomed.process.kill()
            await doomed.process.wait()
            await bob.send_message(sid, "b3")
            await alice.send_message(sid, "a4")  # queued until she is back, through HAProxy
            want_b = {f"a{i}" for i in range(5)}
            want_a = {f"b{i}" for i in range(4)}
            await b.until(lambda ev: texts(ev) >= want_b, timeout=30)
            await a.until(lambda ev: texts(ev) >= want_a, timeout=30)
            for watcher, want in ((a, want_a), (b, want_b)):
                got = [e.message.text for e in watcher.of(MessageReceived)]
                assert sorted(got) == sorted(want), got  # every message exactly once
            assert await store.get(f"q:p:{alice._core.identity.address.hex()}") != holder
    finally:
        for node in nodes:
            if node.process.returncode is None:
                node.process.kill()
                await node.process.wait()
        await store.aclose()
