"""`quicko relay` as a real process: listening line, settings, SIGTERM, bad settings."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

import pytest
from relay_support import RelayClient, http_get, spawn_relay

from quicko.protocol import Error, ErrorCode
from quicko.relay.collector import GC_RECENT_PAUSES, GC_THRESHOLDS

pytestmark = pytest.mark.integration


async def run_relay_command(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "quicko", "relay", *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )  # fmt: skip
    _, stderr = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode is not None
    return process.returncode, stderr.decode()


async def test_sigterm_tells_clients_and_exits_0() -> None:
    relay = await spawn_relay(["--node-id", "proc1"], env={"QUICKO_MAX_CONNECTIONS": "7"})
    try:
        assert relay.listening["node_id"] == "proc1"
        assert relay.listening["tls"] is False
        assert relay.listening["host"] == "127.0.0.1"
        client = await RelayClient.connect(f"ws://127.0.0.1:{relay.port}/ws")
        assert client.challenge.node_id == "proc1"
        status, _, body = await http_get(relay.port, "/health")
        assert status == 200
        # The relay froze its start-up objects and times every later collection (tune_gc).
        collector = json.loads(body)["gc"]
        assert collector["frozen"] > 0
        assert collector["thresholds"] == list(GC_THRESHOLDS)
        assert collector["collections"] == len(collector["recent_pause_us"]) or (
            collector["collections"] > GC_RECENT_PAUSES
        )
        relay.process.send_signal(signal.SIGTERM)
        assert (await client.expect(Error)).code == ErrorCode.SHUTTING_DOWN
        assert await client.wait_closed() == 1001
        assert await asyncio.wait_for(relay.process.wait(), 20) == 0
        events = [line["event"] for line in await relay.stderr_lines()]
        assert events[-2:] == ["shutting_down", "stopped"]
    finally:
        if relay.process.returncode is None:
            relay.process.kill()
            await relay.process.wait()


async def test_bad_port_flag_is_a_usage_error() -> None:
    status, stderr = await run_relay_command("--port", "abc")
    assert status == 2
    assert "argument --port: 'abc' is not a whole number" in stderr


async def test_bad_environment_value_is_reported() -> None:
    status, stderr = await run_relay_command(env={"QUICKO_RATE": "fast", "PATH": ""})
    assert status == 2
    assert "QUICKO_RATE: 'fast' is not a number" in stderr


async def test_missing_tls_key_is_reported(tmp_path: Path) -> None:
    cert = tmp_path / "cert.pem"
    cert.write_text("not used")
    status, stderr = await run_relay_command(
        "--tls-cert", str(cert), "--tls-key", str(tmp_path / "missing.pem")
    )
    assert status == 2
    assert "--tls-key: no such file" in stderr


async def test_a_relay_without_redis_installed_starts(tmp_path: Path) -> None:
    """./run.sh installs no `cluster` extra: a relay without --redis must not need redis-py."""
    blocked = tmp_path / "redis"
    blocked.mkdir()
    (blocked / "__init__.py").write_text(
        'raise ImportError("redis is not installed (blocked by the test)")\n'
    )
    relay = await spawn_relay(["--node-id", "noredis"], env={"PYTHONPATH": str(tmp_path)})
    try:
        client = await RelayClient.connect(f"ws://127.0.0.1:{relay.port}/ws")
        assert client.challenge.node_id == "noredis"
        relay.process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(relay.process.wait(), 20) == 0
    finally:
        if relay.process.returncode is None:
            relay.process.kill()
            await relay.process.wait()
