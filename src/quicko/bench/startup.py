"""``quicko bench startup``: how long ``quicko`` commands take to start (docs/performance.md).

Each command is run as a fresh process (``python -m quicko …``, output discarded) many times, the
commands taking turns so that a slow moment of the machine falls on all of them alike, and the
wall-clock time from spawn to exit is recorded. The report gives, per command, the median and the
spread of those times, and the median minus that of ``python -c pass`` measured in the same run
(the interpreter's own start-up, which no change to Quicko2 can remove). The goal (issue 14) is
every command under 100 ms before its own work; the commands measured do little work of their
own (printing help, or making one identity), so their whole time is compared with it.

This module imports nothing of what it measures (only the standard library and the
benchmark's arithmetic).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from quicko.bench.stats import median, percentile
from quicko.errors import QuickoError

__all__ = [
    "BASELINE",
    "COMMANDS",
    "GOAL_MS",
    "StartupCommand",
    "StartupError",
    "StartupOptions",
    "format_startup_table",
    "run_startup_bench",
]

GOAL_MS: Final = 100.0
"""Issue 14's goal: every ``quicko`` command starts in under this many milliseconds."""

_MS_PER_S: Final = 1000.0


@dataclass(frozen=True, slots=True)
class StartupCommand:
    """One command to time: its label and its arguments after the Python executable."""

    label: str
    args: tuple[str, ...]


BASELINE: Final = StartupCommand("python -c pass", ("-c", "pass"))
"""The interpreter alone: what every command pays before any of Quicko2 is imported."""

COMMANDS: Final = (
    BASELINE,
    StartupCommand("quicko --help", ("-m", "quicko", "--help")),
    StartupCommand("quicko keygen --json", ("-m", "quicko", "keygen", "--json")),
    StartupCommand("quicko relay --help", ("-m", "quicko", "relay", "--help")),
    StartupCommand("quicko session --help", ("-m", "quicko", "session", "--help")),
)
"""What ``quicko bench startup`` times, in report order."""


@dataclass(frozen=True, slots=True)
class StartupOptions:
    """Parameters of ``quicko bench startup``.

    Attributes:
        runs: timed runs of every command.
        warmup: untimed runs of every command first (file-system caches, bytecode).
        python: the interpreter to run the commands with.
        commands: what to time; the first one is the baseline the others are compared with.
    """

    runs: int = 30
    warmup: int = 3
    python: str = sys.executable
    commands: tuple[StartupCommand, ...] = COMMANDS


Timer = Callable[[Sequence[str], Mapping[str, str]], float]
"""Runs one command (argv, environment) to completion; returns its wall time in seconds."""


class StartupError(QuickoError):
    """A timed command failed (its exit status is in the message)."""


def time_process(argv: Sequence[str], env: Mapping[str, str]) -> float:
    """Run ``argv`` with its output discarded; return the seconds from spawn to exit.

    Raises:
        StartupError: the command exited with a non-zero status.
    """
    start = time.perf_counter()
    status = subprocess.call(  # noqa: S603 (our own interpreter and fixed arguments)
        list(argv), env=dict(env), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    elapsed = time.perf_counter() - start
    if status != 0:
        raise StartupError(f"{' '.join(argv)} exited with status {status}")
    return elapsed


def _cpu_model() -> str | None:
    with (
        contextlib.suppress(OSError),
        open("/proc/cpuinfo", encoding="utf-8", errors="replace") as cpuinfo,
    ):
        for line in cpuinfo:
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    return None


def bytecode_compiled() -> bool:
    """Whether Quicko2's modules have bytecode files (``scripts/setup.sh`` compiles them).

    Without them every command compiles its modules from source at each start (with
    ``PYTHONDONTWRITEBYTECODE=1``, as ``./run.sh`` sets, nothing caches them), which is not
    what an installed ``quicko`` costs: the report says so.
    """
    spec = importlib.util.find_spec("quicko")
    if spec is None or spec.origin is None:
        return False
    main = os.path.join(os.path.dirname(spec.origin), "cli", "main.py")
    return os.path.exists(importlib.util.cache_from_source(main))


def _machine(python: str) -> dict[str, object]:
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "python_executable": python,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(terse=True),
    }


def run_startup_bench(
    options: StartupOptions, timer: Timer = time_process, env: Mapping[str, str] | None = None
) -> dict[str, object]:
    """Time every command of ``options``; return the report (a JSON-ready dict).

    Args:
        options: what to run, how often.
        timer: runs one command and returns its seconds (a fake can stand in for tests).
        env: the commands' environment (default: this process's).

    Raises:
        StartupError: a command failed.
        ValueError: no commands, or fewer than one run.
    """
    if not options.commands or options.runs < 1:
        raise ValueError("need at least one command and one run")
    environ = dict(os.environ if env is None else env)
    samples: dict[str, list[float]] = {command.label: [] for command in options.commands}
    for round_number in range(options.warmup + options.runs):
        for command in options.commands:  # taking turns: drift hits every command alike
            seconds = timer((options.python, *command.args), environ)
            if round_number >= options.warmup:
                samples[command.label].append(seconds * _MS_PER_S)
    baseline = median(samples[options.commands[0].label])
    rows = []
    for command in options.commands:
        values = sorted(samples[command.label])
        middle = median(values)
        rows.append({
            "command": command.label,
            "argv": ["python", *command.args],
            "median_ms": middle,
            "p10_ms": percentile(values, 10),
            "p90_ms": percentile(values, 90),
            "min_ms": values[0],
            "max_ms": values[-1],
            "over_baseline_ms": middle - baseline,
            "samples_ms": values,
        })  # fmt: skip
    return {
        "benchmark": "startup",
        "runs": options.runs,
        "warmup": options.warmup,
        "goal_ms": GOAL_MS,
        "baseline": options.commands[0].label,
        "machine": _machine(options.python),
        "bytecode_compiled": bytecode_compiled(),
        "commands": rows,
    }


def format_startup_table(report: Mapping[str, object]) -> str:
    """The report as a Markdown table (the one docs/performance.md shows)."""
    rows = report["commands"]
    assert isinstance(rows, list)
    lines = [
        f"{report['runs']} runs of each command, taking turns; times in ms (wall clock, "
        "spawn to exit)",
        "",
        f"| command | median | p10 | p90 | over `{report['baseline']}` | under {GOAL_MS:g} ms |",
        "|---|---:|---:|---:|---:|---|",
    ]
    if not report.get("bytecode_compiled", True):
        lines[1:1] = [
            "",
            "WARNING: Quicko2's bytecode is not compiled, so every run compiled its modules: "
            "run `python -m compileall src` (scripts/setup.sh does) and measure again.",
        ]
    for index, row in enumerate(rows):
        verdict = "" if index == 0 else ("yes" if row["median_ms"] < GOAL_MS else "NO")
        lines.append(
            f"| `{row['command']}` | {row['median_ms']:.1f} | {row['p10_ms']:.1f} | "
            f"{row['p90_ms']:.1f} | {row['over_baseline_ms']:.1f} | {verdict} |"
        )
    return "\n".join(lines)
