"""The presenter: keeps the chat book and the main screen's widgets in step with client events.

It knows nothing of the client but two callbacks (send read receipts; whether a dialog is
open); the app (:mod:`quicko.tui.app`) calls the client and hands the results here. Every
change of the book and the widgets happens under one lock, so two updates never interleave
(opening a chat re-mounts its rows, which takes several steps).

Events for a session that is not open yet — a join or a call still under way — are kept
(at most :data:`MAX_ORPHAN_EVENTS`) and applied when the session opens; events for a session
we left are dropped.

Chats are keyed by the book's local ids; client events name a session and are routed to the
chat of that session. Opening a session that already has a chat is refused
(:meth:`ChatPresenter.open_session` returns ``None``) and never touches that chat. People are
named by their addresses, never by the names they claim, and a member not authenticated yet is
never named at all (:mod:`quicko.tui.state`).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import Final

from quicko.client import models as ev
from quicko.identity import display_name
from quicko.tui.screens.main import MainScreen
from quicko.tui.state import Chat, ChatBook, Entry, Peer, SystemLine
from quicko.tui.widgets import ConnectionView, MessageLog, StatusLine

__all__ = ["MAX_ORPHAN_EVENTS", "SESSION_EVENTS", "ChatPresenter", "SessionEvent", "to_peer"]

MAX_ORPHAN_EVENTS: Final = 256
"""Events kept for sessions not opened yet."""

SESSION_EVENTS: Final = (
    ev.SessionReady,
    ev.PeerJoined,
    ev.PeerLeft,
    ev.PeerAuthenticated,
    ev.PeerRefused,
    ev.MessageReceived,
    ev.StatusChanged,
    ev.KeyChanged,
    ev.InviteRetired,
    ev.SessionFailed,
)
"""The client events the presenter applies to a chat."""

SessionEvent = (
    ev.SessionReady
    | ev.PeerJoined
    | ev.PeerLeft
    | ev.PeerAuthenticated
    | ev.PeerRefused
    | ev.MessageReceived
    | ev.StatusChanged
    | ev.KeyChanged
    | ev.InviteRetired
    | ev.SessionFailed
)
"""One of :data:`SESSION_EVENTS`."""

_log = logging.getLogger(__name__)

_KEY_CHANGED: Final = (
    "⚠ Someone presented different keys for {}; they were refused. Compare safety numbers."
)


def to_peer(info: ev.PeerInfo) -> Peer:
    """The app's view of a client's :class:`~quicko.client.models.PeerInfo` (named by address)."""
    return Peer.from_info(info)


def _session_id(event: SessionEvent) -> str:
    return event.session.session_id if isinstance(event, ev.SessionReady) else event.session_id


class ChatPresenter:
    """The chat book and the main screen, updated together.

    Args:
        main: the main screen.
        mark_read: sends read receipts for a session's message ids.
        main_on_top: whether the main screen has no dialog over it.

    Attributes:
        book: the open chats.
        connection: what the status line shows about the relay connection.
    """

    def __init__(
        self,
        main: MainScreen,
        mark_read: Callable[[str, list[str]], None],
        main_on_top: Callable[[], bool],
    ) -> None:
        self.book = ChatBook()
        self.connection = ConnectionView()
        self._main = main
        self._mark_read = mark_read
        self._main_on_top = main_on_top
        self._lock = asyncio.Lock()  # binds to the running loop on first use
        self._orphans: deque[SessionEvent] = deque(maxlen=MAX_ORPHAN_EVENTS)
        self._left: set[str] = set()

    # ------------------------------------------------------------------ status line

    def set_connection(self, connection: ConnectionView) -> None:
        """Show a new connection state, and on pending messages whether they wait for it."""
        self.connection = connection
        log = self._log()
        if log is not None:
            log.set_marks(waiting=connection.state != "connected", retried=log.retried)
        self.refresh_status()

    def _log(self) -> MessageLog | None:
        """The message log, or ``None`` while the screen is being built or taken down.

        Connection events arrive from a worker at any time, also while the app starts or quits.
        """
        logs = self._main.query(MessageLog) if self._main.is_mounted else None
        return logs.first() if logs else None

    def mark_retried(self, chat: Chat, message_ids: list[str]) -> None:
        """Record failed messages sent again, and show it if the chat is on screen."""
        chat.retried.update(message_ids)
        log = self._log()
        if log is not None and self._shown(chat):
            log.set_marks(waiting=log.waiting, retried=chat.retried)

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

    # ------------------------------------------------------------------ events

    async def session_event(self, event: SessionEvent) -> None:
        """Apply a session event to its chat (or keep it until the chat opens)."""
        session_id = _session_id(event)
        if session_id in self._left:
            return
        async with self._lock:
            chat = self.book.find(session_id)
            if chat is None:
                self._orphans.append(event)
                return
            await self._apply(chat, event)

    async def _apply(self, chat: Chat, event: SessionEvent) -> None:
        match event:
            case ev.SessionReady(session=session) if session.role != chat.role:
                # Another session under this chat's id: never merged into the chat.
                _log.warning("ignored a session report that does not match its chat's role")
            case ev.SessionReady(session=session):
                for info in session.peers:
                    await self._peer_update(chat, to_peer(info))
            case ev.PeerJoined(peer=info) | ev.PeerAuthenticated(peer=info):
                await self._peer_update(chat, to_peer(info))
            case ev.PeerLeft(address=address, reason=reason):
                await self._add(
                    chat, SystemLine(_left_line(chat, chat.remove_peer(address), reason))
                )
            case ev.PeerRefused(reason=reason):
                await self._add(chat, SystemLine(f"A member was refused: {reason}", warning=True))
            case ev.MessageReceived(message=message):
                await self._add(chat, message)
                self._mark_read_if_shown(chat)
            case ev.StatusChanged(message_id=message_id, status=status):
                updated = chat.update_status(message_id, status)
                row = self._main.chat_view.log_widget.row_of(message_id)
                if updated is not None and self._shown(chat) and row is not None:
                    row.set_status(updated)
            case ev.KeyChanged(address=address):
                name = display_name(bytes.fromhex(address))
                await self._add(chat, SystemLine(_KEY_CHANGED.format(name), warning=True))
            case ev.InviteRetired():
                chat.invite_code = None
                line = "Too many wrong codes: the invite code works no more."
                await self._add(chat, SystemLine(line, warning=True))
            case ev.SessionFailed(reason=reason):
                chat.ended = reason
                await self._add(chat, SystemLine(f"The session ended: {reason}", warning=True))
        await self._refresh_chat(chat)

    async def _peer_update(self, chat: Chat, peer: Peer) -> None:
        old = chat.peers.get(peer.address)
        chat.add_peer(peer)
        if old is None and not peer.authenticated:
            await self._add(chat, SystemLine(chat.name_of(peer)))
        if peer.authenticated and (old is None or not old.authenticated):
            name = chat.name_of(peer)
            line = f"{name} joined: authenticated, messages are end-to-end encrypted"
            await self._add(chat, SystemLine(line))

    # ------------------------------------------------------------------ chats

    async def open_session(self, info: ev.SessionInfo, line: str) -> Chat | None:
        """Add a chat for a session we created, joined or answered, and show it.

        Returns:
            The new chat, or ``None`` when the session already has a chat: that chat is left
            as it was (a new session never replaces or merges into it).
        """
        async with self._lock:
            chat = self.book.open(info.session_id, info.role, info.invite_code)
            if chat is None:
                return None
            self._left.discard(info.session_id)
            await self._add(chat, SystemLine(line))
            for peer in info.peers:
                await self._peer_update(chat, to_peer(peer))
            waiting = [event for event in self._orphans if _session_id(event) == info.session_id]
            for event in waiting:
                self._orphans.remove(event)
                await self._apply(chat, event)
            await self._refresh_chat(chat)
            await self._show(chat)
            return chat

    async def show_chat(self, chat_id: str) -> None:
        """Show a chat (if still open) and mark its messages read."""
        async with self._lock:
            chat = self.book.get(chat_id)
            if chat is not None:
                await self._show(chat)

    async def _show(self, chat: Chat) -> None:
        self.book.active = chat.chat_id
        await self._main.chat_view.open_chat(chat)
        self._main.show_chat_view()
        self._main.chat_list.highlight(chat.chat_id)
        self._mark_read_if_shown(chat)
        await self._refresh_chat(chat)

    async def add_message(self, chat_id: str, entry: Entry) -> None:
        """Add a message we sent (or a system line) to a chat, if it is still open."""
        async with self._lock:
            chat = self.book.get(chat_id)
            if chat is not None:
                await self._add(chat, entry)
                await self._refresh_chat(chat)

    async def close(self, chat_ids: list[str]) -> None:
        """Forget chats (their sessions' events are dropped from now on); show another or none."""
        async with self._lock:
            for chat_id in chat_ids:
                chat = self.book.close(chat_id)
                if chat is not None:
                    self._left.add(chat.session_id)
                await self._main.chat_list.drop_chat(chat_id)
            following = self.book.active_chat
            if following is None:
                self._main.show_welcome()
                self.refresh_status()
            else:
                await self._show(following)

    def verified(self, chat: Chat, address: str) -> Peer | None:
        """Record a verified peer; return it (``None`` if it left)."""
        chat.mark_verified(address)
        return chat.peers.get(address)

    # ------------------------------------------------------------------ helpers

    def _shown(self, chat: Chat) -> bool:
        return self._main.chat_view.chat_id == chat.chat_id

    async def _add(self, chat: Chat, entry: Entry) -> None:
        chat.add(entry)
        if self._shown(chat):
            await self._main.chat_view.log_widget.add(chat.entries[-1])

    async def _refresh_chat(self, chat: Chat) -> None:
        await self._main.chat_list.show_chat(chat)
        if self._shown(chat):
            self._main.chat_view.show_header(chat)
            self.refresh_status()

    def mark_shown_read(self) -> None:
        """Mark the shown chat's messages read (after a dialog closed)."""
        chat = self.book.active_chat
        if chat is not None:
            self._mark_read_if_shown(chat)
            self._main.chat_view.show_header(chat)
            self.refresh_status()

    def _mark_read_if_shown(self, chat: Chat) -> None:
        if not self._shown(chat) or not self._main_on_top():
            return
        message_ids = chat.take_unread()
        item = self._main.chat_list.item_of(chat.chat_id)
        if item is not None:
            item.show(chat)
        if message_ids:
            self._mark_read(chat.session_id, message_ids)


def _left_line(chat: Chat, peer: Peer | None, reason: str) -> str:
    """The line for a member who left: named only if it was authenticated."""
    if peer is not None and peer.authenticated:
        return f"{chat.name_of(peer)} left ({reason})"
    if chat.role == "creator":
        return f"Someone who was trying to join left ({reason})"
    return f"Someone who was connecting left ({reason})"
