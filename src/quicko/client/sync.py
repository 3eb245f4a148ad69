"""The synchronous QuickoClient: the asyncio client on a private event-loop thread.

:class:`QuickoClient` has the methods of :class:`~quicko.client.api.AsyncQuickoClient`, blocking:
each call is run on the client's own event loop (a daemon thread) with
:func:`asyncio.run_coroutine_threadsafe` and returns its result or raises its exception. Events
are moved off the loop as they happen, either into a thread-safe queue read by
:meth:`QuickoClient.poll_event` (non-blocking) and :meth:`QuickoClient.next_event`, or, when an
``on_event`` callback is given, passed to it **on the client's thread** (a Qt UI marshals them to
its own thread, for example with a queued signal). :meth:`QuickoClient.close` disconnects and
stops the thread.

Example::

    client = QuickoClient("ws://127.0.0.1:9900")
    client.connect()
    info = client.join_session("KBQW-E3T7")
    client.send_message(info.session_id, "hello")
    client.close()
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import ssl
import threading
from collections.abc import Callable, Coroutine, Sequence
from typing import Final, TypeVar

from quicko.client import models as m
from quicko.client.api import AsyncQuickoClient
from quicko.client.connection import ConnectionSettings
from quicko.client.core import CALL_RING_MS
from quicko.client.eventq import DEFAULT_EVENT_CAPACITY, EventQueue
from quicko.crypto import RandomSource
from quicko.identity import Identity
from quicko.messaging import ChatMessage, DeliveryStatus

__all__ = ["QuickoClient"]

_log = logging.getLogger(__name__)

T = TypeVar("T")

_STOP_TIMEOUT_S: Final = 10.0

OnClientEvent = Callable[[m.ClientEvent], None]
"""A callback for client events, called on the client's own thread."""


