"""The bridge between the Qt event loop and a :class:`~quicko.client.QuickoClient`.

The client runs its network on its own event-loop thread; its synchronous methods block the
caller until done. The UI thread must never block, so the bridge

- runs every client call on a worker thread (:meth:`ClientBridge.run`) and hands the result or
  the error back to a callback **on the UI thread** (a queued Qt signal);
- polls :meth:`~quicko.client.QuickoClient.poll_event` (non-blocking) from a ``QTimer`` on the
  UI thread and re-emits each event as :attr:`ClientBridge.client_event`.

Calls that must keep their order (sending messages, marking them read) share one worker thread;
calls that may wait long (connect, join, call, answer) each get a thread of their own, so a
pending join never holds up a message. All these threads are daemons: closing the window while
a call still rings never keeps the process alive.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from typing import Final, Literal, Protocol, TypeVar

from PySide6.QtCore import QObject, QTimer, Signal

from quicko.client.models import ClientEvent, QuickoKeyInfo, SessionInfo
from quicko.errors import QuickoError
from quicko.messaging import ChatMessage

__all__ = [
    "EVENTS_PER_TICK",
    "POLL_INTERVAL_MS",
    "ClientBridge",
    "ClientLike",
    "Lane",
    "describe_exception",
]

T = TypeVar("T")

Lane = Literal["ordered", "long"]
"""Where a call runs: ``ordered`` (one thread, in order) or ``long`` (a thread of its own)."""

POLL_INTERVAL_MS: Final = 20
"""How often the UI thread drains the client's events."""

EVENTS_PER_TICK: Final = 200
"""Most events handled per tick, so a burst cannot starve painting and input."""


class ClientLike(Protocol):
    """The part of :class:`~quicko.client.QuickoClient` the desktop app uses."""

    @property
    def identity_info(self) -> QuickoKeyInfo:
        """The current identity."""

    def connect(self, timeout: float = ...) -> None:
        """Connect (blocking)."""

    def close(self) -> None:
        """Disconnect and stop the client's thread."""

    def poll_event(self) -> ClientEvent | None:
        """The next event, or ``None`` (never blocks)."""

    def create_session(self) -> SessionInfo:
        """Create a session."""

    def join_session(self, code: str) -> SessionInfo:
        """Join with an invite code."""

    def send_message(self, session_id: str, text: str) -> ChatMessage:
        """Send a message."""

    def mark_read(self, session_id: str, message_ids: Sequence[str]) -> None:
        """Send read receipts."""

    def leave_session(self, session_id: str) -> None:
        """Leave a session."""

    def destroy_session(self, session_id: str) -> None:
        """Leave a session and wipe it."""

    def generate_quickokey(self) -> QuickoKeyInfo:
        """Make a new long-term identity."""

    def recover_quickokey(self, seed_phrase: str) -> QuickoKeyInfo:
        """Recover a long-term identity."""

    def register_key(self) -> None:
        """Register the QuickoKey on the directory."""

    def call(self, quickokey: str, timeout: float = ...) -> SessionInfo:
        """Call a QuickoKey."""

    def answer_call(self, call_id: str, accept: bool) -> SessionInfo | None:
        """Accept or decline an incoming call."""

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


class ClientBridge(QObject):
    """Runs client calls off the UI thread and delivers client events on it.

    Args:
        client: the client (its methods block; they are only called from worker threads).
        poll_interval_ms: how often to drain its events.
        parent: the Qt parent.

    Signals:
        client_event(object): one client event (a :data:`~quicko.client.models.ClientEvent`).
    """

    client_event = Signal(object)
    _finished = Signal(object, object)

    def __init__(
        self,
        client: ClientLike,
        *,
        poll_interval_ms: int = POLL_INTERVAL_MS,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.client = client
        self._queue: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._worker = threading.Thread(
            target=self._work_in_order, name="quicko-ui-ordered", daemon=True
        )
        self._worker.start()
        self._pending = 0
        self._closed = False
        self._finished.connect(self._deliver)
        self._timer = QTimer(self)
        self._timer.setInterval(poll_interval_ms)
        self._timer.timeout.connect(self.drain_events)
        self._timer.start()

    @property
    def pending(self) -> int:
        """Calls submitted whose callback has not run yet."""
        return self._pending

    def run(
        self,
        call: Callable[[], T],
        on_done: Callable[[T], object] | None = None,
        on_error: Callable[[BaseException], object] | None = None,
        *,
        lane: Lane = "ordered",
    ) -> None:
        """Run ``call`` on a worker thread, then ``on_done(result)`` or ``on_error(exc)`` here.

        Callbacks run on the UI thread, after the call returns; an exception without an
        ``on_error`` is dropped (the client reports failures as events too).
        """
        if self._closed:
            return
        self._pending += 1

        def work() -> None:
            failure: BaseException | None = None
            try:
                result = call()
            except Exception as exc:  # every failure goes back to the UI thread
                failure = exc
            if failure is not None:
                error = failure
                self._finished.emit(lambda: on_error(error) if on_error else None, None)
            else:
                self._finished.emit(lambda: on_done(result) if on_done else None, None)

        if lane == "ordered":
            self._queue.put(work)
        else:
            threading.Thread(target=work, name="quicko-ui-call", daemon=True).start()

    def drain_events(self) -> int:
        """Emit :attr:`client_event` per pending event (at most :data:`EVENTS_PER_TICK`)."""
        count = 0
        while count < EVENTS_PER_TICK and not self._closed:
            event = self.client.poll_event()
            if event is None:
                break
            count += 1
            self.client_event.emit(event)
        return count

    def close(self) -> None:
        """Stop polling and close the client (it disconnects; queued calls then fail, unseen)."""
        if self._closed:
            return
        self._closed = True
        self._timer.stop()
        self._queue.put(None)
        self.client.close()

    def _work_in_order(self) -> None:
        while (work := self._queue.get()) is not None:
            work()

    def _deliver(self, callback: Callable[[], object], _unused: object) -> None:
        self._pending -= 1
        if not self._closed:
            callback()
