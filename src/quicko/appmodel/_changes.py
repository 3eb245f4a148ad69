"""What changed in the model after an input: the apps redraw exactly these.

Every input of :class:`~quicko.appmodel.AppModel` returns a list of these values, in order.
"""

from __future__ import annotations

from dataclasses import dataclass

from quicko.appmodel._calls import RingingCall
from quicko.appmodel._chat import Entry
from quicko.appmodel._connection import ConnectionState
from quicko.messaging import ChatMessage

__all__ = [
    "CallArrived",
    "CallGone",
    "Change",
    "ChatChanged",
    "ChatClosed",
    "ChatReady",
    "ConnectionChanged",
    "EntryAdded",
    "Notice",
    "ResyncNeeded",
    "StatusUpdated",
]


@dataclass(frozen=True, slots=True)
class ConnectionChanged:
    """The relay connection changed (state, reason, next attempt or latency)."""

    connection: ConnectionState


@dataclass(frozen=True, slots=True)
class EntryAdded:
    """A message or system line was appended to a chat (``entry`` as stored)."""

    chat_id: str
    entry: Entry


@dataclass(frozen=True, slots=True)
class StatusUpdated:
    """One of our messages changed status (``message`` carries it).

    ``reason`` says why, for a FAILED message (plain words), else ``""``.
    """

    chat_id: str
    message: ChatMessage
    reason: str = ""


@dataclass(frozen=True, slots=True)
class ChatChanged:
    """A chat's title, subtitle, peers, unread count, preview or end changed."""

    chat_id: str


@dataclass(frozen=True, slots=True)
class ChatReady:
    """A chat has its first authenticated peer: messages can flow."""

    chat_id: str


@dataclass(frozen=True, slots=True)
class ChatClosed:
    """A chat was closed (its session closed); it is no longer in the book."""

    chat_id: str


@dataclass(frozen=True, slots=True)
class CallArrived:
    """An incoming call rings: ask the user, before ``call.deadline_ms``."""

    call: RingingCall


@dataclass(frozen=True, slots=True)
class CallGone:
    """An incoming call can no longer be answered; ``text`` says why (show it).

    ``decline`` is true when the client does not know yet (the app's own ring time ran out):
    the app then declines the call so that the client forgets it.
    """

    call: RingingCall
    text: str
    decline: bool = False


@dataclass(frozen=True, slots=True)
class ResyncNeeded:
    """The client dropped events (``EventsDropped``): re-read the open sessions' messages.

    Read each session's ``client.messages(session_id)`` and hand them to ``AppModel.resync``.
    """

    session_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Notice:
    """A passing message for the user (a call not connected, a client error)."""

    text: str
    warning: bool = True


Change = (
    ConnectionChanged
    | EntryAdded
    | StatusUpdated
    | ChatChanged
    | ChatReady
    | ChatClosed
    | CallArrived
    | CallGone
    | ResyncNeeded
    | Notice
)
"""Any change the model reports."""
