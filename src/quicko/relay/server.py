"""The relay's I/O shell: a picows WebSocket listener on uvloop around the pure router.

One :class:`RelayServer` per process owns one router. Each WebSocket connection gets a small
integer id; every binary message's bytes go to ``router.receive``, text messages to
``router.receive_text``, and the actions that come back are executed in order (``Send`` →
one binary message, ``Close`` → a close frame, then ``router.closed``). One timer, re-armed at
least every :data:`TICK_S`, calls ``router.handle_timeout`` when ``router.next_deadline()``
has passed, and (once :func:`~quicko.relay.collector.tune_gc` has run) freezes the survivors
of the connections opened since its last run (:meth:`~quicko.relay.collector.GcPauses.freeze`).
``/health`` and ``/metrics`` are answered at the HTTP upgrade on the same port.

Limits enforced here, before the router sees anything (docs/protocol.md, relay-spec §1, §18,
§20): the frame size (picows refuses an oversized frame from its header, close 1009), the
number of connections (HTTP 503 at the upgrade), concurrent connections and new connections
per second per source address (HTTP 429), and the unsent bytes per connection.

Flow control (issue 10): when a transport's unsent bytes pass ``send_queue_bytes`` (its
``pause_writing``), the router is told (``writing_paused``) and holds that address's routed
frames in its away buffer; when the transport drains (``resume_writing``) they are delivered
(``writing_resumed``). Only past ``send_queue_hard_bytes`` is a reader dropped as too slow,
so one member's burst never gets a slow reader disconnected. A ``PauseReading`` action (a
client over its rate) pauses reading its socket (``pause_reading`` of the asyncio transport
under picows) until the time it names, so TCP slows the sender down.

The per-message path does no logging, no awaiting and arms no timer.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import mmap
import secrets
import ssl
import sys
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Final, Protocol, cast

from picows import (
    WSFrame,
    WSListener,
    WSMsgType,
    WSTransport,
    WSUpgradeRequest,
    WSUpgradeResponse,
    WSUpgradeResponseWithListener,
)
from picows.picows import WSProtocol  # type: ignore[attr-defined]  # not in picows' stubs

from quicko.protocol import ErrorCode, MessageType
from quicko.protocol.constants import HEADER_SIZE
from quicko.relay.actions import Action, Close, PauseReading, Send
from quicko.relay.admission import Admission, Verdict, source_key
from quicko.relay.collector import GC_PAUSES
from quicko.relay.config import RelayConfig
from quicko.relay.frames import error_frame
from quicko.relay.http import (
    HEALTH_CONTENT_TYPE,
    METRICS_CONTENT_TYPE,
    IOStats,
    MetricsExporter,
    health_body,
)
from quicko.relay.logs import log_event
from quicko.relay.metrics import RelayMetrics
from quicko.relay.router import Router
from quicko.relay.settings import default_public_urls

try:  # the opt-in C hot path (scripts/compile.sh; docs/relay.md "Compiled hot path")
    from quicko.relay import native as _native
except ImportError:  # not built: the Python path, the default
    _native = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from quicko.relay.cluster.link import ClusterLink

__all__ = [
    "CLOSE_GRACE_S",
    "TICK_S",
    "RelayServer",
    "RouterLike",
    "now_ms",
    "release_read_buffer",
]

TICK_S: Final = 0.1
"""Longest time between two checks of the router's next deadline, in seconds."""

CLOSE_GRACE_S: Final = 2.0
"""How long a closed connection may take to answer the close frame before it is dropped."""

SHUTDOWN_GRACE_S: Final = 5.0
"""How long a graceful shutdown waits for clients to go before dropping them."""

READ_BUFFER_BYTES: Final = 4096
"""Initial read buffer of a connection (picows grows it as large frames arrive)."""

RELEASE_AFTER_BYTES: Final = 16 * 1024
"""A frame or a read larger than this gives the free part of the read buffer back to the OS.

picows doubles a connection's read buffer until a frame fits and never shrinks it, so one
131 KiB frame would leave about 137 KiB resident for the connection's life (issue 9 item 3).
After such a frame (or a read that large), the free tail of the buffer, past its first
:data:`READ_BUFFER_BYTES`, is handed back with ``madvise(MADV_DONTNEED)``: the allocation
stays (picows keeps its pointer), but its untouched pages cost no memory until a later large
frame writes to them again (see :func:`release_read_buffer`)."""

PRELOGIN_MESSAGE_BYTES: Final = 1024
"""Largest WebSocket message accepted before a valid Hello (a Hello is well under 1 KiB)."""

PRELOGIN_STREAM_BYTES: Final = 4096
"""Bytes a connection may send after the upgrade and before a valid Hello, in all frames.

Checked after each read, so that a frame whose header announces more than a Hello is refused
after at most this many bytes (plus one read), long before it could be buffered in full."""

