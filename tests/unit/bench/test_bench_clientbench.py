"""``quicko bench client``: its report, percentiles, argument parsing and event counting."""

from __future__ import annotations

import asyncio
import json
import time
from typing import cast

import pytest

from quicko.bench.clientbench import _CpuMeter, _Flow, _quiet_wire, _Stamps, _text
from quicko.bench.clientreport import (
    BYTES_NOTE,
    CLIENT_DEFAULTS,
    CLIENT_METRICS,
    CLIENT_QUICK,
    ClientBenchOptions,
    ClientRuns,
    build_client_report,
    byte_summary,
    client_run_errors,
    format_client_table,
    sample_summary,
)
from quicko.bench.clientrun import _cpus
from quicko.cli.bench import client_options_from_args, run_bench_client, run_bench_relay
from quicko.cli.main import build_parser
from quicko.client import (
    AsyncQuickoClient,
    ChatMessage,
    ClientEvent,
    DeliveryStatus,
    MessageReceived,
    StatusChanged,
)

SESSION = "ab" * 16
OTHER = "cd" * 16


def _messages_run(delivered: float, **extra: object) -> dict[str, object]:
    return {
        "sent_per_s": delivered * 2,
        "received_per_s": delivered * 1.5,
        "delivered_per_s": delivered,
        "send_call_us": 100.0,
        "client_cpu_us": 1e6 / delivered,
        "delivered_per_cpu_s": delivered,
        **extra,
    }


# ---------------------------------------------------------------------- percentiles


def test_sample_summary_is_nearest_rank_in_milliseconds() -> None:
    samples = [value / 1000 for value in range(10, 0, -1)]  # 10 ms … 1 ms, unsorted
    summary = sample_summary(samples)
    assert summary["p50_ms"] == pytest.approx(5.0)
    assert summary["p90_ms"] == pytest.approx(9.0)
    assert summary["mean_ms"] == pytest.approx(5.5)
    assert summary["max_ms"] == pytest.approx(10.0)


def test_sample_summary_prefixes_its_keys_and_needs_samples() -> None:
    assert set(sample_summary([0.002], "ready_")) == {
        "ready_p50_ms", "ready_p90_ms", "ready_mean_ms", "ready_max_ms",
    }  # fmt: skip
    assert sample_summary([0.002], "ready_")["ready_p90_ms"] == pytest.approx(2.0)
    with pytest.raises(ValueError, match="no samples"):
        sample_summary([])


# ---------------------------------------------------------------------- report


def test_report_takes_the_median_of_the_runs_and_keeps_each_value() -> None:
    runs: ClientRuns = {
        "messages": [_messages_run(3000.0), _messages_run(1000.0), _messages_run(2000.0)],
        "joins": [{"p50_ms": 20.0, "p90_ms": 25.0, "ready_p50_ms": 21.0}],
    }
    report = build_client_report(runs, parameters={"messages": 2000}, machine={"cpu_count": 2})
    assert report["benchmark"] == "client"
    assert report["parameters"] == {"messages": 2000}
    metrics = cast("dict[str, dict[str, object]]", report["metrics"])
    assert set(metrics) == {m.key for m in CLIENT_METRICS if m.scenario in runs}
    delivered = metrics["messages_delivered"]
    assert delivered["value"] == 2000.0
    assert delivered["runs"] == [3000.0, 1000.0, 2000.0]
    assert delivered["unit"] == "msg/s"
    assert metrics["messages_sent"]["value"] == 4000.0
    assert metrics["messages_cpu"]["value"] == pytest.approx(500.0)  # µs: 1e6 / 2000
    assert metrics["messages_per_cpu_s"]["unit"] == "msg/s"
    assert metrics["join_p90"]["value"] == 25.0
    assert "call_p50" not in metrics
    assert "errors" not in delivered
    json.dumps(report)  # JSON-ready all the way down


def test_report_records_failed_runs_beside_the_others() -> None:
    runs: ClientRuns = {"calls": [{"error": "did not finish within 150 s"}, {"p50_ms": 3.0}]}
    report = build_client_report(runs, parameters={}, machine={})
    metrics = cast("dict[str, dict[str, object]]", report["metrics"])
    assert metrics["call_p50"]["value"] == 3.0
    assert metrics["call_p50"]["errors"] == ["did not finish within 150 s"]
    assert client_run_errors(report["runs"]) == ["calls: did not finish within 150 s"]


def test_a_metric_without_any_value_is_none() -> None:
    report = build_client_report({"joins": [{"error": "boom"}]}, parameters={}, machine={})
    metrics = cast("dict[str, dict[str, object]]", report["metrics"])
    assert metrics["join_p50"]["value"] is None
    assert metrics["join_p50"]["runs"] == []
    assert "-" in format_client_table(report)


def test_run_errors_of_a_report_without_runs() -> None:
    assert client_run_errors(None) == ["no runs"]
    assert client_run_errors({"messages": [_messages_run(1.0)]}) == []


