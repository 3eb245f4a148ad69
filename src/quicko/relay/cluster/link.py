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
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

import msgpack
import redis.asyncio as aioredis
from redis.exceptions import RedisError

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
        "connected",
        "fenced",
        "frames_in",
        "frames_out",
        "latency_ms",
        "nodes",
        "ops_applied",
        "ops_out",
        "redis_errors",
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
        self._backlog: list[tuple[list[Op], dict[str, list[list[Any]]]]] = []
        self._backlog_size = 0
        self._scheduled = False
        self._wake_writer = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._registered = False
        self._last_lease_ms = 0
        self._stopping = False
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
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, RedisError):
                await task
        if self._client is not None:
            with contextlib.suppress(RedisError, OSError):
                await self._client.hdel(NODES_KEY, self.node_id)
            if self._pubsub is not None:
                with contextlib.suppress(RedisError, OSError):
                    await self._pubsub.aclose()
            await self._client.aclose()

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
        if not ops and not frames:
            return
        size = len(ops) + sum(len(items) for items in frames.values())
        if self._backlog_size + size > MAX_BACKLOG_OPS:
            self.stats.backlog_dropped += size
            return
        self._backlog.append((ops, frames))
        self._backlog_size += size
        self._wake_writer.set()

    async def _writer(self) -> None:
        """Write and publish the backlog in order, one pipeline per batch of turns."""
        while True:
            await self._wake_writer.wait()
            self._wake_writer.clear()
            while self._backlog:
                batch = list(self._backlog)
                ops: list[Op] = [op for turn_ops, _ in batch for op in turn_ops]
                frames: dict[str, list[list[Any]]] = {}
                for _, turn_frames in batch:
                    for node, items in turn_frames.items():
                        frames.setdefault(node, []).extend(items)
                try:
                    await self._write(ops, frames)
                except (RedisError, OSError):
                    self._redis_failed()
                    await asyncio.sleep(0.2)
                    continue
                del self._backlog[: len(batch)]
                self._backlog_size = sum(
                    len(o) + sum(len(i) for i in f.values()) for o, f in self._backlog
                )
                count = len(ops) + sum(len(i) for i in frames.values())
                self.stats.batches += 1
                self.stats.batches_frames += count
                self.stats.batch_max = max(self.stats.batch_max, count)
                self.stats.ops_out += len(ops)

    async def _write(self, ops: list[Op], frames: dict[str, list[list[Any]]]) -> None:
        client = self._client
        assert client is not None
        async with client.pipeline(transaction=False) as pipe:
            if ops:
                self._write_keys(pipe, ops)
                pipe.publish(STATE_CHANNEL, msgpack.packb([self.node_id, ops]))
            for node, items in frames.items():
                pipe.publish(f"{PREFIX}node:{node}", msgpack.packb(items))
            await pipe.execute()

    def _write_keys(self, pipe: Any, ops: list[Op]) -> None:
        """Write each op through to its Redis keys, each with a TTL."""
        config = self._config
        sessions: set[bytes] = set()
        for op in ops:
            kind = op[0]
            if kind == "B":
                pipe.set(_key("p", op[1]), op[2], px=PRESENCE_TTL_MS)
            elif kind == "U":
                pipe.eval(_UNBIND, 1, _key("p", op[1]), op[2])
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
            pipe.set(key, msgpack.packb(blob), px=PRESENCE_TTL_MS + config.buffer_ttl_ms)

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
        """Renew this node's lease; find dead nodes; measure the round trip."""
        client = self._client
        assert client is not None
        start = time.perf_counter()
        now = _now_ms()
        async with client.pipeline(transaction=False) as pipe:
            pipe.hset(NODES_KEY, self.node_id, now)
            pipe.hgetall(NODES_KEY)
            added, leases = await pipe.execute()
        self.stats.latency_ms = (time.perf_counter() - start) * 1000
        if added and self._registered:  # the others declared this node dead meanwhile
            self._fence("lease lost")
        self._registered = True
        self._last_lease_ms = now
        if self.stats.fenced:
            self.stats.fenced = False
            log_event("cluster_unfenced")
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
            self._events(self.state.node_died(node, janitor=janitor), now)
            self._resend(node, now)
            if janitor:
                await client.hdel(NODES_KEY, node)
                log_event("cluster_node_dead", logging.WARNING, node=node)

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
                    pipe.pexpire(
                        _key("s", session.session_id),
                        PRESENCE_TTL_MS + self._config.buffer_ttl_ms,
                    )
            await pipe.execute()

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
