"""The asyncio QuickoClient: one identity, one relay connection, any number of sessions.

:class:`AsyncQuickoClient` is what front-ends and scripts use (the synchronous
:class:`~quicko.client.sync.QuickoClient` wraps it). It creates and joins sessions by invite code,
places and answers calls by QuickoKey, sends messages and read receipts, and reports everything
as client events (:mod:`quicko.client.models`) through :meth:`AsyncQuickoClient.next_event` and
:meth:`AsyncQuickoClient.poll_event`. The machinery (routing, the offline queue, the reconnect
hook, timers) is :class:`~quicko.client.engine.ClientEngine`.

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
import secrets
import ssl
from collections.abc import Sequence
from types import TracebackType
from typing import Final

from quicko.client import models as m
from quicko.client.connection import Connection, ConnectionSettings, ConnectionState
from quicko.client.engine import ClientEngine, Waiter, now_ms
from quicko.client.link import normalize_url
from quicko.client.live import LiveSession
from quicko.crypto import RandomSource
from quicko.errors import ConnectionClosedError, SessionError
from quicko.identity import Identity, InviteCode, format_quickokey, parse_invite_code
from quicko.identity import parse_quickokey as parse_key
from quicko.messaging import ChatMessage, DeliveryStatus
from quicko.protocol import (
    CallResponse,
    LookupKey,
    LookupResponse,
    Payload,
    RegisterAck,
    RegisterKey,
    UnregisterKey,
    canonical_relay_url,
    register_transcript,
)
from quicko.session import PAKE_TIMEOUT_MS, OutgoingCall, Session, verify_lookup
from quicko.session.lifecycle import LifecycleEvent

__all__ = ["REPLY_TIMEOUT_S", "AsyncQuickoClient"]

REPLY_TIMEOUT_S: Final = 10.0
"""Seconds to wait for the relay's answer to a Join, RegisterKey or LookupKey."""

_STATES: Final = {
    ConnectionState.IDLE: "connecting",
    ConnectionState.CONNECTING: "connecting",
    ConnectionState.CONNECTED: "connected",
    ConnectionState.WAITING: "reconnecting",
    ConnectionState.CLOSED: "disconnected",
}


