"""How the main window draws the shared model's changes (one ``match`` over the change union).

The chats, the connection and the ringing calls live in :class:`quicko.appmodel.AppModel`
(pure, shared with the terminal app); the window feeds it client events with the time and
hands every returned change here. Nothing here decides what a chat holds or how a person is
named: that is the model's (DESIGN.md §4.3).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from quicko.appmodel import (
    CallArrived,
    CallGone,
    Change,
    ChatChanged,
    ChatClosed,
    ChatReady,
    ConnectionChanged,
    Entry,
    EntryAdded,
    Notice,
    ResyncNeeded,
    RingingCall,
    StatusUpdated,
    SystemLine,
)
from quicko.client import models as m
from quicko.messaging import ChatMessage
from quicko.ui.qt.bridge import describe_exception
from quicko.ui.qt.widgets.dialogs import IncomingCallDialog

if TYPE_CHECKING:
    from quicko.ui.qt.main_window import MainWindow

__all__ = ["draw"]

_STATUS_MS: Final = 8000


def draw(window: MainWindow, changes: list[Change]) -> None:
    """Show each change on the window, in order."""
    for change in changes:
        match change:
            case ConnectionChanged(connection=connection):
                window.status.set_connection(connection)
                reason = window.pending_reason
                for view in window.views.values():
                    view.messages.set_pending_reason(reason)
            case EntryAdded(chat_id=chat_id, entry=entry):
                _entry_added(window, chat_id, entry)
            case StatusUpdated(chat_id=chat_id, message=message, reason=reason):
                shown = window.views.get(chat_id)
                if shown is not None:
                    shown.update_status(message.message_id, message.status, reason)
            case ChatChanged(chat_id=chat_id):
                window.refresh_chat(chat_id)
            case ChatReady(chat_id=chat_id):
                if window.awaiting_first_peer == chat_id:
                    window.awaiting_first_peer = None
                    if window.stack.currentWidget() is window.session_panel:
                        window.show_chat(chat_id)
            case ChatClosed(chat_id=chat_id):
                window.remove_chat_view(chat_id)
            case CallArrived(call=call):
                _incoming_call(window, call)
            case CallGone(call=call, text=text, decline=decline):
                _call_gone(window, call, text, decline=decline)
            case ResyncNeeded(session_ids=session_ids):
                for session_id in session_ids:
                    _resync(window, session_id)
            case Notice(text=text):
                window.status.showMessage(text, _STATUS_MS)


def _entry_added(window: MainWindow, chat_id: str, entry: Entry) -> None:
    view = window.views.get(chat_id)
    chat = window.model.book.get(chat_id)
    if view is None or chat is None:
        return
    if isinstance(entry, SystemLine):
        view.add_system(entry.text)
        return
    view.add_message(entry, show_sender=chat.is_group)
    if not entry.outgoing and window.current_chat is view:
        window.mark_shown_read()


def _incoming_call(window: MainWindow, call: RingingCall) -> None:
    dialog = IncomingCallDialog(
        call.call_id,
        call.display_name,  # never the name the caller claims
        call.caller_quickokey,
        call.safety_number,
        claimed_name=call.claimed_name,
        ring_ms=max(0, call.deadline_ms - window.now_ms()),
        expire_itself=False,  # the model's deadline and the client's CallEnded end it
        parent=window,
    )
    call_id = call.call_id

    def answered(accept: bool) -> None:
        window.model.answered(call_id)

        def done(info: m.SessionInfo | None) -> None:
            chat = None if info is None else window.open_chat(info)
            if chat is not None:
                window.show_chat(chat.chat_id)

        def failed(exc: BaseException) -> None:
            window.status.showMessage(f"Call failed: {describe_exception(exc)}", _STATUS_MS)

        window.bridge.submit(lambda: window.client.answer_call(call_id, accept), done, failed)

    dialog.answered.connect(answered)
    # A click after the deadline closes the dialog at once; the model says why (CallGone).
    dialog.expired.connect(window.wake_model)
    window.open_dialog(dialog)
    window.schedule_deadline()


def _call_gone(window: MainWindow, call: RingingCall, text: str, *, decline: bool) -> None:
    for dialog in list(window.dialogs):
        if isinstance(dialog, IncomingCallDialog) and dialog.call_id == call.call_id:
            dialog.expire()
    # Stays in the status bar until the next message: a missed call, not a passing note.
    window.status.showMessage(text, 0)
    if decline:  # only the app's own ring time ran out: declining makes the client forget it
        call_id = call.call_id
        window.bridge.submit(lambda: window.client.answer_call(call_id, False))


def _resync(window: MainWindow, session_id: str) -> None:
    """Read a session's messages and members on the client's loop, then hand them to the model."""

    async def read() -> tuple[list[ChatMessage], m.SessionInfo | None]:
        sessions = window.client.sessions()
        session = next((s for s in sessions if s.session_id == session_id), None)
        return window.client.messages(session_id), session

    def done(held: tuple[list[ChatMessage], m.SessionInfo | None]) -> None:
        messages, session = held
        draw(window, window.model.resync(session_id, messages, session))

    window.bridge.submit(read, done)
