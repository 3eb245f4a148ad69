"""Router: rate limit and abuse, idle timeout, deadlines, metrics, health, config (§18-§20)."""

from __future__ import annotations

import pytest
from router_harness import T0, Harness, closes, errors, payloads, sid

from quicko.protocol import (
    MAX_PAYLOAD_BYTES,
    ErrorCode,
    Message,
    MessageType,
    Ping,
    Pong,
    encode_frame,
)
from quicko.relay.actions import CLOSE_NORMAL, CLOSE_POLICY_VIOLATION, PauseReading, Send
from quicko.relay.config import RelayConfig


def test_over_the_rate_a_frame_is_handled_and_reading_paused() -> None:
    h = Harness(RelayConfig(rate=10, burst=3))
    a = h.peer(1)  # the Hello took one token from the source only
    for n in range(3):
        assert h.send(a.conn, Ping(n)) == [Send(a.conn, encode_frame(Pong(n, T0)))]
    actions = h.send(a.conn, Ping(3))  # the bucket is empty: served, then paused 100 ms
    assert payloads(actions, a.conn) == [Pong(3, T0)]
    assert actions[-1] == PauseReading(a.conn, T0 + 101)
    assert errors(actions, a.conn) == []
    assert h.router.metrics.reads_paused == 1 and h.router.metrics.rate_limited == 0
    actions = h.send(a.conn, Ping(4))  # already read: handled, and the pause grows
    assert actions[-1] == PauseReading(a.conn, T0 + 201)
    h.now += 200  # the debt of 2 is repaid
    assert h.send(a.conn, Ping(5)) == [
        Send(a.conn, encode_frame(Pong(5, h.now))),
        PauseReading(a.conn, h.now + 101),
    ]


def test_far_beyond_the_rate_is_abuse() -> None:
    h = Harness(RelayConfig(rate=1, burst=1, abuse_limit=5))
    a, b = h.peer(1), h.peer(2)
    h.send(a.conn, Ping(0))  # the last token
    for _ in range(5):  # a debt of 1..5 frames: handled, paused
        actions = h.send(a.conn, Ping(1))
        assert errors(actions, a.conn) == [] and closes(actions) == {}
        assert isinstance(actions[-1], PauseReading)
    actions = h.send(a.conn, Ping(1))  # 6 > 5: refused and closed
    assert errors(actions, a.conn) == [ErrorCode.RATE_LIMITED]
    assert payloads(actions, a.conn)[0].ref_type == MessageType.PING  # type: ignore[union-attr]
    assert closes(actions) == {a.conn: CLOSE_POLICY_VIOLATION}
    assert h.router.metrics.abuse_disconnects == h.router.metrics.rate_limited == 1
    assert h.send(a.conn, Ping(1)) == []
    # b has its own address bucket (the source's is ten times larger): served at once.
    assert payloads(h.send(b.conn, Ping(2)), b.conn) == [Pong(2, h.now)]


def test_a_reconnect_buys_no_fresh_burst() -> None:
    h = Harness(RelayConfig(rate=1, burst=2))
    a = h.peer(1)
    h.send(a.conn, Ping(0))
    h.send(a.conn, Ping(1))  # the address's bucket is empty
    h.drop(a)
    again = h.peer(1)  # a new connection, a new Hello: the same address bucket
    actions = h.send(again.conn, Ping(2))
    assert actions[-1] == PauseReading(again.conn, h.now + 1001)
    other = h.peer(2)  # another address from the same source is not slowed
    assert h.send(other.conn, Ping(3)) == [Send(other.conn, encode_frame(Pong(3, h.now)))]


def test_the_source_bucket_is_shared_by_its_addresses() -> None:
    h = Harness(RelayConfig(rate=100, burst=100, source_rate=1, source_burst=3))
    a = h.peer(1, source="198.51.100.7")  # the Hello: 1 source token
    b = h.peer(2, source="198.51.100.7")  # 2
    assert h.send(a.conn, Ping(0)) == [Send(a.conn, encode_frame(Pong(0, h.now)))]  # 3
    actions = h.send(b.conn, Ping(1))
    assert actions[-1] == PauseReading(b.conn, h.now + 1001)
    elsewhere = h.peer(3, source="203.0.113.9")
    assert not any(isinstance(x, PauseReading) for x in h.send(elsewhere.conn, Ping(2)))


