"""The identity panel: the QuickoKey, its seed phrase (hidden by default), recover, register."""

from __future__ import annotations

from typing import Final

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QLayout,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from quicko.errors import SeedPhraseError
from quicko.identity import SEED_PHRASE_WORDS, normalize_seed_phrase
from quicko.ui.qt.widgets.seed_entry import SeedPhraseEntry

__all__ = ["SEED_WARNING", "IdentityPanel", "format_seed_phrase"]

SEED_WARNING: Final = (
    "These 16 words are the only backup of this identity: nothing is stored anywhere. "
    "Write them down in order and keep them private. Anyone who has them can act as you; "
    "if you lose them, this QuickoKey is gone for good."
)
_WORDS_PER_ROW: Final = 4


def format_seed_phrase(words: tuple[str, ...]) -> str:
    """The words numbered, four to a line."""
    cells = [f"{index:>2}. {word:<10}" for index, word in enumerate(words, start=1)]
    rows = [cells[i : i + _WORDS_PER_ROW] for i in range(0, len(cells), _WORDS_PER_ROW)]
    return "\n".join("  ".join(row).rstrip() for row in rows)


def _label(text: str = "", name: str = "", *, wrap: bool = False) -> QLabel:
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)
    if name:
        label.setObjectName(name)
    label.setWordWrap(wrap)
    return label


