"""The message input: multi-line; Enter sends, Shift+Enter or Ctrl+J starts a new line."""

from __future__ import annotations

from typing import Final

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QHBoxLayout, QPlainTextEdit, QPushButton, QWidget

from quicko.session.envelope import MAX_TEXT_BYTES

__all__ = ["MAX_INPUT_LINES", "ChatInput", "MessageEdit"]

MAX_INPUT_LINES: Final = 5
"""The most lines the input grows to before it scrolls."""

_PADDING_PX: Final = 14  # the style sheet's padding (6 px) on both sides, and the border

_SEND_KEYS: Final = (Qt.Key.Key_Return, Qt.Key.Key_Enter)


class MessageEdit(QPlainTextEdit):
    """A plain-text editor that emits :attr:`send_pressed` on Enter (Shift+Enter: new line)."""

    send_pressed = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt override)
        """Send on Enter; Shift+Enter and Ctrl+J (as in the terminal app) start a new line."""
        modifiers = event.modifiers()
        shift = modifiers & Qt.KeyboardModifier.ShiftModifier
        if event.key() == Qt.Key.Key_J and modifiers == Qt.KeyboardModifier.ControlModifier:
            event.accept()
            self.insertPlainText("\n")
            return
        if event.key() in _SEND_KEYS and not shift:
            event.accept()
            self.send_pressed.emit()
            return
        super().keyPressEvent(event)


class ChatInput(QWidget):
    """The text box and Send button under a chat.

    Signals:
        submitted(str): the user sent this text (never empty or only whitespace, and at most
            :data:`~quicko.session.envelope.MAX_TEXT_BYTES` in UTF-8).
    """

    submitted = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 12)
        self.edit = MessageEdit()
        self.edit.setObjectName("messageInput")
        self.edit.setPlaceholderText("Message  (Enter sends · Shift+Enter or Ctrl+J new line)")
        self.edit.setTabChangesFocus(True)
        self.edit.setAccessibleName("Message")
        layout.addWidget(self.edit, 1)
        self.send_button = QPushButton("Send")
        self.send_button.setObjectName("primary")
        self.send_button.setToolTip("Send (Enter)")
        layout.addWidget(self.send_button, 0, Qt.AlignmentFlag.AlignBottom)
        self.edit.send_pressed.connect(self.submit)
        self.send_button.clicked.connect(self.submit)
        self.edit.textChanged.connect(self._update_button)
        self.edit.document().documentLayout().documentSizeChanged.connect(self._fit_height)
        self._update_button()
        self._fit_height()

    def text(self) -> str:
        """The text typed so far."""
        return self.edit.toPlainText()

    def submit(self) -> None:
        """Emit :attr:`submitted` with the text and clear the box (nothing if it is empty)."""
        text = self.text().strip()
        if not text or len(text.encode("utf-8")) > MAX_TEXT_BYTES:
            return
        self.edit.clear()
        self.submitted.emit(text)

    def setEnabled(self, enabled: bool) -> None:  # noqa: N802 (Qt override)
        """Enable or disable typing and sending."""
        super().setEnabled(enabled)
        self._update_button()

    def focus(self) -> None:
        """Put the keyboard focus in the text box."""
        self.edit.setFocus(Qt.FocusReason.OtherFocusReason)

    def _fit_height(self, *_size: object) -> None:
        """Grow with the text, one line to :data:`MAX_INPUT_LINES`, then scroll."""
        lines = max(1, min(MAX_INPUT_LINES, round(self.edit.document().size().height())))
        margins = self.edit.contentsMargins()
        height = (
            lines * self.edit.fontMetrics().lineSpacing()
            + round(2 * self.edit.document().documentMargin())
            + margins.top()
            + margins.bottom()
            + _PADDING_PX
        )
        self.edit.setFixedHeight(height)

    def _update_button(self) -> None:
        text = self.text().strip()
        too_long = len(text.encode("utf-8")) > MAX_TEXT_BYTES
        self.send_button.setEnabled(self.isEnabled() and bool(text) and not too_long)
        self.send_button.setToolTip("Too long to send" if too_long else "Send (Enter)")