#: The value of ``_Connection.parts`` until the connection has proved an identity: the fast
#: path (``parts is None``) is then never taken, at no cost to it after login.
_PRELOGIN: Final[list[bytes]] = []
_ACKED: Final = bytes((int(MessageType.HELLO_ACK),))
_BINARY: Final = WSMsgType.BINARY
_TEXT: Final = WSMsgType.TEXT
_CONTINUATION: Final = WSMsgType.CONTINUATION
_CLOSE: Final = WSMsgType.CLOSE
_WS_PATHS: Final = frozenset({"/", "/ws"})
# WebSocket close codes (RFC 6455 §7.4.1) the listener itself sends.
_CLOSE_OK: Final = 1000
_CLOSE_GOING_AWAY: Final = 1001
_CLOSE_PROTOCOL_ERROR: Final = 1002
_CLOSE_TOO_SLOW: Final = 1008
_CLOSE_TOO_BIG: Final = 1009
_CLOSE_INTERNAL_ERROR: Final = 1011
_MAX_CLOSE_REASON_BYTES: Final = 123
_TOO_SLOW_FRAME: Final = error_frame(ErrorCode.TOO_SLOW, "reading too slowly")
_INTERNAL_FRAME: Final = error_frame(ErrorCode.INTERNAL, "internal error")
#: A listener-side logger adapter stops picows from creating one child logger per connection.
_PICOWS_LOGGER: Final = logging.LoggerAdapter(logging.getLogger("picows.server"), {})


def now_ms() -> int:
    """The relay's clock: milliseconds since the epoch."""
    return time.time_ns() // 1_000_000


class RouterLike(Protocol):
    """What the listener needs of a router (:class:`quicko.relay.router.Router` has it)."""

    @property
    def metrics(self) -> RelayMetrics:
        """The router's counters and gauges."""

    def open(self, conn: int, now_ms: int, source: str = "") -> list[Action]:
        """A connection opened from the source address key *source*."""

    def set_public_urls(self, urls: Iterable[str]) -> None:
        """The URLs clients must sign for, once the bound port is known."""

    def receive(self, conn: int, data: bytes, now_ms: int) -> list[Action]:
        """A binary message arrived."""

    def receive_fast(self, conn: int, data: bytes, now_ms: int) -> list[Action] | tuple[int, bytes]:
        """A binary message arrived; ``(target, ack)`` means Send(target, data), Send(conn, ack)."""

    def receive_text(self, conn: int, now_ms: int) -> list[Action]:
        """A text message arrived."""

    def closed(self, conn: int, now_ms: int) -> list[Action]:
        """A connection is gone."""

    def writing_paused(self, conn: int) -> None:
        """A connection's unsent bytes passed ``send_queue_bytes``."""

    def writing_resumed(self, conn: int, now_ms: int) -> list[Action]:
        """A connection's unsent bytes fell below the low-water mark."""

    def handle_timeout(self, now_ms: int) -> list[Action]:
        """Time passed."""

    def next_deadline(self) -> int | None:
        """When ``handle_timeout`` should next be called, or ``None``."""

    def shutdown(self, now_ms: int) -> list[Action]:
        """The relay is stopping."""

    def health(self) -> dict[str, int]:
        """Counts for ``/health``."""


class _Connection(WSListener):
    """One WebSocket connection: its id, source key and transport.

    Only :attr:`RelayServer._conns` refers to it, so it never forms a reference cycle.
    """

    __slots__ = (
        "conn_id",
        "outgoing",
        "parts",
        "parts_size",
        "prelogin_bytes",
        "release",
        "resume_armed",
        "resume_at",
        "server",
        "source",
        "transport",
        "write_blocked",
    )

    def __init__(self, server: RelayServer, source: str) -> None:
        self.server = server
        self.source = source
        self.conn_id = 0
        self.transport: WSTransport | None = None
        #: Fragments of a message being reassembled; :data:`_PRELOGIN` until a valid Hello.
        self.parts: list[bytes] | None = _PRELOGIN
        self.parts_size = 0
        #: Bytes read since the upgrade while :attr:`parts` is :data:`_PRELOGIN`.
        self.prelogin_bytes = 0
        #: A large frame arrived: release the read buffer's free part after this read.
        self.release = False
        #: WebSocket frames (header and payload, in order) waiting for the next flush.
        self.outgoing: list[bytes] | None = None
        #: The transport's unsent bytes passed ``send_queue_bytes`` (it called pause_writing).
        self.write_blocked = False
        #: Reading is paused until this time (ms), for the rate limit; 0 when not paused.
        self.resume_at = 0
        #: A timer will resume reading (no handle is kept: it would make a reference cycle).
        self.resume_armed = False

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport
        try:
            self.server._opened(self, transport)
        except Exception as exc:  # a bug must cost this connection only
            self.server._internal_error(self, exc)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        try:  # free in CPython 3.11 unless raised
            if frame.msg_type is _BINARY and frame.fin and self.parts is None:
                if not transport.is_close_frame_sent:
                    self.server._receive(self, frame.get_payload_as_bytes())
            else:
                self.server._other_frame(self, transport, frame)
        except Exception as exc:  # a bug must cost this connection only
            self.server._internal_error(self, exc)

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self.server._disconnected(self)

    def pause_writing(self) -> None:
        self.server._write_paused(self)

    def resume_writing(self) -> None:
        self.server._write_resumed(self)


