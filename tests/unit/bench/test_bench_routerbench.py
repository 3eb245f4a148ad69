"""The router micro-benchmark runs the real hot path (tiny runs; never timed)."""

from __future__ import annotations

import json

import pytest

from quicko.bench.routerbench import main, measure
from quicko.relay.compiled import hot_path


@pytest.mark.parametrize("acking", [False, True])
def test_measure_routes_frames(acking: bool) -> None:
    assert measure(64, acking=acking, ack_every=4) > 0


def test_main_prints_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--frames", "64", "--repeat", "2", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ns_per_frame"] > 0
    assert len(report["runs"]) == 2
    assert report["hot_path"] == hot_path()  # which relay modules ran compiled, if any


def test_main_refuses_nonsense() -> None:
    assert main(["--frames", "1"]) == 2
