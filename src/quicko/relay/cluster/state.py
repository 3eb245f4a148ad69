"""The cluster's mirror stores: the in-memory stores, plus an op log other nodes replay.

Every node keeps a full local mirror of the shared state (sessions, nameplates, the lobby, away
members, the directory, the away buffer, pending calls and the address registry), built from
the single-node classes. Each mutating call of the router updates the mirror at once (so the
router's reads stay dictionary lookups, and it reads its own writes) and appends one *op* to
:attr:`Bus.outbox`; the I/O link (:mod:`quicko.relay.cluster.link`) writes the ops through to
Redis keys with TTLs and publishes them, and every other node replays them with
:meth:`ClusterState.apply` between two router calls. Nothing here does I/O or reads the clock.

Rules that keep the mirrors convergent without a consensus layer:

- **Presence** is versioned by ``(time of the Hello, node id)``: a newer binding wins on every
  node whatever the order ops arrive in; a node whose local connection loses its address is
  told to evict it (``("evict", conn)``), so an address is never held on two nodes for longer
  than one publish round trip.
- **Deadlines** travel with the ops, so every node expires lobby periods, directory entries and
  buffered frames of its mirror by itself, silently. Only the node that created an item tells
  anyone about its expiry: a buffered MESSAGE's EXPIRED ack (other mirrors hold the frame
  without its receipt), a call's TIMEOUT, an away member's removal (other nodes wait for its
  ``remove_member`` ops). A dead node's away members are adopted by the janitor node.
- **Buffered frames** carry a cluster-unique id, so a take removes exactly the frames it
  returned on every mirror, and a frame pushed elsewhere meanwhile is delivered when its op
  arrives (``("held", address)``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from quicko.relay.buffer import BufferedFrame, OfflineBuffer, Receipt
from quicko.relay.calls import PendingCall, PendingCalls
from quicko.relay.config import RelayConfig
from quicko.relay.connections import Connection, ConnectionTable
from quicko.relay.directory import Directory, DirectoryEntry
from quicko.relay.sessions import PendingJoiner, Session, SessionStore
from quicko.relay.stores import RelayState

__all__ = ["Bus", "ClusterState", "Event", "Op"]

Op = list[Any]
"""One state change, as a MessagePack-able list whose first item names it."""

Event = tuple[str, Any]
"""What the shell must do after :meth:`ClusterState.apply`: ``("evict", conn)``,
``("held", address)`` or ``("gone", address)``."""


class Bus:
    """The op log of one node: ops made by its router, not yet written to Redis.

    Attributes:
        node_id: this node's id.
        outbox: ops waiting for the link's next flush.
        depth: >0 while a store runs a nested call or replays another node's op (no ops).
        events: what the shell must do once the current replay is over.
    """

    __slots__ = ("depth", "events", "node_id", "outbox", "seq", "wake")

    def __init__(self, node_id: str) -> None:
        self.node_id = node_id
        self.outbox: list[Op] = []
        #: Called when the outbox stops being empty (the link schedules a flush).
        self.wake: Callable[[], None] | None = None
        self.depth = 0
        self.seq = 0
        self.events: list[Event] = []

    def emit(self, op: Op) -> None:
        """Record *op* unless a replay or an outer call is running."""
        if not self.depth:
            self.outbox.append(op)
            if len(self.outbox) == 1 and self.wake is not None:
                self.wake()

    @contextmanager
    def quiet(self) -> Iterator[None]:
        """Run a block whose own store calls emit nothing."""
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1

    def next_id(self) -> str:
        """A cluster-unique id for a buffered frame."""
        self.seq += 1
        return f"{self.node_id}:{self.seq}"


class ClusterConnections(ConnectionTable):
    """This node's connections, and the cluster-wide registry of who holds an address.

    ``bound()`` finds local connections and *stand-ins* alike (one dictionary); a stand-in is a
    :class:`Connection` with a negative id that stands for "this address, on that node".
    """

    __slots__ = ("_bus", "_local", "_next_standin", "_standins", "_versions")

    def __init__(self, bus: Bus) -> None:
        super().__init__()
        self._bus = bus
        self._local: dict[bytes, Connection] = {}
        #: address → (time of the binding Hello, node id) of its current holder.
        self._versions: dict[bytes, tuple[int, str]] = {}
        #: stand-in id → (node id, address).
        self._standins: dict[int, tuple[str, bytes]] = {}
        self._next_standin = 0

    @property
    def bound_count(self) -> int:
        """Connections of this node bound to an address."""
        return len(self._local)

    def local_addresses(self) -> list[bytes]:
        """The addresses this node's connections hold."""
        return list(self._local)

    def standin(self, conn: int) -> tuple[str, bytes, Connection] | None:
        """The node, address and stand-in object of the stand-in id *conn*, if any."""
        found = self._standins.get(conn)
        if found is None:
            return None
        node, address = found
        standin = self._by_address.get(address)
        if standin is None or standin.conn != conn:
            return node, address, Connection(conn, b"", 0)
        return node, address, standin

    def holders(self) -> dict[bytes, str]:
        """Every known address and the node that holds it."""
        return {address: node for address, (_, node) in self._versions.items()}

    def bind(self, connection: Connection, address: bytes) -> None:
        """Bind locally and publish the binding, versioned by the Hello's arrival time."""
        super().bind(connection, address)
        self._local[address] = connection
        version = (connection.last_ms, self._bus.node_id)
        self._versions[address] = version
        self._bus.emit(["B", address, self._bus.node_id, version[0]])

    def unbind(self, connection: Connection) -> bytes | None:
        """Release a local connection's address (or forget a stand-in: no op for that)."""
        if connection.conn < 0:
            address = connection.address
            if address is not None and self._by_address.get(address) is connection:
                del self._by_address[address]
                self._standins.pop(connection.conn, None)
                self._versions.pop(address, None)
            return address
        address = super().unbind(connection)
        if address is not None and self._local.get(address) is connection:
            del self._local[address]
            version = self._versions.get(address)
            if version is not None and version[1] == self._bus.node_id:
                del self._versions[address]
                self._bus.emit(["U", address, version[1], version[0]])
        return address

    # ---------------------------------------------------------------- replay

    def _make_standin(self, node: str, address: bytes) -> Connection:
        self._next_standin -= 1
        standin = Connection(self._next_standin, b"", 0)
        standin.address = address
        self._standins[standin.conn] = (node, address)
        return standin

    def apply_bind(self, address: bytes, node: str, ts: int) -> None:
        """Another node bound *address* at *ts*: the newest binding wins everywhere."""
        current = self._versions.get(address)
        if current is not None and current >= (ts, node):
            return
        self._versions[address] = (ts, node)
        old = self._by_address.get(address)
        if old is not None and old.conn < 0:
            self._standins.pop(old.conn, None)
        self._by_address[address] = self._make_standin(node, address)
        local = self._local.get(address)
        if local is not None:
            self._bus.events.append(("evict", local.conn))

    def apply_unbind(self, address: bytes, node: str, ts: int) -> None:
        """Another node released *address* (only if that binding is still the current one)."""
        if self._versions.get(address) != (ts, node):
            return
        del self._versions[address]
        old = self._by_address.get(address)
        if old is not None and old.conn < 0:
            del self._by_address[address]
            self._standins.pop(old.conn, None)

    def node_died(self, node: str) -> list[bytes]:
        """Forget every address *node* held; return them."""
        gone = [address for address, (_, held_by) in self._versions.items() if held_by == node]
        for address in gone:
            self.apply_unbind(address, node, self._versions[address][0])
        return gone


