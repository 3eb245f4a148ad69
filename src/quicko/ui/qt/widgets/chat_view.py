"""A chat: header (names, verification, actions), the message list and the input."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from quicko.messaging import ChatMessage, DeliveryStatus
from quicko.ui.qt.widgets.chat_input import ChatInput
from quicko.ui.qt.widgets.message_bubble import MessageBubble
from quicko.ui.qt.widgets.message_list import MessageList

__all__ = ["ChatView"]


class ChatView(QWidget):
    """The view of one session.

    Args:
        chat_id: the window's local id of the chat shown.
        parent: the parent widget.

    Signals:
        send_requested(str): the user sent a message.
        verify_requested(): the user asked to compare safety numbers.
        leave_requested(): the user asked to leave the session.
        destroy_requested(): the user asked to destroy the session (leave and wipe it).
        retry_requested(object): the user asked to send a failed message's text again (the
            :class:`~quicko.ui.qt.widgets.message_bubble.MessageBubble`).
        rename_requested(): the user asked to name a member.
    """

    send_requested = Signal(str)
    rename_requested = Signal()
    retry_requested = Signal(object)
    verify_requested = Signal()
    leave_requested = Signal()
    destroy_requested = Signal()

    def __init__(self, chat_id: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.chat_id = chat_id
        self.setObjectName("chatView")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self._build_header())
        self.messages = MessageList()
        layout.addWidget(self.messages, 1)
        self.input = ChatInput()
        layout.addWidget(self.input)
        self.input.submitted.connect(self.send_requested)
        self.messages.retry_requested.connect(self.retry_requested)
        self.verify_button.clicked.connect(self.verify_requested)
        self.leave_button.clicked.connect(self.leave_requested)
        self.destroy_button.clicked.connect(self.destroy_requested)
        self.rename_button.clicked.connect(self.rename_requested)

    def _build_header(self) -> QFrame:
        header = QFrame()
        header.setObjectName("chatHeader")
        row = QHBoxLayout(header)
        row.setContentsMargins(16, 10, 12, 10)
        names = QVBoxLayout()
        names.setSpacing(2)
        self.title_label = QLabel("")
        self.title_label.setObjectName("title")
        self.title_label.setTextFormat(Qt.TextFormat.PlainText)
        names.addWidget(self.title_label)
        self.subtitle_label = QLabel("")
        self.subtitle_label.setObjectName("muted")
        self.subtitle_label.setTextFormat(Qt.TextFormat.PlainText)
        names.addWidget(self.subtitle_label)
        row.addLayout(names, 1)
        self.rename_button = QPushButton("Name…")
        self.rename_button.setToolTip("Give this person a name of your own, on this device (F2)")
        self.verify_button = QPushButton("Verify")
        self.verify_button.setToolTip("Compare safety numbers (Ctrl+S)")
        self.leave_button = QPushButton("Leave")
        self.leave_button.setToolTip("Leave this chat (Ctrl+L)")
        self.destroy_button = QPushButton("Destroy")
        self.destroy_button.setObjectName("danger")
        self.destroy_button.setToolTip("Leave and wipe this chat's keys and messages")
        for button in (
            self.rename_button,
            self.verify_button,
            self.leave_button,
            self.destroy_button,
        ):
            row.addWidget(button)
        return header

    def set_header(self, title: str, subtitle: str, *, can_verify: bool, derived: str = "") -> None:
        """Show the peer or group names, a status line, and whether Verify is possible.

        ``derived`` (the members' proven names) is the title's tooltip.
        """
        self.title_label.setText(title)
        self.title_label.setToolTip(derived)
        self.subtitle_label.setText(subtitle)
        self.verify_button.setEnabled(can_verify)
        self.rename_button.setEnabled(can_verify)  # someone authenticated to name

    def set_closed(self, reason: str) -> None:
        """The session is over: say why and stop accepting input."""
        self.subtitle_label.setText(reason)
        self.input.setEnabled(False)
        for button in (self.verify_button, self.leave_button):
            button.setEnabled(False)

    def add_message(self, message: ChatMessage, *, show_sender: bool = False) -> MessageBubble:
        """Show a message."""
        return self.messages.add_message(message, show_sender=show_sender)

    def update_status(self, message_id: bytes, status: DeliveryStatus, reason: str = "") -> bool:
        """Show a message's delivery status (and why it failed); ``False`` if it is not shown."""
        return self.messages.update_status(message_id, status, reason)

    def add_system(self, text: str) -> None:
        """Show a system line."""
        self.messages.add_system(text)