class IdentityPanel(QWidget):
    """Who this app is on the relay, and the actions on that identity.

    Signals:
        generate_requested(): make a new long-term QuickoKey.
        recover_requested(str): recover the identity of these 16 words (normalised).
        register_requested(): register the QuickoKey on the relay's directory.
        written_down(): the user says the words shown are written down.

    Attributes:
        words_written: whether the user said the current QuickoKey's words are written down
            (in memory only; a new identity starts without it).
    """

    generate_requested = Signal()
    recover_requested = Signal(str)
    register_requested = Signal()
    written_down = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("identityPanel")
        self._seed: tuple[str, ...] = ()
        self.words_written = False
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        scroll = QScrollArea()  # the two cards are taller than a small window
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        content = QWidget()
        content.setObjectName("identityContent")
        layout = QVBoxLayout(content)
        # At least its preferred height, so the area scrolls instead of squashing the cards.
        layout.setSizeConstraint(QLayout.SizeConstraint.SetMinimumSize)
        layout.setContentsMargins(32, 24, 32, 24)
        layout.setSpacing(16)
        layout.addWidget(self._build_identity())
        layout.addWidget(self._build_recover())
        layout.addStretch(1)
        scroll.setWidget(content)
        outer.addWidget(scroll)
        self.set_identity("", "", ())

    def _build_identity(self) -> QFrame:
        card = QFrame()
        card.setObjectName("card")
        layout = QVBoxLayout(card)
        layout.setContentsMargins(20, 16, 20, 16)
        layout.addWidget(_label("Your identity", "title"))
        self.name_label = _label("", "", wrap=True)
        layout.addWidget(self.name_label)
        key_row = QHBoxLayout()
        self.quickokey_label = _label("", "quickokey")
        self.quickokey_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        key_row.addWidget(self.quickokey_label, 1)
        self.copy_button = QPushButton("Copy QuickoKey")
        key_row.addWidget(self.copy_button)
        layout.addLayout(key_row)
        self.kind_label = _label("", "muted", wrap=True)
        layout.addWidget(self.kind_label)
        buttons = QHBoxLayout()
        self.generate_button = QPushButton("Generate QuickoKey")
        self.generate_button.setObjectName("primary")
        self.register_button = QPushButton("Register on the directory")
        self.register_button.setToolTip("Let people call you by your QuickoKey on this relay")
        self.show_seed_button = QPushButton("Show seed phrase")
        self.show_seed_button.setCheckable(True)
        for button in (self.generate_button, self.register_button, self.show_seed_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        self.status_label = _label("", "ok", wrap=True)
        layout.addWidget(self.status_label)
        self.warning_label = _label(SEED_WARNING, "warning", wrap=True)
        layout.addWidget(self.warning_label)
        self.seed_label = _label("", "seedPhrase")
        self.seed_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.seed_label)
        written_row = QHBoxLayout()
        self.written_button = QPushButton("I wrote them down")
        self.written_button.setToolTip(
            "Say the 16 words are on paper: replacing this QuickoKey then asks only about chats"
        )
        written_row.addWidget(self.written_button)
        written_row.addStretch(1)
        layout.addLayout(written_row)
        self.written_button.clicked.connect(self.confirm_written)
        self.copy_button.clicked.connect(self.copy_quickokey)
        self.generate_button.clicked.connect(self.generate_requested)
        self.register_button.clicked.connect(self.register_requested)
        self.show_seed_button.toggled.connect(self.set_seed_visible)
        return card

    def _build_recover(self) -> QFrame:
        card = QFrame()
        card.setObjectName("card")
        layout = QVBoxLayout(card)
        layout.setContentsMargins(20, 16, 20, 16)
        layout.addWidget(_label("Recover an identity", "title"))
        layout.addWidget(
            _label(
                f"Type or paste the {SEED_PHRASE_WORDS} words in order; the first four letters "
                "of a word are enough, and a word may appear more than once.",
                "muted",
                wrap=True,
            )
        )
        self.recover_entry = SeedPhraseEntry()
        layout.addWidget(self.recover_entry)
        row = QHBoxLayout()
        self.word_count_label = _label("", "muted")
        row.addWidget(self.word_count_label, 1)
        self.recover_button = QPushButton("Recover")
        self.recover_button.setObjectName("primary")
        row.addWidget(self.recover_button)
        layout.addLayout(row)
        self.recover_error = _label("", "error", wrap=True)
        layout.addWidget(self.recover_error)
        self.recover_entry.changed.connect(self._count_words)
        self.recover_button.clicked.connect(self.submit_recovery)
        self._count_words()
        return card

    # -- what the window tells the panel

    def set_identity(
        self,
        quickokey: str,
        display_name: str,
        seed_phrase: tuple[str, ...],
        *,
        words_written: bool = False,
    ) -> None:
        """Show the current identity (an empty seed phrase means an ephemeral identity).

        ``words_written`` is true for a recovered identity: its words were just typed in.
        """
        self._seed = seed_phrase
        self.words_written = words_written
        self.name_label.setText(display_name)
        self.quickokey_label.setText(quickokey)
        self.copy_button.setEnabled(bool(quickokey))
        long_term = bool(seed_phrase)
        self.kind_label.setText(
            "A QuickoKey you can keep: recover it anywhere from its seed phrase."
            if long_term
            else "A temporary identity: it is gone when the app closes. "
            "Generate a QuickoKey to get one you can keep and give to people."
        )
        self.register_button.setEnabled(long_term)
        self.show_seed_button.setEnabled(long_term)
        self.show_seed_button.setChecked(False)
        self.set_seed_visible(False)
        self.status_label.setText("")

    def set_seed_visible(self, visible: bool) -> None:
        """Show or hide the seed phrase; the words are in the widget tree only while shown."""
        shown = visible and bool(self._seed)
        self.seed_label.setText(format_seed_phrase(self._seed) if shown else "")
        self.seed_label.ensurePolished()  # the style sheet's font and padding, then its height
        self.seed_label.setMinimumHeight(self.seed_label.sizeHint().height() if shown else 0)
        self.seed_label.setVisible(shown)
        self.warning_label.setVisible(shown)
        self.written_button.setVisible(shown)
        self.written_button.setEnabled(not self.words_written)
        self.written_button.setText("Written down ✓" if self.words_written else "I wrote them down")
        self.show_seed_button.setText("Hide seed phrase" if shown else "Show seed phrase")

    def confirm_written(self) -> None:
        """Record that the words shown are written down (only while they are shown)."""
        if not self.seed_visible:
            return
        self.words_written = True
        self.set_seed_visible(True)
        self.status_label.setText("Noted: the 16 words are written down.")
        self.written_down.emit()

    @property
    def long_term(self) -> bool:
        """Whether the identity shown is a QuickoKey with a seed phrase (not ephemeral)."""
        return bool(self._seed)

    @property
    def seed_visible(self) -> bool:
        """Whether the seed phrase is shown."""
        return bool(self.seed_label.text())

    def show_status(self, message: str) -> None:
        """Show the outcome of an action (registered, recovered, …)."""
        self.status_label.setText(message)

    def show_recover_error(self, message: str) -> None:
        """Show why a recovery failed."""
        self.recover_error.setText(message)

    def set_busy(self, busy: bool) -> None:
        """Disable the actions while one runs."""
        for button in (self.generate_button, self.recover_button):
            button.setEnabled(not busy)
        self.register_button.setEnabled(not busy and bool(self._seed))

    def clear_recovery(self) -> None:
        """Empty the recovery fields (after a recovery, so the words do not linger)."""
        self.recover_entry.clear()
        self.recover_error.setText("")

    # -- actions

    def copy_quickokey(self) -> None:
        """Put the QuickoKey on the clipboard."""
        quickokey = self.quickokey_label.text()
        if quickokey:
            QGuiApplication.clipboard().setText(quickokey)
            self.status_label.setText("QuickoKey copied.")

    def submit_recovery(self) -> None:
        """Check the words with the library and emit :attr:`recover_requested` if they parse."""
        text = self.recover_entry.text
        try:
            words = normalize_seed_phrase(text)
        except SeedPhraseError as exc:
            self.recover_error.setText(str(exc))
            return
        self.recover_error.setText("")
        self.recover_requested.emit(" ".join(words))

    def _count_words(self) -> None:
        count = len(self.recover_entry.words)
        self.word_count_label.setText(f"{count} of {SEED_PHRASE_WORDS} words")
        self.recover_button.setEnabled(count > 0)
        self.recover_error.setText("")  # a word changed: the last verdict no longer holds
