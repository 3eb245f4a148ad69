"""A line edit validated as the user types, with the library's own error messages."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from quicko.errors import InputError
from quicko.identity import format_quickokey, parse_invite_code, parse_quickokey

__all__ = ["Canonicalize", "ValidatedField", "canonical_invite_code", "canonical_quickokey"]

Canonicalize = Callable[[str], str]
"""Turns typed text into its canonical form, or raises :class:`~quicko.errors.InputError`."""


def canonical_invite_code(text: str) -> str:
    """The canonical ``XXXX-XXXX`` form of a typed invite code (``InviteCodeError`` if not)."""
    return str(parse_invite_code(text))


def canonical_quickokey(text: str) -> str:
    """The canonical ``QK-…`` form of a typed QuickoKey (``QuickoKeyFormatError`` if not)."""
    return format_quickokey(parse_quickokey(text))


class ValidatedField(QWidget):
    """A line edit, its action button and an error line.

    The button is enabled only while the text is valid; Enter in the field presses it.

    Args:
        canonicalize: the validator (one of the ``canonical_…`` functions).
        placeholder: the example shown in the empty field.
        button_text: the action button's label.

    Signals:
        submitted(str): the user asked for the action with this canonical value.
    """

    submitted = Signal(str)

    def __init__(
        self,
        canonicalize: Canonicalize,
        placeholder: str,
        button_text: str,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._canonicalize = canonicalize
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        self.edit = QLineEdit()
        self.edit.setPlaceholderText(placeholder)
        self.edit.setAccessibleName(placeholder)
        row.addWidget(self.edit, 1)
        self.button = QPushButton(button_text)
        self.button.setObjectName("primary")
        row.addWidget(self.button)
        layout.addLayout(row)
        self.message = QLabel("")
        self.message.setObjectName("error")
        self.message.setWordWrap(True)
        self.message.setTextFormat(Qt.TextFormat.PlainText)
        layout.addWidget(self.message)
        self._busy = False
        self.edit.textChanged.connect(self._validate)
        self.edit.returnPressed.connect(self._submit)
        self.button.clicked.connect(self._submit)
        self._validate(self.edit.text())

    @property
    def value(self) -> str | None:
        """The canonical value of the text, or ``None`` while it is not valid."""
        try:
            return self._canonicalize(self.edit.text())
        except InputError:
            return None

    @property
    def error(self) -> str:
        """The error shown under the field (empty when there is none)."""
        return self.message.text()

    def set_busy(self, busy: bool) -> None:
        """Disable the field while its action runs."""
        self._busy = busy
        self.edit.setReadOnly(busy)
        self._validate(self.edit.text())

    def show_error(self, message: str) -> None:
        """Show an error from the action (a refused code, an offline peer, …)."""
        self.message.setText(message)

    def clear(self) -> None:
        """Empty the field."""
        self.edit.clear()

    def _validate(self, text: str) -> None:
        error = ""
        valid = False
        if text.strip():
            try:
                self._canonicalize(text)
                valid = True
            except InputError as exc:
                error = str(exc)
        self.message.setText(error)
        self.edit.setProperty("valid", "false" if error else "true")
        style = self.edit.style()
        style.unpolish(self.edit)
        style.polish(self.edit)
        self.button.setEnabled(valid and not self._busy)

    def _submit(self) -> None:
        value = self.value
        if value is not None and not self._busy:
            self.submitted.emit(value)
