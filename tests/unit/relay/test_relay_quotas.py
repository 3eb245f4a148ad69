"""Per-source quotas and the short TTL of throw-away directory entries (issue 9 item 4)."""

from __future__ import annotations

from quicko.relay.calls import PendingCall, PendingCalls
from quicko.relay.directory import Directory, DirectoryEntry

A, B = b"A" * 16, b"B" * 16


def _entry(address: bytes) -> DirectoryEntry:
    return DirectoryEntry(address, "", bytes(32), bytes(32), "ws://relay:9900", 0, bytes(64))


def test_an_owner_who_never_came_back_gets_the_short_ttl() -> None:
    directory = Directory(ttl_ms=3_600_000, new_ttl_ms=600_000)
    directory.put(_entry(A), "10.0.0.1")
    directory.put(_entry(B), "10.0.0.1")
    directory.mark_offline(A, 0)  # registered, left, never came back
    directory.mark_online(B)  # B's owner came back (a Hello) after registering
    directory.mark_offline(B, 0)
    assert directory.next_deadline() == 600_000
    assert directory.expire(600_000) == 1
    assert directory.get(A) is None and directory.get(B) is not None
    assert directory.count_for_source("10.0.0.1") == 1
    assert directory.expire(3_600_000) == 1
    assert (len(directory), directory.count_for_source("10.0.0.1")) == (0, 0)


def test_directory_entries_are_counted_under_their_latest_source() -> None:
    directory = Directory()
    directory.put(_entry(A), "10.0.0.1")
    directory.put(_entry(A), "10.0.0.2")  # the owner re-registered from elsewhere
    assert (directory.count_for_source("10.0.0.1"), directory.count_for_source("10.0.0.2")) == (
        0,
        1,
    )
    directory.remove(A)
    assert directory.count_for_source("10.0.0.2") == 0


def test_pending_calls_are_counted_per_source() -> None:
    calls = PendingCalls()
    first = PendingCall(b"1" * 16, A, B, 10, "10.0.0.1")
    calls.add(first)
    calls.add(PendingCall(b"2" * 16, B, A, 20, "10.0.0.1"))
    assert calls.count_for_source("10.0.0.1") == 2
    calls.remove(first)
    assert calls.pop_expired(20) is not None
    assert calls.count_for_source("10.0.0.1") == 0
