"""The terminal app: :class:`QuickoApp`, a Textual app over an asynchronous Quicko client.

Textual runs on asyncio, so the app uses the client on its own loop: one worker reads the
client's events and hands them to the presenter (:mod:`quicko.tui.presenter`), which feeds the
shared model (:mod:`quicko.appmodel`, the same as the desktop app's) and draws what changed;
each user action runs as a worker that awaits the client and reports problems in its dialog or
as a notification.

Nothing is written to disk: Textual's log file, debug key log, devtools and screenshots are
switched off (:func:`disable_disk_output`), and the app keeps no settings.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Final

import textual.constants
from textual.app import App
from textual.css.query import NoMatches

from quicko.appmodel import (
    RING_MS,
    AppModel,
    CallArrived,
    CallGone,
    Chat,
    ChatBook,
    Notice,
    Peer,
    ResyncNeeded,
    RingingCall,
    not_connected,
)
from quicko.client import AsyncQuickoClient
from quicko.client import models as ev
from quicko.client.collector import tune_client_gc
from quicko.errors import ConnectionClosedError, QuickoError
from quicko.tui.client import ChatClient
from quicko.tui.presenter import AppChange, ChatPresenter
from quicko.tui.screens import (
    ConfirmScreen,
    IdentityScreen,
    IdentityView,
    IncomingCallScreen,
    SafetyScreen,
    call_form,
    join_form,
    recover_form,
    rename_form,
    replace_question,
)
from quicko.tui.screens.main import MainScreen
from quicko.tui.theme import APP_CSS, QUICKO_THEME
from quicko.tui.widgets import clock_ms

__all__ = ["CONNECT_TIMEOUT_S", "QuickoApp", "disable_disk_output", "run_chat"]

CONNECT_TIMEOUT_S: Final = 10.0
"""How long the first connection may take before the app says it keeps trying."""

_FAILURES: Final = (QuickoError, TimeoutError)

_WHERE: Final = "the status line"

_ALREADY_OPEN: Final = "That session already has a chat here; the chat was kept as it is."


def disable_disk_output() -> None:
    """Switch off everything by which Textual could write a file.

    Textual writes a log when ``TEXTUAL_LOG`` is set, a key log in debug mode, and screenshots
    when ``TEXTUAL_SCREENSHOT`` is set. It reads these when it is imported, so they are
    overridden here as well as removed from the environment by ``quicko chat``.
    """
    safe_values: dict[str, object] = {
        "LOG_FILE": None,
        "DEBUG": False,
        "SCREENSHOT_DELAY": -1,
        "SCREENSHOT_LOCATION": None,
        "SCREENSHOT_FILENAME": None,
    }
    for name, value in safe_values.items():
        setattr(textual.constants, name, value)


def _problem(exc: BaseException) -> str:
    """A message about a failed action that is safe to show."""
    if isinstance(exc, TimeoutError):
        return "No answer in time; try again."
    return str(exc) or type(exc).__name__


class QuickoApp(App[None]):
    """The Quicko2 terminal app.

    Args:
        client: the client to use (an ``AsyncQuickoClient``); the app connects it when it
            starts and disconnects it when it ends.
        connect_timeout: seconds to wait for the first connection before saying so (the
            client keeps trying in the background).
        ring_s: how long an incoming call can be answered after it arrived (at most until
            the client's ``IncomingCall.expires_ms`` less a margin).

    Attributes:
        client: the client.
        presenter: the chats and the widgets that show them.
        registered: whether the QuickoKey is registered in the relay's directory.
        words_written: whether the user said the QuickoKey's 16 words are written down.
    """

    TITLE = "Quicko2"
    CSS = APP_CSS
    ENABLE_COMMAND_PALETTE = False

    def __init__(
        self,
        client: ChatClient,
        *,
        connect_timeout: float = CONNECT_TIMEOUT_S,
        ring_s: float = RING_MS / 1000,
    ) -> None:
        disable_disk_output()
        super().__init__()
        self.features = frozenset(self.features - {"devtools", "debug"})
        self.devtools = None
        self.client = client
        self.registered = False
        self.words_written = False
        self._connect_timeout = connect_timeout
        self._main = MainScreen(self)
        self.presenter = ChatPresenter(
            self._main,
            self._send_read_receipts,
            lambda: self.screen is self._main,
            AppModel(client.relay_url, ring_ms=round(ring_s * 1000)),
        )

    @property
    def main_screen(self) -> MainScreen:
        """The main screen."""
        return self._main

    @property
    def book(self) -> ChatBook:
        """The open chats."""
        return self.presenter.book

    async def on_mount(self) -> None:
        """Apply the theme, show the main screen, start reading events and connecting."""
        self.register_theme(QUICKO_THEME)
        self.theme = QUICKO_THEME.name
        await self.push_screen(self._main)
        self._show_identity()
        self.presenter.refresh_status()
        self.set_interval(1.0, self.presenter.refresh_status)  # the retry countdown
        self._work(self._pump_events(), name="client events", group="client")
        self._work(self._connect(), name="connect", group="client")

    async def on_unmount(self) -> None:
        """Disconnect the client: its sessions end with the app."""
        await self.client.disconnect()

    def action_screenshot(self, filename: str | None = None, path: str | None = None) -> None:
        """Refuse: the app writes nothing to disk."""
        self.notify("Screenshots are off: Quicko2 writes nothing to disk.", severity="warning")

    def deliver_screenshot(
        self,
        filename: str | None = None,
        path: str | None = None,
        time_format: str | None = None,
    ) -> str | None:
        """Refuse: the app writes nothing to disk."""
        self.action_screenshot()
        return None

    def _work(self, work: Awaitable[object], *, group: str, name: str = "") -> None:
        """Run ``work`` in a worker of ``group``; it ends quietly if the app closes under it.

        When the app closes, Textual takes the main screen's widgets away while the workers
        still run: a client event that arrives just then (a reconnection, a latency, a peer
        leaving) must not fail its worker on a widget already gone (``NoMatches``). While the
        app runs, a missing widget is a bug and still fails.
        """

        async def run() -> None:
            try:
                await work
            except NoMatches:
                if self.is_running:
                    raise

        self.run_worker(run(), name=name, group=group)

    # ------------------------------------------------------------------ connection and events

    async def _connect(self) -> None:
        try:
            await self.client.connect(timeout=self._connect_timeout)
        except TimeoutError:
            offline = self.presenter.connection.offline_text()
            self.notify(f"{offline[0].upper()}{offline[1:]} yet; still trying.", severity="warning")
        except QuickoError as exc:  # the client gave up: the status line says why
            await self.handle_event(ev.Disconnected(_problem(exc), will_retry=False))

    async def _pump_events(self) -> None:
        while True:
            event = await self.client.next_event()
            await self.handle_event(event)

    async def handle_event(self, event: ev.ClientEvent) -> None:
        """Apply one client event to the model and the screen."""
        self._app_changes(await self.presenter.event(event))

    def _app_changes(self, changes: list[AppChange]) -> None:
        """Open and close call dialogs, and show notices."""
        for change in changes:
            match change:
                case CallArrived(call=call):
                    self._incoming_call(call)
                case CallGone(call=call, text=text, decline=decline):
                    self._call_gone(call, text, decline=decline)
                case ResyncNeeded(session_ids=session_ids):
                    for session_id in session_ids:
                        self._resync(session_id)
                case Notice(text=text, warning=warning):
                    self.notify(text, severity="warning" if warning else "information")

    def _resync(self, session_id: str) -> None:
        """After dropped events, give the model what the client's store holds."""
        messages = self.client.messages(session_id)
        session = next((s for s in self.client.sessions() if s.session_id == session_id), None)
        update = self.presenter.apply(lambda model: model.resync(session_id, messages, session))
        self._work(update, group="view")

    def _schedule_deadline(self) -> None:
        """Wake the model at its next deadline (a ringing call's caller giving up)."""
        deadline = self.presenter.model.next_deadline()
        if deadline is not None:
            delay_s = max(0.0, (deadline - clock_ms()) / 1000)
            self.set_timer(delay_s, lambda: self._work(self._timeout(), group="view"))

    async def _timeout(self) -> None:
        self._app_changes(await self.presenter.timeout())
        self._schedule_deadline()

    def _send_read_receipts(self, session_id: str, message_ids: list[str]) -> None:
        self._background(self.client.mark_read(session_id, message_ids))

    def _background(self, work: Awaitable[object]) -> None:
        """Run client work whose failure is only worth a notification."""

        async def run() -> None:
            try:
                await work
            except _FAILURES as exc:
                self.notify(_problem(exc), severity="error")

        self._work(run(), group="background")

    def _show_identity(self) -> None:
        info = self.client.identity_info
        detail = info.quickokey if info.seed_phrase else "ephemeral identity"
        self._main.set_title(info.display_name, detail)

    # ------------------------------------------------------------------ MainActions

    def show_chat(self, chat_id: str) -> None:
        """Show a chat (by local id) and mark its messages read."""
        self._work(self.presenter.show_chat(chat_id), group="view")

    def send_text(self, chat_id: str, text: str) -> None:
        """Send a message to a chat (by local id)."""
        chat = self.book.get(chat_id)
        if chat is not None:
            self._work(self._send(chat_id, chat.session_id, text), group="send")

    async def _send(self, chat_id: str, session_id: str, text: str) -> None:
        try:
            message = await self.client.send_message(session_id, text)
        except (*_FAILURES, ValueError) as exc:
            self.notify(f"Not sent: {_problem(exc)}", severity="error")
            return
        await self.presenter.add_message(chat_id, message)

    def screen_resumed(self) -> None:
        """A dialog closed: refresh the shown chat and mark what is on screen read."""
        self.presenter.mark_shown_read()

    # ------------------------------------------------------------------ opening sessions

    def action_new_session(self) -> None:
        """Create a session and show its invite code."""
        self._work(self._new_session(), group="actions")

    async def _new_session(self) -> None:
        try:
            info = await self.client.create_session()
        except ConnectionClosedError as exc:
            text = not_connected("create a session", str(exc), _WHERE)
            self.notify(text, severity="error", timeout=10)
            return
        except _FAILURES as exc:
            self.notify(f"No session: {_problem(exc)}", severity="error")
            return
        line = "Session created: read the invite code to your peer"
        if await self.presenter.open_session(info, line) is None:
            self.notify(_ALREADY_OPEN, severity="warning")

    def action_join(self) -> None:
        """Open the join dialog."""
        self.push_screen(join_form(self._join))

    async def _join(self, code: str) -> str | None:
        line = "You joined with an invite code"
        return await self._open_with("join", lambda: self.client.join_session(code), line)

    def action_call(self) -> None:
        """Open the call dialog."""
        self.push_screen(call_form(self._call))

    async def _call(self, quickokey: str) -> str | None:
        line = "Call accepted: the chat is open"
        try:
            return await self._open_with("call", lambda: self.client.call(quickokey), line)
        except asyncio.CancelledError:  # Escape in the dialog: the client ends the callee's ring
            self.notify("Call cancelled.")
            raise
        finally:
            self.presenter.model.call_over()

    async def _open_with(
        self, action: str, start: Callable[[], Awaitable[ev.SessionInfo]], line: str
    ) -> str | None:
        try:
            info = await start()
        except ConnectionClosedError as exc:
            return not_connected(action, str(exc), _WHERE)
        except _FAILURES as exc:
            return _problem(exc)
        if await self.presenter.open_session(info, line) is None:
            return _ALREADY_OPEN
        return None

    def _incoming_call(self, call: RingingCall) -> None:
        def answered(accept: bool | None) -> None:
            if accept is not None:  # None: the caller gave up, the model's CallGone handles it
                self.presenter.model.answered(call.call_id)
                self._work(self._answer(call, accept), group="actions")

        self.push_screen(IncomingCallScreen(call), answered)
        self._schedule_deadline()

    def _call_gone(self, call: RingingCall, text: str, *, decline: bool) -> None:
        """The call ended unanswered: close its dialog and say so (a missed call stays up).

        When only the app's own ring time ran out, declining makes the client forget it.
        """
        for screen in self.screen_stack:
            if isinstance(screen, IncomingCallScreen) and screen.call.call_id == call.call_id:
                screen.expire()
        self.notify(text, severity="warning", timeout=60)
        if decline:
            self._work(self._answer(call, False), group="actions")

    async def _answer(self, call: RingingCall, accept: bool) -> None:
        try:
            info = await self.client.answer_call(call.call_id, accept)
        except _FAILURES as exc:
            self.notify(f"Call failed: {_problem(exc)}", severity="error")
            return
        if info is not None:
            line = f"You accepted a call from {call.display_name}"
            if await self.presenter.open_session(info, line) is None:
                self.notify(_ALREADY_OPEN, severity="warning")

    # ------------------------------------------------------------------ chat actions

    def action_safety(self) -> None:
        """Show the safety numbers of the shown chat."""
        chat = self.book.active_chat
        if chat is None or not chat.peers:
            self.notify("Open a chat with someone in it first.", severity="warning")
            return
        session_id, chat_id = chat.session_id, chat.chat_id

        def verify(address: str) -> Peer | None:
            try:
                self.client.mark_verified(session_id, address)
            except (QuickoError, ValueError) as exc:
                self.notify(_problem(exc), severity="error")
                return None
            update = self.presenter.apply(lambda model: model.mark_verified(chat_id, address))
            self._work(update, group="view")
            return chat.peers.get(address)

        self.push_screen(SafetyScreen(chat, verify))

    def action_retry(self) -> None:
        """Send the failed messages of the shown chat again (same ids, pending again)."""
        chat = self.book.active_chat
        failed = [] if chat is None else chat.failed()
        if chat is None or not failed:
            self.notify("No failed message to send again here.", severity="information")
            return
        for message in failed:
            self._work(
                self._retry(chat.chat_id, chat.session_id, message.message_id.hex()), group="send"
            )

    async def _retry(self, chat_id: str, session_id: str, message_id: str) -> None:
        try:
            message = await self.client.retry_message(session_id, message_id)
        except (*_FAILURES, ValueError) as exc:
            self.notify(f"Not sent again: {_problem(exc)}", severity="error")
            return
        await self.presenter.apply(lambda model: model.retried(chat_id, message))

    def action_leave(self) -> None:
        """Leave the shown chat, wiping its keys and messages (after asking)."""
        chat = self.book.active_chat
        if chat is None:
            self.notify("No chat to leave.", severity="warning")
            return
        chat_id, session_id = chat.chat_id, chat.session_id
        who = chat.title if chat.peers else "this chat"
        text = (
            f"You leave the chat with {who}; its keys and messages are wiped from this app "
            "and you cannot come back to it."
        )

        def answered(leave: bool | None) -> None:
            if leave:
                self._work(self._leave(chat_id, session_id), group="actions")

        self.push_screen(
            ConfirmScreen("Leave this chat?", text, "Leave", id="confirm-leave"), answered
        )

    def action_rename(self) -> None:
        """Name a peer of the shown chat (on this device, until the app closes)."""
        chat = self.book.active_chat
        peers = [] if chat is None else [p for p in chat.peers.values() if p.authenticated]
        if chat is None or not peers:
            self.notify("Nobody to name here yet.", severity="warning")
            return
        self.push_screen(rename_form(chat, peers, self._rename))

    async def _rename(self, chat: Chat, peer: Peer, name: str) -> None:
        chat_id, address = chat.chat_id, peer.address
        await self.presenter.apply(lambda model: model.set_local_name(chat_id, address, name))

    def action_step_chat(self, step: int) -> None:
        """Show the next (1) or previous (-1) chat."""
        ids = [chat.chat_id for chat in self.book]
        if not ids:
            return
        current = self.book.active
        index = ids.index(current) if current in ids else -1
        self.show_chat(ids[(index + step) % len(ids)])

    async def _leave(self, chat_id: str, session_id: str) -> None:
        with contextlib.suppress(*_FAILURES):
            await self.client.destroy_session(session_id)
        await self.presenter.close([chat_id])

    # ------------------------------------------------------------------ identity

    def action_identity(self) -> None:
        """Open the identity dialog."""
        self.push_screen(IdentityScreen(self))

    def identity_view(self) -> IdentityView:
        """The current identity, for the identity dialog."""
        info = self.client.identity_info
        return IdentityView(
            info.display_name,
            info.quickokey,
            info.seed_phrase,
            self.registered,
            self.words_written,
        )

    def replace_question(self) -> tuple[str, str] | None:
        """What to ask before replacing the identity, or ``None`` when nothing would be lost."""
        return replace_question(
            open_chats=len(self.book),
            long_term=bool(self.client.identity_info.seed_phrase),
            words_written=self.words_written,
        )

    def confirm_written(self) -> None:
        """Record that the user wrote the current QuickoKey's words down."""
        self.words_written = bool(self.client.identity_info.seed_phrase)

    async def generate_identity(self) -> str | None:
        """Replace the identity with a new QuickoKey."""
        try:
            await self.client.generate_quickokey()
        except _FAILURES as exc:
            return _problem(exc)
        await self._identity_changed()
        return None

    async def register_identity(self) -> str | None:
        """Register the QuickoKey in the relay's directory."""
        if not self.client.identity_info.seed_phrase:
            return "Generate or recover a QuickoKey first (g or r)."
        try:
            await self.client.register_key()
        except _FAILURES as exc:
            return _problem(exc)
        self.registered = True
        return None

    def open_recover(self) -> None:
        """Open the recover dialog."""
        self.push_screen(recover_form(self._recover))

    async def _recover(self, seed_phrase: str) -> str | None:
        question = self.replace_question()
        if question is not None:
            title, text = question
            screen = ConfirmScreen(title, text, "Replace", id="confirm-replace")
            if not await self.push_screen_wait(screen):
                return "Kept your current identity."
        try:
            await self.client.recover_quickokey(seed_phrase)
        except _FAILURES as exc:
            return _problem(exc)
        await self._identity_changed(words_written=True)
        return None

    async def _identity_changed(self, *, words_written: bool = False) -> None:
        """The client left every session and reconnected with another identity.

        A recovered identity's words were just typed in, so they are known to be written down.
        """
        self.registered = False
        self.words_written = words_written
        await self.presenter.close([chat.chat_id for chat in self.book])
        self._show_identity()


def run_chat(relay_url: str) -> int:
    """Run the terminal app against ``relay_url`` until the user quits; return the exit status."""
    app = QuickoApp(AsyncQuickoClient(relay_url))
    tune_client_gc()  # the app's collector policy, once Textual and the app are loaded
    app.run()
    return app.return_code or 0