def test_table_shows_labels_medians_runs_machine_and_errors() -> None:
    runs: ClientRuns = {
        "messages": [_messages_run(2500.0), _messages_run(2600.0)],
        "calls": [{"p50_ms": 2.45, "p90_ms": 3.0}, {"error": "SessionError: declined"}],
    }
    table = format_client_table(build_client_report(runs, parameters={}, machine={"cpu": "x"}))
    lines = table.splitlines()
    assert lines[0].split() == ["metric", "unit", "median", "runs"]
    delivered = next(line for line in lines if line.startswith("DELIVERED seen by Alice"))
    assert "2,550" in delivered and "2,500 · 2,600" in delivered
    call = next(line for line in lines if line.startswith("call (call() until accepted) p50"))
    assert "2.5" in call  # milliseconds keep one decimal
    assert "machine: cpu=x" in lines
    assert lines[-1] == "error: calls: SessionError: declined"


def test_byte_summary_is_the_median_and_range() -> None:
    assert byte_summary([4700, 4712, 4690, 4800], "up_") == {
        "up_bytes": 4706.0,
        "up_bytes_min": 4690,
        "up_bytes_max": 4800,
    }
    with pytest.raises(ValueError, match="no samples"):
        byte_summary([], "down_")


def test_table_shows_bytes_per_join_and_call_and_how_to_compare_versions() -> None:
    joins = {"p50_ms": 5.0, "up_bytes": 4731.0, "down_bytes": 4696.0}
    calls = [{"p50_ms": 6.2, "up_bytes": 6072.0, "down_bytes": 5058.0}]
    report = build_client_report(
        {"joins": [joins, {**joins, "up_bytes": 4733.0}], "calls": calls},
        parameters={},
        machine={},
    )
    metrics = cast("dict[str, dict[str, object]]", report["metrics"])
    assert metrics["join_up"] == {
        "label": "join: client->relay, median",
        "unit": "B",
        "value": 4732.0,
        "runs": [4731.0, 4733.0],
    }
    assert metrics["call_down"]["value"] == 5058.0
    lines = format_client_table(report).splitlines()
    join_up = next(line for line in lines if line.startswith("join: client->relay"))
    assert join_up.split()[-5:] == ["B", "4,732", "4,731", "·", "4,733"]  # whole bytes
    call_down = next(line for line in lines if line.startswith("call: relay->client"))
    assert call_down.split()[-3:] == ["B", "5,058", "5,058"]
    assert BYTES_NOTE in lines and "scripts/pq-cost.py --before COMMIT" in BYTES_NOTE


def test_table_without_joins_or_calls_has_no_bytes_note() -> None:
    report = build_client_report({"messages": [_messages_run(1.0)]}, parameters={}, machine={})
    assert BYTES_NOTE not in format_client_table(report)


def test_options_as_dict_is_json_ready() -> None:
    options = ClientBenchOptions(skip=frozenset({"joins", "calls"}), relay_args=("--x",))
    values = options.as_dict()
    assert values["skip"] == ["calls", "joins"]
    assert values["relay_args"] == ["--x"]
    assert json.loads(json.dumps(values))["messages"] == 2000


# ---------------------------------------------------------------------- arguments


def _options(*argv: str) -> ClientBenchOptions:
    args = build_parser().parse_args(["bench", "client", *argv])
    assert args.handler is run_bench_client
    return client_options_from_args(args)


def test_defaults_are_the_full_run() -> None:
    options = _options()
    assert options == CLIENT_DEFAULTS
    assert (options.messages, options.joins, options.calls) == (2000, 20, 20)
    assert options.window < 1000  # below the client's 1,000 tracked outstanding messages
    assert options.pin is True
    assert options.skip == frozenset()


def test_quick_is_tiny_and_explicit_values_win() -> None:
    assert _options("--quick") == CLIENT_QUICK
    assert CLIENT_QUICK.messages <= 100 and CLIENT_QUICK.joins <= 5
    options = _options("--quick", "--messages", "300", "--joins", "7", "--window", "50")
    assert (options.messages, options.joins, options.window) == (300, 7, 50)
    assert options.calls == CLIENT_QUICK.calls


def test_run_options() -> None:
    options = _options(
        "--repeat", "3", "--skip-joins", "--skip-calls", "--no-pin", "--calls", "5",
        "--text-bytes", "1000", "--timeout", "30", "--relay-arg=--log-level=warning",
    )  # fmt: skip
    assert options.repeat == 3
    assert options.skip == frozenset({"joins", "calls"})
    assert options.pin is False
    assert (options.calls, options.text_bytes, options.timeout) == (5, 1000, 30.0)
    assert options.relay_args == ("--log-level=warning",)


def test_relay_bench_is_unchanged() -> None:
    args = build_parser().parse_args(["bench", "relay", "--quick"])
    assert args.handler is run_bench_relay


@pytest.mark.parametrize(
    "argv",
    [
        ["--messages", "0"],
        ["--messages", "100001"],
        ["--window", "0"],
        ["--window", "901"],
        ["--joins", "0"],
        ["--calls", "201"],
        ["--repeat", "11"],
        ["--timeout", "0"],
        ["--text-bytes", "x"],
    ],
)
def test_out_of_bounds_values_are_usage_errors(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["bench", "client", *argv])
    assert exit_info.value.code == 2
    assert "error" in capsys.readouterr().err


