"""The presenter: draws the shared model's changes on the main screen.

The chats, the connection and the ringing calls live in :class:`quicko.appmodel.AppModel`
(pure, shared with the desktop app). The presenter feeds it the client's events and the app's
results with the time, and redraws exactly what each returned change names; the changes that
are not about the main screen (a call ringing or gone, a notice) go back to the app. Every
change of the model and the widgets happens under one lock, so two updates never interleave
(opening a chat re-mounts its rows, which takes several steps).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from quicko.appmodel import (
    AppModel,
    CallArrived,
    CallGone,
    Change,
    Chat,
    ChatBook,
    ChatChanged,
    ChatClosed,
    ChatReady,
    ConnectionChanged,
    ConnectionState,
    Entry,
    EntryAdded,
    Notice,
    ResyncNeeded,
    StatusUpdated,
    SystemLine,
)
from quicko.client import models as ev
from quicko.messaging import ChatMessage
from quicko.tui.screens.main import MainScreen
from quicko.tui.widgets import MessageLog, StatusLine, clock_ms

__all__ = ["AppChange", "ChatPresenter"]

AppChange = CallArrived | CallGone | ResyncNeeded | Notice
"""The changes the app handles itself (dialogs and notifications)."""


class ChatPresenter:
    """The shared model and the main screen, updated together.

    Args:
        main: the main screen.
        mark_read: sends read receipts for a session's message ids.
        main_on_top: whether the main screen has no dialog over it.
        model: the model (its relay URL and ring time set by the app).

    Attributes:
        model: the chats, the connection and the ringing calls.
    """

    def __init__(
        self,
        main: MainScreen,
        mark_read: Callable[[str, list[str]], None],
        main_on_top: Callable[[], bool],
        model: AppModel,
    ) -> None:
        self.model = model
        self._main = main
        self._mark_read = mark_read
        self._main_on_top = main_on_top
        self._lock = asyncio.Lock()  # binds to the running loop on first use

    @property
    def book(self) -> ChatBook:
        """The open chats."""
        return self.model.book

    @property
    def connection(self) -> ConnectionState:
        """The relay connection."""
        return self.model.connection

    # ------------------------------------------------------------------ inputs

    async def event(self, event: ev.ClientEvent) -> list[AppChange]:
        """Apply one client event; return the changes for the app."""
        async with self._lock:
            return await self._draw(self.model.apply(event, clock_ms()))

    async def timeout(self) -> list[AppChange]:
        """Let the model act on its deadline (ringing calls); return the changes for the app."""
        async with self._lock:
            return await self._draw(self.model.handle_timeout(clock_ms()))

    async def open_session(self, info: ev.SessionInfo, line: str) -> Chat | None:
        """Add a chat for a session we created, joined or answered, and show it.

        Returns:
            The new chat, or ``None`` when the session already has a chat: that chat is left
            as it was (a new session never replaces or merges into it).
        """
        async with self._lock:
            chat, changes = self.model.open_session(info, line)
            if chat is None:
                return None
            await self._draw(changes)
            await self._show(chat)
            return chat

    async def add_message(self, chat_id: str, entry: Entry) -> None:
        """Add a message we sent (or a system line) to a chat, if it is still open."""
        async with self._lock:
            if isinstance(entry, ChatMessage):
                changes = self.model.add_message(chat_id, entry)
            else:
                changes = self.model.add_line(chat_id, entry.text, warning=entry.warning)
            await self._draw(changes)

    async def apply(self, update: Callable[[AppModel], list[Change]]) -> None:
        """Run one of the model's own inputs (``model.mark_verified``, …) and draw it."""
        async with self._lock:
            await self._draw(update(self.model))

    async def show_chat(self, chat_id: str) -> None:
        """Show a chat (if still open) and mark its messages read."""
        async with self._lock:
            chat = self.book.get(chat_id)
            if chat is not None:
                await self._show(chat)

    async def close(self, chat_ids: list[str]) -> None:
        """Forget chats (their sessions' events are dropped from now on); show another or none."""
        async with self._lock:
            for chat_id in chat_ids:
                await self._draw(self.model.close(chat_id))

    # ------------------------------------------------------------------ drawing

    async def _draw(self, changes: list[Change]) -> list[AppChange]:
        rest: list[AppChange] = []
        for change in changes:
            match change:
                case ConnectionChanged():
                    self._connection_changed()
                case EntryAdded(chat_id=chat_id, entry=entry):
                    await self._entry_added(chat_id, entry)
                case StatusUpdated(chat_id=chat_id, message=message, reason=reason):
                    row = self._main.chat_view.log_widget.row_of(message.message_id.hex())
                    if self._shown(chat_id) and row is not None:
                        row.set_status(message, reason)
                case ChatChanged(chat_id=chat_id):
                    await self._refresh_chat(chat_id)
                case ChatClosed(chat_id=chat_id):
                    await self._closed(chat_id)
                case ChatReady():
                    pass  # the header and the status line follow ChatChanged
                case CallArrived() | CallGone() | ResyncNeeded() | Notice():
                    rest.append(change)
        return rest

    def _connection_changed(self) -> None:
        """Show a new connection state, and on pending messages whether they wait for it."""
        log = self._log()
        if log is not None:
            log.set_waiting(not self.connection.connected)
        self.refresh_status()

    def _log(self) -> MessageLog | None:
        """The message log, or ``None`` while the screen is being built or taken down.

        Connection events arrive from a worker at any time, also while the app starts or quits.
        """
        logs = self._main.query(MessageLog) if self._main.is_mounted else None
        return logs.first() if logs else None

    def refresh_status(self) -> None:
        """Redraw the status line: the connection and the shown chat's encryption.

        A connection event can arrive while the main screen is not mounted (the app starting
        or quitting): the state is kept and drawn by the app's ``on_mount``.
        """
        lines = self._main.query(StatusLine) if self._main.is_mounted else None
        if not lines:
            return
        status = lines.first()
        status.set_connection(self.connection)
        chat = self.book.active_chat
        if chat is None:
            status.set_encryption(None)
        elif not chat.peers:
            status.set_encryption(chat.encrypted, " — waiting for a peer")
        else:
            status.set_encryption(chat.encrypted, " — peer not authenticated")

    async def _entry_added(self, chat_id: str, entry: Entry) -> None:
        if not self._shown(chat_id):
            return
        await self._main.chat_view.log_widget.add(entry)
        if isinstance(entry, ChatMessage) and not entry.outgoing:
            chat = self.book.get(chat_id)
            if chat is not None:
                self._mark_read_if_shown(chat)

    async def _refresh_chat(self, chat_id: str) -> None:
        chat = self.book.get(chat_id)
        if chat is None:
            return
        await self._main.chat_list.show_chat(chat)
        if self._shown(chat_id):
            self._main.chat_view.show_header(chat)
            self.refresh_status()

    async def _closed(self, chat_id: str) -> None:
        await self._main.chat_list.drop_chat(chat_id)
        following = self.book.active_chat
        if following is None:
            self._main.show_welcome()
            self.refresh_status()
        elif not self._shown(following.chat_id):
            await self._show(following)

    async def _show(self, chat: Chat) -> None:
        self.book.active = chat.chat_id
        await self._main.chat_view.open_chat(chat)
        self._main.show_chat_view()
        self._main.chat_list.highlight(chat.chat_id)
        self._mark_read_if_shown(chat)
        await self._refresh_chat(chat.chat_id)

    def _shown(self, chat_id: str) -> bool:
        return self._main.chat_view.chat_id == chat_id

    def mark_shown_read(self) -> None:
        """Mark the shown chat's messages read (after a dialog closed)."""
        chat = self.book.active_chat
        if chat is not None:
            self._mark_read_if_shown(chat)
            self._main.chat_view.show_header(chat)
            self.refresh_status()

    def _mark_read_if_shown(self, chat: Chat) -> None:
        if not self._shown(chat.chat_id) or not self._main_on_top():
            return
        message_ids = self.model.take_unread(chat.chat_id)
        item = self._main.chat_list.item_of(chat.chat_id)
        if item is not None:
            item.show(chat)
        if message_ids:
            self._mark_read(chat.session_id, message_ids)


_ = SystemLine  # re-exported for the app's lines
