"""This node's live connections: handshake state, bound addresses, activity order, rate limit.

Connections are local to a node by nature (a socket lives in one process), so this table is
never shared: in a cluster each node keeps its own, and publishes only *which addresses it
holds* to the shared registry (see :mod:`quicko.relay.router`).

Per-connection state is one small ``__slots__`` object without references to other objects, so
that 10,000 idle connections cost little memory and create no reference cycles for the garbage
collector to chase.
"""

from __future__ import annotations

from collections import OrderedDict

__all__ = ["Connection", "ConnectionTable", "TokenBucket"]


class Connection:
    """One WebSocket connection as the router sees it.

    Attributes:
        conn: the I/O layer's id of the connection.
        address: the proven address, or ``None`` before a valid Hello (and after the
            connection was replaced, timed out or closed by the router).
        display_name: the display name of the Hello.
        x25519_public: the X25519 key proven in the Hello.
        ed25519_public: the Ed25519 key proven in the Hello.
        nonce: the Challenge nonce (kept after the Hello: Join proofs sign it).
        challenge_time: the Challenge's ``server_time``.
        last_ms: when the last frame arrived (for the idle timeout).
        tokens: the rate limiter's tokens.
        refill_ms: when the tokens were last refilled.
        strikes: frames rate-limited in a row.
        closing: the router has closed the connection; frames from it are ignored.
        source: the source address key the per-source limits count under
            (:func:`quicko.relay.admission.source_key`), or ``""`` when unknown.
    """

    __slots__ = (
        "address",
        "challenge_time",
        "closing",
        "conn",
        "display_name",
        "ed25519_public",
        "last_ms",
        "nonce",
        "refill_ms",
        "source",
        "strikes",
        "tokens",
        "x25519_public",
    )

    def __init__(
        self, conn: int, nonce: bytes, now_ms: int, tokens: float, source: str = ""
    ) -> None:
        self.conn = conn
        self.address: bytes | None = None
        self.display_name = ""
        self.x25519_public = b""
        self.ed25519_public = b""
        self.nonce = nonce
        self.challenge_time = now_ms
        self.last_ms = now_ms
        self.tokens = tokens
        self.refill_ms = now_ms
        self.strikes = 0
        self.closing = False
        self.source = source

    def __repr__(self) -> str:
        state = "closing" if self.closing else "bound" if self.address else "handshake"
        return f"<Connection {self.conn} {state}>"


class TokenBucket:
    """The per-connection token bucket (docs/protocol.md §18): *rate* frames/s, *burst* deep.

    The state lives on each :class:`Connection`; this object holds the parameters.
    """

    __slots__ = ("_abuse_limit", "_burst", "_rate_per_ms")

    #: :meth:`admit` results.
    ADMITTED = 0
    LIMITED = 1
    ABUSIVE = 2

    def __init__(self, rate: float, burst: int, abuse_limit: int) -> None:
        self._rate_per_ms = rate / 1000.0
        self._burst = float(burst)
        self._abuse_limit = abuse_limit

    @property
    def burst(self) -> float:
        """The bucket's size (a new connection's tokens)."""
        return self._burst

    def admit(self, connection: Connection, now_ms: int) -> int:
        """Take a token for one frame.

        Returns:
            :attr:`ADMITTED`, :attr:`LIMITED` (drop the frame) or :attr:`ABUSIVE` (the
            connection has had ``abuse_limit`` frames limited in a row: disconnect it).
        """
        tokens = connection.tokens
        elapsed = now_ms - connection.refill_ms
        if elapsed > 0:
            tokens = min(self._burst, tokens + elapsed * self._rate_per_ms)
            connection.refill_ms = now_ms
        if tokens >= 1.0:
            connection.tokens = tokens - 1.0
            connection.strikes = 0
            return self.ADMITTED
        connection.tokens = tokens
        connection.strikes += 1
        return self.ABUSIVE if connection.strikes >= self._abuse_limit else self.LIMITED


class ConnectionTable:
    """Every live connection of this node, the addresses bound to them, and their timers.

    Handshake deadlines and idle deadlines are kept in insertion-ordered maps whose first item
    is always the earliest deadline (every connection gets the same timeout), so finding the
    next deadline and expiring are O(1) per connection.
    """

    __slots__ = ("_activity", "_by_address", "_by_conn", "_handshaking")

    def __init__(self) -> None:
        self._by_conn: dict[int, Connection] = {}
        self._by_address: dict[bytes, Connection] = {}
        self._handshaking: OrderedDict[int, Connection] = OrderedDict()
        self._activity: OrderedDict[int, Connection] = OrderedDict()

    def __len__(self) -> int:
        return len(self._by_conn)

    def __contains__(self, conn: int) -> bool:
        return conn in self._by_conn

    @property
    def bound_count(self) -> int:
        """Connections bound to an address."""
        return len(self._by_address)

    def get(self, conn: int) -> Connection | None:
        """The connection with id *conn*, if it is open."""
        return self._by_conn.get(conn)

    def all(self) -> list[Connection]:
        """Every open connection (a copy)."""
        return list(self._by_conn.values())

    def add(self, connection: Connection) -> None:
        """Register a new connection waiting for its Hello."""
        self._by_conn[connection.conn] = connection
        self._handshaking[connection.conn] = connection
        self._activity[connection.conn] = connection

    def touch(self, connection: Connection, now_ms: int) -> None:
        """Record that a frame arrived on *connection* (restarts its idle timer)."""
        connection.last_ms = now_ms
        self._activity.move_to_end(connection.conn)

    def bound(self, address: bytes) -> Connection | None:
        """The connection bound to *address*, if any."""
        return self._by_address.get(address)

    def bind(self, connection: Connection, address: bytes) -> None:
        """Bind *address* to *connection* (unbind any older connection of it first)."""
        connection.address = address
        self._by_address[address] = connection
        self._handshaking.pop(connection.conn, None)

    def unbind(self, connection: Connection) -> bytes | None:
        """Mark *connection* closing, and unbind its address; return that address, if any."""
        connection.closing = True
        self._handshaking.pop(connection.conn, None)
        self._activity.pop(connection.conn, None)
        address = connection.address
        if address is not None:
            connection.address = None
            if self._by_address.get(address) is connection:
                del self._by_address[address]
        return address

    def remove(self, conn: int) -> Connection | None:
        """Forget *conn* entirely (after :meth:`unbind`); return it, if it was known."""
        return self._by_conn.pop(conn, None)

    def next_handshake(self) -> Connection | None:
        """The connection that has waited longest for its Hello."""
        return next(iter(self._handshaking.values()), None)

    def least_active(self) -> Connection | None:
        """The connection whose last frame is the oldest."""
        return next(iter(self._activity.values()), None)
