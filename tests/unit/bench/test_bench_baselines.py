"""Optional baselines: finding the tools, the launches, and skipping with a reason."""

from __future__ import annotations

import io
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from quicko.bench import baselines
from quicko.bench.baselines import (
    NATS_CONFIG,
    WS_VERSION,
    Launch,
    cache_dir,
    nats_launch,
    node_launch,
    prepare_baselines,
)
from quicko.bench.runner import QUICK, SCENARIOS, run_bench
from quicko.bench.wire import BARE_CHALLENGE, BARE_HELLO_ACK, BARE_JOINED
from quicko.protocol import MessageType


def test_cache_dir_follows_the_environment(tmp_path: Path) -> None:
    assert cache_dir({"QUICKO_BENCH_CACHE": str(tmp_path)}) == tmp_path
    assert cache_dir({"XDG_CACHE_HOME": "/x"}) == Path("/x/quicko/bench")
    assert cache_dir({}) == Path.home() / ".cache" / "quicko" / "bench"


def test_nats_config_is_loopback_random_ports_websocket_without_tls() -> None:
    assert 'listen: "127.0.0.1:-1"' in NATS_CONFIG
    assert "websocket {" in NATS_CONFIG
    assert "no_tls: true" in NATS_CONFIG


def test_missing_nats_server_is_a_reason(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(baselines, "find_nats_server", lambda: None)
    found = nats_launch(tmp_path)
    assert isinstance(found, str)
    assert "apt-get install nats-server" in found


def test_nats_launch_writes_its_config_and_runs_on_one_core(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(baselines, "find_nats_server", lambda: "/bin/true")
    found = nats_launch(tmp_path)
    assert isinstance(found, Launch)
    assert found.argv == ("/bin/true", "-c", str(tmp_path / "nats-server.conf"))
    assert (tmp_path / "nats-server.conf").read_text("utf-8") == NATS_CONFIG
    assert found.env == {"GOMAXPROCS": "1"}


def test_missing_node_is_a_reason(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(shutil, "which", lambda name, path=None: None)
    found = node_launch(tmp_path)
    assert isinstance(found, str)
    assert "node not found" in found


def test_missing_npm_without_cached_ws_is_a_reason(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    tools = {"node": "/usr/bin/node"}
    monkeypatch.setattr(shutil, "which", lambda name, path=None: tools.get(name))
    found = node_launch(tmp_path)
    assert isinstance(found, str)
    assert "npm not found" in found


def _cache_ws(cache: Path) -> None:
    package = cache / "node_modules" / "ws" / "package.json"
    package.parent.mkdir(parents=True)
    package.write_text(f'{{\n  "name": "ws",\n  "version": "{WS_VERSION}"\n}}\n', "utf-8")


def test_node_launch_with_cached_ws_passes_the_bare_frames(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    tools = {"node": "/bin/echo"}  # no npm: the cached ws is enough
    monkeypatch.setattr(shutil, "which", lambda name, path=None: tools.get(name))
    _cache_ws(tmp_path)
    found = node_launch(tmp_path)
    assert isinstance(found, Launch)
    argv = found.argv
    assert argv[1].endswith("forwarder.js")
    assert Path(argv[1]).is_file()
    assert argv[argv.index("--host") + 1] == "127.0.0.1"
    assert argv[argv.index("--port") + 1] == "0"
    assert bytes.fromhex(argv[argv.index("--challenge") + 1]) == BARE_CHALLENGE
    assert bytes.fromhex(argv[argv.index("--hello-ack") + 1]) == BARE_HELLO_ACK
    assert bytes.fromhex(argv[argv.index("--joined") + 1]) == BARE_JOINED
    assert argv[argv.index("--received-type") + 1] == str(int(MessageType.RECEIVED))
    assert found.env == {"NODE_PATH": str(tmp_path / "node_modules")}


def test_prepare_baselines_splits_launches_and_skips(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(baselines, "find_nats_server", lambda: "/bin/true")
    monkeypatch.setattr(shutil, "which", lambda name, path=None: None)
    launches, skipped = prepare_baselines(("nats", "node"), tmp_path, tmp_path / "cache")
    assert set(launches) == {"nats"}
    assert set(skipped) == {"node"}
    with pytest.raises(ValueError, match="unknown baseline"):
        prepare_baselines(("redis",), tmp_path)


def test_a_run_skips_a_missing_baseline_with_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(baselines, "find_nats_server", lambda: None)
    options = replace(QUICK, servers=(), baselines=("nats",), skip=frozenset(SCENARIOS))
    progress = io.StringIO()
    report = run_bench(options, progress)
    assert progress.getvalue().startswith("skipping the nats baseline: nats-server not found")
    machine = report["machine"]
    assert isinstance(machine, dict)
    assert "nats-server not found" in machine["baselines_skipped"]["nats"]
    assert report["runs"] == {}
