"""The load generator process: ``python -m quicko.bench.load <scenario> [options]``.

It runs one scenario against a server on 127.0.0.1 (the relay, the bare forwarder, or a
baseline: ``node`` speaks the bare forwarder's protocol, ``nats`` is driven through
:mod:`quicko.bench.natsload`) and prints one JSON object on standard output. Every connection
of a scenario first does the real handshake (Challenge → Hello signed with its own fresh
identity → HelloAck); paired connections then Join the same session (a fresh session id, no
nameplate) and send each other pre-encoded MESSAGE frames with 256-byte bodies:

- ``throughput``: closed loop, *window* frames in flight per connection; each MESSAGE the
  peer receives lets the sender send one more. Counted: MESSAGE frames received during the
  measurement, after a warm-up.
- ``latency``: open loop, paced at *rate* frames/s in total, round-robin over the
  connections; the send time (``time.perf_counter_ns``) is stamped into the body and compared
  on receipt, in this same process.
- ``memory``: the server's RSS (``/proc/<pid>/status``) before and after opening N idle
  authenticated connections.
- ``handshakes``: N connect + Challenge + Hello + HelloAck, at most *concurrency* in flight.

Every loop is bounded in count and in time; the whole scenario runs under ``--deadline``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import secrets
import sys
from collections.abc import Mapping, Sequence
from time import perf_counter, perf_counter_ns
from typing import Final

import uvloop

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
from quicko.bench.natsload import open_nats, open_nats_pairs
from quicko.bench.stats import (
    latency_summary,
    parse_cpu_ticks,
    parse_vm_rss,
    stall_percentile,
)
from quicko.bench.wire import BODY_BYTES, STAMP, MessageTemplate
from quicko.crypto.ed25519 import Ed25519KeyPair
from quicko.identity import Identity
from quicko.protocol import MESSAGE_ID_SIZE, SESSION_ID_SIZE

__all__ = [
    "HOST",
    "CpuMeter",
    "build_parser",
    "gc_before_window",
    "gc_in_window",
    "main",
    "open_pairs",
    "read_rss",
    "server_gc",
    "server_url",
]

HOST: Final = "127.0.0.1"
"""The only host the load generator ever connects to."""

_TICK_S: Final = 0.001
#: How long before the latency window the relay's collector counts are read (see run_latency).
_GC_SAMPLE_LEAD_NS: Final = 200_000_000
_SETTLE_STEP_S: Final = 0.1
_SETTLE_MAX_S: Final = 3.0
_MEMORY_WARM_CONNECTIONS: Final = 64
_CLOSE_TIMEOUT_S: Final = 10.0

Result = dict[str, float | int | str | None]


def server_url(port: int, server: str, pair: int | None) -> str:
    """The WebSocket URL of connection *pair* (``None``: unpaired) on *server*."""
    if server == "relay" or pair is None:
        return f"ws://{HOST}:{port}/ws"
    return f"ws://{HOST}:{port}/pair/{pair}"


def read_rss(pid: int) -> int:
    """The resident set size of process *pid*, in bytes (Linux ``/proc``)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        return parse_vm_rss(status.read())


def _cpu_ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
        return parse_cpu_ticks(stat.read())


class CpuMeter:
    """CPU use of the server and of this process over a measurement, in % of one core."""

    __slots__ = ("_own", "_server", "_server_pid", "_start")

    def __init__(self, server_pid: int) -> None:
        """Take the starting sample (the server is not sampled when *server_pid* is 0)."""
        self._server_pid = server_pid
        self._start = perf_counter()
        self._own = _cpu_ticks(os.getpid())
        self._server = _cpu_ticks(server_pid) if server_pid else 0

    def result(self) -> Result:
        """CPU % of the server and of the load since the meter was made."""
        elapsed = perf_counter() - self._start
        per_tick = 100 / os.sysconf("SC_CLK_TCK") / elapsed
        own = (_cpu_ticks(os.getpid()) - self._own) * per_tick
        if not self._server_pid:
            return {"load_cpu_pct": own, "server_cpu_pct": None}
        server = (_cpu_ticks(self._server_pid) - self._server) * per_tick
        return {"load_cpu_pct": own, "server_cpu_pct": server}


