"""Tests of quicko.relay.http (health and metrics bodies) and quicko.relay.logs (JSON lines)."""

from __future__ import annotations

import io
import json
import logging

import pytest

from quicko.protocol import ErrorCode, MessageType
from quicko.relay.http import IOStats, MetricsExporter, health_body
from quicko.relay.logs import configure_logging, log_event, short_id
from quicko.relay.metrics import RelayMetrics


def test_health_body() -> None:
    stats = IOStats()
    stats.open_connections = 3
    body = json.loads(
        health_body(node_id="n1", uptime_s=12.7, io=stats, router_health={"sessions": 2})
    )
    assert body["status"] == "ok"
    assert (body["node_id"], body["connections"], body["sessions"], body["uptime_s"]) == (
        "n1", 3, 2, 12,
    )  # fmt: skip
    stopping = health_body(node_id="n", uptime_s=0, io=stats, router_health={}, shutting_down=True)
    assert json.loads(stopping)["status"] == "shutting_down"


def test_metrics_exposition() -> None:
    metrics = RelayMetrics()
    metrics.frames_in[MessageType.MESSAGE] = 5
    metrics.frames_in[0x7E] = 1
    metrics.count_rejection(ErrorCode.RATE_LIMITED)
    metrics.sessions = 4
    stats = IOStats()
    stats.refused_full = 2
    text = MetricsExporter(lambda: metrics, stats, lambda: 3.0).render().decode()
    assert 'quicko_relay_frames_in_total{type="message"} 5.0' in text
    assert 'quicko_relay_frames_in_total{type="0x7e"} 1.0' in text
    assert 'quicko_relay_rejections_total{code="rate_limited"} 1.0' in text
    assert "# TYPE quicko_relay_sessions gauge\nquicko_relay_sessions 4.0" in text
    assert 'quicko_relay_upgrades_refused_total{reason="full"} 2.0' in text
    assert "quicko_relay_uptime_seconds 3.0" in text


def test_log_lines_are_json_with_event_first() -> None:
    stream = io.StringIO()
    configure_logging("info", stream)
    log_event("listening", host="127.0.0.1", port=9900)
    log_event("hidden", logging.DEBUG)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert len(lines) == 1
    assert next(iter(lines[0])) == "event"
    assert lines[0]["event"] == "listening"
    assert (lines[0]["port"], lines[0]["level"]) == (9900, "info")
    assert isinstance(lines[0]["ts"], int)
    configure_logging("info")


def test_library_records_carry_no_traceback() -> None:
    stream = io.StringIO()
    configure_logging("debug", stream)
    try:
        raise ValueError("secret-looking detail")
    except ValueError:
        logging.getLogger("picows.server").exception("boom")
    line = json.loads(stream.getvalue())
    assert (line["event"], line["exception"]) == ("picows.server", "ValueError")
    assert "secret-looking" not in stream.getvalue()
    configure_logging("info")


def test_unknown_level_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown log level"):
        configure_logging("loud")


def test_short_id_is_four_hex_digits() -> None:
    assert short_id(bytes.fromhex("abcdef0123")) == "abcd"


def test_always_lines_ignore_the_level() -> None:
    stream = io.StringIO()
    configure_logging("error", stream)
    log_event("listening", always=True, port=1)
    log_event("chatter", port=2)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["event"] for line in lines] == ["listening"]
    configure_logging("info")
