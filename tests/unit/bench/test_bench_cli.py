"""``quicko bench relay`` argument parsing: defaults, --quick, overrides and bounds."""

from __future__ import annotations

import pytest

from quicko.bench.runner import DEFAULTS, QUICK, BenchOptions
from quicko.cli.bench import options_from_args, run_bench_relay
from quicko.cli.main import build_parser


def _options(*argv: str) -> BenchOptions:
    args = build_parser().parse_args(["bench", "relay", *argv])
    assert args.handler is run_bench_relay
    return options_from_args(args)


def test_defaults_are_the_full_run() -> None:
    options = _options()
    assert options == DEFAULTS
    assert options.connections == (100, 1000)
    assert options.latency_connections == 1000
    assert options.latency_rate == 5000.0
    assert options.memory_connections == 10_000
    assert options.servers == ("relay", "bare")
    assert options.pin is True
    assert options.skip == frozenset()


def test_quick_gives_tiny_parameters() -> None:
    options = _options("--quick")
    assert options == QUICK
    assert max(options.connections) <= 10
    assert options.memory_connections <= 100
    assert options.duration < 1


def test_explicit_values_win_over_quick() -> None:
    options = _options("--quick", "--connections", "8,16", "--duration", "0.5", "--window", "2")
    assert options.connections == (8, 16)
    assert options.duration == 0.5
    assert options.window == 2
    assert options.memory_connections == QUICK.memory_connections


def test_run_options() -> None:
    options = _options(
        "--server", "bare", "--skip-memory", "--skip-latency", "--repeat", "3", "--no-pin",
        "--relay-arg=--log-level=warning", "--relay-arg=--node-id=bench", "--bare-arg=--coalesce",
    )  # fmt: skip
    assert options.servers == ("bare",)
    assert options.skip == frozenset({"memory", "latency"})
    assert options.repeat == 3
    assert options.pin is False
    assert options.relay_args == ("--log-level=warning", "--node-id=bench")
    assert options.bare_args == ("--coalesce",)


def test_baselines_are_parsed_in_report_order() -> None:
    assert _options().baselines == ()
    assert _options("--baseline", "node,nats").baselines == ("nats", "node")
    assert _options("--baseline", "nats, nats").baselines == ("nats",)


def test_json_flag_is_parsed() -> None:
    args = build_parser().parse_args(["bench", "relay", "--json"])
    assert args.json is True


@pytest.mark.parametrize(
    "argv",
    [
        ["--connections", "101"],
        ["--connections", "100,abc"],
        ["--connections", ""],
        ["--connections", "20000"],
        ["--duration", "0"],
        ["--duration", "61"],
        ["--warmup", "x"],
        ["--latency-rate", "-5"],
        ["--memory-connections", "1"],
        ["--repeat", "11"],
        ["--window", "0"],
        ["--latency-connections", "999"],
        ["--server", "nginx"],
        ["--baseline", "redis"],
        ["--baseline", ","],
    ],
)
def test_out_of_bounds_values_are_usage_errors(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["bench", "relay", *argv])
    assert exit_info.value.code == 2
    assert "error" in capsys.readouterr().err


def test_bench_without_target_prints_usage(capsys: pytest.CaptureFixture[str]) -> None:
    args = build_parser().parse_args(["bench"])
    assert args.handler(args) == 2
    assert "relay" in capsys.readouterr().err
