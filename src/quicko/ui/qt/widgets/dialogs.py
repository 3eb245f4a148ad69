"""Dialogs: an incoming call (accept or decline) and a safety-number comparison.

Both are non-blocking (``open()``, never ``exec()``): the event loop keeps running, so network
events keep arriving while a dialog is up, and tests can drive them.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from quicko.identity import safety_number_lines

__all__ = ["IncomingCallDialog", "SafetyNumberDialog"]


def _label(text: str, name: str = "", *, wrap: bool = True) -> QLabel:
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(wrap)
    if name:
        label.setObjectName(name)
    return label


class IncomingCallDialog(QDialog):
    """Somebody is calling our QuickoKey.

    Args:
        call_id: the call (kept for the window).
        display_name: the caller's display name, derived from its QuickoKey (never the name it
            claims).
        caller_quickokey: the caller's QuickoKey.
        safety_number: the safety number of the caller's keys and ours.
        claimed_name: the name the caller claims, when it is not its derived name: shown
            below, labelled as a claim.
        parent: the parent widget.

    Signals:
        answered(bool): the user accepted (``True``) or declined (``False``).
    """

    answered = Signal(bool)

    def __init__(
        self,
        call_id: str,
        display_name: str,
        caller_quickokey: str,
        safety_number: str,
        *,
        claimed_name: str | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.call_id = call_id
        self.setObjectName("incomingCall")
        self.setWindowTitle("Incoming call")
        self.setModal(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 20)
        layout.addWidget(_label(f"{display_name} is calling", "title"))
        layout.addWidget(_label(caller_quickokey, "quickokey", wrap=False))
        self.claim_label: QLabel | None = None
        if claimed_name is not None:
            self.claim_label = _label(
                f'It claims to be "{claimed_name}": anyone can claim a name; only the name '
                "above and the safety number are proven.",
                "warning",
            )
            layout.addWidget(self.claim_label)
        layout.addWidget(_label("Safety number", "section"))
        layout.addWidget(_label(safety_number_lines(safety_number), "safetyNumber", wrap=False))
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.decline_button = QPushButton("Decline")
        self.decline_button.setObjectName("danger")
        self.accept_button = QPushButton("Accept")
        self.accept_button.setObjectName("primary")
        self.accept_button.setDefault(True)
        buttons.addWidget(self.decline_button)
        buttons.addWidget(self.accept_button)
        layout.addLayout(buttons)
        self._answered = False
        self.accept_button.clicked.connect(lambda: self._answer(accept=True))
        self.decline_button.clicked.connect(lambda: self._answer(accept=False))
        self.rejected.connect(lambda: self._answer(accept=False))

    def _answer(self, *, accept: bool) -> None:
        if self._answered:
            return
        self._answered = True
        self.answered.emit(accept)
        self.close()


class SafetyNumberDialog(QDialog):
    """Compare a safety number with a peer and mark them verified.

    Signals:
        confirmed(): the user says the numbers match.
    """

    confirmed = Signal()

    def __init__(
        self,
        display_name: str,
        safety_number: str,
        *,
        verified: bool,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("safetyNumber")
        self.setWindowTitle(f"Verify {display_name}")
        self.setModal(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 20)
        layout.addWidget(_label(f"Verify {display_name}", "title"))
        layout.addWidget(
            _label(
                f"Compare this number with {display_name} in person or on a call you trust. "
                "If both of you see the same number, nobody — not even the relay — is in the "
                "middle.",
                "muted",
            )
        )
        # 60 digits: two lines of six groups, one per party, never wrapped elsewhere.
        self.number_label = _label(safety_number_lines(safety_number), "safetyNumber", wrap=False)
        self.number_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.number_label)
        self.state_label = _label(
            "Verified ✓" if verified else "Not verified yet", "ok" if verified else "muted"
        )
        layout.addWidget(self.state_label)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.close_button = QPushButton("Close")
        self.confirm_button = QPushButton("They match: mark verified")
        self.confirm_button.setObjectName("primary")
        self.confirm_button.setEnabled(not verified)
        buttons.addWidget(self.close_button)
        buttons.addWidget(self.confirm_button)
        layout.addLayout(buttons)
        self.close_button.clicked.connect(self.close)
        self.confirm_button.clicked.connect(self._confirm)

    def _confirm(self) -> None:
        self.confirmed.emit()
        self.close()
