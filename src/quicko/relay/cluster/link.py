"""The node's link to Redis: write-through, pub/sub, leases, health (DESIGN.md §7).

One :class:`ClusterLink` per relay process, beside its :class:`~quicko.relay.server.RelayServer`.
It never blocks the event loop: the router's ops (:mod:`quicko.relay.cluster.state`) and the
frames for addresses held on other nodes are collected during one event-loop turn and written
by a single writer task, in order, in one pipeline: the Redis keys (with TTLs), one ``PUBLISH``
of the ops on ``q:state`` and one ``PUBLISH`` per destination node on ``q:node:<id>``. A reader
task applies what other nodes publish between two router calls.

Every node refreshes a lease (``q:nodes``, a hash node → last heartbeat) each second; a node
whose lease is older than :data:`NODE_TTL_MS` is dead: every node forgets the addresses it held,
and the *janitor* (the live node with the smallest id) announces them offline. A node that
cannot renew its own lease for that long, or finds that others declared it dead, fences itself:
it closes every connection (its clients reconnect elsewhere) so that no address stays bound on
two nodes, and refuses new ones until Redis answers again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

import msgpack
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from quicko.relay.cluster.claims import Claim, ClaimingRouter
from quicko.relay.cluster.state import ClusterState, Event, Op
from quicko.relay.config import RelayConfig
from quicko.relay.logs import log_event

if TYPE_CHECKING:
    from quicko.relay.actions import Action
    from quicko.relay.router import Router

__all__ = ["NODE_TTL_MS", "PREFIX", "ClusterError", "ClusterLink", "check_persistence"]

PREFIX: Final = "q:"
"""Prefix of every Redis key and channel the relay uses."""
STATE_CHANNEL: Final = PREFIX + "state"
NODES_KEY: Final = PREFIX + "nodes"
EPOCH_KEY: Final = PREFIX + "epoch"
"""A random token the first node to find it missing sets: a new value means Redis lost its
data (restarted empty, or flushed), and every node re-seeds it from its mirror."""
EPOCH_TTL_MS: Final = 60_000
CLAIM_WAIT_S: Final = 1.0
"""How long a refused claim waits for the winner's ops, so that the router refuses it itself."""
RETRY_S: Final = 0.02
"""Pause before publishing again what a node that is not subscribed (yet) did not receive."""
RESEED_CHUNK: Final = 1_000
STOP_WAIT_S: Final = 2.0
"""How long :meth:`ClusterLink.stop` waits for each step (its tasks, the lease removal, a close)."""
HEARTBEAT_S: Final = 1.0
NODE_TTL_MS: Final = 5_000
"""A node whose lease is this old is dead; a node that could not renew it this long fences."""
PRESENCE_TTL_MS: Final = 30_000
"""TTL of presence, session and online-directory keys; live nodes refresh them every 10 s."""
REFRESH_S: Final = 10.0
RESEND_WINDOW_MS: Final = NODE_TTL_MS + 2_000
"""Routed frames published to a node are kept this long; if that node is declared dead they
are routed again (held in the away buffer, or sent where the recipient is now): a frame it
took and never delivered is not lost. Recipients drop the duplicates (by message id)."""
MAX_BACKLOG_OPS: Final = 200_000
"""Ops and frames a node keeps for Redis while it is unreachable; more are dropped (counted)."""

_UNBIND: Final = (
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"
)
#: Give the nameplate KEYS[1] to session ARGV[1] if it is free or already its; return the holder.
_CLAIM: Final = """
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return holder end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return ARGV[1]
"""
#: Re-seed a buffer: append the frames whose ids the list does not hold yet (idempotent).
_ADD_ABSENT: Final = """
local have = {}
for _, item in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  have[string.match(item, '^([^\\n]*)\\n')] = true
end
local added = 0
for i = 2, #ARGV do
  local fid = string.match(ARGV[i], '^([^\\n]*)\\n')
  if not have[fid] then redis.call('RPUSH', KEYS[1], ARGV[i]); added = added + 1 end
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return added
"""
#: Take exactly the frames whose ids are given (atomic: one script), keep the others.
_TAKE: Final = """
local items = redis.call('LRANGE', KEYS[1], 0, -1)
local taken = {}
for i = 2, #ARGV do taken[ARGV[i]] = true end
local keep = {}
for _, item in ipairs(items) do
  local fid = string.match(item, '^([^\\n]*)\\n')
  if not taken[fid] then table.insert(keep, item) end
end
redis.call('DEL', KEYS[1])
if #keep > 0 then
  redis.call('RPUSH', KEYS[1], unpack(keep))
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return #items - #keep
"""


