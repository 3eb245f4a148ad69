"""The client-side token bucket: frames beyond the burst wait, at the configured rate."""

from __future__ import annotations

import pytest

from quicko.client.pacing import DEFAULT_SEND_BURST, DEFAULT_SEND_RATE, Pacer


def test_defaults_stay_below_the_relays_defaults() -> None:
    # The relay allows 30 frames/s with a burst of 60 (relay/config.py, docs/relay.md).
    assert DEFAULT_SEND_RATE < 30 and DEFAULT_SEND_BURST < 60


def test_a_burst_goes_at_once_then_frames_wait_for_the_refill() -> None:
    pacer = Pacer(rate=10.0, burst=3, now=0.0)
    assert [pacer.delay(0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert pacer.delay(0.0) == pytest.approx(0.1)  # one token takes 1/rate seconds
    assert pacer.delay(0.05) == pytest.approx(0.05)  # half refilled: half the wait left
    assert pacer.delay(0.1) == 0.0
    assert pacer.delay(10.0) == 0.0  # a long pause refills to the burst, no further
    assert [pacer.delay(10.0) for _ in range(2)] == [0.0, 0.0]
    assert pacer.delay(10.0) > 0.0


@pytest.mark.parametrize(("rate", "burst"), [(0.0, 1), (-1.0, 1), (1.0, 0)])
def test_bad_settings_are_refused(rate: float, burst: int) -> None:
    with pytest.raises(ValueError, match="send rate"):
        Pacer(rate=rate, burst=burst, now=0.0)