def _identities(count: int) -> list[Identity]:
    return [Identity.generate(secrets.token_bytes) for _ in range(count)]


async def _open(args: argparse.Namespace, identity: Identity, pair: int | None) -> BenchClient:
    if args.server == "nats":
        return await open_nats(server_url(args.port, args.server, None), args.timeout)
    client = BenchClient()
    url = server_url(args.port, args.server, pair)
    await connect(url, client, args.timeout)
    await authenticate(client, identity, args.timeout, relay_url=url)
    return client


async def open_pairs(args: argparse.Namespace, pairs: int) -> list[BenchClient]:
    """Open *pairs* pairs of joined connections; return them flat, peers linked, frames built."""
    if args.server == "nats":
        url = server_url(args.port, args.server, None)
        return [*await open_nats_pairs(url, pairs, args.timeout, args.concurrency)]
    identities = _identities(2 * pairs)
    sessions = [secrets.token_bytes(SESSION_ID_SIZE) for _ in range(pairs)]
    keys = [Ed25519KeyPair.generate(secrets.token_bytes) for _ in range(pairs)]

    async def open_member(index: int) -> BenchClient:
        client = await _open(args, identities[index], index // 2)
        pair = index // 2
        await join(client, identities[index], sessions[pair], keys[pair], args.timeout)
        return client

    # All first members join before any second one, so each second member finds its peer.
    firsts = await bounded_map(open_member, range(0, 2 * pairs, 2), args.concurrency)
    seconds = await bounded_map(open_member, range(1, 2 * pairs, 2), args.concurrency)
    for index, (first, second) in enumerate(zip(firsts, seconds, strict=True)):
        a, b = identities[2 * index].address, identities[2 * index + 1].address
        first.peer, second.peer = second, first
        first.frame = _template(sessions[index], a, b)
        second.frame = _template(sessions[index], b, a)
    return [client for pair in zip(firsts, seconds, strict=True) for client in pair]


def _template(session_id: bytes, sender: bytes, recipient: bytes) -> bytearray:
    message_id = secrets.token_bytes(MESSAGE_ID_SIZE)
    template = MessageTemplate(
        session_id=session_id, sender=sender, recipient=recipient, message_id=message_id
    )
    return template.frame


async def server_gc(args: argparse.Namespace) -> dict[str, object] | None:
    """The relay's collector counts (``/health``'s ``gc``), or ``None`` (bare, or no answer)."""
    if args.server != "relay":
        return None
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(HOST, args.port), args.timeout
        )
        try:
            writer.write(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            raw = await asyncio.wait_for(reader.read(), args.timeout)  # it closes after
        finally:
            writer.close()
        document = json.loads(raw.partition(b"\r\n\r\n")[2])
    except (OSError, TimeoutError, ValueError):
        return None
    found = document.get("gc") if isinstance(document, dict) else None
    return found if isinstance(found, dict) else None


async def _server_gc_at(args: argparse.Namespace, when_ns: int) -> dict[str, object] | None:
    """:func:`server_gc` at ``perf_counter_ns()`` *when_ns* (at once if that has passed)."""
    await asyncio.sleep(max(0.0, (when_ns - perf_counter_ns()) / 1e9))
    return await server_gc(args)


def gc_in_window(before: Mapping[str, object] | None, after: Mapping[str, object] | None) -> Result:
    """The relay's collections between two :func:`server_gc` samples, and their pauses.

    ``gc_pause_max_us`` is exact when at most 64 collections ran between the samples (the
    relay lists its latest 64 pauses), else it is the largest of those 64.
    """
    if before is None or after is None:
        return {
            "gc_collections": None,
            "gc_pause_total_us": None,
            "gc_pause_max_us": None,
            "gc_by_generation": None,
            "gc_freezes": None,
        }
    count = _as_float(after.get("collections")) - _as_float(before.get("collections"))
    total = _as_float(after.get("pause_total_us")) - _as_float(before.get("pause_total_us"))
    recent = after.get("recent_pause_us")
    pauses = [_as_float(p) for p in recent] if isinstance(recent, list) else []
    in_window = pauses[len(pauses) - int(count) :] if count > 0 else []
    later, earlier = _as_list(after.get("by_generation")), _as_list(before.get("by_generation"))
    generations = [int(_as_float(a) - _as_float(b)) for a, b in zip(later, earlier, strict=False)]
    freezes = int(_as_float(after.get("freezes")) - _as_float(before.get("freezes")))
    return {
        "gc_collections": int(count),
        "gc_pause_total_us": round(total, 1),
        "gc_pause_max_us": max(in_window, default=0.0),
        "gc_by_generation": json.dumps(generations),
        # Each freeze's collection is one of gc_collections (a full one, generation 2).
        "gc_freezes": freezes,
    }


def gc_before_window(before: Mapping[str, object] | None) -> Result:
    """The relay's freezes before a measured window (while its connections were opened).

    ``setup_freeze_max_us`` is the longest (collection and ``gc.freeze()``), ``None`` for a
    relay that does not report them (or the bare forwarder).
    """
    if before is None or "freezes" not in before:
        return {"setup_freezes": None, "setup_freeze_max_us": None}
    return {
        "setup_freezes": int(_as_float(before.get("freezes"))),
        "setup_freeze_max_us": _as_float(before.get("freeze_max_us")),
    }


def _as_list(value: object) -> list[object]:
    return list(value) if isinstance(value, list) else []


def _as_float(value: object) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


def _quiet_gc() -> None:
    """Keep the load's own collector out of the measurement."""
    gc.collect()
    gc.freeze()
    gc.disable()


async def _settle(clients: Sequence[BenchClient]) -> None:
    """Wait (bounded) until no more frames arrive, so that in-flight frames are drained."""
    last = -1
    for _ in range(int(_SETTLE_MAX_S / _SETTLE_STEP_S)):
        now = sum(client.received for client in clients)
        if now == last:
            return
        last = now
        await asyncio.sleep(_SETTLE_STEP_S)


def _health(clients: Sequence[BenchClient]) -> Result:
    """Counters of everything but forwarded frames (read after the in-flight frames drained)."""
    first_error = next((c.first_error for c in clients if c.first_error is not None), None)
    return {
        "undelivered": sum(c.sent for c in clients) - sum(c.received for c in clients),
        "acks": sum(client.acks for client in clients),
        "other_frames": sum(client.others for client in clients),
        "disconnects": sum(client.disconnected for client in clients),
        "first_error": first_error.hex() if first_error is not None else None,
    }


async def run_throughput(args: argparse.Namespace) -> Result:
    """Closed-loop forwarding rate between ``args.connections`` connections."""
    clients = await open_pairs(args, args.connections // 2)
    for client in clients:
        client.start(CLOSED_LOOP)
        client.acking = args.acking
        client.running = True
    _quiet_gc()
    for client in clients:
        client.pending = args.window
        client.flush()
    await asyncio.sleep(args.warmup)
    gc_before = await server_gc(args)
    start_count, start = sum(c.received for c in clients), perf_counter()
    meter = CpuMeter(args.server_pid)
    await asyncio.sleep(args.duration)
    stop_count, stop = sum(c.received for c in clients), perf_counter()
    cpu = meter.result()
    gc_after = await server_gc(args)
    for client in clients:
        client.running = False
    gc.enable()
    await _settle(clients)
    result: Result = {
        "connections": len(clients),
        "window": args.window,
        "frames": stop_count - start_count,
        "seconds": stop - start,
        "frames_per_s": (stop_count - start_count) / (stop - start),
    }
    result.update(cpu)
    result.update(gc_in_window(gc_before, gc_after))
    result.update(_health(clients))
    await close_all(clients, _CLOSE_TIMEOUT_S)
    return result


async def _pace(clients: Sequence[BenchClient], rate: float, recorder: Recorder) -> Result:
    """Send frames round-robin at *rate* per second until ``recorder.stop_ns``.

    Also reports how far the pacer fell behind: the largest backlog of due frames and the
    longest gap between two ticks (a stall of this process or of the machine).
    """
    start = last = perf_counter_ns()
    offset = len(clients[0].frame) - BODY_BYTES
    limit = int(rate * (recorder.stop_ns - start) / 1e9) + 1
    sent = in_window = max_backlog = max_gap = index = 0
    gaps: list[int] = []  # between ticks that ended inside the recorded window
    while sent < limit:
        now = perf_counter_ns()
        if now >= recorder.stop_ns:
            break
        gap, last = now - last, now
        max_gap = max(max_gap, gap)
        if now > recorder.start_ns:
            gaps.append(gap)
        due = min(limit, int((now - start) * rate / 1e9))
        max_backlog = max(max_backlog, due - sent)
        for _ in range(due - sent):
            client = clients[index]
            index = index + 1 if index + 1 < len(clients) else 0
            stamped = perf_counter_ns()
            STAMP.pack_into(client.frame, offset, stamped)
            client.send(client.frame)
            # The recipient records only frames stamped in [start, stop): count the same ones
            # (a burst can run past stop on a loaded machine; such a frame is not lost).
            in_window += recorder.start_ns <= stamped < recorder.stop_ns
        sent = max(sent, due)
        await asyncio.sleep(_TICK_S)
    period_ns = int(_TICK_S * 1e9)
    return {
        "sent": sent,
        "sent_in_window": in_window,
        "max_backlog": max_backlog,
        "max_tick_gap_ms": max_gap / 1e6,
        # The load's own tail (its process or the machine stalled), as a frame would feel it.
        "stall_p99_us": stall_percentile(gaps, period_ns, 99) if gaps else None,
        "stall_p999_us": stall_percentile(gaps, period_ns, 99.9) if gaps else None,
    }


async def run_latency(args: argparse.Namespace) -> Result:
    """Open-loop latency percentiles at ``args.rate`` frames/s over ``args.connections``."""
    clients = await open_pairs(args, args.connections // 2)
    recorder = Recorder()
    for client in clients:
        client.recorder = recorder
        client.start(OPEN_LOOP)
        client.acking = args.acking
    _quiet_gc()
    now = perf_counter_ns()
    recorder.start_ns = now + int(args.warmup * 1e9)
    recorder.stop_ns = recorder.start_ns + int(args.duration * 1e9)
    # The relay's collector is sampled near the end of the warm-up (the freezes of its last
    # connections are done by then), so that what the window reports ran while it recorded.
    sample = asyncio.ensure_future(_server_gc_at(args, recorder.start_ns - _GC_SAMPLE_LEAD_NS))
    meter = CpuMeter(args.server_pid)
    try:
        paced = await _pace(clients, args.rate, recorder)
    except BaseException:
        sample.cancel()
        raise
    paced.update(meter.result())
    gc_before = await sample
    paced.update(gc_in_window(gc_before, await server_gc(args)))
    paced.update(gc_before_window(gc_before))
    gc.enable()
    await _settle(clients)
    summary = latency_summary(recorder.latencies)
    result: Result = {"connections": len(clients), "rate": args.rate, "seconds": args.duration}
    result.update(paced)
    result.update(summary.as_dict())
    result["lost"] = int(paced["sent_in_window"] or 0) - summary.count
    result.update(_health(clients))
    await close_all(clients, _CLOSE_TIMEOUT_S)
    return result


async def _open_many(args: argparse.Namespace, identities: Sequence[Identity]) -> list[BenchClient]:
    return await bounded_map(lambda i: _open(args, i, None), identities, args.concurrency)


async def run_memory(args: argparse.Namespace) -> Result:
    """Server RSS growth per idle authenticated connection."""
    identities = _identities(_MEMORY_WARM_CONNECTIONS + args.connections)
    warm = await _open_many(args, identities[:_MEMORY_WARM_CONNECTIONS])
    await close_all(warm, _CLOSE_TIMEOUT_S)
    await asyncio.sleep(args.settle)
    if not args.server_pid:
        raise BenchError("the memory scenario needs --server-pid")
    before = read_rss(args.server_pid)
    start = perf_counter()
    clients = await _open_many(args, identities[_MEMORY_WARM_CONNECTIONS:])
    opened = perf_counter() - start
    await asyncio.sleep(args.settle)
    after = read_rss(args.server_pid)
    result: Result = {
        "connections": len(clients),
        "rss_before": before,
        "rss_after": after,
        "bytes_per_connection": (after - before) / len(clients),
        "open_seconds": opened,
        "disconnects": sum(client.disconnected for client in clients),
    }
    await close_all(clients, _CLOSE_TIMEOUT_S)
    return result


async def run_handshakes(args: argparse.Namespace) -> Result:
    """Connect + Challenge + Hello + HelloAck rate, ``args.concurrency`` in flight."""
    identities = _identities(args.count)
    start = perf_counter()
    meter = CpuMeter(args.server_pid)
    clients = await _open_many(args, identities)
    elapsed = perf_counter() - start
    result: Result = {
        "handshakes": len(clients),
        "concurrency": args.concurrency,
        "seconds": elapsed,
        "handshakes_per_s": len(clients) / elapsed,
    }
    result.update(meter.result())
    await close_all(clients, _CLOSE_TIMEOUT_S)
    return result


_SCENARIOS: Final = {
    "throughput": run_throughput,
    "latency": run_latency,
    "memory": run_memory,
    "handshakes": run_handshakes,
}


def build_parser() -> argparse.ArgumentParser:
    """The load generator's command line (one sub-command per scenario)."""
    parser = argparse.ArgumentParser(prog="python -m quicko.bench.load")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--port", type=int, required=True)
    common.add_argument("--server", choices=("relay", "bare", "nats", "node"), required=True)
    common.add_argument("--timeout", type=float, default=10.0, help="per setup step (s)")
    common.add_argument("--deadline", type=float, default=300.0, help="whole scenario (s)")
    common.add_argument("--concurrency", type=int, default=64, help="connections being opened")
    common.add_argument("--server-pid", type=int, default=0, help="for RSS and CPU (0: none)")
    common.add_argument(
        "--acking", action="store_true", help="clients send Received after each read"
    )
    sub = parser.add_subparsers(dest="scenario", required=True)
    throughput = sub.add_parser("throughput", parents=[common])
    throughput.add_argument("--connections", type=int, required=True)
    throughput.add_argument("--window", type=int, default=16)
    throughput.add_argument("--warmup", type=float, default=1.0)
    throughput.add_argument("--duration", type=float, default=3.0)
    latency = sub.add_parser("latency", parents=[common])
    latency.add_argument("--connections", type=int, required=True)
    latency.add_argument("--rate", type=float, default=5000.0)
    latency.add_argument("--warmup", type=float, default=1.0)
    latency.add_argument("--duration", type=float, default=3.0)
    memory = sub.add_parser("memory", parents=[common])
    memory.add_argument("--connections", type=int, required=True)
    memory.add_argument("--settle", type=float, default=1.0)
    handshakes = sub.add_parser("handshakes", parents=[common])
    handshakes.add_argument("--count", type=int, required=True)
    return parser


async def _run(args: argparse.Namespace) -> Result:
    async with asyncio.timeout(args.deadline):
        return await _SCENARIOS[args.scenario](args)


def _leaf(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def main(argv: Sequence[str] | None = None) -> int:
    """Run one scenario and print its result as one JSON line; 1 on failure."""
    args = build_parser().parse_args(argv)
    try:
        result = uvloop.run(_run(args))
    except (BenchError, OSError, TimeoutError, ExceptionGroup) as exc:
        leaf = _leaf(exc)
        sys.stderr.write(f"load {args.scenario} failed: {type(leaf).__name__}: {leaf}\n")
        return 1
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