class _Accept:
    """The upgrade handler of one TCP connection, told the peer's address when it connects."""

    __slots__ = ("peer", "server")

    def __init__(self, server: RelayServer) -> None:
        self.server = server
        self.peer: str = ""

    def __call__(self, request: WSUpgradeRequest) -> _Connection | WSUpgradeResponseWithListener:
        peer, self.peer = self.peer, ""
        return self.server._upgrade(request, peer)


class _Protocol(WSProtocol):  # type: ignore[misc]  # picows has no type stubs for subclassing
    """picows' protocol, remembering the peer address for the upgrade handler.

    picows calls the upgrade handler with the HTTP request only; the per-address limits need
    the source address, which only the transport knows, so it is handed over here. It also
    counts every TCP socket, upgraded or not, so that a flood of connections that never send
    an upgrade cannot use up the relay's file descriptors (:meth:`Admission.tcp_opened`).
    """

    __slots__ = ("_accept", "_source")
    _accept: _Accept
    #: The source key counted for this socket, or ``None`` when it was dropped on accept.
    _source: str | None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peer = transport.get_extra_info("peername")
        self._accept.peer = peer[0] if isinstance(peer, tuple) else ""
        source = source_key(self._accept.peer)
        server = self._accept.server
        if not server.admission.tcp_opened(source):
            server.io.refused_tcp += 1
            self._source = None
            transport.abort()  # type: ignore[attr-defined]  # a TCP transport
            return
        server.io.tcp_open = server.admission.tcp_open
        self._source = source
        super().connection_made(transport)

    def buffer_updated(self, nbytes: int) -> None:
        # One clock read per read, for all the frames in it (the hot path reads none).
        self._accept.server.read_ms = time.time_ns() // 1_000_000
        super().buffer_updated(nbytes)
        listener = self.listener
        if listener is None:
            return
        if listener.parts is _PRELOGIN:
            listener.prelogin_bytes += nbytes
            if listener.prelogin_bytes > PRELOGIN_STREAM_BYTES:
                self._accept.server._prelogin_overflow(listener)
        elif listener.release or nbytes > RELEASE_AFTER_BYTES:
            # The frames of this read are handled: the buffer's free part is all garbage.
            listener.release = False
            release_read_buffer(self)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._source is None:
            return  # dropped on accept: picows never saw it
        server = self._accept.server
        server.admission.tcp_closed(self._source)
        server.io.tcp_open = server.admission.tcp_open
        super().connection_lost(exc)


