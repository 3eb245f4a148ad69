"""The model both apps render from: chats, the connection and ringing calls, fed client events.

:class:`AppModel` is sans-I/O: the app hands it every client event with the time
(:meth:`AppModel.apply`; ``now_ms`` is the wall clock in milliseconds, the clock of
``IncomingCall.expires_ms``), the results of its own actions (:meth:`AppModel.open_session`,
:meth:`AppModel.add_message`, :meth:`AppModel.retried`, …), and calls
:meth:`AppModel.handle_timeout` at :meth:`AppModel.next_deadline`; every input returns the
:data:`~quicko.appmodel.Change` values to redraw. It imports no toolkit, reads no clock and
awaits nothing.

Only the user's own actions open a chat. Events about a session not opened yet (a
``SessionReady`` or a message that overtakes the result of ``join_session`` or ``answer_call``)
are held, boundedly, and replayed when it opens; events for a session we left are dropped.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Final, Protocol

from quicko.appmodel._book import ChatBook
from quicko.appmodel._calls import RING_MS, RingingCall, stopped_calling
from quicko.appmodel._changes import (
    CallArrived,
    CallGone,
    Change,
    ChatChanged,
    ChatClosed,
    ChatReady,
    ConnectionChanged,
    EntryAdded,
    Notice,
    ResyncNeeded,
    StatusUpdated,
)
from quicko.appmodel._chat import Chat, Peer, SystemLine
from quicko.appmodel._connection import ConnectionState, next_connection
from quicko.client import models as ev
from quicko.identity import display_name
from quicko.messaging import ChatMessage

__all__ = ["MAX_HELD_EVENTS", "MAX_HELD_SESSIONS", "SESSION_EVENTS", "AppModel", "SessionEvent"]

MAX_HELD_EVENTS: Final = 200
"""Most events held for one session not opened yet."""

MAX_HELD_SESSIONS: Final = 16
"""Most sessions with held events."""

MAX_LEFT_SESSIONS: Final = 1024
"""Sessions left whose late events are still recognised (and dropped)."""

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
"""The client events applied to one chat."""

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

_HOW_LEFT: Final = {"left": "left", "away": "left", "disconnected": "disconnected"}
_KEY_CHANGED: Final = "⚠ Someone presented different keys for {}; they were refused."


class _LineAdder(Protocol):
    """Appends a system line to one chat and records the change."""

    def __call__(self, text: str, *, warning: bool = False) -> None: ...


def _session_id(event: SessionEvent) -> str:
    return event.session.session_id if isinstance(event, ev.SessionReady) else event.session_id


def left_line(chat: Chat, peer: Peer | None, how: str) -> str:
    """The system line for a member who left (``how``: "left", "timed out"…)."""
    if peer is not None and peer.authenticated:
        return f"{chat.label(peer)} {how}."
    if chat.role == "creator":
        return f"Someone who was trying to join {how}."
    return f"Someone who was connecting {how}."


class AppModel:
    """Everything the apps show, kept in step with the client's events.

    Args:
        relay_url: the relay's URL (always shown).
        ring_ms: how long an incoming call can be answered after it reached the app.

    Attributes:
        book: the open chats.
        connection: the relay connection.
        calls: the incoming calls ringing, by call id.
        outgoing: the call we are placing, once the client reported it ringing (its id is what
            ``cancel_call`` takes), else ``None``.
    """

    def __init__(self, relay_url: str = "", *, ring_ms: int = RING_MS) -> None:
        self.book = ChatBook()
        self.connection = ConnectionState(relay_url=relay_url)
        self.calls: dict[str, RingingCall] = {}
        self.outgoing: ev.CallRinging | None = None
        self.ring_ms = ring_ms
        self._held: dict[str, list[SessionEvent]] = {}
        self._left: deque[str] = deque(maxlen=MAX_LEFT_SESSIONS)

    # ------------------------------------------------------------------ client events

    def apply(self, event: ev.ClientEvent, now_ms: int) -> list[Change]:
        """Apply one client event; return what changed."""
        connection = next_connection(self.connection, event, now_ms)
        if connection is not None:
            if connection == self.connection:
                return []
            self.connection = connection
            return [ConnectionChanged(connection)]
        if isinstance(event, SESSION_EVENTS):
            return self._session_event(event)
        match event:
            case ev.SessionClosed(session_id=session_id):
                chat = self.book.find(session_id)
                return [] if chat is None else self.close(chat.chat_id)
            case ev.IncomingCall():
                call = RingingCall.from_event(event, now_ms, self.ring_ms)
                self.calls[call.call_id] = call
                return [CallArrived(call)]
            case ev.CallEnded(call_id=call_id, reason=reason):
                ended = self.calls.pop(call_id, None)
                if ended is None:
                    return []
                return [CallGone(ended, stopped_calling(ended.display_name, reason))]
            case ev.CallRinging():
                self.outgoing = event
                return []
            case ev.CallDeclined(reason=reason):
                self.outgoing = None
                return [Notice(f"Call not connected: {reason}")]
            case ev.ClientError(message=message):
                return [Notice(message)]
            case ev.EventsDropped():
                return [ResyncNeeded(tuple(chat.session_id for chat in self.book))]
            case _:  # joiner progress and session states show through other events
                return []

    def _session_event(self, event: SessionEvent) -> list[Change]:
        session_id = _session_id(event)
        if session_id in self._left:
            return []
        chat = self.book.find(session_id)
        if chat is None:
            self._hold(session_id, event)
            return []
        return self._apply(chat, event)

    def _hold(self, session_id: str, event: SessionEvent) -> None:
        if session_id not in self._held and len(self._held) >= MAX_HELD_SESSIONS:
            return
        held = self._held.setdefault(session_id, [])
        if len(held) < MAX_HELD_EVENTS:
            held.append(event)

    def _apply(self, chat: Chat, event: SessionEvent) -> list[Change]:
        changes: list[Change] = []
        line = self._line_adder(chat, changes)
        match event:
            case ev.SessionReady(session=session) if session.role != chat.role:
                pass  # another session under this chat's id: never merged into the chat
            case ev.SessionReady(session=session):
                for info in session.peers:
                    self._peer_joined(chat, Peer.from_info(info), line)
                line("Keys authenticated: this chat is end-to-end encrypted.")
                changes.append(ChatReady(chat.chat_id))
            case ev.PeerJoined(peer=info):
                self._peer_joined(chat, Peer.from_info(info), line)
            case ev.PeerAuthenticated(peer=info):
                self._peer_authenticated(chat, Peer.from_info(info), line)
            case ev.PeerLeft(address=address, reason=reason):
                gone = chat.peers.get(address)
                if reason == "left":
                    chat.remove_peer(address)
                else:
                    chat.away.add(address)
                line(left_line(chat, gone, _HOW_LEFT.get(reason, "timed out")))
            case ev.PeerRefused(reason=reason):
                line(f"A member's keys did not verify ({reason}); not trusted.", warning=True)
            case ev.KeyChanged(address=address):
                line(_KEY_CHANGED.format(display_name(bytes.fromhex(address))), warning=True)
            case ev.MessageReceived(message=message):
                changes.append(EntryAdded(chat.chat_id, chat.add(message)))
            case ev.StatusChanged(message_id=message_id, status=status, reason=reason):
                updated = chat.update_status(message_id, status, reason)
                if updated is not None:
                    why = chat.reasons.get(message_id, "")
                    changes.append(StatusUpdated(chat.chat_id, updated, why))
            case ev.InviteRetired():
                chat.invite_code = None
                line("Too many wrong codes: this invite code works no more.", warning=True)
            case ev.SessionFailed(reason=reason):
                chat.ended = reason
                line(f"Session ended: {reason}", warning=True)
        changes.append(ChatChanged(chat.chat_id))
        return changes

    @staticmethod
    def _line_adder(chat: Chat, changes: list[Change]) -> _LineAdder:
        def line(text: str, *, warning: bool = False) -> None:
            changes.append(EntryAdded(chat.chat_id, chat.add(SystemLine(text, warning))))

        return line

    @staticmethod
    def _peer_joined(chat: Chat, peer: Peer, line: _LineAdder) -> None:
        """A member joined: "joined" the first time, "is back" only after it went away."""
        known = peer.address in chat.peers
        chat.add_peer(peer)
        shown = chat.peers[peer.address]
        if not shown.authenticated:
            if not known:
                line(f"{chat.name_of(shown)}.")
            return
        if peer.address in chat.away:
            chat.away.discard(peer.address)
            line(f"{chat.name_of(shown)} is back.")
        elif peer.address not in chat.announced:
            chat.announced.add(peer.address)
            line(f"{chat.name_of(shown)} joined.")

    @staticmethod
    def _peer_authenticated(chat: Chat, peer: Peer, line: _LineAdder) -> None:
        before = chat.peers.get(peer.address)
        chat.add_peer(peer)
        name = chat.name_of(chat.peers[peer.address])
        if before is None or not before.authenticated:
            chat.announced.add(peer.address)
            line(f"{name} joined: keys authenticated. Compare safety numbers.")
        else:
            line(f"{name}'s keys are authenticated. Compare safety numbers.")

    # ------------------------------------------------------------------ the user's actions

    def open_session(
        self, info: ev.SessionInfo, line: str = ""
    ) -> tuple[Chat | None, list[Change]]:
        """Open a chat for a session we created, joined, called or answered.

        Events held for the session are applied now.

        Returns:
            The new chat (``None`` when the session already has one: that chat is left as it
            was) and what changed.
        """
        chat = self.book.open(info.session_id, info.role, info.invite_code)
        if chat is None:
            return None, []
        changes: list[Change] = []
        adder = self._line_adder(chat, changes)
        if line:
            adder(line)
        for peer in info.peers:
            self._peer_joined(chat, Peer.from_info(peer), adder)
        for event in self._held.pop(info.session_id, []):
            changes += self._apply(chat, event)
        changes.append(ChatChanged(chat.chat_id))
        return chat, changes

    def add_message(self, chat_id: str, message: ChatMessage) -> list[Change]:
        """Show a message (ours from ``send_message``, or any), if its chat is still open."""
        chat = self.book.get(chat_id)
        if chat is None:
            return []
        return [EntryAdded(chat_id, chat.add(message)), ChatChanged(chat_id)]

    def resync(
        self,
        session_id: str,
        messages: Sequence[ChatMessage],
        session: ev.SessionInfo | None,
    ) -> list[Change]:
        """Take in what the client holds, after it dropped events (``EventsDropped``).

        Messages not shown yet are added (at the end); our messages' statuses move forward;
        the members are brought up to date from ``session`` (the client's
        :class:`~quicko.client.models.SessionInfo`, ``None`` when the client no longer has the
        session: the chat then says it ended, and stays readable).
        """
        chat = self.book.find(session_id)
        if chat is None:
            return []
        changes: list[Change] = []
        line = self._line_adder(chat, changes)
        line("Some events were missed (the app fell behind): this chat was brought up to date.")
        shown = {
            (entry.sender, entry.message_id, entry.outgoing)
            for entry in chat.entries
            if isinstance(entry, ChatMessage)
        }
        for message in messages:
            if (message.sender, message.message_id, message.outgoing) not in shown:
                changes.append(EntryAdded(chat.chat_id, chat.add(message)))
            elif message.outgoing:
                message_id = message.message_id.hex()
                updated = chat.update_status(message_id, message.status)
                if updated is not None:
                    why = chat.reasons.get(message_id, "")
                    changes.append(StatusUpdated(chat.chat_id, updated, why))
        if session is None:
            if chat.ended is None:
                chat.ended = "the session ended"
                line("Session ended while events were missed.", warning=True)
        else:
            self._resync_peers(chat, session.peers, line)
        changes.append(ChatChanged(chat.chat_id))
        return changes

    def _resync_peers(self, chat: Chat, members: Sequence[ev.PeerInfo], line: _LineAdder) -> None:
        """Show the members the client has: joins and authentications missed, leaves missed."""
        present = {info.address for info in members}
        for address in [address for address in chat.peers if address not in present]:
            gone = chat.remove_peer(address)
            line(left_line(chat, gone, _HOW_LEFT["left"]))
        for info in members:
            peer = Peer.from_info(info)
            before = chat.peers.get(peer.address)
            if peer.authenticated and (before is None or not before.authenticated):
                self._peer_authenticated(chat, peer, line)
            elif before is None:
                self._peer_joined(chat, peer, line)
            else:
                chat.add_peer(peer)

    def add_line(self, chat_id: str, text: str, *, warning: bool = False) -> list[Change]:
        """Show a system line in a chat, if it is still open."""
        chat = self.book.get(chat_id)
        if chat is None:
            return []
        return [EntryAdded(chat_id, chat.add(SystemLine(text, warning))), ChatChanged(chat_id)]

    def close(self, chat_id: str) -> list[Change]:
        """Forget a chat (we left it, or it closed); its session's later events are dropped."""
        chat = self.book.close(chat_id)
        if chat is None:
            return []
        self._left.append(chat.session_id)
        self._held.pop(chat.session_id, None)
        return [ChatClosed(chat_id)]

    def mark_verified(self, chat_id: str, address: str) -> list[Change]:
        """Record that the user compared a member's safety number."""
        chat = self.book.get(chat_id)
        peer = None if chat is None else chat.mark_verified(address)
        if chat is None or peer is None:
            return []
        return self.add_line(chat_id, f"You verified {chat.name_of(peer)}.")

    def set_local_name(self, chat_id: str, address: str, name: str) -> list[Change]:
        """Name a member in one chat (``""`` removes the name); kept in memory only."""
        chat = self.book.get(chat_id)
        peer = None if chat is None else chat.peers.get(address)
        if chat is None or peer is None:
            return []
        if name:
            chat.local_names[address] = name
            text = f"You named {peer.shown_name} “{name}” (on this device, until the app closes)."
        else:
            chat.local_names.pop(address, None)
            text = f"{peer.shown_name} has no name of yours any more."
        return self.add_line(chat_id, text)

    def retried(self, chat_id: str, message: ChatMessage) -> list[Change]:
        """Show a failed message as ``retry_message`` returned it (PENDING again, same id)."""
        chat = self.book.get(chat_id)
        stored = None if chat is None else chat.retried(message)
        if stored is None:
            return []
        return [StatusUpdated(chat_id, stored), ChatChanged(chat_id)]

    def take_unread(self, chat_id: str) -> list[str]:
        """The ids (hex) of a chat's messages to mark read now that it is shown."""
        chat = self.book.get(chat_id)
        return [] if chat is None else chat.take_unread()

    # ------------------------------------------------------------------ calls and time

    def call_over(self) -> None:
        """The call we placed was answered, refused or cancelled: it rings no more."""
        self.outgoing = None

    def answered(self, call_id: str) -> RingingCall | None:
        """The user answered (or dismissed) a ringing call: it no longer rings."""
        return self.calls.pop(call_id, None)

    def next_deadline(self) -> int | None:
        """When :meth:`handle_timeout` has something to do (``now_ms`` clock), or ``None``."""
        return min((call.deadline_ms for call in self.calls.values()), default=None)

    def handle_timeout(self, now_ms: int) -> list[Change]:
        """Stop the calls whose caller gave up by ``now_ms``."""
        changes: list[Change] = []
        for call in [call for call in self.calls.values() if call.deadline_ms <= now_ms]:
            del self.calls[call.call_id]
            changes.append(CallGone(call, stopped_calling(call.display_name), decline=True))
        return changes
