"""The main screen: title bar, chat list, the shown chat (or the welcome text), status line.

Every flow starts from a key shown in the footer; the keys are on this screen, so they are off
while a dialog is open. The screen does no work itself: it hands the user's intents to the
app (:class:`MainActions`), which talks to the client.
"""

from __future__ import annotations

from typing import ClassVar, Final, Protocol

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import ContentSwitcher, Footer, ListView, Static

from quicko.tui.theme import ACCENT, MUTED
from quicko.tui.widgets import ChatList, ChatListItem, ChatView, Composer, StatusLine

__all__ = ["SHORTCUTS", "WELCOME_TEXT", "MainActions", "MainScreen"]

SHORTCUTS: Final = {
    "new_session": "ctrl+n",
    "join": "ctrl+o",
    "call": "ctrl+t",
    "identity": "ctrl+y",
    "verify": "ctrl+s",
    "leave": "ctrl+l",
    "retry": "ctrl+r",
    "rename": "f2",
    "next_chat": "ctrl+pagedown",
    "previous_chat": "ctrl+pageup",
    "quit": "ctrl+q",
}
"""The keys of the main screen: the desktop app's shortcuts for the same actions (README)."""

WELCOME_TEXT: Final = """Quicko2: ephemeral, end-to-end encrypted chat. Nothing is written to disk.

  ctrl+n  New session: get an invite code to read to someone
  ctrl+o  Join a session with the code you were given
  ctrl+t  Call someone's QuickoKey
  ctrl+y  Your identity: generate a QuickoKey, see its words, recover, register
  ctrl+s  Compare safety numbers with the people in the chat
  f2      Name the person in the chat (on this device only, until the app closes)
  ctrl+r  Send failed messages again
  ctrl+l  Leave the chat (its keys and messages are wiped)
  ctrl+pgdn / ctrl+pgup  Next / previous chat
  tab     Move between the chat list and the message field
  enter   Send · ctrl+j new line
  ctrl+q  Quit (everything is forgotten)
"""
"""What the main area shows while no chat is open."""


class MainActions(Protocol):
    """What the main screen asks the app to do."""

    def show_chat(self, chat_id: str) -> None:
        """Show a chat (by local id) and mark its messages read."""

    def send_text(self, chat_id: str, text: str) -> None:
        """Send a message to a chat (by local id)."""

    def screen_resumed(self) -> None:
        """The main screen is on top again (a dialog closed)."""


class MainScreen(Screen[None]):
    """The main screen."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(SHORTCUTS["new_session"], "app.new_session", "New", priority=True),
        Binding(SHORTCUTS["join"], "app.join", "Join", priority=True),
        Binding(SHORTCUTS["call"], "app.call", "Call", priority=True),
        Binding(SHORTCUTS["identity"], "app.identity", "Identity", priority=True),
        Binding(SHORTCUTS["verify"], "app.safety", "Verify", priority=True),
        Binding(SHORTCUTS["rename"], "app.rename", "Name", priority=True),
        Binding(SHORTCUTS["leave"], "app.leave", "Leave", priority=True),
        Binding(SHORTCUTS["retry"], "app.retry", "Retry failed", show=False, priority=True),
        Binding(SHORTCUTS["next_chat"], "app.step_chat(1)", "Next", show=False, priority=True),
        Binding(
            SHORTCUTS["previous_chat"], "app.step_chat(-1)", "Previous", show=False, priority=True
        ),
        Binding(SHORTCUTS["quit"], "app.quit", "Quit", priority=True),
    ]

    def __init__(self, actions: MainActions) -> None:
        super().__init__(id="main-screen")
        self._actions = actions

    def compose(self) -> ComposeResult:
        """Build the widgets."""
        yield Static(id="title-bar")
        with Horizontal(id="body"):
            with Vertical(id="sidebar"):
                yield Static("CHATS", id="sidebar-title")
                yield ChatList(id="chat-list")
            with ContentSwitcher(id="main", initial="welcome"):
                yield Static(_welcome(), id="welcome")
                yield ChatView(id="chat-view")
        yield StatusLine(id="status-line")
        yield Footer()

    @property
    def chat_list(self) -> ChatList:
        """The chat list."""
        return self.query_one(ChatList)

    @property
    def chat_view(self) -> ChatView:
        """The chat view."""
        return self.query_one(ChatView)

    @property
    def status_line(self) -> StatusLine:
        """The status line."""
        return self.query_one(StatusLine)

    def set_title(self, display_name: str, detail: str) -> None:
        """Show who we are in the title bar."""
        text = Text.assemble(("Quicko2", f"bold {ACCENT}"), "  ", (display_name, "bold"))
        text.append(f"  {detail}", style=MUTED)
        self.query_one("#title-bar", Static).update(text)

    def show_welcome(self) -> None:
        """Show the welcome text instead of a chat."""
        self.query_one(ContentSwitcher).current = "welcome"
        self.chat_view.chat_id = None

    def show_chat_view(self) -> None:
        """Show the chat view and put the cursor in the message field."""
        self.query_one(ContentSwitcher).current = "chat-view"
        composer = self.chat_view.composer
        if not composer.disabled:
            composer.focus()

    @on(ListView.Selected, "#chat-list")
    def _chat_selected(self, event: ListView.Selected) -> None:
        if isinstance(event.item, ChatListItem):
            self._actions.show_chat(event.item.chat_id)

    @on(Composer.Submitted)
    def _composer_submitted(self, event: Composer.Submitted) -> None:
        chat_id = self.chat_view.chat_id
        text = event.text.strip()
        if chat_id is None or not text:
            return
        event.composer.clear()
        self._actions.send_text(chat_id, text)

    def on_screen_resume(self, event: events.ScreenResume) -> None:
        """Tell the app that the main screen is on top again."""
        self._actions.screen_resumed()


def _welcome() -> Text:
    title, _, rest = WELCOME_TEXT.partition("\n")
    return Text.assemble((title, f"bold {ACCENT}"), "\n", rest)
