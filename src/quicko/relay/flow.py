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
    """One token bucket, kept as its *theoretical arrival time* (GCRA, RFC 2697's cousin).

    ``tat`` is when the bucket will be full again (ms); each frame pushes it one interval
    (``1000 / rate`` ms) further. The tokens left at *now* are ``burst - (tat - now) / interval``
    (negative while in debt), so a frame costs one ``max``, one addition and one comparison.

    Attributes:
        tat: when the bucket is full again (ms); at or before *now*: full.
        users: open connections charging this bucket (it is kept while any is).
    """

    __slots__ = ("tat", "users")

    def __init__(self, tat: float) -> None:
        self.tat = tat
        self.users = 0


#: A new bucket is full whatever the clock says: its arrival time is in the past for any now,
#: so a clock that steps back (or an open() at a later time than the frames that follow) never
#: makes a fresh connection look like it owes frames.
_FULL: Final = 0.0


class FlowLimiter:
    """The per-address and per-source token buckets of one relay node (see the module doc)."""

    __slots__ = (
        "_abuse",
        "_addresses",
        "_interval",
        "_prune_at",
        "_source_abuse",
        "_source_interval",
        "_source_tau",
        "_sources",
        "_tau",
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
        self._interval = 1000.0 / rate
        self._tau = burst * self._interval
        self._abuse = self._tau + abuse_limit * self._interval
        self._source_interval = 1000.0 / source_rate
        self._source_tau = source_burst * self._source_interval
        # The same span of time as the address's abuse limit, at the source's rate.
        self._source_abuse = self._source_tau + abuse_limit * self._interval
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
            bucket = self._sources[c.source] = Bucket(_FULL)
        bucket.users += 1
        c.source_bucket = bucket

    def attach_address(self, c: Connection, address: bytes, now_ms: int) -> None:
        """*c* proved *address*: charge its frames to the address's bucket too."""
        if c.bucket is not None:
            return
        bucket = self._addresses.get(address)
        if bucket is None:
            self._maybe_prune(now_ms)
            bucket = self._addresses[address] = Bucket(_FULL)
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
            0 when both buckets had a token; else :data:`ABUSIVE` when a debt would pass its
            abuse limit (drop the frame, close the connection; the frame is not counted);
            else the time (ms) until which reading *c* should pause for the debt to be
            repaid (handle the frame).
        """
        until = 0.0
        bucket = c.bucket
        if bucket is not None:
            tat = bucket.tat
            if tat < now_ms:  # the hot path: faster than max(); a float for mypyc
                tat = now_ms + self._interval
            else:
                tat += self._interval
            if tat - now_ms > self._tau:
                if tat - now_ms > self._abuse:
                    return ABUSIVE
                until = tat - self._tau
            bucket.tat = tat
        bucket = c.source_bucket
        if bucket is not None:
            tat = bucket.tat
            if tat < now_ms:  # the hot path: faster than max(); a float for mypyc
                tat = now_ms + self._source_interval
            else:
                tat += self._source_interval
            if tat - now_ms > self._source_tau:
                if tat - now_ms > self._source_abuse:
                    return ABUSIVE
                until = max(until, tat - self._source_tau)
            bucket.tat = tat
        if until:
            return int(until) + 1
        return 0

    def _maybe_prune(self, now_ms: int) -> None:
        """Forget unused buckets that are full again, when the tables have doubled (amortised)."""
        if len(self._addresses) + len(self._sources) < self._prune_at:
            return
        _prune(self._addresses, now_ms)
        _prune(self._sources, now_ms)
        self._prune_at = max(_PRUNE_FLOOR, 2 * (len(self._addresses) + len(self._sources)))


def _prune(table: dict[_K, Bucket], now_ms: int) -> None:
    """Delete the buckets of *table* that no connection uses and that are full again."""
    stale = [key for key, b in table.items() if not b.users and b.tat <= now_ms]
    for key in stale:
        del table[key]
