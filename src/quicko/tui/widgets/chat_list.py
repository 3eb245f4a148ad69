"""The sidebar's list of open chats, each with its peers, its state and its unread count."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Label, ListItem, ListView

from quicko.appmodel import Chat
from quicko.tui.theme import ACCENT, MUTED, SUCCESS, WARNING

__all__ = ["ChatList", "ChatListItem"]


class ChatListItem(ListItem):
    """One chat in the list: its title on the first line, its state and unread count below.

    Attributes:
        chat_id: the chat's local id (:class:`~quicko.appmodel.ChatBook`).
        unread: the unread count shown.
    """

    def __init__(self, chat: Chat) -> None:
        super().__init__(id=f"chat-{chat.chat_id}")
        self.chat_id = chat.chat_id
        self.unread = 0
        self._title_label = Label(classes="chat-name", markup=False)
        self._detail_label = Label(classes="chat-detail", markup=False)
        self.show(chat)

    def compose(self) -> ComposeResult:
        """Build the widgets."""
        yield self._title_label
        yield self._detail_label

    def show(self, chat: Chat) -> None:
        """Show ``chat``'s current title, state and unread count."""
        self.unread = chat.unread
        name = Text(chat.title, no_wrap=True, overflow="ellipsis")
        if chat.unread:
            name = Text.assemble((f" {chat.unread} ", f"bold white on {ACCENT}"), " ", name)
        self._title_label.update(name)
        self._detail_label.update(_detail(chat))


def _detail(chat: Chat) -> Text:
    """The second line of a chat's entry: how far the session is."""
    if chat.ended is not None:
        return Text(f"ended: {chat.ended}", style=MUTED)
    if chat.verified:
        return Text("✔ verified · encrypted", style=SUCCESS)
    if chat.encrypted:
        return Text("🔒 encrypted", style=SUCCESS)
    if chat.invite_code is not None and not chat.peers:
        return Text(f"code {chat.invite_code}", style=WARNING)
    return Text("connecting…", style=WARNING)


class ChatList(ListView):
    """The open chats, in the order they were opened; Enter opens the highlighted one."""

    def item_of(self, chat_id: str) -> ChatListItem | None:
        """The entry of a chat (by local id), if listed."""
        for item in self.query(ChatListItem):
            if item.chat_id == chat_id:
                return item
        return None

    async def show_chat(self, chat: Chat) -> None:
        """Add ``chat`` to the list, or refresh its entry."""
        item = self.item_of(chat.chat_id)
        if item is None:
            await self.append(ChatListItem(chat))
        else:
            item.show(chat)

    async def drop_chat(self, chat_id: str) -> None:
        """Remove a chat's entry, if listed."""
        item = self.item_of(chat_id)
        if item is not None:
            await item.remove()

    def highlight(self, chat_id: str) -> None:
        """Move the highlight to a chat's entry."""
        for index, item in enumerate(self.query(ChatListItem)):
            if item.chat_id == chat_id:
                self.index = index
                return