class RelayServer:
    """The relay's listener: binds, upgrades, feeds the router and executes its actions.

    Use ``await start()``, then ``await shutdown()``; :attr:`port` is the bound port (useful
    with port 0). Tests may pass their own ``router``; by default a
    :class:`quicko.relay.router.Router` is made from ``config``.
    """

    def __init__(
        self,
        config: RelayConfig,
        *,
        router: RouterLike | None = None,
        ssl_context: ssl.SSLContext | None = None,
        node_id: str | None = None,
        cluster: ClusterLink | None = None,
        reuse_port: bool = False,
        native: bool | None = None,
    ) -> None:
        """Prepare a relay; nothing is bound until :meth:`start`.

        With *cluster* (:mod:`quicko.relay.cluster`), the router keeps its state in the
        cluster's mirror stores, frames for addresses on other nodes go through the link, and
        the node id is the cluster's. *reuse_port* lets several processes share the port
        (SO_REUSEPORT, ``--workers``). *native* chooses the C hot path
        (:mod:`quicko.relay.native`): by default it runs when it is built and the router
        qualifies (:meth:`~quicko.relay.router.Router.hot_tables`); ``False`` never uses it;
        ``True`` requires it (:class:`RuntimeError` if it cannot run).
        """
        self.config = config
        self._cluster = cluster
        self._reuse_port = reuse_port
        if cluster is not None:
            node_id = cluster.node_id
        self.node_id = node_id or config.node_id or secrets.token_hex(4)
        self.router: RouterLike = router if router is not None else _default_router(self)
        self._conns: dict[int, _Connection] = {}
        #: The C forward of the common MESSAGE, when it runs (see :attr:`native`).
        self._native_path: _native.NativePath | None = None
        if native is not False:
            if _native is not None and type(self.router) is Router:
                # ValueError: its stores are not the in-memory ones (Router.hot_tables).
                with contextlib.suppress(ValueError):
                    self._native_path = _native.NativePath(self, self.router)
            if native and self._native_path is None:
                raise RuntimeError(
                    "the native hot path is not built (scripts/compile.sh) or the router "
                    "does not qualify (Router.hot_tables)"
                )
        self.ssl_context = ssl_context
        self.io = IOStats()
        self.admission = Admission(
            max_connections=config.max_connections,
            max_per_source=config.max_connections_per_ip,
            connect_rate=config.connect_rate,
        )
        #: The time of the read being handled (ms): the clock of every frame in it.
        self.read_ms = now_ms()
        self._next_id = 0
        #: ``io.accepted`` at this relay's last freeze (:meth:`GcPauses.freeze`).
        self._accepted_frozen = 0
        self._max_message = HEADER_SIZE + config.max_payload
        self._hard_queue_bytes = config.effective_send_queue_hard_bytes
        self._slow: list[_Connection] = []
        self._dirty: list[_Connection] = []
        self._server: asyncio.Server | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._started = time.monotonic()
        self._stopping = False
        self._all_gone = asyncio.Event()
        self._exporter = MetricsExporter(
            lambda: self.router.metrics,
            self.io,
            self.uptime_s,
            extra=None if cluster is None else cluster.stats.metrics,
        )

    # ------------------------------------------------------------------ lifecycle

    @property
    def port(self) -> int:
        """The bound TCP port (after :meth:`start`)."""
        if self._server is None or not self._server.sockets:
            raise RuntimeError("the relay is not listening")
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @property
    def native(self) -> bool:
        """Whether this server forwards the common MESSAGE in C (:mod:`quicko.relay.native`)."""
        return self._native_path is not None

    @property
    def connections(self) -> int:
        """Open WebSocket connections."""
        return self.io.open_connections

    def uptime_s(self) -> float:
        """Seconds since this server object was made."""
        return time.monotonic() - self._started

    async def start(self) -> None:
        """Bind ``config.host:config.port`` and start accepting.

        Raises:
            OSError: the address cannot be bound.
        """
        loop = asyncio.get_running_loop()
        self._loop = loop
        handshake_s = self.config.handshake_timeout_s
        if self._cluster is not None:
            await self._cluster.start()

        def protocol_factory() -> _Protocol:
            accept = _Accept(self)
            # The argument list of picows.picows.WSProtocol (v2.3), as ws_create_server builds
            # it, with auto-ping off: clients ping at the protocol level (docs/protocol.md).
            protocol = _Protocol(
                None, None, False, accept, _PICOWS_LOGGER, True, handshake_s,
                False, 20, 20, 1, True, self._max_message, None, READ_BUFFER_BYTES,
            )  # fmt: skip
            protocol._accept = accept
            return protocol

        self._server = await loop.create_server(
            protocol_factory,
            self.config.host,
            self.config.port,
            ssl=self.ssl_context,
            ssl_handshake_timeout=handshake_s if self.ssl_context is not None else None,
            backlog=1024,
            reuse_port=self._reuse_port or None,
        )
        if not self.config.public_urls:  # the bound address's URLs (docs/protocol.md §4.1)
            tls = self.ssl_context is not None
            self.router.set_public_urls(default_public_urls(self.config.host, self.port, tls=tls))
        self._started = time.monotonic()
        self._arm(TICK_S)

    async def shutdown(self, grace_s: float = SHUTDOWN_GRACE_S) -> None:
        """Stop accepting, tell every client (SHUTTING_DOWN, close 1001), and wait them out.

        Clients still connected after ``grace_s`` seconds are dropped. Idempotent.
        """
        if self._stopping:
            return
        self._stopping = True
        if self._server is not None:
            self._server.close()
        if self._timer is not None:
            self._timer.cancel()
        try:
            self._run(self.router.shutdown(now_ms()))
        except Exception as exc:  # still close every connection below
            log_event("internal_error", logging.ERROR, exception=type(exc).__name__)
        for conn in list(self._conns.values()):
            self._close_conn(conn, _CLOSE_GOING_AWAY, "server shutting down")
        if self.io.open_connections:
            try:
                await asyncio.wait_for(self._all_gone.wait(), grace_s)
            except TimeoutError:
                log_event("shutdown_timeout", logging.WARNING, remaining=self.io.open_connections)
        if self._cluster is not None:
            await self._cluster.stop()

    def _fence(self) -> None:
        """The cluster lost this node's lease: drop every connection (they reconnect)."""
        try:
            self._run(self.router.shutdown(now_ms()))
        except Exception as exc:  # still close every connection below
            log_event("internal_error", logging.ERROR, exception=type(exc).__name__)
        for conn in list(self._conns.values()):
            self._close_conn(conn, _CLOSE_GOING_AWAY, "cluster lease lost")

    # ------------------------------------------------------------------ upgrade and HTTP

    def _upgrade(
        self, request: WSUpgradeRequest, peer: str
    ) -> _Connection | WSUpgradeResponseWithListener:
        path = request.path.split(b"?", 1)[0].decode("latin-1")
        if path in _WS_PATHS:
            if self._stopping:
                return _refusal(503, b"shutting down\n")
            if self._cluster is not None and not self._cluster.healthy:
                return _refusal(503, b"cluster state unreachable, try another node\n")
            source = source_key(peer)
            verdict = self.admission.admit(source, time.monotonic())
            if verdict is Verdict.ADMIT:
                return self._listener(source)
            if verdict is Verdict.FULL:
                self.io.refused_full += 1
                return _refusal(503, b"relay full, try again later\n")
            if verdict is Verdict.TOO_MANY:
                self.io.refused_per_ip += 1
            else:
                self.io.refused_rate += 1
            return _refusal(429, b"too many connections from your address\n")
        if path == "/health":
            self.io.http_requests += 1
            body = health_body(
                node_id=self.node_id,
                uptime_s=self.uptime_s(),
                io=self.io,
                router_health=self.router.health(),
                shutting_down=self._stopping,
                extra=self._health_extra(),
            )
            return _response(body, HEALTH_CONTENT_TYPE)
        if path == "/metrics":
            self.io.http_requests += 1
            return _response(self._exporter.render(), METRICS_CONTENT_TYPE)
        return _refusal(404, b"not found: the WebSocket is at /ws\n")

    def _listener(self, source: str) -> _Connection:
        """A new connection's listener: the native one when the C hot path runs."""
        path = self._native_path
        if path is not None:  # the same attributes and callbacks, MESSAGEs forwarded in C
            return cast("_Connection", _native.NativeConnection(self, source, _PRELOGIN, path))
        return _Connection(self, source)

    def _health_extra(self) -> dict[str, object]:
        """What ``/health`` adds to the router's counts: the collector's pauses, the cluster."""
        collector = GC_PAUSES.as_dict()
        # Connections accepted since this relay's last freeze (all of them when it does not
        # freeze): 0 once the timer has frozen every connection opened so far.
        collector["accepted_since_freeze"] = self.io.accepted - self._accepted_frozen
        extra: dict[str, object] = {"gc": collector}
        if self._cluster is not None:
            extra["cluster"] = self._cluster.stats.health()
        return extra

    # ------------------------------------------------------------------ connection events

    def _opened(self, conn: _Connection, transport: WSTransport) -> None:
        self._next_id += 1
        conn.conn_id = self._next_id
        self._conns[conn.conn_id] = conn
        self.admission.opened(conn.source)
        self.io.open_connections += 1
        self.io.accepted += 1
        self._all_gone.clear()
        underlying = transport.underlying_transport
        # Past this many unsent bytes the transport calls pause_writing: routed frames then
        # wait in the away buffer until it drains below a quarter of it (resume_writing).
        underlying.set_write_buffer_limits(high=self.config.send_queue_bytes)
        self._run(self.router.open(conn.conn_id, now_ms(), conn.source))

    def _receive(self, conn: _Connection, data: bytes) -> None:
        """The hot path: one binary message from ``conn``.

        With the native path (:mod:`quicko.relay.native`), its listener has forwarded the common
        MESSAGE in C already, as this method and ``Router.receive_fast`` would have (keep them
        in step: tests/unit/relay/test_relay_native_equivalence.py), and calls this for the rest.
        """
        if len(data) > RELEASE_AFTER_BYTES:
            conn.release = True
        conns = self._conns
        result = self.router.receive_fast(conn.conn_id, data, self.read_ms)
        if type(result) is tuple:  # forwarded to one recipient: the frame there, an Ack back
            target_id, ack = result
            target = conns.get(target_id)
            if target is not None:  # _queue(target, data), inlined
                size = len(data)
                header = _HEADERS.get(size) or _binary_header(size)
                outgoing = target.outgoing
                if outgoing is None:
                    target.outgoing = [header, data]
                    self._dirty.append(target)
                    if len(self._dirty) == 1 and self._loop is not None:
                        self._loop.call_soon(self._flush)
                else:
                    outgoing += (header, data)
            elif target_id < 0 and self._cluster is not None:  # held on another node
                self._cluster.send(target_id, data)
            if conns.get(conn.conn_id) is conn:
                self._queue(conn, ack)
            return
        assert isinstance(result, list)  # the other kind of result
        for action in result:
            if type(action) is Send:
                target = conns.get(action.conn)
                if target is not None:
                    self._queue(target, action.data)
                elif action.conn < 0 and self._cluster is not None:  # held on another node
                    self._cluster.send(action.conn, action.data)
            else:
                self._run([action])

    # ------------------------------------------------------------------ coalesced writes

    def _queue(self, conn: _Connection, data: bytes) -> None:
        """Queue one binary message for ``conn``; all queues are written after this batch.

        Sending each frame with its own ``send()`` costs one system call per frame, which
        measured as 88% of the relay's time under load (docs/performance.md). Frames are
        instead collected while the event loop handles the reads that are ready, and written
        with one call per connection right after them (a ``call_soon`` callback runs before the
        loop polls again), so no frame waits for more than the current batch. A server's
        frames are not masked (RFC 6455 §5.1), so the header is two to ten bytes we can write.
        """
        size = len(data)
        header = _HEADERS.get(size) or _binary_header(size)
        outgoing = conn.outgoing
        if outgoing is None:
            conn.outgoing = [header, data]
            dirty = self._dirty
            dirty.append(conn)
            if len(dirty) == 1 and self._loop is not None:
                self._loop.call_soon(self._flush)
        else:
            outgoing += (header, data)

    def _flush(self) -> None:
        """Write every connection's queued frames, one write per connection.

        Each connection is flushed on its own: a write that fails (a socket the peer has just
        reset, whose loss the loop has not reported yet) costs that connection only, which is
        dropped; every other connection of the batch is still written (issue 10 item 2).
        """
        dirty, self._dirty = self._dirty, []
        for conn in dirty:
            self._flush_conn(conn)

    def _flush_conn(self, conn: _Connection) -> None:
        """Write ``conn``'s queued frames now (before anything else is written to it).

        Never raises: a failed write is counted and drops ``conn`` (see :meth:`_write_failed`).
        """
        outgoing, conn.outgoing = conn.outgoing, None
        transport = conn.transport
        if outgoing and transport is not None and not transport.is_close_frame_sent:
            try:  # free in CPython 3.11 unless raised
                transport.underlying_transport.write(b"".join(outgoing))
            except Exception:  # closed under us (RuntimeError), or a socket error
                self._write_failed(conn)
                return
            if (
                conn.write_blocked
                and transport.underlying_transport.get_write_buffer_size() > self._hard_queue_bytes
            ):
                self._too_slow(conn)

    def _write_failed(self, conn: _Connection) -> None:
        """A write to ``conn`` failed: its socket is gone; forget it, and nobody else."""
        self.io.write_failures += 1
        if self._conns.pop(conn.conn_id, None) is None:
            return
        transport = conn.transport
        if transport is not None and not transport.is_disconnected:
            transport.underlying_transport.abort()
        self._forget(conn)

    def _other_frame(self, conn: _Connection, transport: WSTransport, frame: WSFrame) -> None:
        """Everything but a whole binary message: fragments, text, close, pong."""
        kind = frame.msg_type
        if kind is _CLOSE:
            if not transport.is_close_frame_sent:
                # Echo the client's code (read from the payload: picows' enum has no 4xxx codes).
                payload = frame.get_payload_as_bytes()
                code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else _CLOSE_OK
                _send_close(transport, code, b"")
            transport.disconnect()
            return
        if transport.is_close_frame_sent or conn.conn_id not in self._conns:
            return
        if conn.parts is _PRELOGIN:
            self._prelogin_frame(conn, frame)
        elif kind is _TEXT:
            self._run(self.router.receive_text(conn.conn_id, now_ms()))
        elif kind is _BINARY and conn.parts is None:  # first fragment of a message
            conn.parts = [frame.get_payload_as_bytes()]
            conn.parts_size = frame.payload_size
        elif kind is _CONTINUATION and conn.parts is not None:
            conn.parts.append(frame.get_payload_as_bytes())
            conn.parts_size += frame.payload_size
            if conn.parts_size > self._max_message:
                self.io.oversized += 1
                self._close_conn(conn, _CLOSE_TOO_BIG, "message too big")
            elif frame.fin:
                data, conn.parts, conn.parts_size = b"".join(conn.parts), None, 0
                self._receive(conn, data)
        elif kind is _BINARY or kind is _CONTINUATION:
            self._close_conn(conn, _CLOSE_PROTOCOL_ERROR, "bad fragmentation")

    def _prelogin_frame(self, conn: _Connection, frame: WSFrame) -> None:
        """A frame before a valid Hello: one small, whole binary message, or the connection ends.

        A fragment, or a message over :data:`PRELOGIN_MESSAGE_BYTES`, closes the connection
        (1009): before login nothing larger than a Hello is accepted (issue 9 item 3). The
        HelloAck the router answers a valid Hello with ends this state.
        """
        kind = frame.msg_type
        if kind is _TEXT:
            self._run(self.router.receive_text(conn.conn_id, now_ms()))
            return
        if kind is not _BINARY or not frame.fin or frame.payload_size > PRELOGIN_MESSAGE_BYTES:
            self.io.prelogin_refused += 1
            self._close_conn(conn, _CLOSE_TOO_BIG, "send a Hello first")
            return
        conn_id = conn.conn_id
        actions = self.router.receive(conn_id, frame.get_payload_as_bytes(), now_ms())
        for action in actions:
            if type(action) is Send and action.conn == conn_id and action.data[1:2] == _ACKED:
                conn.parts = None  # logged in: the fast path from now on
        self._run(actions)

    def _prelogin_overflow(self, conn: _Connection) -> None:
        """``conn`` sent more than a Hello's worth of bytes without logging in: drop it."""
        if conn.conn_id not in self._conns:
            return
        self.io.prelogin_refused += 1
        self._close_conn(conn, _CLOSE_TOO_BIG, "send a Hello first")
        transport = conn.transport
        if transport is not None:
            transport.underlying_transport.abort()  # stop reading the rest at once

    def _disconnected(self, conn: _Connection) -> None:
        conn.outgoing = None  # nothing more can be written; a pending flush skips it
        self.admission.closed(conn.source)
        self.io.open_connections -= 1
        if not self.io.open_connections:
            self._all_gone.set()
        if self._conns.pop(conn.conn_id, None) is not None:
            self._forget(conn)

    def _write_paused(self, conn: _Connection) -> None:
        """``conn``'s unsent bytes passed ``send_queue_bytes``: the router holds its frames."""
        conn.write_blocked = True
        if conn.conn_id in self._conns:
            self.router.writing_paused(conn.conn_id)

    def _write_resumed(self, conn: _Connection) -> None:
        """``conn`` drained: the router delivers what it held meanwhile."""
        conn.write_blocked = False
        if self._conns.get(conn.conn_id) is conn:
            self._run(self.router.writing_resumed(conn.conn_id, now_ms()))

    def _pause_reading(self, conn: _Connection, until_ms: int) -> None:
        """Stop reading ``conn``'s socket until ``until_ms`` (it is over its rate)."""
        conn.resume_at = max(conn.resume_at, until_ms)
        transport = conn.transport
        if conn.resume_armed or transport is None or self._loop is None:
            return
        transport.underlying_transport.pause_reading()
        conn.resume_armed = True
        self._loop.call_later(max(0.001, (conn.resume_at - now_ms()) / 1e3), self._resume, conn)

    def _resume(self, conn: _Connection) -> None:
        """The pause of ``conn`` may be over: read again, or wait for its later end."""
        conn.resume_armed = False
        if self._conns.get(conn.conn_id) is not conn or self._loop is None:
            return  # closed meanwhile: nothing more to read
        left = conn.resume_at - now_ms()
        if left > 0:
            conn.resume_armed = True
            self._loop.call_later(max(0.001, left / 1e3), self._resume, conn)
            return
        conn.resume_at = 0
        transport = conn.transport
        if transport is not None and not transport.is_disconnected:
            transport.underlying_transport.resume_reading()

    def _too_slow(self, conn: _Connection) -> None:
        """``conn``'s unsent bytes passed the hard bound: drop it (soon, outside the send loop)."""
        if self._conns.pop(conn.conn_id, None) is None:
            return
        self.io.slow_disconnects += 1
        self._slow.append(conn)
        if len(self._slow) == 1 and self._loop is not None:
            self._loop.call_soon(self._drop_slow)

    def _drop_slow(self) -> None:
        while self._slow:
            conn = self._slow.pop()
            conn.outgoing = None  # it is too far behind already: queued frames are dropped
            transport = conn.transport
            if transport is not None and not transport.is_disconnected:
                transport.send(_BINARY, _TOO_SLOW_FRAME)  # best effort: the buffer is full
                _send_close(transport, _CLOSE_TOO_SLOW, b"too slow")
                transport.underlying_transport.abort()
            self._forget(conn)

    # ------------------------------------------------------------------ actions and timer

    def _run(self, actions: list[Action]) -> None:
        """Execute the router's actions in order."""
        conns = self._conns
        for action in actions:
            target = conns.get(action.conn)
            if target is None:
                if action.conn < 0 and self._cluster is not None:  # held on another node
                    if type(action) is Send:
                        self._cluster.send(action.conn, action.data)
                    elif type(action) is Close:
                        self._cluster.close(action.conn)
                continue
            if type(action) is Send:
                self._queue(target, action.data)
            elif type(action) is Close:
                self._close_conn(target, action.code, action.reason)
            elif type(action) is PauseReading:
                self._pause_reading(target, action.until_ms)

    def _close_conn(self, conn: _Connection, code: int, reason: str) -> None:
        """Send a close frame, forget the connection, and tell the router it is gone."""
        if self._conns.pop(conn.conn_id, None) is None:
            return
        self._flush_conn(conn)  # frames queued before the close go out before it
        transport = conn.transport
        if conn.resume_at and transport is not None and not transport.is_disconnected:
            conn.resume_at = 0  # read again, to see the client's answer to the close frame
            transport.underlying_transport.resume_reading()
        if transport is not None and not transport.is_close_frame_sent:
            _send_close(transport, code, reason.encode()[:_MAX_CLOSE_REASON_BYTES])
            # The client answers the close frame (then _other_frame disconnects); if it does
            # not, the connection is dropped after a grace period.
            if self._loop is not None:
                self._loop.call_later(CLOSE_GRACE_S, transport.underlying_transport.abort)
        self._forget(conn)

    def _internal_error(self, conn: _Connection, exc: Exception) -> None:
        """Handling ``conn`` raised (a bug): log the kind, close it with 1011, carry on."""
        self.io.internal_errors += 1
        log_event("internal_error", logging.ERROR, exception=type(exc).__name__)
        if self._conns.pop(conn.conn_id, None) is None:
            return
        self._flush_conn(conn)
        transport = conn.transport
        if transport is not None and not transport.is_close_frame_sent:
            transport.send(_BINARY, _INTERNAL_FRAME)
            _send_close(transport, _CLOSE_INTERNAL_ERROR, b"internal error")
            transport.disconnect()
        self._forget(conn)

    def _forget(self, conn: _Connection) -> None:
        """Tell the router that ``conn`` is gone (it is no longer in :attr:`_conns`)."""
        try:
            self._run(self.router.closed(conn.conn_id, now_ms()))
        except Exception as exc:  # nothing left to close; keep serving everyone else
            self.io.internal_errors += 1
            log_event("internal_error", logging.ERROR, exception=type(exc).__name__)

    def _arm(self, delay_s: float) -> None:
        if self._loop is not None and not self._stopping:
            self._timer = self._loop.call_later(delay_s, self._tick)

    def _tick(self) -> None:
        """Run the router's timeouts when due; re-arm for the next deadline or the next tick."""
        now = now_ms()
        deadline = self.router.next_deadline()
        if deadline is not None and deadline <= now:
            try:
                self._run(self.router.handle_timeout(now))
            except Exception as exc:  # never let the timer die: log, and try again next tick
                self.io.internal_errors += 1
                log_event("internal_error", logging.ERROR, exception=type(exc).__name__)
            deadline = self.router.next_deadline()
        self.admission.prune(time.monotonic())
        accepted = self.io.accepted
        if accepted != self._accepted_frozen and GC_PAUSES.freezing and self._cluster is None:
            # Connections were opened since the last tick's freeze: their survivors are
            # long-lived; freeze them, so that no collection scans them again (tune_gc).
            # Not on a cluster node (GcPauses: its Redis client's work in flight).
            self._accepted_frozen = accepted
            GC_PAUSES.freeze()
        delay = TICK_S if deadline is None else min(TICK_S, max(0.001, (deadline - now_ms()) / 1e3))
        self._arm(delay)


