"""The terminal app's widgets: the chat list, the chat view and the status line."""

from __future__ import annotations

from quicko.tui.widgets.chat_list import ChatList, ChatListItem
from quicko.tui.widgets.chat_view import ChatView, MessageLog, MessageRow, SystemRow
from quicko.tui.widgets.composer import Composer, ComposerBox
from quicko.tui.widgets.status_line import StatusLine, clock_ms

__all__ = [
    "ChatList",
    "ChatListItem",
    "ChatView",
    "Composer",
    "ComposerBox",
    "MessageLog",
    "MessageRow",
    "StatusLine",
    "SystemRow",
    "clock_ms",
]
