"""``quicko bench faults``: the fault benchmark, tiny, against a real relay behind the proxy."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from quicko.bench.faults import format_faults_table

pytestmark = pytest.mark.integration

GROUPS = {
    "clean": ("sent_on_a_clean_link",),
    "blackhole": ("sent_during", "sent_right_after"),
    "path_change": ("sent_right_after",),
}


@pytest.mark.timeout(120)
def test_the_fault_bench_measures_every_scenario_side_by_side() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "quicko", "bench", "faults", "--fast", "--blackhole", "1",
         "--after", "1", "--json"],
        capture_output=True, text=True, timeout=110, check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-2000:]
    report = json.loads(completed.stdout)
    assert report["parameters"]["blackhole_s"] == 1.0
    results = report["results"]
    assert set(results) == set(GROUPS)
    for scenario, groups in GROUPS.items():
        result = results[scenario]
        assert result["dup"] == 0, scenario
        for group in groups:
            numbers = result[group]
            assert numbers["texts"] > 0, (scenario, group)
            assert numbers["lost"] == 0, (scenario, group)
            assert 0 < numbers["p50_ms"] <= numbers["p99_ms"] <= numbers["max_ms"]
    assert results["blackhole"]["detected_s"] is not None
    assert results["path_change"]["last_arrival_after_change_s"] is not None
    table = format_faults_table(report)
    assert "blackhole: during the blackhole" in table
    assert "path change: right after" in table


def test_the_table_shows_a_failed_scenario() -> None:
    report = {
        "parameters": {"rate": 5.0, "blackhole_s": 10.0, "after_s": 3.0, "fast": False},
        "results": {
            "clean": {
                "sent_on_a_clean_link": {"texts": 30, "p50_ms": 1.5, "p99_ms": 3.25,
                                         "max_ms": 4.0, "lost": 0},
                "dup": 0,
            },
            "blackhole": {"error": "did not finish in time"},
        },
    }  # fmt: skip
    table = format_faults_table(report)
    assert "production client timings" in table
    assert "clean: on a clean link" in table and "3.2" in table
    assert "blackhole" in table and "error: did not finish in time" in table
    assert format_faults_table({}) == "no results"