def test_buckets_of_closed_connections_are_forgotten_once_full() -> None:
    h = Harness(RelayConfig(rate=1000, burst=10))
    limiter = h.router._limiter  # the bound on the limiter's memory
    for n in range(1500):
        peer = h.peer(n, source=f"10.0.{n // 256}.{n % 256}")
        h.drop(peer)
        h.now += 20  # every bucket is full again 10 ms after its last frame
    assert len(limiter) < 2100  # at most about twice what one prune left, never all 3000


def test_idle_timeout() -> None:
    h = Harness(RelayConfig(idle_timeout_s=60))
    a, b = h.peer(1), h.peer(2)
    h.now += 30_000
    h.send(a.conn, Ping(1))
    assert h.router.next_deadline() == T0 + 60_000
    actions = h.advance(30_000)
    assert errors(actions, b.conn) == [ErrorCode.IDLE_TIMEOUT]
    assert closes(actions) == {b.conn: CLOSE_NORMAL}
    assert h.router.next_deadline() == T0 + 90_000


def test_no_deadline_when_empty() -> None:
    h = Harness()
    assert h.router.next_deadline() is None
    assert h.router.handle_timeout(T0) == []


def test_metrics_and_health_have_counts_only() -> None:
    h = Harness()
    a, b = h.peer(1), h.peer(2)
    h.join(a, sid(1), "ABCD")
    h.join(b, sid(1))
    h.send(a.conn, Message(sid(1), a.address, b.address, bytes(16), 0, b"x"))
    h.open()
    metrics = h.router.metrics
    assert metrics.frames_in[MessageType.MESSAGE] == 1
    assert metrics.frames_out[MessageType.MESSAGE] == 1
    assert metrics.frames_out[MessageType.ACK] == 1
    assert metrics.frames_out[MessageType.CHALLENGE] == 3
    assert metrics.bytes_in > 0
    assert metrics.bytes_out > 0
    assert metrics.authentications == 2
    as_dict = metrics.as_dict()
    assert as_dict["connections"] == 3
    assert as_dict["authenticated_connections"] == 2
    assert as_dict["sessions"] == 1
    assert as_dict["nameplates"] == 1
    assert all(type(value) is int for value in as_dict.values())
    assert h.router.health() == {
        "connections": 3,
        "authenticated_connections": 2,
        "sessions": 1,
        "directory_entries": 0,
        "buffered_frames": 0,
        "buffered_bytes": 0,
    }
    h.send(a.conn, Message(sid(1), b.address, a.address, bytes(16), 0, b"x"))
    assert metrics.rejections == {ErrorCode.SENDER_MISMATCH: 1}


def test_config_defaults_match_the_spec() -> None:
    config = RelayConfig()
    assert (config.host, config.port, config.max_connections) == ("0.0.0.0", 9900, 10_000)
    assert (config.rate, config.burst, config.max_payload) == (30, 60, MAX_PAYLOAD_BYTES)
    assert (config.buffer_ttl_ms, config.buffer_per_recipient, config.buffer_total) == (
        60_000,
        256,
        100_000,
    )
    assert (config.handshake_timeout_ms, config.idle_timeout_ms, config.call_timeout_ms) == (
        10_000,
        60_000,
        60_000,
    )
    assert config.directory_ttl_ms == 3_600_000
    assert config.signature_skew_ms == 300_000
    assert (config.send_queue_bytes, config.connect_rate, config.max_connections_per_ip) == (
        4_194_304,
        32,
        32,
    )
    assert (config.directory_new_ttl_ms, config.max_directory_entries_per_ip) == (600_000, 16)
    assert config.max_pending_calls_per_ip == 64
    assert (
        config.buffer_bytes_per_recipient,
        config.buffer_bytes_per_sender,
        config.buffer_bytes_total,
    ) == (1 << 20, 4 << 20, 256 << 20)
    assert (config.tls_cert, config.tls_key, config.node_id, config.log_level) == (
        None,
        None,
        None,
        "info",
    )
    assert config.max_pending_calls_per_caller == 16


@pytest.mark.parametrize(
    "kwargs",
    [
        {"port": 70000},
        {"port": -1},
        {"rate": 0},
        {"burst": -1},
        {"max_payload": 2_000_000},
        {"max_members": 65},
        {"tls_cert": "cert.pem"},
        {"log_level": "loud"},
    ],
)
def test_config_rejects_bad_values(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):  # each case has its own message
        RelayConfig(**kwargs)  # type: ignore[arg-type]


def test_config_accepts_tls_pair_and_port_zero() -> None:
    config = RelayConfig(port=0, tls_cert="c.pem", tls_key="k.pem")
    assert config.port == 0