def test_cpus_without_pinning() -> None:
    assert _cpus(False) == (None, None)
    relay, clients = _cpus(True)
    assert relay != clients or relay is None


# ---------------------------------------------------------------------- counting events


class _FakeClient:
    """Only what the counters use: ``next_event``, fed by the test."""

    def __init__(self) -> None:
        self.events: asyncio.Queue[ClientEvent] = asyncio.Queue()

    async def next_event(self) -> ClientEvent:
        return await self.events.get()


def _received(session_id: str, number: int) -> MessageReceived:
    message = ChatMessage(
        message_id=number.to_bytes(16, "big"),
        session_id=bytes.fromhex(session_id),
        sender=bytes(16),
        sender_name="alice",
        text=_text(number, 20),
        timestamp_ms=0,
        outgoing=False,
        status=DeliveryStatus.DELIVERED,
    )
    return MessageReceived(session_id, message)


def test_texts_have_the_requested_length_and_differ() -> None:
    assert len(_text(7, 100)) == 100
    assert len(_text(123_456_789, 4)) == 4
    assert _text(1, 30) != _text(2, 30)


async def test_flow_counts_only_its_session_and_stamps_the_target() -> None:
    alice, bob = _FakeClient(), _FakeClient()
    flow = _Flow(SESSION)
    flow.expect(2)
    readers = [
        asyncio.create_task(flow.read_bob(cast("AsyncQuickoClient", bob))),
        asyncio.create_task(flow.read_alice(cast("AsyncQuickoClient", alice))),
    ]
    try:
        for event in (_received(OTHER, 0), _received(SESSION, 1), _received(SESSION, 2)):
            bob.events.put_nowait(event)
        for status in (DeliveryStatus.SENT, DeliveryStatus.DELIVERED, DeliveryStatus.FAILED):
            alice.events.put_nowait(StatusChanged(SESSION, "01", status))
        alice.events.put_nowait(StatusChanged(OTHER, "02", DeliveryStatus.DELIVERED))
        await asyncio.wait_for(flow.until(flow.done), 5)
        assert (flow.received, flow.settled, flow.failed) == (2, 2, 1)
        assert flow.received_at is not None and flow.settled_at is not None
        flow.expect(3)
        assert flow.target == 3 and not flow.done()
    finally:
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)


async def test_flow_room_waits_for_the_window() -> None:
    alice = _FakeClient()
    flow = _Flow(SESSION)
    reader = asyncio.create_task(flow.read_alice(cast("AsyncQuickoClient", alice)))
    try:
        await asyncio.wait_for(flow.room(1, 2), 5)  # one outstanding of a window of two
        waiting = asyncio.create_task(flow.room(2, 2))
        await asyncio.sleep(0)
        assert not waiting.done()
        alice.events.put_nowait(StatusChanged(SESSION, "01", DeliveryStatus.DELIVERED))
        await asyncio.wait_for(waiting, 5)
        assert flow.settled == 1
    finally:
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)


async def test_stamps_return_the_moment_a_key_was_seen_once() -> None:
    stamps = _Stamps()
    stamps.mark("a")
    first = await asyncio.wait_for(stamps.wait("a"), 5)
    waiting = asyncio.create_task(stamps.wait("b"))
    stamps.mark("b")
    assert await asyncio.wait_for(waiting, 5) >= first
    waiting_again = asyncio.create_task(stamps.wait("a"))  # consumed: waits for a new mark
    await asyncio.sleep(0)
    assert not waiting_again.done()
    stamps.mark("a")
    await asyncio.wait_for(waiting_again, 5)


class _WireClient:
    """Stands in for a client's ``wire_bytes``: grows by ``step`` on each of ``steps`` reads."""

    def __init__(self, step: int, steps: int) -> None:
        self.sent = self.received = 0
        self.step, self.steps = step, steps

    @property
    def wire_bytes(self) -> tuple[int, int]:
        if self.steps:
            self.steps -= 1
            self.sent += self.step
            self.received += 2 * self.step
        return self.sent, self.received


async def test_quiet_wire_waits_until_no_frame_moves_and_sums_the_clients(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("quicko.bench.clientbench.QUIET_S", 0.001)
    clients = [
        cast("AsyncQuickoClient", _WireClient(10, 3)),
        cast("AsyncQuickoClient", _WireClient(1, 0)),
    ]
    meter = _CpuMeter(0)  # no such process: the relay's CPU is unknown
    assert await _quiet_wire(meter, *clients) == (30, 60)
    assert meter.result()["relay_cpu_pct"] is None


def test_a_paused_meter_leaves_the_block_out() -> None:
    meter = _CpuMeter(0)
    start, own = meter._start, meter._own
    with meter.paused():
        inner_wall, inner_cpu = time.perf_counter(), time.process_time()
        sum(range(200_000))
        inner_wall, inner_cpu = time.perf_counter() - inner_wall, time.process_time() - inner_cpu
    # The baselines move forward by at least the block's own time and CPU.
    assert meter._start - start >= inner_wall
    assert meter._own - own >= inner_cpu
