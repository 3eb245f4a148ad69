"""The bridge between the Qt event loop and an asynchronous Quicko client.

The client (:class:`~quicko.client.AsyncQuickoClient`) runs on an asyncio event loop in a
worker thread the bridge owns; the UI thread never blocks and never polls:

- **events**: a task on the client's loop awaits ``next_event()`` and emits each event through
  a Qt signal; the connection is queued, so :attr:`ClientBridge.client_event` fires on the UI
  thread, in the order the client reported them;
- **commands**: :meth:`ClientBridge.submit` hands a coroutine to the client's loop with
  :func:`asyncio.run_coroutine_threadsafe`; the future's done-callback (on the loop thread)
  emits a queued signal, so ``on_done(result)`` or ``on_error(exc)`` runs on the UI thread.

Commands start in the order they are submitted (the loop runs them first come, first served),
so messages keep their order; a command that waits long (a join, a call) holds up nothing else.
The loop's thread is a daemon: closing the window while a call still rings never keeps the
process alive.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol, TypeVar

from PySide6.QtCore import QObject, Qt, Signal

from quicko.client.models import ClientEvent, QuickoKeyInfo, SessionInfo
from quicko.errors import QuickoError
from quicko.messaging import ChatMessage

__all__ = ["CLOSE_TIMEOUT_S", "ClientBridge", "ClientLike", "describe_exception"]

T = TypeVar("T")

CLOSE_TIMEOUT_S: Final = 5.0
"""How long closing the window waits for the client to say goodbye to the relay."""

_log = logging.getLogger(__name__)


class ClientLike(Protocol):
    """The part of :class:`~quicko.client.AsyncQuickoClient` the desktop app uses."""

    @property
    def relay_url(self) -> str:
        """The relay's URL (canonical)."""

    @property
    def identity_info(self) -> QuickoKeyInfo:
        """The current identity."""

    async def connect(self, timeout: float = ...) -> None:
        """Connect."""

    async def disconnect(self) -> None:
        """Disconnect (the sessions end)."""

    async def next_event(self) -> ClientEvent:
        """Wait for the next event."""

    async def create_session(self) -> SessionInfo:
        """Create a session."""

    async def join_session(self, code: str) -> SessionInfo:
        """Join with an invite code."""

    async def send_message(self, session_id: str, text: str) -> ChatMessage:
        """Send a message."""

    async def mark_read(self, session_id: str, message_ids: Sequence[str]) -> None:
        """Send read receipts."""

    async def leave_session(self, session_id: str) -> None:
        """Leave a session."""

    async def destroy_session(self, session_id: str) -> None:
        """Leave a session and wipe it."""

    async def generate_quickokey(self) -> QuickoKeyInfo:
        """Make a new long-term identity."""

    async def recover_quickokey(self, seed_phrase: str) -> QuickoKeyInfo:
        """Recover a long-term identity."""

    async def register_key(self) -> None:
        """Register the QuickoKey on the directory."""

    async def call(self, quickokey: str, timeout: float = ...) -> SessionInfo:
        """Call a QuickoKey."""

    async def cancel_call(self, call_id: str) -> None:
        """Stop calling (the callee's ring ends)."""

    async def answer_call(self, call_id: str, accept: bool) -> SessionInfo | None:
        """Accept or decline an incoming call."""

    def messages(self, session_id: str) -> list[ChatMessage]:
        """The messages the client's store holds for a session (call on the client's loop)."""

    def sessions(self) -> list[SessionInfo]:
        """The client's sessions (call on the client's loop)."""

    async def retry_message(self, session_id: str, message_id: str) -> ChatMessage:
        """Send a failed message again (same id, PENDING again)."""

    def mark_verified(self, session_id: str, address: str) -> None:
        """Mark a peer's safety number as compared."""


def describe_exception(exc: BaseException) -> str:
    """A short text about a failed call that is safe to show.

    Our own errors say what went wrong without secrets (errors.py); anything else is named by
    its type only, so no internal detail reaches the screen.
    """
    if isinstance(exc, QuickoError):
        return str(exc)
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, ValueError):
        return str(exc)
    return f"unexpected error ({type(exc).__name__})"


