"""Benchmark subprocesses: command lines, the listening line, and stopping children."""

from __future__ import annotations

import os
import sys

import pytest

from quicko.bench.client import BenchError
from quicko.bench.load import build_parser as load_parser
from quicko.bench.load import server_url
from quicko.bench.procs import ServerProcess, _listening_port, bare_argv, relay_argv, run_load

FAKE_SERVER = (
    "import json, sys, time\n"
    "sys.stderr.write('starting\\n')\n"
    "event = {'event': 'listening', 'host': '127.0.0.1', 'port': 45678}\n"
    "sys.stderr.write(json.dumps(event) + '\\n')\n"
    "sys.stderr.flush()\n"
    "time.sleep(30)\n"
)


def test_relay_argv_binds_loopback_port_zero_and_lifts_limits() -> None:
    argv = relay_argv(11_000, ("--log-level=warning",))
    assert argv[:4] == [sys.executable, "-m", "quicko", "relay"]
    assert argv[argv.index("--host") + 1] == "127.0.0.1"
    assert argv[argv.index("--port") + 1] == "0"
    assert argv[argv.index("--max-connections") + 1] == "11000"
    for flag in ("--rate", "--burst", "--max-connections-per-ip", "--connect-rate"):
        assert int(argv[argv.index(flag) + 1]) >= 1_000_000
    assert argv[-1] == "--log-level=warning"


def test_bare_argv_binds_loopback_port_zero() -> None:
    argv = bare_argv(("--coalesce",))
    assert argv[1:3] == ["-m", "quicko.bench.bare"]
    assert argv[argv.index("--host") + 1] == "127.0.0.1"
    assert argv[argv.index("--port") + 1] == "0"
    assert argv[-1] == "--coalesce"


@pytest.mark.parametrize(
    ("line", "port"),
    [
        ('{"event": "listening", "host": "127.0.0.1", "port": 9900}', 9900),
        ('{"event": "connected", "port": 9900}', None),
        ('{"event": "listening", "port": "9900"}', None),
        ('{"event": "listening", "port": 0}', None),
        ('{"event": "listening"', None),
        ("[1, 2]", None),
        ("Traceback (most recent call last):", None),
    ],
)
def test_listening_port(line: str, port: int | None) -> None:
    assert _listening_port(line) == port


def test_load_urls_target_loopback_only() -> None:
    assert server_url(9000, "relay", 3) == "ws://127.0.0.1:9000/ws"
    assert server_url(9000, "bare", 3) == "ws://127.0.0.1:9000/pair/3"
    assert server_url(9000, "bare", None) == "ws://127.0.0.1:9000/ws"


def test_load_parser_scenarios() -> None:
    args = load_parser().parse_args(
        ["latency", "--port", "1", "--server", "bare", "--connections", "10", "--rate", "50"]
    )
    assert (args.scenario, args.connections, args.rate, args.duration) == ("latency", 10, 50.0, 3.0)
    with pytest.raises(SystemExit):
        load_parser().parse_args(["throughput", "--port", "1", "--server", "nginx"])


async def test_server_process_reads_the_port_and_stops_the_child() -> None:
    server = ServerProcess("fake", [sys.executable, "-c", FAKE_SERVER], cpu=None)
    async with server:
        assert server.port == 45678
        pid = server.pid
        os.kill(pid, 0)  # alive
        assert "starting" in server.tail_text()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


async def test_server_that_exits_before_listening_is_an_error() -> None:
    script = "import sys; sys.stderr.write('boom: cannot bind\\n')"
    with pytest.raises(BenchError, match="boom: cannot bind"):
        async with ServerProcess("broken", [sys.executable, "-c", script]):
            pytest.fail("should not start")


async def test_run_load_reports_a_failing_load() -> None:
    with pytest.raises(BenchError):
        await run_load(["throughput", "--port", "1"], timeout=30)


async def test_run_load_raises_the_load_generators_one_line_reason() -> None:
    # Nothing listens on 127.0.0.1:9: the load generator exits 1 with a one-line reason.
    with pytest.raises(BenchError, match="load handshakes failed: BenchError: cannot connect"):
        await run_load(
            ["handshakes", "--port", "9", "--server", "bare", "--count", "1", "--timeout", "2"],
            timeout=30,
        )


@pytest.mark.parametrize(
    ("line", "port"),
    [
        ("[1] 2026/12/03 09:53:00.396482 [INF] Listening for websocket clients on "
         "ws://127.0.0.1:41389", 41389),
        ("[1] 2026/12/03 [INF] Listening for client connections on 127.0.0.1:39761", None),
        ("[1] [INF] Listening for websocket clients on ws://127.0.0.1:99999", None),
    ],
)  # fmt: skip
def test_a_nats_server_websocket_line_gives_its_port(line: str, port: int | None) -> None:
    assert _listening_port(line) == port
