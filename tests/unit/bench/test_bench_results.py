"""The benchmark report: medians, ratios, goals, the JSON shape and the text table."""

from __future__ import annotations

import json

import pytest

from quicko.bench.results import Goal, build_report, format_table, metric_defs

MACHINE = {"cpu_count": 2, "python": "3.11.7", "picows": "2.3.1", "uvloop": "0.23.0"}


def _runs() -> dict[str, dict[str, list[dict[str, object]]]]:
    return {
        "throughput_100": {
            "relay": [
                {"frames_per_s": 90_000.0},
                {"frames_per_s": 110_000.0},
                {"frames_per_s": 100_000.0},
            ],
            "bare": [
                {"frames_per_s": 120_000.0},
                {"frames_per_s": 125_000.0},
                {"frames_per_s": 130_000.0},
            ],
        },
        "latency": {
            "relay": [{"p50_us": 60.0, "p99_us": 400.0, "p999_us": 900.0}],
            "bare": [{"p50_us": 50.0, "p99_us": 200.0, "p999_us": 300.0}],
        },
        "memory": {
            "relay": [{"bytes_per_connection": 20_000.0}],
            "bare": [{"error": "bare exited before listening"}],
        },
    }


def _report() -> dict[str, object]:
    return build_report(_runs(), connections=(100,), parameters={"duration": 3.0}, machine=MACHINE)


def test_metric_defs_put_one_throughput_row_per_connection_count_first() -> None:
    keys = [definition.key for definition in metric_defs((100, 1000))]
    assert keys[:2] == ["throughput_100", "throughput_1000"]
    assert {
        "latency_p50",
        "latency_p99",
        "latency_p999",
        "memory_per_connection",
        "handshakes",
    } <= set(keys)


def test_report_medians_ratio_and_goal() -> None:
    metrics = _report()["metrics"]
    assert isinstance(metrics, dict)
    throughput = metrics["throughput_100"]
    assert throughput["relay"] == 100_000.0
    assert throughput["bare"] == 125_000.0
    assert throughput["ratio"] == pytest.approx(0.8)
    assert throughput["relay_runs"] == [90_000.0, 110_000.0, 100_000.0]
    assert throughput["goal_met"] is True
    assert metrics["latency_p99"]["ratio"] == 2.0
    assert metrics["latency_p99"]["goal_met"] is True
    assert "goal" not in metrics["latency_p50"]


def test_report_keeps_errors_and_leaves_missing_values_empty() -> None:
    metrics = _report()["metrics"]
    assert isinstance(metrics, dict)
    memory = metrics["memory_per_connection"]
    assert memory["relay"] == 20_000.0
    assert memory["bare"] is None
    assert memory["ratio"] is None
    assert memory["bare_errors"] == ["bare exited before listening"]
    assert memory["goal_met"] is False


def test_report_omits_scenarios_that_did_not_run() -> None:
    metrics = _report()["metrics"]
    assert isinstance(metrics, dict)
    assert "handshakes" not in metrics


def test_report_is_one_json_object_with_machine_parameters_and_raw_runs() -> None:
    report = json.loads(json.dumps(_report()))
    assert set(report) == {"benchmark", "machine", "parameters", "metrics", "runs"}
    assert report["machine"]["picows"] == "2.3.1"
    assert report["parameters"] == {"duration": 3.0}
    assert report["runs"]["latency"]["bare"][0]["p99_us"] == 200.0
    for entry in report["metrics"].values():
        assert {"label", "unit", "relay", "bare", "ratio", "relay_runs", "bare_runs"} <= set(entry)


@pytest.mark.parametrize(
    ("goal", "relay", "relay_over_bare", "expected"),
    [
        (Goal("t", at_least=100_000, min_ratio=0.75), 120_000.0, 0.8, True),
        (Goal("t", at_least=100_000, min_ratio=0.75), 120_000.0, 0.7, False),
        (Goal("t", at_least=100_000, min_ratio=0.75), 90_000.0, 0.9, False),
        (Goal("t", at_least=100_000, min_ratio=0.75), 120_000.0, None, None),
        (Goal("t", at_most=500), 499.9, None, True),
        (Goal("t", at_most=500), 500.0, None, False),
        (Goal("t", at_most=500), None, None, None),
    ],
)
def test_goal_met(
    goal: Goal, relay: float | None, relay_over_bare: float | None, expected: bool | None
) -> None:
    assert goal.met(relay, relay_over_bare) is expected


def test_table_shows_numbers_ratios_verdicts_machine_and_errors() -> None:
    table = format_table(_report())
    lines = table.splitlines()
    assert lines[0].split()[:4] == ["metric", "unit", "relay", "bare"]
    row = next(line for line in lines if line.startswith("forwarded frames/s, 100 connections"))
    assert "100,000" in row
    assert "125,000" in row
    assert "0.80" in row
    assert row.endswith("ok")
    memory = next(line for line in lines if line.startswith("memory per idle connection"))
    assert "MISSED" in memory
    assert " - " in memory
    assert any(line.startswith("machine: cpu_count=2") for line in lines)
    assert "error: memory (bare): bare exited before listening" in lines


def test_table_columns_are_aligned() -> None:
    lines = format_table(_report()).splitlines()
    header, rule = lines[0], lines[1]
    assert set(rule) <= {"-", " "}
    assert header.index("unit") == rule.index(" ") + 2


def test_baselines_get_columns_and_ratios() -> None:
    runs = _runs()
    runs["throughput_100"]["nats"] = [{"frames_per_s": 400_000.0}]
    runs["throughput_100"]["node"] = [{"frames_per_s": 50_000.0}, {"error": "node crashed"}]
    report = build_report(runs, connections=(100,), parameters={}, machine=MACHINE)
    metrics = report["metrics"]
    assert isinstance(metrics, dict)
    entry = metrics["throughput_100"]
    assert entry["nats"] == 400_000.0
    assert entry["ratio_nats"] == pytest.approx(100_000 / 400_000)
    assert entry["ratio_node"] == pytest.approx(2.0)
    assert entry["node_errors"] == ["node crashed"]
    assert entry["ratio"] == pytest.approx(100_000 / 125_000)  # still relay / bare
    assert metrics["latency_p50"]["nats"] is None
    header = format_table(report).splitlines()[0].split()
    assert header[:7] == ["metric", "unit", "relay", "bare", "NATS", "Node", "ws"]
    assert "error: throughput_100 (node): node crashed" in format_table(report)


def test_no_baseline_columns_without_baseline_runs() -> None:
    table = format_table(_report())
    assert "NATS" not in table
    assert "Node ws" not in table
    assert "ratio_nats" not in json.dumps(_report())
