"""The chat view: a header with the peers and the encryption state, the messages, the composer.

Peer text is never read as markup: every line is built as a :class:`rich.text.Text`, so a
message like ``[b]hi[/b]`` shows as typed. Outgoing messages carry their delivery tick
(:func:`status_mark`), updated in place as receipts arrive.
"""

from __future__ import annotations

import datetime
from typing import Final

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static

from quicko.appmodel import Chat, Entry, SystemLine, sender_name
from quicko.messaging import ChatMessage, DeliveryStatus
from quicko.tui.theme import ACCENT, ERROR, MUTED, SUCCESS, WARNING
from quicko.tui.widgets.composer import Composer, ComposerBox

__all__ = [
    "INVITE_CODE_USE",
    "SHOWN_ENTRIES",
    "STATUS_MARKS",
    "ChatView",
    "MessageLog",
    "MessageRow",
    "SystemRow",
    "status_mark",
]

INVITE_CODE_USE: Final = (
    "Several people can join with this code while you are in the session, until too many "
    "wrong tries retire it."
)
"""What an invite code allows, in the same words in both apps (and docs/cli.md)."""

SHOWN_ENTRIES: Final = 200
"""Entries of a chat mounted when it is opened (the newest ones)."""

STATUS_MARKS: Final[dict[DeliveryStatus, tuple[str, str]]] = {
    DeliveryStatus.PENDING: ("◷", "pending"),
    DeliveryStatus.SENT: ("✓", "sent"),
    DeliveryStatus.DELIVERED: ("✓✓", "delivered"),
    DeliveryStatus.READ: ("✓✓", "read"),
    DeliveryStatus.FAILED: ("✗", "failed"),
}
"""The tick and the word shown beside an outgoing message for each delivery status."""


def status_mark(status: DeliveryStatus, *, waiting: bool = False, reason: str = "") -> str:
    """The tick and word for ``status``, such as ``"✓✓ read"``.

    Args:
        status: the delivery status.
        waiting: a pending message waits for the relay, which is not reachable.
        reason: why a failed message failed (the client's words), if known.
    """
    tick, word = STATUS_MARKS[status]
    if status is DeliveryStatus.PENDING and waiting:
        return f"{tick} waiting for the relay"
    if status is DeliveryStatus.FAILED:
        because = f": {reason}" if reason else ""
        return f"{tick} failed{because} — ctrl+r sends it again"
    return f"{tick} {word}"


_TICK_STYLE: Final = {
    DeliveryStatus.PENDING: MUTED,
    DeliveryStatus.SENT: MUTED,
    DeliveryStatus.DELIVERED: SUCCESS,
    DeliveryStatus.READ: f"bold {ACCENT}",
    DeliveryStatus.FAILED: f"bold {ERROR}",
}


def _clock(timestamp_ms: int) -> str:
    """``HH:MM`` of a timestamp, in local time."""
    moment = datetime.datetime.fromtimestamp(timestamp_ms / 1000).astimezone()
    return moment.strftime("%H:%M")


def _row_id(message: ChatMessage) -> str:
    """A row's widget id: ours by message id; a peer's by sender and message id.

    Ids are chosen by senders, so two members' messages may share one; both are shown
    (issue 8, finding 6). Status updates concern our own messages only.
    """
    if message.outgoing:
        return f"msg-out-{message.message_id.hex()}"
    return f"msg-in-{message.sender.hex()}-{message.message_id.hex()}"


class MessageRow(Vertical):
    """One message, as a bubble: right-aligned if we sent it, left-aligned otherwise.

    Attributes:
        message: the message shown (its status is kept current by :meth:`set_status`).
    """

    def __init__(self, message: ChatMessage, *, waiting: bool = False, reason: str = "") -> None:
        direction = "-outgoing" if message.outgoing else "-incoming"
        super().__init__(id=_row_id(message), classes=direction)
        self.message = message
        self.waiting = waiting
        self.reason = reason
        self._bubble = Static(self._render_bubble(), classes="bubble")

    def compose(self) -> ComposeResult:
        """Build the widgets."""
        yield self._bubble

    @property
    def status(self) -> DeliveryStatus:
        """The message's delivery status as shown."""
        return self.message.status

    def set_status(self, message: ChatMessage, reason: str = "") -> None:
        """Show the message's status as the model has it (and why, if it failed)."""
        self.message = message
        self.reason = reason
        self._bubble.update(self._render_bubble())

    def set_waiting(self, waiting: bool) -> None:
        """Say whether a pending message waits for the relay."""
        self.waiting = waiting
        self._bubble.update(self._render_bubble())

    @property
    def mark(self) -> str:
        """The status mark shown (outgoing messages)."""
        return status_mark(self.message.status, waiting=self.waiting, reason=self.reason)

    def _render_bubble(self) -> Text:
        message = self.message
        text = Text()
        if not message.outgoing:
            text.append(sender_name(message) + "\n", style=f"bold {ACCENT}")
        text.append(message.text)
        text.append(f"\n{_clock(message.timestamp_ms)}", style=MUTED)
        if message.outgoing:
            text.append("  ")
            text.append(self.mark, style=_TICK_STYLE[message.status])
        return text