class ClusterError(Exception):
    """The cluster cannot start: Redis unreachable, or it persists to disk."""


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _key(kind: str, ident: bytes) -> str:
    return f"{PREFIX}{kind}:{ident.hex()}"


def _nameplate_key(nameplate: str) -> str:
    return f"{PREFIX}n:{nameplate}"


class _Turn:
    """What one event-loop turn (or a retry) gives the writer."""

    __slots__ = ("again", "born_ms", "frames", "ops")

    def __init__(
        self, ops: list[Op], frames: dict[str, list[list[Any]]], again: list[Op], born_ms: int
    ) -> None:
        self.ops = ops
        self.frames = frames
        self.again = again
        self.born_ms = born_ms

    def size(self) -> int:
        return len(self.ops) + len(self.again) + sum(len(i) for i in self.frames.values())


async def check_persistence(client: aioredis.Redis, *, allow: bool) -> list[str]:
    """Refuse a Redis that writes to disk (RDB ``save`` rules or AOF) unless *allow*.

    Returns:
        What persists (empty when nothing does).

    Raises:
        ClusterError: it persists and *allow* is false, or CONFIG GET is refused.
    """
    try:
        save = (await client.config_get("save")).get("save", "")
        appendonly = (await client.config_get("appendonly")).get("appendonly", "no")
    except RedisError as exc:
        if allow:
            return ["unknown (CONFIG GET refused)"]
        raise ClusterError(
            f"cannot check that Redis keeps nothing on disk (CONFIG GET: {exc}); "
            "pass --redis-allow-persistence if you know it does not persist"
        ) from None
    found = []
    if save:
        found.append(f"RDB snapshots (save {save!r})")
    if appendonly == "yes":
        found.append("AOF (appendonly yes)")
    if found and not allow:
        raise ClusterError(
            "Redis persists to disk: "
            + ", ".join(found)
            + "; the relay keeps nothing on disk, so it refuses such a Redis. Run Redis with "
            "--save '' --appendonly no, or pass --redis-allow-persistence to override"
        )
    return found


