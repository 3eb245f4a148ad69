"""The sidebar: open chats with their last message and unread count, search, new chat."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

__all__ = ["ChatEntry", "ChatSummary", "ElidedLabel", "Sidebar"]

_ID_ROLE = Qt.ItemDataRole.UserRole
_PREVIEW_CHARS = 60


@dataclass(frozen=True, slots=True)
class ChatSummary:
    """What the sidebar shows of one chat.

    Attributes:
        chat_id: the window's local id of the chat.
        title: the peer or group names (or a placeholder while nobody has joined).
        preview: the last message or event, on one line.
        unread: messages received and not yet shown.
    """

    chat_id: str
    title: str
    preview: str = ""
    unread: int = 0


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= _PREVIEW_CHARS else line[: _PREVIEW_CHARS - 1] + "…"


class ElidedLabel(QLabel):
    """A one-line label that ends in "…" when its text is wider than the room it has."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.full_text = ""
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(1)

    def set_full_text(self, text: str) -> None:
        """Show ``text``, elided to the width."""
        self.full_text = text
        self.setToolTip(text if len(text) > 0 else "")
        self._elide()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt override)
        """Elide again for the new width."""
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        width = max(1, self.contentsRect().width())
        self.setText(
            self.fontMetrics().elidedText(self.full_text, Qt.TextElideMode.ElideRight, width)
        )


class ChatEntry(QWidget):
    """One row of the chat list: title, preview and an unread badge."""

    def __init__(self, summary: ChatSummary, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 8)
        texts = QVBoxLayout()
        texts.setSpacing(2)
        self.title_label = ElidedLabel()
        self.title_label.setStyleSheet("font-weight: bold;")
        self.preview_label = ElidedLabel()
        self.preview_label.setObjectName("muted")
        texts.addWidget(self.title_label)
        texts.addWidget(self.preview_label)
        layout.addLayout(texts, 1)
        self.badge = QLabel()
        self.badge.setObjectName("unreadBadge")
        self.badge.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.badge, 0, Qt.AlignmentFlag.AlignVCenter)
        self.summary = summary
        self.update_summary(summary)

    def update_summary(self, summary: ChatSummary) -> None:
        """Show new values."""
        self.summary = summary
        self.title_label.set_full_text(summary.title)
        self.preview_label.set_full_text(_one_line(summary.preview))
        self.badge.setText(str(summary.unread) if summary.unread < 100 else "99+")
        self.badge.setVisible(summary.unread > 0)
        self.badge.setAccessibleName(f"{summary.unread} unread")


class Sidebar(QWidget):
    """The list of open chats.

    Signals:
        chat_selected(str): the user picked a chat (its local id).
        new_chat_requested(): the user pressed the new-chat button.
        identity_requested(): the user pressed the identity button.
    """

    chat_selected = Signal(str)
    new_chat_requested = Signal()
    identity_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sidebar")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setMinimumWidth(240)
        self.setMaximumWidth(320)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 12, 0, 8)
        top = QHBoxLayout()
        top.setContentsMargins(12, 0, 12, 0)
        heading = QLabel("Chats")
        heading.setObjectName("title")
        top.addWidget(heading, 1)
        self.new_chat_button = QPushButton("+ New")
        self.new_chat_button.setObjectName("primary")
        self.new_chat_button.setToolTip("New chat (Ctrl+N)")
        top.addWidget(self.new_chat_button)
        layout.addLayout(top)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search chats (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        search_row = QHBoxLayout()
        search_row.setContentsMargins(12, 4, 12, 4)
        search_row.addWidget(self.search)
        layout.addLayout(search_row)
        self.list = QListWidget()
        self.list.setObjectName("chatList")
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        layout.addWidget(self.list, 1)
        self.empty_label = QLabel("No chats yet.\nPress + New to start one.")
        self.empty_label.setObjectName("hint")
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.empty_label)
        self.identity_button = QPushButton("Identity")
        self.identity_button.setToolTip("Your identity and QuickoKey (Ctrl+Y)")
        bottom = QHBoxLayout()
        bottom.setContentsMargins(12, 0, 12, 0)
        bottom.addWidget(self.identity_button)
        layout.addLayout(bottom)
        self.new_chat_button.clicked.connect(self.new_chat_requested)
        self.identity_button.clicked.connect(self.identity_requested)
        self.search.textChanged.connect(self._filter)
        self.list.currentItemChanged.connect(self._current_changed)
        self._update_empty()

    def chat_ids(self, *, visible_only: bool = False) -> list[str]:
        """The chat ids listed, top first (only those the search shows, if asked)."""
        items = [self.list.item(row) for row in range(self.list.count())]
        return [
            str(item.data(_ID_ROLE)) for item in items if not (visible_only and item.isHidden())
        ]

    def entry(self, chat_id: str) -> ChatEntry | None:
        """The row of a chat, if it is listed."""
        item = self._item(chat_id)
        if item is None:
            return None
        widget = self.list.itemWidget(item)
        return widget if isinstance(widget, ChatEntry) else None

    def upsert(self, summary: ChatSummary) -> None:
        """Add a chat, or show new values for one already listed."""
        entry = self.entry(summary.chat_id)
        if entry is not None:
            entry.update_summary(summary)
            item = self._item(summary.chat_id)
            assert item is not None
            item.setSizeHint(entry.sizeHint())
        else:
            item = QListWidgetItem()
            item.setData(_ID_ROLE, summary.chat_id)
            entry = ChatEntry(summary)
            item.setSizeHint(entry.sizeHint())
            self.list.addItem(item)
            self.list.setItemWidget(item, entry)
        self._filter(self.search.text())
        self._update_empty()

    def remove(self, chat_id: str) -> None:
        """Take a chat off the list."""
        item = self._item(chat_id)
        if item is not None:
            self.list.takeItem(self.list.row(item))
        self._update_empty()

    def select(self, chat_id: str) -> None:
        """Highlight a chat without emitting :attr:`chat_selected`."""
        item = self._item(chat_id)
        self.list.blockSignals(True)
        try:
            if item is None:
                self.list.setCurrentRow(-1)
            else:
                self.list.setCurrentItem(item)
        finally:
            self.list.blockSignals(False)

    def focus_search(self) -> None:
        """Put the keyboard focus in the search box."""
        self.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search.selectAll()

    def _item(self, chat_id: str) -> QListWidgetItem | None:
        for row in range(self.list.count()):
            item = self.list.item(row)
            if item.data(_ID_ROLE) == chat_id:
                return item
        return None

    def _filter(self, text: str) -> None:
        needle = text.strip().casefold()
        for row in range(self.list.count()):
            item = self.list.item(row)
            widget = self.list.itemWidget(item)
            if isinstance(widget, ChatEntry):
                haystack = f"{widget.summary.title} {widget.summary.preview}".casefold()
                item.setHidden(bool(needle) and needle not in haystack)

    def _current_changed(self, current: QListWidgetItem | None, _previous: object) -> None:
        if current is not None:
            self.chat_selected.emit(str(current.data(_ID_ROLE)))

    def _update_empty(self) -> None:
        self.empty_label.setVisible(self.list.count() == 0)
