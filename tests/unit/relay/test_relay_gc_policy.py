"""The relay's timer freezes new connections' survivors: when, and only then (tune_gc's policy).

The timer is driven by hand (no loop: it re-arms nothing); the collector's state of this
process is restored after each test.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest

from quicko.relay.collector import GC_PAUSES
from quicko.relay.config import RelayConfig
from quicko.relay.server import RelayServer


@pytest.fixture
def freezing() -> Iterator[None]:
    """The freeze policy on, as after ``tune_gc``; off and everything unfrozen afterwards."""
    was = GC_PAUSES.freezing
    GC_PAUSES.freezing = True
    try:
        yield
    finally:
        GC_PAUSES.freezing = was
        gc.unfreeze()


def _server() -> RelayServer:
    return RelayServer(RelayConfig(host="127.0.0.1", port=0, node_id="test"))


@pytest.mark.usefixtures("freezing")
def test_a_tick_freezes_once_after_connections_opened() -> None:
    server = _server()
    before = GC_PAUSES.freezes
    server._tick()
    assert GC_PAUSES.freezes == before  # nothing opened yet
    server.io.accepted += 3
    server._tick()
    assert GC_PAUSES.freezes == before + 1
    assert gc.get_freeze_count() > 0
    assert gc.get_count()[0] < 100  # the young generation starts again from (nearly) zero
    server._tick()
    assert GC_PAUSES.freezes == before + 1  # no new connection since
    server.io.accepted += 1
    server._tick()
    assert GC_PAUSES.freezes == before + 2


def test_no_freeze_without_the_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(GC_PAUSES, "freezing", False)  # before tune_gc (the relay command's)
    server = _server()
    before = GC_PAUSES.freezes
    server.io.accepted += 3
    server._tick()
    assert GC_PAUSES.freezes == before


@pytest.mark.usefixtures("freezing")
def test_a_cluster_node_does_not_freeze() -> None:
    server = _server()
    cluster: Any = object()  # only compared with None by the timer
    server._cluster = cluster
    before = GC_PAUSES.freezes
    server.io.accepted += 3
    server._tick()
    assert GC_PAUSES.freezes == before
