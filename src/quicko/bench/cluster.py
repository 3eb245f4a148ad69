"""``quicko bench cluster``: relay nodes sharing one Redis, measured side by side in one run.

Starts a private ``redis-server`` (persistence off) and relay node processes
(:func:`~quicko.bench.procs.relay_argv` with ``--redis``), then, with the load in this process
(paired connections doing the real handshake and Join, pre-encoded 256-byte MESSAGEs, as in
:mod:`quicko.bench.load`), measures for each layout:

- ``1 node``: both members of every pair on one node;
- ``2 nodes, same node``: half the pairs on each of two nodes, both members together;
- ``2 nodes, cross node``: every pair split, one member on each node (every frame crosses Redis);
- ``2 workers``: ``--workers 2`` on one port (the kernel spreads connections: about half the
  pairs split).

For each: closed-loop frames/s (window 16), open-loop latency percentiles at a fixed rate, and
Redis commands per forwarded frame (``INFO stats`` ``total_commands_processed`` over the
throughput window; leases and refreshes included). Also the mirror's memory per user
(:func:`mirror_bytes_per_user`, tracemalloc over a :class:`ClusterState` filled with ops).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Sequence
from pathlib import Path
from time import perf_counter, perf_counter_ns
from typing import Any, Final

from quicko.bench.client import (
    CLOSED_LOOP,
    OPEN_LOOP,
    BenchClient,
    BenchError,
    Recorder,
    authenticate,
    bounded_map,
    close_all,
    connect,
    join,
)
from quicko.bench.procs import ServerProcess, relay_argv
from quicko.bench.stats import latency_summary
from quicko.bench.wire import BODY_BYTES, STAMP, MessageTemplate
from quicko.crypto.ed25519 import Ed25519KeyPair
from quicko.identity import Identity
from quicko.protocol import MESSAGE_ID_SIZE, SESSION_ID_SIZE

__all__ = ["mirror_bytes_per_user", "run", "run_cluster_bench"]

_TIMEOUT_S: Final = 20.0
_LAYOUTS: Final = ("1 node", "2 nodes, same node", "2 nodes, cross node", "2 workers")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class _Redis:
    """A private redis-server for the run (persistence off, its own directory)."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise BenchError("redis-server is not installed (scripts/system-deps.sh --tests)")
        self.port = _free_port()
        self._dir = tempfile.mkdtemp(prefix="quicko-bench-redis-")
        self._process = subprocess.Popen(  # noqa: S603 (redis-server, fixed arguments)
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self._dir, "--loglevel", "warning"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        import redis  # noqa: PLC0415 (the `cluster` extra: only this benchmark needs it)

        self._client = redis.Redis(host="127.0.0.1", port=self.port)
        deadline = time.monotonic() + 10
        while True:
            try:
                self._client.ping()
                break
            except redis.RedisError:
                if time.monotonic() > deadline:
                    self.close()
                    raise BenchError("redis-server did not start") from None
                time.sleep(0.02)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def commands_processed(self) -> int:
        """Commands Redis has run since it started (``INFO stats``)."""
        return int(self._client.info("stats")["total_commands_processed"])

    def close(self) -> None:
        if hasattr(self, "_client"):
            self._client.close()
        self._process.kill()
        self._process.wait()
        shutil.rmtree(self._dir, ignore_errors=True)


async def _open_pairs(ports: Sequence[tuple[int, int]]) -> list[BenchClient]:
    """One joined pair per (first member's port, second member's port); return them flat."""
    identities = [Identity.generate(secrets.token_bytes) for _ in range(2 * len(ports))]
    sessions = [secrets.token_bytes(SESSION_ID_SIZE) for _ in ports]
    keys = [Ed25519KeyPair.generate(secrets.token_bytes) for _ in ports]

    async def member(index: int) -> BenchClient:
        pair = index // 2
        url = f"ws://127.0.0.1:{ports[pair][index % 2]}/ws"
        client = BenchClient()
        await connect(url, client, _TIMEOUT_S)
        await authenticate(client, identities[index], _TIMEOUT_S, relay_url=url)
        await join(client, identities[index], sessions[pair], keys[pair], _TIMEOUT_S)
        return client

    firsts = await bounded_map(member, range(0, 2 * len(ports), 2), 32)
    await asyncio.sleep(0.2)  # the sessions' ops reach the other node's mirror
    seconds = await bounded_map(member, range(1, 2 * len(ports), 2), 32)
    for index, (first, second) in enumerate(zip(firsts, seconds, strict=True)):
        a, b = identities[2 * index].address, identities[2 * index + 1].address
        first.peer, second.peer = second, first
        first.frame = _frame(sessions[index], a, b)
        second.frame = _frame(sessions[index], b, a)
    return [client for pair in zip(firsts, seconds, strict=True) for client in pair]


def _frame(session_id: bytes, sender: bytes, recipient: bytes) -> bytearray:
    message_id = secrets.token_bytes(MESSAGE_ID_SIZE)
    return MessageTemplate(
        session_id=session_id, sender=sender, recipient=recipient, message_id=message_id
    ).frame


async def _throughput(
    clients: list[BenchClient], redis: _Redis, warmup: float, duration: float
) -> dict[str, float]:
    for client in clients:
        client.start(CLOSED_LOOP)
        client.running = True
        client.pending = 16
        client.flush()
    await asyncio.sleep(warmup)
    count, start, commands = sum(c.received for c in clients), perf_counter(), 0
    commands = redis.commands_processed()
    await asyncio.sleep(duration)
    frames = sum(c.received for c in clients) - count
    seconds = perf_counter() - start
    commands = redis.commands_processed() - commands
    for client in clients:
        client.running = False
    await asyncio.sleep(0.5)
    return {
        "frames_per_s": frames / seconds,
        "redis_commands_per_frame": commands / frames if frames else float("nan"),
    }


async def _latency(
    clients: list[BenchClient], rate: float, warmup: float, duration: float
) -> dict[str, Any]:
    recorder = Recorder()
    for client in clients:
        client.recorder = recorder
        client.start(OPEN_LOOP)
    start = perf_counter_ns()
    recorder.start_ns = start + int(warmup * 1e9)
    recorder.stop_ns = recorder.start_ns + int(duration * 1e9)
    offset = len(clients[0].frame) - BODY_BYTES
    sent = index = 0
    while (now := perf_counter_ns()) < recorder.stop_ns:
        due = int((now - start) * rate / 1e9)
        for _ in range(due - sent):
            client = clients[index]
            index = (index + 1) % len(clients)
            STAMP.pack_into(client.frame, offset, perf_counter_ns())
            client.send(client.frame)
        sent = max(sent, due)
        await asyncio.sleep(0.001)
    await asyncio.sleep(0.5)
    summary = latency_summary(recorder.latencies).as_dict()
    return {"p50_ms": (summary["p50_us"] or 0) / 1000, "p99_ms": (summary["p99_us"] or 0) / 1000,
            "latency_samples": summary["count"]}  # fmt: skip


async def _layout(name: str, redis: _Redis, options: argparse.Namespace) -> dict[str, Any]:
    extra = ["--redis", redis.url]
    if name == "2 workers":
        port = _free_port()
        argv = relay_argv(100_000, [*extra, "--workers", "2"])
        argv[argv.index("--port") + 1] = str(port)
        servers = [ServerProcess(name, argv)]
    else:
        count = 1 if name == "1 node" else 2
        servers = [
            ServerProcess(f"{name} {i}", relay_argv(100_000, [*extra, "--node-id", f"b{i}"]))
            for i in range(count)
        ]
    for server in servers:
        await server.__aenter__()
    try:
        ports = [server.port for server in servers]
        pairs = options.connections // 2
        if name == "2 nodes, cross node":
            layout = [(ports[0], ports[1])] * pairs
        else:
            layout = [(ports[i % len(ports)], ports[i % len(ports)]) for i in range(pairs)]
        gc.collect()
        clients = await _open_pairs(layout)
        result: dict[str, Any] = {"layout": name, "connections": len(clients)}
        result.update(await _throughput(clients, redis, options.warmup, options.duration))
        result.update(await _latency(clients, options.rate, options.warmup, options.duration))
        await close_all(clients, 10.0)
        return result
    finally:
        for server in servers:
            children = _children(server.pid)  # --workers: the parent's worker processes
            await server.stop()
            for pid in children:  # a worker still shutting down when its parent was killed
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def _children(pid: int) -> list[int]:
    """The child processes of *pid* (Linux ``/proc``), or none."""
    try:
        return [
            int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        ]
    except (OSError, ValueError):
        return []


def mirror_bytes_per_user(users: int = 20_000) -> dict[str, float]:
    """Bytes of a node's mirror per online user.

    Each user: an address bound on another node, one 2-member session per pair of users, and a
    directory entry.
    """
    from quicko.relay.cluster import ClusterState  # noqa: PLC0415
    from quicko.relay.config import RelayConfig  # noqa: PLC0415

    addresses = [secrets.token_bytes(16) for _ in range(users)]
    ops: list[list[Any]] = [["B", a, "other-node", 1] for a in addresses]
    for i in range(0, users, 2):
        sid = secrets.token_bytes(16)
        ops.append(["SC", sid, secrets.token_bytes(32), "203.0.113.7"])
        ops.append(["SA", sid, addresses[i], "Alice Example"])
        ops.append(["SA", sid, addresses[i + 1], "Bob Example"])
    ops.extend(
        ["DP", a, "Alice Example", secrets.token_bytes(32), secrets.token_bytes(32),
         "wss://chat.example:443/ws", 1_700_000_000_000, secrets.token_bytes(64), "203.0.113.7"]
        for a in addresses
    )  # fmt: skip
    gc.collect()
    tracemalloc.start()
    state = ClusterState(RelayConfig(), "measure")
    before = tracemalloc.get_traced_memory()[0]
    state.apply(ops)
    gc.collect()
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return {"users": users, "bytes_per_user": used / users}


async def run_cluster_bench(options: argparse.Namespace) -> dict[str, Any]:
    """Every layout in turn against one Redis; the machine's facts; the mirror's memory."""
    redis = _Redis()
    try:
        names = [name for name in _LAYOUTS if not options.only or options.only in name]
        layouts = [await _layout(name, redis, options) for name in names]
    finally:
        redis.close()
    return {
        "machine": {"cpus": len(os.sched_getaffinity(0)), "python": sys.version.split()[0]},
        "layouts": layouts,
        "mirror": mirror_bytes_per_user(),
    }


def _table(result: dict[str, Any]) -> str:
    lines = [f"{'layout':<22} {'frames/s':>10} {'redis cmd/frame':>16} {'p50 ms':>8} {'p99 ms':>8}"]
    for row in result["layouts"]:
        lines.append(
            f"{row['layout']:<22} {row['frames_per_s']:>10,.0f} "
            f"{row['redis_commands_per_frame']:>16.3f} {row.get('p50_ms', 0):>8.2f} "
            f"{row.get('p99_ms', 0):>8.2f}"
        )
    mirror = result["mirror"]
    lines.append(f"mirror: {mirror['bytes_per_user']:.0f} bytes per user ({mirror['users']} users)")
    return "\n".join(lines)


def run(options: argparse.Namespace) -> int:
    """Run ``quicko bench cluster`` with its parsed *options* (cli/bench.py); print a table.

    *options*: ``connections``, ``rate``, ``warmup``, ``duration``, ``only`` (a substring of
    the layouts to run, or empty for all) and ``json`` (print the JSON result instead).
    """
    try:
        result = asyncio.run(run_cluster_bench(options))
    except BenchError as exc:
        print(f"quicko bench cluster: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result) if options.json else _table(result))
    return 0
