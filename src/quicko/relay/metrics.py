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
        rate_limited: frames dropped by the rate limit (only a connection far beyond its rate:
            each such frame closes it).
        abuse_disconnects: connections closed for going far beyond the rate limit.
        reads_paused: frames over the rate, handled and answered by pausing the sender's reads.
        dead_links: connections closed because routed frames stayed unacknowledged for the
            ack timeout.
        requeued: unacknowledged routed frames moved to the away buffer when their connection
            died or was replaced (re-delivered on the next connection).
        requeue_refused: unacknowledged routed frames dropped because the away buffer was over
            a cap (a MESSAGE's sender heard EXPIRED).
        unacked_forgotten: unacknowledged routed frames forgotten (as if delivered) because a
            connection that never sent Received was over its bound.
        writes_blocked: times a connection's routed frames started waiting in its away buffer
            (its unsent bytes passed ``send_queue_bytes``).
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
        "dead_links",
        "directory_entries",
        "frames_in",
        "frames_out",
        "nameplates",
        "pending_calls",
        "rate_limited",
        "reads_paused",
        "rejections",
        "requeue_refused",
        "requeued",
        "sessions",
        "unacked_forgotten",
        "writes_blocked",
    )

    def __init__(self) -> None:
        self.frames_in: list[int] = [0] * _TYPE_CODES
        self.frames_out: list[int] = [0] * _TYPE_CODES
        self.bytes_in = 0
        self.bytes_out = 0
        self.rejections: dict[int, int] = {}
        self.rate_limited = 0
        self.abuse_disconnects = 0
        self.reads_paused = 0
        self.dead_links = 0
        self.requeued = 0
        self.requeue_refused = 0
        self.unacked_forgotten = 0
        self.writes_blocked = 0
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
