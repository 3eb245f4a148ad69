"""A bounded soak of the relay: open and close many connections, round after round.

``python -m quicko.bench.soak --connections 10000 --rounds 5`` starts a relay process (as
``quicko bench relay`` does: ``python -m quicko relay`` on 127.0.0.1 port 0 with every limit
that would throttle the load lifted, pinned to one CPU when there are two), then runs
*rounds* rounds from this process. Each round opens ``--connections`` authenticated
connections in joined pairs (64 at a time), sends ``--messages`` MESSAGE frames from every
connection to its peer (acknowledged with ``Received``, as Quicko's clients do) and waits
until all are delivered, closes every connection and waits until the relay reports that it
holds nothing any more (``/health``: no connection, session, directory entry or buffered
frame; ``--state-ttl``, 1 s by default, shortens how long it keeps away members and directory
entries, 60 s and 10 min by default). It then reads the relay's resident memory (``VmRSS``)
and its collector's record (``/health``'s ``gc``: objects frozen, freezes, collections,
longest pauses).

What it shows: with the relay's freeze policy (it freezes the survivors of new connections,
``quicko.relay.collector.GcPauses.freeze``), the frozen count must come back to the same level
after every round (a frozen object that stays after its connection closed would be a leak:
frozen objects are freed by reference counting only), and the memory must level off rather
than grow round after round. It prints one line per round (or ``--json``); it asserts nothing
(the tests do: tests/integration/test_relay_gc.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Final

import uvloop

from quicko.bench.client import DRAIN, BenchError, close_all
from quicko.bench.load import HOST, open_pairs, read_rss
from quicko.bench.procs import ServerProcess, relay_argv

__all__ = ["build_parser", "main", "soak"]

_MARGIN: Final = 64
_STEP_S: Final = 0.05
_DRAIN_TIMEOUT_S: Final = 30.0
_CLOSE_TIMEOUT_S: Final = 30.0
_HTTP_TIMEOUT_S: Final = 5.0
#: What ``/health`` must count as zero before a round is sampled: the relay holds nothing.
_EMPTY: Final = ("connections", "sessions", "directory_entries", "buffered_frames")

Round = dict[str, float | int | None]


async def _wait(condition: str, check: Callable[[], Awaitable[bool]], timeout: float) -> None:
    """Await ``check()`` every 50 ms until it is true, at most *timeout* s."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise BenchError(f"soak: {condition} not reached within {timeout} s")
        await asyncio.sleep(_STEP_S)


