"""The two apps agree (issue 12, item 9): the same keys, one wording for invite codes, and
local names for peers in both.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest.importorskip("PySide6")

from quicko.tui.screens.main import SHORTCUTS as TERMINAL_KEYS
from quicko.tui.widgets.chat_view import INVITE_CODE_USE as TERMINAL_INVITE_TEXT
from quicko.ui.qt.main_window import SHORTCUTS as DESKTOP_KEYS
from quicko.ui.qt.widgets.session_panel import INVITE_CODE_USE as DESKTOP_INVITE_TEXT

pytestmark = pytest.mark.ui

README = Path(__file__).resolve().parents[2] / "README.md"
_QT_NAMES = {"pgdown": "pagedown", "pgup": "pageup"}


def as_terminal(qt_keys: str) -> str:
    """A Qt key sequence in Textual's spelling (``Ctrl+PgDown`` -> ``ctrl+pagedown``)."""
    return "+".join(_QT_NAMES.get(part, part) for part in qt_keys.lower().split("+"))


def test_both_apps_use_the_same_keys_for_the_same_actions() -> None:
    shared = set(TERMINAL_KEYS)
    assert shared <= set(DESKTOP_KEYS)
    for action in shared:
        assert as_terminal(DESKTOP_KEYS[action]) == TERMINAL_KEYS[action], action


def test_the_readme_lists_the_keys_of_both_apps() -> None:
    text = README.read_text(encoding="utf-8")
    table = text[text.index("<!-- keys -->") :].split("\n\n")[0]
    listed = {key.lower() for key in re.findall(r"(?:Ctrl\+\w+|F\d+)", table)}
    for action, keys in TERMINAL_KEYS.items():
        assert keys.replace("pagedown", "pgdown").replace("pageup", "pgup") in listed, action


def test_one_wording_for_what_an_invite_code_allows() -> None:
    assert DESKTOP_INVITE_TEXT == TERMINAL_INVITE_TEXT
    assert "Several people can join" in DESKTOP_INVITE_TEXT
    assert "once" not in DESKTOP_INVITE_TEXT
