"""Dialogs: an incoming call (accept or decline), a safety-number comparison, a confirmation.

Both are non-blocking (``open()``, never ``exec()``): the event loop keeps running, so network
events keep arriving while a dialog is up, and tests can drive them.

An incoming call can be answered for :data:`quicko.appmodel.RING_MS` after its offer arrived:
the caller gives up after 60 s (``call``'s timeout), so an answer must leave before that with
time to travel. After it the dialog says the caller stopped calling, closes itself, and can no
longer accept (issue 12, item 1).
"""

from __future__ import annotations

import time
from typing import Final

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from quicko.appmodel import RING_MS, stopped_calling
from quicko.identity import safety_number_lines

__all__ = [
    "MAX_LOCAL_NAME_CHARS",
    "ConfirmDialog",
    "IncomingCallDialog",
    "RenameDialog",
    "SafetyNumberDialog",
]

_TICK_MS: Final = 1000

MAX_LOCAL_NAME_CHARS: Final = 32
"""The longest name the user may give a member."""


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
        ring_ms: how long the call can be answered, from now (the offer's arrival).
        expire_itself: close when ``ring_ms`` has passed; the window passes ``False`` and calls
            :meth:`expire` when its model says the call is gone (a late click is still refused).
        parent: the parent widget.

    Signals:
        answered(bool): the user accepted (``True``) or declined (``False``).
        expired(): the caller gave up before an answer; the dialog closed itself and nothing
            can be answered any more.
    """

    answered = Signal(bool)
    expired = Signal()

    def __init__(
        self,
        call_id: str,
        display_name: str,
        caller_quickokey: str,
        safety_number: str,
        *,
        claimed_name: str | None = None,
        ring_ms: int = RING_MS,
        expire_itself: bool = True,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.call_id = call_id
        self.display_name = display_name
        self._deadline = time.monotonic() + ring_ms / 1000
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
        self.countdown_label = _label("", "muted")
        layout.addWidget(self.countdown_label)
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
        self.is_expired = False
        self._ring_timer = QTimer(self)
        self._ring_timer.setSingleShot(True)
        self._ring_timer.timeout.connect(self.expire)
        if expire_itself:
            self._ring_timer.start(max(0, ring_ms))
        self._tick_timer = QTimer(self)
        self._tick_timer.setInterval(_TICK_MS)
        self._tick_timer.timeout.connect(self._show_countdown)
        self._tick_timer.start()
        self._show_countdown()

    @property
    def seconds_left(self) -> int:
        """Whole seconds left to answer (0 once the caller gave up)."""
        return max(0, round(self._deadline - time.monotonic()))

    def expire(self) -> None:
        """The caller gave up: accepting is no longer possible; say so and close."""
        if self._answered:
            return
        self._answered = True
        self.is_expired = True
        self._stop_timers()
        self.accept_button.setEnabled(False)
        self.countdown_label.setText(stopped_calling(self.display_name))
        self.expired.emit()
        self.close()

    def _show_countdown(self) -> None:
        self.countdown_label.setText(f"Answer within {self.seconds_left} s")

    def _stop_timers(self) -> None:
        self._ring_timer.stop()
        self._tick_timer.stop()

    def _answer(self, *, accept: bool) -> None:
        if self._answered:
            return
        if accept and time.monotonic() >= self._deadline:
            self.expire()  # the timer has not run yet, but the caller has given up
            return
        self._answered = True
        self._stop_timers()
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


class ConfirmDialog(QDialog):
    """Asks before a destructive action, in the app's theme (never Qt's stock buttons).

    Cancel is the default button (Enter and Escape cancel); the action's button says what it
    does.

    Args:
        title: the question, such as "Leave this chat?".
        text: what will happen, in a sentence or two.
        action: the confirming button's label, such as "Leave".
        danger: draw the confirming button as destructive (else as the primary action).
        name: the dialog's object name (tests find it by this).
        parent: the parent widget.

    Signals:
        confirmed(): the user confirmed.
    """

    confirmed = Signal()

    def __init__(
        self,
        title: str,
        text: str,
        action: str,
        *,
        danger: bool = True,
        name: str = "confirm",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self.setWindowTitle(title)
        self.setModal(True)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 20)
        layout.setSpacing(12)
        self.title_label = _label(title, "title")
        layout.addWidget(self.title_label)
        self.text_label = _label(text)
        self.text_label.setMinimumWidth(380)
        layout.addWidget(self.text_label)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setDefault(True)
        self.confirm_button = QPushButton(action)
        self.confirm_button.setObjectName("dangerFilled" if danger else "primary")
        self.confirm_button.setAutoDefault(False)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.confirm_button)
        layout.addLayout(buttons)
        self.cancel_button.clicked.connect(self.reject)
        self.confirm_button.clicked.connect(self._confirm)

    def _confirm(self) -> None:
        self.confirmed.emit()
        self.accept()


class RenameDialog(QDialog):
    """Give a member of a chat a name of your own (on this device, until the app closes).

    Args:
        members: ``(address, derived name, current local name)`` of the chat's members.
        parent: the parent widget.

    Signals:
        renamed(str, str): the address and the new name ("" removes the name).
    """

    renamed = Signal(str, str)

    def __init__(self, members: list[tuple[str, str, str]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("rename")
        self.setWindowTitle("Name this person")
        self.setModal(True)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self._members = members
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 20)
        layout.addWidget(_label("Name this person", "title"))
        layout.addWidget(
            _label(
                "Only on this device, and forgotten when the app closes. Their proven name "
                "stays shown after yours.",
                "muted",
            )
        )
        self.member_box = QComboBox()
        for _address, derived, _local in members:
            self.member_box.addItem(derived)
        self.member_box.setVisible(len(members) > 1)
        layout.addWidget(self.member_box)
        self.name_edit = QLineEdit()
        self.name_edit.setMaxLength(MAX_LOCAL_NAME_CHARS)
        self.name_edit.setPlaceholderText("e.g. Bob from work")
        layout.addWidget(self.name_edit)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.cancel_button = QPushButton("Cancel")
        self.save_button = QPushButton("Save")
        self.save_button.setObjectName("primary")
        self.save_button.setDefault(True)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.save_button)
        layout.addLayout(buttons)
        self.member_box.currentIndexChanged.connect(self._show_current)
        self.cancel_button.clicked.connect(self.reject)
        self.save_button.clicked.connect(self._save)
        self.name_edit.returnPressed.connect(self._save)
        self._show_current(0)

    def _show_current(self, index: int) -> None:
        if 0 <= index < len(self._members):
            self.name_edit.setText(self._members[index][2])

    def _save(self) -> None:
        index = self.member_box.currentIndex()
        name = " ".join(
            "".join(c if c.isprintable() else " " for c in self.name_edit.text()).split()
        )
        self.renamed.emit(self._members[index][0], name[:MAX_LOCAL_NAME_CHARS])
        self.accept()