class ClusterSessions(SessionStore):
    """Sessions, nameplates, away members and the lobby, mirrored."""

    __slots__ = ("_bus", "_remote_away")

    def __init__(self, bus: Bus) -> None:
        super().__init__()
        self._bus = bus
        #: Away members another node tracks: address → (node, deadline).
        self._remote_away: dict[bytes, tuple[str, int]] = {}

    def create(self, session_id: bytes, join_key: bytes, source: str) -> Session:
        """Create, and publish."""
        with self._bus.quiet():
            session = super().create(session_id, join_key, source)
        self._bus.emit(["SC", session_id, join_key, source])
        return session

    def claim(self, session: Session, nameplate: str, owner: bytes, source: str) -> None:
        """Claim, and publish."""
        with self._bus.quiet():
            super().claim(session, nameplate, owner, source)
        self._bus.emit(["SN", session.session_id, nameplate, owner, source])

    def release(self, session: Session) -> None:
        """Release, and publish (with the nameplate, which the link frees in Redis)."""
        nameplate = session.nameplate
        with self._bus.quiet():
            super().release(session)
        self._bus.emit(["SR", session.session_id, nameplate])

    def add_member(self, session: Session, address: bytes, display_name: str) -> None:
        """Add or rename, and publish."""
        with self._bus.quiet():
            super().add_member(session, address, display_name)
        self._bus.emit(["SA", session.session_id, address, display_name])

    def remove_member(self, session: Session, address: bytes) -> bool:
        """Remove, and publish (a deleted session's nameplate is freed: one more op)."""
        nameplate = session.nameplate
        with self._bus.quiet():
            deleted = super().remove_member(session, address)
        if address not in self._by_address:
            self._remote_away.pop(address, None)
        self._bus.emit(["SD", session.session_id, address])
        if deleted and nameplate:
            self._bus.emit(["SR", session.session_id, nameplate])
        return deleted

    def mark_away(self, address: bytes, deadline_ms: int) -> None:
        """This node tracks *address*'s away deadline; the others only know it is away."""
        with self._bus.quiet():
            super().mark_away(address, deadline_ms)
        self._remote_away.pop(address, None)
        if address in self._by_address:
            self._bus.emit(["AW", address, deadline_ms, self._bus.node_id])

    def mark_back(self, address: bytes) -> bool:
        """Back, here or wherever it went away; publish so its tracker stops the deadline."""
        with self._bus.quiet():
            was = super().mark_back(address)
        was = self._remote_away.pop(address, None) is not None or was
        if was:
            self._bus.emit(["AB", address])
        return was

    def add_pending(
        self, address: bytes, nameplate: str, source: str, deadline_ms: int
    ) -> PendingJoiner:
        """Start a pending period, and publish."""
        with self._bus.quiet():
            joiner = super().add_pending(address, nameplate, source, deadline_ms)
        self._bus.emit(["LP", address, nameplate, source, deadline_ms])
        return joiner

    def remove_pending(self, address: bytes) -> PendingJoiner | None:
        """End a pending period, and publish if there was one."""
        with self._bus.quiet():
            joiner = super().remove_pending(address)
        if joiner is not None:
            self._bus.emit(["LR", address])
        return joiner

    def count_lobby_message(self, joiner: PendingJoiner, *, from_owner: bool) -> None:
        """Count, and publish."""
        super().count_lobby_message(joiner, from_owner=from_owner)
        self._bus.emit(["LC", joiner.address, from_owner])

    def pop_expired_pending(self, now_ms: int) -> PendingJoiner | None:
        """Every node ends expired periods of its own mirror: nothing to publish."""
        with self._bus.quiet():
            return super().pop_expired_pending(now_ms)

    # ---------------------------------------------------------------- replay

    def apply(self, op: Op) -> None:
        """Replay one session op of another node."""
        kind = op[0]
        if kind == "SC":
            if self.get(op[1]) is None:
                SessionStore.create(self, op[1], op[2], op[3])
            return
        if kind in ("AW", "AB", "LP", "LR", "LC"):
            self._apply_address(op)
            return
        session = self.get(op[1])
        if session is None:
            return
        if kind == "SN":
            if not session.nameplate and self.by_nameplate(op[2]) is None:
                SessionStore.claim(self, session, op[2], op[3], op[4])
        elif kind == "SR":
            SessionStore.release(self, session)
        elif kind == "SA":
            SessionStore.add_member(self, session, op[2], op[3])
        elif kind == "SD" and op[2] in session.members:
            SessionStore.remove_member(self, session, op[2])
            if op[2] not in self._by_address:
                self._remote_away.pop(op[2], None)

    def _apply_address(self, op: Op) -> None:
        kind, address = op[0], op[1]
        if kind == "AW":
            if address in self._by_address:
                self._away.pop(address, None)
                self._remote_away[address] = (op[3], op[2])
        elif kind == "AB":
            self._away.pop(address, None)
            self._remote_away.pop(address, None)
        elif kind == "LP":
            SessionStore.remove_pending(self, address)
            if self.by_nameplate(op[2]) is not None:
                SessionStore.add_pending(self, address, op[2], op[3], op[4])
        elif kind == "LR":
            SessionStore.remove_pending(self, address)
        else:
            joiner = self.pending(address)
            if joiner is not None:
                SessionStore.count_lobby_message(self, joiner, from_owner=op[2])

    def adopt_away(self, node: str) -> None:
        """*node* died: this node (the janitor) expires the members it tracked as away."""
        for address, (held_by, deadline) in list(self._remote_away.items()):
            if held_by == node:
                del self._remote_away[address]
                SessionStore.mark_away(self, address, deadline)


