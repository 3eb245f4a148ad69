"""The clustering seam: the interfaces of the router's state, and the bundle that injects them.

The router (:mod:`quicko.relay.router`) reaches its state only through the five Protocols of
this module, each listing exactly the members the router uses:

- :class:`ConnectionStore`: this node's connections, including the :class:`AddressRegistry`
  of which connection holds which address (the *presence* of an address);
- :class:`MembershipStore`: sessions, their members, join keys and nameplates, away members,
  and the addresses pending in a nameplate's lobby;
- :class:`DirectoryStore`: the key directory;
- :class:`BufferStore`: frames held for away recipients;
- :class:`CallStore`: calls waiting for their answer.

:class:`RelayState` bundles one of each; :meth:`RelayState.in_memory` builds the single-node
classes (:class:`~quicko.relay.connections.ConnectionTable`,
:class:`~quicko.relay.sessions.SessionStore`, :class:`~quicko.relay.directory.Directory`,
:class:`~quicko.relay.buffer.OfflineBuffer`, :class:`~quicko.relay.calls.PendingCalls`), and
``Router(config, node_id=…, rng=…, state=…)`` takes any other implementation unchanged.

The values the stores hand out (:class:`~quicko.relay.connections.Connection`,
:class:`~quicko.relay.sessions.Session`, :class:`~quicko.relay.directory.DirectoryEntry`,
:class:`~quicko.relay.buffer.BufferedFrame` and its :class:`~quicko.relay.buffer.Receipt`,
:class:`~quicko.relay.calls.PendingCall`) are plain data, the same classes for every
implementation. The router reads them and never changes them, with two exceptions stated
where they occur: the fields of its own (local) connections, and ``Receipt.pending``.

Every implementation must honour these rules, which the router's correctness rests on:

- **Synchronous and local.** Every member returns at once, without I/O, blocking or awaiting,
  and never reads the clock (times are arguments, in milliseconds). A cluster implementation
  therefore answers reads from a local mirror, writes through to the shared backend (Redis
  keys with TTLs, no persistence), and lets the I/O shell apply the changes other nodes
  publish between two router calls.
- **Read your writes.** Within one router call, a read sees every earlier write of that call.
- **No refusals.** A mutating method never fails: the router checks every cap (sessions,
  nameplates, members, directory entries, pending calls) against the counts below *before*
  it mutates, and the store does what it is told. Counts a cluster mirror has not caught up
  with may let a cap be overshot by the writes in flight; a store must not "fix" that by
  ignoring a write. Only :meth:`BufferStore.push` may refuse, and it says so.
- **Deadline order.** ``next_…deadline()`` returns the earliest deadline or ``None``;
  ``pop_expired…(now_ms)`` removes and returns one item whose deadline is at or before
  *now_ms*, earliest first, or ``None``. Deadlines passed to a store never decrease (every
  item of a kind gets the same timeout and the clock goes forward), which lets the in-memory
  classes keep them in arrival order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from quicko.relay.buffer import BufferedFrame, OfflineBuffer, Receipt
from quicko.relay.calls import PendingCall, PendingCalls
from quicko.relay.config import RelayConfig
from quicko.relay.connections import Connection, ConnectionTable
from quicko.relay.directory import Directory, DirectoryEntry
from quicko.relay.sessions import PendingJoiner, Session, SessionStore

__all__ = [
    "AddressRegistry",
    "BufferStore",
    "CallStore",
    "ConnectionStore",
    "DirectoryStore",
    "MembershipStore",
    "RelayState",
]


class AddressRegistry(Protocol):
    """Which connection holds an address: the part of :class:`ConnectionStore` a cluster shares.

    At most one connection holds an address at a time, across the whole cluster. In a cluster,
    :meth:`bound` answers for addresses held by other nodes with a stand-in
    :class:`~quicko.relay.connections.Connection` whose ``conn`` id the I/O shell recognises
    as "that node": a ``Send`` to it is published on that node's channel and a ``Close`` asks
    that node to close its connection; the node's shell turns both into local actions.
    """

    @property
    def bound_count(self) -> int:
        """Connections *of this node* bound to an address (a per-node gauge)."""

    def bound(self, address: bytes) -> Connection | None:
        """The connection holding *address*, or ``None`` when the address is offline.

        This is the hot path (one call per forwarded MESSAGE): a dictionary lookup, no more.
        """

    def bind(self, connection: Connection, address: bytes) -> None:
        """*connection* proved *address*: it holds it from now on.

        Sets ``connection.address`` and ends its handshake timer (``connection.nonce``
        stays: Join proofs sign it). The router has already passed any older holder (on
        whatever node) to :meth:`unbind`, so a cluster implementation publishes "this node
        holds *address*" and may assume that no other holder is left.
        """

    def unbind(self, connection: Connection) -> bytes | None:
        """*connection* is going: mark it closing, stop its timers, release its address.

        The address is released only if *connection* still holds it (a newer holder keeps
        it); ``connection.address`` becomes ``None`` either way.

        Returns:
            The address *connection* held, or ``None`` (not authenticated, or unbound
            already: a second call is harmless).
        """


class ConnectionStore(AddressRegistry, Protocol):
    """This node's connections: handshake and idle timers, and the :class:`AddressRegistry`.

    A socket lives in one process, so everything here but the registry half is node-local by
    nature: a cluster implementation keeps the in-memory
    :class:`~quicko.relay.connections.ConnectionTable` for it and overrides only
    :meth:`bound`, :meth:`bind` and :meth:`unbind`.
    """

    def __len__(self) -> int:
        """Open connections of this node (handshaking, bound or closing)."""

    def __contains__(self, conn: int) -> bool:
        """Whether the connection id *conn* is open."""

    def get(self, conn: int) -> Connection | None:
        """The connection with id *conn*, until :meth:`remove`."""

    def all(self) -> list[Connection]:
        """Every open connection, as a copy (the router unbinds while it iterates)."""

    def add(self, connection: Connection) -> None:
        """Open *connection*: it awaits its Hello, and its idle timer starts."""

    def touch(self, connection: Connection, now_ms: int) -> None:
        """A frame arrived on *connection*: set ``last_ms`` and restart its idle timer."""

    def remove(self, conn: int) -> Connection | None:
        """Forget *conn* (the socket is gone; :meth:`unbind` came first if it was bound)."""

    def next_handshake(self) -> Connection | None:
        """The connection waiting longest for its Hello (earliest ``challenge_time``)."""

    def least_active(self) -> Connection | None:
        """The open, not closing connection whose last frame is the oldest (``last_ms``)."""


class MembershipStore(Protocol):
    """Sessions, members, nameplates, away members and the lobby (docs/protocol.md §4.3).

    A member is online while :meth:`AddressRegistry.bound` finds its address; this store
    knows nothing of connections. :class:`~quicko.relay.sessions.Session` objects are
    read-only outside the store, and the same session is the same object, from :meth:`get`
    as from :meth:`by_nameplate`, until it is deleted (the router compares them with ``is``).
    ``Session.members`` keeps joining order; renaming a member keeps its place.
    """

    def __len__(self) -> int:
        """Sessions (checked against ``max_sessions`` before :meth:`create`)."""

    @property
    def nameplate_count(self) -> int:
        """Claimed nameplates (checked against ``max_nameplates`` before :meth:`claim`)."""

    def get(self, session_id: bytes) -> Session | None:
        """The session *session_id*, if it exists."""

    def by_nameplate(self, nameplate: str) -> Session | None:
        """The session holding *nameplate*, if any."""

    def sessions_of(self, address: bytes) -> list[Session]:
        """Every session *address* is a member of, as a copy (the router changes them)."""

    def session_count_of(self, address: bytes) -> int:
        """How many sessions *address* is a member of (``max_sessions_per_address``)."""

    def sessions_created_from(self, source: str) -> int:
        """Live sessions created from the source address key *source*.

        Checked against ``max_sessions_per_source``; a deleted session no longer counts.
        """

    def nameplates_claimed_from(self, source: str) -> int:
        """Claimed nameplates claimed from *source*.

        Checked against ``max_nameplates_per_source``; a released nameplate no longer counts.
        """

    def create(self, session_id: bytes, join_key: bytes, source: str) -> Session:
        """Create and return the empty session *session_id*, which does not exist.

        *join_key* is the Ed25519 key every later Join by id must prove; *source* is counted
        by :meth:`sessions_created_from` until the session is deleted.
        """

    def claim(self, session: Session, nameplate: str, owner: bytes, source: str) -> None:
        """Give the free *nameplate* to *session*, owned by *owner* at *source*.

        The router checks :meth:`by_nameplate` first. Two nodes can both see a nameplate
        free; a cluster implementation settles that race in the backend (first writer wins)
        and corrects the loser's mirror through pub/sub.
        """

    def release(self, session: Session) -> None:
        """Free the session's nameplate and owner; later joins by it fail.

        Every address pending on the nameplate stops being pending (a nameplate claimed
        again later never inherits the old lobby).
        """

    def add_member(self, session: Session, address: bytes, display_name: str) -> None:
        """Add *address* to *session*, or rename it if it is a member already."""

    def remove_member(self, session: Session, address: bytes) -> bool:
        """Remove the member *address*, which is one.

        An address left in no session stops being away. A session left empty is deleted and
        its nameplate freed.

        Returns:
            Whether the session was deleted.
        """

    def mark_away(self, address: bytes, deadline_ms: int) -> None:
        """*address* went offline: it stays a member of its sessions until *deadline_ms*.

        Ignored for an address in no session. Marking again moves the deadline.
        """

    def mark_back(self, address: bytes) -> bool:
        """*address* proved its id again: stop its away deadline; return whether it had one."""

    def next_away_deadline(self) -> int | None:
        """When the first away member expires."""

    def pop_expired_away(self, now_ms: int) -> bytes | None:
        """Stop tracking one away address whose deadline has passed, and return it.

        It stays a member: the router then removes it from each of its sessions.
        """

    def pending(self, address: bytes) -> PendingJoiner | None:
        """The pending period of *address* in a nameplate's lobby, if any.

        An address is pending on at most one nameplate at a time.
        """

    def pending_count(self, nameplate: str) -> int:
        """Addresses pending on *nameplate* (``max_pending_per_nameplate``)."""

    def pending_count_from(self, nameplate: str, source: str) -> int:
        """Addresses pending on *nameplate* from *source* (``max_pending_per_source``)."""

    def add_pending(
        self, address: bytes, nameplate: str, source: str, deadline_ms: int
    ) -> PendingJoiner:
        """Start and return a pending period of *address*, which is not pending.

        *nameplate* is claimed; the period ends at *deadline_ms* (now plus the lobby TTL).
        """

    def remove_pending(self, address: bytes) -> PendingJoiner | None:
        """End the pending period of *address*, if any, and return it."""

    def count_lobby_message(self, joiner: PendingJoiner, *, from_owner: bool) -> None:
        """Count one LobbyMessage of *joiner*'s period.

        From the joiner it adds to ``from_joiner``; from the owner, to ``to_joiner``.
        """

    def next_pending_deadline(self) -> int | None:
        """When the first pending period ends."""

    def pop_expired_pending(self, now_ms: int) -> PendingJoiner | None:
        """End and return one pending period whose deadline has passed (nobody is told)."""


class DirectoryStore(Protocol):
    """The key directory: signed entries by address, expiring once offline (§12-§14).

    Entries are returned exactly as their owner signed them. An entry does not expire while
    its owner is online; :meth:`mark_offline` starts its TTL and :meth:`mark_online` or
    :meth:`put` cancels it (in Redis: ``PEXPIREAT`` and ``PERSIST``).
    """

    def __len__(self) -> int:
        """Entries (checked against ``max_directory_entries`` before a new :meth:`put`)."""

    def get(self, address: bytes) -> DirectoryEntry | None:
        """The entry of *address*, if registered (and, once offline, not yet expired)."""

    def count_for_source(self, source: str) -> int:
        """Entries registered from *source* (``max_directory_entries_per_ip``)."""

    def put(self, entry: DirectoryEntry, source: str) -> None:
        """Register or replace the entry of an online address (no expiry), from *source*.

        A replaced entry is counted under the new *source* only. A new entry (the address had
        none) counts as "never came back" until :meth:`mark_online`.
        """

    def remove(self, address: bytes) -> None:
        """Remove the entry of *address*, if any."""

    def mark_online(self, address: bytes) -> None:
        """*address* is held by a connection again: its entry, if any, no longer expires.

        The entry's owner has now come back since registering it.
        """

    def mark_offline(self, address: bytes, now_ms: int) -> None:
        """*address* went offline at *now_ms*: its entry, if any, starts its TTL.

        The TTL is ``directory_ttl_s`` if the owner came back (:meth:`mark_online`) since
        registering the entry, else the shorter ``directory_new_ttl_s``.
        """

    def next_deadline(self) -> int | None:
        """When the first offline entry expires."""

    def expire(self, now_ms: int) -> int:
        """Remove every offline entry whose time is at or before *now_ms*; return how many."""


class BufferStore(Protocol):
    """Frames held for away recipients, bounded and with a TTL (docs/protocol.md §4.4).

    The caps (:class:`~quicko.relay.config.RelayConfig`) are ``buffer_per_recipient`` frames
    for one recipient and ``buffer_total`` in all, and in bytes
    ``buffer_bytes_per_recipient``, ``buffer_bytes_per_sender`` (across all the sender's
    recipients) and ``buffer_bytes_total``; a frame counts ``len(data)`` plus
    :data:`~quicko.relay.buffer.FRAME_OVERHEAD` bytes, once per recipient it is held for. In a
    cluster the totals are the cluster's. Frames are the original bytes, never read or changed.
    """

    def __len__(self) -> int:
        """Frames held, for all recipients together."""

    @property
    def size_bytes(self) -> int:
        """Bytes held, for all recipients together, as counted against the byte caps."""

    def push(
        self,
        recipient: bytes,
        data: bytes,
        expires_ms: int,
        receipt: Receipt | None,
        sender: bytes,
    ) -> bool:
        """Append *data* to the end of *recipient*'s queue, until *expires_ms*.

        Args:
            recipient: the away address.
            data: the frame, as received.
            expires_ms: when it expires (``now_ms`` plus the buffer TTL).
            receipt: for a MESSAGE, what to tell its sender if it expires; the copies of one
                MESSAGE for several recipients share one :class:`Receipt`.
            sender: the sending address, whose byte budget the frame counts against until it
                is taken or expires.

        Returns:
            ``False``, holding nothing, when any cap is reached: older frames are never
            evicted, and the router answers BUFFER_FULL to the sender.
        """

    def push_front(
        self,
        recipient: bytes,
        frames: Sequence[tuple[bytes, Receipt | None, bytes]],
        expires_ms: int,
    ) -> list[tuple[bytes, Receipt | None, bytes]]:
        """Hold *frames* ``(data, receipt, sender)``, in order, ahead of *recipient*'s queue.

        For the frames a dead or replaced connection never acknowledged: they were sent
        before anything the buffer holds for the address, so they go back first. Each frame
        is checked against every cap as by :meth:`push`; those over a cap are returned, not
        held (nothing is evicted).
        """

    def take(self, recipient: bytes) -> list[BufferedFrame]:
        """Remove and return every frame held for *recipient*, in queue order.

        The router sends them right after the recipient's HelloAck (or when its connection
        can be written again). A cluster implementation takes them atomically, so that no
        frame goes to two connections or stays behind.
        """

    def next_deadline(self) -> int | None:
        """When the first held frame expires."""

    def pop_expired(self, now_ms: int) -> BufferedFrame | None:
        """Remove and return one frame whose TTL has passed, earliest first.

        The router tells the sender EXPIRED when ``frame.receipt.pending`` is true, then sets
        it false: the sender hears once per MESSAGE, however many copies expire. An
        implementation that does not share one :class:`Receipt` object between the copies
        must return ``pending`` true for exactly one expired copy of each MESSAGE.
        """


class CallStore(Protocol):
    """Calls forwarded to their callee and not answered yet (docs/protocol.md §15-§16)."""

    def __len__(self) -> int:
        """Pending calls (checked against ``max_pending_calls`` before :meth:`add`)."""

    def __contains__(self, call_id: bytes) -> bool:
        """Whether *call_id* is pending."""

    def count_for(self, caller: bytes) -> int:
        """Pending calls of *caller* (``max_pending_calls_per_caller``)."""

    def count_for_source(self, source: str) -> int:
        """Pending calls placed from ``call.source`` *source* (``max_pending_calls_per_ip``)."""

    def get(self, call_id: bytes) -> PendingCall | None:
        """The pending call *call_id*, if any."""

    def add(self, call: PendingCall) -> None:
        """Record *call*, whose id is not pending, until ``call.deadline_ms``."""

    def remove(self, call: PendingCall) -> None:
        """Forget the pending *call* (it was answered)."""

    def next_deadline(self) -> int | None:
        """When the first pending call times out."""

    def pop_expired(self, now_ms: int) -> PendingCall | None:
        """Remove and return one call whose deadline has passed (the caller hears TIMEOUT)."""


@dataclass(frozen=True, slots=True)
class RelayState:
    """One instance of each store: everything a :class:`~quicko.relay.router.Router` keeps.

    Attributes:
        connections: this node's connections and the address registry.
        sessions: session membership.
        directory: the key directory.
        buffer: the offline buffer.
        calls: the pending calls.
    """

    connections: ConnectionStore
    sessions: MembershipStore
    directory: DirectoryStore
    buffer: BufferStore
    calls: CallStore

    @classmethod
    def in_memory(cls, config: RelayConfig) -> RelayState:
        """The single-node state: empty in-memory stores, with the buffer caps of *config*."""
        return cls(
            connections=ConnectionTable(),
            sessions=SessionStore(),
            directory=Directory(config.directory_ttl_ms, config.directory_new_ttl_ms),
            buffer=OfflineBuffer(
                config.buffer_per_recipient,
                config.buffer_total,
                bytes_per_recipient=config.buffer_bytes_per_recipient,
                bytes_per_sender=config.buffer_bytes_per_sender,
                bytes_total=config.buffer_bytes_total,
            ),
            calls=PendingCalls(),
        )
