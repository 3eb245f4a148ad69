"""The relay's counters and gauges: plain integers, no identifiers (DESIGN.md §7).

The router increments the counters as it works and refreshes the gauges whenever
:attr:`quicko.relay.router.Router.metrics` is read; the HTTP layer formats them for
``/metrics``. Nothing here names a connection, an address, a session or a nameplate.
"""

from __future__ import annotations

__all__ = ["RelayMetrics"]

_TYPE_CODES = 256


class RelayMetrics:
    """Counters (only ever grow) and gauges (current values) of one relay node.

    Attributes:
        frames_in: binary frames received, indexed by type code (0 when the header was too
            short to name one).
        frames_out: frames sent, indexed by type code.
        bytes_in: bytes of binary frames received.
        bytes_out: bytes of frames sent.
        rejections: Error frames sent, by :class:`~quicko.protocol.ErrorCode` value.
        rate_limited: frames dropped by the per-connection token bucket.
        abuse_disconnects: connections closed for ignoring the rate limit.
        connections_opened: connections ever opened.
        authentications: Hellos that proved an identity.
        buffer_expired: buffered frames dropped at the end of their TTL.
        calls_forwarded: CallPeers handed to an online callee.
        connections: open connections (gauge).
        authenticated_connections: connections bound to an address (gauge).
        sessions: sessions (gauge).
        nameplates: claimed nameplates (gauge).
        directory_entries: directory entries (gauge).
        buffered_frames: frames held for away recipients (gauge).
        buffered_bytes: bytes held for away recipients, as counted against the byte budgets
            (gauge).
        pending_calls: unanswered calls (gauge).
    """

    __slots__ = (
        "abuse_disconnects",
        "authenticated_connections",
        "authentications",
        "buffer_expired",
        "buffered_bytes",
        "buffered_frames",
        "bytes_in",
        "bytes_out",
        "calls_forwarded",
        "connections",
        "connections_opened",
        "directory_entries",
        "frames_in",
        "frames_out",
        "nameplates",
        "pending_calls",
        "rate_limited",
        "rejections",
        "sessions",
    )

    def __init__(self) -> None:
        self.frames_in: list[int] = [0] * _TYPE_CODES
        self.frames_out: list[int] = [0] * _TYPE_CODES
        self.bytes_in = 0
        self.bytes_out = 0
        self.rejections: dict[int, int] = {}
        self.rate_limited = 0
        self.abuse_disconnects = 0
        self.connections_opened = 0
        self.authentications = 0
        self.buffer_expired = 0
        self.calls_forwarded = 0
        self.connections = 0
        self.authenticated_connections = 0
        self.sessions = 0
        self.nameplates = 0
        self.directory_entries = 0
        self.buffered_frames = 0
        self.buffered_bytes = 0
        self.pending_calls = 0

    def count_rejection(self, code: int) -> None:
        """Count one Error frame of *code*."""
        self.rejections[code] = self.rejections.get(code, 0) + 1

    def as_dict(self) -> dict[str, int]:
        """Every scalar counter and gauge by name (the per-type and per-code tables excluded)."""
        return {
            name: getattr(self, name)
            for name in self.__slots__
            if name not in {"frames_in", "frames_out", "rejections"}
        }
