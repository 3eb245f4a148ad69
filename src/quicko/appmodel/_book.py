"""The open chats, keyed by local ids, and the events held for sessions not opened yet.

Chats are keyed by a local id the book assigns (``"c1"``, ``"c2"``, …, never reused); session
ids only map to them. A second :meth:`ChatBook.open` for a session id already in the book is
refused: no remote party ever chooses, replaces or merges into a local chat (DESIGN.md §4.3).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator

from quicko.appmodel._chat import Chat

__all__ = ["ChatBook"]

_log = logging.getLogger(__name__)


class ChatBook:
    """The open chats, in the order they were opened, and which one is shown.

    Attributes:
        active: the local id of the chat shown, or ``None``.
    """

    def __init__(self) -> None:
        self._chats: dict[str, Chat] = {}
        self._by_session: dict[str, str] = {}
        self._ids = (f"c{number}" for number in itertools.count(1))
        self.active: str | None = None

    def __len__(self) -> int:
        return len(self._chats)

    def __iter__(self) -> Iterator[Chat]:
        return iter(list(self._chats.values()))

    def __contains__(self, chat_id: object) -> bool:
        return chat_id in self._chats

    @property
    def ids(self) -> list[str]:
        """The local ids, in the order the chats were opened."""
        return list(self._chats)

    def get(self, chat_id: str) -> Chat | None:
        """The chat of a local id, or ``None``."""
        return self._chats.get(chat_id)

    def find(self, session_id: str) -> Chat | None:
        """The chat of a session id, or ``None``."""
        chat_id = self._by_session.get(session_id)
        return None if chat_id is None else self._chats.get(chat_id)

    def open(self, session_id: str, role: str, invite_code: str | None = None) -> Chat | None:
        """Open a new chat for a session, under a new local id.

        Returns:
            The new chat, or ``None`` when a chat for ``session_id`` is already open: that one
            is left exactly as it was (a warning is logged).
        """
        if session_id in self._by_session:
            _log.warning("refused a second chat for a session already open (as a %s)", role)
            return None
        chat = Chat(next(self._ids), session_id, role, invite_code)
        if invite_code is not None:
            chat.preview = f"Invite code {invite_code}"
        self._chats[chat.chat_id] = chat
        self._by_session[session_id] = chat.chat_id
        return chat

    def close(self, chat_id: str) -> Chat | None:
        """Forget a chat and its entries; if it was shown, the next one is (or none)."""
        chat = self._chats.pop(chat_id, None)
        if chat is not None:
            self._by_session.pop(chat.session_id, None)
        if self.active == chat_id:
            self.active = next(iter(self._chats), None)
        return chat

    @property
    def active_chat(self) -> Chat | None:
        """The chat being shown, if any."""
        return None if self.active is None else self._chats.get(self.active)

    @property
    def total_unread(self) -> int:
        """Unread messages across every chat."""
        return sum(chat.unread for chat in self._chats.values())
