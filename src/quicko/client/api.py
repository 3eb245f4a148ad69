"""The asyncio QuickoClient: one identity, one relay connection, any number of sessions.

:class:`AsyncQuickoClient` is what front-ends and scripts use (the synchronous
:class:`~quicko.client.sync.QuickoClient` wraps it). It creates and joins sessions by invite code,
places and answers calls by QuickoKey, sends messages and read receipts, and reports everything
as client events (:mod:`quicko.client.models`) through :meth:`AsyncQuickoClient.next_event` and
:meth:`AsyncQuickoClient.poll_event`.

It *has* a sans-I/O :class:`~quicko.client.core.ClientCore`, which makes every decision, and
a :class:`~quicko.client.connection.Connection`, which keeps the relay link up; this class only
moves frames between them, arms one timer at the core's deadline, and turns the core's
operations into awaitable results. Three tasks: the reader (transport events into the core),
the timer, and — inside the connection — the paced writer, so that reading never waits on
sending and :meth:`send_message` never waits on the network (it queues and returns the id).

One client is one identity: every session of a client uses it, so the relay can link the
sessions of one client (docs/security.md). By default the identity is a fresh random one;
:meth:`~AsyncQuickoClient.generate_quickokey` and :meth:`~AsyncQuickoClient.recover_quickokey`
replace it with a long-term QuickoKey (existing sessions are left first).

Example::

    async with AsyncQuickoClient("ws://127.0.0.1:9900") as client:
        info = await client.create_session()
        print("invite code:", info.invite_code)
        while True:
            event = await client.next_event()
            if isinstance(event, MessageReceived):
                await client.send_message(event.session_id, "echo: " + event.message.text)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import ssl
import time
from collections.abc import Sequence
from types import TracebackType
from typing import Final

from quicko.client import events as te
from quicko.client import models as m
from quicko.client.connection import Connection, ConnectionSettings, ConnectionState
from quicko.client.core import CALL_RING_MS, ClientCore, OpId, Result
from quicko.client.eventq import DEFAULT_EVENT_CAPACITY, EventQueue
from quicko.client.link import normalize_url
from quicko.client.wording import plain_reason
from quicko.crypto import RandomSource
from quicko.errors import ConnectionClosedError, LocalProtocolError, SessionError
from quicko.identity import Identity, format_quickokey, parse_invite_code
from quicko.identity import parse_quickokey as parse_key
from quicko.messaging import ChatMessage, DeliveryStatus
from quicko.protocol import CallResponse, LookupResponse, Payload, RegisterAck
from quicko.session import PAKE_TIMEOUT_MS, OutgoingCall, verify_lookup

__all__ = ["REPLY_TIMEOUT_S", "AsyncQuickoClient", "now_ms"]

_log = logging.getLogger(__name__)

_BATCH_FRAMES = 256
"""Most frames read together that the core gets as one batch."""

REPLY_TIMEOUT_S: Final = 10.0
"""Seconds to wait for the relay's answer to a Join, RegisterKey or LookupKey."""

_STATES: Final = {
    ConnectionState.IDLE: "connecting",
    ConnectionState.CONNECTING: "connecting",
    ConnectionState.CONNECTED: "connected",
    ConnectionState.WAITING: "reconnecting",
    ConnectionState.CLOSED: "disconnected",
}


def now_ms() -> int:
    """The wall clock in milliseconds since the epoch (the I/O edge supplies time)."""
    return time.time_ns() // 1_000_000


