"""The benchmark run: a fresh server process and a load generator process per measurement.

Scenarios run in a fixed order (throughput at each connection count, latency, memory,
handshakes); within one repetition of a scenario the relay, the bare forwarder and the optional
baselines (NATS, Node.js ``ws``: :mod:`.baselines`) run one after the other, so that slow drifts
of the machine hit all of them. A baseline whose tools are missing is skipped with one line.
Every server starts fresh, so that no measurement inherits another's memory or connections. A
failed run is recorded as ``{"error": …}`` and the benchmark goes on with the next one.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import signal
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import Final, TextIO

from quicko import __version__
from quicko.bench.baselines import Launch, prepare_baselines
from quicko.bench.client import BenchError
from quicko.bench.procs import ServerProcess, bare_argv, relay_argv, run_load
from quicko.bench.results import BASELINE_SERVERS, SERVERS, build_report

__all__ = ["DEFAULTS", "QUICK", "SCENARIOS", "BenchOptions", "machine_info", "run_bench"]

SCENARIOS: Final = ("throughput", "latency", "memory", "handshakes")
"""Scenario kinds, in run order."""

_SETUP_S_PER_CONNECTION: Final = 0.01
_DEADLINE_MARGIN_S: Final = 30.0
_CONNECTION_MARGIN: Final = 1000

_Launches = Mapping[str, Launch]


@dataclass(frozen=True, slots=True)
class BenchOptions:
    """Parameters of a benchmark run (the defaults are the full run of docs/performance.md)."""

    connections: tuple[int, ...] = (100, 1000)
    window: int = 16
    warmup: float = 1.0
    duration: float = 3.0
    latency_connections: int = 1000
    latency_rate: float = 5000.0
    memory_connections: int = 10_000
    handshakes: int = 2000
    concurrency: int = 64
    repeat: int = 1
    servers: tuple[str, ...] = SERVERS
    skip: frozenset[str] = field(default_factory=frozenset)
    pin: bool = True
    relay_args: tuple[str, ...] = ()
    bare_args: tuple[str, ...] = ()
    timeout: float = 10.0
    #: The load's clients acknowledge (``Received`` after each read), as Quicko's do.
    acking: bool = False
    #: Optional baseline servers measured after the others (:data:`~.results.BASELINE_SERVERS`).
    baselines: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        """The options as a JSON-ready dictionary."""
        values = asdict(self)
        values["skip"] = sorted(self.skip)
        return values


DEFAULTS: Final = BenchOptions()
"""The full run."""

QUICK: Final = replace(
    DEFAULTS,
    connections=(4,),
    window=4,
    warmup=0.2,
    duration=0.3,
    latency_connections=4,
    latency_rate=200.0,
    memory_connections=16,
    handshakes=16,
    concurrency=8,
)
"""Tiny parameters, for tests and a first look."""


@dataclass(frozen=True, slots=True)
class _Run:
    """One load invocation: its scenario key, load arguments and the connections it opens."""

    key: str
    args: tuple[str, ...]
    connections: int
    seconds: float


def _plan(options: BenchOptions) -> list[_Run]:
    runs: list[_Run] = []
    timing = ("--warmup", str(options.warmup), "--duration", str(options.duration))
    measured = options.warmup + options.duration
    if "throughput" not in options.skip:
        for count in options.connections:
            args = ("throughput", "--connections", str(count), "--window", str(options.window))
            runs.append(_Run(f"throughput_{count}", (*args, *timing), count, measured))
    if "latency" not in options.skip:
        count = options.latency_connections
        args = ("latency", "--connections", str(count), "--rate", str(options.latency_rate))
        runs.append(_Run("latency", (*args, *timing), count, measured))
    if "memory" not in options.skip:
        count = options.memory_connections
        runs.append(_Run("memory", ("memory", "--connections", str(count)), count, 2.0))
    if "handshakes" not in options.skip:
        count = options.handshakes
        runs.append(_Run("handshakes", ("handshakes", "--count", str(count)), count, 0.0))
    return runs


def _cpus(pin: bool) -> tuple[int | None, int | None]:
    """CPUs for (server, load): two distinct ones when pinning is possible."""
    available = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if not pin or len(available) < 2:
        return None, None
    return available[0], available[1]


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str | None:
    with (
        contextlib.suppress(OSError),
        open("/proc/cpuinfo", encoding="utf-8", errors="replace") as cpuinfo,
    ):
        for line in cpuinfo:
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    return None


def machine_info(options: BenchOptions) -> dict[str, object]:
    """The machine and software the numbers were measured on."""
    server_cpu, load_cpu = _cpus(options.pin)
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "server_cpu": server_cpu,
        "load_cpu": load_cpu,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(terse=True),
        "quicko": __version__,
        "picows": _version("picows"),
        "uvloop": _version("uvloop"),
        "aiofastnet": _version("aiofastnet"),
        "msgpack": _version("msgpack"),
        "cryptography": _version("cryptography"),
    }


def _launch(options: BenchOptions, run: _Run, server: str, baselines: _Launches) -> Launch:
    if server == "relay":
        max_connections = max(options.memory_connections, options.handshakes, run.connections)
        return Launch(tuple(relay_argv(max_connections + _CONNECTION_MARGIN, options.relay_args)))
    if server == "bare":
        return Launch(tuple(bare_argv(options.bare_args)))
    return baselines[server]


async def _measure(
    options: BenchOptions,
    run: _Run,
    server: str,
    cpus: tuple[int | None, int | None],
    baselines: _Launches,
) -> dict[str, object]:
    launch = _launch(options, run, server, baselines)
    deadline = run.seconds + run.connections * _SETUP_S_PER_CONNECTION + _DEADLINE_MARGIN_S
    async with ServerProcess(server, launch.argv, cpu=cpus[0], env=launch.env) as process:
        common = (
            "--port", str(process.port), "--server", server,
            "--timeout", str(options.timeout), "--deadline", str(deadline),
            "--concurrency", str(options.concurrency),
            *(("--acking",) if options.acking else ()),
        )  # fmt: skip
        try:
            return await run_load(
                (*run.args, *common, "--server-pid", str(process.pid)),
                timeout=deadline + _DEADLINE_MARGIN_S,
                cpu=cpus[1],
            )
        except BenchError as exc:
            raise BenchError(f"{exc} [server: {process.tail_text()}]") from exc


Progress = Callable[[str], None]


def _printer(stream: TextIO) -> Progress:
    def show(line: str) -> None:
        stream.write(line + "\n")
        stream.flush()

    return show


def _summary(result: Mapping[str, object]) -> str:
    for key in ("frames_per_s", "p99_us", "bytes_per_connection", "handshakes_per_s"):
        value = result.get(key)
        if isinstance(value, int | float):
            return f"{key}={value:,.1f}"
    return str(result.get("error", "?"))


async def _run_all(
    options: BenchOptions, progress: Progress, baselines: _Launches
) -> dict[str, dict[str, list[dict[str, object]]]]:
    runs: dict[str, dict[str, list[dict[str, object]]]] = {}
    cpus = _cpus(options.pin)
    servers = (*options.servers, *(name for name in BASELINE_SERVERS if name in baselines))
    for repetition in range(1, options.repeat + 1):
        for run in _plan(options):
            for server in servers:
                try:
                    result = await _measure(options, run, server, cpus, baselines)
                except BenchError as exc:
                    result = {"error": str(exc)}
                runs.setdefault(run.key, {}).setdefault(server, []).append(result)
                progress(f"[{repetition}/{options.repeat}] {run.key} {server}: {_summary(result)}")
    return runs


def run_bench(options: BenchOptions, progress: TextIO | None = None) -> dict[str, object]:
    """Run the whole benchmark and return its report (see :func:`~.results.build_report`).

    Progress lines go to *progress* (standard error by default). SIGTERM and SIGINT cancel
    the run; every subprocess is stopped before this returns or raises.
    """
    show = _printer(progress if progress is not None else sys.stderr)
    with tempfile.TemporaryDirectory(prefix="quicko-bench-") as work_dir:
        baselines, skipped = prepare_baselines(options.baselines, Path(work_dir))
        for name, reason in skipped.items():
            show(f"skipping the {name} baseline: {reason}")

        async def main() -> dict[str, dict[str, list[dict[str, object]]]]:
            task = asyncio.current_task()
            if task is not None:
                asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
            return await _run_all(options, show, baselines)

        load_before = os.getloadavg()
        runs = asyncio.run(main())
    machine = machine_info(options)
    for name, launch in baselines.items():
        machine[name] = launch.version
    if skipped:
        machine["baselines_skipped"] = dict(skipped)
    machine["load_average_before"] = [round(value, 2) for value in load_before]
    machine["load_average_after"] = [round(value, 2) for value in os.getloadavg()]
    return build_report(
        runs,
        connections=options.connections if "throughput" not in options.skip else (),
        parameters=options.as_dict(),
        machine=machine,
    )
