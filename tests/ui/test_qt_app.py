"""The desktop app driven headless (offscreen Qt) against a real relay and a real second client."""

from __future__ import annotations

import re

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from pytestqt.qtbot import QtBot
from qt_support import (
    WAIT_MS,
    RelayThread,
    in_background,
    press,
    screenshot,
    type_text,
    wait_event,
)

from quicko.client import (
    IncomingCall,
    MessageReceived,
    QuickoClient,
    SessionInfo,
    StatusChanged,
)
from quicko.identity import Identity, safety_number_lines
from quicko.messaging import DeliveryStatus
from quicko.ui.qt.main_window import MainWindow
from quicko.ui.qt.widgets.chat_view import ChatView
from quicko.ui.qt.widgets.dialogs import IncomingCallDialog, SafetyNumberDialog

pytestmark = pytest.mark.ui
pytest_plugins = ["qt_fixtures"]

INVITE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$")
KNOWN = Identity.from_root(bytes([*range(15), 0xAE]))  # a root with its checksum (§6.2)


def chat_of(window: MainWindow) -> ChatView:
    view = window.current_chat
    assert view is not None, "no chat is shown"
    return view


def create_and_join(qtbot: QtBot, window: MainWindow, peer: QuickoClient) -> SessionInfo:
    """The app creates a session, the peer joins with its code; the app shows the chat."""
    press(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    panel = window.session_panel
    qtbot.waitUntil(lambda: panel.invite_code is not None, timeout=WAIT_MS)
    code = panel.invite_code
    assert code is not None and INVITE.match(code)
    info = peer.join_session(code)
    qtbot.waitUntil(lambda: window.current_chat is not None, timeout=WAIT_MS)
    peer_name = peer.identity_info.display_name
    qtbot.waitUntil(lambda: chat_of(window).title_label.text() == peer_name, timeout=WAIT_MS)
    return info


def send_from_app(qtbot: QtBot, window: MainWindow, text: str) -> None:
    view = chat_of(window)
    view.input.focus()
    type_text(view.input.edit, text)
    press(view.input.edit, Qt.Key.Key_Return)


def test_welcome_view_has_the_branding(window: MainWindow) -> None:
    assert window.stack.currentWidget() is window.welcome
    assert "Quicko2" in window.windowTitle()
    assert window.status.connection_label.text() == f"● Connected to {window.relay_url}"
    assert not window.status.encrypted_shown
    screenshot(window, "welcome")


def test_create_session_shows_the_invite_code_and_a_peer_joins(
    qtbot: QtBot, window: MainWindow, peer: QuickoClient
) -> None:
    window.welcome.new_button.click()
    panel = window.session_panel
    qtbot.waitUntil(lambda: panel.invite_code is not None, timeout=WAIT_MS)
    code = panel.invite_code
    assert code is not None and INVITE.match(code)
    pixmap = panel.qr_label.pixmap()
    assert not pixmap.isNull() and pixmap.width() == pixmap.height() > 100
    panel.copy_button.click()
    assert QGuiApplication.clipboard().text() == code
    assert window.sidebar.chat_ids() == list(window.chats)
    screenshot(window, "session-panel")

    info = peer.join_session(code)
    qtbot.waitUntil(lambda: window.current_chat is not None, timeout=WAIT_MS)
    view = chat_of(window)
    assert window.chats[view.chat_id].session_id == info.session_id
    qtbot.waitUntil(lambda: window.status.encrypted_shown, timeout=WAIT_MS)
    peer_name = peer.identity_info.display_name
    assert view.title_label.text() == peer_name
    lines = view.messages.system_lines
    joined = [n for n, line in enumerate(lines) if line.startswith(f"{peer_name} joined")]
    assert joined, lines
    assert not any(peer_name in line for line in lines[: joined[0]])  # not named before auth
    assert not any("is back" in line for line in lines)  # a first join is "joined" (item 8)


def test_messages_both_ways_reach_read(
    qtbot: QtBot, window: MainWindow, peer: QuickoClient
) -> None:
    info = create_and_join(qtbot, window, peer)
    view = chat_of(window)
    send_from_app(qtbot, window, "Hello Bob")
    qtbot.waitUntil(lambda: len(view.messages.bubbles) == 1, timeout=WAIT_MS)
    bubble = view.messages.bubbles[0]
    assert bubble.outgoing and bubble.text_label.text() == "Hello Bob"
    assert view.input.text() == ""

    received = wait_event(qtbot, peer, MessageReceived)
    assert received.message.text == "Hello Bob"
    peer.mark_read(info.session_id, [received.message.message_id.hex()])
    qtbot.waitUntil(lambda: bubble.status is DeliveryStatus.READ, timeout=WAIT_MS)
    assert bubble.ticks_label.text() == "✓✓"

    sent = peer.send_message(info.session_id, "Hi Alice 👋\nsecond line")
    qtbot.waitUntil(lambda: len(view.messages.bubbles) == 2, timeout=WAIT_MS)
    incoming = view.messages.bubbles[1]
    assert not incoming.outgoing and incoming.text_label.text() == "Hi Alice 👋\nsecond line"
    # Shown in the chat on screen, so the app marked it read.
    wait_event(
        qtbot,
        peer,
        StatusChanged,
        lambda e: e.message_id == sent.message_id.hex() and e.status is DeliveryStatus.READ,
    )
    entry = window.sidebar.entry(view.chat_id)
    assert entry is not None and entry.badge.isHidden()
    screenshot(window, "chat")


def test_unread_messages_are_counted_until_the_chat_is_shown(
    qtbot: QtBot, window: MainWindow, peer: QuickoClient
) -> None:
    info = create_and_join(qtbot, window, peer)
    window.show_identity_panel()
    sent = peer.send_message(info.session_id, "are you there?")
    state = window.chat_of(info.session_id)
    assert state is not None
    entry = window.sidebar.entry(state.chat_id)
    assert entry is not None
    qtbot.waitUntil(lambda: entry.badge.text() == "1" and entry.badge.isVisible(), timeout=WAIT_MS)
    assert "are you there?" in entry.preview_label.full_text
    window.show_chat(state.chat_id)
    wait_event(
        qtbot,
        peer,
        StatusChanged,
        lambda e: e.message_id == sent.message_id.hex() and e.status is DeliveryStatus.READ,
    )
    assert entry.badge.isHidden()


def test_join_with_a_code_from_another_client(
    qtbot: QtBot, window: MainWindow, peer: QuickoClient
) -> None:
    created = peer.create_session()
    assert created.invite_code is not None
    field = window.session_panel.join_field
    press(window, Qt.Key.Key_O, Qt.KeyboardModifier.ControlModifier)
    assert window.stack.currentWidget() is window.session_panel
    type_text(field.edit, "KBQU-E3T")
    assert "not an invite code" in field.error and not field.button.isEnabled()
    field.edit.clear()
    type_text(field.edit, created.invite_code.lower().replace("-", " "))
    assert field.error == "" and field.button.isEnabled()
    press(field.edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.current_chat is not None, timeout=WAIT_MS)
    view = chat_of(window)
    assert window.chats[view.chat_id].session_id == created.session_id
    peer_name = peer.identity_info.display_name
    qtbot.waitUntil(lambda: view.title_label.text() == peer_name, timeout=WAIT_MS)
    # The creator is named only once authenticated, and "encrypted" shown only then.
    qtbot.waitUntil(lambda: window.status.encrypted_shown, timeout=WAIT_MS)


def test_verify_a_safety_number(qtbot: QtBot, window: MainWindow, peer: QuickoClient) -> None:
    info = create_and_join(qtbot, window, peer)
    view = chat_of(window)
    qtbot.waitUntil(view.verify_button.isEnabled, timeout=WAIT_MS)
    assert "Not verified" in view.subtitle_label.text()
    press(window, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    dialog = next(d for d in window.dialogs if isinstance(d, SafetyNumberDialog))
    (creator,) = info.peers
    assert creator.safety_number is not None
    # 60 digits on two lines of six groups (one party's fingerprint each).
    lines = dialog.number_label.text().split("\n")
    assert lines == safety_number_lines(creator.safety_number).split("\n")
    assert [len(line.split()) for line in lines] == [6, 6]
    screenshot(dialog, "safety-number")
    dialog.confirm_button.click()
    qtbot.waitUntil(lambda: "Verified ✓" in view.subtitle_label.text(), timeout=WAIT_MS)
    assert any("You verified" in line for line in view.messages.system_lines)


def test_call_a_quickokey_and_the_callee_accepts(
    qtbot: QtBot, window: MainWindow, peer: QuickoClient
) -> None:
    peer_key = peer.generate_quickokey()
    peer.register_key()
    window.show_session_panel()
    field = window.session_panel.call_field
    type_text(field.edit, peer_key.quickokey)
    assert field.button.isEnabled()
    field.button.click()
    call = wait_event(qtbot, peer, IncomingCall)
    app_name = window.identity_panel.name_label.text()
    assert call.display_name == app_name
    peer.answer_call(call.call_id, True)
    qtbot.waitUntil(lambda: window.current_chat is not None, timeout=WAIT_MS)
    qtbot.waitUntil(
        lambda: chat_of(window).title_label.text() == peer_key.display_name, timeout=WAIT_MS
    )


def test_an_incoming_call_is_accepted_in_its_dialog(
    qtbot: QtBot, window: MainWindow, peer: QuickoClient
) -> None:
    window.show_identity_panel()
    panel = window.identity_panel
    panel.generate_button.click()
    qtbot.waitUntil(panel.register_button.isEnabled, timeout=WAIT_MS)
    quickokey = panel.quickokey_label.text()
    panel.register_button.click()
    qtbot.waitUntil(lambda: panel.status_label.text().startswith("Registered"), timeout=WAIT_MS)

    placed = in_background(lambda: peer.call(quickokey, 20))
    qtbot.waitUntil(
        lambda: any(isinstance(d, IncomingCallDialog) for d in window.dialogs), timeout=WAIT_MS
    )
    dialog = next(d for d in window.dialogs if isinstance(d, IncomingCallDialog))
    screenshot(dialog, "incoming-call")
    dialog.accept_button.click()
    qtbot.waitUntil(placed.done, timeout=WAIT_MS)
    info = placed.result()
    qtbot.waitUntil(lambda: window.current_chat is not None, timeout=WAIT_MS)
    assert window.chats[chat_of(window).chat_id].session_id == info.session_id


def test_recover_an_identity_from_its_words(qtbot: QtBot, window: MainWindow) -> None:
    press(window, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    panel = window.identity_panel
    assert window.stack.currentWidget() is panel
    words = KNOWN.seed_phrase
    panel.recover_entry.fields[0].setText(" ".join([*words[:15], "zzzzz"]))  # pasted
    assert panel.recover_entry.problems.startswith("Word 16 'zzzzz' is not in the word list")
    panel.recover_button.click()
    assert panel.recover_error.text().startswith("word 16 'zzzzz' is not in the word list")
    panel.recover_entry.fields[15].setText(words[15])  # one word fixed, not all 16 retyped
    panel.recover_button.click()
    expected = KNOWN.public.quickokey
    qtbot.waitUntil(lambda: panel.quickokey_label.text() == expected, timeout=WAIT_MS)
    assert panel.recover_entry.words == []
    assert panel.seed_label.isHidden() and panel.seed_label.text() == ""
    panel.show_seed_button.click()
    assert panel.seed_visible and panel.warning_label.isVisible()
    assert words[0] in panel.seed_label.text() and words[15] in panel.seed_label.text()
    screenshot(window, "identity")
    panel.copy_button.click()
    assert QGuiApplication.clipboard().text() == expected


def test_status_bar_follows_the_relay_going_away_and_back(
    qtbot: QtBot, window: MainWindow, relay: RelayThread, peer: QuickoClient
) -> None:
    # Issue 12, item 4: which relay, why it is down and when the next try is, always shown;
    # "New session" says it cannot work now; a message waiting says why.
    info = create_and_join(qtbot, window, peer)
    status = window.status
    shown = window.relay_url  # the client's canonical URL: scheme://host:port
    assert relay.url.startswith(shown)
    relay.stop()
    qtbot.waitUntil(lambda: status.state == "connecting", timeout=WAIT_MS)
    qtbot.waitUntil(lambda: "attempt" in status.connection_label.text(), timeout=WAIT_MS)
    text = status.connection_label.text()
    # Why: the drop's reason, then each failed attempt's (the client's words).
    assert re.match(
        f"● Relay at {re.escape(shown)} unreachable: "
        "(the relay is shutting down|connection refused) — retrying",
        text,
    ), text
    send_from_app(qtbot, window, "are you still there?")
    view = chat_of(window)
    qtbot.waitUntil(lambda: len(view.messages.bubbles) == 1, timeout=WAIT_MS)
    bubble = view.messages.bubbles[0]
    assert bubble.status is DeliveryStatus.PENDING
    assert bubble.ticks_label.text() == "◷ waiting for the relay"
    assert bubble.ticks_label.toolTip().startswith(f"Not sent yet: the relay at {shown}")
    screenshot(window, "reconnecting")

    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=WAIT_MS)
    press(view.input.edit, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)  # from the box
    refusal = f"Cannot create a session now: not connected to the relay at {shown}: "
    panel = window.session_panel
    qtbot.waitUntil(lambda: panel.create_message.text().startswith(refusal), timeout=WAIT_MS)
    assert window.session_panel.invite_code is None and len(window.chats) == 1
    screenshot(window, "no-relay-new-session")

    relay.start()
    qtbot.waitUntil(lambda: status.state == "connected", timeout=WAIT_MS)
    assert status.connection_label.text() == f"● Connected to {shown}"
    received = wait_event(qtbot, peer, MessageReceived)
    assert received.message.text == "are you still there?"
    assert received.message.session_id.hex() == info.session_id
    qtbot.waitUntil(lambda: bubble.status is not DeliveryStatus.PENDING, timeout=WAIT_MS)
    assert "waiting" not in bubble.ticks_label.text()