class SystemRow(Static):
    """A system line: a join, a leave, a key change, a failure."""

    def __init__(self, line: SystemLine) -> None:
        super().__init__(Text(f"— {line.text} —"), classes="-warning" if line.warning else "")
        self.line = line


class MessageLog(VerticalScroll):
    """The scrolling list of a chat's entries, newest at the bottom.

    Attributes:
        waiting: pending messages wait for the relay (it is not reachable).
        reasons: why the shown chat's failed messages failed, by id (hex).
    """

    can_focus = False

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.waiting = False
        self.reasons: dict[str, str] = {}

    def set_waiting(self, waiting: bool) -> None:
        """Show on our messages whether they wait for the relay."""
        self.waiting = waiting
        for row in self.query(MessageRow):
            if row.message.outgoing:
                row.set_waiting(waiting)

    def row_of(self, message_id: str) -> MessageRow | None:
        """The row of one of our messages (hex id), if it is mounted."""
        rows = self.query(f"#msg-out-{message_id}")
        row = rows.first() if rows else None
        return row if isinstance(row, MessageRow) else None

    async def add(self, entry: Entry) -> None:
        """Mount one more entry at the bottom and scroll to it."""
        await self.mount(self._row(entry))
        self.scroll_end(animate=False)

    async def show_entries(self, entries: list[Entry]) -> None:
        """Replace the rows with ``entries`` (the newest :data:`SHOWN_ENTRIES`)."""
        await self.remove_children()
        rows = [self._row(entry) for entry in entries[-SHOWN_ENTRIES:]]
        if rows:
            await self.mount_all(rows)
        self.scroll_end(animate=False)

    def _row(self, entry: Entry) -> MessageRow | SystemRow:
        if isinstance(entry, SystemLine):
            return SystemRow(entry)
        reason = self.reasons.get(entry.message_id.hex(), "")
        return MessageRow(entry, waiting=self.waiting, reason=reason)


class ChatView(Vertical):
    """One chat: header, invite banner (until a peer joins), messages, composer.

    Attributes:
        chat_id: the local id of the chat shown, or ``None`` before one is.
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.chat_id: str | None = None

    def compose(self) -> ComposeResult:
        """Build the widgets."""
        yield Static(id="chat-header")
        yield Static(id="invite-banner", classes="-hidden")
        yield MessageLog(id="message-log")
        yield ComposerBox(id="composer-box")

    @property
    def log_widget(self) -> MessageLog:
        """The message log."""
        return self.query_one(MessageLog)

    @property
    def composer(self) -> Composer:
        """The message box."""
        return self.query_one(Composer)

    @property
    def composer_box(self) -> ComposerBox:
        """The message box and the line under it."""
        return self.query_one(ComposerBox)

    async def open_chat(self, chat: Chat) -> None:
        """Show ``chat``: its header and its entries."""
        self.chat_id = chat.chat_id
        self.log_widget.reasons = chat.reasons
        self.show_header(chat)
        await self.log_widget.show_entries(list(chat.entries))

    def show_header(self, chat: Chat) -> None:
        """Refresh the header and the invite banner from ``chat``."""
        self.query_one("#chat-header", Static).update(_header(chat))
        banner = self.query_one("#invite-banner", Static)
        waiting = chat.invite_code is not None and not chat.peers and chat.ended is None
        banner.set_class(not waiting, "-hidden")
        if waiting and chat.invite_code is not None:
            banner.update(_invite(chat.invite_code))
        self.composer.disabled = chat.ended is not None


def _header(chat: Chat) -> Text:
    text = Text(chat.title, style="bold")
    if chat.ended is not None:
        text.append(f"   session ended: {chat.ended}", style=MUTED)
    elif chat.verified:
        text.append("   ✔ verified · 🔒 end-to-end encrypted", style=SUCCESS)
    elif chat.encrypted:
        text.append("   🔒 end-to-end encrypted", style=SUCCESS)
        text.append(" · safety number not verified (ctrl+s)", style=MUTED)
    else:
        text.append("   not encrypted yet: waiting for an authenticated peer", style=WARNING)
    return text


def _invite(code: str) -> Text:
    return Text.assemble(
        ("Invite code  ", "bold"),
        (code, f"bold {ACCENT}"),
        (f"   read it to the people you want to talk to. {INVITE_CODE_USE}", MUTED),
    )
