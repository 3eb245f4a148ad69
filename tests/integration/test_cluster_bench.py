"""``quicko bench cluster`` runs end to end (tiny durations): a smoke test, not a timed test."""

from __future__ import annotations

import argparse
import shutil

import pytest

from quicko.bench.cluster import run_cluster_bench

pytestmark = pytest.mark.integration


async def test_cluster_bench_cross_node_layout_runs() -> None:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (scripts/system-deps.sh --tests installs it)")
    options = argparse.Namespace(
        connections=4, rate=200.0, warmup=0.2, duration=0.5, only="cross", json=True
    )
    result = await run_cluster_bench(options)
    (row,) = result["layouts"]
    assert row["layout"] == "2 nodes, cross node" and row["connections"] == 4
    assert row["frames_per_s"] > 0
    assert row["redis_commands_per_frame"] > 0  # every frame crossed Redis
    assert row["latency_samples"] > 0
    assert 0 < result["mirror"]["bytes_per_user"] < 100_000
