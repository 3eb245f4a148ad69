"""The benchmark's report: metrics from raw runs, goals, the JSON object and the text table.

Pure: it turns the load generator's raw results (one dictionary per run, per scenario and
server) into the report. A metric's value is the median of its runs; its ratio is
``relay / bare`` (so above 1 is better for rates and worse for latencies and memory). Optional
baselines (``nats``, ``node``) that ran get their own median, runs and ``ratio_<name>``
(``relay / <name>``) in each metric, and their own column in the table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from quicko.bench.stats import median, ratio

__all__ = [
    "BASELINE_SERVERS",
    "METRICS",
    "SERVERS",
    "Goal",
    "MetricDef",
    "Runs",
    "build_report",
    "format_table",
    "metric_defs",
]

SERVERS: Final = ("relay", "bare")
"""The servers measured side by side, in report order."""

BASELINE_SERVERS: Final = ("nats", "node")
"""Optional baselines (``--baseline``), reported after :data:`SERVERS` when they ran."""

_COLUMN_NAMES: Final = {"nats": "NATS", "node": "Node ws"}

Runs = Mapping[str, Mapping[str, Sequence[Mapping[str, object]]]]
"""Raw results: scenario key → server name → one dictionary per run (or ``{"error": …}``)."""

JsonObject = dict[str, object]


@dataclass(frozen=True, slots=True)
class Goal:
    """A target for the relay's value: at least/most *value*, and at least *min_ratio* x bare."""

    text: str
    at_least: float | None = None
    at_most: float | None = None
    min_ratio: float | None = None

    def met(self, relay: float | None, relay_over_bare: float | None) -> bool | None:
        """Whether the relay meets the goal (``None`` when it could not be measured)."""
        if relay is None:
            return None
        if self.at_least is not None and relay < self.at_least:
            return False
        if self.at_most is not None and relay >= self.at_most:
            return False
        if self.min_ratio is not None:
            # Without a bare-forwarder run (``--server relay``) the ratio part is unknown.
            return None if relay_over_bare is None else relay_over_bare >= self.min_ratio
        return True


@dataclass(frozen=True, slots=True)
class MetricDef:
    """One reported number: which scenario, which field of its result, how it is shown."""

    key: str
    scenario: str
    field: str
    label: str
    unit: str
    goal: Goal | None = None


_THROUGHPUT_GOAL: Final = Goal("≥ 100,000/s and ≥ 0.75 x bare", at_least=100_000, min_ratio=0.75)

METRICS: Final = (
    MetricDef("latency_p50", "latency", "p50_us", "latency p50", "µs"),
    MetricDef(
        "latency_p99", "latency", "p99_us", "latency p99", "µs", Goal("< 500 µs", at_most=500)
    ),
    MetricDef("latency_p999", "latency", "p999_us", "latency p99.9", "µs"),
    MetricDef(
        "latency_gc_collections",
        "latency",
        "gc_collections",
        "relay GC collections in the latency window",
        "runs",
        Goal("0", at_most=1),
    ),
    MetricDef(
        "latency_gc_pause_max", "latency", "gc_pause_max_us", "relay GC pause max (latency)", "µs"
    ),
    # The machine's own tail, measured by the load beside each server (quicko.bench.stats).
    MetricDef("latency_stall_p99", "latency", "stall_p99_us", "load's own stall p99", "µs"),
    MetricDef(
        "memory_per_connection",
        "memory",
        "bytes_per_connection",
        "memory per idle connection",
        "bytes",
        Goal("< 16 KiB", at_most=16 * 1024),
    ),
    MetricDef("handshakes", "handshakes", "handshakes_per_s", "handshakes", "per s"),
)
"""The metrics of every scenario but throughput (whose rows depend on the connection counts)."""


def metric_defs(connections: Sequence[int]) -> list[MetricDef]:
    """Every metric, throughput first, for throughput runs at each of *connections*."""
    throughput = [
        MetricDef(
            f"throughput_{count}",
            f"throughput_{count}",
            "frames_per_s",
            f"forwarded frames/s, {count} connections",
            "frames/s",
            _THROUGHPUT_GOAL,
        )
        for count in connections
    ]
    return [*throughput, *METRICS]


