"""The main window: sidebar, stacked views, status bar, and the wiring to the client.

Every client call goes through :class:`~quicko.ui.qt.bridge.ClientBridge` (the client's own
event-loop thread); every client event arrives through its ``client_event`` signal, goes to the
shared model (:class:`quicko.appmodel.AppModel`, the terminal app's too) with the time, and the
changes it returns are drawn (:mod:`quicko.ui.qt.presenter`). Nothing is written to disk: no
``QSettings``, no cache.

Chats are keyed by the model's local ids (``"c1"``, ``"c2"``, …); session ids only map to them,
and a second open for a session that already has a chat is refused, so no remote party can
replace or merge into an existing chat (DESIGN.md §4.3).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Final

from PySide6.QtCore import QEvent, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import QHBoxLayout, QMainWindow, QStackedWidget, QWidget

from quicko.appmodel import RING_MS, AppModel, Chat, not_connected
from quicko.client import models as m
from quicko.client.wording import replace_question
from quicko.errors import ConnectionClosedError
from quicko.identity import display_name, parse_quickokey
from quicko.messaging import ChatMessage, DeliveryStatus
from quicko.ui.qt.bridge import ClientBridge, describe_exception
from quicko.ui.qt.presenter import draw
from quicko.ui.qt.widgets.chat_view import ChatView
from quicko.ui.qt.widgets.dialogs import (
    ConfirmDialog,
    IncomingCallDialog,
    RenameDialog,
    SafetyNumberDialog,
)
from quicko.ui.qt.widgets.fields import ValidatedField
from quicko.ui.qt.widgets.identity_panel import IdentityPanel
from quicko.ui.qt.widgets.message_bubble import MessageBubble
from quicko.ui.qt.widgets.session_panel import SessionPanel
from quicko.ui.qt.widgets.sidebar import ChatSummary, Sidebar
from quicko.ui.qt.widgets.status_bar import ConnectionStatusBar, clock_ms
from quicko.ui.qt.widgets.welcome import WelcomeView

__all__ = ["SHORTCUTS", "MainWindow", "replace_question"]

SHORTCUTS: Final = {
    "new_session": "Ctrl+N",
    "join": "Ctrl+O",
    "call": "Ctrl+T",
    "identity": "Ctrl+Y",
    "verify": "Ctrl+S",
    "leave": "Ctrl+L",
    "retry": "Ctrl+R",
    "rename": "F2",
    "next_chat": "Ctrl+PgDown",
    "previous_chat": "Ctrl+PgUp",
    "quit": "Ctrl+Q",
    "search": "Ctrl+F",
    "copy_code": "Ctrl+Shift+C",
    "cancel_call": "Esc",
}
"""The keyboard shortcuts; the first eleven are the terminal app's too (README, "Keys").

