"""One chat message as a bubble: sent on the right, received on the left, with time and ticks.

Bubbles have asymmetric corners (the corner towards the sender is sharp; the theme draws them
from the ``outgoing`` property). Text is always shown as plain text, never as rich text, so a
peer cannot inject markup or links.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from quicko.identity import shown_name
from quicko.messaging import ChatMessage, DeliveryStatus

__all__ = ["TICKS", "MessageBubble", "format_time"]

TICKS: Final[Mapping[DeliveryStatus, tuple[str, str]]] = MappingProxyType(
    {
        DeliveryStatus.PENDING: ("◷", "Sending…"),
        DeliveryStatus.SENT: ("✓", "Sent to the relay"),
        DeliveryStatus.DELIVERED: ("✓✓", "Delivered"),
        DeliveryStatus.READ: ("✓✓", "Read"),
        DeliveryStatus.FAILED: ("✕", "Not delivered"),
    }
)
"""The tick glyphs and their tooltip for each delivery status (READ is drawn in colour)."""


_TEXT_SLACK_PX: Final = 4  # rounding of the text's measured width


def format_time(timestamp_ms: int) -> str:
    """The local ``HH:MM`` of a timestamp in milliseconds since the epoch."""
    moment = datetime.datetime.fromtimestamp(timestamp_ms / 1000).astimezone()
    return moment.strftime("%H:%M")


def _plain_label(text: str, name: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName(name)
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label


class MessageBubble(QFrame):
    """A sent or received message.

    Args:
        message: the message to show.
        show_sender: show the sender's name above the text (received messages in groups): the
            name derived from its address, never the name it claims.
        parent: the parent widget.

    A pending message says why it waits when the relay is not reachable
    (:meth:`set_pending_reason`); a failed one has a Retry button, which sends its text again
    as a new message (:attr:`retry_requested`).

    Signals:
        retry_requested(): the user pressed Retry on a failed message.
    """

    retry_requested = Signal()

    def __init__(
        self, message: ChatMessage, *, show_sender: bool = False, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._message = message
        self._pending_reason = ""
        self.reason = ""
        self.setObjectName("bubble")
        self.setProperty("outgoing", "true" if message.outgoing else "false")
        layout = QVBoxLayout(self)
        self._layout = layout
        layout.setContentsMargins(12, 8, 12, 6)
        layout.setSpacing(2)
        self.sender_label: QLabel | None = None
        if show_sender and not message.outgoing:
            name = shown_name(message.sender, message.sender_name)
            self.sender_label = _plain_label(name, "sender")
            layout.addWidget(self.sender_label)
        self.text_label = _plain_label(message.text, "messageText")
        self.text_label.setWordWrap(True)
        self.text_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.text_label)
        footer = QHBoxLayout()
        footer.setSpacing(6)
        footer.addStretch(1)
        self.time_label = _plain_label(format_time(message.timestamp_ms), "time")
        footer.addWidget(self.time_label)
        self.ticks_label = _plain_label("", "ticks")
        footer.addWidget(self.ticks_label)
        self.ticks_label.setVisible(message.outgoing)
        self.retry_button = QPushButton("Retry")
        self.retry_button.setObjectName("retry")
        self.retry_button.setToolTip("Send this message again (Ctrl+R)")
        self.retry_button.clicked.connect(self.retry_requested)
        footer.addWidget(self.retry_button)
        layout.addLayout(footer)
        self._show_status(message.status)

    @property
    def text(self) -> str:
        """The message's text."""
        return self._message.text

    def fit(self, max_width: int) -> None:
        """Be as wide as the text needs, up to ``max_width`` px, wrapping only beyond it.

        A word-wrapped QLabel asks for a narrow width of its own (about 300 px), so its width
        is set from the text's longest line instead: bubbles wrap relative to the pane.
        """
        self.text_label.ensurePolished()  # measure with the style sheet's font, not the default
        margins = self._layout.contentsMargins()
        room = max(80, max_width - margins.left() - margins.right())
        metrics = self.text_label.fontMetrics()
        longest = max(metrics.horizontalAdvance(line) for line in self.text.split("\n"))
        natural = longest + _TEXT_SLACK_PX  # the footer's own layout sets the rest
        self.text_label.setMinimumWidth(min(natural, room))
        self.setMaximumWidth(max_width)

    def set_pending_reason(self, reason: str) -> None:
        """Say why a pending message waits ("" when nothing holds it up)."""
        self._pending_reason = reason
        self._show_status(self._message.status)

    @property
    def message_id(self) -> bytes:
        """The id of the message shown."""
        return self._message.message_id

    @property
    def outgoing(self) -> bool:
        """Whether we sent the message."""
        return self._message.outgoing

    @property
    def status(self) -> DeliveryStatus:
        """The delivery status shown."""
        return self._message.status

    def set_status(self, status: DeliveryStatus, reason: str = "") -> None:
        """Show the status the model decided (:mod:`quicko.appmodel` owns the order of steps).

        ``reason`` says why a FAILED message failed.
        """
        self._message = self._message.with_status(status)
        self.reason = reason
        self._show_status(status)

    def _show_status(self, status: DeliveryStatus) -> None:
        glyph, tooltip = TICKS[status]
        if status is DeliveryStatus.PENDING and self._pending_reason:
            glyph = f"{glyph} waiting for the relay"
            tooltip = f"Not sent yet: {self._pending_reason}. It goes out once connected."
        elif status is DeliveryStatus.FAILED:
            glyph = f"{glyph} Not delivered" + (f": {self.reason}" if self.reason else "")
        self.retry_button.setVisible(self._message.outgoing and status is DeliveryStatus.FAILED)
        self.ticks_label.setText(glyph)
        self.ticks_label.setToolTip(tooltip)
        self.ticks_label.setAccessibleName(tooltip)
        self.ticks_label.setProperty("status", status.name.lower())
        style = self.ticks_label.style()
        style.unpolish(self.ticks_label)
        style.polish(self.ticks_label)

    def __repr__(self) -> str:
        return f"<MessageBubble {self._message!r}>"