def _values(runs: Sequence[Mapping[str, object]], field: str) -> list[float]:
    values = []
    for run in runs:
        value = run.get(field)
        if isinstance(value, int | float) and not isinstance(value, bool):
            values.append(float(value))
    return values


def _errors(runs: Sequence[Mapping[str, object]]) -> list[str]:
    return [str(run["error"]) for run in runs if "error" in run]


def _baselines(runs: Runs) -> list[str]:
    """The optional baselines that have runs, in report order."""
    return [
        name for name in BASELINE_SERVERS if any(name in by_server for by_server in runs.values())
    ]


def _metric(definition: MetricDef, runs: Runs) -> JsonObject:
    by_server = runs.get(definition.scenario, {})
    entry: JsonObject = {"label": definition.label, "unit": definition.unit}
    medians: dict[str, float | None] = {}
    baselines = _baselines(runs)
    for server in (*SERVERS, *baselines):
        values = _values(by_server.get(server, ()), definition.field)
        medians[server] = median(values) if values else None
        entry[server] = medians[server]
        entry[f"{server}_runs"] = values
        errors = _errors(by_server.get(server, ()))
        if errors:
            entry[f"{server}_errors"] = errors
    relay_over_bare = ratio(medians["relay"], medians["bare"])
    entry["ratio"] = relay_over_bare
    for server in baselines:
        entry[f"ratio_{server}"] = ratio(medians["relay"], medians[server])
    if definition.goal is not None:
        entry["goal"] = definition.goal.text
        entry["goal_met"] = definition.goal.met(medians["relay"], relay_over_bare)
    return entry


def build_report(
    runs: Runs,
    *,
    connections: Sequence[int],
    parameters: Mapping[str, object],
    machine: Mapping[str, object],
) -> JsonObject:
    """The whole report as one JSON-ready object (metrics with medians and ratios, raw runs)."""
    metrics = {
        definition.key: _metric(definition, runs)
        for definition in metric_defs(connections)
        if definition.scenario in runs
    }
    return {
        "benchmark": "relay",
        "machine": dict(machine),
        "parameters": dict(parameters),
        "metrics": metrics,
        "runs": {scenario: dict(by_server) for scenario, by_server in runs.items()},
    }


def _number(value: object, unit: str) -> str:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return "-"
    if unit == "µs":
        return f"{value:,.1f}"
    return f"{value:,.0f}"


def _verdict(entry: Mapping[str, object]) -> str:
    if "goal" not in entry:
        return ""
    met = entry.get("goal_met")
    mark = "ok" if met is True else "MISSED" if met is False else "n/a"
    return f"{entry['goal']}: {mark}"


def format_table(report: Mapping[str, object]) -> str:
    """The report as an aligned text table, with the machine line and any errors below it."""
    metrics = report.get("metrics")
    metrics = metrics if isinstance(metrics, Mapping) else {}
    runs = report.get("runs")
    baselines = _baselines(runs) if isinstance(runs, Mapping) else []
    header = (
        "metric", "unit", "relay", "bare", *(_COLUMN_NAMES[name] for name in baselines),
        "relay/bare", "goal (relay)",
    )  # fmt: skip
    rows: list[tuple[str, ...]] = [header]
    for entry in metrics.values():
        unit = str(entry["unit"])
        ratio_value = entry.get("ratio")
        shown_ratio = f"{ratio_value:.2f}" if isinstance(ratio_value, float) else "-"
        values = [_number(entry.get(server), unit) for server in (*SERVERS, *baselines)]
        rows.append((str(entry["label"]), unit, *values, shown_ratio, _verdict(entry)))
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    left = (0, 1, len(header) - 1)
    lines = [
        "  ".join(
            cell.ljust(width) if column in left else cell.rjust(width)
            for column, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    machine = report.get("machine")
    if isinstance(machine, Mapping):
        lines += ["", "machine: " + ", ".join(f"{key}={value}" for key, value in machine.items())]
    lines += [f"error: {error}" for error in _run_errors(report.get("runs"))]
    return "\n".join(lines)


def _run_errors(runs: object) -> list[str]:
    """One line per failed run: ``scenario (server): message``."""
    if not isinstance(runs, Mapping):
        return []
    return [
        f"{scenario} ({server}): {run['error']}"
        for scenario, by_server in runs.items()
        for server, results in by_server.items()
        for run in results
        if isinstance(run, Mapping) and "error" in run
    ]