class ClusterDirectory(Directory):
    """The key directory, mirrored; every node expires its own mirror."""

    __slots__ = ("_bus",)

    def __init__(self, bus: Bus, ttl_ms: int, new_ttl_ms: int) -> None:
        super().__init__(ttl_ms, new_ttl_ms)
        self._bus = bus

    def put(self, entry: DirectoryEntry, source: str = "") -> None:
        """Register, and publish."""
        super().put(entry, source)
        self._bus.emit(["DP", *_entry_fields(entry), source])

    def remove(self, address: bytes) -> None:
        """Remove, and publish."""
        super().remove(address)
        self._bus.emit(["DR", address])

    def mark_online(self, address: bytes) -> None:
        """Online, and publish (only for a registered address)."""
        super().mark_online(address)
        if address in self._entries:
            self._bus.emit(["DN", address])

    def mark_offline(self, address: bytes, now_ms: int) -> None:
        """Offline, and publish (only for a registered address)."""
        super().mark_offline(address, now_ms)
        if address in self._entries:
            self._bus.emit(["DF", address, now_ms])

    def expire(self, now_ms: int) -> int:
        """Every node expires its own mirror: nothing to publish."""
        with self._bus.quiet():
            return super().expire(now_ms)

    def apply(self, op: Op) -> None:
        """Replay one directory op of another node."""
        kind = op[0]
        if kind == "DP":
            Directory.put(self, DirectoryEntry(*op[1:8]), op[8])
        elif kind == "DR":
            Directory.remove(self, op[1])
        elif kind == "DN":
            Directory.mark_online(self, op[1])
        else:
            Directory.mark_offline(self, op[1], op[2])


