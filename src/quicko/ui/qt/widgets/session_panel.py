"""The session panel: create a session (invite code, copy, QR), join by code, call a QuickoKey."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from quicko.identity import QUICKOKEY_EXAMPLE
from quicko.ui.qt.widgets.fields import (
    ValidatedField,
    canonical_invite_code,
    canonical_quickokey,
)
from quicko.ui.qt.widgets.qr import qr_pixmap

__all__ = ["SessionPanel"]


def _card(title: str, hint: str) -> tuple[QFrame, QVBoxLayout]:
    card = QFrame()
    card.setObjectName("card")
    layout = QVBoxLayout(card)
    layout.setContentsMargins(20, 16, 20, 16)
    heading = QLabel(title)
    heading.setObjectName("title")
    layout.addWidget(heading)
    explanation = QLabel(hint)
    explanation.setObjectName("muted")
    explanation.setWordWrap(True)
    layout.addWidget(explanation)
    return card, layout


class SessionPanel(QWidget):
    """Start, join or call.

    Signals:
        create_requested(): the user asked for a new session.
        join_requested(str): the user asked to join with this (canonical) invite code.
        call_requested(str): the user asked to call this (canonical) QuickoKey.
    """

    create_requested = Signal()
    join_requested = Signal(str)
    call_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sessionPanel")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(32, 24, 32, 24)
        layout.setSpacing(16)
        layout.addWidget(self._build_create())
        row = QHBoxLayout()
        row.setSpacing(16)
        join_card, join_layout = _card(
            "Join a session", "Type the invite code someone read out to you."
        )
        self.join_field = ValidatedField(canonical_invite_code, "KBQW-E3TV", "Join")
        join_layout.addWidget(self.join_field)
        row.addWidget(join_card, 1)
        call_card, call_layout = _card(
            "Call a QuickoKey", "Call someone who registered their QuickoKey on this relay."
        )
        self.call_field = ValidatedField(canonical_quickokey, QUICKOKEY_EXAMPLE, "Call")
        call_layout.addWidget(self.call_field)
        row.addWidget(call_card, 1)
        layout.addLayout(row)
        layout.addStretch(1)
        self.create_button.clicked.connect(self.create_requested)
        self.copy_button.clicked.connect(self.copy_invite_code)
        self.join_field.submitted.connect(self.join_requested)
        self.call_field.submitted.connect(self.call_requested)
        self.show_invite(None)

    def _build_create(self) -> QFrame:
        card, layout = _card(
            "New session",
            "Start a session and read its invite code to the people you want to talk to. "
            "The code is used once per person, and only they can join with it.",
        )
        row = QHBoxLayout()
        self.create_button = QPushButton("New session")
        self.create_button.setObjectName("primary")
        self.create_button.setToolTip("New session (Ctrl+N)")
        row.addWidget(self.create_button)
        row.addStretch(1)
        layout.addLayout(row)
        invite_row = QHBoxLayout()
        texts = QVBoxLayout()
        self.invite_label = QLabel("")
        self.invite_label.setObjectName("inviteCode")
        self.invite_label.setTextFormat(Qt.TextFormat.PlainText)
        self.invite_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        texts.addWidget(self.invite_label)
        self.copy_button = QPushButton("Copy code")
        self.copy_button.setToolTip("Copy the invite code (Ctrl+Shift+C)")
        texts.addWidget(self.copy_button, 0, Qt.AlignmentFlag.AlignLeft)
        self.create_message = QLabel("")
        self.create_message.setObjectName("muted")
        self.create_message.setWordWrap(True)
        texts.addWidget(self.create_message)
        texts.addStretch(1)
        invite_row.addLayout(texts, 1)
        self.qr_label = QLabel()
        self.qr_label.setObjectName("qr")
        self.qr_label.setAccessibleName("QR code of the invite code")
        invite_row.addWidget(self.qr_label)
        layout.addLayout(invite_row)
        return card

    @property
    def invite_code(self) -> str | None:
        """The invite code shown, if any."""
        return self.invite_label.text() or None

    def show_invite(self, code: str | None, message: str = "", *, error: bool = False) -> None:
        """Show a new session's invite code with its QR code (``None`` hides them).

        ``error`` shows ``message`` as a problem (in the error colour), not as progress.
        """
        self.invite_label.setText(code or "")
        self.invite_label.setVisible(code is not None)
        self.copy_button.setVisible(code is not None)
        if code is None:
            self.qr_label.clear()
        else:
            self.qr_label.setPixmap(qr_pixmap(code, scale=5))
        self.qr_label.setVisible(code is not None)
        self.create_message.setText(message)
        self.create_message.setObjectName("error" if error else "muted")
        style = self.create_message.style()
        style.unpolish(self.create_message)
        style.polish(self.create_message)

    def set_create_busy(self, busy: bool) -> None:
        """Disable the create button while a session is being created."""
        self.create_button.setEnabled(not busy)
        if busy:
            self.create_message.setText("Creating a session…")

    def copy_invite_code(self) -> None:
        """Put the invite code on the clipboard."""
        code = self.invite_code
        if code:
            QGuiApplication.clipboard().setText(code)
            self.create_message.setText("Copied. Read it out or paste it to the person joining.")