class QuickoClient:
    """The Quicko2 client with blocking methods (see the module docstring).

    Args:
        relay_url: the relay's ``ws://`` or ``wss://`` URL.
        identity: a long-term identity; by default a fresh ephemeral one.
        ssl_context: for ``wss://`` relays with a private certificate.
        settings: connection timings.
        rng: randomness.
        on_event: called with every client event on the client's thread, instead of queueing
            them for :meth:`poll_event`.
        max_events: events held for :meth:`poll_event` (:mod:`quicko.client.eventq` says what
            happens when the application reads too slowly).
        ring_ms: how long an incoming call rings at most (the relay's call timeout).

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
        rng: RandomSource = os.urandom,
        on_event: OnClientEvent | None = None,
        max_events: int = DEFAULT_EVENT_CAPACITY,
        ring_ms: int = CALL_RING_MS,
    ) -> None:
        self._client = AsyncQuickoClient(
            relay_url,
            identity=identity,
            ssl_context=ssl_context,
            settings=settings,
            rng=rng,
            ring_ms=ring_ms,
        )
        self._on_event = on_event
        self._queue = EventQueue(max_events)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="quicko-client",
                                        daemon=True)  # fmt: skip
        self._thread.start()
        self._forwarder = self._run(self._start_forwarder())
        self._closed = False

    # ------------------------------------------------------------------ plumbing

    def _run(self, coro: Coroutine[object, object, T]) -> T:
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("QuickoClient methods cannot be called from its own thread")
        if self._loop.is_closed():
            coro.close()
            raise RuntimeError("the client is closed")
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result()
        except concurrent.futures.CancelledError:
            raise RuntimeError("the client was closed during the call") from None

    async def _start_forwarder(self) -> asyncio.Task[None]:
        return asyncio.get_running_loop().create_task(self._forward(), name="quicko-events")

    async def _stop_forwarder(self) -> None:
        self._forwarder.cancel()
        await asyncio.gather(self._forwarder, return_exceptions=True)

    async def _forward(self) -> None:
        while True:
            event = await self._client.next_event()
            if self._on_event is None:
                self._queue.put(event)
                continue
            try:
                self._on_event(event)
            except Exception:
                _log.exception("the on_event callback failed")

    async def _value(self, function: Callable[[], T]) -> T:
        return function()

    def _read(self, function: Callable[[], T]) -> T:
        return self._run(self._value(function))

    # ------------------------------------------------------------------ events

    def poll_event(self) -> m.ClientEvent | None:
        """The next client event, or ``None`` at once (only without ``on_event``)."""
        return self._queue.get_nowait()

    def next_event(self, timeout: float | None = None) -> m.ClientEvent:
        """Wait for the next client event (only without ``on_event``).

        Raises:
            TimeoutError: none within ``timeout`` seconds.
        """
        event = self._queue.get(timeout)
        if event is None:
            raise TimeoutError("no client event in time")
        return event

    # ------------------------------------------------------------------ properties

    @property
    def relay_url(self) -> str:
        """See :attr:`AsyncQuickoClient.relay_url` (canonical ``scheme://host:port``)."""
        return self._client.relay_url  # immutable: read without a trip to the loop

    @property
    def identity_info(self) -> m.QuickoKeyInfo:
        """The client's identity (the seed phrase only for a long-term one)."""
        return self._read(lambda: self._client.identity_info)

    @property
    def connection_state(self) -> str:
        """``"disconnected"``, ``"connecting"``, ``"connected"`` or ``"reconnecting"``."""
        return self._read(lambda: self._client.connection_state)

    @property
    def latency_ms(self) -> float | None:
        """The last measured round-trip time to the relay, in milliseconds."""
        return self._read(lambda: self._client.latency_ms)

    # ------------------------------------------------------------------ the client's methods

    def connect(self, timeout: float = 10.0) -> None:
        """See :meth:`AsyncQuickoClient.connect`."""
        self._run(self._client.connect(timeout))

    def disconnect(self) -> None:
        """Disconnect and stop reconnecting (the thread keeps running; see :meth:`close`)."""
        self._run(self._client.disconnect())

    def close(self) -> None:
        """Disconnect and stop the client's thread; idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            self._run(self._client.disconnect())
        finally:
            self._run(self._stop_forwarder())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(_STOP_TIMEOUT_S)
            if not self._thread.is_alive():
                self._loop.close()

    def __enter__(self) -> QuickoClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def send_raw(self, data: bytes) -> None:
        """See :meth:`AsyncQuickoClient.send_raw`."""
        self._run(self._client.send_raw(data))

    def create_session(self) -> m.SessionInfo:
        """See :meth:`AsyncQuickoClient.create_session`."""
        return self._run(self._client.create_session())

    def join_session(self, code: str) -> m.SessionInfo:
        """See :meth:`AsyncQuickoClient.join_session`."""
        return self._run(self._client.join_session(code))

    def send_message(self, session_id: str, text: str) -> ChatMessage:
        """See :meth:`AsyncQuickoClient.send_message`."""
        return self._run(self._client.send_message(session_id, text))

    def retry_message(self, session_id: str, message_id: str) -> ChatMessage:
        """See :meth:`AsyncQuickoClient.retry_message`."""
        return self._run(self._client.retry_message(session_id, message_id))

    def mark_read(self, session_id: str, message_ids: Sequence[str]) -> None:
        """See :meth:`AsyncQuickoClient.mark_read`."""
        self._run(self._client.mark_read(session_id, message_ids))

    def messages(self, session_id: str) -> list[ChatMessage]:
        """See :meth:`AsyncQuickoClient.messages`."""
        return self._read(lambda: self._client.messages(session_id))

    def message_status(self, session_id: str, message_id: str) -> DeliveryStatus | None:
        """See :meth:`AsyncQuickoClient.message_status`."""
        return self._read(lambda: self._client.message_status(session_id, message_id))

    def sessions(self) -> list[m.SessionInfo]:
        """See :meth:`AsyncQuickoClient.sessions`."""
        return self._read(self._client.sessions)

    def leave_session(self, session_id: str) -> None:
        """See :meth:`AsyncQuickoClient.leave_session`."""
        self._run(self._client.leave_session(session_id))

    def destroy_session(self, session_id: str) -> None:
        """See :meth:`AsyncQuickoClient.destroy_session`."""
        self._run(self._client.destroy_session(session_id))

    def generate_quickokey(self) -> m.QuickoKeyInfo:
        """See :meth:`AsyncQuickoClient.generate_quickokey`."""
        return self._run(self._client.generate_quickokey())

    def recover_quickokey(self, seed_phrase: str) -> m.QuickoKeyInfo:
        """See :meth:`AsyncQuickoClient.recover_quickokey`."""
        return self._run(self._client.recover_quickokey(seed_phrase))

    def register_key(self) -> None:
        """See :meth:`AsyncQuickoClient.register_key`."""
        self._run(self._client.register_key())

    def unregister_key(self) -> None:
        """See :meth:`AsyncQuickoClient.unregister_key`."""
        self._run(self._client.unregister_key())

    def lookup_key(self, quickokey: str) -> m.LookupInfo:
        """See :meth:`AsyncQuickoClient.lookup_key`."""
        return self._run(self._client.lookup_key(quickokey))

    def call(self, quickokey: str, timeout: float = 60) -> m.SessionInfo:
        """See :meth:`AsyncQuickoClient.call`."""
        return self._run(self._client.call(quickokey, timeout))

    def cancel_call(self, call_id: str) -> None:
        """See :meth:`AsyncQuickoClient.cancel_call` (from any thread but the client's)."""
        self._run(self._client.cancel_call(call_id))

    def answer_call(self, call_id: str, accept: bool) -> m.SessionInfo | None:
        """See :meth:`AsyncQuickoClient.answer_call`."""
        return self._run(self._client.answer_call(call_id, accept))

    def safety_number(self, session_id: str, address: str) -> str:
        """See :meth:`AsyncQuickoClient.safety_number`."""
        return self._read(lambda: self._client.safety_number(session_id, address))

    def mark_verified(self, session_id: str, address: str) -> None:
        """See :meth:`AsyncQuickoClient.mark_verified`."""
        self._read(lambda: self._client.mark_verified(session_id, address))

    def __repr__(self) -> str:
        return f"<QuickoClient {'closed' if self._closed else 'open'}>"
