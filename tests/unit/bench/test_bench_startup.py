"""``quicko bench startup``: the plan of runs, the report and its table (a fake timer), and
one real run through the CLI (no time is asserted: it is a benchmark, not a timed test)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import pytest

from quicko.bench.startup import (
    BASELINE,
    COMMANDS,
    StartupCommand,
    StartupError,
    StartupOptions,
    format_startup_table,
    run_startup_bench,
)
from quicko.cli import bench as cli_bench
from quicko.cli.main import build_parser, main

HELP = StartupCommand("quicko --help", ("-m", "quicko", "--help"))


class FakeTimer:
    """Answers each command with the next of its fixed times, and records the order of runs."""

    def __init__(self, seconds: Mapping[str, list[float]]) -> None:
        self.seconds = {args: list(times) for args, times in seconds.items()}
        self.order: list[str] = []

    def __call__(self, argv: Sequence[str], env: Mapping[str, str]) -> float:
        assert argv[0] == "/py" and "PATH" in env
        key = " ".join(argv[1:])
        self.order.append(key)
        return self.seconds[key].pop(0)


def test_commands_take_turns_after_a_warm_up_and_the_report_has_medians() -> None:
    timer = FakeTimer({
        "-c pass": [9.0, 0.010, 0.012, 0.011],
        "-m quicko --help": [9.0, 0.040, 0.050, 0.030],
    })  # fmt: skip
    options = StartupOptions(runs=3, warmup=1, python="/py", commands=(BASELINE, HELP))
    report = run_startup_bench(options, timer=timer, env={"PATH": "/bin"})
    assert timer.order == ["-c pass", "-m quicko --help"] * 4
    rows = report["commands"]
    assert isinstance(rows, list)
    baseline, help_row = rows
    assert baseline["samples_ms"] == pytest.approx([10.0, 11.0, 12.0])  # warm-up left out
    assert help_row["median_ms"] == pytest.approx(40.0)
    assert help_row["over_baseline_ms"] == pytest.approx(29.0)
    assert (help_row["min_ms"], help_row["max_ms"]) == pytest.approx((30.0, 50.0))
    assert report["runs"] == 3 and report["goal_ms"] == 100.0
    table = format_startup_table(report)
    assert "| `quicko --help` | 40.0 |" in table and table.rstrip().endswith("| yes |")
    json.dumps(report)  # the --json output


def test_the_commands_of_issue_14_are_measured_against_the_interpreter() -> None:
    labels = [command.label for command in COMMANDS]
    assert labels == [
        "python -c pass",
        "quicko --help",
        "quicko keygen --json",
        "quicko relay --help",
        "quicko session --help",
    ]


def test_a_failing_command_stops_the_benchmark() -> None:
    def failing(argv: Sequence[str], env: Mapping[str, str]) -> float:
        raise StartupError("python -m quicko --help exited with status 1")

    with pytest.raises(StartupError):
        run_startup_bench(StartupOptions(runs=1), timer=failing)
    with pytest.raises(ValueError, match="at least one"):
        run_startup_bench(StartupOptions(runs=0))


def test_the_cli_parses_runs_and_warmup() -> None:
    args = build_parser().parse_args(["bench", "startup", "--runs", "5", "--warmup", "0"])
    assert args.handler is cli_bench.run_bench_startup
    assert (args.runs, args.warmup, args.json) == (5, 0, False)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["bench", "startup", "--runs", "0"])


def test_one_real_run_prints_a_report(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "startup", "--runs", "1", "--warmup", "0", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [row["command"] for row in report["commands"]] == [c.label for c in COMMANDS]
    assert all(len(row["samples_ms"]) == 1 for row in report["commands"])
