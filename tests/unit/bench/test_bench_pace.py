"""The latency pacer counts as "in the window" exactly the frames the recipient records."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from quicko.bench import load
from quicko.bench.client import Recorder
from quicko.bench.wire import BODY_BYTES, STAMP


class Sink:
    """A stand-in for a bench client: keeps the stamps of the frames it was given."""

    def __init__(self) -> None:
        self.frame = bytearray(8 + BODY_BYTES)
        self.stamps: list[int] = []

    def send(self, frame: bytearray) -> None:
        self.stamps.append(STAMP.unpack_from(frame, len(frame) - BODY_BYTES)[0])


async def test_a_burst_that_runs_past_the_window_is_not_counted_as_lost(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # On a loaded machine one tick's burst of due frames can be stamped after the window
    # closed; the recipient does not record those, so the pacer must not count them (the
    # bench smoke test once saw "lost": 1 for a frame that was delivered).
    ticks: Iterator[int] = iter(range(0, 10**12, 1_000_000))  # 1 ms per clock read
    monkeypatch.setattr(load, "perf_counter_ns", lambda: next(ticks))
    recorder = Recorder()
    recorder.start_ns, recorder.stop_ns = 5_000_000, 60_000_000
    sinks = [Sink(), Sink()]
    paced = await asyncio.wait_for(load._pace(sinks, 1_000.0, recorder), 10)  # type: ignore[arg-type]
    stamps = [stamp for sink in sinks for stamp in sink.stamps]
    recorded = [s for s in stamps if recorder.start_ns <= s < recorder.stop_ns]
    assert any(s >= recorder.stop_ns for s in stamps)  # the case: a burst ran past the window
    assert paced["sent_in_window"] == len(recorded)