def _entry_fields(entry: DirectoryEntry) -> list[Any]:
    return [
        entry.address,
        entry.display_name,
        entry.x25519_public,
        entry.ed25519_public,
        entry.relay_url,
        entry.signed_at,
        entry.signature,
    ]


class ClusterBuffer(OfflineBuffer):
    """The away buffer, mirrored: frames carry cluster ids; a take removes exactly those.

    Frames another node pushed are held without their :class:`Receipt` (only the pushing node
    tells a sender EXPIRED), and are inserted whatever this mirror's counts say: a mirror never
    refuses a write another node accepted.
    """

    __slots__ = ("_bus", "_by_id", "_id_of")

    def __init__(self, bus: Bus, config: RelayConfig) -> None:
        super().__init__(
            config.buffer_per_recipient,
            config.buffer_total,
            bytes_per_recipient=config.buffer_bytes_per_recipient,
            bytes_per_sender=config.buffer_bytes_per_sender,
            bytes_total=config.buffer_bytes_total,
        )
        self._bus = bus
        self._by_id: dict[str, BufferedFrame] = {}
        self._id_of: dict[BufferedFrame, str] = {}

    def push(
        self,
        recipient: bytes,
        data: bytes,
        expires_ms: int,
        receipt: Receipt | None = None,
        sender: bytes = b"",
    ) -> bool:
        """Hold (within the caps), and publish."""
        if not super().push(recipient, data, expires_ms, receipt, sender):
            return False
        fid = self._tag(self._queues[recipient][-1])
        self._bus.emit(["BP", recipient, [[fid, data, sender]], expires_ms, False])
        return True

    def push_front(
        self,
        recipient: bytes,
        frames: Sequence[tuple[bytes, Receipt | None, bytes]],
        expires_ms: int,
    ) -> list[tuple[bytes, Receipt | None, bytes]]:
        """Hold ahead of the queue (within the caps), and publish."""
        refused = super().push_front(recipient, frames, expires_ms)
        kept = len(frames) - len(refused)
        if kept:
            queue = self._queues[recipient]
            items = [[self._tag(queue[i]), queue[i].data, queue[i].sender] for i in range(kept)]
            self._bus.emit(["BP", recipient, items, expires_ms, True])
        return refused

    def take(self, recipient: bytes) -> list[BufferedFrame]:
        """Take every frame held, and publish their ids."""
        frames = super().take(recipient)
        if frames:
            ids = [self._untag(frame) for frame in frames]
            self._bus.emit(["BT", recipient, ids])
        return frames

    def pop_expired(self, now_ms: int) -> BufferedFrame | None:
        """Every node expires its own mirror; only the pushing node holds a receipt."""
        frame = super().pop_expired(now_ms)
        if frame is not None:
            self._untag(frame)
        return frame

    def _tag(self, frame: BufferedFrame, fid: str | None = None) -> str:
        fid = fid or self._bus.next_id()
        self._by_id[fid] = frame
        self._id_of[frame] = fid
        return fid

    def _untag(self, frame: BufferedFrame) -> str:
        fid = self._id_of.pop(frame, "")
        self._by_id.pop(fid, None)
        return fid

    def apply(self, op: Op) -> bool:
        """Replay one buffer op of another node; return whether frames were added."""
        recipient = op[1]
        if op[0] == "BT":
            for fid in op[2]:
                frame = self._by_id.get(fid)
                if frame is not None:
                    self._remove(frame)
            return False
        items = [item for item in op[2] if item[0] not in self._by_id]  # replayed twice
        if not items:
            return False
        expires_ms, front = op[3], op[4]
        queue = self._queues.get(recipient)
        if queue is None:
            queue = self._queues[recipient] = deque()
        frames = [
            BufferedFrame(recipient, data, expires_ms, None, sender) for _, data, sender in items
        ]
        if front:
            queue.extendleft(reversed(frames))
        else:
            queue.extend(frames)
        for (fid, _, _), frame in zip(items, frames, strict=True):
            self._tag(frame, fid)
            self._order[frame] = None
            self._bytes += frame.cost
            self._recipient_bytes[recipient] = self._recipient_bytes.get(recipient, 0) + frame.cost
            self._sender_bytes[frame.sender] = self._sender_bytes.get(frame.sender, 0) + frame.cost
        return bool(frames)

    def adopt(self, node: str, receipt_for: Callable[[bytes, bytes], Receipt | None]) -> int:
        """*node* died: hold a receipt for each frame it pushed, so its sender is told EXPIRED.

        Returns:
            How many frames were adopted.
        """
        prefix = node + ":"
        adopted = 0
        for fid, frame in self._by_id.items():
            if frame.receipt is None and fid.startswith(prefix) and frame.sender:
                frame.receipt = receipt_for(frame.data, frame.sender)
                adopted += 1
        return adopted

    def snapshot(self) -> list[Op]:
        """One ``BP`` op per held frame, oldest first per recipient (to re-seed Redis)."""
        return [
            ["BP", recipient, [[self._id_of[frame], frame.data, frame.sender]],
             frame.expires_ms, False]
            for recipient, queue in self._queues.items()
            for frame in queue
            if frame in self._id_of
        ]  # fmt: skip

    def _remove(self, frame: BufferedFrame) -> None:
        """Remove one held frame (taken on another node)."""
        self._untag(frame)
        del self._order[frame]
        queue = self._queues[frame.recipient]
        queue.remove(frame)
        if queue:
            self._recipient_bytes[frame.recipient] -= frame.cost
        else:
            del self._queues[frame.recipient]
            del self._recipient_bytes[frame.recipient]
        self._release(frame)


