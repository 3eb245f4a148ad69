"""The scrolling list of a chat: message bubbles and system lines (joins, leaves, key changes)."""

from __future__ import annotations

from typing import Final

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QScrollArea, QVBoxLayout, QWidget

from quicko.messaging import ChatMessage, DeliveryStatus
from quicko.ui.qt.widgets.message_bubble import MessageBubble

__all__ = ["BUBBLE_WIDTH_FRACTION", "MessageList"]

BUBBLE_WIDTH_FRACTION: Final = 0.7
"""The widest a bubble gets, as a fraction of the list's width."""


class MessageList(QScrollArea):
    """Messages in arrival order, newest at the bottom; it follows new ones as they come.

    Signals:
        retry_requested(object): Retry was pressed on this failed :class:`MessageBubble`.
    """

    retry_requested = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._pending_reason = ""
        self.setObjectName("messageList")
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        content = QWidget()
        content.setObjectName("messageListContent")
        self._layout = QVBoxLayout(content)
        self._layout.setContentsMargins(16, 12, 16, 12)
        self._layout.setSpacing(8)
        self._layout.addStretch(1)
        self.setWidget(content)
        # By (sender, message id): ids are chosen by senders, so two members' messages may
        # share one and must both be shown (issue 8, finding 6). Statuses concern our own
        # messages only, found by id among the outgoing bubbles.
        self._bubbles: dict[tuple[bytes, bytes], MessageBubble] = {}
        self._outgoing: dict[bytes, MessageBubble] = {}
        self._system_lines: list[QLabel] = []
        self.verticalScrollBar().rangeChanged.connect(self._follow)

    @property
    def bubbles(self) -> list[MessageBubble]:
        """The bubbles shown, oldest first."""
        return list(self._bubbles.values())

    @property
    def system_lines(self) -> list[str]:
        """The texts of the system lines shown, oldest first."""
        return [label.text() for label in self._system_lines]

    def bubble(self, sender: bytes, message_id: bytes) -> MessageBubble | None:
        """The bubble of ``sender``'s message with this id, if it is shown."""
        return self._bubbles.get((sender, message_id))

    def add_message(self, message: ChatMessage, *, show_sender: bool = False) -> MessageBubble:
        """Show a message (a message already shown only has its status updated)."""
        key = (message.sender, message.message_id)
        existing = self._bubbles.get(key)
        if existing is not None:
            existing.set_status(message.status)
            return existing
        bubble = MessageBubble(message, show_sender=show_sender)
        bubble.fit(self._bubble_width())
        if message.outgoing:
            bubble.set_pending_reason(self._pending_reason)
            bubble.retry_requested.connect(lambda: self.retry_requested.emit(bubble))
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        if message.outgoing:
            row.addStretch(1)
            row.addWidget(bubble)
        else:
            row.addWidget(bubble)
            row.addStretch(1)
        self._layout.addLayout(row)
        self._bubbles[key] = bubble
        if message.outgoing:
            self._outgoing[message.message_id] = bubble
        return bubble

    def update_status(self, message_id: bytes, status: DeliveryStatus, reason: str = "") -> bool:
        """Show a new status on one of our messages; ``False`` if it is not shown (yet)."""
        bubble = self._outgoing.get(message_id)
        if bubble is None:
            return False
        bubble.set_status(status, reason)
        return True

    def set_pending_reason(self, reason: str) -> None:
        """Say on every pending message why it waits ("" once the relay is reachable)."""
        self._pending_reason = reason
        for bubble in self._outgoing.values():
            bubble.set_pending_reason(reason)

    def failed(self) -> list[MessageBubble]:
        """Our failed messages, oldest first."""
        return [
            bubble for bubble in self._outgoing.values() if bubble.status is DeliveryStatus.FAILED
        ]

    def add_system(self, text: str) -> QLabel:
        """Show a centred system line (somebody joined, left, changed keys, …)."""
        label = QLabel(text)
        label.setObjectName("systemLine")
        label.setTextFormat(Qt.TextFormat.PlainText)
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        label.setWordWrap(True)
        self._layout.addWidget(label)
        self._system_lines.append(label)
        return label

    def scroll_to_bottom(self) -> None:
        """Show the newest message."""
        bar = self.verticalScrollBar()
        bar.setValue(bar.maximum())

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt override)
        """Keep bubbles at most :data:`BUBBLE_WIDTH_FRACTION` of the width."""
        super().resizeEvent(event)
        width = self._bubble_width()
        for bubble in self._bubbles.values():
            bubble.fit(width)

    def _bubble_width(self) -> int:
        return max(200, int(self.viewport().width() * BUBBLE_WIDTH_FRACTION))

    def _follow(self, _minimum: int, maximum: int) -> None:
        self.verticalScrollBar().setValue(maximum)
