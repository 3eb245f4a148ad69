"""The desktop app asks before it destroys anything, and only then (issue 12, items 2 and 8).

Headless against a real relay: replacing the identity with open chats or with a QuickoKey whose
words are not written down, leaving a chat; themed buttons, Cancel by default.
"""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot
from qt_support import WAIT_MS, press, screenshot

from quicko.ui.qt.main_window import MainWindow, replace_question
from quicko.ui.qt.widgets.dialogs import ConfirmDialog

pytestmark = pytest.mark.ui
pytest_plugins = ["qt_fixtures"]


def question(window: MainWindow, name: str) -> ConfirmDialog:
    shown = [box for box in window.findChildren(ConfirmDialog, name) if box.isVisible()]
    assert len(shown) == 1, f"no {name} dialog"
    return shown[0]


def test_the_replace_question_says_what_is_lost() -> None:
    assert replace_question(open_chats=0, long_term=False, words_written=False) is None
    assert replace_question(open_chats=0, long_term=True, words_written=True) is None
    assert replace_question(open_chats=3, long_term=True, words_written=False) == (
        "Replace your QuickoKey?",
        "Your 3 open chats will close and this key is gone unless you wrote down its 16 words.",
    )
    assert replace_question(open_chats=1, long_term=True, words_written=True) == (
        "Replace your QuickoKey?",
        "Your 1 open chat will close. You can recover this key later from its 16 words.",
    )


def test_generate_asks_before_closing_chats_or_losing_a_key(
    qtbot: QtBot, window: MainWindow
) -> None:
    panel = window.identity_panel
    window.create_session()
    qtbot.waitUntil(lambda: len(window.chats) == 1, timeout=WAIT_MS)
    ephemeral = panel.quickokey_label.text()
    window.show_identity_panel()
    panel.generate_button.click()
    box = question(window, "confirmReplace")
    assert box.text_label.text() == (
        "Your 1 open chat will close and this temporary identity is gone for good."
    )
    assert box.cancel_button.isDefault() and box.confirm_button.objectName() == "dangerFilled"
    screenshot(box, "confirm-replace")
    press(box, Qt.Key.Key_Return)  # Enter cancels
    qtbot.waitUntil(lambda: not box.isVisible(), timeout=WAIT_MS)
    assert panel.quickokey_label.text() == ephemeral and len(window.chats) == 1

    panel.generate_button.click()
    question(window, "confirmReplace").confirm_button.click()
    qtbot.waitUntil(lambda: panel.long_term, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: window.chats == {}, timeout=WAIT_MS)  # the client closed them
    first = panel.quickokey_label.text()

    panel.generate_button.click()  # again: this key's words are not written down
    box = question(window, "confirmReplace")
    assert box.text_label.text() == "This key is gone unless you wrote down its 16 words."
    box.cancel_button.click()
    assert panel.quickokey_label.text() == first

    panel.show_seed_button.click()
    panel.written_button.click()
    assert panel.words_written and not panel.written_button.isEnabled()
    panel.generate_button.click()  # nothing to lose: no question
    QApplication.processEvents()
    assert not question_open(window)
    qtbot.waitUntil(lambda: panel.quickokey_label.text() != first, timeout=WAIT_MS)
    assert not panel.words_written


def question_open(window: MainWindow) -> bool:
    return any(box.isVisible() for box in window.findChildren(ConfirmDialog))


def test_leave_and_destroy_ask_with_themed_buttons(qtbot: QtBot, window: MainWindow) -> None:
    window.create_session()
    qtbot.waitUntil(lambda: len(window.chats) == 1, timeout=WAIT_MS)
    (cid,) = window.chats
    window.show_chat(cid)
    view = window.views[cid]
    view.leave_button.click()
    box = question(window, "confirmLeave")
    assert box.title_label.text() == "Leave this chat?"
    assert box.cancel_button.isDefault() and box.confirm_button.text() == "Leave"
    assert box.confirm_button.objectName() == "dangerFilled"  # styled by the theme
    screenshot(box, "confirm-leave")
    box.cancel_button.click()
    assert cid in window.chats

    view.destroy_button.click()
    box = question(window, "confirmDestroy")
    assert box.confirm_button.text() == "Destroy" and box.cancel_button.isDefault()
    box.cancel_button.click()
    assert cid in window.chats

    window.leave_current()  # the shortcut asks too
    question(window, "confirmLeave").confirm_button.click()
    qtbot.waitUntil(lambda: cid not in window.chats, timeout=WAIT_MS)
