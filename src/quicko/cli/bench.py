"""``quicko bench relay``: the relay beside a bare forwarder, under the same load, in one run.

The numbers, how they are measured and the goals are described in docs/performance.md. The
human output is a table; ``--json`` prints one JSON object with every number, the ratios, the
raw runs and the machine. Progress lines go to standard error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from quicko.bench.results import SERVERS, format_table
from quicko.bench.runner import DEFAULTS, QUICK, BenchOptions, run_bench

if TYPE_CHECKING:
    from argparse import _SubParsersAction

__all__ = ["options_from_args", "register", "run_bench_relay"]

MAX_CONNECTIONS: Final = 15_000
"""Most connections one scenario may open (the load process's file descriptors are limited)."""
MAX_SECONDS: Final = 60.0
"""Longest warm-up or measurement, in seconds."""
MAX_RATE: Final = 1_000_000.0
"""Highest offered rate of the latency scenario, in frames per second."""
MAX_REPEAT: Final = 10
"""Most repetitions of each measurement."""
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
    add("--json", action="store_true", help="print one JSON object instead of a table")


def register(subparsers: _SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``bench`` command (with its ``relay`` sub-command) to the ``quicko`` parser."""
    bench = subparsers.add_parser(
        "bench", help="measure performance", description="Benchmarks (docs/performance.md)."
    )
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

    def usage(_: argparse.Namespace) -> int:
        bench.print_help(sys.stderr)
        return 2

    bench.set_defaults(handler=usage)


def options_from_args(args: argparse.Namespace) -> BenchOptions:
    """Bench options from parsed arguments: explicit values over ``--quick`` over defaults."""
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