def _load_madvise() -> Callable[[int, int, int], int] | None:
    """The C library's ``madvise``, or ``None`` where there is none to call (not Linux, no libc)."""
    if sys.platform != "linux" or not hasattr(mmap, "MADV_DONTNEED"):
        return None
    try:
        madvise = ctypes.CDLL(None, use_errno=True).madvise
    except (OSError, AttributeError):
        return None
    madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
    madvise.restype = ctypes.c_int
    result: Callable[[int, int, int], int] = madvise
    return result


_MADVISE: Final = _load_madvise()
_PAGE_BYTES: Final = mmap.PAGESIZE


def release_read_buffer(protocol: WSProtocol) -> int:
    """Give the free part of *protocol*'s read buffer, past its first pages, back to the OS.

    picows lends the free tail of its read buffer to the event loop's reads as a memoryview
    (``get_buffer``); that part holds no data yet, so its whole pages can be dropped with
    ``madvise(MADV_DONTNEED)``: the mapping stays valid and reads as zeros, and a page costs
    memory again only when a later read writes into it. The first :data:`READ_BUFFER_BYTES`
    stay, so the usual small reads never fault. Returns the bytes released (0 where
    ``madvise`` is not available, or when there was nothing to release).
    """
    if _MADVISE is None:
        return 0
    view = protocol.get_buffer(-1)
    size = len(view)
    if size < READ_BUFFER_BYTES + 2 * _PAGE_BYTES:
        view.release()
        return 0
    window = (ctypes.c_char * size).from_buffer(view)
    start = ctypes.addressof(window)
    del window
    view.release()
    first = -(-(start + READ_BUFFER_BYTES) // _PAGE_BYTES) * _PAGE_BYTES
    last = (start + size) // _PAGE_BYTES * _PAGE_BYTES
    if last <= first or _MADVISE(first, last - first, mmap.MADV_DONTNEED) != 0:
        return 0
    return last - first


def _binary_header(length: int) -> bytes:
    """The header of an unmasked, final, binary WebSocket frame of ``length`` bytes.

    Headers of frames under 64 KiB are kept in :data:`_HEADERS` once made (at most 65,536
    of them, about 2.4 MB in the worst case; clients pad their frames to a few sizes).
    """
    if length < 126:
        header = bytes((0x82, length))
    elif length < 65536:
        header = b"\x82\x7e" + length.to_bytes(2, "big")
    else:
        return b"\x82\x7f" + length.to_bytes(8, "big")
    _HEADERS[length] = header
    return header


#: WebSocket frame headers by payload length (under 64 KiB), made on first use.
_HEADERS: Final[dict[int, bytes]] = {}


def _send_close(transport: WSTransport, code: int, reason: bytes) -> None:
    """Send a close frame with any code (picows takes plain ints, such as 4000, at run time)."""
    transport.send_close(code, reason)  # type: ignore[arg-type]  # stub says WSCloseCode only


def _response(body: bytes, content_type: str) -> WSUpgradeResponseWithListener:
    response = WSUpgradeResponse.create_ok_response(
        body, {"Content-Type": content_type, "Cache-Control": "no-store"}
    )
    return WSUpgradeResponseWithListener(response, None)


def _refusal(status: int, body: bytes) -> WSUpgradeResponseWithListener:
    headers = {"Content-Type": "text/plain; charset=utf-8"}
    if status in {429, 503}:
        headers["Retry-After"] = "1"
    return WSUpgradeResponseWithListener(
        WSUpgradeResponse.create_error_response(status, body, headers), None
    )


def _default_router(server: RelayServer) -> RouterLike:
    cluster = server._cluster
    if cluster is None:
        return Router(server.config, node_id=server.node_id, rng=secrets.token_bytes)
    from quicko.relay.cluster.claims import ClaimingRouter  # noqa: PLC0415 (cluster mode only)

    router = ClaimingRouter(
        server.config,
        node_id=server.node_id,
        rng=secrets.token_bytes,
        state=cluster.state.relay_state(),
    )
    cluster.attach(router, server._run, server._fence)
    return router