Chosen so that a terminal can send every one of them: Ctrl+J is a line feed and Ctrl+I a Tab
there, so Join is Ctrl+O and Identity Ctrl+Y in both apps.
"""

_MESSAGE_MS: Final = 8000
_WHERE: Final = "the status bar"


_log = logging.getLogger(__name__)


class MainWindow(QMainWindow):
    """The desktop app's window.

    Args:
        bridge: the bridge to the client.
        ring_ms: how long an incoming call can be answered after it arrived (tests shorten it).

    Attributes:
        model: the chats, the connection and the ringing calls (shared with the terminal app).
        views: the chats' views, by local id.
    """

    def __init__(self, bridge: ClientBridge, *, ring_ms: int = RING_MS) -> None:
        super().__init__()
        self.bridge = bridge
        self.client = bridge.client
        relay_url = bridge.client.relay_url
        self.model = AppModel(relay_url, ring_ms=ring_ms)
        self.now_ms: Callable[[], int] = clock_ms
        self.views: dict[str, ChatView] = {}
        self.dialogs: list[IncomingCallDialog | SafetyNumberDialog] = []
        self.awaiting_first_peer: str | None = None
        self._calling: object | None = None
        self._cancel_wanted = False
        self._deadline_timer = QTimer(self)
        self._deadline_timer.setSingleShot(True)
        self._deadline_timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._deadline_timer.timeout.connect(self.wake_model)
        self.relay_url = relay_url
        self.setWindowTitle(f"Quicko2 — {relay_url}" if relay_url else "Quicko2")
        self.resize(1100, 720)
        self._build()
        self._install_shortcuts()
        bridge.client_event.connect(self.handle_event)
        self.show_identity(self.client.identity_info)

    # ------------------------------------------------------------------ layout

    def _build(self) -> None:
        central = QWidget()
        layout = QHBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        self.sidebar = Sidebar()
        layout.addWidget(self.sidebar)
        self.stack = QStackedWidget()
        layout.addWidget(self.stack, 1)
        self.welcome = WelcomeView()
        self.session_panel = SessionPanel()
        self.identity_panel = IdentityPanel()
        for view in (self.welcome, self.session_panel, self.identity_panel):
            self.stack.addWidget(view)
        self.setCentralWidget(central)
        self.status = ConnectionStatusBar(self.relay_url)
        self.setStatusBar(self.status)
        self.status.set_connection(self.model.connection)
        self.sidebar.new_chat_requested.connect(self.show_session_panel)
        self.sidebar.identity_requested.connect(self.show_identity_panel)
        self.sidebar.chat_selected.connect(self.show_chat)
        self.welcome.new_session_requested.connect(self.create_session)
        self.welcome.join_requested.connect(self.focus_join)
        self.welcome.identity_requested.connect(self.show_identity_panel)
        self.session_panel.create_requested.connect(self.create_session)
        self.session_panel.join_requested.connect(self.join_session)
        self.session_panel.call_requested.connect(self.call)
        self.session_panel.cancel_call_requested.connect(self.cancel_call)
        self.identity_panel.generate_requested.connect(self.generate_quickokey)
        self.identity_panel.recover_requested.connect(self.recover_quickokey)
        self.identity_panel.register_requested.connect(self.register_key)
        self.stack.currentChanged.connect(self._view_changed)

    def _install_shortcuts(self) -> None:
        actions = {
            "new_session": self.create_session,
            "join": self.focus_join,
            "call": self.focus_call,
            "identity": self.show_identity_panel,
            "search": self.sidebar.focus_search,
            "verify": self.verify_current,
            "copy_code": self.session_panel.copy_invite_code,
            "leave": self.leave_current,
            "retry": self.retry_current,
            "rename": self.rename_current,
            "cancel_call": self.cancel_call,
            "next_chat": lambda: self._step_chat(1),
            "previous_chat": lambda: self._step_chat(-1),
            "quit": self.close,
        }
        self.shortcuts: dict[str, QShortcut] = {}
        for name, action in actions.items():
            shortcut = QShortcut(QKeySequence(SHORTCUTS[name]), self)
            shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
            shortcut.activated.connect(action)
            self.shortcuts[name] = shortcut

    @property
    def chats(self) -> dict[str, Chat]:
        """The open chats, by local id (a snapshot of the model's book)."""
        return {chat.chat_id: chat for chat in self.model.book}

    @property
    def pending_reason(self) -> str:
        """Why our pending messages wait ("" while connected)."""
        connection = self.model.connection
        return "" if connection.connected else connection.offline_text()

    def handle_event(self, event: m.ClientEvent) -> None:
        """Apply one client event to the model and draw what changed."""
        draw(self, self.model.apply(event, self.now_ms()))
        if isinstance(event, m.CallRinging) and self._cancel_wanted:
            self._cancel_wanted = False  # Esc came before the call had an id
            self._cancel(event.call_id)

    def wake_model(self) -> None:
        """Let the model act on its deadline (a ringing call's caller giving up)."""
        draw(self, self.model.handle_timeout(self.now_ms()))
        self.schedule_deadline()

    def schedule_deadline(self) -> None:
        """Wake the model at its next deadline (the timer is a single shot, re-armed here)."""
        deadline = self.model.next_deadline()
        if deadline is None:
            self._deadline_timer.stop()
        else:
            self._deadline_timer.start(max(0, deadline - self.now_ms()))

    # ------------------------------------------------------------------ navigation

    @property
    def current_chat(self) -> ChatView | None:
        """The chat shown, if a chat is shown."""
        widget = self.stack.currentWidget()
        return widget if isinstance(widget, ChatView) else None

    def show_session_panel(self) -> None:
        """Show the create / join / call panel."""
        self.stack.setCurrentWidget(self.session_panel)

    def show_identity_panel(self) -> None:
        """Show the identity panel."""
        self.stack.setCurrentWidget(self.identity_panel)

    def focus_join(self) -> None:
        """Show the session panel with the focus in the invite-code field."""
        self.show_session_panel()
        self.session_panel.join_field.edit.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def focus_call(self) -> None:
        """Show the session panel with the focus in the QuickoKey field."""
        self.show_session_panel()
        self.session_panel.call_field.edit.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def show_chat(self, chat_id: str) -> None:
        """Show a chat by local id (and mark what it received as read)."""
        view = self.views.get(chat_id)
        if view is None:
            return
        self.stack.setCurrentWidget(view)
        self.sidebar.select(chat_id)
        view.input.focus()

    def _step_chat(self, step: int) -> None:
        ids = self.sidebar.chat_ids(visible_only=True)
        if not ids:
            return
        current = self.current_chat
        index = ids.index(current.chat_id) if current and current.chat_id in ids else -1
        self.show_chat(ids[(index + step) % len(ids)])

    def _view_changed(self, _index: int) -> None:
        self.mark_shown_read()
        self._update_encryption()

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt override)
        """Mark the current chat read when the window comes back to the front."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.ActivationChange and self.isActiveWindow():
            self.mark_shown_read()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt override)
        """Close the dialogs and the client (which disconnects) with the window."""
        for dialog in self.dialogs:
            dialog.close()
        self.bridge.close()
        super().closeEvent(event)

    # ------------------------------------------------------------------ chats

    def chat_of(self, session_id: str) -> Chat | None:
        """The open chat of a session, if any."""
        return self.model.book.find(session_id)

    def open_chat(self, info: m.SessionInfo, line: str = "") -> Chat | None:
        """Open a new chat for a session we created, joined, called or answered.

        Returns:
            The new chat, or ``None`` when the session already has a chat: that chat is left
            exactly as it was (a new session never replaces or merges into it).
        """
        chat, changes = self.model.open_session(info, line)
        if chat is None:
            self.status.showMessage(
                "That session already has a chat here; the chat was kept as it is.", _MESSAGE_MS
            )
            return None
        cid = chat.chat_id
        view = ChatView(cid)
        view.send_requested.connect(lambda text: self.send_message(cid, text))
        view.verify_requested.connect(lambda: self.verify(cid))
        view.leave_requested.connect(lambda: self.confirm_leave(cid))
        view.destroy_requested.connect(lambda: self.confirm_destroy(cid))
        view.retry_requested.connect(lambda bubble: self.retry(cid, bubble))
        view.rename_requested.connect(lambda: self.rename(cid))
        view.messages.set_pending_reason(self.pending_reason)
        self.views[cid] = view
        self.stack.addWidget(view)
        draw(self, changes)
        return chat

    def refresh_chat(self, chat_id: str) -> None:
        """Show a chat's state in its header, the sidebar and the status bar."""
        chat = self.model.book.get(chat_id)
        view = self.views.get(chat_id)
        if chat is None or view is None:
            return
        if chat.ended is not None:
            view.set_closed(chat.subtitle)
        else:
            view.set_header(
                chat.title,
                chat.subtitle,
                can_verify=chat.next_to_verify() is not None,
                derived=chat.derived_names,
            )
        self.sidebar.upsert(ChatSummary(chat_id, chat.title, chat.preview, chat.unread))
        self._update_encryption()

    def close_chat(self, chat_id: str) -> None:
        """Forget a chat: the model's and everything shown of it."""
        draw(self, self.model.close(chat_id))

    def remove_chat_view(self, chat_id: str) -> None:
        """Take a closed chat's view and sidebar row away."""
        view = self.views.pop(chat_id, None)
        self.sidebar.remove(chat_id)
        if view is not None:
            if self.stack.currentWidget() is view:
                self.stack.setCurrentWidget(self.welcome)
            self.stack.removeWidget(view)
            view.deleteLater()
        self._update_encryption()

    def mark_shown_read(self) -> None:
        """Send read receipts for the unread messages of the chat on screen."""
        view = self.current_chat
        if view is None or not self.isVisible() or self.isMinimized():
            return
        chat = self.model.book.get(view.chat_id)
        if chat is None or not chat.unread:
            return
        ids = self.model.take_unread(chat.chat_id)
        sid = chat.session_id
        if ids:
            self.bridge.submit(lambda: self.client.mark_read(sid, ids))
        self.refresh_chat(chat.chat_id)

    def _update_encryption(self) -> None:
        view = self.current_chat
        chat = self.model.book.get(view.chat_id) if view else None
        if chat is None:
            self.status.set_encrypted(encrypted=False)
        elif chat.encrypted:
            self.status.set_encrypted(encrypted=True)
        else:
            self.status.set_encrypted(encrypted=False, detail="Keys not authenticated yet")

    def add_system(self, chat_id: str, text: str) -> None:
        """Show a system line in a chat (and as its sidebar preview)."""
        draw(self, self.model.add_line(chat_id, text))

    # ------------------------------------------------------------------ user actions

    def create_session(self) -> None:
        """Create a session and show its invite code (or say why not now)."""
        self.show_session_panel()
        self.session_panel.set_create_busy(True)

        def done(info: m.SessionInfo) -> None:
            self.session_panel.set_create_busy(False)
            chat = self.open_chat(info)
            if chat is None:
                return
            self.awaiting_first_peer = chat.chat_id
            self.session_panel.show_invite(
                info.invite_code, "Waiting for someone to join with this code…"
            )

        def failed(exc: BaseException) -> None:
            self.session_panel.set_create_busy(False)
            if isinstance(exc, ConnectionClosedError):
                text = not_connected("create a session", str(exc), _WHERE)
                self.session_panel.show_invite(None, text, error=True)
                return
            reason = describe_exception(exc)
            self.session_panel.show_invite(None, f"Could not create a session: {reason}")

        self.bridge.submit(self.client.create_session, done, failed)

    def join_session(self, code: str) -> None:
        """Join with an invite code; open the chat once the creator authenticated us."""
        field = self.session_panel.join_field
        start = lambda: self.client.join_session(code)  # noqa: E731 (a one-line command)
        self._open_from_field(field, start, "join", "Could not join")

    def call(self, quickokey: str) -> None:
        """Call a QuickoKey; open the chat when the callee accepts."""
        panel = self.session_panel
        field = panel.call_field
        attempt = object()
        self._calling = attempt
        self._cancel_wanted = False
        field.set_busy(True)
        field.show_error("")
        panel.show_calling(display_name(parse_quickokey(quickokey)))

        def done(info: m.SessionInfo) -> None:
            self.model.call_over()
            if self._calling is not attempt:
                # The callee accepted before our cancel reached it: hang up at once, so it
                # does not sit in a chat nobody answers.
                sid = info.session_id
                self.bridge.submit(lambda: self.client.leave_session(sid))
                return
            self._end_call(field)
            field.clear()
            chat = self.open_chat(info)
            if chat is not None:
                self.show_chat(chat.chat_id)

        def failed(exc: BaseException) -> None:
            self.model.call_over()
            if self._calling is not attempt:
                return  # cancelled: the field says so already
            self._end_call(field)
            if isinstance(exc, ConnectionClosedError):
                field.show_error(not_connected("call", str(exc), _WHERE))
            else:
                field.show_error(f"Call not connected: {describe_exception(exc)}")

        self.bridge.submit(lambda: self.client.call(quickokey), done, failed)

    def cancel_call(self) -> None:
        """Stop calling: the client tells the callee, whose ring ends at once.

        Before the client reported the call ringing there is no call id yet: the cancel goes
        out when it does (:meth:`handle_event`). An answer that crossed the cancel is hung up.
        """
        if self._calling is None:
            return
        ringing = self.model.outgoing
        if ringing is None:
            self._cancel_wanted = True
        else:
            self._cancel(ringing.call_id)
            self.model.call_over()
        field = self.session_panel.call_field
        self._end_call(field)
        field.show_error("Call cancelled.")

    def _cancel(self, call_id: str) -> None:
        self.bridge.submit(lambda: self.client.cancel_call(call_id))

    def _end_call(self, field: ValidatedField) -> None:
        self._calling = None
        self.session_panel.hide_calling()
        field.set_busy(False)

    def _open_from_field(
        self,
        field: ValidatedField,
        start: Callable[[], Awaitable[m.SessionInfo]],
        action: str,
        failure: str,
    ) -> None:
        """Run ``start`` off the UI thread with ``field`` busy; open its chat, or show why not."""
        field.set_busy(True)
        field.show_error("")

        def done(info: m.SessionInfo) -> None:
            field.set_busy(False)
            field.clear()
            chat = self.open_chat(info)
            if chat is not None:
                self.show_chat(chat.chat_id)

        def failed(exc: BaseException) -> None:
            field.set_busy(False)
            if isinstance(exc, ConnectionClosedError):
                field.show_error(not_connected(action, str(exc), _WHERE))
            else:
                field.show_error(f"{failure}: {describe_exception(exc)}")

        self.bridge.submit(start, done, failed)

    def send_message(self, chat_id: str, text: str) -> None:
        """Send a message to a chat; its bubble appears when the client has queued it."""
        chat = self.model.book.get(chat_id)
        if chat is None:
            return
        session_id = chat.session_id

        def done(message: ChatMessage) -> None:
            self.show_message(chat_id, message)

        def failed(exc: BaseException) -> None:
            self.status.showMessage(f"Not sent: {describe_exception(exc)}", _MESSAGE_MS)

        self.bridge.submit(lambda: self.client.send_message(session_id, text), done, failed)

    def retry(self, chat_id: str, bubble: MessageBubble) -> None:
        """Send a failed message again: same id, same place, pending again."""
        chat = self.model.book.get(chat_id)
        if chat is None or bubble.status is not DeliveryStatus.FAILED:
            return
        session_id, message_id = chat.session_id, bubble.message_id.hex()

        def done(message: ChatMessage) -> None:
            draw(self, self.model.retried(chat_id, message))

        def failed(exc: BaseException) -> None:
            self.status.showMessage(f"Not sent again: {describe_exception(exc)}", _MESSAGE_MS)

        self.bridge.submit(lambda: self.client.retry_message(session_id, message_id), done, failed)

    def retry_current(self) -> None:
        """Send again every failed message of the chat shown (Ctrl+R)."""
        view = self.current_chat
        if view is None:
            return
        failed = view.messages.failed()
        if not failed:
            self.status.showMessage("No failed message to send again here.", _MESSAGE_MS)
        for bubble in failed:
            self.retry(view.chat_id, bubble)

    def show_message(self, chat_id: str, message: ChatMessage) -> None:
        """Show a sent or received message (a received one counts as unread until shown)."""
        draw(self, self.model.add_message(chat_id, message))

    def verify(self, chat_id: str) -> None:
        """Show the safety number of the next member to verify."""
        chat = self.model.book.get(chat_id)
        peer = chat.next_to_verify() if chat else None
        if chat is None or peer is None or peer.safety_number is None:
            return
        dialog = SafetyNumberDialog(
            chat.name_of(peer), peer.safety_number, verified=peer.verified, parent=self
        )
        address = peer.address
        dialog.confirmed.connect(lambda: self.mark_verified(chat_id, address))
        self.open_dialog(dialog)

    def rename(self, chat_id: str) -> None:
        """Let the user give a member of a chat a name of their own (memory only)."""
        chat = self.model.book.get(chat_id)
        if chat is None:
            return
        members = [
            (peer.address, peer.shown_name, chat.local_names.get(peer.address, ""))
            for peer in chat.peers.values()
            if peer.authenticated
        ]
        if not members:
            self.status.showMessage("Nobody to name here yet.", _MESSAGE_MS)
            return
        dialog = RenameDialog(members, parent=self)
        dialog.renamed.connect(lambda address, name: self.set_local_name(chat_id, address, name))
        dialog.open()
        self.rename_dialog = dialog

    def rename_current(self) -> None:
        """Name a member of the chat shown (F2)."""
        view = self.current_chat
        if view is not None:
            self.rename(view.chat_id)

    def set_local_name(self, chat_id: str, address: str, name: str) -> None:
        """Name a member in one chat ("" removes the name); kept in memory only."""
        draw(self, self.model.set_local_name(chat_id, address, name))

    def verify_current(self) -> None:
        """Verify a member of the chat shown."""
        view = self.current_chat
        if view is not None:
            self.verify(view.chat_id)

    def mark_verified(self, chat_id: str, address: str) -> None:
        """Record that the user compared a member's safety number."""
        chat = self.model.book.get(chat_id)
        if chat is None:
            return
        session_id = chat.session_id

        async def mark() -> None:
            self.client.mark_verified(session_id, address)

        def done(_result: None) -> None:
            draw(self, self.model.mark_verified(chat_id, address))

        self.bridge.submit(mark, done)

    def leave_chat(self, chat_id: str) -> None:
        """Leave a chat."""
        chat = self.model.book.get(chat_id)
        if chat is not None:
            session_id = chat.session_id
            self.bridge.submit(lambda: self.client.leave_session(session_id))
        self.close_chat(chat_id)

    def leave_current(self) -> None:
        """Leave the chat shown (after asking)."""
        view = self.current_chat
        if view is not None:
            self.confirm_leave(view.chat_id)

    def confirm_leave(self, chat_id: str) -> None:
        """Ask, then leave a chat."""
        chat = self.model.book.get(chat_id)
        if chat is None:
            return
        who = chat.title if chat.peers else "this chat"
        box = ConfirmDialog(
            "Leave this chat?",
            f"You leave the chat with {who}; its messages are gone from this app and you "
            "cannot come back to it.",
            "Leave",
            name="confirmLeave",
            parent=self,
        )
        box.confirmed.connect(lambda: self.leave_chat(chat_id))
        box.open()
        self.confirm_box = box

    def confirm_destroy(self, chat_id: str) -> None:
        """Ask, then destroy a chat (leave, and wipe its keys and messages)."""
        box = ConfirmDialog(
            "Destroy this chat?",
            "Leave this chat and wipe its keys and messages from this app?",
            "Destroy",
            name="confirmDestroy",
            parent=self,
        )
        box.confirmed.connect(lambda: self.destroy_chat(chat_id))
        box.open()
        self.confirm_box = box

    def destroy_chat(self, chat_id: str) -> None:
        """Destroy a chat without asking."""
        chat = self.model.book.get(chat_id)
        if chat is not None:
            session_id = chat.session_id
            self.bridge.submit(lambda: self.client.destroy_session(session_id))
        self.close_chat(chat_id)

    def open_dialog(self, dialog: IncomingCallDialog | SafetyNumberDialog) -> None:
        """Show a non-blocking dialog and keep it until it closes."""
        self.dialogs.append(dialog)
        dialog.finished.connect(lambda _code: self._forget_dialog(dialog))
        dialog.show()

    def _forget_dialog(self, dialog: IncomingCallDialog | SafetyNumberDialog) -> None:
        if dialog in self.dialogs:
            self.dialogs.remove(dialog)

    # ------------------------------------------------------------------ identity

    def show_identity(self, info: m.QuickoKeyInfo, *, words_written: bool = False) -> None:
        """Show an identity in the identity panel and on the sidebar button."""
        self.identity_panel.set_identity(
            info.quickokey, info.display_name, info.seed_phrase, words_written=words_written
        )
        self.sidebar.identity_button.setText(info.display_name or "Identity")

    def generate_quickokey(self) -> None:
        """Replace the identity with a new long-term QuickoKey (asking first if it loses much)."""
        self.confirm_replace(
            lambda: self._identity_call(
                self.client.generate_quickokey,
                "New QuickoKey. Show its seed phrase and write the 16 words down.",
            )
        )

    def recover_quickokey(self, phrase: str) -> None:
        """Replace the identity with the one of a seed phrase (asking first if it loses much)."""
        self.confirm_replace(
            lambda: self._identity_call(
                lambda: self.client.recover_quickokey(phrase),
                "Identity recovered.",
                recovering=True,
            )
        )

    def confirm_replace(self, replace: Callable[[], None]) -> None:
        """Run ``replace`` at once if nothing would be lost, else after the user confirms.

        Replacing the identity closes every open chat, and a QuickoKey whose words were not
        confirmed as written down is gone for good (issue 12, item 2).
        """
        panel = self.identity_panel
        question = replace_question(
            open_chats=len(self.model.book),
            long_term=panel.long_term,
            words_written=panel.words_written,
        )
        if question is None:
            replace()
            return
        title, text = question
        box = ConfirmDialog(title, text, "Replace", name="confirmReplace", parent=self)
        box.confirmed.connect(replace)
        box.open()
        self.confirm_box = box

    def _identity_call(
        self,
        call: Callable[[], Awaitable[m.QuickoKeyInfo]],
        message: str,
        *,
        recovering: bool = False,
    ) -> None:
        panel = self.identity_panel
        panel.set_busy(True)

        def done(info: m.QuickoKeyInfo) -> None:
            panel.set_busy(False)
            self.show_identity(info, words_written=recovering)
            panel.show_status(message)
            if recovering:
                panel.clear_recovery()

        def failed(exc: BaseException) -> None:
            panel.set_busy(False)
            if recovering:
                panel.show_recover_error(describe_exception(exc))
            else:
                panel.show_status(describe_exception(exc))

        self.bridge.submit(call, done, failed)

    def register_key(self) -> None:
        """Register the QuickoKey on the relay's directory."""
        panel = self.identity_panel
        panel.set_busy(True)

        def done(_result: None) -> None:
            panel.set_busy(False)
            panel.show_status("Registered: people can call you by your QuickoKey on this relay.")

        def failed(exc: BaseException) -> None:
            panel.set_busy(False)
            panel.show_status(f"Not registered: {describe_exception(exc)}")

        self.bridge.submit(self.client.register_key, done, failed)
