"""Cluster mode when Redis restarts empty, and when two nodes claim one nameplate at once.

Nodes run in this process against a private redis-server (:class:`RedisProcess`) that a test
SIGKILLs and starts again, empty, on the same port. Clients are real: :class:`AsyncQuickoClient`
for the chat, :class:`RelayClient` where a test needs exact frames. Every wait has a bound.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest
import redis.asyncio as aioredis
from client_support import FAST, Watcher, closing
from cluster_support import RedisProcess, mirror, replicated, texts, until
from relay_support import RelayClient, http_get, join_key, register_key, relay_url, spawn_relay

from quicko.client import AsyncQuickoClient, MessageReceived, SessionReady
from quicko.client.connection import Connection
from quicko.identity import Identity
from quicko.protocol import (
    CallPeer,
    CallResponse,
    CallStatus,
    Error,
    ErrorCode,
    Joined,
    Leave,
    LookupKey,
    LookupResponse,
    MessageType,
    RegisterAck,
)
from quicko.relay.cluster import ClusterLink, ClusterState
from quicko.relay.config import RelayConfig
from quicko.relay.server import RelayServer

pytestmark = pytest.mark.integration

StartNode = Callable[[str], Awaitable[RelayServer]]
JOIN = int(MessageType.JOIN)


@pytest.fixture
def redis_proc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisProcess]:
    """A private redis-server the test may kill and restart (skipped only if none installed)."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (scripts/system-deps.sh --tests installs it)")
    server = RedisProcess(binary, tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.close()


@pytest.fixture
async def start_node(redis_proc: RedisProcess) -> AsyncIterator[StartNode]:
    """Start in-process nodes on 127.0.0.1:0 sharing ``redis_proc``; stop them afterwards."""
    servers: list[RelayServer] = []

    async def start(node_id: str) -> RelayServer:
        config = RelayConfig(host="127.0.0.1", port=0, node_id=node_id)
        server = RelayServer(
            config, cluster=ClusterLink(ClusterState(config, node_id), redis_proc.url, config)
        )
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.shutdown(grace_s=1.0)


def link(node: RelayServer) -> ClusterLink:
    """A node's cluster link."""
    assert node._cluster is not None
    return node._cluster


async def test_redis_restarted_mid_conversation(
    redis_proc: RedisProcess, start_node: StartNode
) -> None:
    """Redis dies and comes back empty: nodes report it, refuse claims, re-seed it, chat goes on."""
    node_a = await start_node("node-a")
    node_b = await start_node("node-b")
    alice = AsyncQuickoClient(relay_url(node_a), settings=FAST)
    bob = AsyncQuickoClient(relay_url(node_b), settings=FAST)
    prober = await RelayClient.connect(relay_url(node_a))
    async with closing(alice, bob):
        await alice.connect()
        await bob.connect()
        created = await alice.create_session()
        assert created.invite_code is not None
        await replicated(node_b, created.invite_code)
        await bob.join_session(created.invite_code)
        a, b = Watcher(alice, "alice"), Watcher(bob, "bob")
        await a.wait(SessionReady)
        await b.wait(SessionReady)
        sid = created.session_id
        await alice.send_message(sid, "a0")
        await bob.send_message(sid, "b0")
        await b.until(lambda ev: texts(ev) >= {"a0"})
        await a.until(lambda ev: texts(ev) >= {"b0"})

        redis_proc.kill()
        await until(lambda: not link(node_a).stats.connected and not link(node_b).stats.connected)
        status, _, body = await http_get(node_a.port, "/health")
        assert b'"redis": "unreachable"' in body
        _, _, metrics = await http_get(node_b.port, "/metrics")
        assert b"quicko_relay_cluster_redis_connected 0.0" in metrics
        # A nameplate cannot be given out on one node's word: refused, transiently.
        claim = secrets.token_bytes(16)
        await prober.send(prober.join(claim, join_key(), "K7QW"))
        refused = await prober.expect(Error)
        assert (refused.code, refused.ref_type, refused.ref_id) == (
            ErrorCode.INTERNAL, JOIN, claim
        )  # fmt: skip
        await alice.send_message(sid, "a1")  # queued by node A until Redis is back
        await bob.send_message(sid, "b1")

        redis_proc.start()  # empty, on the same port
        await until(
            lambda: all(
                link(n).stats.redis_restarts == 1 and link(n).healthy for n in (node_a, node_b)
            )
        )
        await alice.send_message(sid, "a2")
        await bob.send_message(sid, "b2")
        await b.until(lambda ev: texts(ev) >= {"a0", "a1", "a2"}, timeout=20)
        await a.until(lambda ev: texts(ev) >= {"b0", "b1", "b2"}, timeout=20)
        for watcher, want in ((a, ["b0", "b1", "b2"]), (b, ["a0", "a1", "a2"])):
            got = [e.message.text for e in watcher.of(MessageReceived)]
            assert sorted(got) == want, got  # every message exactly once

        # Redis holds the conversation's state again, so a node started now serves it.
        status, _, body = await http_get(node_a.port, "/health")
        assert status == 200 and b'"redis_restarts": 1' in body
        node_c = await start_node("node-c")
        session = mirror(node_c).sessions.get(bytes.fromhex(sid))
        assert session is not None
        assert set(session.members) == {alice._core.identity.address, bob._core.identity.address}
        holders = mirror(node_c).connections.holders()
        assert holders[alice._core.identity.address] == "node-a"
        assert holders[bob._core.identity.address] == "node-b"
        await prober.send(prober.join(claim, join_key(), "K7QW"))  # claims work again
        assert (await prober.expect(Joined)).nameplate == "K7QW"
    await prober.close()


async def test_simultaneous_claims_have_one_winner(
    redis_proc: RedisProcess, start_node: StartNode
) -> None:
    """One nameplate claimed on two nodes at once: one session gets it, the other the refusal."""
    node_a = await start_node("node-a")
    node_b = await start_node("node-b")
    one = await RelayClient.connect(relay_url(node_a))
    two = await RelayClient.connect(relay_url(node_b))
    store = aioredis.from_url(redis_proc.url)
    try:
        for nameplate in ("K7Q0", "K7Q1", "K7Q2", "K7Q3", "K7Q4"):
            sids = secrets.token_bytes(16), secrets.token_bytes(16)
            await asyncio.gather(
                one.send(one.join(sids[0], join_key(), nameplate)),
                two.send(two.join(sids[1], join_key(), nameplate)),
            )
            answers = [await one.recv(), await two.recv()]
            won = [i for i, answer in enumerate(answers) if isinstance(answer, Joined)]
            assert len(won) == 1, answers
            winner, loser = sids[won[0]], sids[1 - won[0]]
            joined = answers[won[0]]
            assert isinstance(joined, Joined) and joined.nameplate == nameplate
            lost = answers[1 - won[0]]
            assert isinstance(lost, Error)
            assert (lost.code, lost.ref_type, lost.ref_id) == (
                ErrorCode.NAMEPLATE_TAKEN, JOIN, loser
            )  # fmt: skip
            assert await store.get(f"q:n:{nameplate}") == winner
            for node in (node_a, node_b):
                await until(lambda: holder(mirror(node), nameplate) == winner)  # noqa: B023
    finally:
        await one.close()
        await two.close()
        await store.aclose()


def holder(state: ClusterState, nameplate: str) -> bytes | None:
    """The session id *state*'s mirror gives *nameplate* to, if any."""
    session = state.sessions.by_nameplate(nameplate)
    return None if session is None else session.session_id


async def test_claim_held_in_redis_is_refused_and_freed_with_its_session(
    redis_proc: RedisProcess, start_node: StartNode
) -> None:
    """A claim Redis gives to another session is refused even before this mirror hears of it."""
    node = await start_node("node-a")
    client = await RelayClient.connect(relay_url(node))
    store = aioredis.from_url(redis_proc.url)
    try:
        await store.set("q:n:K7QZ", secrets.token_bytes(16), px=60_000)  # claimed elsewhere
        mine = secrets.token_bytes(16)
        await client.send(client.join(mine, join_key(), "K7QZ"))
        refused = await client.expect(Error)
        assert (refused.code, refused.ref_type, refused.ref_id) == (
            ErrorCode.NAMEPLATE_TAKEN, JOIN, mine
        )  # fmt: skip
        assert mirror(node).sessions.get(mine) is None  # nothing changed
        await client.send(client.join(mine, join_key(), "K7QY"))
        assert (await client.expect(Joined)).nameplate == "K7QY"
        assert await store.get("q:n:K7QY") == mine
        await client.send(Leave(mine))  # the last member leaves: the session and its claim go
        await until(lambda: mirror(node).sessions.get(mine) is None)
        async with asyncio.timeout(10):
            while await store.exists("q:n:K7QY"):
                await asyncio.sleep(0.01)
        assert link(node).stats.claims_won == 1 and link(node).stats.claims_lost == 1
    finally:
        await client.close()
        await store.aclose()


async def test_a_killed_nodes_call_times_out_where_its_caller_went(
    redis_proc: RedisProcess, start_node: StartNode
) -> None:
    """The caller's node is SIGKILLed; reconnected elsewhere, the caller still gets TIMEOUT."""
    doomed = await spawn_relay(
        ["--redis", redis_proc.url, "--node-id", "doomed", "--call-timeout", "3"]
    )
    survivor = await start_node("survivor")
    bob = await RelayClient.connect(relay_url(survivor))
    alice = await RelayClient.connect(f"ws://127.0.0.1:{doomed.port}/ws")
    try:
        await bob.send(register_key(bob))
        await bob.expect(RegisterAck)
        call = CallPeer(secrets.token_bytes(16), alice.address, bob.address, b"bundle")
        async with asyncio.timeout(10):  # until the doomed node's mirror has Bob's entry
            while True:
                await alice.send(LookupKey(bob.address))
                found = await alice.expect(LookupResponse)
                if found.found and found.online:
                    break
                await asyncio.sleep(0.01)
        await alice.send(call)
        assert await bob.expect(CallPeer) == call  # ringing, across nodes
        doomed.process.kill()
        await doomed.process.wait()
        await until(lambda: call.call_id in mirror(survivor).calls)
        back = await RelayClient.connect(relay_url(survivor), alice.identity)
        timeout = await back.expect(CallResponse, timeout=15)
        assert timeout == CallResponse(
            call.call_id, alice.address, bob.address, int(CallStatus.TIMEOUT), b""
        )
        await back.close()
    finally:
        if doomed.process.returncode is None:
            doomed.process.kill()
            await doomed.process.wait()
        await bob.close()


async def test_a_client_given_two_nodes_moves_to_the_next_by_itself(
    redis_proc: RedisProcess, start_node: StartNode
) -> None:
    """``AsyncQuickoClient([node1, node2])``: node 1 is SIGKILLed, the client goes on via node 2."""
    doomed = await spawn_relay(["--redis", redis_proc.url, "--node-id", "doomed"])
    survivor = await start_node("survivor")
    urls = [f"ws://127.0.0.1:{doomed.port}/ws", relay_url(survivor)]
    alice = AsyncQuickoClient(urls, settings=FAST)
    bob = AsyncQuickoClient(relay_url(survivor), settings=FAST)
    try:
        async with closing(alice, bob):
            await alice.connect()  # the first URL: the doomed node
            await bob.connect()
            created = await alice.create_session()
            assert created.invite_code is not None
            await replicated(survivor, created.invite_code)
            await bob.join_session(created.invite_code)
            a, b = Watcher(alice, "alice"), Watcher(bob, "bob")
            await a.wait(SessionReady)
            await b.wait(SessionReady)
            sid = created.session_id
            await alice.send_message(sid, "a0")
            await b.until(lambda ev: texts(ev) >= {"a0"})
            doomed.process.kill()
            await doomed.process.wait()
            await bob.send_message(sid, "b0")
            await alice.send_message(sid, "a1")
            await b.until(lambda ev: texts(ev) >= {"a0", "a1"}, timeout=30)
            await a.until(lambda ev: texts(ev) >= {"b0"}, timeout=30)
            assert [e.message.text for e in b.of(MessageReceived)] == ["a0", "a1"]
            assert [e.message.text for e in a.of(MessageReceived)] == ["b0"]
            assert mirror(survivor).connections.bound_count == 2  # both on the survivor now
    finally:
        if doomed.process.returncode is None:
            doomed.process.kill()
            await doomed.process.wait()


def test_a_relay_list_is_all_ws_or_all_wss() -> None:
    with pytest.raises(ValueError, match="all ws:// or all wss://"):
        Connection(
            ["ws://127.0.0.1:1/ws", "wss://127.0.0.1:2/ws"], Identity.generate(secrets.token_bytes)
        )
    with pytest.raises(ValueError):
        AsyncQuickoClient([])