@dataclass(frozen=True, slots=True)
class _Completion:
    """A finished command and what to call with its outcome on the UI thread."""

    future: concurrent.futures.Future[Any]
    on_done: Callable[[Any], object] | None
    on_error: Callable[[BaseException], object] | None


class ClientBridge(QObject):
    """Runs the client on its own event-loop thread; delivers events and results on this one.

    Args:
        client: the client; its coroutines only ever run on the bridge's loop.
        parent: the Qt parent.

    Signals:
        client_event(object): one client event (a :data:`~quicko.client.models.ClientEvent`),
            on the UI thread.
    """

    client_event = Signal(object)
    _event_arrived = Signal(object)  # emitted on the loop's thread, delivered queued
    _command_done = Signal(object)  # likewise, with a _Completion

    def __init__(self, client: ClientLike, *, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.client = client
        self._pending = 0
        self._closed = False
        queued = Qt.ConnectionType.QueuedConnection
        self._event_arrived.connect(self._deliver_event, queued)
        self._command_done.connect(self._deliver_result, queued)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="quicko-client-loop", daemon=True
        )
        self._thread.start()
        self._pump = asyncio.run_coroutine_threadsafe(self._pump_events(), self._loop)

    @property
    def pending(self) -> int:
        """Commands submitted whose callback has not run yet."""
        return self._pending

    @property
    def loop_thread(self) -> threading.Thread:
        """The thread the client's event loop runs on."""
        return self._thread

    async def _pump_events(self) -> None:
        while True:
            event = await self.client.next_event()
            self._event_arrived.emit(event)

    def submit(
        self,
        command: Callable[[], Awaitable[T]],
        on_done: Callable[[T], object] | None = None,
        on_error: Callable[[BaseException], object] | None = None,
    ) -> concurrent.futures.Future[T] | None:
        """Run ``command()`` on the client's loop; then ``on_done(result)`` or ``on_error(exc)``.

        ``command`` is called on the loop's thread (so even building its coroutine touches the
        client there). The callbacks run on the UI thread; an exception without an
        ``on_error`` is dropped (the client reports failures as events too). Nothing runs once
        the bridge is closed.

        Returns:
            The command's future, or ``None`` if the bridge is closed.
        """
        if self._closed:
            return None

        async def run() -> T:
            return await command()

        self._pending += 1
        future = asyncio.run_coroutine_threadsafe(run(), self._loop)

        def done(finished: concurrent.futures.Future[T]) -> None:  # on the loop's thread
            self._command_done.emit(_Completion(finished, on_done, on_error))

        future.add_done_callback(done)
        return future

    def call_soon(self, action: Callable[[], object]) -> None:
        """Run a quick synchronous client call (``mark_verified``) on the client's loop."""

        async def run() -> None:
            action()

        self.submit(run)

    def close(self) -> None:
        """Disconnect the client, stop its loop and its thread (waits a few seconds at most)."""
        if self._closed:
            return
        self._closed = True
        finished = asyncio.run_coroutine_threadsafe(self._shut_down(), self._loop)
        with contextlib.suppress(Exception):
            finished.result(2 * CLOSE_TIMEOUT_S)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(CLOSE_TIMEOUT_S)
        if not self._thread.is_alive():
            self._loop.close()

    async def _shut_down(self) -> None:
        """Say goodbye to the relay, then end every task still on the loop (calls, the pump)."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.client.disconnect(), CLOSE_TIMEOUT_S)
        others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)

    def _deliver_event(self, event: ClientEvent) -> None:
        if not self._closed:
            self.client_event.emit(event)

    def _deliver_result(self, completion: _Completion) -> None:
        self._pending -= 1
        if self._closed:
            return
        future = completion.future
        if future.cancelled():
            return
        error = future.exception()
        if error is None:
            if completion.on_done is not None:
                completion.on_done(future.result())
        elif completion.on_error is not None:
            completion.on_error(error)
        else:
            _log.debug("a client command failed: %s", type(error).__name__)
