"""The connection supervisor: one authenticated WebSocket connection to a relay, kept alive.

:class:`Connection` runs one task that connects (``websockets``' asyncio client), answers the
relay's Challenge with a signed Hello (docs/protocol.md §4.1; relay spec §2-3), and then, while
the relay holds the connection, delivers every frame it sends as a
:class:`~quicko.client.events.MessageReceived` event and pings it every ``ping_interval``
(spec §17), measuring the round-trip latency. When the connection drops (network failure,
relay restart, an unanswered Ping, a relay that breaks the protocol), it reports why and
reconnects after an exponential back-off with jitter (:class:`~quicko.client.backoff.Backoff`),
until :meth:`Connection.close` is called, the configured number of retries is spent, or another
connection proves the same identity (``REPLACED``; by default the supervisor then stops rather
than fight the other connection for the address).

Nothing the relay sends can crash the supervisor: a frame that does not decode, a text message,
or a frame out of place is reported and the connection is re-established. Two ways to send:
:meth:`Connection.post` hands a frame to the connection's own writer task, which paces it
(:mod:`quicko.client.pacing`) and never makes the caller wait (the reader never waits on the
pacer, issue 9); :meth:`Connection.send` awaits the pacer and the write. Neither keeps a frame
across connections: what a link did not write dies with it, and the upper layer (the sessions'
ledgers) sends again what matters after the reconnect. After every (re)connection the
``on_connected`` hook runs, if given.

**Hop-by-hop acknowledgement and fast dead-link detection** (docs/protocol.md §4.4): every frame
read after the HelloAck is counted (:class:`~quicko.client.hop.HopCounter`) and acknowledged
with a coalesced ``Received(count)``, so that the relay re-delivers on our next connection what
a dead link swallowed; a Message the relay has not acknowledged for ``probe_after`` seconds
makes the heartbeat ping at once (:class:`~quicko.client.heartbeat.Heartbeat`), so a dead link
is noticed within ``probe_after + ping_timeout`` seconds while data is outstanding.

The steps of one connection (open, authenticate, read and screen frames, explain the end) are
in :mod:`quicko.client.link`; the heartbeat's bookkeeping is :mod:`quicko.client.heartbeat`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import secrets
import ssl
import struct
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from types import TracebackType
from typing import Final

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

try:
    from websockets.speedups import apply_mask
except ImportError:  # pragma: no cover (websockets built without its C extension)
    from websockets.utils import apply_mask

from quicko.client.backoff import (
    DEFAULT_FACTOR,
    DEFAULT_INITIAL_S,
    DEFAULT_MAXIMUM_S,
    Backoff,
    Jitter,
)
from quicko.client.events import (
    AttemptFailed,
    Connected,
    Disconnected,
    DisconnectReason,
    MessageReceived,
    PingReceived,
    Reconnecting,
    ReconnectionFailed,
    TransportEvent,
)
from quicko.client.frames import encode_message
from quicko.client.heartbeat import (
    DEFAULT_PING_INTERVAL_S,
    DEFAULT_PING_TIMEOUT_S,
    DEFAULT_PROBE_AFTER_S,
    Heartbeat,
)
from quicko.client.hop import HopCounter
from quicko.client.link import (
    MAX_MESSAGE_BYTES,
    LinkError,
    decode_received,
    error_for_closure,
    login,
    normalize_url,
    open_link,
    screen,
    wall_ms,
)
from quicko.client.pacing import DEFAULT_SEND_BURST, DEFAULT_SEND_RATE, Pacer
from quicko.client.wsread import RelayConnection
from quicko.crypto import RandomSource
from quicko.errors import ConnectionClosedError
from quicko.identity import Identity
from quicko.protocol import Ack, Error, Message, Payload, Pong, encode_frame

__all__ = [
    "Connection",
    "ConnectionSettings",
    "ConnectionState",
    "OnConnected",
    "OnEvent",
]

_log = logging.getLogger(__name__)

_BINARY_MASKED_HEADER: Final = struct.Struct("!BB")
_BINARY_MASKED_HEADER_16: Final = struct.Struct("!BBH")
_BINARY_MASKED_HEADER_64: Final = struct.Struct("!BBQ")

OnEvent = Callable[[TransportEvent], None]
"""A callback that receives every transport event, synchronously and in order."""
OnConnected = Callable[[Connected], Awaitable[None]]
"""An async hook run after every (re)connection, beside the reader (it may await replies)."""


class ConnectionState(Enum):
    """Where the supervisor is."""

    #: Created; :meth:`Connection.start` not called yet.
    IDLE = "idle"
    #: Opening the WebSocket connection or running the handshake.
    CONNECTING = "connecting"
    #: Authenticated: frames flow; :meth:`Connection.send` works.
    CONNECTED = "connected"
    #: Waiting for the back-off delay before the next attempt.
    WAITING = "waiting"
    #: Closed for good (by :meth:`Connection.close`, retries spent, or replaced).
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class ConnectionSettings:
    """Timings and policies of the supervisor (all durations in seconds).

    Attributes:
        ping_interval: seconds between heartbeat Pings (DESIGN.md §8: 15).
        ping_timeout: seconds a Ping may stay unanswered before the connection is dropped (5).
        backoff_initial: the first and smallest reconnection delay (0.1).
        backoff_maximum: the largest reconnection delay (30).
        backoff_factor: how much the delay ceiling grows per retry (2).
        jitter: how delays are drawn below the ceiling.
        max_reconnect_attempts: retries after which the supervisor gives up
            (:class:`ReconnectionFailed`); ``None`` retries forever.
        open_timeout: seconds to open the TCP/TLS/WebSocket connection.
        handshake_timeout: seconds for the relay's Challenge and HelloAck.
        close_timeout: seconds to wait for the closing handshake before aborting.
        reconnect_on_replaced: whether to reconnect after another connection with the same
            identity replaced this one (off: the two would keep replacing each other).
        proxy: an HTTP or SOCKS proxy URL, or ``None`` for a direct connection.
        send_rate: frames per second :meth:`Connection.send` lets through at most (25, below
            the relay's default limit of 30); more wait (:mod:`quicko.client.pacing`).
        send_burst: frames that may go at once after a quiet spell (50, below the relay's 60).
        probe_after: seconds a sent Message may stay without the relay's Ack before the
            heartbeat pings at once (3).
    """

    ping_interval: float = DEFAULT_PING_INTERVAL_S
    ping_timeout: float = DEFAULT_PING_TIMEOUT_S
    backoff_initial: float = DEFAULT_INITIAL_S
    backoff_maximum: float = DEFAULT_MAXIMUM_S
    backoff_factor: float = DEFAULT_FACTOR
    jitter: Jitter = Jitter.FULL
    max_reconnect_attempts: int | None = None
    open_timeout: float = 10.0
    handshake_timeout: float = 10.0
    close_timeout: float = 2.0
    reconnect_on_replaced: bool = False
    proxy: str | None = None
    send_rate: float = DEFAULT_SEND_RATE
    send_burst: int = DEFAULT_SEND_BURST
    probe_after: float = DEFAULT_PROBE_AFTER_S


class Connection:
    """Supervises one authenticated connection to a relay and reconnects when it drops.

    Args:
        url: the relay's ``ws://`` or ``wss://`` URL (path ``/ws`` when it has none), or a
            list of them (the nodes of one relay cluster, all ``ws://`` or all ``wss://``):
            the first is dialled first, and after each failed attempt or dropped connection
            the next one in turn (docs/cluster.md).
        identity: the identity to prove in every Hello.
        on_event: called with every event; when ``None``, events are queued for
            :meth:`next_event` and :meth:`poll_event` instead.
        on_connected: awaited (as a task beside the reader) after every (re)connection.
        rng: randomness for the back-off jitter.
        clock: a monotonic clock in seconds (heartbeat deadlines and latency).
        wall_clock: the wall clock in ms since the epoch (to check the Challenge's time).
        ssl_context: for ``wss://`` URLs, e.g. to trust a test certificate.
        settings: timings and policies.

    Raises:
        ValueError: a bad URL, or an SSL context for a ``ws://`` URL.
    """

    def __init__(
        self,
        url: str | Sequence[str],
        identity: Identity,
        *,
        on_event: OnEvent | None = None,
        on_connected: OnConnected | None = None,
        rng: RandomSource = secrets.token_bytes,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], int] = wall_ms,
        ssl_context: ssl.SSLContext | None = None,
        settings: ConnectionSettings | None = None,
    ) -> None:
        self._urls = tuple(normalize_url(u) for u in ((url,) if isinstance(url, str) else url))
        if not self._urls or len({u.split(":", 1)[0] for u in self._urls}) != 1:
            raise ValueError("give one relay URL, or several that are all ws:// or all wss://")
        self._url = self._urls[0]
        if ssl_context is not None and not self._url.startswith("wss:"):
            raise ValueError("an SSL context needs a wss:// URL")
        self._identity = identity
        self._on_event = on_event
        self._on_connected = on_connected
        self._clock = clock
        self._wall_clock = wall_clock
        if ssl_context is None and self._url.startswith("wss:"):
            ssl_context = ssl.create_default_context()  # the system's trusted CAs
        self._ssl = ssl_context
        self._settings = settings = settings or ConnectionSettings()
        self._pacer = Pacer(settings.send_rate, settings.send_burst, clock())
        self._backoff = Backoff(
            rng,
            initial=settings.backoff_initial,
            maximum=settings.backoff_maximum,
            factor=settings.backoff_factor,
            jitter=settings.jitter,
        )
        self._heartbeat = Heartbeat(
            interval=settings.ping_interval,
            timeout=settings.ping_timeout,
            probe_after=settings.probe_after,
        )
        self._hop = HopCounter()
        self._masks = _MaskKeys()
        # Encoded frames for the writer task, with the message id of each Message.
        self._outbox: deque[tuple[bytes, bytes | None]] = deque()
        self._outbox_wake = asyncio.Event()
        self._beat_wake = asyncio.Event()
        # Events for next_event/poll_event (without an on_event callback); a deque and an
        # Event rather than an asyncio.Queue: a put and a get per frame read cost less.
        self._events: deque[TransportEvent] = deque()
        self._events_ready = asyncio.Event()
        self._state = ConnectionState.IDLE
        self._ws: ClientConnection | None = None
        self._task: asyncio.Task[None] | None = None
        self._up = asyncio.Event()
        self._pong_arrived = asyncio.Event()
        self._connected: Connected | None = None
        self._generation = 0
        self._latency_ms: float | None = None
        self._closing = False
        self._sent_bytes = 0
        self._received_bytes = 0

    # ------------------------------------------------------------------ public API

    @property
    def url(self) -> str:
        """The relay URL dialled now (or next), normalised."""
        return self._url

    @property
    def state(self) -> ConnectionState:
        """Where the supervisor is."""
        return self._state

    @property
    def is_connected(self) -> bool:
        """Whether a connection is up and authenticated (so :meth:`send` can work)."""
        return self._state is ConnectionState.CONNECTED

    @property
    def connected(self) -> Connected | None:
        """The :class:`Connected` event of the current connection, or ``None`` while down."""
        return self._connected if self.is_connected else None

    @property
    def latency_ms(self) -> float | None:
        """The last measured round-trip time, in milliseconds."""
        return self._latency_ms

    @property
    def wire_bytes(self) -> tuple[int, int]:
        """Bytes (sent, received) of the frames written and read since this object was created.

        Counted over every link it opened, once logged in (the Challenge, Hello and HelloAck
        are not counted): the WebSocket messages' payloads, without WebSocket, TCP or TLS
        framing. For measurements (``quicko bench client``).
        """
        return self._sent_bytes, self._received_bytes

    def start(self) -> None:
        """Start the supervisor task (idempotent; needs a running event loop).

        Raises:
            ConnectionClosedError: the connection was closed.
        """
        if self._closing:
            raise ConnectionClosedError("the connection is closed")
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="quicko-connection"
            )

    async def wait_connected(self, timeout: float | None = None) -> Connected:
        """Start if needed and wait until a connection is up; return its :class:`Connected`.

        Raises:
            TimeoutError: not connected within ``timeout`` seconds.
            ConnectionClosedError: the supervisor stopped (closed, retries spent, replaced).
        """
        self.start()
        assert self._task is not None
        async with asyncio.timeout(timeout):
            while True:
                if self.is_connected and self._connected is not None:
                    return self._connected
                if self._task.done():
                    raise ConnectionClosedError("the connection is closed")
                waiter = asyncio.ensure_future(self._up.wait())
                try:
                    await asyncio.wait({waiter, self._task}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    waiter.cancel()

    def post(self, payload: Payload, generation: int | None = None) -> bool:
        """Queue ``payload`` for this connection's writer task; never waits.

        Args:
            payload: the frame.
            generation: the :attr:`Connected.generation` the caller prepared the frame for
                (a Join's proof binds one connection); ``None`` for any.

        Returns:
            Whether it was queued: ``False`` while no connection is up or when ``generation``
            is not the current connection's (the frame is dropped).

        Raises:
            LocalProtocolError: the payload does not fit the protocol.
        """
        connected = self.connected
        if connected is None or (generation is not None and generation != connected.generation):
            return False
        if type(payload) is Message:
            self._outbox.append((encode_message(payload), payload.message_id))
        else:
            self._outbox.append((encode_frame(payload), None))
        self._outbox_wake.set()
        return True

    async def send(self, payload: Payload) -> None:
        """Encode ``payload`` and send it as one frame.

        Raises:
            LocalProtocolError: the payload does not fit the protocol.
            ConnectionClosedError: no connection is up (the caller keeps the frame).
        """
        await self.send_frame(encode_frame(payload))
        if isinstance(payload, Message):
            self._note_sent(payload.message_id)

    async def send_frame(self, frame: bytes) -> None:
        """Send an already encoded frame as one binary WebSocket message.

        Raises:
            ValueError: the frame is larger than a frame may be.
            ConnectionClosedError: no connection is up (the caller keeps the frame).
        """
        if len(frame) > MAX_MESSAGE_BYTES:
            raise ValueError(f"frame of {len(frame)} bytes is over {MAX_MESSAGE_BYTES}")
        # Stay under the relay's rate limit: a frame over it would be dropped (pacing.py).
        while (wait := self._pacer.delay(self._clock())) > 0:
            await asyncio.sleep(wait)
        ws = self._ws
        if ws is None or not self.is_connected:
            raise ConnectionClosedError("not connected")
        try:
            await self._write(ws, frame)
        except ConnectionClosed as exc:
            raise ConnectionClosedError("the connection closed while sending") from exc

    async def _write(self, ws: ClientConnection, frame: bytes) -> None:
        await ws.send(frame)
        self._sent_bytes += len(frame)

    def _note_sent(self, message_id: bytes) -> None:
        """Watch a Message we wrote until the relay acknowledges it (fast dead-link detection)."""
        self._heartbeat.data_sent(message_id, self._clock())
        if self._heartbeat.data_outstanding == 1:
            self._beat_wake.set()  # the heartbeat's deadline moved earlier

    def poll_event(self) -> TransportEvent | None:
        """Return the next queued event, or ``None`` at once when there is none."""
        events = self._events
        return events.popleft() if events else None

    async def next_event(self) -> TransportEvent:
        """Wait for the next queued event (only without an ``on_event`` callback).

        Raises:
            ConnectionClosedError: the supervisor stopped and every event has been read.
        """
        events = self._events
        while True:
            if events:
                return events.popleft()
            task = self._task
            if task is None or task.done():
                raise ConnectionClosedError("the connection is closed")
            self._events_ready.clear()
            waiter = asyncio.ensure_future(self._events_ready.wait())
            try:
                await asyncio.wait({waiter, task}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiter.cancel()

    async def close(self) -> None:
        """Close the connection and stop reconnecting; idempotent, and returns once done.

        Frames read and not yet acknowledged are acknowledged first (a ``Received`` may wait
        100 ms): otherwise the relay would deliver them again to our next connection, and a
        call we just answered would ring again there.
        """
        if not self._closing:
            self._closing = True
            await self._acknowledge_read()
        task = self._task
        if task is None:
            self._state = ConnectionState.CLOSED
            return
        if not task.done():
            task.cancel()
        await asyncio.wait({task})
        self._state = ConnectionState.CLOSED  # also when cancelled before it ever ran

    async def _acknowledge_read(self) -> None:
        """Send the ``Received`` owed for every frame read, if any (bounded; errors ignored)."""
        ws = self._ws
        if ws is None or not self.is_connected:
            return
        ack = self._hop.take(math.inf)  # whatever is owed, due or not
        if ack is None:
            return
        with contextlib.suppress(ConnectionClosed, OSError, TimeoutError):
            async with asyncio.timeout(self._settings.close_timeout):
                await self._write(ws, encode_frame(ack))

    async def __aenter__(self) -> Connection:
        self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"<Connection {self._url} {self._state.value}>"

    # ------------------------------------------------------------------ supervision

    async def _run(self) -> None:
        try:
            await self._supervise()
        except asyncio.CancelledError:
            if not self._closing:
                raise
        finally:
            self._state = ConnectionState.CLOSED
            self._ws = None
            if self._up.is_set():
                self._up.clear()
                self._emit(
                    Disconnected(DisconnectReason.CLOSED, "closed by the client", None, False)
                )

    async def _supervise(self) -> None:
        """Connect, serve, and retry after a back-off until told to stop."""
        attempt = 0
        limit = self._settings.max_reconnect_attempts
        while True:
            drop = await self._attempt()
            was_up = self._up.is_set()
            if was_up:
                self._backoff.reset()
                attempt = 0
            stop = (limit is not None and attempt >= limit) or (
                drop.reason is DisconnectReason.REPLACED
                and not self._settings.reconnect_on_replaced
            )
            self._report_drop(drop, attempt, was_up=was_up, will_reconnect=not stop)
            if stop:
                if drop.reason is not DisconnectReason.REPLACED:
                    self._emit(ReconnectionFailed(attempt))
                return
            attempt += 1
            self._url = self._urls[(self._urls.index(self._url) + 1) % len(self._urls)]
            delay = self._backoff.next_delay()
            self._state = ConnectionState.WAITING
            self._emit(Reconnecting(attempt, round(delay * 1000)))
            await asyncio.sleep(delay)

    def _report_drop(
        self, drop: LinkError, attempt: int, *, was_up: bool, will_reconnect: bool
    ) -> None:
        _log.info("relay connection ended: %s (%s)", drop.reason.value, drop.detail)
        if was_up:
            self._up.clear()
            self._emit(Disconnected(drop.reason, drop.detail, drop.error_code, will_reconnect))
        else:
            self._emit(AttemptFailed(attempt, drop.reason, drop.detail, drop.error_code))

    async def _attempt(self) -> LinkError:
        """One connection from opening to its end; return why it ended."""
        self._state = ConnectionState.CONNECTING
        settings = self._settings
        try:
            ws = await open_link(
                self._url,
                ssl_context=self._ssl,
                open_timeout=settings.open_timeout,
                close_timeout=settings.close_timeout,
                proxy=settings.proxy,
            )
        except LinkError as drop:
            return drop
        try:
            challenge, ack = await login(
                ws,
                self._identity,
                settings.handshake_timeout,
                relay_url=self._url,
                wall_clock=self._wall_clock,
            )
            self._generation += 1
            connected = Connected(ack.address, ack.node_id, ack.server_time, ack.buffered,
                                  self._generation, challenge.nonce)  # fmt: skip
            await self._serve(ws, connected)
        except LinkError as drop:
            if drop.reason is DisconnectReason.PING_TIMEOUT:
                # A dead link answers no closing handshake: waiting close_timeout for one only
                # delays the reconnect (issue 10 item 5; quicko bench faults).
                ws.transport.abort()
            return drop
        except ConnectionClosed as exc:
            return error_for_closure(exc)
        except Exception as exc:  # a bug or an unexpected library error: report, reconnect
            _log.exception("unexpected error on the relay connection")
            return LinkError(DisconnectReason.INTERNAL_ERROR, f"unexpected {type(exc).__name__}")
        finally:
            self._ws = None
            self._state = ConnectionState.CONNECTING
            await ws.close()
        raise AssertionError("unreachable: _serve only ends by raising")  # pragma: no cover

    async def _serve(self, ws: ClientConnection, connected: Connected) -> None:
        """Run the reader, the heartbeat and the hook until the connection ends (by raising)."""
        self._ws = ws
        self._connected = connected
        self._state = ConnectionState.CONNECTED
        self._hop = HopCounter()
        self._outbox.clear()
        self._up.set()
        _log.info("connected to relay node %s (buffered %d)", connected.node_id, connected.buffered)
        self._emit(connected)
        tasks = [
            asyncio.ensure_future(self._read_loop(ws)),
            asyncio.ensure_future(self._heartbeat_loop(ws)),
            asyncio.ensure_future(self._write_loop(ws)),
        ]
        if self._on_connected is not None:
            tasks.append(asyncio.ensure_future(self._run_hook(self._on_connected, connected)))
        try:
            done, _ = await asyncio.wait(tasks[:3], return_when=asyncio.FIRST_COMPLETED)
            done.pop().result()  # the loops only end by raising
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._outbox.clear()
        raise AssertionError("unreachable: the loops only end by raising")  # pragma: no cover

    async def _read_loop(self, ws: ClientConnection) -> None:
        hop, clock, beat = self._hop, self._clock, self._heartbeat
        # The relay's usual frames, read by RelayConnection, are taken without a coroutine each.
        ready = ws.recv_ready if isinstance(ws, RelayConnection) else _nothing_ready
        while True:
            taken = ready()
            message: str | bytes = await ws.recv() if taken is None else taken
            payload = decode_received(message)
            self._received_bytes += len(message)
            if hop.received(clock()):
                self._outbox_wake.set()  # the writer acknowledges (at once, or within 100 ms)
            if type(payload) is Ack:
                beat.data_acknowledged(payload.message_id)
            elif type(payload) is not Message:
                if isinstance(payload, Pong):
                    self._pong(payload)
                    continue
                if isinstance(payload, Error) and payload.ref_type == Message.TYPE:
                    beat.data_acknowledged(payload.ref_id)
                payload = screen(payload)  # Messages and Acks always pass
            self._emit(MessageReceived(payload))

    async def _write_loop(self, ws: ClientConnection) -> None:
        """Write Received acknowledgements (unpaced) and posted frames (paced), in order.

        Everything that may go now goes in one write (one system call for many frames).
        """
        while True:
            now = self._clock()
            batch: list[bytes] = []
            ack = self._hop.take(now)
            if ack is not None:
                # Costs the relay no token (it acknowledges something new): never paced.
                batch.append(encode_frame(ack))
            sent: list[bytes] = []
            outbox = self._outbox
            wait = 0.0
            while outbox and len(batch) < _WRITE_BATCH:
                wait = self._pacer.delay(now)
                if wait > 0:
                    break
                frame, message_id = outbox.popleft()
                batch.append(frame)
                if message_id is not None:
                    sent.append(message_id)
            if batch:
                await self._write_many(ws, batch)
                if sent and self._heartbeat.data_sent_many(sent, self._clock()):
                    self._beat_wake.set()  # the heartbeat's deadline moved earlier
                continue
            deadline = self._hop.next_deadline()
            if outbox:  # the pacer holds them back for ``wait`` seconds
                if deadline is not None:
                    wait = min(wait, max(0.0, deadline - now))
                await asyncio.sleep(wait)
                continue
            self._outbox_wake.clear()
            delay = None if deadline is None else max(0.0, deadline - now)
            await _wait_event(self._outbox_wake, delay)

    async def _write_many(self, ws: ClientConnection, frames: list[bytes]) -> None:
        """Write ``frames`` as binary WebSocket messages in one transport write.

        The frames are built here (:func:`_client_frames`) rather than one ``ws.send`` each:
        websockets writes every frame separately (one ``send()`` system call each) and draws
        every masking key with its own ``getrandom``. The connection's send context still
        checks the state and applies flow control.
        """
        async with ws.send_context():
            transport = ws.transport
            transport.write(_client_frames(frames, self._masks))
        self._sent_bytes += sum(map(len, frames))

    def _pong(self, pong: Pong) -> None:
        latency_ms = self._heartbeat.receive_pong(pong, self._clock())
        if latency_ms is not None:
            self._latency_ms = latency_ms
            self._pong_arrived.set()
            self._emit(PingReceived(latency_ms, pong.server_time))

    async def _heartbeat_loop(self, ws: ClientConnection) -> None:
        beat = self._heartbeat
        beat.start(self._clock())
        self._pong_arrived.clear()
        while True:
            # Sleep until the next deadline, or until a Pong or a sent Message moves it.
            self._beat_wake.clear()
            delay = max(0.0, beat.next_deadline() - self._clock())
            await _wait_event(self._pong_arrived, delay, self._beat_wake)
            self._pong_arrived.clear()
            now = self._clock()
            if beat.timed_out(now):
                detail = f"no Pong within {self._settings.ping_timeout:g} s"
                raise LinkError(DisconnectReason.PING_TIMEOUT, detail)
            ping = beat.handle_timeout(now)
            if ping is not None:
                await self._write(ws, encode_frame(ping))

    @staticmethod
    async def _run_hook(hook: OnConnected, connected: Connected) -> None:
        try:
            await hook(connected)
        except ConnectionClosedError:
            pass  # the connection dropped under the hook; it runs again on the next one
        except Exception:
            _log.exception("the on_connected hook failed")

    def _emit(self, event: TransportEvent) -> None:
        if self._on_event is None:
            events = self._events
            events.append(event)
            if len(events) == 1:  # next_event waits only on an empty deque: wake it
                self._events_ready.set()
            return
        try:
            self._on_event(event)
        except Exception:
            _log.exception("the transport event callback failed")


def _nothing_ready() -> bytes | None:
    """``recv_ready`` of a connection that reads nothing itself: always await ``recv``."""
    return None


async def _wait_event(event: asyncio.Event, delay: float | None, *more: asyncio.Event) -> None:
    """Return once one of the events is set or ``delay`` seconds passed.

    ``asyncio.timeout`` rather than ``asyncio.wait_for``: on Python 3.11, ``wait_for`` loses a
    cancellation that races with the event being set, and a writer or heartbeat task that
    ignores its cancellation keeps a closing connection from ever ending.
    """
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(delay):
            if not more:
                await event.wait()
                return
            waiters = {asyncio.ensure_future(e.wait()) for e in (event, *more)}
            try:
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waiters:
                    waiter.cancel()


_WRITE_BATCH: Final = 256
"""Most frames written in one transport write."""

_MASK_BLOCK_BYTES: Final = 4096
"""Random bytes drawn at once for WebSocket masking keys (1,024 keys per system call)."""


class _MaskKeys:
    """Fresh 4-byte WebSocket masking keys, from the OS random source drawn in blocks.

    RFC 6455 §5.3 asks for a fresh key per frame from a strong source of entropy, so that a
    page cannot predict what a client writes on the wire (an attack on intermediaries, not on
    us: the relay connection carries only ciphertext and the relay's own frames). Every key
    here still comes from ``secrets.token_bytes``, only read 4 KiB at a time instead of one
    ``getrandom`` system call per frame; no key is used twice.
    """

    __slots__ = ("_block", "_offset")

    def __init__(self) -> None:
        self._block = b""
        self._offset = 0

    def take(self) -> bytes:
        offset = self._offset
        if offset + 4 > len(self._block):
            self._block, offset = secrets.token_bytes(_MASK_BLOCK_BYTES), 0
        self._offset = offset + 4
        return self._block[offset : offset + 4]


def _client_frames(payloads: list[bytes], masks: _MaskKeys) -> bytes:
    """``payloads`` as masked, unfragmented binary WebSocket frames (RFC 6455 §5.2), joined."""
    out = bytearray()
    for payload in payloads:
        size = len(payload)
        if size < 126:
            out += _BINARY_MASKED_HEADER.pack(0x82, 0x80 | size)
        elif size < 65536:
            out += _BINARY_MASKED_HEADER_16.pack(0x82, 0x80 | 126, size)
        else:
            out += _BINARY_MASKED_HEADER_64.pack(0x82, 0x80 | 127, size)
        key = masks.take()
        out += key
        out += apply_mask(payload, key)
    return bytes(out)