class AsyncQuickoClient(ClientEngine):
    """The Quicko2 client for asyncio programs (every method runs on the caller's loop).

    Args:
        relay_url: the relay's ``ws://`` or ``wss://`` URL.
        identity: a long-term identity; by default a fresh ephemeral one.
        ssl_context: for ``wss://`` relays with a private certificate.
        settings: connection timings (heartbeat, back-off, timeouts).
        rng: randomness (tests may pin it).

    Raises:
        ValueError: the URL is not a ``ws://`` or ``wss://`` URL.
    """

    def __init__(
        self,
        relay_url: str = "ws://127.0.0.1:9900",
        *,
        identity: Identity | None = None,
        ssl_context: ssl.SSLContext | None = None,
        settings: ConnectionSettings | None = None,
        rng: RandomSource = secrets.token_bytes,
    ) -> None:
        normalize_url(relay_url)
        super().__init__(identity if identity is not None else Identity.generate(rng), rng)
        self._long_term = identity is not None
        self._url = relay_url
        self._ssl = ssl_context
        self._settings = settings

    # ------------------------------------------------------------------ properties

    @property
    def identity_info(self) -> m.QuickoKeyInfo:
        """The client's identity (the seed phrase only for a long-term one)."""
        public = self._identity.public
        words = tuple(self._identity.seed_phrase) if self._long_term else ()
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
                self._identity,
                on_connected=self._on_connected,
                rng=self._rng,
                ssl_context=self._ssl,
                settings=self._settings,
            )
            self._conn.start()
            self._start_tasks(self._conn)
        await self._conn.wait_connected(timeout)

    async def disconnect(self) -> None:
        """Close the connection and stop reconnecting (sessions stay; ``connect`` resumes)."""
        conn = self._conn
        if conn is None:
            return
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
        return await self._events.get()

    def poll_event(self) -> m.ClientEvent | None:
        """The next client event, or ``None`` at once when there is none."""
        try:
            return self._events.get_nowait()
        except asyncio.QueueEmpty:
            return None

    async def send_raw(self, data: bytes) -> None:
        """Send one raw frame as it is (tests and tools).

        Raises:
            ConnectionClosedError: not connected.
        """
        if self._conn is None:
            raise ConnectionClosedError("not connected")
        await self._conn.send_frame(data)

    # ------------------------------------------------------------------ sessions

    async def create_session(self) -> m.SessionInfo:
        """Create a session and its invite code; :class:`SessionReady` follows a peer's join.

        When connected, it returns once the relay holds the invite code.

        Raises:
            SessionError: the relay refused the session (for example, the code was taken).
        """
        invite = InviteCode.generate(self._rng)
        session = Session.create(self._identity, self._rng, now_ms(), invite)
        live = LiveSession(session, "creator", invite)
        self._sessions[session.session_id] = live
        await self._start(live, wait=self._connected())
        return live.info()

    async def join_session(self, code: str) -> m.SessionInfo:
        """Join a session by invite code; return once the creator is authenticated.

        Raises:
            InviteCodeError: ``code`` is not an ``XXXX-XXXX`` invite code.
            SessionError: wrong or unknown code, the creator did not answer in time, or the
                creator could not be authenticated.
        """
        invite = parse_invite_code(code)
        session = Session.join(self._identity, invite, self._rng, now_ms())
        live = LiveSession(session, "joiner", invite)
        self._joining.append(live)
        waiter = await self._start(live, wait=False)
        try:
            async with asyncio.timeout(PAKE_TIMEOUT_MS / 1000 + REPLY_TIMEOUT_S):
                await waiter.ready
        except TimeoutError:
            self._forget(live)
            raise SessionError("the session did not answer in time") from None
        finally:
            self._waiters.pop(live, None)
        return live.info()

    async def _start(self, live: LiveSession, *, wait: bool) -> Waiter:
        loop = asyncio.get_running_loop()
        waiter = Waiter(loop.create_future(), loop.create_future())
        self._waiters[live] = waiter
        self._emit(live.move(LifecycleEvent.CONNECT))
        await self._pump(live)
        if wait:
            try:
                await asyncio.wait_for(asyncio.shield(waiter.joined), REPLY_TIMEOUT_S)
            except TimeoutError:
                pass  # not answered yet: the Join is re-sent after a reconnect
            finally:
                self._waiters.pop(live, None)
        return waiter

    async def send_message(self, session_id: str, text: str) -> ChatMessage:
        """Encrypt and send ``text`` to every authenticated member; status PENDING.

        Raises:
            SessionError: unknown session, or no authenticated peer yet.
            ValueError: the text is too long.
        """
        live = self._get(session_id)
        now = now_ms()
        message_id = live.session.send_text(text, now)
        message = ChatMessage(
            message_id=message_id,
            session_id=live.session_id,
            sender=self._identity.address,
            sender_name=self._identity.display_name,
            text=text,
            timestamp_ms=now,
            outgoing=True,
            status=DeliveryStatus.PENDING,
        )
        live.add_outgoing(message, now)
        await self._pump(live)
        return message

    async def mark_read(self, session_id: str, message_ids: Sequence[str]) -> None:
        """Tell the senders that these received messages were shown (encrypted receipts)."""
        live = self._get(session_id)
        ids = [_hex(message_id, "message id") for message_id in message_ids]
        live.session.mark_read(ids, now_ms())
        live.mark_read(ids)
        await self._pump(live)

    def messages(self, session_id: str) -> list[ChatMessage]:
        """The session's messages, oldest first (ring of 1,000, one-hour TTL)."""
        live = self._sessions.get(_hex(session_id, "session id")) or self._left.get(session_id)
        if live is None:
            raise SessionError("unknown session")
        return live.store.messages()

    def sessions(self) -> list[m.SessionInfo]:
        """Every live session (joins still running excluded)."""
        return [live.info() for live in self._sessions.values()]

    async def leave_session(self, session_id: str) -> None:
        """Leave a session: peers are told (encrypted), keys are wiped; messages stay readable."""
        live = self._get(session_id)
        live.session.leave(now_ms())
        self._forget(live)
        self._left[live.key] = live
        self._emit([*live.move(LifecycleEvent.DESTROY), m.SessionClosed(live.key)])
        await self._pump(live)

    async def destroy_session(self, session_id: str) -> None:
        """Leave a session and wipe its keys and its messages."""
        live = self._left.get(session_id)
        if live is None:
            await self.leave_session(session_id)
            live = self._left[session_id]
        self._left.pop(session_id, None)
        live.wipe()

    def safety_number(self, session_id: str, address: str) -> str:
        """The safety number shared with an authenticated peer of the session.

        Raises:
            SessionError: unknown session, or not an authenticated peer.
        """
        live = self._get(session_id)
        try:
            return live.session.safety_number(_hex(address, "address"))
        except KeyError:
            raise SessionError("not an authenticated peer of this session") from None

    def mark_verified(self, session_id: str, address: str) -> None:
        """Record that the user compared the safety number with this peer."""
        self.safety_number(session_id, address)
        self._get(session_id).verified.add(_hex(address, "address"))

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
        for live in list(self._sessions.values()):
            await self.destroy_session(live.key)
        for live in list(self._joining):
            self._forget(live)
        if was_up:
            await self.disconnect()
        self._queue.clear()
        if not self._long_term:
            self._identity.wipe()
        self._identity, self._long_term, self._registered = identity, True, False
        self._conn = None
        if was_up:
            with contextlib.suppress(TimeoutError):
                await self.connect()
        return self.identity_info

    def _register_frame(self) -> Payload:
        public, name, signed_at = self._identity.public, self._identity.display_name, now_ms()
        relay_url = canonical_relay_url(self._url)
        transcript = register_transcript(
            address=public.address,
            display_name=name,
            x25519_public=public.x25519_public,
            ed25519_public=public.ed25519_public,
            relay_url=relay_url,
            signed_at=signed_at,
        )
        return RegisterKey(public.address, name, public.x25519_public, public.ed25519_public,
                           relay_url, signed_at, self._identity.sign(transcript))  # fmt: skip

    async def register_key(self) -> None:
        """Publish our QuickoKey in the relay's directory (again after every reconnect).

        Raises:
            ConnectionClosedError: not connected.
            SessionError: the relay refused it.
        """
        ack = await self._ask(("register", b""), self._register_frame())
        assert isinstance(ack, RegisterAck)
        self._registered = ack.registered

    async def unregister_key(self) -> None:
        """Remove our QuickoKey from the relay's directory."""
        self._registered = False
        await self._ask(("register", b""), UnregisterKey(self._identity.address))

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
        response = await self._ask(("lookup", address), LookupKey(address))
        assert isinstance(response, LookupResponse)
        return response

    async def _ask(self, key: tuple[str, bytes], frame: Payload) -> Payload:
        if self._conn is None or not self._conn.is_connected:
            raise ConnectionClosedError("not connected to the relay")
        future = self._expect(key)
        await self._send_one(None, frame)
        try:
            return await asyncio.wait_for(future, REPLY_TIMEOUT_S)
        finally:
            self._replies.pop(key, None)

    # ------------------------------------------------------------------ calls

    async def call(self, quickokey: str, timeout: float = 60) -> m.SessionInfo:
        """Call a registered QuickoKey; return the call's session once accepted.

        Raises:
            QuickoKeyFormatError: not a QuickoKey.
            SessionError: not registered, offline, declined or timed out.
            AuthenticationError: the directory entry or the answer is not the QuickoKey's.
        """
        address = parse_key(quickokey)
        if address == self._identity.address:
            raise SessionError("you cannot call your own QuickoKey")
        callee = verify_lookup(await self._lookup(address), address)
        outgoing = OutgoingCall.dial(self._identity, callee, self._rng)
        call_id = outgoing.call_id.hex()
        try:
            async with asyncio.timeout(timeout):
                response = await self._ask(("call", outgoing.call_id), outgoing.call_peer)
        except TimeoutError:
            self._emit([m.CallDeclined(call_id, "timed out")])
            raise SessionError("the call timed out") from None
        assert isinstance(response, CallResponse)
        try:
            session = outgoing.complete(response, self._identity, self._rng, now_ms())
        except SessionError as exc:
            self._emit([m.CallDeclined(call_id, str(exc))])
            raise
        return await self._open_call(session, "caller")

    async def answer_call(self, call_id: str, accept: bool) -> m.SessionInfo | None:
        """Accept (return the call's session) or decline an :class:`IncomingCall`.

        Raises:
            SessionError: no such call waiting.
        """
        call = self._incoming.pop(_hex(call_id, "call id"), None)
        if call is None:
            raise SessionError("no such incoming call (it was answered or forgotten)")
        if call.session_id in self._sessions:
            accept = False  # never let a call replace a session we have (issue 8, finding 1)
        if not accept:
            await self._send_one(None, call.decline())
            return None
        response, session = call.accept(self._identity, self._rng, now_ms())
        await self._send_one(None, response)
        return await self._open_call(session, "callee")

    async def _open_call(self, session: Session, role: str) -> m.SessionInfo:
        if session.session_id in self._sessions:
            # A remote party never chooses or replaces a local session (issue 8, finding 1).
            session.leave(now_ms())
            raise SessionError("the call's session id is already one of our sessions")
        live = LiveSession(session, role)
        self._sessions[session.session_id] = live
        self._emit(live.move(LifecycleEvent.CONNECT))
        await self._pump(live)
        return live.info()

    # ------------------------------------------------------------------ helpers

    def _connected(self) -> bool:
        return self._conn is not None and self._conn.is_connected

    def _get(self, session_id: str) -> LiveSession:
        live = self._sessions.get(_hex(session_id, "session id"))
        if live is None:
            raise SessionError("unknown session (it was left, destroyed or never joined)")
        return live


def _hex(value: str, what: str) -> bytes:
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise SessionError(f"not a valid {what}") from None
