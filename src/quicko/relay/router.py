"""The relay's routing decisions, sans-I/O: frames in, :data:`Action` lists out (§1-§20).

The I/O layer (:mod:`quicko.relay.server`) owns the sockets and the clock. It calls
:meth:`Router.open` for a new WebSocket connection, :meth:`Router.receive` for every binary
message, :meth:`Router.receive_text` for a text message, :meth:`Router.closed` when a socket is
gone (whatever the cause), and :meth:`Router.handle_timeout` at :meth:`Router.next_deadline`;
it executes the returned actions in order. The router never reads the clock or the OS random
source, never blocks, and never raises on bytes from the network.

State lives in small, separate stores, each with the only methods that change it, which the
router reaches only through the Protocols of :mod:`quicko.relay.stores` (bundled in a
:class:`~quicko.relay.stores.RelayState`; in-memory classes by default):

- :class:`~quicko.relay.stores.ConnectionStore` (in memory:
  :class:`~quicko.relay.connections.ConnectionTable`): this node's connections, and the
  :class:`~quicko.relay.stores.AddressRegistry` of which connection holds an address (the
  *presence* of an address);
- :class:`~quicko.relay.stores.MembershipStore` (:class:`~quicko.relay.sessions.SessionStore`):
  sessions, members, nameplates, away members;
- :class:`~quicko.relay.stores.DirectoryStore` (:class:`~quicko.relay.directory.Directory`):
  the key directory;
- :class:`~quicko.relay.stores.BufferStore` (:class:`~quicko.relay.buffer.OfflineBuffer`):
  frames held for away recipients;
- :class:`~quicko.relay.stores.CallStore` (:class:`~quicko.relay.calls.PendingCalls`): calls
  waiting for an answer.

Cluster mode (DESIGN.md §7) plugs in beneath these interfaces, not in the routing decisions:
the server builds ``Router(config, node_id=…, rng=…, state=cluster_state)`` and nothing here
changes. Each Redis-backed store keeps a local mirror that it reads synchronously (so
:meth:`Router.receive` stays a plain function and the MESSAGE hot path a dictionary lookup);
each mutating method updates the mirror at once and writes through to Redis (keys with TTLs,
no persistence), and publishes the change; the I/O shell applies the changes other nodes
publish to the mirrors between two router calls. The connection table stays local: only its
:class:`~quicko.relay.stores.AddressRegistry` half is shared, as "which node holds this
address". For an address held by another node,
:meth:`~quicko.relay.stores.AddressRegistry.bound` returns a stand-in connection whose id the
shell reserves for that node: a :class:`Send` to it is published on that node's channel and
becomes a local Send there, and a :class:`Close` to it (an older connection replaced by a
Hello here) asks that node to close its connection. Buffered frames are taken atomically by
whichever node receives the recipient's Hello. The contracts every implementation must keep
(ordering, TTLs, caps) are stated in :mod:`quicko.relay.stores`.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from quicko.crypto import RandomSource, ed25519
from quicko.errors import AuthenticationError, RemoteProtocolError
from quicko.identity.address import verify_address
from quicko.protocol import (
    Ack,
    CallPeer,
    CallResponse,
    CallStatus,
    Challenge,
    Hello,
    HelloAck,
    Join,
    KeyExchange,
    Leave,
    LobbyMessage,
    LookupKey,
    Message,
    MessageType,
    Payload,
    Ping,
    Pong,
    Received,
    RegisterKey,
    ReleaseNameplate,
    UnregisterKey,
    canonical_relay_url,
    decode_frame,
    error_code_for,
    hello_transcript,
    read_header,
)
from quicko.protocol.constants import NONCE_SIZE
from quicko.protocol.types import ErrorCode
from quicko.relay.actions import (
    CLOSE_DEAD_LINK,
    CLOSE_GOING_AWAY,
    CLOSE_NORMAL,
    CLOSE_POLICY_VIOLATION,
    CLOSE_REPLACED,
    CLOSE_UNSUPPORTED_DATA,
    Action,
    Close,
    PauseReading,
    Send,
    new_send,
)
from quicko.relay.config import RelayConfig
from quicko.relay.connections import Connection, ConnectionTable
from quicko.relay.flow import ABUSIVE, FlowLimiter
from quicko.relay.frames import (
    ACCEPTED_ACK_BYTES,
    ACCEPTED_ACK_PARTS,
    error_frame,
    parse_message,
    received_count,
    route_fields,
)
from quicko.relay.keys import KeyHandlers
from quicko.relay.membership import MembershipHandlers
from quicko.relay.metrics import RelayMetrics
from quicko.relay.routing import RoutingHandlers
from quicko.relay.sessions import Session, SessionStore
from quicko.relay.stores import RelayState

__all__ = [
    "CLOSE_DEAD_LINK",
    "CLOSE_GOING_AWAY",
    "CLOSE_NORMAL",
    "CLOSE_POLICY_VIOLATION",
    "CLOSE_REPLACED",
    "CLOSE_UNSUPPORTED_DATA",
    "Action",
    "Close",
    "HotTables",
    "PauseReading",
    "Router",
    "Send",
    "error_frame",
]

_MESSAGE = int(MessageType.MESSAGE)
_HELLO = int(MessageType.HELLO)
_RECEIVED = int(MessageType.RECEIVED)
_ACK = int(MessageType.ACK)
# accepted_ack (frames.py), inlined in the hot path: the Ack's prefix, the ids, its status.
_ACCEPTED_ACK_PREFIX, _IDS_AT, _IDS_END, _ACCEPTED_TAIL = ACCEPTED_ACK_PARTS
_KNOWN_TYPES = frozenset(int(t) for t in MessageType)


@dataclass(frozen=True, slots=True)
class HotTables:
    """The router's tables that the native hot path (:mod:`quicko.relay.native`) works on.

    References, not copies: the C code reads and changes the very objects the Python router
    uses, exactly as :meth:`Router._forward` does, so the router stays the one source of truth.

    Attributes:
        by_conn: connection id → :class:`Connection` (the connection table's).
        by_address: bound address → :class:`Connection` (the address registry).
        activity: the idle-timer order (``ConnectionTable.touch`` moves an id to its end).
        sessions: session id → :class:`~quicko.relay.sessions.Session`.
        interval: the address bucket's interval (ms per frame) of the rate limiter.
        tau: the address bucket's burst, in ms.
        source_interval: the source bucket's interval.
        source_tau: the source bucket's burst, in ms.
        window: unacknowledged bytes kept per connection (``send_queue_bytes``).
        track_start: :meth:`Router._track_start` (a recipient's first in-flight frame).
        over_window: :meth:`Router._over_window` (a recipient's window overflowed).
    """

    by_conn: dict[int, Connection]
    by_address: dict[bytes, Connection]
    activity: OrderedDict[int, Connection]
    sessions: dict[bytes, Session]
    interval: float
    tau: float
    source_interval: float
    source_tau: float
    window: int
    track_start: Callable[[Connection, int], deque[tuple[int, bytes, bytes]]]
    over_window: Callable[[Connection], None]


class Router(RoutingHandlers, MembershipHandlers, KeyHandlers):
    """The pure relay: one instance per node, driven by the I/O layer (see the module doc).

    Connection ids are the I/O layer's; the router never sends to an id it was not given by
    :meth:`open`, and forgets an id at :meth:`closed`.
    """

    def __init__(
        self,
        config: RelayConfig,
        *,
        node_id: str,
        rng: RandomSource,
        state: RelayState | None = None,
    ) -> None:
        """Create a router over *state* (empty in-memory stores by default).

        Args:
            config: the limits to enforce.
            node_id: this node's id for Challenges and HelloAcks (1-64 printable characters).
            rng: the source of Challenge nonces (``secrets.token_bytes`` in production).
            state: the stores to keep state in (see :mod:`quicko.relay.stores`); a
                cluster node passes its Redis-backed ones. The buffer caps are the
                state's, so build it from the same *config*.

        Raises:
            ValueError: *node_id* does not fit in a Challenge.
        """
        super().__init__(config, node_id=node_id, rng=rng, state=state)
        #: MESSAGEs the hot path forwarded, and their bytes, not yet in :attr:`metrics`.
        self._forwarded = 0
        self._forwarded_bytes = 0
        #: The native hot path's count of the same, taken (and reset) when metrics are read.
        self._hot_counts: Callable[[], tuple[int, int]] | None = None

    # ------------------------------------------------------------------ connection lifecycle

    def set_public_urls(self, urls: Iterable[str]) -> None:
        """Set the URLs Hellos and RegisterKeys must name (the server's, once it is bound).

        The I/O layer calls this when ``config.public_urls`` was left empty and the bound
        port is known; the URLs are canonicalised here.

        Raises:
            ValueError: a URL is not a ``ws://`` or ``wss://`` URL with a host.
        """
        self._public_urls = frozenset(canonical_relay_url(url) for url in urls)

    @property
    def public_urls(self) -> frozenset[str]:
        """The canonical URLs this relay answers to (§3)."""
        return self._public_urls

    def open(self, conn: int, now_ms: int, source: str = "") -> list[Action]:
        """A WebSocket connection was opened: greet it with a Challenge (§2).

        Args:
            conn: the I/O layer's id for the connection.
            now_ms: the time.
            source: the key the per-source limits count the connection under (its IP address,
                or its IPv6 /64: :func:`quicko.relay.admission.source_key`).

        Raises:
            ValueError: *conn* is already open (a bug in the caller).
        """
        if conn in self._conns:
            raise ValueError(f"connection {conn} is already open")
        nonce = self._rng(NONCE_SIZE)
        connection = Connection(conn, nonce, now_ms, source)
        self._conns.add(connection)
        self._limiter.attach_source(connection, now_ms)
        self._metrics.connections_opened += 1
        out: list[Action] = []
        self._send_payload(out, conn, Challenge(nonce, self._node_id, now_ms))
        return out

    def receive_text(self, conn: int, now_ms: int) -> list[Action]:
        """A text message arrived: Error(TEXT_FRAME), then close with 1003 (§1)."""
        c = self._conns.get(conn)
        if c is None or c.closing:
            return []
        out: list[Action] = []
        self._error(out, conn, ErrorCode.TEXT_FRAME, "frames are binary WebSocket messages")
        self._close(out, c, CLOSE_UNSUPPORTED_DATA, "text frame", now_ms)
        return out

    def closed(self, conn: int, now_ms: int) -> list[Action]:
        """The connection is gone: forget it; its sessions hear PeerLeft(DISCONNECTED) (§8)."""
        c = self._conns.get(conn)
        if c is None:
            return []
        out: list[Action] = []
        if not c.closing:
            self._disconnect(out, c, now_ms)
        self._conns.remove(conn)
        self._limiter.detach(c)
        self._ack_waits.pop(conn, None)
        return out

    def writing_paused(self, conn: int) -> None:
        """*conn*'s unsent bytes passed ``send_queue_bytes``: hold its routed frames instead.

        Until :meth:`writing_resumed`, frames routed to its address wait in the away buffer
        (within its budgets; over them the sender gets BUFFER_FULL, as for an away member),
        so a slow reader is neither flooded nor disconnected by another member's burst.
        """
        c = self._conns.get(conn)
        if c is None or c.closing or c.write_paused:
            return
        c.write_paused = True
        if not c.blocked:
            c.blocked = True
            self._metrics.writes_blocked += 1

    def writing_resumed(self, conn: int, now_ms: int) -> list[Action]:
        """*conn* drained below its low-water mark: deliver what waited for it, in order."""
        c = self._conns.get(conn)
        if c is None or c.closing or not c.write_paused:
            return []
        c.write_paused = False
        out: list[Action] = []
        self._unblock(out, c, now_ms)
        return out

    def shutdown(self, now_ms: int) -> list[Action]:
        """Tell every connection that the relay is going away, and close them all (§20)."""
        out: list[Action] = []
        for c in self._conns.all():
            if not c.closing:
                self._error(out, c.conn, ErrorCode.SHUTTING_DOWN, "the relay is shutting down")
                out.append(Close(c.conn, CLOSE_GOING_AWAY, "shutting down"))
                self._conns.unbind(c)
        return out

    # ------------------------------------------------------------------ cluster (DESIGN.md §7)

    def deliver(
        self, address: bytes, data: bytes, sender: bytes | None, now_ms: int
    ) -> list[Action]:
        """A frame another node routed to *address*, which it saw held by this node.

        *sender* is the sending address for a routed frame (kept until acknowledged, held in
        the away buffer if the address is not here or blocked), ``None`` for one of the
        relay's own frames (sent if the address is here, else dropped).
        """
        c = self._conns.bound(address)
        local = c is not None and self._conns.get(c.conn) is c
        out: list[Action] = []
        if sender is None:
            if local and c is not None:
                self._send(out, c.conn, data)
            return out
        if local and c is not None and not c.blocked:
            self._route(out, c, data, sender, now_ms)
        elif not self._hold(address, data, now_ms, self._receipt_for(data, sender), sender):
            self._metrics.requeue_refused += 1
        return out

    def deliver_held(self, address: bytes, now_ms: int) -> list[Action]:
        """Another node buffered frames for *address*: deliver them if it is here and free."""
        c = self._conns.bound(address)
        out: list[Action] = []
        if c is not None and self._conns.get(c.conn) is c and not c.blocked and not c.closing:
            self._drain(out, c, address, now_ms)
        return out

    def evict(self, conn: int, now_ms: int) -> list[Action]:
        """A newer Hello on another node took *conn*'s address: close it as replaced."""
        c = self._conns.get(conn)
        if c is None or c.closing or c.address is None:
            return []
        out: list[Action] = []
        self._error(out, c.conn, ErrorCode.REPLACED, "a newer connection took over")
        out.append(Close(c.conn, CLOSE_REPLACED, "replaced"))
        address = self._conns.unbind(c)
        if address is not None:
            self._requeue(out, c, address, now_ms)
        return out

    def remote_gone(self, address: bytes, now_ms: int) -> list[Action]:
        """The node that held *address* died: its sessions hear PeerLeft, as for a disconnect."""
        out: list[Action] = []
        if self._conns.bound(address) is None:
            self._went_offline(out, address, now_ms)
        return out

    def hot_tables(self, counts: Callable[[], tuple[int, int]]) -> HotTables | None:
        """The tables the native hot path works on, or ``None`` where it must not run.

        *counts* returns the MESSAGEs the native path forwarded since its last call, and their
        bytes (it keeps them in C); :attr:`metrics` adds them, as it adds :meth:`_forward`'s.

        Only a plain :class:`Router` over the in-memory stores qualifies: a subclass (the
        cluster's claiming router) or other stores (the cluster's mirrors) keep rules or state
        that the C code does not know, so they always take the Python path.
        """
        conns, sessions, limiter = self._conns, self._sessions, self._limiter
        if not (
            type(self) is Router
            and type(conns) is ConnectionTable
            and type(sessions) is SessionStore
            and type(limiter) is FlowLimiter
        ):
            return None
        self._hot_counts = counts
        return HotTables(
            by_conn=conns._by_conn,
            by_address=conns._by_address,
            activity=conns._activity,
            sessions=sessions._sessions,
            interval=limiter._interval,
            tau=limiter._tau,
            source_interval=limiter._source_interval,
            source_tau=limiter._source_tau,
            window=self._window,
            track_start=self._track_start,
            over_window=self._over_window,
        )

    # ------------------------------------------------------------------ receiving

    def receive(self, conn: int, data: bytes, now_ms: int) -> list[Action]:
        """One binary WebSocket message arrived on *conn*; return what to do about it."""
        # Router's own receive_fast, not a subclass's (which may call this method).
        result = Router.receive_fast(self, conn, data, now_ms)
        if type(result) is tuple:
            return [new_send(result[0], data), new_send(conn, result[1])]
        assert isinstance(result, list)  # the other kind of result
        return result

    def receive_fast(self, conn: int, data: bytes, now_ms: int) -> list[Action] | tuple[int, bytes]:
        """Like :meth:`receive`, with the hot path's answer in a cheaper form.

        A MESSAGE forwarded to its one online recipient (the relay's common case) comes back
        as ``(target, ack)``, which means ``[Send(target, data), Send(conn, ack)]``: the
        frame to the recipient's connection, then the relay's Ack(ACCEPTED) to the sender.
        Everything else comes back as :meth:`receive`'s list of actions.
        """
        conns = self._conns
        c = conns.get(conn)
        if c is None or c.closing:
            return []
        if c.last_ms != now_ms:  # moved to the end already at this time: the order holds
            conns.touch(c, now_ms)
        address = c.address
        if address is not None and len(data) > 1 and data[1] == _MESSAGE:
            verdict = self._limiter.charge(c, now_ms)
            if not verdict:
                forwarded = self._forward(c, address, data, now_ms)
                if forwarded is not None:
                    return forwarded
                self._metrics.bytes_in += len(data)
                return self._dispatch(c, data, now_ms)
            self._metrics.bytes_in += len(data)
            return self._over_rate(c, data, verdict, now_ms)
        self._metrics.bytes_in += len(data)
        kind = data[1] if len(data) > 1 else 0
        if kind == _RECEIVED and address is not None:
            return self._received(c, data, now_ms)
        verdict = self._limiter.charge(c, now_ms)
        if verdict:
            return self._over_rate(c, data, verdict, now_ms)
        return self._dispatch(c, data, now_ms)

    def _forward(
        self, c: Connection, address: bytes, data: bytes, now_ms: int
    ) -> tuple[int, bytes] | None:
        """The hot path: forward a MESSAGE from *address* to its one online recipient.

        Returns ``(recipient's connection, Ack(ACCEPTED) for the sender)``, or ``None`` when
        anything is unusual (another encoding, a message to all, a check that fails, a
        recipient away or blocked): :meth:`_dispatch` then handles the frame from the start,
        errors included. Nothing has changed when it returns ``None`` (the rate limit, already
        charged, excepted). Its counters are folded into :attr:`metrics` when they are read.

        The opt-in native path (``relay/native.pyx``) does this (with :meth:`receive_fast`'s
        steps before it) in C: a change here must be made there too, and
        tests/unit/relay/test_relay_native_equivalence.py (run after ``scripts/compile.sh``)
        compares the two.
        """
        fields = route_fields(data)
        if fields is None:
            return None
        session_id, sender, recipient = fields
        session = self._sessions.get(session_id)
        if session is None or sender != address:
            return None
        members = session.members
        if sender not in members or recipient not in members:
            return None
        target = self._conns.bound(recipient)
        if target is None or target.blocked:
            return None
        c.sent += 1  # the Ack, numbered on the sender's connection (Received)
        seq = target.sent = target.sent + 1  # _track, inlined
        inflight = target.inflight
        if not inflight:
            inflight = self._track_start(target, now_ms)
        inflight.append((seq, data, sender))
        size = len(data)
        target.inflight_bytes += size
        if target.inflight_bytes > self._window:
            self._over_window(target)
        self._forwarded += 1
        self._forwarded_bytes += size
        return target.conn, _ACCEPTED_ACK_PREFIX + data[_IDS_AT:_IDS_END] + _ACCEPTED_TAIL

    def _dispatch(self, c: Connection, data: bytes, now_ms: int) -> list[Action]:
        """Handle one frame that the rate limit let through."""
        address = c.address
        if address is not None and len(data) > 1 and data[1] == _MESSAGE:
            fields = parse_message(data)
            if fields is not None:
                self._metrics.frames_in[_MESSAGE] += 1
                if fields[1] != address:
                    return self._reject(
                        c,
                        ErrorCode.SENDER_MISMATCH,
                        "sender is not your address",
                        _MESSAGE,
                        fields[3],
                    )
                return self._message(c, data, fields, now_ms)
        self._metrics.frames_in[data[1] if len(data) > 1 else 0] += 1
        if address is None:
            return self._handshake(c, data, now_ms)
        return self._receive_payload(c, address, data, now_ms)

    def _over_rate(self, c: Connection, data: bytes, verdict: int, now_ms: int) -> list[Action]:
        """A frame over the rate: handle it and pause reading; far over it, refuse and close.

        *verdict* is :meth:`FlowLimiter.charge`'s: :data:`ABUSIVE`, or when to resume.
        """
        if verdict == ABUSIVE:
            self._metrics.rate_limited += 1
            self._metrics.abuse_disconnects += 1
            ref_type = data[1] if len(data) > 1 and data[1] in _KNOWN_TYPES else 0
            out: list[Action] = []
            self._error(
                out, c.conn, ErrorCode.RATE_LIMITED, "rate limit ignored", ref_type=ref_type
            )
            self._close(out, c, CLOSE_POLICY_VIOLATION, "rate limit ignored", now_ms)
            return out
        self._metrics.reads_paused += 1
        out = self._dispatch(c, data, now_ms)
        if not c.closing:
            c.paused_until = verdict
            out.append(PauseReading(c.conn, verdict))
        return out

    def _received(self, c: Connection, data: bytes, now_ms: int) -> list[Action]:
        """The client counts the frames it received: forget the routed ones it has (§4.4).

        A Received that acknowledges something new costs no token (there can be at most one
        per frame the relay sent); any other is charged like every frame.
        """
        self._metrics.frames_in[_RECEIVED] += 1
        count = received_count(data)
        if count is None:  # not the usual encoding: the codec decides (and names the error)
            payload = self._decode(c, data)
            if isinstance(payload, list):
                return payload
            assert isinstance(payload, Received)  # the type code says so
            count = payload.count
        if count > c.sent:
            return self._reject(
                c, ErrorCode.MALFORMED, "more frames received than were sent", _RECEIVED
            )
        out: list[Action] = []
        if not c.acking:  # the client acknowledges: the ack timeout applies from now on
            c.acking = True
            if c.inflight:
                c.ack_since = now_ms
                self._ack_waits[c.conn] = c
                self._ack_waits.move_to_end(c.conn)
        if count > c.acked:
            self._acknowledge(c, count, now_ms)
            self._unblock(out, c, now_ms)
            return out
        verdict = self._limiter.charge(c, now_ms)
        if verdict == ABUSIVE:
            return self._over_rate(c, data, verdict, now_ms)
        if verdict:
            self._metrics.reads_paused += 1
            c.paused_until = verdict
            out.append(PauseReading(c.conn, verdict))
        return out

    def _decode(self, c: Connection, data: bytes) -> Payload | list[Action]:
        """Decode a frame, or return the Error that answers it (the connection stays open)."""
        try:
            return decode_frame(data)
        except RemoteProtocolError as exc:
            ref_type = data[1] if len(data) > 1 and data[1] in _KNOWN_TYPES else 0
            return self._reject(c, error_code_for(exc), str(exc), ref_type)

    def _handshake(self, c: Connection, data: bytes, now_ms: int) -> list[Action]:
        """Before a valid Hello: only a Hello is acceptable (§3)."""
        try:
            type_code, _ = read_header(data)
        except RemoteProtocolError as exc:
            return self._reject(c, error_code_for(exc), str(exc), 0)
        if type_code in _KNOWN_TYPES and type_code != _HELLO:
            out: list[Action] = []
            self._error(
                out, c.conn, ErrorCode.UNAUTHENTICATED, "send Hello first", ref_type=type_code
            )
            self._close(out, c, CLOSE_POLICY_VIOLATION, "unauthenticated", now_ms)
            return out
        payload = self._decode(c, data)
        if isinstance(payload, list):
            return payload
        assert isinstance(payload, Hello)  # the type code says so
        return self._hello(c, payload, now_ms)

    def _hello(self, c: Connection, hello: Hello, now_ms: int) -> list[Action]:
        """Check the relay named and the proof of possession; bind the address (§3)."""
        out: list[Action] = []
        if not self._is_public_url(hello.relay_url):
            reason = "this is not the relay you signed for"
            self._error(out, c.conn, ErrorCode.WRONG_RELAY, reason, ref_type=_HELLO)
            self._close(out, c, CLOSE_POLICY_VIOLATION, "wrong relay", now_ms)
            return out
        transcript = hello_transcript(
            nonce=c.nonce,
            node_id=self._node_id,
            server_time=c.challenge_time,
            relay_url=hello.relay_url,
            channel_binding=self._config.channel_binding,
            address=hello.address,
            display_name=hello.display_name,
            x25519_public=hello.x25519_public,
            ed25519_public=hello.ed25519_public,
        )
        try:
            verify_address(hello.address, hello.x25519_public, hello.ed25519_public)
            ed25519.verify(hello.ed25519_public, hello.signature, transcript)
        except AuthenticationError:
            self._error(
                out,
                c.conn,
                ErrorCode.AUTHENTICATION_FAILED,
                "authentication failed",
                ref_type=_HELLO,
            )
            self._close(out, c, CLOSE_POLICY_VIOLATION, "authentication failed", now_ms)
            return out
        address = hello.address
        older = self._conns.bound(address)
        if older is not None:
            self._error(out, older.conn, ErrorCode.REPLACED, "a newer connection took over")
            out.append(Close(older.conn, CLOSE_REPLACED, "replaced"))
            self._conns.unbind(older)
            self._requeue(out, older, address, now_ms)  # re-delivered below, first
        c.display_name = hello.display_name
        c.x25519_public = hello.x25519_public
        c.ed25519_public = hello.ed25519_public
        self._conns.bind(c, address)
        self._limiter.attach_address(c, address, now_ms)
        self._metrics.authentications += 1
        self._directory.mark_online(address)
        held = self._buffer.take(address)
        self._send_payload(out, c.conn, HelloAck(address, self._node_id, now_ms, len(held)))
        c.sent = 0  # the frames after the HelloAck are numbered from 1 (Received)
        for frame in held:
            self._route(out, c, frame.data, frame.sender, now_ms)
        self._welcome_back(out, c, address)
        return out

    def _receive_payload(
        self, c: Connection, address: bytes, data: bytes, now_ms: int
    ) -> list[Action]:
        """After Hello: decode and dispatch one frame by type (§4)."""
        payload = self._decode(c, data)
        if isinstance(payload, list):
            return payload
        match payload:
            case Message():
                return self._slow_message(c, address, payload, data, now_ms)
            case Ack():
                return self._client_ack(c, address, payload, data, now_ms)
            case KeyExchange():
                return self._key_exchange(c, address, payload, data, now_ms)
            case Ping():
                out: list[Action] = []
                self._send_payload(out, c.conn, Pong(payload.nonce, now_ms))
                return out
            case Join():
                return self._join(c, address, payload, now_ms)
            case LobbyMessage():
                return self._lobby_message(c, address, payload, now_ms)
            case Leave():
                return self._leave(c, address, payload)
            case ReleaseNameplate():
                return self._release(c, address, payload)
            case RegisterKey():
                return self._register(c, address, payload, now_ms)
            case LookupKey():
                return self._lookup(c, payload)
            case UnregisterKey():
                return self._unregister(c, address, payload)
            case CallPeer():
                return self._call(c, address, payload, data, now_ms)
            case CallResponse():
                return self._answer(c, address, payload, data, now_ms)
        return self._reject(
            c, ErrorCode.UNEXPECTED_TYPE, "a client may not send this frame", payload.TYPE
        )

    # ------------------------------------------------------------------ time

    def handle_timeout(self, now_ms: int) -> list[Action]:
        """Do whatever is due at *now_ms*: timeouts and expiries, and what they announce.

        Handshake and idle timeouts (§2, §20), dead links (routed frames unacknowledged for
        the ack timeout: closed, their frames re-queued), buffered frames expiring with their
        EXPIRED acks (§9), away members expiring (§8), pending joiners leaving the lobby (§6),
        calls timing out (§15), directory entries expiring (§12).
        """
        out: list[Action] = []
        conns = self._conns
        while (c := conns.next_handshake()) is not None and (
            c.challenge_time + self._handshake_ms <= now_ms
        ):
            self._error(out, c.conn, ErrorCode.HANDSHAKE_TIMEOUT, "no Hello in time")
            self._close(out, c, CLOSE_POLICY_VIOLATION, "handshake timeout", now_ms)
        while (c := conns.least_active()) is not None and c.last_ms + self._idle_ms <= now_ms:
            self._error(out, c.conn, ErrorCode.IDLE_TIMEOUT, "no frame in time")
            self._close(out, c, CLOSE_NORMAL, "idle timeout", now_ms)
        waits, ack_ms = self._ack_waits, self._ack_ms
        while (
            c := next(iter(waits.values()), None)
        ) is not None and c.ack_since + ack_ms <= now_ms:
            if c.paused_until + ack_ms > now_ms:  # its Received may wait behind a paused read
                c.ack_since = now_ms
                waits.move_to_end(c.conn)
                continue
            self._metrics.dead_links += 1
            self._close(out, c, CLOSE_DEAD_LINK, "ack timeout", now_ms)
        while (frame := self._buffer.pop_expired(now_ms)) is not None:
            self._metrics.buffer_expired += 1
            receipt = frame.receipt
            if receipt is not None and receipt.pending:
                receipt.pending = False
                sender = conns.bound(receipt.sender)
                if sender is not None:
                    self._send(out, sender.conn, receipt.expired_ack)
        while (call := self._calls.pop_expired(now_ms)) is not None:
            # Both parties hear it: the caller stops waiting, the callee's ring ends (§4.8).
            timeout = CallResponse(
                call.call_id, call.caller, call.callee, int(CallStatus.TIMEOUT), b""
            )
            for party in (call.caller, call.callee):
                target = conns.bound(party)
                if target is not None:
                    self._send_payload(out, target.conn, timeout)
        while (address := self._sessions.pop_expired_away(now_ms)) is not None:
            self._expire_member(out, address)
        while self._sessions.pop_expired_pending(now_ms) is not None:
            pass  # the lobby TTL passed: the joiner is simply no longer pending
        self._directory.expire(now_ms)
        return out

    def next_deadline(self) -> int | None:
        """The earliest time at which :meth:`handle_timeout` has work, or ``None``."""
        deadlines = [
            self._buffer.next_deadline(),
            self._calls.next_deadline(),
            self._sessions.next_away_deadline(),
            self._sessions.next_pending_deadline(),
            self._directory.next_deadline(),
        ]
        c = self._conns.next_handshake()
        if c is not None:
            deadlines.append(c.challenge_time + self._handshake_ms)
        c = self._conns.least_active()
        if c is not None:
            deadlines.append(c.last_ms + self._idle_ms)
        c = next(iter(self._ack_waits.values()), None)
        if c is not None:
            deadlines.append(c.ack_since + self._ack_ms)
        return min((d for d in deadlines if d is not None), default=None)

    # ------------------------------------------------------------------ observation

    @property
    def metrics(self) -> RelayMetrics:
        """The node's counters, with the gauges brought up to date."""
        metrics = self._metrics
        forwarded, forwarded_bytes = self._forwarded, self._forwarded_bytes
        if self._hot_counts is not None:
            hot, hot_bytes = self._hot_counts()
            forwarded += hot
            forwarded_bytes += hot_bytes
        if forwarded:  # the hot path's counts (see _forward): frame in, frame out, Ack out
            self._forwarded = self._forwarded_bytes = 0
            metrics.frames_in[_MESSAGE] += forwarded
            metrics.frames_out[_MESSAGE] += forwarded
            metrics.frames_out[_ACK] += forwarded
            metrics.bytes_in += forwarded_bytes
            metrics.bytes_out += forwarded_bytes + forwarded * ACCEPTED_ACK_BYTES
        metrics.connections = len(self._conns)
        metrics.authenticated_connections = self._conns.bound_count
        metrics.sessions = len(self._sessions)
        metrics.nameplates = self._sessions.nameplate_count
        metrics.directory_entries = len(self._directory)
        metrics.buffered_frames = len(self._buffer)
        metrics.buffered_bytes = self._buffer.size_bytes
        metrics.pending_calls = len(self._calls)
        return metrics

    def health(self) -> dict[str, int]:
        """Counts for ``/health``; the I/O layer adds status, uptime and node id."""
        return {
            "connections": len(self._conns),
            "authenticated_connections": self._conns.bound_count,
            "sessions": len(self._sessions),
            "directory_entries": len(self._directory),
            "buffered_frames": len(self._buffer),
            "buffered_bytes": self._buffer.size_bytes,
        }
