"""``quicko bench relay|client|startup|faults|cluster``: the benchmarks of docs/performance.md.

``relay``: the relay beside a bare forwarder, under the same load, in one run. ``client``: what
real QuickoClients cost end to end through a real relay (encrypted messages per second, a join by
invite code, a call). ``startup``: how long ``quicko`` commands take to start. The numbers, how
they are measured and the goals are described in docs/performance.md. ``faults``: delivery
latency of real clients after a blackhole and a path change, beside a clean link
(:mod:`quicko.bench.faults`). ``cluster``: relay nodes sharing one Redis
(:mod:`quicko.bench.cluster`). The human output is a table; ``--json`` prints one JSON object
with every number, the raw runs and the machine. Progress lines go to standard error.

The benchmark harness (:mod:`quicko.bench`) is imported only when a benchmark runs, and the
parsers (whose choices come from its report modules) only when ``quicko bench`` is used: every
other command starts without it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from quicko.cli._commands import add_command

if TYPE_CHECKING:
    from argparse import _SubParsersAction

    from quicko.bench.clientreport import ClientBenchOptions
    from quicko.bench.runner import BenchOptions

__all__ = [
    "client_options_from_args",
    "options_from_args",
    "register",
    "run_bench_client",
    "run_bench_faults",
    "run_bench_relay",
    "run_bench_startup",
]

MAX_CONNECTIONS: Final = 15_000
"""Most connections one scenario may open (the load process's file descriptors are limited)."""
MAX_SECONDS: Final = 60.0
"""Longest warm-up or measurement, in seconds."""
MAX_RATE: Final = 1_000_000.0
"""Highest offered rate of the latency scenario, in frames per second."""
MAX_REPEAT: Final = 10
"""Most repetitions of each measurement."""
MAX_MESSAGES: Final = 100_000
"""Most messages of the client benchmark's throughput run."""
MAX_WINDOW: Final = 900
"""Largest window of messages in flight (the client tracks 1,000 outstanding messages)."""
MAX_TEXT_BYTES: Final = 60_000
"""Longest message text of the client benchmark (the protocol allows 64 KiB)."""
MAX_SAMPLES: Final = 200
"""Most joins or calls timed in one run."""
MAX_CLIENT_SECONDS: Final = 600.0
"""Longest bound of one client scenario, in seconds."""
MAX_STARTUP_RUNS: Final = 1000
"""Most timed runs of each command of the start-up benchmark."""
EXIT_FAILED: Final = 1
"""Exit status when a measurement failed (the report shows which)."""
EXIT_INTERRUPTED: Final = 130
"""Exit status after Ctrl+C or SIGTERM."""

_SKIPPABLE: Final = ("throughput", "latency", "memory", "handshakes")


def _bounded_int(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}")
        return value

    return parse


def _bounded_float(low: float, high: float) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not low < value <= high:
            raise argparse.ArgumentTypeError(f"must be above {low:g} and at most {high:g}")
        return value

    return parse


def _even_connections(text: str) -> int:
    count = _bounded_int(2, MAX_CONNECTIONS)(text)
    if count % 2:
        raise argparse.ArgumentTypeError("connections go in pairs: expected an even number")
    return count


def _connection_counts(text: str) -> tuple[int, ...]:
    counts = tuple(_even_connections(part.strip()) for part in text.split(",") if part.strip())
    if not counts:
        raise argparse.ArgumentTypeError("expected a comma-separated list of even numbers")
    return counts


def _add_load_options(parser: argparse.ArgumentParser) -> None:
    connections = _bounded_int(2, MAX_CONNECTIONS)
    seconds = _bounded_float(0.0, MAX_SECONDS)
    add = parser.add_argument
    add(
        "--connections",
        type=_connection_counts,
        metavar="N[,N…]",
        help="throughput connection counts, even (default 100,1000)",
    )
    add(
        "--window",
        type=_bounded_int(1, 1024),
        metavar="N",
        help="frames in flight per connection in the throughput runs (default 16)",
    )
    add("--warmup", type=seconds, metavar="S", help="warm-up before measuring, s (default 1)")
    add("--duration", type=seconds, metavar="S", help="measurement time, s (default 3)")
    add(
        "--latency-connections",
        type=_even_connections,
        metavar="N",
        help="connections of the latency run, even (default 1000)",
    )
    add(
        "--latency-rate",
        type=_bounded_float(0.0, MAX_RATE),
        metavar="R",
        help="offered frames/s of the latency run (default 5000)",
    )
    add(
        "--memory-connections",
        type=connections,
        metavar="N",
        help="idle connections of the memory run (default 10000)",
    )
    add(
        "--handshakes",
        type=connections,
        metavar="N",
        help="handshakes of the handshake run (default 2000)",
    )
    add(
        "--concurrency",
        type=_bounded_int(1, 1024),
        metavar="N",
        help="connections being opened at once (default 64)",
    )
    add("--timeout", type=seconds, metavar="S", help="per setup step, s (default 10)")


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    from quicko.bench.results import SERVERS  # noqa: PLC0415 (start-up time: module docstring)

    add = parser.add_argument
    add(
        "--repeat",
        type=_bounded_int(1, MAX_REPEAT),
        default=1,
        metavar="N",
        help="runs of every measurement; the report shows medians (default 1)",
    )
    add(
        "--server",
        choices=(*SERVERS, "both"),
        default="both",
        help="which servers to measure (default both)",
    )
    for scenario in _SKIPPABLE:
        add(f"--skip-{scenario}", action="store_true", help=f"skip the {scenario} run")
    add("--quick", action="store_true", help="tiny parameters (seconds, for tests)")
    add(
        "--no-pin",
        action="store_true",
        help="do not pin the server and the load generator to one CPU each",
    )
    add(
        "--relay-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="extra argument for `quicko relay` (repeatable, e.g. --relay-arg=--log-level=warning)",
    )
    add(
        "--bare-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="extra argument for the bare forwarder (repeatable, e.g. --bare-arg=--coalesce)",
    )
    add(
        "--acking",
        action="store_true",
        help="the load's clients send Received after each read, as Quicko's client does "
        "(the bare forwarder drops them)",
    )
    add(
        "--baseline",
        type=_baseline_list,
        default=(),
        metavar="NAME[,NAME]",
        help="also measure optional baselines under the same load: nats (Debian's nats-server, "
        "WebSocket, one core), node (a bare forwarder on Node.js ws, installed on demand "
        "with npm); a missing tool is skipped with a message",
    )
    add("--json", action="store_true", help="print one JSON object instead of a table")


def _baseline_list(text: str) -> tuple[str, ...]:
    """``nats,node`` → ``("nats", "node")`` (known names only, each once, report order)."""
    from quicko.bench.results import BASELINE_SERVERS  # noqa: PLC0415 (start-up time)

    names = {name.strip() for name in text.split(",") if name.strip()}
    unknown = names - set(BASELINE_SERVERS)
    if unknown or not names:
        known = ", ".join(BASELINE_SERVERS)
        raise argparse.ArgumentTypeError(f"baselines are {known} (comma-separated)")
    return tuple(name for name in BASELINE_SERVERS if name in names)


def _add_client_options(parser: argparse.ArgumentParser) -> None:
    from quicko.bench.clientreport import CLIENT_SCENARIOS  # noqa: PLC0415 (as above)

    add = parser.add_argument
    count = _bounded_int(1, MAX_SAMPLES)
    add(
        "--messages",
        type=_bounded_int(1, MAX_MESSAGES),
        metavar="N",
        help="messages Alice sends to Bob (default 2000)",
    )
    add(
        "--window",
        type=_bounded_int(1, MAX_WINDOW),
        metavar="N",
        help="messages sent and not yet DELIVERED at most (default 500)",
    )
    add(
        "--text-bytes",
        type=_bounded_int(1, MAX_TEXT_BYTES),
        metavar="N",
        help="length of every message text (default 100)",
    )
    add("--joins", type=count, metavar="K", help="invite-code joins timed (default 20)")
    add("--calls", type=count, metavar="K", help="calls by QuickoKey timed (default 20)")
    add(
        "--timeout",
        type=_bounded_float(0.0, MAX_CLIENT_SECONDS),
        metavar="S",
        help="bound of each scenario, s (default 120; 30 more for set-up)",
    )
    add(
        "--repeat",
        type=_bounded_int(1, MAX_REPEAT),
        default=1,
        metavar="N",
        help="runs of every scenario, each with a fresh relay; medians reported (default 1)",
    )
    for scenario in CLIENT_SCENARIOS:
        add(f"--skip-{scenario}", action="store_true", help=f"skip the {scenario} run")
    add("--quick", action="store_true", help="tiny parameters (seconds, for tests)")
    add("--no-pin", action="store_true", help="do not pin the relay and the clients to a CPU each")
    add(
        "--relay-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="extra argument for `quicko relay` (repeatable)",
    )
    add("--json", action="store_true", help="print one JSON object instead of a table")


def _add_startup_options(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add(
        "--runs",
        type=_bounded_int(1, MAX_STARTUP_RUNS),
        default=30,
        metavar="N",
        help="timed runs of every command; the report shows medians (default 30)",
    )
    add(
        "--warmup",
        type=_bounded_int(0, MAX_STARTUP_RUNS),
        default=3,
        metavar="N",
        help="untimed runs of every command first (default 3)",
    )
    add("--json", action="store_true", help="print one JSON object instead of a table")


def _add_faults_options(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    seconds = _bounded_float(0.5, MAX_SECONDS)
    add("--blackhole", type=seconds, default=10.0, metavar="S",
        help="length of the blackhole in seconds (default 10)")  # fmt: skip
    add("--rate", type=_bounded_float(0.5, 20.0), default=5.0, metavar="N",
        help="texts per second each client sends (default 5)")  # fmt: skip
    add("--after", type=seconds, default=3.0, metavar="S",
        help="seconds of 'right after' a fault, and of the clean baseline (default 3)")  # fmt: skip
    add("--fast", action="store_true",
        help="the fault tests' short client timings instead of the production ones")  # fmt: skip
    add("--relay-arg", action="append", default=[], metavar="ARG",
        help="extra argument for the relay (repeatable)")  # fmt: skip
    add("--json", action="store_true", help="print one JSON object instead of a table")


def register(subparsers: _SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``bench`` command (``bench relay|client|startup|faults``) to the parser."""
    add_command(
        subparsers,
        "bench",
        help="measure performance",
        description="Benchmarks (docs/performance.md).",
        build=_build_parser,
    )


def _build_parser(bench: argparse.ArgumentParser) -> None:
    targets = bench.add_subparsers(dest="bench_target", metavar="TARGET")
    relay = targets.add_parser(
        "relay",
        help="the relay beside a bare forwarder: throughput, latency, memory, handshakes",
        description=(
            "Start the relay and a bare WebSocket forwarder (picows + uvloop) on 127.0.0.1, "
            "drive each with the same authenticated load from a separate process, and report "
            "every number side by side with the ratio relay/bare."
        ),
    )
    _add_load_options(relay)
    _add_run_options(relay)
    relay.set_defaults(handler=run_bench_relay)
    client = targets.add_parser(
        "client",
        help="real clients through a real relay: encrypted messages/s, join and call costs",
        description=(
            "Start the relay on 127.0.0.1 with its limits lifted and drive real QuickoClients "
            "(one event loop in this process) through it: the end-to-end encrypted messages per "
            "second of one pair, and the time of a join by invite code and of a call."
        ),
    )
    _add_client_options(client)
    client.set_defaults(handler=run_bench_client)
    startup = targets.add_parser(
        "startup",
        help="how long quicko commands take to start (median of many runs)",
        description=(
            "Run `python -m quicko --help`, `keygen --json`, `relay --help` and "
            "`session --help` many times each, taking turns with `python -c pass`, and report "
            "the median wall time of each (and its spread) beside the interpreter's own."
        ),
    )
    _add_startup_options(startup)
    startup.set_defaults(handler=run_bench_startup)
    faults = targets.add_parser(
        "faults",
        help="delivery latency after a blackhole and a path change, beside a clean link",
        description=(
            "Start the relay on 127.0.0.1 behind a fault-injecting TCP proxy and let a pair of "
            "real clients chat through it: text latency p50/p99 on a clean link, during and "
            "right after a blackhole, and right after a path change, in one run."
        ),
    )
    _add_faults_options(faults)
    faults.set_defaults(handler=run_bench_faults)
    cluster = targets.add_parser(
        "cluster",
        help="relay nodes sharing one Redis: same-node vs cross-node, 1 vs 2 workers",
        description="docs/performance.md, cluster section (needs redis-server and redis-py).",
    )
    cluster.add_argument("--connections", type=int, default=32, help="per layout (even)")
    cluster.add_argument("--rate", type=float, default=2000.0, help="latency load, frames/s")
    cluster.add_argument("--warmup", type=float, default=1.0, help="seconds before measuring")
    cluster.add_argument("--duration", type=float, default=3.0, help="seconds measured")
    cluster.add_argument("--only", default="", help="only the layouts whose name has this")
    cluster.add_argument("--json", action="store_true", help="print the JSON result only")
    cluster.set_defaults(handler=run_bench_cluster)

    def usage(_: argparse.Namespace) -> int:
        bench.print_help(sys.stderr)
        return 2

    bench.set_defaults(handler=usage)


def options_from_args(args: argparse.Namespace) -> BenchOptions:
    """Bench options from parsed arguments: explicit values over ``--quick`` over defaults."""
    from quicko.bench.results import SERVERS  # noqa: PLC0415 (start-up time: module docstring)
    from quicko.bench.runner import DEFAULTS, QUICK, BenchOptions  # noqa: PLC0415

    base = QUICK if args.quick else DEFAULTS
    names = (
        "connections", "window", "warmup", "duration", "latency_connections", "latency_rate",
        "memory_connections", "handshakes", "concurrency", "timeout",
    )  # fmt: skip
    values = {name: getattr(args, name) for name in names if getattr(args, name) is not None}
    skip = frozenset(s for s in _SKIPPABLE if getattr(args, f"skip_{s}"))
    servers = SERVERS if args.server == "both" else (args.server,)
    return BenchOptions(
        **{**{name: getattr(base, name) for name in names}, **values},
        repeat=args.repeat,
        servers=servers,
        skip=skip,
        pin=not args.no_pin,
        relay_args=tuple(args.relay_arg),
        bare_args=tuple(args.bare_arg),
        acking=args.acking,
        baselines=args.baseline,
    )


def _failed(report: dict[str, object]) -> bool:
    runs = report.get("runs")
    if not isinstance(runs, dict):
        return True
    return any(
        "error" in run for by_server in runs.values() for results in by_server.values()
        for run in results
    )  # fmt: skip


def run_bench_relay(args: argparse.Namespace) -> int:
    """Run ``quicko bench relay``; 0 when every measurement ran (goals met or not)."""
    import asyncio  # noqa: PLC0415 (start-up time: module docstring)
    import json  # noqa: PLC0415

    from quicko.bench.results import format_table  # noqa: PLC0415
    from quicko.bench.runner import run_bench  # noqa: PLC0415

    options = options_from_args(args)
    try:
        report = run_bench(options)
    except (KeyboardInterrupt, asyncio.CancelledError):
        sys.stderr.write("interrupted; every benchmark process has been stopped\n")
        return EXIT_INTERRUPTED
    if args.json:
        sys.stdout.write(json.dumps(report) + "\n")
    else:
        sys.stdout.write(format_table(report) + "\n")
    return EXIT_FAILED if _failed(report) else 0


def client_options_from_args(args: argparse.Namespace) -> ClientBenchOptions:
    """Client bench options from arguments: explicit values over ``--quick`` over defaults."""
    from dataclasses import replace  # noqa: PLC0415 (start-up time: module docstring)

    from quicko.bench.clientreport import (  # noqa: PLC0415
        CLIENT_DEFAULTS,
        CLIENT_QUICK,
        CLIENT_SCENARIOS,
    )

    base = CLIENT_QUICK if args.quick else CLIENT_DEFAULTS
    names = ("messages", "window", "text_bytes", "joins", "calls", "timeout")
    values = {name: getattr(args, name) for name in names if getattr(args, name) is not None}
    return replace(
        base,
        **values,
        repeat=args.repeat,
        skip=frozenset(s for s in CLIENT_SCENARIOS if getattr(args, f"skip_{s}")),
        pin=not args.no_pin,
        relay_args=tuple(args.relay_arg),
    )


def run_bench_client(args: argparse.Namespace) -> int:
    """Run ``quicko bench client``; 0 when every measurement ran."""
    import asyncio  # noqa: PLC0415 (start-up time: module docstring)
    import json  # noqa: PLC0415

    from quicko.bench.clientreport import client_run_errors, format_client_table  # noqa: PLC0415
    from quicko.bench.clientrun import run_client_bench  # noqa: PLC0415

    options = client_options_from_args(args)
    try:
        report = run_client_bench(options)
    except (KeyboardInterrupt, asyncio.CancelledError):
        sys.stderr.write("interrupted; the relay and every client have been stopped\n")
        return EXIT_INTERRUPTED
    if args.json:
        sys.stdout.write(json.dumps(report) + "\n")
    else:
        sys.stdout.write(format_client_table(report) + "\n")
    return EXIT_FAILED if client_run_errors(report.get("runs")) else 0


def run_bench_startup(args: argparse.Namespace) -> int:
    """Run ``quicko bench startup``; 0 when every command ran (goal met or not)."""
    import json  # noqa: PLC0415 (start-up time: module docstring)

    from quicko.bench.startup import (  # noqa: PLC0415
        StartupError,
        StartupOptions,
        format_startup_table,
        run_startup_bench,
    )

    try:
        report = run_startup_bench(StartupOptions(runs=args.runs, warmup=args.warmup))
    except StartupError as exc:
        sys.stderr.write(f"quicko bench startup: {exc}\n")
        return EXIT_FAILED
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return EXIT_INTERRUPTED
    if args.json:
        sys.stdout.write(json.dumps(report) + "\n")
    else:
        sys.stdout.write(format_startup_table(report) + "\n")
    return 0


def run_bench_faults(args: argparse.Namespace) -> int:
    """Run ``quicko bench faults``; 0 when every scenario ran."""
    import asyncio  # noqa: PLC0415 (start-up time: module docstring)
    import json  # noqa: PLC0415

    from quicko.bench.faults import (  # noqa: PLC0415
        FaultBenchOptions,
        format_faults_table,
        run_faults_bench,
    )

    options = FaultBenchOptions(
        blackhole_s=args.blackhole, rate=args.rate, clean_s=args.after, after_s=args.after,
        fast=args.fast, relay_args=tuple(args.relay_arg),
    )  # fmt: skip
    try:
        report = run_faults_bench(options)
    except (KeyboardInterrupt, asyncio.CancelledError):
        sys.stderr.write("interrupted; the relay and every client have been stopped\n")
        return EXIT_INTERRUPTED
    sys.stdout.write((json.dumps(report) if args.json else format_faults_table(report)) + "\n")
    results = report["results"]
    failed = not isinstance(results, dict) or any("error" in r for r in results.values())
    return EXIT_FAILED if failed else 0


def run_bench_cluster(args: argparse.Namespace) -> int:
    """Run ``quicko bench cluster`` (:mod:`quicko.bench.cluster`)."""
    from quicko.bench.cluster import run  # noqa: PLC0415

    return run(args)
