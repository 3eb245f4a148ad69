"""This node's live connections: handshake state, bound addresses, activity order, flow state.

Connections are local to a node by nature (a socket lives in one process), so this table is
never shared: in a cluster each node keeps its own, and publishes only *which addresses it
holds* to the shared registry (see :mod:`quicko.relay.router`).

Per-connection state is one small ``__slots__`` object without references to other objects, so
that 10,000 idle connections cost little memory and create no reference cycles for the garbage
collector to chase.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from quicko.relay.flow import Bucket

__all__ = ["Connection", "ConnectionTable"]


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
        closing: the router has closed the connection; frames from it are ignored.
        source: the source address key the per-source limits count under
            (:func:`quicko.relay.admission.source_key`), or ``""`` when unknown.
        bucket: the address's token bucket (:mod:`quicko.relay.flow`), once bound.
        source_bucket: the source's token bucket.
        sent: frames sent since the HelloAck (the sequence number of the last one).
        acked: the highest ``Received.count`` the client sent.
        acking: the client has sent a Received on this connection (it acknowledges, so the
            ack timeout applies to it).
        inflight: the routed frames sent and not acknowledged, oldest first, as
            ``(sequence number, frame, sender address)``; ``None`` until the first one.
        inflight_bytes: the bytes of the frames in :attr:`inflight`.
        ack_since: when the oldest unacknowledged frame's wait started (the ack clock).
        write_paused: the I/O layer reports more than ``send_queue_bytes`` unsent.
        blocked: routed frames for the address go to its away buffer instead (writes are
            paused, or an acknowledging client's window of unacknowledged bytes is full).
        paused_until: until when reading was last paused for the rate limit (ms).
    """

    __slots__ = (
        "ack_since",
        "acked",
        "acking",
        "address",
        "blocked",
        "bucket",
        "challenge_time",
        "closing",
        "conn",
        "display_name",
        "ed25519_public",
        "inflight",
        "inflight_bytes",
        "last_ms",
        "nonce",
        "paused_until",
        "sent",
        "source",
        "source_bucket",
        "write_paused",
        "x25519_public",
    )

    def __init__(self, conn: int, nonce: bytes, now_ms: int, source: str = "") -> None:
        self.conn = conn
        self.source = source
        self.address: bytes | None = None
        self.display_name = ""
        self.x25519_public = b""
        self.ed25519_public = b""
        self.nonce = nonce
        self.challenge_time = now_ms
        self.last_ms = now_ms
        self.closing = False
        self.bucket: Bucket | None = None
        self.source_bucket: Bucket | None = None
        self.sent = 0
        self.acked = 0
        self.acking = False
        self.inflight: deque[tuple[int, bytes, bytes]] | None = None
        self.inflight_bytes = 0
        self.ack_since = 0
        self.write_paused = False
        self.blocked = False
        self.paused_until = 0

    def __repr__(self) -> str:
        state = "closing" if self.closing else "bound" if self.address else "handshake"
        return f"<Connection {self.conn} {state}>"


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
