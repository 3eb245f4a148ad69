"""The client half of the hop-by-hop acknowledgement (quicko.client.hop), on a fixed clock."""

from __future__ import annotations

import pytest

from quicko.client.hop import ACK_DELAY_S, ACK_EVERY_FRAMES, HopCounter
from quicko.protocol import Received


def test_a_quiet_connection_acknowledges_nothing() -> None:
    hop = HopCounter()
    assert hop.next_deadline() is None and hop.take(1e9) is None and hop.count == 0


def test_acknowledgements_are_coalesced_within_100_ms() -> None:
    hop = HopCounter()
    assert hop.received(10.0)  # the first frame arms the deadline
    assert not hop.received(10.05)
    assert hop.next_deadline() == pytest.approx(10.0 + ACK_DELAY_S)
    assert hop.take(10.05) is None
    assert hop.take(10.0 + ACK_DELAY_S) == Received(2)
    assert hop.next_deadline() is None and hop.take(11.0) is None
    assert hop.received(12.0)  # a new run of frames arms it again
    assert hop.take(12.2) == Received(3)  # cumulative


def test_32_frames_are_acknowledged_at_once() -> None:
    hop = HopCounter()
    due = [hop.received(5.0) for _ in range(ACK_EVERY_FRAMES)]
    assert due == [True] + [False] * (ACK_EVERY_FRAMES - 2) + [True]
    assert hop.take(5.0) == Received(ACK_EVERY_FRAMES)


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        HopCounter(every=0)
