"""The session panel: create a session (invite code, copy, QR), join by code, call a QuickoKey."""

from __future__ import annotations

import time
from typing import Final

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from quicko.appmodel import CALLER_TIMEOUT_MS
from quicko.identity import QUICKOKEY_EXAMPLE
from quicko.ui.qt.widgets.fields import (
    ValidatedField,
    canonical_invite_code,
    canonical_quickokey,
)
from quicko.ui.qt.widgets.qr import qr_pixmap

__all__ = ["CALL_WAIT_S", "INVITE_CODE_USE", "SessionPanel"]

INVITE_CODE_USE: Final = (
    "Several people can join with this code while you are in the session, until too many "
    "wrong tries retire it."
)
"""What an invite code allows, in the same words in both apps (and docs/cli.md)."""

CALL_WAIT_S: Final = CALLER_TIMEOUT_MS // 1000
"""How long a call rings before the client gives up (the relay's call timeout)."""

_KEY_FIELD_PADDING_PX: Final = 40


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
        cancel_call_requested(): the user pressed Cancel while calling.
    """

    create_requested = Signal()
    join_requested = Signal(str)
    call_requested = Signal(str)
    cancel_call_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sessionPanel")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(32, 24, 32, 24)
        layout.setSpacing(16)
        layout.addWidget(self._build_create())
        join_card, join_layout = _card(
            "Join a session", "Type the invite code someone read out to you."
        )
        self.join_field = ValidatedField(canonical_invite_code, "e.g. KBQW-E3TV", "Join")
        join_layout.addWidget(self.join_field)
        layout.addWidget(join_card)
        layout.addWidget(self._build_call())
        layout.addStretch(1)
        self.create_button.clicked.connect(self.create_requested)
        self.copy_button.clicked.connect(self.copy_invite_code)
        self.join_field.submitted.connect(self.join_requested)
        self.call_field.submitted.connect(self.call_requested)
        self.cancel_call_button.clicked.connect(self.cancel_call_requested)
        self.show_invite(None)

    def _build_call(self) -> QFrame:
        card, layout = _card(
            "Call a QuickoKey", "Call someone who registered their QuickoKey on this relay."
        )
        self.call_field = ValidatedField(canonical_quickokey, f"e.g. {QUICKOKEY_EXAMPLE}", "Call")
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self.call_field.edit.setFont(mono)
        whole_key = self.call_field.edit.fontMetrics().horizontalAdvance(
            f"e.g. {QUICKOKEY_EXAMPLE}"
        )
        self.call_field.edit.setMinimumWidth(whole_key + _KEY_FIELD_PADDING_PX)
        layout.addWidget(self.call_field)
        self.calling_row = QFrame()
        self.calling_row.setObjectName("calling")
        row = QHBoxLayout(self.calling_row)
        row.setContentsMargins(0, 4, 0, 0)
        self.calling_label = QLabel("")
        self.calling_label.setObjectName("callingText")
        self.calling_label.setTextFormat(Qt.TextFormat.PlainText)
        row.addWidget(self.calling_label, 1)
        self.cancel_call_button = QPushButton("Cancel")
        self.cancel_call_button.setObjectName("danger")
        self.cancel_call_button.setToolTip("Stop calling (Esc)")
        row.addWidget(self.cancel_call_button)
        layout.addWidget(self.calling_row)
        self.calling_row.setVisible(False)
        self._calling_name = ""
        self._calling_since = 0.0
        self._calling_timer = QTimer(self)
        self._calling_timer.setInterval(1000)
        self._calling_timer.timeout.connect(self._show_calling)
        return card

    @property
    def calling(self) -> bool:
        """Whether an outgoing call is ringing."""
        return self.calling_row.isVisibleTo(self)

    def show_calling(self, display_name: str) -> None:
        """Show "Calling NAME…" with the seconds waited and a Cancel button."""
        self._calling_name = display_name
        self._calling_since = time.monotonic()
        self.calling_row.setVisible(True)
        self._calling_timer.start()
        self._show_calling()
        self.cancel_call_button.setFocus(Qt.FocusReason.OtherFocusReason)

    def hide_calling(self) -> None:
        """The call was answered, refused, timed out or cancelled."""
        self._calling_timer.stop()
        self.calling_row.setVisible(False)

    def _show_calling(self) -> None:
        waited = int(time.monotonic() - self._calling_since)
        self.calling_label.setText(
            f"Calling {self._calling_name}… {waited} s (they have {CALL_WAIT_S} s to answer)"
        )

    def _build_create(self) -> QFrame:
        card, layout = _card(
            "New session",
            "Start a session and read its invite code to the people you want to talk to. "
            + INVITE_CODE_USE,
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