class ClusterStats:
    """Counts of one node's cluster link, for ``/health`` and ``/metrics``."""

    __slots__ = (
        "backlog_dropped",
        "batch_max",
        "batches",
        "batches_frames",
        "claims_lost",
        "claims_refused",
        "claims_won",
        "connected",
        "fenced",
        "frames_in",
        "frames_out",
        "latency_ms",
        "nodes",
        "ops_applied",
        "ops_out",
        "redis_errors",
        "redis_restarts",
        "republish_dropped",
        "republished",
        "reseeded_ops",
    )

    def __init__(self) -> None:
        self.connected = False
        self.fenced = False
        self.latency_ms = 0.0
        self.nodes = 0
        self.frames_out = 0
        self.frames_in = 0
        self.ops_out = 0
        self.ops_applied = 0
        self.batches = 0
        self.batches_frames = 0
        self.batch_max = 0
        self.redis_errors = 0
        self.backlog_dropped = 0
        self.redis_restarts = 0
        self.reseeded_ops = 0
        self.republished = 0
        self.republish_dropped = 0
        self.claims_won = 0
        self.claims_lost = 0
        self.claims_refused = 0

    def health(self) -> dict[str, object]:
        """The ``cluster`` object of ``/health``."""
        return {
            "redis": "connected" if self.connected else "unreachable",
            "fenced": self.fenced,
            "redis_latency_ms": round(self.latency_ms, 3),
            "nodes": self.nodes,
            "cross_node_frames_out": self.frames_out,
            "cross_node_frames_in": self.frames_in,
            "publish_batches": self.batches,
            "redis_restarts": self.redis_restarts,
            "reseeded_ops": self.reseeded_ops,
            "republished": self.republished,
        }

    def metrics(self) -> dict[str, tuple[str, float]]:
        """Name → (``gauge`` or ``counter``, value), for ``/metrics``."""
        return {
            "cluster_redis_connected": ("gauge", float(self.connected)),
            "cluster_fenced": ("gauge", float(self.fenced)),
            "cluster_redis_latency_seconds": ("gauge", self.latency_ms / 1000),
            "cluster_nodes": ("gauge", float(self.nodes)),
            "cluster_frames_out": ("counter", float(self.frames_out)),
            "cluster_frames_in": ("counter", float(self.frames_in)),
            "cluster_ops_out": ("counter", float(self.ops_out)),
            "cluster_ops_applied": ("counter", float(self.ops_applied)),
            "cluster_publish_batches": ("counter", float(self.batches)),
            "cluster_publish_batch_items": ("counter", float(self.batches_frames)),
            "cluster_publish_batch_max_items": ("gauge", float(self.batch_max)),
            "cluster_redis_errors": ("counter", float(self.redis_errors)),
            "cluster_backlog_dropped": ("counter", float(self.backlog_dropped)),
            "cluster_redis_restarts": ("counter", float(self.redis_restarts)),
            "cluster_reseeded_ops": ("counter", float(self.reseeded_ops)),
            "cluster_republished": ("counter", float(self.republished)),
            "cluster_republish_dropped": ("counter", float(self.republish_dropped)),
            "cluster_claims_won": ("counter", float(self.claims_won)),
            "cluster_claims_lost": ("counter", float(self.claims_lost)),
            "cluster_claims_refused": ("counter", float(self.claims_refused)),
        }


