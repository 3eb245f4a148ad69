"""``quicko bench relay --baseline …``: the optional columns against the real servers.

Each test skips (never fails) when its tool is absent: ``nats-server`` is a Debian package
(``scripts/system-deps.sh --bench``); the Node.js test also needs ``ws`` already in the bench's
cache, so that the suite never installs from the npm registry.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from quicko.bench.baselines import WS_VERSION, cache_dir, find_nats_server

pytestmark = pytest.mark.integration

QUICK = [sys.executable, "-m", "quicko", "bench", "relay", "--quick", "--json", "--server", "relay"]


def _bench(*extra: str) -> dict[str, object]:
    completed = subprocess.run(
        [*QUICK, *extra], capture_output=True, text=True, timeout=110, check=False
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    report: dict[str, object] = json.loads(completed.stdout)
    return report


def _check_forwarding(report: dict[str, object], server: str) -> None:
    runs = report["runs"]
    assert isinstance(runs, dict)
    throughput = runs["throughput_4"][server][0]
    assert throughput["frames"] > 0
    assert throughput["disconnects"] == 0
    assert throughput["first_error"] is None
    assert runs["latency"][server][0]["lost"] == 0
    metrics = report["metrics"]
    assert isinstance(metrics, dict)
    assert metrics["throughput_4"][f"ratio_{server}"] > 0


@pytest.mark.timeout(120)
def test_nats_column_forwards_through_a_real_nats_server() -> None:
    if find_nats_server() is None:
        pytest.skip("nats-server is not installed (scripts/system-deps.sh --bench)")
    report = _bench("--baseline", "nats", "--skip-memory")
    _check_forwarding(report, "nats")
    assert report["runs"]["handshakes"]["nats"][0]["handshakes"] == 16  # type: ignore[index]  # JSON
    assert str(report["machine"]["nats"]).startswith("v")  # type: ignore[index]  # JSON


@pytest.mark.timeout(120)
def test_node_column_forwards_through_the_node_ws_forwarder() -> None:
    package = cache_dir() / "node_modules" / "ws" / "package.json"
    if shutil.which("node") is None or WS_VERSION not in (
        package.read_text("utf-8") if package.is_file() else ""
    ):
        pytest.skip(f"node or ws {WS_VERSION} (in {cache_dir()}) is missing")
    report = _bench("--baseline", "node", "--skip-memory", "--skip-handshakes")
    _check_forwarding(report, "node")
