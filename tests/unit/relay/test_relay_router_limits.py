"""Router: rate limit and abuse, idle timeout, deadlines, metrics, health, config (§18-§20)."""

from __future__ import annotations

import pytest
from router_harness import T0, Harness, closes, errors, payloads, sid

from quicko.protocol import MAX_PAYLOAD_BYTES, ErrorCode, Message, MessageType, Ping, Pong
from quicko.relay.actions import CLOSE_NORMAL, CLOSE_POLICY_VIOLATION
from quicko.relay.config import RelayConfig


def test_rate_limit_drops_frames_and_refills() -> None:
    h = Harness(RelayConfig(rate=10, burst=3))
    a = h.peer(1)  # the Hello took one token
    assert payloads(h.send(a.conn, Ping(1)), a.conn) == [Pong(1, T0)]
    assert payloads(h.send(a.conn, Ping(2)), a.conn) == [Pong(2, T0)]
    actions = h.send(a.conn, Ping(3))
    assert errors(actions, a.conn) == [ErrorCode.RATE_LIMITED]
    assert payloads(actions, a.conn)[0].ref_type == MessageType.PING  # type: ignore[union-attr]
    assert h.router.metrics.rate_limited == 1
    h.now += 100  # one token at 10/s
    assert payloads(h.send(a.conn, Ping(4)), a.conn) == [Pong(4, h.now)]
    assert errors(h.recv(a.conn, b"\x03\x99"), a.conn) == [ErrorCode.RATE_LIMITED]


def test_abuse_disconnects() -> None:
    h = Harness(RelayConfig(rate=1, burst=1, abuse_limit=5))
    a, b = h.peer(1), h.peer(2)
    for _ in range(4):
        actions = h.send(a.conn, Ping(1))
        assert errors(actions, a.conn) == [ErrorCode.RATE_LIMITED]
        assert closes(actions) == {}
    actions = h.send(a.conn, Ping(1))
    assert errors(actions, a.conn) == [ErrorCode.RATE_LIMITED]
    assert closes(actions) == {a.conn: CLOSE_POLICY_VIOLATION}
    assert h.router.metrics.abuse_disconnects == 1
    assert h.send(a.conn, Ping(1)) == []
    h.now += 1000  # every connection has its own bucket: b is served again
    assert payloads(h.send(b.conn, Ping(2)), b.conn) == [Pong(2, h.now)]


def test_a_refill_resets_the_abuse_count() -> None:
    h = Harness(RelayConfig(rate=1, burst=1, abuse_limit=3))
    a = h.peer(1)
    for _ in range(10):
        h.send(a.conn, Ping(1))
        actions = h.send(a.conn, Ping(1))
        assert closes(actions) == {}
        h.now += 1000


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
        200,
        1000,
    )
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