class AsyncQuickoClient:
    """The Quicko2 client for asyncio programs (every method runs on the caller's loop).

    Args:
        relay_url: the relay's ``ws://`` or ``wss://`` URL, or a list of them (the nodes of one
            relay cluster): tried in order, the next one after each drop (docs/cluster.md).
        identity: a long-term identity; by default a fresh ephemeral one.
        ssl_context: for ``wss://`` relays with a private certificate.
        settings: connection timings (heartbeat, back-off, timeouts).
        rng: randomness (tests may pin it).
        max_events: events held for the application (:mod:`quicko.client.eventq`).
        ring_ms: how long an incoming call rings at most, in milliseconds: the relay's call
            timeout (``IncomingCall.expires_ms``; 60 s, the relay's default).

    Raises:
        ValueError: the URL is not a ``ws://`` or ``wss://`` URL.
    """

    def __init__(
        self,
        relay_url: str | Sequence[str] = "ws://127.0.0.1:9900",
        *,
        identity: Identity | None = None,
        ssl_context: ssl.SSLContext | None = None,
        settings: ConnectionSettings | None = None,
        rng: RandomSource = os.urandom,
        max_events: int = DEFAULT_EVENT_CAPACITY,
        ring_ms: int = CALL_RING_MS,
    ) -> None:
        urls = [relay_url] if isinstance(relay_url, str) else list(relay_url)
        if not urls:
            raise ValueError("no relay URL")
        for url in urls:
            normalize_url(url)
        own = identity if identity is not None else Identity.generate(rng)
        # RegisterKey names the first URL: every node of a cluster accepts each of them.
        self._core = ClientCore(
            own, rng, relay_url=urls[0], long_term=identity is not None, ring_ms=ring_ms
        )
        #: Why the last attempt failed or the link dropped, in plain words ("" when none).
        self._last_failure = ""
        self._rng = rng
        self._url = relay_url
        self._ssl = ssl_context
        self._settings = settings
        self._conn: Connection | None = None
        self._generation = 0
        self._was_connected = False
        self._tasks: list[asyncio.Task[None]] = []
        self._events = EventQueue(max_events)
        self._event_ready = asyncio.Event()
        self._futures: dict[OpId, asyncio.Future[Result]] = {}
        self._wake = asyncio.Event()
        self._armed: int | None = None
        self._flush_due = False  # a flush is scheduled (see _flush_soon)
        self._core_up = asyncio.Event()

    # ------------------------------------------------------------------ properties

    @property
    def core(self) -> ClientCore:
        """The sans-I/O core (for tests and tools; do not drive it directly)."""
        return self._core

    @property
    def relay_url(self) -> str:
        """The relay's URL, canonical: ``scheme://host:port`` (``ws://127.0.0.1:9900``)."""
        return self._core.relay_url

    @property
    def identity_info(self) -> m.QuickoKeyInfo:
        """The client's identity (the seed phrase only for a long-term one)."""
        identity = self._core.identity
        public = identity.public
        words = tuple(identity.seed_phrase) if self._core.long_term else ()
        return m.QuickoKeyInfo(
            quickokey=public.quickokey,
            display_name=public.display_name,
            seed_phrase=words,
            x25519_public=public.x25519_public.hex(),
            ed25519_public=public.ed25519_public.hex(),
        )

    @property
    def connection_state(self) -> str:
        """``"disconnected"``, ``"connecting"``, ``"connected"`` or ``"reconnecting"``."""
        conn = self._conn
        if conn is None:
            return "disconnected"
        state = _STATES[conn.state]
        if state == "connecting" and self._was_connected:
            return "reconnecting"
        return state

    @property
    def latency_ms(self) -> float | None:
        """The last measured round-trip time to the relay, in milliseconds."""
        return None if self._conn is None else self._conn.latency_ms

    @property
    def wire_bytes(self) -> tuple[int, int]:
        """Bytes (sent, received) of the frames exchanged with the relay since :meth:`connect`.

        The frames' own bytes (WebSocket payloads, without framing), once logged in, over the
        automatic reconnections; ``(0, 0)`` before the first :meth:`connect`, and counted
        afresh by a :meth:`connect` after :meth:`disconnect`.
        """
        return (0, 0) if self._conn is None else self._conn.wire_bytes

    # ------------------------------------------------------------------ connection

    async def connect(self, timeout: float = 10.0) -> None:
        """Connect to the relay (and keep reconnecting); return once connected.

        Raises:
            TimeoutError: not connected within ``timeout`` seconds (it keeps trying).
            ConnectionClosedError: the supervisor gave up (retries spent, or replaced).
        """
        if self._conn is None or self._conn.state is ConnectionState.CLOSED:
            await self._stop_tasks()
            self._was_connected = False
            self._conn = Connection(
                self._url,
                self._core.identity,
                rng=self._rng,
                ssl_context=self._ssl,
                settings=self._settings,
            )
            self._conn.start()
            loop = asyncio.get_running_loop()
            self._tasks = [
                loop.create_task(self._read(self._conn), name="quicko-client-reader"),
                loop.create_task(self._timers(), name="quicko-client-timers"),
            ]
        async with asyncio.timeout(timeout):
            await self._conn.wait_connected()
            # Returned once the core knows it too (it re-joined its sessions on this link).
            while not self._core.connected and self._conn.is_connected:
                self._core_up.clear()
                await self._core_up.wait()

    async def disconnect(self) -> None:
        """Close the connection and stop reconnecting (sessions stay; ``connect`` resumes)."""
        conn = self._conn
        if conn is None:
            return
        self._flush()  # texts sent just before go first (see _flush_soon)
        await conn.close()
        reader = self._tasks[0] if self._tasks else None
        if reader is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(reader), REPLY_TIMEOUT_S)
        await self._stop_tasks()

    async def __aenter__(self) -> AsyncQuickoClient:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.disconnect()

    async def next_event(self) -> m.ClientEvent:
        """Wait for the next client event."""
        while True:
            event = self._events.get_nowait()
            if event is not None:
                return event
            self._event_ready.clear()
            await self._event_ready.wait()

    def poll_event(self) -> m.ClientEvent | None:
        """The next client event, or ``None`` at once when there is none."""
        return self._events.get_nowait()

    async def send_raw(self, data: bytes) -> None:
        """Send one raw frame as it is (tests and tools).

        Raises:
            ConnectionClosedError: not connected.
        """
        if self._conn is None:
            raise ConnectionClosedError("not connected")
        await self._conn.send_frame(data)

    # ------------------------------------------------------------------ the shell's loops

    async def _stop_tasks(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _read(self, conn: Connection) -> None:
        while True:
            try:
                event: te.TransportEvent | None = await conn.next_event()
            except ConnectionClosedError:
                return
            # The frames read together go to the core as one batch (one RECEIPT per sender
            # for the texts among them, one flush), bounded so that the loop stays fair.
            frames: list[Payload] = []
            while event is not None:
                if isinstance(event, te.MessageReceived) and len(frames) < _BATCH_FRAMES:
                    frames.append(event.payload)
                else:
                    self._handle(frames, event)
                    frames = []
                event = conn.poll_event() if frames else None
            self._handle(frames, None)
            self._flush()

    def _handle(self, frames: list[Payload], event: te.TransportEvent | None) -> None:
        """Give the core a batch of frames, then one other transport event (if any)."""
        if frames:
            try:
                self._core.receive_batch(frames, now_ms())
            except Exception:  # a bug must not stop the reader; nothing secret is logged
                _log.exception("the client failed to handle a frame of a batch")
        if event is not None:
            try:
                self._on_transport(event)
            except Exception:  # as above; the frames before it were handled
                _log.exception("the client failed to handle a %s", type(event).__name__)

    def _on_transport(self, event: te.TransportEvent) -> None:
        core = self._core
        match event:
            case te.MessageReceived(payload=payload):
                core.receive(payload, now_ms())
            case te.Connected(node_id=node_id, nonce=nonce, generation=generation):
                self._was_connected = True
                self._last_failure = ""
                self._generation = generation
                core.connection_made(node_id, nonce, now_ms())
                self._core_up.set()
            case te.Disconnected(reason=reason, detail=detail, will_reconnect=again):
                self._last_failure = plain_reason(detail or reason.value)
                core.connection_lost(detail or reason.value, now_ms(), will_retry=again,
                                     code=reason)  # fmt: skip
            case te.Reconnecting(attempt=attempt, delay_ms=delay):
                self._emit(m.Reconnecting(attempt, delay, self._last_failure))
            case te.ReconnectionFailed(attempts=attempts):
                self._emit(m.ReconnectionFailed(attempts))
            case te.PingReceived(latency_ms=latency):
                self._emit(m.LatencyMeasured(latency))
            case te.AttemptFailed(reason=reason, detail=detail):
                # The Reconnecting event that follows carries it.
                self._last_failure = plain_reason(detail or reason.value)

    async def _timers(self) -> None:
        while True:
            self._wake.clear()
            deadline = self._armed = self._core.next_deadline()
            delay = None if deadline is None else max(0.0, (deadline - now_ms()) / 1000)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):  # not wait_for: see connection._wait_event
                    await self._wake.wait()
            self._core.handle_timeout(now_ms())
            self._flush()

    def _emit(self, event: m.ClientEvent) -> None:
        self._events.put(event)
        self._event_ready.set()

    def _flush(self) -> None:
        """Hand the core's frames to the connection, its events to the queue, its results out."""
        core, conn = self._core, self._conn
        self._flush_due = False
        for payload in core.data_to_send():
            if conn is None:
                continue
            try:
                conn.post(payload, self._generation)
            except LocalProtocolError as exc:
                self._emit(m.ClientError(f"a frame could not be sent: {exc}"))
        events = core.events()
        if events:
            self._events.put_many(events)
            self._event_ready.set()
        for done in core.completions():
            future = self._futures.pop(done.op, None)
            if future is None or future.done():
                continue
            if done.error is not None:
                future.set_exception(done.error)
            else:
                future.set_result(done.result)
        deadline = core.next_deadline()
        if deadline is not None and (self._armed is None or deadline < self._armed):
            self._wake.set()

    def _flush_soon(self) -> None:
        """Flush once the caller yields to the loop: texts sent in a row go out together.

        A caller that sends many texts without awaiting anything else pays one flush (one
        look at the timers, one wake of the writer) for all of them. Every other flush drains
        them too, in order, and :meth:`disconnect` flushes before it closes.
        """
        if not self._flush_due:
            self._flush_due = True
            asyncio.get_running_loop().call_soon(self._flush_now)

    def _flush_now(self) -> None:
        if self._flush_due:
            self._flush()

    def _future(self, op: OpId) -> asyncio.Future[Result]:
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._futures[op] = future
        self._flush()
        return future

    async def _wait(self, op: OpId, timeout: float) -> Result:
        """Wait for an operation of the core; forget it on timeout or cancellation.

        When the caller's task is cancelled, a call being dialled is cancelled: the callee's
        ring ends at once.
        """
        future = self._future(op)
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            self._core.cancel(op)
            raise
        except asyncio.CancelledError:
            self._core.cancel(op)
            self._flush()  # what the cancel sends (a call's CANCELLED) goes now
            raise
        finally:
            self._futures.pop(op, None)

    def _connected(self) -> bool:
        return self._conn is not None and self._conn.is_connected and self._core.connected

    def _need_relay(self) -> None:
        """Refuse an operation that needs the relay now.

        Raises:
            ConnectionClosedError: ``"not connected to the relay at URL: REASON"``.
        """
        if self._connected():
            return
        if self._last_failure:
            reason = self._last_failure
        elif self._conn is None or self._conn.state is ConnectionState.CLOSED:
            reason = "not connecting (call connect())"
        else:
            reason = "still connecting"
        raise ConnectionClosedError(f"not connected to the relay at {self.relay_url}: {reason}")

    # ------------------------------------------------------------------ sessions

    async def create_session(self) -> m.SessionInfo:
        """Create a session and its invite code; :class:`SessionReady` follows a peer's join.

        It returns once the relay holds the invite code (or after the reply timeout, the Join
        being sent again after a reconnect).

        Raises:
            ConnectionClosedError: not connected to the relay (an invite code would be useless).
            SessionError: the relay refused the session (for example, the code was taken).
        """
        self._need_relay()
        info, op = self._core.create_session(now_ms())
        with contextlib.suppress(TimeoutError):
            joined = await self._wait(op, REPLY_TIMEOUT_S)
            if isinstance(joined, m.SessionInfo):
                return joined
        return info  # not answered yet: the Join is sent again after a reconnect

    async def join_session(self, code: str) -> m.SessionInfo:
        """Join a session by invite code; return once the creator is authenticated.

        Raises:
            InviteCodeError: ``code`` is not an ``XXXX-XXXX`` invite code.
            ConnectionClosedError: not connected to the relay.
            SessionError: wrong or unknown code, the creator did not answer in time, or the
                creator could not be authenticated.
        """
        parse_invite_code(code)  # a typing mistake is reported first, connected or not
        self._need_relay()
        op = self._core.join_session(code, now_ms())
        try:
            info = await self._wait(op, PAKE_TIMEOUT_MS / 1000 + REPLY_TIMEOUT_S)
        except TimeoutError:
            raise SessionError("the session did not answer in time") from None
        assert isinstance(info, m.SessionInfo)
        return info

    async def send_message(self, session_id: str, text: str) -> ChatMessage:
        """Encrypt and queue ``text`` for every authenticated member; status PENDING.

        Never waits for the network: during an outage the message waits in the session's
        ledger and goes when the link is back.

        Raises:
            SessionError: unknown session, or no authenticated peer yet.
            ValueError: the text is too long.
        """
        message = self._core.send_text(session_id, text, now_ms())
        self._flush_soon()
        return message

    async def retry_message(self, session_id: str, message_id: str) -> ChatMessage:
        """Send a FAILED message again; it is PENDING again (a :class:`StatusChanged` says so).

        It keeps its id and its place: the receiver drops a copy it already has (and repeats
        its receipt), so nobody sees it twice. Like :meth:`send_message`, it never waits for
        the network.

        Raises:
            SessionError: unknown session, a message that is not FAILED (or unknown), or whose
                text is no longer kept, or no authenticated peer to send it to.
        """
        message = self._core.retry_message(session_id, message_id, now_ms())
        self._flush()
        return message

    async def mark_read(self, session_id: str, message_ids: Sequence[str]) -> None:
        """Tell the senders that these received messages were shown (encrypted receipts)."""
        self._core.mark_read(session_id, message_ids, now_ms())
        self._flush()

    def messages(self, session_id: str) -> list[ChatMessage]:
        """The session's messages, oldest first (ring of 1,000, one-hour TTL)."""
        return self._core.messages(session_id)

    def message_status(self, session_id: str, message_id: str) -> DeliveryStatus | None:
        """The status of one of our messages (known beyond the store's 1,000 messages)."""
        return self._core.status(session_id, message_id)

    def sessions(self) -> list[m.SessionInfo]:
        """Every live session (joins still running excluded)."""
        return self._core.sessions()

    async def leave_session(self, session_id: str) -> None:
        """Leave a session: peers are told (encrypted), keys are wiped; messages stay readable."""
        self._core.leave_session(session_id, now_ms())
        self._flush()

    async def destroy_session(self, session_id: str) -> None:
        """Leave a session and wipe its keys and its messages."""
        self._core.destroy_session(session_id, now_ms())
        self._flush()

    def safety_number(self, session_id: str, address: str) -> str:
        """The safety number shared with an authenticated peer of the session.

        Raises:
            SessionError: unknown session, or not an authenticated peer.
        """
        return self._core.safety_number(session_id, address)

    def mark_verified(self, session_id: str, address: str) -> None:
        """Record that the user compared the safety number with this peer."""
        self._core.mark_verified(session_id, address)

    # ------------------------------------------------------------------ identity and directory

    async def generate_quickokey(self) -> m.QuickoKeyInfo:
        """Replace the identity with a new long-term QuickoKey (sessions are left first)."""
        return await self._replace_identity(Identity.generate(self._rng))

    async def recover_quickokey(self, seed_phrase: str) -> m.QuickoKeyInfo:
        """Replace the identity with the one of a seed phrase (sessions are left first).

        Raises:
            SeedPhraseError: wrong word count or an unknown word (with its position).
        """
        return await self._replace_identity(Identity.from_seed_phrase(seed_phrase))

    async def _replace_identity(self, identity: Identity) -> m.QuickoKeyInfo:
        was_up = self._conn is not None and self._conn.state is not ConnectionState.CLOSED
        self._core.replace_identity(identity, now_ms())
        self._flush()
        if was_up:
            await self.disconnect()
        self._conn = None
        if was_up:
            with contextlib.suppress(TimeoutError):
                await self.connect()
        return self.identity_info

    async def register_key(self) -> None:
        """Publish our QuickoKey in the relay's directory (again after every reconnect).

        Raises:
            ConnectionClosedError: not connected.
            SessionError: the relay refused it.
        """
        ack = await self._wait(self._core.register_key(now_ms()), REPLY_TIMEOUT_S)
        assert isinstance(ack, RegisterAck)
        self._core.set_registered(ack.registered)

    async def unregister_key(self) -> None:
        """Remove our QuickoKey from the relay's directory."""
        await self._wait(self._core.unregister_key(), REPLY_TIMEOUT_S)

    async def lookup_key(self, quickokey: str) -> m.LookupInfo:
        """Look a QuickoKey up; a found entry's keys are checked against it.

        Raises:
            QuickoKeyFormatError: not a QuickoKey.
            AuthenticationError: the relay's entry does not belong to this QuickoKey.
        """
        address = parse_key(quickokey)
        response = await self._lookup(address)
        if response.found:
            verify_lookup(response, address)
        return m.LookupInfo(
            format_quickokey(address), response.found, response.online, response.display_name
        )

    async def _lookup(self, address: bytes) -> LookupResponse:
        response = await self._wait(self._core.lookup_key(address), REPLY_TIMEOUT_S)
        assert isinstance(response, LookupResponse)
        return response

    # ------------------------------------------------------------------ calls

    async def call(self, quickokey: str, timeout: float = 60) -> m.SessionInfo:
        """Call a registered QuickoKey; return the call's session once accepted.

        :class:`CallRinging` (with the call id) follows as soon as the offer is sent;
        :meth:`cancel_call` stops it. After ``timeout`` seconds the call is cancelled.

        Raises:
            QuickoKeyFormatError: not a QuickoKey.
            ConnectionClosedError: not connected to the relay.
            CallCancelledError: :meth:`cancel_call` stopped it (a :class:`SessionError`).
            SessionError: not registered, offline, declined or timed out.
            AuthenticationError: the directory entry or the answer is not the QuickoKey's.
        """
        address = parse_key(quickokey)
        identity = self._core.identity
        if address == identity.address:
            raise SessionError("you cannot call your own QuickoKey")
        self._need_relay()
        callee = verify_lookup(await self._lookup(address), address)
        outgoing = OutgoingCall.dial(identity, callee, self._rng)
        call_id = outgoing.call_id.hex()
        try:
            response = await self._wait(self._core.dial(outgoing), timeout)
        except TimeoutError:
            self._flush()  # the CANCELLED that ends the callee's ring goes now
            self._emit(m.CallDeclined(call_id, "timed out"))
            raise SessionError("the call timed out") from None
        assert isinstance(response, CallResponse)
        try:
            session = outgoing.complete(response, identity, self._rng, now_ms())
        except SessionError as exc:
            self._emit(m.CallDeclined(call_id, str(exc)))
            raise
        info = self._core.open_call(session, "caller", now_ms())
        self._flush()
        return info

    async def cancel_call(self, call_id: str) -> None:
        """Stop calling (the ``call_id`` of :class:`CallRinging`): the callee's ring ends.

        The pending :meth:`call` raises :class:`~quicko.errors.CallCancelledError`. A call that
        is no longer ringing (answered, declined, timed out) is left alone: then :meth:`call`
        has its answer already.
        """
        self._core.cancel_call(call_id)
        self._flush()

    async def answer_call(self, call_id: str, accept: bool) -> m.SessionInfo | None:
        """Accept (return the call's session) or decline an :class:`IncomingCall`.

        Raises:
            SessionError: no such call waiting; ``"the call has ended"`` after its
                :class:`CallEnded` (the caller cancelled, or the ring time passed).
        """
        info = self._core.answer_call(call_id, accept, now_ms())
        self._flush()
        return info
