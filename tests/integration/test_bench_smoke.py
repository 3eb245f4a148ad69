"""``quicko bench relay --quick``: the whole benchmark, tiny, against the real relay and bare."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from quicko.client import CLIENT_GC_THRESHOLDS

pytestmark = pytest.mark.integration

METRICS = (
    "throughput_4",
    "latency_p50",
    "latency_p99",
    "latency_p999",
    "memory_per_connection",
    "handshakes",
)


@pytest.mark.timeout(120)
def test_quick_bench_measures_relay_and_bare_side_by_side() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "quicko", "bench", "relay", "--quick", "--json"],
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    report = json.loads(completed.stdout)
    assert report["machine"]["cpu_count"] >= 1
    assert report["machine"]["picows"]
    metrics = report["metrics"]
    assert set(METRICS) <= set(metrics)
    for key in ("throughput_4", "latency_p99", "handshakes"):
        entry = metrics[key]
        assert entry["relay"] > 0, key
        assert entry["bare"] > 0, key
        assert entry["ratio"] == pytest.approx(entry["relay"] / entry["bare"])
    # Memory growth of 16 connections can be zero (pages already resident), never absent.
    assert metrics["memory_per_connection"]["relay"] is not None
    for server in ("relay", "bare"):
        throughput = report["runs"]["throughput_4"][server][0]
        assert throughput["frames"] > 0
        assert throughput["disconnects"] == 0
        assert throughput["first_error"] is None
        latency = report["runs"]["latency"][server][0]
        assert latency["lost"] == 0
    # The relay acknowledges every MESSAGE to its sender; the bare forwarder does not.
    assert report["runs"]["throughput_4"]["relay"][0]["acks"] > 0
    assert report["runs"]["throughput_4"]["bare"][0]["acks"] == 0


@pytest.mark.timeout(120)
def test_quick_bench_with_acknowledging_clients() -> None:
    command = [sys.executable, "-m", "quicko", "bench", "relay", "--quick", "--json", "--acking"]
    command += ["--skip-memory", "--skip-handshakes", "--bare-arg=--coalesce"]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=110, check=False)
    assert completed.returncode == 0, completed.stderr[-2000:]
    report = json.loads(completed.stdout)
    assert report["parameters"]["acking"] is True
    for server in ("relay", "bare"):
        throughput = report["runs"]["throughput_4"][server][0]
        assert throughput["frames"] > 0
        assert throughput["undelivered"] == 0
        # No Error: no Received ever counted more frames than the relay sent, and the bare
        # forwarder dropped them instead of forwarding them as messages.
        assert throughput["first_error"] is None
        # other_frames is not asserted: on a loaded machine the relay may probe a slow
        # acknowledger (one non-Message frame, once, in a 10-run check); no Error and nothing
        # undelivered are what this test is for.
    # The relay's collector is read around each window (none ran in so short a run, or few).
    assert report["runs"]["latency"]["relay"][0]["gc_collections"] is not None
    assert report["runs"]["latency"]["bare"][0]["gc_collections"] is None
    # The relay reports its freezes (in so short a run, the first may come after the sample).
    assert report["runs"]["latency"]["relay"][0]["setup_freezes"] >= 0
    assert report["runs"]["latency"]["bare"][0]["setup_freezes"] is None
    for server in ("relay", "bare"):  # the load's own stalls, measured beside each server
        assert report["runs"]["latency"][server][0]["stall_p99_us"] >= 0


@pytest.mark.timeout(120)
def test_soak_opens_and_closes_rounds_of_connections() -> None:
    command = [sys.executable, "-m", "quicko.bench.soak", "--connections", "8", "--rounds", "2"]
    command += ["--state-ttl", "0.2", "--json"]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=110, check=False)
    assert completed.returncode == 0, completed.stderr[-2000:]
    report = json.loads(completed.stdout)
    assert report["connections"] == 8
    rounds = report["rounds"]
    assert [record["round"] for record in rounds] == [0, 1, 2]
    for record in rounds:
        assert record["rss_bytes"] > 0
        assert record["frozen"] > 0
    assert rounds[2]["freezes"] > rounds[0]["freezes"]  # the rounds' connections were frozen


CLIENT_METRICS = (
    "messages_sent",
    "messages_received",
    "messages_delivered",
    "send_call",
    "messages_cpu",
    "messages_per_cpu_s",
    "messages_rss",
    "join_p50",
    "join_p90",
    "join_ready_p50",
    "call_p50",
    "call_p90",
    "join_up",
    "join_down",
    "call_up",
    "call_down",
)

HYBRID_JOIN_BYTES = 2 * 1184 + 1088
"""Two ML-KEM-768 public keys (both bundles) and one ciphertext: every join moves them each way."""


@pytest.mark.timeout(120)
def test_quick_client_bench_sends_joins_and_calls_through_a_real_relay() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "quicko", "bench", "client", "--quick", "--json"],
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    report = json.loads(completed.stdout)
    assert report["benchmark"] == "client"
    assert report["machine"]["cpu_count"] >= 1
    assert report["machine"]["event_loop"].startswith("asyncio")
    parameters = report["parameters"]
    assert parameters["repeat"] == 1
    metrics = report["metrics"]
    for key in CLIENT_METRICS:
        assert metrics[key]["value"] > 0, key
        assert metrics[key]["runs"] == [metrics[key]["value"]], key
        assert "errors" not in metrics[key], key
    messages = report["runs"]["messages"][0]
    assert messages["messages"] == parameters["messages"]
    # The clients' collector in the window (there may have been no collection at all), under
    # the applications' policy, which the benchmark applies as they do.
    gc_metrics = {"messages_gc", "messages_gc_total", "messages_gc_max"}
    assert set(metrics) == set(CLIENT_METRICS) | gc_metrics
    for key in gc_metrics:
        assert metrics[key]["value"] >= 0, key
    assert messages["gc_pause_max_ms"] <= messages["gc_pause_total_ms"]
    assert sum(messages["gc_by_generation"]) == messages["gc_collections"]
    assert tuple(messages["gc_thresholds"]) == CLIENT_GC_THRESHOLDS
    assert messages["gc_frozen"] > 0
    # Bob cannot receive a message before it was sent, nor Alice see it DELIVERED before that.
    assert messages["send_s"] <= messages["receive_s"] <= messages["deliver_s"]
    # CPU per message and messages per CPU second are one figure, inverted.
    assert messages["client_cpu_us"] * messages["delivered_per_cpu_s"] == pytest.approx(1e6)
    joins, calls = report["runs"]["joins"][0], report["runs"]["calls"][0]
    assert joins["joins"] == parameters["joins"] and calls["calls"] == parameters["calls"]
    assert joins["p50_ms"] <= joins["p90_ms"] <= joins["max_ms"]
    assert joins["create_p50_ms"] < joins["p50_ms"] <= joins["ready_p50_ms"]
    for way in ("up", "down"):
        assert joins[f"{way}_bytes"] > HYBRID_JOIN_BYTES, way
        assert joins[f"{way}_bytes_min"] <= joins[f"{way}_bytes"] <= joins[f"{way}_bytes_max"]
        assert calls[f"{way}_bytes"] > 1184 + 1088, way
