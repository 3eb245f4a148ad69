"""The router's state stores, directly: the branches the router alone does not reach."""

from __future__ import annotations

from quicko.protocol import Message, encode_frame
from quicko.relay.buffer import OfflineBuffer, Receipt
from quicko.relay.calls import PendingCall, PendingCalls
from quicko.relay.connections import Connection, ConnectionTable
from quicko.relay.directory import Directory, DirectoryEntry
from quicko.relay.flow import ABUSIVE, FlowLimiter
from quicko.relay.frames import parse_message
from quicko.relay.sessions import SessionStore

A, B = b"A" * 16, b"B" * 16


def test_reprs_hide_identifiers() -> None:
    entry = DirectoryEntry(A, "Dana", bytes(32), bytes(32), "ws://relay:9900", 0, bytes(64))
    assert repr(entry) == "<DirectoryEntry 4141>"
    assert repr(PendingCall(b"\xca\x01" + bytes(14), A, B, 0)) == "<PendingCall ca01>"
    connection = Connection(7, bytes(32), 0)
    assert repr(connection) == "<Connection 7 handshake>"
    table = ConnectionTable()
    table.add(connection)
    table.bind(connection, A)
    assert repr(connection) == "<Connection 7 bound>"
    table.unbind(connection)
    assert repr(connection) == "<Connection 7 closing>"
    store = SessionStore()
    assert repr(store.create(b"\x5a\x01" + bytes(14), bytes(32), "")) == "<Session 5a01 members=0>"


def test_unbinding_a_stale_connection_keeps_the_newer_binding() -> None:
    table = ConnectionTable()
    old, new = Connection(1, b"", 0), Connection(2, b"", 0)
    for connection in (old, new):
        table.add(connection)
    table.bind(old, A)
    table.bind(new, A)  # the router unbinds the old one first; the table tolerates either
    old.address = A
    assert table.unbind(old) == A
    assert table.bound(A) is new
    assert table.remove(1) is old
    assert table.remove(1) is None


def test_token_buckets_cap_at_burst_and_go_into_debt() -> None:
    limiter = FlowLimiter(rate=1000, burst=2, source_rate=1000, source_burst=100, abuse_limit=2)
    connection = Connection(1, b"", 0, "192.0.2.1")
    limiter.attach_source(connection, 0)
    limiter.attach_address(connection, A, 0)
    assert limiter.charge(connection, 10_000) == 0
    assert connection.bucket is not None  # full at 10 s: 2 tokens, not 10 s of refill
    assert limiter.charge(connection, 10_000) == 0
    assert limiter.charge(connection, 10_000) == 10_002  # 1 frame of debt at 1/ms: pause
    assert limiter.charge(connection, 10_000) == 10_003
    assert limiter.charge(connection, 10_000) == ABUSIVE  # a debt of 3 > abuse limit 2
    limiter.detach(connection)
    assert connection.bucket is None


def test_pending_calls_count_per_caller() -> None:
    calls = PendingCalls()
    first, second = PendingCall(b"1" * 16, A, B, 10), PendingCall(b"2" * 16, A, B, 20)
    calls.add(first)
    calls.add(second)
    assert calls.count_for(A) == 2
    assert calls.pop_expired(9) is None
    assert calls.pop_expired(10) is first
    assert calls.count_for(A) == 1
    calls.remove(second)
    assert (calls.count_for(A), len(calls), calls.next_deadline()) == (0, 0, None)


def test_member_of_two_sessions_leaving_one() -> None:
    store = SessionStore()
    one, two = store.create(b"1" * 16, bytes(32), ""), store.create(b"2" * 16, bytes(32), "")
    store.add_member(one, A, "a")
    store.add_member(two, A, "a")
    store.mark_away(A, 100)
    assert store.remove_member(one, A) is True
    assert store.session_count_of(A) == 1
    assert store.next_away_deadline() == 100  # still away in the other session
    store.mark_away(B, 50)  # B has no session: nothing to expire
    assert store.pop_expired_away(99) is None
    assert store.pop_expired_away(100) == A
    assert store.mark_back(A) is False


def test_buffer_bounds_and_order() -> None:
    buffer = OfflineBuffer(per_recipient=2, total=3)
    receipt = Receipt(A, b"ack")
    assert buffer.push(B, b"1", 10, receipt)
    assert buffer.push(B, b"2", 11)
    assert not buffer.push(B, b"3", 12)
    assert buffer.push(A, b"4", 12)
    assert not buffer.push(b"C" * 16, b"5", 13)
    assert buffer.take(b"C" * 16) == []
    assert [f.data for f in buffer.take(B)] == [b"1", b"2"]
    assert buffer.next_deadline() == 12
    expired = buffer.pop_expired(12)
    assert expired is not None
    assert expired.data == b"4"
    assert buffer.pop_expired(100) is None
    assert len(buffer) == 0


def test_directory_expiry_and_removal() -> None:
    directory = Directory(ttl_ms=100, new_ttl_ms=50)
    directory.put(DirectoryEntry(A, "a", bytes(32), bytes(32), "ws://relay:9900", 0, bytes(64)))
    directory.mark_offline(B, 5)  # no entry: nothing to expire
    directory.mark_offline(A, 10)  # its owner never came back: the short TTL
    assert directory.next_deadline() == 60
    directory.remove(A)
    assert directory.next_deadline() is None
    assert directory.expire(100) == 0


def test_large_bodies_use_bin16_and_bin32() -> None:
    for size in (300, 70_000):
        frame = encode_frame(Message(A, A, B, A, 1, b"x" * size))
        assert parse_message(frame) is not None
        assert parse_message(frame[:-1]) is None


def test_buffer_expiry_keeps_the_rest_of_a_queue() -> None:
    buffer = OfflineBuffer(per_recipient=5, total=5)
    buffer.push(B, b"1", 10)
    buffer.push(B, b"2", 20)
    assert buffer.pop_expired(10) is not None
    assert [f.data for f in buffer.take(B)] == [b"2"]


def test_timestamp_running_past_the_end() -> None:
    frame = encode_frame(Message(A, A, B, A, 2**63, b""))  # uint 64 timestamp: 9 bytes
    assert parse_message(frame) is not None
    cut = frame[: 6 + 1 + 4 * 18 + 3]
    cut = cut[:2] + (len(cut) - 6).to_bytes(4, "big") + cut[6:]
    assert parse_message(cut) is None
