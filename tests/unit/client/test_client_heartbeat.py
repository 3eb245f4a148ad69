"""The heartbeat's bookkeeping (quicko.client.heartbeat), on a fixed clock."""

from __future__ import annotations

import pytest

from quicko.client.heartbeat import MAX_OUTSTANDING, Heartbeat
from quicko.protocol import Ping, Pong


def test_heartbeat_pings_every_interval_and_measures_latency() -> None:
    beat = Heartbeat(interval=15.0, timeout=5.0)
    beat.start(100.0)
    assert beat.next_deadline() == 115.0
    assert beat.handle_timeout(114.9) is None
    ping = beat.handle_timeout(115.0)
    assert isinstance(ping, Ping)
    assert beat.outstanding
    assert beat.next_deadline() == 120.0
    assert beat.handle_timeout(116.0) is None  # one Ping outstanding at a time
    assert beat.receive_pong(Pong(ping.nonce, 0), 115.25) == pytest.approx(250.0)
    # One interval after the previous Ping was sent:
    assert (beat.outstanding, beat.next_deadline()) == (False, 130.0)
    second = beat.handle_timeout(130.0)
    assert second is not None
    assert second.nonce != ping.nonce


def test_heartbeat_times_out_and_ignores_foreign_pongs() -> None:
    beat = Heartbeat(interval=1.0, timeout=0.5)
    beat.start(0.0)
    ping = beat.handle_timeout(1.0)
    assert ping is not None
    assert beat.receive_pong(Pong(ping.nonce + 1, 0), 1.1) is None
    assert not beat.timed_out(1.49)
    assert beat.timed_out(1.5)
    assert beat.receive_pong(Pong(ping.nonce, 0), 1.6) == pytest.approx(600.0)
    assert beat.receive_pong(Pong(ping.nonce, 0), 1.7) is None  # a duplicate is ignored
    beat.start(5.0)  # a fresh connection forgets the old Ping
    assert not beat.outstanding
    assert not beat.timed_out(100.0)


def test_heartbeat_refuses_non_positive_timings() -> None:
    with pytest.raises(ValueError, match="positive"):
        Heartbeat(interval=0.0)
    with pytest.raises(ValueError, match="positive"):
        Heartbeat(timeout=-1.0)


def test_unacknowledged_data_pings_at_once_and_a_pong_clears_it() -> None:
    beat = Heartbeat(interval=15.0, timeout=5.0, probe_after=3.0)
    beat.start(100.0)
    beat.data_sent(b"m1", 101.0)
    beat.data_sent(b"m2", 102.0)
    assert beat.next_deadline() == 104.0  # not the idle interval: data is at stake
    beat.data_acknowledged(b"m1")
    assert beat.next_deadline() == 105.0 and beat.data_outstanding == 1
    assert beat.handle_timeout(104.9) is None
    ping = beat.handle_timeout(105.0)
    assert ping is not None
    assert beat.timed_out(110.0)  # dead link found 8 s after the data went out
    assert beat.receive_pong(Pong(ping.nonce, 0), 105.5) is not None
    assert beat.data_outstanding == 0 and beat.next_deadline() == 120.0


def test_a_quiet_connection_only_pings_on_the_interval() -> None:
    beat = Heartbeat(interval=15.0, timeout=5.0, probe_after=3.0)
    beat.start(0.0)
    assert beat.next_deadline() == 15.0
    with pytest.raises(ValueError, match="positive"):
        Heartbeat(probe_after=0)


def test_data_sent_in_one_write_is_data_sent_each() -> None:
    one, each = Heartbeat(probe_after=3.0), Heartbeat(probe_after=3.0)
    one.start(100.0)
    each.start(100.0)
    ids = [bytes([n]) * 16 for n in range(5)] + [b"\x00" * 16]  # a duplicate counts once
    assert one.data_sent_many(ids, 101.0)  # the first outstanding: the deadline moved
    for message_id in ids:
        each.data_sent(message_id, 101.0)
    assert one.data_outstanding == each.data_outstanding == 5
    assert one.next_deadline() == each.next_deadline() == 104.0
    assert not one.data_sent_many([b"\x09" * 16], 102.0)  # already outstanding: no move
    one.data_acknowledged(b"\x00" * 16)
    assert one.data_outstanding == 5


def test_data_sent_in_one_write_keeps_the_newest_within_the_bound() -> None:
    beat = Heartbeat()
    beat.start(0.0)
    beat.data_sent_many([n.to_bytes(16, "big") for n in range(MAX_OUTSTANDING + 2)], 1.0)
    assert beat.data_outstanding == MAX_OUTSTANDING
    beat.data_acknowledged((0).to_bytes(16, "big"))  # the oldest two were dropped
    assert beat.data_outstanding == MAX_OUTSTANDING