class ClusterCalls(PendingCalls):
    """Pending calls, mirrored; the node that holds the caller at the deadline times it out.

    So a call outlives the node it was placed on: its caller, reconnected to another node, gets
    its ``TIMEOUT`` there, as from a single relay (docs/protocol.md §4.8).
    """

    __slots__ = ("_bus", "_local")

    def __init__(self, bus: Bus, local: dict[bytes, Connection]) -> None:
        super().__init__()
        self._bus = bus
        self._local = local

    def add(self, call: PendingCall) -> None:
        """Record, and publish."""
        super().add(call)
        self._bus.emit(
            ["CA", call.call_id, call.caller, call.callee, call.deadline_ms, call.source]
        )

    def remove(self, call: PendingCall) -> None:
        """Forget, and publish."""
        super().remove(call)
        self._bus.emit(["CR", call.call_id])

    def pop_expired(self, now_ms: int) -> PendingCall | None:
        """Time out the calls whose caller is here; drop the others silently.

        Every node expires its mirror; the caller's node tells it (a caller bound nowhere is
        told by nobody, as by a single relay).
        """
        while (call := PendingCalls.pop_expired(self, now_ms)) is not None:
            if call.caller in self._local:
                return call
        return None

    def apply(self, op: Op) -> None:
        """Replay one call op of another node."""
        if op[0] == "CA":
            if op[1] not in self._calls:
                PendingCalls.add(self, PendingCall(op[1], op[2], op[3], op[4], op[5]))
        else:
            call = self._calls.get(op[1])
            if call is not None:
                PendingCalls.remove(self, call)