async def _health(port: int) -> dict[str, object]:
    """The relay's ``/health`` document."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, port), _HTTP_TIMEOUT_S)
    try:
        writer.write(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        raw = await asyncio.wait_for(reader.read(), _HTTP_TIMEOUT_S)  # it closes after
    finally:
        writer.close()
    document = json.loads(raw.partition(b"\r\n\r\n")[2])
    if not isinstance(document, dict):
        raise BenchError("soak: /health is not a JSON object")
    return document


async def _one_round(args: argparse.Namespace, messages: int) -> None:
    clients = await open_pairs(args, args.connections // 2)
    try:
        for client in clients:
            client.start(DRAIN)
            client.acking = True
        for _ in range(messages):
            for client in clients:
                client.send(client.frame)
        total = len(clients) * messages

        async def delivered() -> bool:
            return sum(client.received for client in clients) >= total

        await _wait("delivery of every frame", delivered, _DRAIN_TIMEOUT_S)
    finally:
        await close_all(clients, _CLOSE_TIMEOUT_S)


def _sample(number: int, started: float, pid: int, health: dict[str, object]) -> Round:
    found = health.get("gc")
    gc_record: dict[str, object] = found if isinstance(found, dict) else {}

    def number_of(key: str) -> float | int | None:
        value = gc_record.get(key)
        return value if isinstance(value, int | float) and not isinstance(value, bool) else None

    found_generations = gc_record.get("by_generation")
    generations: list[int | None] = [None, None, None]
    if isinstance(found_generations, list) and len(found_generations) == len(generations):
        generations = [value if isinstance(value, int) else None for value in found_generations]
    return {
        "round": number,
        "seconds": round(time.monotonic() - started, 2),
        "rss_bytes": read_rss(pid),
        "frozen": number_of("frozen"),
        "freezes": number_of("freezes"),
        "collections": number_of("collections"),
        # Of those, the automatic ones (each freeze's collection is a full one).
        "young": generations[0],
        "middle": generations[1],
        "freeze_max_us": number_of("freeze_max_us"),
        "pause_max_us": number_of("pause_max_us"),
    }


async def soak(options: argparse.Namespace) -> list[Round]:
    """Run the soak described by *options* (see :func:`build_parser`); one record per round.

    Round 0 is the relay before any connection (after one warm-up pair was opened and closed).
    """
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    pin = len(cpus) >= 2 and not options.no_pin
    if pin:
        os.sched_setaffinity(0, {cpus[1]})
    ttl = str(options.state_ttl)
    ttls = ("--buffer-ttl", ttl, "--directory-ttl", ttl, "--directory-new-ttl", ttl)
    argv = relay_argv(options.connections + _MARGIN, [*ttls, *options.relay_arg])
    async with ServerProcess("relay", argv, cpu=cpus[0] if pin else None) as relay:
        args = argparse.Namespace(
            port=relay.port,
            server="relay",
            timeout=options.timeout,
            concurrency=options.concurrency,
            connections=2,
        )

        async def all_closed() -> bool:
            health = await _health(relay.port)
            return all(health.get(key) == 0 for key in _EMPTY)

        settle_s = _CLOSE_TIMEOUT_S + options.state_ttl

        await _one_round(args, 1)  # one-time allocations (modules, caches) before round 0
        await _wait("an empty relay", all_closed, settle_s)
        rounds = [_sample(0, time.monotonic(), relay.pid, await _health(relay.port))]
        args.connections = options.connections
        for number in range(1, options.rounds + 1):
            started = time.monotonic()
            await _one_round(args, options.messages)
            await _wait("an empty relay", all_closed, settle_s)
            rounds.append(_sample(number, started, relay.pid, await _health(relay.port)))
            if not options.json:
                sys.stderr.write(_line(rounds[-1]) + "\n")
        return rounds


def _line(record: Round) -> str:
    rss = record["rss_bytes"]
    mib = f"{rss / 2**20:8.1f} MiB" if isinstance(rss, int) else "       ? MiB"
    return (
        f"round {record['round']:>3}: RSS {mib}, frozen {record['frozen']}, "
        f"freezes {record['freezes']} (longest {record['freeze_max_us']} µs), "
        f"collections {record['collections']} (young {record['young']}, middle "
        f"{record['middle']}; longest {record['pause_max_us']} µs), {record['seconds']} s"
    )


def build_parser() -> argparse.ArgumentParser:
    """The soak's command line."""
    parser = argparse.ArgumentParser(
        prog="python -m quicko.bench.soak",
        description="Open and close many relay connections, round after round, and report "
        "the relay's memory and frozen objects after each round.",
    )
    parser.add_argument("--connections", type=int, default=10_000, help="per round, even")
    parser.add_argument("--rounds", type=int, default=5, help="rounds (default 5)")
    parser.add_argument("--messages", type=int, default=4, help="frames each connection sends")
    parser.add_argument("--concurrency", type=int, default=64, help="connections being opened")
    parser.add_argument("--timeout", type=float, default=10.0, help="per setup step (s)")
    parser.add_argument(
        "--state-ttl",
        type=float,
        default=1.0,
        help="the relay's --buffer-ttl, --directory-ttl and --directory-new-ttl (s): how long "
        "it keeps away members and directory entries after a round (default 1)",
    )
    parser.add_argument("--no-pin", action="store_true", help="do not pin to one CPU each")
    parser.add_argument(
        "--relay-arg", action="append", default=[], metavar="ARG", help="extra relay argument"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the soak; the rounds on standard error as they end, a summary (or JSON) on stdout."""
    options = build_parser().parse_args(argv)
    if options.connections < 2 or options.connections % 2 or options.rounds < 1:
        sys.stderr.write("soak: --connections must be even and ≥ 2, --rounds ≥ 1\n")
        return 2
    try:
        rounds = uvloop.run(soak(options))
    except (BenchError, OSError, TimeoutError, ExceptionGroup) as exc:
        sys.stderr.write(f"soak failed: {type(exc).__name__}: {exc}\n")
        return 1
    if options.json:
        sys.stdout.write(json.dumps({"connections": options.connections, "rounds": rounds}) + "\n")
    else:
        for record in rounds:
            sys.stdout.write(_line(record) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
