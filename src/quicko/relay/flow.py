"""Rate limits per address and per source, answered with backpressure (issue 10, issue 9).

Every frame a connection sends takes one token from its **source**'s bucket (the IP address, or
the IPv6 /64: :func:`quicko.relay.admission.source_key`) and, once it has proved an address,
one from that **address**'s bucket. The buckets live here, keyed by source and by address, not
on the connection: a client that reconnects finds its buckets as it left them, so a reconnect
buys no fresh burst.

A frame that finds a bucket empty is **not dropped**: it is handled, the bucket goes into debt
(negative tokens), and the router asks the I/O layer to stop reading the connection's socket
until the debt is repaid (:class:`~quicko.relay.actions.PauseReading`). TCP then slows the
sender down; an honest client's backlog (a stall whose frames arrive in one burst) is delivered
late, never lost. Only frames read *while* in debt add to it (those already in the read buffer
when the pause took effect): a debt beyond ``abuse_limit`` frames (the address) or
``abuse_limit * source_rate / rate`` (the source) is abuse, answered RATE_LIMITED and a close.

Memory: one small :class:`Bucket` per source and per address in use. A bucket that no open
connection uses and that would be full again is forgotten (it is worth exactly a new one), so
the tables hold the live connections' buckets plus those refilling, each for at most
``burst / rate`` seconds after its last connection closed.
"""

from __future__ import annotations

from typing import Final, TypeVar

from quicko.relay.connections import Connection

__all__ = ["ABUSIVE", "Bucket", "FlowLimiter"]

ABUSIVE: Final = -1
"""What :meth:`FlowLimiter.charge` returns for a connection far beyond its rate."""

_PRUNE_FLOOR: Final = 1024
_K = TypeVar("_K", bytes, str)


class Bucket:
    """One token bucket: ``tokens`` (negative while in debt) as of ``stamp``.

    Attributes:
        tokens: tokens left at ``stamp``; below 0 the owner is in debt.
        stamp: when ``tokens`` was counted (ms).
        users: open connections charging this bucket (it is kept while any is).
    """

    __slots__ = ("stamp", "tokens", "users")

    def __init__(self, tokens: float, stamp: int) -> None:
        self.tokens = tokens
        self.stamp = stamp
        self.users = 0


class FlowLimiter:
    """The per-address and per-source token buckets of one relay node (see the module doc)."""

    __slots__ = (
        "_abuse",
        "_addresses",
        "_burst",
        "_prune_at",
        "_rate_per_ms",
        "_source_abuse",
        "_source_burst",
        "_source_rate_per_ms",
        "_sources",
    )

    def __init__(
        self,
        rate: float,
        burst: int,
        source_rate: float,
        source_burst: int,
        abuse_limit: int,
    ) -> None:
        """Set the limits (frames per second, bucket sizes, and the debt that is abuse)."""
        self._rate_per_ms = rate / 1000.0
        self._burst = float(burst)
        self._source_rate_per_ms = source_rate / 1000.0
        self._source_burst = float(source_burst)
        self._abuse = -float(abuse_limit)
        self._source_abuse = -float(abuse_limit) * source_rate / rate
        self._addresses: dict[bytes, Bucket] = {}
        self._sources: dict[str, Bucket] = {}
        self._prune_at = _PRUNE_FLOOR

    def __len__(self) -> int:
        """Buckets remembered (addresses and sources)."""
        return len(self._addresses) + len(self._sources)

    def attach_source(self, c: Connection, now_ms: int) -> None:
        """*c* opened: charge its frames to its source's bucket from now on."""
        bucket = self._sources.get(c.source)
        if bucket is None:
            self._maybe_prune(now_ms)
            bucket = self._sources[c.source] = Bucket(self._source_burst, now_ms)
        bucket.users += 1
        c.source_bucket = bucket

    def attach_address(self, c: Connection, address: bytes, now_ms: int) -> None:
        """*c* proved *address*: charge its frames to the address's bucket too."""
        if c.bucket is not None:
            return
        bucket = self._addresses.get(address)
        if bucket is None:
            self._maybe_prune(now_ms)
            bucket = self._addresses[address] = Bucket(self._burst, now_ms)
        bucket.users += 1
        c.bucket = bucket

    def detach(self, c: Connection) -> None:
        """*c* is gone: its buckets may be forgotten once they are full again."""
        for bucket in (c.bucket, c.source_bucket):
            if bucket is not None:
                bucket.users -= 1
        c.bucket = c.source_bucket = None

    def charge(self, c: Connection, now_ms: int) -> int:
        """Take one token from *c*'s buckets for one frame.

        Returns:
            0 when both buckets had a token; else :data:`ABUSIVE` when a debt passed its
            abuse limit (drop the frame, close the connection); else the time (ms) until
            which reading *c* should pause for the debt to be repaid (handle the frame).
        """
        wait = 0.0
        bucket = c.bucket
        if bucket is not None:
            tokens = bucket.tokens
            elapsed = now_ms - bucket.stamp
            if elapsed > 0:
                tokens += elapsed * self._rate_per_ms
                tokens = min(tokens, self._burst)
                bucket.stamp = now_ms
            tokens -= 1.0
            if tokens < 0.0:
                if tokens < self._abuse:
                    return ABUSIVE
                wait = -tokens / self._rate_per_ms
            bucket.tokens = tokens
        bucket = c.source_bucket
        if bucket is not None:
            tokens = bucket.tokens
            elapsed = now_ms - bucket.stamp
            if elapsed > 0:
                tokens += elapsed * self._source_rate_per_ms
                tokens = min(tokens, self._source_burst)
                bucket.stamp = now_ms
            tokens -= 1.0
            if tokens < 0.0:
                if tokens < self._source_abuse:
                    return ABUSIVE
                wait = max(wait, -tokens / self._source_rate_per_ms)
            bucket.tokens = tokens
        if wait:
            return now_ms + int(wait) + 1
        return 0

    def _maybe_prune(self, now_ms: int) -> None:
        """Forget unused buckets that are full again, when the tables have doubled (amortised)."""
        if len(self._addresses) + len(self._sources) < self._prune_at:
            return
        _prune(self._addresses, now_ms, self._rate_per_ms, self._burst)
        _prune(self._sources, now_ms, self._source_rate_per_ms, self._source_burst)
        self._prune_at = max(_PRUNE_FLOOR, 2 * (len(self._addresses) + len(self._sources)))


def _prune(table: dict[_K, Bucket], now_ms: int, rate_per_ms: float, burst: float) -> None:
    """Delete the buckets of *table* that no connection uses and that are full again."""
    stale = [
        key
        for key, b in table.items()
        if not b.users and b.tokens + (now_ms - b.stamp) * rate_per_ms >= burst
    ]
    for key in stale:
        del table[key]