class ClusterState:
    """One node's mirror stores, its op log, and the replay of other nodes' ops."""

    def __init__(self, config: RelayConfig, node_id: str) -> None:
        """Empty mirrors for *node_id* (the link loads what Redis holds before serving)."""
        self.bus = Bus(node_id)
        self.connections = ClusterConnections(self.bus)
        self.sessions = ClusterSessions(self.bus)
        self.directory = ClusterDirectory(
            self.bus, config.directory_ttl_ms, config.directory_new_ttl_ms
        )
        self.buffer = ClusterBuffer(self.bus, config)
        self.calls = ClusterCalls(self.bus, self.connections._local)

    @property
    def node_id(self) -> str:
        """This node's id."""
        return self.bus.node_id

    def relay_state(self) -> RelayState:
        """The bundle a :class:`~quicko.relay.router.Router` takes."""
        return RelayState(
            connections=self.connections,
            sessions=self.sessions,
            directory=self.directory,
            buffer=self.buffer,
            calls=self.calls,
        )

    def take_outbox(self) -> list[Op]:
        """The ops made since the last call (for the link to write and publish)."""
        ops, self.bus.outbox = self.bus.outbox, []
        return ops

    def apply(self, ops: Sequence[Op]) -> list[Event]:
        """Replay another node's ops; return what the shell must do now."""
        bus = self.bus
        bus.depth += 1
        try:
            for op in ops:
                self._apply_one(op)
        finally:
            bus.depth -= 1
        events, bus.events = bus.events, []
        return events

    def _apply_one(self, op: Op) -> None:
        kind: str = op[0]
        first = kind[0]
        if kind == "B":
            self.connections.apply_bind(op[1], op[2], op[3])
        elif kind == "U":
            self.connections.apply_unbind(op[1], op[2], op[3])
        elif first in "SAL":
            self.sessions.apply(op)
        elif first == "D":
            self.directory.apply(op)
        elif first == "B":
            if self.buffer.apply(op) and op[1] in self.connections._local:
                self.bus.events.append(("held", op[1]))
        elif first == "C":
            self.calls.apply(op)

    def snapshot(self) -> list[Op]:
        """The mirror as ops: what an emptied Redis needs again (docs/cluster.md, restart).

        Presence and away deadlines only for what this node holds; everything else as this
        mirror sees it (every node writes it: the writes are idempotent).
        """
        node = self.node_id
        conns, sessions = self.connections, self.sessions
        ops: list[Op] = [
            ["B", address, node, conns._versions[address][0]]
            for address in conns._local
            if conns._versions.get(address, (0, ""))[1] == node
        ]
        for session in sessions._sessions.values():
            sid = session.session_id
            ops.append(["SC", sid, session.join_key, session.source])
            if session.nameplate:
                ops.append(["SN", sid, session.nameplate, session.owner, session.owner_source])
            ops.extend(["SA", sid, address, name] for address, name in session.members.items())
        ops.extend(["AW", address, deadline, node] for address, deadline in sessions._away.items())
        ops.extend(
            ["LP", j.address, j.nameplate, j.source, j.deadline_ms]
            for j in sessions._pending.values()
        )
        directory = self.directory
        ops.extend(
            ["DP", *_entry_fields(entry), directory._source_of.get(address, "")]
            for address, entry in directory._entries.items()
        )
        ops.extend(
            ["CA", c.call_id, c.caller, c.callee, c.deadline_ms, c.source]
            for c in self.calls._calls.values()
        )
        ops.extend(self.buffer.snapshot())
        return ops

    def node_died(
        self,
        node: str,
        *,
        janitor: bool,
        receipt_for: Callable[[bytes, bytes], Receipt | None] = lambda data, sender: None,
    ) -> list[Event]:
        """*node* stopped refreshing its lease: drop the addresses it held.

        The janitor also announces them gone and adopts what only that node would have told:
        its away members' expiry and its buffered frames' EXPIRED acks (*receipt_for* makes
        a frame's receipt, as the router makes it when it holds a frame).
        """
        gone = self.connections.node_died(node)
        if not janitor:
            return []
        self.sessions.adopt_away(node)
        self.buffer.adopt(node, receipt_for)
        return [("gone", address) for address in gone]
