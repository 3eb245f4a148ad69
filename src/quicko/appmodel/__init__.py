"""The UI model both apps render from: chats, the relay connection and ringing calls.

Pure and sans-I/O (no Qt, no Textual, no asyncio, no clock): the desktop app
(:mod:`quicko.ui.qt`) and the terminal app (:mod:`quicko.tui`) feed it the client's events
(:mod:`quicko.client.models`) with ``now_ms`` and the results of the user's actions, and redraw
the :data:`Change` values it returns. One owner for what both apps show:

- :class:`ChatBook` / :class:`Chat`: chats keyed by local ids, messages with statuses that only
  move forward, peer merge, the "encrypted" and "verified" predicates, local names, unread
  counts, titles and previews;
- :class:`ConnectionState`: the relay's URL, the link state, why it is down, the next attempt;
- :class:`RingingCall`: incoming calls and the moment their caller gives up.
"""

from __future__ import annotations

from quicko.appmodel._book import ChatBook
from quicko.appmodel._calls import (
    CALLER_TIMEOUT_MS,
    RING_MS,
    RingingCall,
    stopped_calling,
)
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
from quicko.appmodel._chat import (
    MAX_ENTRIES,
    PENDING_JOINER,
    PENDING_MEMBER,
    Chat,
    Entry,
    Peer,
    SystemLine,
    merge_peer,
    pending_label,
    sender_name,
)
from quicko.appmodel._connection import (
    ConnectionState,
    LinkState,
    next_connection,
    not_connected,
)
from quicko.appmodel._model import (
    MAX_HELD_EVENTS,
    MAX_HELD_SESSIONS,
    SESSION_EVENTS,
    AppModel,
    SessionEvent,
    left_line,
)

__all__ = [
    "CALLER_TIMEOUT_MS",
    "MAX_ENTRIES",
    "MAX_HELD_EVENTS",
    "MAX_HELD_SESSIONS",
    "PENDING_JOINER",
    "PENDING_MEMBER",
    "RING_MS",
    "SESSION_EVENTS",
    "AppModel",
    "CallArrived",
    "CallGone",
    "Change",
    "Chat",
    "ChatBook",
    "ChatChanged",
    "ChatClosed",
    "ChatReady",
    "ConnectionChanged",
    "ConnectionState",
    "Entry",
    "EntryAdded",
    "LinkState",
    "Notice",
    "Peer",
    "ResyncNeeded",
    "RingingCall",
    "SessionEvent",
    "StatusUpdated",
    "SystemLine",
    "left_line",
    "merge_peer",
    "next_connection",
    "not_connected",
    "pending_label",
    "sender_name",
    "stopped_calling",
]
