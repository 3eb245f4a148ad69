"""Tests of quicko.relay.admission: caps and connection rate per source, source keys."""

from __future__ import annotations

import pytest

from quicko.relay.admission import TCP_SLACK, Admission, Verdict, source_key


def test_source_keys_group_ipv6_by_64_and_unmap_ipv4() -> None:
    assert source_key("192.0.2.7") == "192.0.2.7"
    assert source_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert source_key("2001:db8:1:2:aaaa::1") == source_key("2001:db8:1:2:bbbb::9")
    assert source_key("2001:db8:1:2::1") == "2001:db8:1:2::/64"
    assert source_key("2001:db8:1:3::1") != source_key("2001:db8:1:2::1")
    assert source_key("fe80::1%eth0") == "fe80::/64"
    assert source_key("") == ""


def test_total_cap() -> None:
    admission = Admission(max_connections=2, max_per_source=10, connect_rate=100)
    for source in ("a", "b"):
        assert admission.admit(source, 0.0) is Verdict.ADMIT
        admission.opened(source)
    assert admission.admit("c", 0.0) is Verdict.FULL
    admission.closed("a")
    assert admission.admit("c", 0.0) is Verdict.ADMIT


def test_per_source_cap() -> None:
    admission = Admission(max_connections=100, max_per_source=1, connect_rate=100)
    assert admission.admit("a", 0.0) is Verdict.ADMIT
    admission.opened("a")
    assert admission.admit("a", 1.0) is Verdict.TOO_MANY
    assert admission.admit("b", 1.0) is Verdict.ADMIT


@pytest.mark.parametrize("rate", [1.0, 5.0])
def test_connect_rate_is_a_token_bucket(rate: float) -> None:
    admission = Admission(max_connections=100, max_per_source=100, connect_rate=rate)
    admitted = sum(admission.admit("a", 0.0) is Verdict.ADMIT for _ in range(20))
    assert admitted == int(rate)
    assert admission.admit("a", 0.0) is Verdict.TOO_FAST
    assert admission.admit("a", 1.0 / rate) is Verdict.ADMIT


def test_prune_forgets_idle_sources_only() -> None:
    admission = Admission(max_connections=100, max_per_source=100, connect_rate=10)
    admission.admit("idle", 0.0)
    admission.admit("busy", 0.0)
    admission.opened("busy")
    admission.prune(5.0)
    assert admission.sources() == 1
    admission.closed("busy")
    admission.prune(5.5)  # at most once a second
    assert admission.sources() == 1
    admission.prune(7.0)
    assert admission.sources() == 0


def test_tcp_sockets_are_capped_per_source_and_in_all() -> None:
    admission = Admission(max_connections=3, max_per_source=1, connect_rate=10.0)
    per_source = 1 + TCP_SLACK
    assert all(admission.tcp_opened("a") for _ in range(per_source))
    assert not admission.tcp_opened("a")  # the source is at its cap
    assert admission.tcp_opened("b")  # another source is not
    admission.tcp_closed("a")
    assert admission.tcp_opened("a")
    for n in range(3 + TCP_SLACK - admission.tcp_open):
        assert admission.tcp_opened(f"c{n}")
    assert not admission.tcp_opened("d")  # the relay is at its cap in all
    assert admission.tcp_open == 3 + TCP_SLACK
    for n in range(3 + TCP_SLACK - per_source - 1):
        admission.tcp_closed(f"c{n}")
    admission.tcp_closed("b")
    for _ in range(per_source):
        admission.tcp_closed("a")
    admission.tcp_closed("a")  # more closes than opens never go below zero
    assert admission.tcp_open == 0
