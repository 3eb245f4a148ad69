"""Calls by QuickoKey waiting for the callee's answer (docs/protocol.md §15-§16)."""

from __future__ import annotations

from collections import OrderedDict

__all__ = ["PendingCall", "PendingCalls"]


class PendingCall:
    """A CallPeer forwarded to its callee and not answered yet."""

    __slots__ = ("call_id", "callee", "caller", "deadline_ms", "source")

    def __init__(
        self, call_id: bytes, caller: bytes, callee: bytes, deadline_ms: int, source: str = ""
    ) -> None:
        self.call_id = call_id
        self.source = source
        self.caller = caller
        self.callee = callee
        self.deadline_ms = deadline_ms

    def __repr__(self) -> str:
        return f"<PendingCall {self.call_id[:2].hex()}>"


class PendingCalls:
    """Pending calls by call id, in deadline order, counted per caller (in memory)."""

    __slots__ = ("_calls", "_per_caller", "_per_source")

    def __init__(self) -> None:
        self._calls: OrderedDict[bytes, PendingCall] = OrderedDict()
        self._per_caller: dict[bytes, int] = {}
        self._per_source: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._calls)

    def __contains__(self, call_id: bytes) -> bool:
        return call_id in self._calls

    def count_for(self, caller: bytes) -> int:
        """Pending calls of *caller*."""
        return self._per_caller.get(caller, 0)

    def count_for_source(self, source: str) -> int:
        """Pending calls placed from *source*."""
        return self._per_source.get(source, 0)

    def get(self, call_id: bytes) -> PendingCall | None:
        """The pending call *call_id*, if any."""
        return self._calls.get(call_id)

    def add(self, call: PendingCall) -> None:
        """Record a call (its id must not be pending; deadlines must not decrease)."""
        self._calls[call.call_id] = call
        self._per_caller[call.caller] = self._per_caller.get(call.caller, 0) + 1
        self._per_source[call.source] = self._per_source.get(call.source, 0) + 1

    def remove(self, call: PendingCall) -> None:
        """Forget a pending call."""
        del self._calls[call.call_id]
        left = self._per_caller[call.caller] - 1
        if left:
            self._per_caller[call.caller] = left
        else:
            del self._per_caller[call.caller]
        left = self._per_source[call.source] - 1
        if left:
            self._per_source[call.source] = left
        else:
            del self._per_source[call.source]

    def next_deadline(self) -> int | None:
        """When the first pending call times out."""
        first = next(iter(self._calls.values()), None)
        return None if first is None else first.deadline_ms

    def pop_expired(self, now_ms: int) -> PendingCall | None:
        """Remove and return one call whose deadline has passed, if any."""
        first = next(iter(self._calls.values()), None)
        if first is None or first.deadline_ms > now_ms:
            return None
        self.remove(first)
        return first
