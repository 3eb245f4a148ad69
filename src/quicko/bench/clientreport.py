"""The client benchmark's options and report: metrics from raw runs, the JSON object, the table.

Pure: it turns the raw result of every run of ``quicko bench client`` (one dictionary per run
and scenario, or ``{"error": …}``) into the report. A metric's value is the median of its runs;
the runs' own values are kept beside it. :func:`sample_summary` turns one run's samples (join or
call times) into its nearest-rank percentiles, :func:`byte_summary` one run's bytes on the wire
per join or call into their median and range. docs/performance.md says what is measured.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Final

from quicko.bench.stats import median, percentile

__all__ = [
    "BYTES_NOTE",
    "CLIENT_DEFAULTS",
    "CLIENT_METRICS",
    "CLIENT_QUICK",
    "CLIENT_SCENARIOS",
    "ClientBenchOptions",
    "ClientMetric",
    "ClientRuns",
    "build_client_report",
    "byte_summary",
    "client_run_errors",
    "format_client_table",
    "sample_summary",
]

CLIENT_SCENARIOS: Final = ("messages", "joins", "calls")
"""Scenario kinds, in run order."""

ClientRuns = Mapping[str, Sequence[Mapping[str, object]]]
"""Raw results: scenario → one dictionary per run (or ``{"error": …}``)."""

JsonObject = dict[str, object]

_PERCENTILES: Final = (50, 90)


@dataclass(frozen=True, slots=True)
class ClientBenchOptions:
    """Parameters of a client benchmark run (the defaults are the full run).

    Attributes:
        messages: messages Alice sends to Bob in the throughput run.
        window: most of them sent and not yet DELIVERED at once (the client tracks at most
            1,000 outstanding messages and gives up the oldest beyond that).
        text_bytes: length of every message text (ASCII).
        joins: invite-code joins timed (after one untimed warm-up join).
        calls: calls timed (after one untimed warm-up call).
        repeat: runs of every scenario, each against a fresh relay.
        timeout: the longest one scenario may take, in seconds.
        skip: scenarios not run.
        pin: pin the relay to one CPU and the benchmark process to another.
        relay_args: extra arguments for ``quicko relay``.
    """

    messages: int = 2000
    window: int = 500
    text_bytes: int = 100
    joins: int = 20
    calls: int = 20
    repeat: int = 1
    timeout: float = 120.0
    skip: frozenset[str] = field(default_factory=frozenset)
    pin: bool = True
    relay_args: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        """The options as a JSON-ready dictionary."""
        values = asdict(self)
        values["skip"] = sorted(self.skip)
        values["relay_args"] = list(self.relay_args)
        return values


CLIENT_DEFAULTS: Final = ClientBenchOptions()
"""The full run."""

CLIENT_QUICK: Final = replace(
    CLIENT_DEFAULTS, messages=40, window=20, joins=2, calls=2, timeout=60.0
)
"""Tiny parameters, for tests and a first look."""


@dataclass(frozen=True, slots=True)
class ClientMetric:
    """One reported number: which scenario, which field of its result, how it is shown."""

    key: str
    scenario: str
    field: str
    label: str
    unit: str


CLIENT_METRICS: Final = (
    ClientMetric("messages_sent", "messages", "sent_per_s", "send_message calls", "msg/s"),
    ClientMetric("messages_received", "messages", "received_per_s", "received by Bob", "msg/s"),
    ClientMetric(
        "messages_delivered", "messages", "delivered_per_s", "DELIVERED seen by Alice", "msg/s"
    ),
    ClientMetric("send_call", "messages", "send_call_us", "one send_message call, mean", "µs"),
    ClientMetric(
        "messages_cpu", "messages", "client_cpu_us", "client CPU per message, both ends", "µs"
    ),
    ClientMetric(
        "messages_per_cpu_s",
        "messages",
        "delivered_per_cpu_s",
        "DELIVERED per client CPU second",
        "msg/s",
    ),
    ClientMetric(
        "messages_gc", "messages", "gc_collections", "client GC collections (window)", "runs"
    ),
    ClientMetric(
        "messages_gc_total", "messages", "gc_pause_total_ms", "client GC pauses, total", "ms"
    ),
    ClientMetric(
        "messages_gc_max", "messages", "gc_pause_max_ms", "client GC pause, longest", "ms"
    ),
    ClientMetric("messages_rss", "messages", "clients_rss_mb", "client process RSS after", "MB"),
    ClientMetric("join_p50", "joins", "p50_ms", "join (create + join_session) p50", "ms"),
    ClientMetric("join_p90", "joins", "p90_ms", "join p90", "ms"),
    ClientMetric("join_ready_p50", "joins", "ready_p50_ms", "join until both ready p50", "ms"),
    ClientMetric("call_p50", "calls", "p50_ms", "call (call() until accepted) p50", "ms"),
    ClientMetric("call_p90", "calls", "p90_ms", "call p90", "ms"),
    ClientMetric("join_up", "joins", "up_bytes", "join: client->relay, median", "B"),
    ClientMetric("join_down", "joins", "down_bytes", "join: relay->client, median", "B"),
    ClientMetric("call_up", "calls", "up_bytes", "call: client->relay, median", "B"),
    ClientMetric("call_down", "calls", "down_bytes", "call: relay->client, median", "B"),
)
"""Every metric of the client benchmark, in report order."""


BYTES_NOTE: Final = (
    "bytes: frames both clients sent (client->relay) and received (relay->client) per join or"
    " call, from the clock's start until the links are quiet, WebSocket payloads only;"
    " before/after a protocol change, frame by frame: scripts/pq-cost.py --before COMMIT"
)
"""Printed under the table when it shows bytes: what they are and how to compare two versions."""


def byte_summary(samples: Sequence[int], prefix: str) -> dict[str, float]:
    """The median, smallest and largest of byte counts (one per join or call).

    The keys are ``{prefix}bytes`` (the median), ``{prefix}bytes_min`` and ``{prefix}bytes_max``.

    Raises:
        ValueError: no samples.
    """
    if not samples:
        raise ValueError("no samples")
    return {
        f"{prefix}bytes": median(samples),
        f"{prefix}bytes_min": min(samples),
        f"{prefix}bytes_max": max(samples),
    }


def sample_summary(samples_s: Sequence[float], prefix: str = "") -> dict[str, float]:
    """Nearest-rank p50 and p90, mean and max of durations in seconds, in milliseconds.

    The keys are ``{prefix}p50_ms``, ``{prefix}p90_ms``, ``{prefix}mean_ms`` and
    ``{prefix}max_ms``.

    Raises:
        ValueError: no samples.
    """
    if not samples_s:
        raise ValueError("no samples")
    ordered = sorted(value * 1000 for value in samples_s)
    summary = {f"{prefix}p{pct}_ms": percentile(ordered, pct) for pct in _PERCENTILES}
    summary[f"{prefix}mean_ms"] = sum(ordered) / len(ordered)
    summary[f"{prefix}max_ms"] = ordered[-1]
    return summary


def _values(runs: Sequence[Mapping[str, object]], name: str) -> list[float]:
    values = []
    for run in runs:
        value = run.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            values.append(float(value))
    return values


def _metric(definition: ClientMetric, runs: Sequence[Mapping[str, object]]) -> JsonObject:
    values = _values(runs, definition.field)
    entry: JsonObject = {
        "label": definition.label,
        "unit": definition.unit,
        "value": median(values) if values else None,
        "runs": values,
    }
    errors = [str(run["error"]) for run in runs if "error" in run]
    if errors:
        entry["errors"] = errors
    return entry


def build_client_report(
    runs: ClientRuns, *, parameters: Mapping[str, object], machine: Mapping[str, object]
) -> JsonObject:
    """The whole report as one JSON-ready object (metrics with medians, raw runs)."""
    metrics = {
        definition.key: _metric(definition, runs[definition.scenario])
        for definition in CLIENT_METRICS
        if definition.scenario in runs
    }
    return {
        "benchmark": "client",
        "machine": dict(machine),
        "parameters": dict(parameters),
        "metrics": metrics,
        "runs": {scenario: [dict(run) for run in results] for scenario, results in runs.items()},
    }


def _number(value: object, unit: str) -> str:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return "-"
    return f"{value:,.1f}" if unit == "ms" else f"{value:,.0f}"


def format_client_table(report: Mapping[str, object]) -> str:
    """The report as an aligned text table, with the machine line and any errors below it."""
    metrics = report.get("metrics")
    metrics = metrics if isinstance(metrics, Mapping) else {}
    rows = [("metric", "unit", "median", "runs")]
    for entry in metrics.values():
        unit = str(entry["unit"])
        runs = entry.get("runs")
        shown = " · ".join(_number(v, unit) for v in runs) if isinstance(runs, list) else ""
        rows.append((str(entry["label"]), unit, _number(entry.get("value"), unit), shown))
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    lines = [
        "  ".join(
            cell.rjust(width) if column == 2 else cell.ljust(width)
            for column, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    if any(isinstance(entry, Mapping) and entry.get("unit") == "B" for entry in metrics.values()):
        lines += ["", BYTES_NOTE]
    machine = report.get("machine")
    if isinstance(machine, Mapping):
        lines += ["", "machine: " + ", ".join(f"{key}={value}" for key, value in machine.items())]
    lines += [f"error: {error}" for error in client_run_errors(report.get("runs"))]
    return "\n".join(lines)


def client_run_errors(runs: object) -> list[str]:
    """One line per failed run: ``scenario: message`` (empty when every run worked)."""
    if not isinstance(runs, Mapping):
        return ["no runs"]
    return [
        f"{scenario}: {run['error']}"
        for scenario, results in runs.items()
        for run in results
        if isinstance(run, Mapping) and "error" in run
    ]
