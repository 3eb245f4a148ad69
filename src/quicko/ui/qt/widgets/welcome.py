"""The welcome view: branding and the three ways to start."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

__all__ = ["WelcomeView"]

_POINTS = (
    "Ephemeral — nothing is ever written to disk.",
    "End-to-end encrypted — the relay only routes sealed envelopes.",
    "Verifiable — compare safety numbers; keys are authenticated, never trusted blindly.",
)


class WelcomeView(QWidget):
    """The first view.

    Signals:
        new_session_requested(), join_requested(), identity_requested().
    """

    new_session_requested = Signal()
    join_requested = Signal()
    identity_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("welcome")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(48, 48, 48, 48)
        layout.addStretch(1)
        brand = QLabel("Quicko2")
        brand.setObjectName("brand")
        brand.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(brand)
        tagline = QLabel("Private conversations that leave no trace.")
        tagline.setObjectName("title")
        tagline.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(tagline)
        for point in _POINTS:
            label = QLabel(point)
            label.setObjectName("muted")
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            layout.addWidget(label)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.new_button = QPushButton("New session  (Ctrl+N)")
        self.new_button.setObjectName("primary")
        self.join_button = QPushButton("Join with a code  (Ctrl+O)")
        self.identity_button = QPushButton("Identity  (Ctrl+Y)")
        for button in (self.new_button, self.join_button, self.identity_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout.addSpacing(24)
        layout.addLayout(buttons)
        layout.addStretch(2)
        self.new_button.clicked.connect(self.new_session_requested)
        self.join_button.clicked.connect(self.join_requested)
        self.identity_button.clicked.connect(self.identity_requested)
