"""The desktop app's calls, headless against a real relay: stale incoming calls, calling state.

Issue 12, items 1 and 5: an incoming call whose caller gave up closes its dialog with a clear
line and can no longer be accepted; an outgoing call shows "Calling…" with a Cancel.
"""

from __future__ import annotations

import secrets

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot
from qt_support import (
    WAIT_MS,
    in_background,
    press,
    screenshot,
    wait_event,
)

from quicko.client import CallEnded, CallRinging, IncomingCall, QuickoClient
from quicko.errors import CallCancelledError, SessionError
from quicko.identity import Identity
from quicko.ui.qt.main_window import MainWindow
from quicko.ui.qt.widgets.dialogs import IncomingCallDialog

pytestmark = pytest.mark.ui
pytest_plugins = ["qt_fixtures"]


@pytest.fixture
def app_identity() -> Identity:
    """The app has a QuickoKey, so it can be called."""
    return Identity.generate(secrets.token_bytes)


def ringing(window: MainWindow) -> bool:
    return window.session_panel.calling


def test_dialog_expires_and_then_refuses_to_accept(qtbot: QtBot) -> None:
    dialog = IncomingCallDialog("ab" * 16, "Eve Otter #0001", "QK-X", "1" * 60, ring_ms=100)
    qtbot.addWidget(dialog)
    answers: list[bool] = []
    dialog.answered.connect(answers.append)
    dialog.show()
    assert dialog.countdown_label.text().startswith("Answer within ")
    with qtbot.waitSignal(dialog.expired, timeout=WAIT_MS):
        pass
    assert dialog.is_expired and not dialog.isVisible()
    assert not dialog.accept_button.isEnabled()
    assert dialog.countdown_label.text().startswith("Eve Otter #0001 stopped calling")
    dialog.accept_button.click()
    dialog._answer(accept=True)  # even a click that raced the timer
    assert answers == []


def test_a_stale_incoming_call_closes_its_dialog_with_a_clear_line(
    qtbot: QtBot, window: MainWindow, peer: QuickoClient
) -> None:
    # The app's clock is held still until the test moves it: the ring ends when the test says,
    # not when a loaded machine happens to get there (a real 800 ms ring could end before the
    # dialog was ever shown).
    held = [window.now_ms()]
    window.now_ms = lambda: held[0]
    window.bridge.submit(window.client.register_key)
    quickokey = window.client.identity_info.quickokey
    qtbot.waitUntil(lambda: peer.lookup_key(quickokey).found, timeout=WAIT_MS)
    placed = in_background(lambda: peer.call(quickokey, 20))
    qtbot.waitUntil(
        lambda: any(isinstance(d, IncomingCallDialog) for d in window.dialogs), timeout=WAIT_MS
    )
    dialog = next(d for d in window.dialogs if isinstance(d, IncomingCallDialog))
    name = dialog.display_name
    assert dialog.isVisible() and dialog.countdown_label.text().startswith("Answer within ")

    held[0] += window.model.ring_ms + 1  # the caller's ring time is over
    window.wake_model()
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=WAIT_MS)
    assert dialog not in window.dialogs
    assert window.status.currentMessage().startswith(f"{name} stopped calling")
    screenshot(window, "missed-call")
    dialog.accept_button.click()
    qtbot.waitUntil(placed.done, timeout=WAIT_MS)
    with pytest.raises(SessionError, match="declined"):
        placed.result()
    assert window.chats == {}


def test_a_call_the_caller_cancels_closes_its_dialog_at_once(
    qtbot: QtBot, window: MainWindow, peer: QuickoClient
) -> None:
    # The client's CallEnded, not the app's own ring time, closes the dialog.
    window.bridge.submit(window.client.register_key)
    quickokey = window.client.identity_info.quickokey
    qtbot.waitUntil(lambda: peer.lookup_key(quickokey).found, timeout=WAIT_MS)
    placed = in_background(lambda: peer.call(quickokey, 20))
    ringing_out = wait_event(qtbot, peer, CallRinging)
    qtbot.waitUntil(
        lambda: any(isinstance(d, IncomingCallDialog) for d in window.dialogs), timeout=WAIT_MS
    )
    dialog = next(d for d in window.dialogs if isinstance(d, IncomingCallDialog))
    assert dialog.seconds_left > 40  # far from the app's own deadline
    peer.cancel_call(ringing_out.call_id)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=WAIT_MS)
    assert window.status.currentMessage() == f"{dialog.display_name} stopped calling."
    assert window.model.calls == {}
    qtbot.waitUntil(placed.done, timeout=WAIT_MS)
    with pytest.raises(CallCancelledError):
        placed.result()
    assert window.chats == {}


def test_calling_shows_a_cancel_that_ends_the_callees_ring(
    qtbot: QtBot, window: MainWindow, peer: QuickoClient
) -> None:
    # Issue 12, item 5: up to 60 s with no feedback and no way to stop.
    callee = peer.generate_quickokey()
    peer.register_key()
    panel = window.session_panel
    window.show_session_panel()
    field = panel.call_field
    key_width = field.edit.fontMetrics().horizontalAdvance(callee.quickokey)
    assert field.edit.width() > key_width  # the whole key fits
    field.edit.setText(callee.quickokey)
    field.button.click()
    ring = wait_event(qtbot, peer, IncomingCall)
    assert panel.calling
    assert panel.calling_label.text().startswith(f"Calling {callee.display_name}… ")
    assert field.edit.isReadOnly() and not field.button.isEnabled()
    screenshot(window, "calling")

    press(window, Qt.Key.Key_Escape)
    assert not ringing(window) and field.error == "Call cancelled."
    assert field.button.isEnabled()

    ended = wait_event(qtbot, peer, CallEnded, lambda event: event.call_id == ring.call_id)
    assert ended.reason == "cancelled"  # the callee's dialog closes at once
    with pytest.raises(SessionError):
        peer.answer_call(ring.call_id, True)  # nothing left to accept
    assert window.chats == {} and window.model.outgoing is None
