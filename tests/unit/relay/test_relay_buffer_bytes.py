"""The offline buffer is bounded in bytes per recipient, per sender and in total (issue 9)."""

from __future__ import annotations

from quicko.relay.buffer import FRAME_OVERHEAD, OfflineBuffer

A, B, C = b"A" * 16, b"B" * 16, b"C" * 16
S, T = b"S" * 16, b"T" * 16
KIB = 1024


def _frame(size: int) -> bytes:
    return bytes(size - FRAME_OVERHEAD)  # counted as exactly `size` bytes


def _buffer(**caps: int) -> OfflineBuffer:
    return OfflineBuffer(10_000, 10_000, **caps)


def test_per_recipient_bytes() -> None:
    buffer = _buffer(bytes_per_recipient=3 * KIB)
    assert [buffer.push(A, _frame(KIB), 10, None, S) for _ in range(4)] == [True] * 3 + [False]
    assert buffer.push(B, _frame(KIB), 10, None, S)  # another recipient has its own budget
    assert buffer.size_bytes == 4 * KIB


def test_per_sender_bytes_across_recipients_and_fan_out_counts_each_copy() -> None:
    buffer = _buffer(bytes_per_sender=3 * KIB)
    frame = _frame(KIB)
    assert [buffer.push(r, frame, 10, None, S) for r in (A, B, C)] == [True] * 3
    assert not buffer.push(A, frame, 10, None, S)  # one frame, three copies: S is full
    assert buffer.push(A, frame, 10, None, T)  # another sender is not
    assert buffer.sender_bytes(S) == 3 * KIB


def test_total_bytes() -> None:
    buffer = _buffer(bytes_total=2 * KIB)
    assert buffer.push(A, _frame(KIB), 10, None, S)
    assert buffer.push(B, _frame(KIB), 10, None, T)
    assert not buffer.push(C, _frame(KIB), 10, None, b"U" * 16)


def test_tiny_frames_are_bounded_by_bytes_too() -> None:
    buffer = _buffer(bytes_per_recipient=100 * FRAME_OVERHEAD)
    held = sum(buffer.push(A, b"", 10, None, S) for _ in range(1000))
    assert held == 100


def test_take_and_expiry_give_the_budgets_back() -> None:
    buffer = _buffer(bytes_per_recipient=2 * KIB, bytes_per_sender=3 * KIB, bytes_total=3 * KIB)
    assert buffer.push(A, _frame(KIB), 10, None, S)
    assert buffer.push(A, _frame(KIB), 20, None, S)
    assert buffer.push(B, _frame(KIB), 30, None, S)
    assert not buffer.push(C, _frame(KIB), 30, None, T)
    assert len(buffer.take(A)) == 2
    assert (buffer.size_bytes, buffer.sender_bytes(S)) == (KIB, KIB)
    assert buffer.push(A, _frame(KIB), 40, None, T)
    expired = buffer.pop_expired(30)
    assert expired is not None and expired.recipient == B
    assert (buffer.size_bytes, buffer.sender_bytes(S), buffer.sender_bytes(T)) == (KIB, 0, KIB)
    assert buffer.pop_expired(40) is not None
    assert (buffer.size_bytes, len(buffer)) == (0, 0)
    assert buffer.push(A, _frame(2 * KIB), 50, None, S)  # every budget is whole again
