"""Admission: TCP sockets on accept, and WebSocket upgrades, in all and per source address.

Pure bookkeeping (time is an argument, in seconds of any monotonic clock): the listener asks
:meth:`Admission.admit` before it accepts an upgrade, and reports :meth:`Admission.opened` and
:meth:`Admission.closed`. Three refusals: the relay is full (HTTP 503), the source already has
its maximum of concurrent connections, or it opened new ones faster than ``connect_rate`` per
second with a burst of as many (both HTTP 429).

A *source* is the client's IP address; IPv6 clients are grouped by their /64 prefix, the block
one subscriber usually holds, so that one host cannot evade the limits by rotating addresses.
"""

from __future__ import annotations

import enum
import ipaddress
from typing import Final

__all__ = ["TCP_SLACK", "Admission", "Verdict", "source_key"]

_IPV6_PREFIX: Final = 64
_PRUNE_EVERY_S: Final = 1.0
TCP_SLACK: Final = 16
"""TCP sockets allowed above the WebSocket limits (per source and in all) before accept drops."""


class Verdict(enum.Enum):
    """The answer to an upgrade request."""

    ADMIT = "admit"
    FULL = "full"
    TOO_MANY = "too_many"
    TOO_FAST = "too_fast"


def source_key(peer: str) -> str:
    """The key the per-source limits count under, for the peer's IP address text.

    IPv4 (also IPv4-mapped IPv6) is the address itself; IPv6 is its /64 network. Anything that
    does not parse (a Unix socket, an empty peer) is counted as itself.
    """
    try:
        address = ipaddress.ip_address(peer.split("%", 1)[0])
    except ValueError:
        return peer
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, _IPV6_PREFIX), strict=False))
    return str(address)


class _Source:
    __slots__ = ("open", "stamp", "tokens")

    def __init__(self, tokens: float, stamp: float) -> None:
        self.open = 0
        self.tokens = tokens
        self.stamp = stamp


class Admission:
    """Connection counts, and a token bucket of new connections per source."""

    def __init__(self, *, max_connections: int, max_per_source: int, connect_rate: float) -> None:
        """Set the limits.

        Args:
            max_connections: open connections at most, in all.
            max_per_source: open connections at most from one source.
            connect_rate: new connections per second per source (burst ``max(1, rate)``).
        """
        self.max_connections = max_connections
        self.max_per_source = max_per_source
        self.connect_rate = connect_rate
        self.burst = max(1.0, connect_rate)
        self.open = 0
        #: TCP sockets open now, upgraded or not, in all and per source.
        self.tcp_open = 0
        self._tcp: dict[str, int] = {}
        self._sources: dict[str, _Source] = {}
        self._pruned_at = float("-inf")

    def admit(self, source: str, now: float) -> Verdict:
        """Decide on one upgrade from ``source`` at time ``now`` (seconds).

        An admitted upgrade takes a token; call :meth:`opened` once it completes.
        """
        if self.open >= self.max_connections:
            return Verdict.FULL
        entry = self._sources.get(source)
        if entry is None:
            entry = self._sources[source] = _Source(self.burst, now)
        else:
            entry.tokens = min(self.burst, entry.tokens + (now - entry.stamp) * self.connect_rate)
            entry.stamp = now
        if entry.open >= self.max_per_source:
            return Verdict.TOO_MANY
        if entry.tokens < 1.0:
            return Verdict.TOO_FAST
        entry.tokens -= 1.0
        return Verdict.ADMIT

    def opened(self, source: str) -> None:
        """A connection from ``source`` is open."""
        self.open += 1
        entry = self._sources.get(source)
        if entry is None:  # pruned between admit and open: count it from a full bucket
            entry = self._sources[source] = _Source(self.burst, 0.0)
        entry.open += 1

    def closed(self, source: str) -> None:
        """A connection from ``source`` is gone."""
        self.open = max(0, self.open - 1)
        entry = self._sources.get(source)
        if entry is not None and entry.open > 0:
            entry.open -= 1

    def tcp_opened(self, source: str) -> bool:
        """A TCP socket from ``source`` was accepted: count it, or say it must be dropped.

        The limits above apply at the upgrade, after the HTTP request is read; until then a
        socket costs a file descriptor for up to the handshake timeout. So sockets, upgraded or
        not, are capped too, :data:`TCP_SLACK` above the WebSocket limits (room for /health,
        /metrics and upgrades about to be refused with a proper HTTP answer).
        """
        open_here = self._tcp.get(source, 0)
        if (
            open_here >= self.max_per_source + TCP_SLACK
            or self.tcp_open >= self.max_connections + TCP_SLACK
        ):
            return False
        self._tcp[source] = open_here + 1
        self.tcp_open += 1
        return True

    def tcp_closed(self, source: str) -> None:
        """A TCP socket from ``source`` that :meth:`tcp_opened` counted is gone."""
        self.tcp_open = max(0, self.tcp_open - 1)
        left = self._tcp.get(source, 1) - 1
        if left > 0:
            self._tcp[source] = left
        else:
            self._tcp.pop(source, None)

    def sources(self) -> int:
        """Sources tracked now (for tests and metrics)."""
        return len(self._sources)

    def prune(self, now: float) -> None:
        """Forget sources with no open connection whose bucket has refilled (once a second)."""
        if now - self._pruned_at < _PRUNE_EVERY_S:
            return
        self._pruned_at = now
        refill_s = self.burst / self.connect_rate
        stale = [
            key
            for key, entry in self._sources.items()
            if entry.open == 0 and now - entry.stamp >= refill_s
        ]
        for key in stale:
            del self._sources[key]