class ClusterLink:
    """Connects one node's :class:`ClusterState` to Redis and to its router and shell."""

    def __init__(
        self,
        state: ClusterState,
        url: str,
        config: RelayConfig,
        *,
        allow_persistence: bool = False,
    ) -> None:
        """Prepare the link; nothing connects until :meth:`start`."""
        self.state = state
        self.node_id = state.node_id
        self.stats = ClusterStats()
        self._url = url
        self._config = config
        self._allow_persistence = allow_persistence
        self._client: Any = None
        self._pubsub: Any = None
        self._router: Router | None = None
        self._run: Callable[[list[Action]], None] = lambda actions: None
        self._on_fence: Callable[[], None] = lambda: None
        self._frames: dict[str, list[list[Any]]] = {}
        #: Routed frames published to each node lately: (time, address, frame, sender).
        self._recent: dict[str, deque[tuple[int, bytes, bytes, bytes]]] = {}
        #: Per turn: (ops to write and publish, frames per node, ops only to publish again,
        #: when first queued).
        self._backlog: list[_Turn] = []
        self._backlog_size = 0
        self._scheduled = False
        self._wake_writer = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._registered = False
        self._last_lease_ms = 0
        self._stopping = False
        self._epoch: bytes | None = None
        #: Last lease seen of every node (kept across an emptied Redis until it ages out).
        self._peers: dict[str, int] = {}
        self._claiming: set[asyncio.Task[None]] = set()
        state.bus.wake = self._schedule

    # ---------------------------------------------------------------- lifecycle

    def attach(
        self,
        router: Router,
        run: Callable[[list[Action]], None],
        on_fence: Callable[[], None],
    ) -> None:
        """Give the link the router to feed, the shell's action runner and its fence."""
        self._router = router
        self._run = run
        self._on_fence = on_fence
        if isinstance(router, ClaimingRouter):
            router.wake = self._start_claims

    @property
    def healthy(self) -> bool:
        """Whether this node may accept connections (Redis answers, not fenced)."""
        return self.stats.connected and not self.stats.fenced

    async def start(self) -> None:
        """Connect, check persistence, subscribe, load the shared state, start the tasks.

        Raises:
            ClusterError: Redis is unreachable or persists to disk (without the override).
        """
        client: aioredis.Redis = aioredis.from_url(
            self._url, socket_timeout=5, socket_connect_timeout=5, decode_responses=False
        )
        self._client = client
        try:
            await client.ping()
            persists = await check_persistence(client, allow=self._allow_persistence)
            if persists:
                log_event("redis_persists", logging.WARNING, what=persists)
            pubsub = client.pubsub()
            await pubsub.subscribe(STATE_CHANNEL, f"{PREFIX}node:{self.node_id}")
            self._pubsub = pubsub
            await self._lease()
            await self._load()
        except (RedisError, OSError, ClusterError) as exc:
            if self._pubsub is not None:
                with contextlib.suppress(RedisError, OSError):
                    await self._pubsub.aclose()
            await client.aclose()
            if isinstance(exc, ClusterError):
                raise
            raise ClusterError(f"cannot use Redis at the given URL: {exc}") from None
        self.stats.connected = True
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._reader()),
            loop.create_task(self._writer()),
            loop.create_task(self._heartbeat()),
        ]

    async def stop(self) -> None:
        """Flush what is queued (briefly), leave the cluster, close."""
        self._flush()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2.0):
                while self._backlog and self.stats.connected:
                    await asyncio.sleep(0.01)
        self._stopping = True
        tasks = [*self._tasks, *self._claiming]
        for task in tasks:
            task.cancel()
        if tasks:  # bounded: a task stuck inside the Redis client must not hold the shutdown
            await asyncio.wait(tasks, timeout=STOP_WAIT_S)
        if self._client is not None:
            with contextlib.suppress(RedisError, OSError, TimeoutError):
                async with asyncio.timeout(STOP_WAIT_S):
                    await self._client.hdel(NODES_KEY, self.node_id)
            for closing in (self._pubsub, self._client):
                if closing is not None:
                    with contextlib.suppress(RedisError, OSError, TimeoutError):
                        async with asyncio.timeout(STOP_WAIT_S):
                            await closing.aclose()

    # ---------------------------------------------------------------- outgoing

    def send(self, conn: int, data: bytes) -> None:
        """The router sent *data* to the stand-in *conn*: publish it to that node."""
        found = self.state.connections.standin(conn)
        if found is None:
            return
        node, address, standin = found
        sender: bytes | None = None
        inflight = standin.inflight
        if inflight and inflight[0][1] is data:  # a routed frame (tracked), not the relay's own
            sender = inflight.popleft()[2]
            standin.inflight_bytes -= len(data)
            recent = self._recent.get(node)
            if recent is None:
                recent = self._recent[node] = deque()
            now = _now_ms()
            recent.append((now, address, data, sender))
            while recent[0][0] < now - RESEND_WINDOW_MS:
                recent.popleft()
        self._frames.setdefault(node, []).append(["F", address, data, sender])
        self.stats.frames_out += 1
        self._schedule()

    def close(self, conn: int) -> None:
        """The router closed the stand-in *conn* (a Hello here replaced it): ask its node."""
        found = self.state.connections.standin(conn)
        if found is not None:
            node, address, _ = found
            self._frames.setdefault(node, []).append(["X", address, b"", None])
            self._schedule()

    def _schedule(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        """End of an event-loop turn: hand this turn's ops and frames to the writer."""
        self._scheduled = False
        ops = self.state.take_outbox()
        frames, self._frames = self._frames, {}
        if ops or frames:
            self._queue(_Turn(ops, frames, [], _now_ms()))

    def _queue(self, turn: _Turn) -> None:
        size = turn.size()
        if self._backlog_size + size > MAX_BACKLOG_OPS:
            self.stats.backlog_dropped += size
            return
        self._backlog.append(turn)
        self._backlog_size += size
        self._wake_writer.set()

    async def _writer(self) -> None:
        """Write and publish the backlog in order, one pipeline per batch of turns."""
        while True:
            await self._wake_writer.wait()
            self._wake_writer.clear()
            while self._backlog:
                batch = list(self._backlog)
                try:
                    missed = await self._write(batch)
                except (RedisError, OSError):
                    self._redis_failed()
                    await asyncio.sleep(0.2)
                    continue
                del self._backlog[: len(batch)]
                self._backlog_size = sum(turn.size() for turn in self._backlog)
                count = sum(turn.size() for turn in batch)
                self.stats.batches += 1
                self.stats.batches_frames += count
                self.stats.batch_max = max(self.stats.batch_max, count)
                self.stats.ops_out += sum(len(turn.ops) for turn in batch)
                if missed is not None:
                    self._retry(missed)
                    await asyncio.sleep(RETRY_S)

    def _retry(self, missed: _Turn) -> None:
        """Publish *missed* again (ahead of what is queued), unless it is older than the window.

        A node whose subscription is down (Redis just came back, or it is dying) receives
        nothing: ``PUBLISH`` counts fewer receivers than there are live nodes. Ops are applied
        idempotently, so everyone may get them twice; frames go to their node only.
        """
        if missed.born_ms < _now_ms() - RESEND_WINDOW_MS:
            self.stats.republish_dropped += missed.size()
            return
        self.stats.republished += missed.size()
        self._backlog.insert(0, missed)
        self._backlog_size += missed.size()

    async def _write(self, batch: list[_Turn]) -> _Turn | None:
        """Write and publish *batch*; return what some live node did not receive, if any."""
        client = self._client
        assert client is not None
        ops: list[Op] = [op for turn in batch for op in turn.ops]
        again: list[Op] = [op for turn in batch for op in turn.again]
        frames: dict[str, list[list[Any]]] = {}
        for turn in batch:
            for node, items in turn.frames.items():
                frames.setdefault(node, []).extend(items)
        published = again + ops
        async with client.pipeline(transaction=False) as pipe:
            if ops:
                self._write_keys(pipe, ops)
            if published:
                pipe.publish(STATE_CHANNEL, msgpack.packb([self.node_id, published]))
            for node, items in frames.items():
                pipe.publish(f"{PREFIX}node:{node}", msgpack.packb(items))
            results = await pipe.execute()
        receivers = results[len(results) - len(frames) - bool(published) :]
        born = min(turn.born_ms for turn in batch)
        missed = _Turn([], {}, [], born)
        if published and receivers[0] < self._live_nodes():
            missed.again = published
        for (node, items), count in zip(frames.items(), receivers[bool(published) :], strict=True):
            if not count:
                missed.frames[node] = items
        return missed if missed.again or missed.frames else None

    def _live_nodes(self) -> int:
        """Nodes (this one included) whose last lease is recent: each subscribes ``q:state``."""
        now = _now_ms()
        return sum(1 for ts in self._peers.values() if now - ts <= NODE_TTL_MS) or 1

    def _write_keys(self, pipe: Any, ops: list[Op], *, reseed: bool = False) -> None:
        """Write each op through to its Redis keys, each with a TTL.

        With *reseed* (an emptied Redis, filled again from the mirror) a nameplate is set only
        if it is free and buffered frames only if their ids are not held yet.
        """
        config = self._config
        sessions: set[bytes] = set()
        session_ttl_ms = PRESENCE_TTL_MS + config.buffer_ttl_ms
        for op in ops:
            kind = op[0]
            if kind == "B":
                pipe.set(_key("p", op[1]), op[2], px=PRESENCE_TTL_MS)
            elif kind == "U":
                pipe.eval(_UNBIND, 1, _key("p", op[1]), op[2])
            elif kind == "SR" and len(op) > 2 and op[2]:
                sessions.add(op[1])
                pipe.eval(_UNBIND, 1, _nameplate_key(op[2]), op[1])
            elif kind == "SN" and reseed:
                sessions.add(op[1])
                pipe.set(_nameplate_key(op[2]), op[1], px=session_ttl_ms, nx=True)
            elif kind in ("SC", "SN", "SR", "SA", "SD"):
                sessions.add(op[1])
            elif kind == "AW":
                pipe.set(_key("a", op[1]), msgpack.packb([op[2], op[3]]), pxat=op[2])
            elif kind in ("AB", "LR"):
                pipe.delete(_key("a" if kind == "AB" else "l", op[1]))
            elif kind == "LP":
                pipe.set(_key("l", op[1]), msgpack.packb(op[2:]), pxat=op[4])
            elif kind == "DP":
                pipe.set(_key("d", op[1]), msgpack.packb(op[1:]), px=config.directory_ttl_ms)
            elif kind == "DR":
                pipe.delete(_key("d", op[1]))
            elif kind in ("DN", "DF"):
                pipe.pexpire(_key("d", op[1]), config.directory_ttl_ms)
            elif kind == "BP":
                key = _key("b", op[1])
                blobs = [
                    fid.encode() + b"\n" + msgpack.packb([data, sender, op[3]])
                    for fid, data, sender in op[2]
                ]
                if reseed:
                    pipe.eval(_ADD_ABSENT, 1, key, config.buffer_ttl_ms, *blobs)
                    continue
                if op[4]:
                    pipe.lpush(key, *reversed(blobs))
                else:
                    pipe.rpush(key, *blobs)
                pipe.pexpire(key, config.buffer_ttl_ms)
            elif kind == "BT":
                pipe.eval(_TAKE, 1, _key("b", op[1]), config.buffer_ttl_ms, *op[2])
            elif kind == "CA":
                pipe.set(_key("c", op[1]), msgpack.packb(op[1:]), pxat=op[4])
            elif kind == "CR":
                pipe.delete(_key("c", op[1]))
        self._write_sessions(pipe, sessions, session_ttl_ms)

    def _write_sessions(self, pipe: Any, sessions: set[bytes], ttl_ms: int) -> None:
        """Write each session's key whole, as this mirror holds it (deleted if it is gone)."""
        for session_id in sessions:
            session = self.state.sessions.get(session_id)
            key = _key("s", session_id)
            if session is None:
                pipe.delete(key)
                continue
            blob = [
                session.join_key,
                session.source,
                session.nameplate,
                session.owner,
                session.owner_source,
                list(session.members.items()),
            ]
            pipe.set(key, msgpack.packb(blob), px=ttl_ms)

    # ---------------------------------------------------------------- incoming

    async def _reader(self) -> None:
        """Apply what other nodes publish, between router calls, in arrival order."""
        while True:
            try:
                message = await self._pubsub.get_message(
                    ignore_subscribe_messages=True, timeout=1.0
                )
            except (RedisError, OSError):
                self._redis_failed()
                await asyncio.sleep(0.2)
                continue
            if message is None or message.get("type") != "message":
                continue
            try:
                self._handle(message["channel"], message["data"])
            except Exception as exc:  # a bad message must not stop the reader
                log_event("cluster_apply_failed", logging.ERROR, exception=type(exc).__name__)

    def _handle(self, channel: bytes, data: bytes) -> None:
        router = self._router
        if router is None:
            return
        payload = msgpack.unpackb(data)
        now = _now_ms()
        if channel == STATE_CHANNEL.encode():
            origin, ops = payload
            if origin == self.node_id:
                return
            self.stats.ops_applied += len(ops)
            self._events(self.state.apply(ops), now)
            return
        for kind, address, frame, sender in payload:
            if kind == "F":
                self.stats.frames_in += 1
                self._run(router.deliver(address, frame, sender, now))
            else:
                local = self.state.connections._local.get(address)
                if local is not None:
                    self._run(router.evict(local.conn, now))

    def _events(self, events: list[Event], now: int) -> None:
        router = self._router
        if router is None:
            return
        for kind, value in events:
            if kind == "evict":
                self._run(router.evict(value, now))
            elif kind == "held":
                self._run(router.deliver_held(value, now))
            elif kind == "gone":
                self._run(router.remote_gone(value, now))

    # ---------------------------------------------------------------- leases and health

    async def _lease(self) -> None:
        """Renew this node's lease; notice an emptied Redis; find dead nodes; time the trip."""
        client = self._client
        assert client is not None
        start = time.perf_counter()
        now = _now_ms()
        async with client.pipeline(transaction=False) as pipe:
            pipe.set(EPOCH_KEY, secrets.token_hex(16), nx=True, px=EPOCH_TTL_MS)
            pipe.get(EPOCH_KEY)
            pipe.pexpire(EPOCH_KEY, EPOCH_TTL_MS)
            pipe.hset(NODES_KEY, self.node_id, now)
            pipe.hgetall(NODES_KEY)
            _, epoch, _, added, leases = await pipe.execute()
        self.stats.latency_ms = (time.perf_counter() - start) * 1000
        emptied = self._epoch is not None and epoch != self._epoch
        self._epoch = epoch
        if emptied:  # every node's lease went with the data: nobody declared this one dead
            log_event("redis_emptied", logging.WARNING)
            await self._reseed()
            self.stats.redis_restarts += 1
        elif added and self._registered:  # the others declared this node dead meanwhile
            self._fence("lease lost")
        self._registered = True
        self._last_lease_ms = now
        if self.stats.fenced:
            self.stats.fenced = False
            log_event("cluster_unfenced")
        for raw, ts in leases.items():
            self._peers[raw.decode()] = max(int(ts), self._peers.get(raw.decode(), 0))
        alive = {
            node.decode(): int(ts)
            for node, ts in leases.items()
            if now - int(ts) <= NODE_TTL_MS or node.decode() == self.node_id
        }
        self.stats.nodes = len(alive)
        janitor = min(alive) == self.node_id
        for raw in leases:
            node = raw.decode()
            if node in alive:
                continue
            self._peers.pop(node, None)
            router = self._router
            receipt_for = router._receipt_for if router is not None else (lambda d, s: None)
            self._events(self.state.node_died(node, janitor=janitor, receipt_for=receipt_for), now)
            self._resend(node, now)
            if janitor:
                await client.hdel(NODES_KEY, node)
                log_event("cluster_node_dead", logging.WARNING, node=node)

    async def _reseed(self) -> None:
        """Redis lost its data: write this node's mirror into it again (idempotent writes).

        Every node writes what its mirror holds (its own presence and away deadlines, and
        everything shared), so the cluster's state is back as soon as one node has written;
        what other nodes changed meanwhile arrives with their ops as usual.
        """
        client = self._client
        assert client is not None
        ops = self.state.snapshot()
        for first in range(0, len(ops), RESEED_CHUNK):
            async with client.pipeline(transaction=False) as pipe:
                self._write_keys(pipe, ops[first : first + RESEED_CHUNK], reseed=True)
                await pipe.execute()
        self.stats.reseeded_ops += len(ops)
        log_event("redis_reseeded", ops=len(ops))

    def _resend(self, node: str, now: int) -> None:
        """*node* is dead: route again what was published to it in the resend window."""
        router = self._router
        recent = self._recent.pop(node, None)
        if router is None or not recent:
            return
        for sent_ms, address, data, sender in recent:
            if sent_ms >= now - RESEND_WINDOW_MS:
                self._run(router.deliver(address, data, sender, now))

    async def _heartbeat(self) -> None:
        last_refresh = time.monotonic()
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            try:
                await self._lease()
                if not self.stats.connected:
                    self.stats.connected = True
                    log_event("redis_reconnected")
                    self._wake_writer.set()
                if time.monotonic() - last_refresh >= REFRESH_S:
                    last_refresh = time.monotonic()
                    await self._refresh()
            except (RedisError, OSError):
                self._redis_failed()
                if _now_ms() - self._last_lease_ms > NODE_TTL_MS:
                    self._fence("redis unreachable")

    async def _refresh(self) -> None:
        """Extend the TTLs of what this node's connections keep alive."""
        client = self._client
        assert client is not None
        state = self.state
        async with client.pipeline(transaction=False) as pipe:
            for address in state.connections.local_addresses():
                pipe.pexpire(_key("p", address), PRESENCE_TTL_MS)
                pipe.pexpire(_key("d", address), self._config.directory_ttl_ms)
                for session in state.sessions.sessions_of(address):
                    ttl_ms = PRESENCE_TTL_MS + self._config.buffer_ttl_ms
                    pipe.pexpire(_key("s", session.session_id), ttl_ms)
                    if session.nameplate:
                        pipe.pexpire(_nameplate_key(session.nameplate), ttl_ms)
            await pipe.execute()

    # ---------------------------------------------------------------- nameplate claims

    def _start_claims(self) -> None:
        """The router holds a Join whose nameplate must be reserved: reserve it."""
        router = self._router
        assert isinstance(router, ClaimingRouter)
        claims, router.claims = router.claims, []
        for claim in claims:
            task = asyncio.get_running_loop().create_task(self._claim(router, claim))
            self._claiming.add(task)
            task.add_done_callback(self._claiming.discard)

    async def _claim(self, router: ClaimingRouter, claim: Claim) -> None:
        """Reserve *claim*'s nameplate in Redis (atomic), then let the router go on."""
        winner: bytes | None = None
        key = _nameplate_key(claim.nameplate)
        if self.healthy:
            ttl_ms = PRESENCE_TTL_MS + self._config.buffer_ttl_ms
            try:
                async with asyncio.timeout(CLAIM_WAIT_S):
                    winner = await self._client.eval(_CLAIM, 1, key, claim.session_id, ttl_ms)
            except (RedisError, OSError, TimeoutError):
                self._redis_failed()
        if winner is None:
            self.stats.claims_refused += 1
        elif winner == claim.session_id:
            self.stats.claims_won += 1
        else:
            self.stats.claims_lost += 1
            with contextlib.suppress(TimeoutError):  # the winner's ops are one publish away
                async with asyncio.timeout(CLAIM_WAIT_S):
                    while self.state.sessions.by_nameplate(claim.nameplate) is None:
                        await asyncio.sleep(0.005)
        self._run(router.claimed(claim, winner, _now_ms()))
        if winner == claim.session_id and not router.holds(claim):
            with contextlib.suppress(RedisError, OSError):  # refused for another reason
                await self._client.eval(_UNBIND, 1, key, claim.session_id)

    def _redis_failed(self) -> None:
        self.stats.redis_errors += 1
        if self.stats.connected:
            self.stats.connected = False
            log_event("redis_unreachable", logging.WARNING)

    def _fence(self, why: str) -> None:
        """Drop every connection: the cluster may have given their addresses to others."""
        if self.stats.fenced:
            return
        self.stats.fenced = True
        log_event("cluster_fenced", logging.WARNING, reason=why)
        self._on_fence()

    # ---------------------------------------------------------------- start-up load

    async def _load(self) -> None:
        """Fill the mirror from Redis (before serving; later changes arrive by pub/sub)."""
        client = self._client
        assert client is not None
        now = _now_ms()
        leases = await client.hgetall(NODES_KEY)
        alive = {n.decode() for n, ts in leases.items() if now - int(ts) <= NODE_TTL_MS}
        ops: list[Op] = []
        async for key in client.scan_iter(match=PREFIX + "s:*", count=1000):
            blob = await client.get(key)
            if blob is None:
                continue
            session_id = bytes.fromhex(key.decode().rsplit(":", 1)[1])
            join_key, source, nameplate, owner, owner_source, members = msgpack.unpackb(blob)
            ops.append(["SC", session_id, join_key, source])
            if nameplate:
                ops.append(["SN", session_id, nameplate, owner, owner_source])
            ops.extend(["SA", session_id, address, name] for address, name in members)
        for kind in ("d", "c", "a", "l", "p"):
            async for key in client.scan_iter(match=f"{PREFIX}{kind}:*", count=1000):
                blob = await client.get(key)
                if blob is None:
                    continue
                address = bytes.fromhex(key.decode().rsplit(":", 1)[1])
                if kind == "p":
                    if blob.decode() in alive and blob.decode() != self.node_id:
                        ops.append(["B", address, blob.decode(), 0])
                    continue
                fields = msgpack.unpackb(blob)
                prefix = {"d": "DP", "c": "CA", "a": "AW", "l": "LP"}[kind]
                if kind in ("a", "l"):
                    ops.append([prefix, address, *fields])
                else:
                    ops.append([prefix, *fields])
        async for key in client.scan_iter(match=PREFIX + "b:*", count=1000):
            recipient = bytes.fromhex(key.decode().rsplit(":", 1)[1])
            for item in await client.lrange(key, 0, -1):
                fid, _, rest = item.partition(b"\n")
                data, sender, expires_ms = msgpack.unpackb(rest)
                if expires_ms > now:
                    ops.append(["BP", recipient, [[fid.decode(), data, sender]], expires_ms, False])
        self.state.apply(ops)
