"""The relay's two HTTP endpoints, served on the WebSocket port: ``/health`` and ``/metrics``.

``/health`` is a small JSON object for load balancers and operators; ``/metrics`` is the
Prometheus text format (version 0.0.4), built with ``prometheus_client`` on a private registry
from the router's :class:`~quicko.relay.metrics.RelayMetrics` and the listener's own
:class:`IOStats`. Both carry counts only: no address, session, nameplate or connection id.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from typing import Final

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.registry import Collector, CollectorRegistry

from quicko import __version__
from quicko.protocol.types import ErrorCode, MessageType
from quicko.relay.metrics import RelayMetrics

__all__ = [
    "HEALTH_CONTENT_TYPE",
    "METRICS_CONTENT_TYPE",
    "PREFIX",
    "IOStats",
    "MetricsExporter",
    "health_body",
]

PREFIX: Final = "quicko_relay_"
"""Prefix of every metric name."""

METRICS_CONTENT_TYPE: Final = CONTENT_TYPE_PLAIN_0_0_4
"""``Content-Type`` of ``/metrics``."""

HEALTH_CONTENT_TYPE: Final = "application/json"
"""``Content-Type`` of ``/health``."""

#: RelayMetrics attributes that are current values, not ever-growing counts.
_GAUGES: Final = frozenset(
    {
        "connections",
        "authenticated_connections",
        "sessions",
        "nameplates",
        "directory_entries",
        "buffered_frames",
        "buffered_bytes",
        "pending_calls",
    }
)
_TABLES: Final = frozenset({"frames_in", "frames_out", "rejections"})


class IOStats:
    """Counts kept by the listener (the I/O layer), beside the router's.

    Attributes:
        open_connections: WebSocket connections open now (gauge).
        accepted: WebSocket upgrades accepted.
        refused_full: upgrades refused with 503 because the relay was at ``max_connections``.
        refused_per_ip: upgrades refused with 429: too many concurrent connections from one
            source address.
        refused_rate: upgrades refused with 429: too many new connections per second from
            one source address.
        slow_disconnects: connections closed because their unsent bytes passed
            ``send_queue_bytes``.
        oversized: messages refused for exceeding the frame size limit (close 1009).
        http_requests: ``/health`` and ``/metrics`` requests served.
        tcp_open: TCP connections open now, upgraded or not (gauge).
        refused_tcp: TCP connections dropped on accept because their source, or the relay,
            already had as many open sockets as it may (before any HTTP was read).
        internal_errors: frames whose handling raised unexpectedly (the connection was closed).
        prelogin_refused: connections closed for sending more than a Hello before logging in
            (a fragment, a message over 1 KiB, or over 4 KiB in all).
        write_failures: writes that failed because the socket was already gone (that
            connection was dropped; no other connection is affected).
    """

    __slots__ = (
        "accepted",
        "http_requests",
        "internal_errors",
        "open_connections",
        "oversized",
        "prelogin_refused",
        "refused_full",
        "refused_per_ip",
        "refused_rate",
        "refused_tcp",
        "slow_disconnects",
        "tcp_open",
        "write_failures",
    )

    def __init__(self) -> None:
        self.open_connections = 0
        self.accepted = 0
        self.refused_full = 0
        self.refused_per_ip = 0
        self.refused_rate = 0
        self.slow_disconnects = 0
        self.oversized = 0
        self.http_requests = 0
        self.internal_errors = 0
        self.tcp_open = 0
        self.refused_tcp = 0
        self.write_failures = 0
        self.prelogin_refused = 0


def health_body(
    *,
    node_id: str,
    uptime_s: float,
    io: IOStats,
    router_health: Mapping[str, int],
    shutting_down: bool = False,
    extra: Mapping[str, object] | None = None,
) -> bytes:
    """The JSON document ``/health`` returns.

    It has ``status`` (``"ok"``, or ``"shutting_down"``), ``node_id``, ``version``,
    ``uptime_s``, ``connections`` (open WebSocket connections) and every count of the router's
    ``health()`` (``sessions`` among them).
    """
    document: dict[str, object] = {"sessions": 0, **router_health}
    document.update(
        status="shutting_down" if shutting_down else "ok",
        node_id=node_id,
        version=__version__,
        uptime_s=int(uptime_s),
        connections=io.open_connections,
    )
    if extra:
        document.update(extra)
    return json.dumps(document, sort_keys=True).encode()


def _type_name(code: int) -> str:
    try:
        return MessageType(code).name.lower()
    except ValueError:
        return f"0x{code:02x}"


def _error_name(code: int) -> str:
    try:
        return ErrorCode(code).name.lower()
    except ValueError:
        return str(code)


class _RelayCollector(Collector):
    """Reads the router's metrics and the listener's counts at each scrape."""

    def __init__(
        self,
        metrics: Callable[[], RelayMetrics],
        io: IOStats,
        uptime_s: Callable[[], float],
        extra: Callable[[], Mapping[str, tuple[str, float]]] | None = None,
    ) -> None:
        self._metrics = metrics
        self._io = io
        self._uptime_s = uptime_s
        self._extra = extra

    def collect(self) -> Iterator[Metric]:
        """Yield one metric family per count (Prometheus ``Collector`` protocol)."""
        metrics = self._metrics()
        for name, value in metrics.as_dict().items():
            if name in _GAUGES:
                yield GaugeMetricFamily(PREFIX + name, f"Current {name}.", value=value)
            else:
                yield CounterMetricFamily(PREFIX + name, f"Total {name}.", value=value)
        for direction, table in (("in", metrics.frames_in), ("out", metrics.frames_out)):
            family = CounterMetricFamily(
                f"{PREFIX}frames_{direction}", f"Frames {direction}, by type.", labels=["type"]
            )
            for code, count in enumerate(table):
                if count:
                    family.add_metric([_type_name(code)], count)
            yield family
        rejections = CounterMetricFamily(
            PREFIX + "rejections", "Error frames sent, by code.", labels=["code"]
        )
        for code, count in sorted(metrics.rejections.items()):
            rejections.add_metric([_error_name(code)], count)
        yield rejections
        yield from self._io_families()
        if self._extra is not None:
            for extra_name, (kind, amount) in self._extra().items():
                doc = extra_name.replace("_", " ") + "."
                if kind == "gauge":
                    yield GaugeMetricFamily(PREFIX + extra_name, doc, value=amount)
                else:
                    yield CounterMetricFamily(PREFIX + extra_name, doc, value=amount)

    def _io_families(self) -> Iterator[Metric]:
        io = self._io
        yield GaugeMetricFamily(
            PREFIX + "open_connections", "Open WebSocket connections.", value=io.open_connections
        )
        yield GaugeMetricFamily(
            PREFIX + "uptime_seconds", "Seconds since the relay started.", value=self._uptime_s()
        )
        refused = CounterMetricFamily(
            PREFIX + "upgrades_refused", "WebSocket upgrades refused, by reason.", labels=["reason"]
        )
        refused.add_metric(["full"], io.refused_full)
        refused.add_metric(["per_ip"], io.refused_per_ip)
        refused.add_metric(["rate"], io.refused_rate)
        yield refused
        yield GaugeMetricFamily(
            PREFIX + "tcp_open", "Open TCP connections, upgraded or not.", value=io.tcp_open
        )
        for name, doc in (
            ("accepted", "WebSocket upgrades accepted."),
            ("slow_disconnects", "Connections closed for reading too slowly."),
            ("oversized", "Messages refused for exceeding the size limit."),
            ("http_requests", "Requests to /health and /metrics."),
            ("internal_errors", "Frames whose handling failed unexpectedly."),
            ("refused_tcp", "TCP connections dropped on accept: too many sockets open."),
            ("write_failures", "Writes that failed on a socket already gone."),
            ("prelogin_refused", "Connections closed for sending more than a Hello first."),
        ):
            yield CounterMetricFamily(PREFIX + name, doc, value=getattr(io, name))


class MetricsExporter:
    """Renders ``/metrics`` from a private registry (never the global default one)."""

    def __init__(
        self,
        metrics: Callable[[], RelayMetrics],
        io: IOStats,
        uptime_s: Callable[[], float],
        *,
        extra: Callable[[], Mapping[str, tuple[str, float]]] | None = None,
    ) -> None:
        """Read ``metrics()`` (the router's), ``io``, ``uptime_s()`` and ``extra()`` per scrape."""
        self._registry = CollectorRegistry(auto_describe=False)
        self._registry.register(_RelayCollector(metrics, io, uptime_s, extra))

    def render(self) -> bytes:
        """The Prometheus text exposition of every count, now."""
        return generate_latest(self._registry)
