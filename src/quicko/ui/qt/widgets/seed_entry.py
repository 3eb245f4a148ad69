"""Seed-phrase entry: 16 numbered word fields, each checked as it is typed (issue 12, item 6).

Each field takes one word (or its first four letters), completes from the word list, and says
at once when a word is not in the list, with the nearest words. Pasting or typing a whole
phrase into any field spreads it over that field and the ones after it, so one wrong word is
fixed in its own field without retyping the others. Repeated words are normal (every word is
a byte) and the hint says so. The checksum (docs/protocol.md §6.2) is checked when all 16 are
there, by the same parser the client uses.
"""

from __future__ import annotations

import re
from typing import Final

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCompleter, QGridLayout, QLabel, QLineEdit, QVBoxLayout, QWidget

from quicko.identity import SEED_PHRASE_WORDS, WORDS, seed_word, seed_word_suggestions

__all__ = ["COLUMNS", "SeedPhraseEntry", "WordField"]

COLUMNS: Final = 4
"""Word fields per row."""

_SEPARATORS: Final = re.compile(r"[\s,]+")
_LABEL: Final = re.compile(r"\d{1,2}[.):]?")


def _words_of(text: str) -> list[str]:
    return [p for p in _SEPARATORS.split(text.strip()) if p and not _LABEL.fullmatch(p)]


class WordField(QLineEdit):
    """One word of the phrase.

    Typing a space (or a comma) moves on to the next field; text with several words (a paste)
    is spread over this field and the following ones.

    Signals:
        spread(int, list): the field at this index received several words.
    """

    spread = Signal(int, list)

    def __init__(self, index: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.index = index
        self.setObjectName("seedWord")
        self.setPlaceholderText(f"word {index + 1}")
        self.setAccessibleName(f"Word {index + 1} of the seed phrase")
        completer = QCompleter(list(WORDS), self)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setCompletionMode(QCompleter.CompletionMode.InlineCompletion)
        self.setCompleter(completer)
        self.textChanged.connect(self._split)

    def _split(self, text: str) -> None:
        words = _words_of(text)
        ends_word = bool(text) and text[-1] in " ,\t\n"
        if len(words) > 1 or (ends_word and words):
            self.spread.emit(self.index, words)


class SeedPhraseEntry(QWidget):
    """Sixteen word fields in four rows, a line per problem, and how many words are in.

    Signals:
        changed(): a word changed.
    """

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        grid = QGridLayout()
        grid.setHorizontalSpacing(8)
        grid.setVerticalSpacing(6)
        self.fields: list[WordField] = []
        for index in range(SEED_PHRASE_WORDS):
            number = QLabel(f"{index + 1}.")
            number.setObjectName("muted")
            number.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            field = WordField(index)
            row, column = divmod(index, COLUMNS)
            grid.addWidget(number, row, 2 * column)
            grid.addWidget(field, row, 2 * column + 1)
            field.textChanged.connect(self._check)
            field.spread.connect(self.fill_from)
            self.fields.append(field)
        layout.addLayout(grid)
        self.problems_label = QLabel("")
        self.problems_label.setObjectName("error")
        self.problems_label.setTextFormat(Qt.TextFormat.PlainText)
        self.problems_label.setWordWrap(True)
        layout.addWidget(self.problems_label)
        self._check()

    # -- what the panel asks

    @property
    def words(self) -> list[str]:
        """The words typed, in order (empty fields skipped)."""
        return [field.text().strip() for field in self.fields if field.text().strip()]

    @property
    def text(self) -> str:
        """The phrase as typed, one space between words."""
        return " ".join(self.words)

    @property
    def complete(self) -> bool:
        """Whether all 16 fields hold a word of the list."""
        return all(seed_word(field.text()) is not None for field in self.fields)

    @property
    def problems(self) -> str:
        """The problems shown under the fields ("" when there are none)."""
        return self.problems_label.text()

    def set_text(self, text: str) -> None:
        """Fill the fields from a whole phrase (what a paste into the first field does)."""
        self.clear()
        self.fill_from(0, _words_of(text))

    def fill_from(self, index: int, words: list[str]) -> None:
        """Put ``words`` into the fields from ``index`` on (a pasted phrase), focus the next."""
        for field, word in zip(self.fields[index:], words, strict=False):
            field.blockSignals(True)
            field.setText(word)
            field.blockSignals(False)
        following = min(index + len(words), SEED_PHRASE_WORDS - 1)
        self.fields[following].setFocus(Qt.FocusReason.OtherFocusReason)
        self._check()

    def clear(self) -> None:
        """Empty every field."""
        for field in self.fields:
            field.clear()

    # -- checking

    def _check(self) -> None:
        problems: list[str] = []
        for field in self.fields:
            typed = field.text().strip()
            state = "" if not typed else "true" if seed_word(typed) else "false"
            if state == "false" and (len(typed) >= 4 or not field.hasFocus()):
                problems.append(_problem(field.index, typed))
            elif state == "false":
                state = ""  # still being typed: not an error yet
            if field.property("valid") != state:
                field.setProperty("valid", state)
                field.style().unpolish(field)
                field.style().polish(field)
        self.problems_label.setText("\n".join(problems))
        self.changed.emit()


def _problem(index: int, typed: str) -> str:
    shown = typed if len(typed) <= 24 and typed.isprintable() else typed[:24] + "…"
    line = f"Word {index + 1} '{shown}' is not in the word list"
    suggestions = seed_word_suggestions(typed)
    return line + (f": did you mean {', '.join(suggestions)}?" if suggestions else ".")
