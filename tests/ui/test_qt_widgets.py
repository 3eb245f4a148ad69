"""The desktop app's widgets on their own, fed value objects (no relay, no client)."""

from __future__ import annotations

import asyncio
import dataclasses
import queue
import threading
from collections.abc import Sequence

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor, QFontDatabase
from PySide6.QtWidgets import QApplication, QLabel
from pytestqt.qtbot import QtBot
from qt_support import press, screenshot, type_text

from quicko.appmodel import PENDING_JOINER, PENDING_MEMBER, ConnectionState, LinkState
from quicko.client import models as m
from quicko.errors import SessionError
from quicko.identity import (
    CHECKSUM_MESSAGE,
    Identity,
    display_name,
    format_quickokey,
    seed_checksum,
)
from quicko.messaging import ChatMessage, DeliveryStatus
from quicko.ui.qt import app as qt_app
from quicko.ui.qt.bridge import ClientBridge, describe_exception
from quicko.ui.qt.main_window import MainWindow
from quicko.ui.qt.theme import PALETTE, contrast_ratio, stylesheet
from quicko.ui.qt.widgets.chat_input import ChatInput
from quicko.ui.qt.widgets.dialogs import ConfirmDialog, IncomingCallDialog, RenameDialog
from quicko.ui.qt.widgets.identity_panel import IdentityPanel, format_seed_phrase
from quicko.ui.qt.widgets.message_list import MessageList
from quicko.ui.qt.widgets.qr import QR_BORDER_MODULES, qr_image
from quicko.ui.qt.widgets.session_panel import SessionPanel
from quicko.ui.qt.widgets.sidebar import ChatSummary, Sidebar
from quicko.ui.qt.widgets.status_bar import ConnectionStatusBar, clock_ms

pytestmark = pytest.mark.ui

KNOWN = Identity.from_root(bytes([*range(15), 0xAE]))  # a root with its checksum (§6.2)
PEER_NAME = display_name(bytes.fromhex("ab" * 16))
PEER = m.PeerInfo("ab" * 16, PEER_NAME, True, "12345 67890", False)
SENDER_NAME = display_name(b"\x02" * 16)


def message(
    text: str = "hi",
    *,
    outgoing: bool = True,
    status: DeliveryStatus = DeliveryStatus.PENDING,
    number: int = 1,
) -> ChatMessage:
    return ChatMessage(
        message_id=number.to_bytes(16, "big"),
        session_id=b"\x01" * 16,
        sender=b"\x02" * 16,
        sender_name=SENDER_NAME,
        text=text,
        timestamp_ms=1_700_000_000_000,
        outgoing=outgoing,
        status=status,
    )


# -- theme


def test_theme_text_is_readable_on_every_surface() -> None:
    for surface in (PALETTE.window, PALETTE.panel, PALETTE.raised, PALETTE.received_bubble):
        assert contrast_ratio(PALETTE.text, surface) >= 7.0
        assert contrast_ratio(PALETTE.muted, surface) >= 4.5
    assert contrast_ratio("#ffffff", PALETTE.accent) >= 3.0  # bold button labels
    sheet = stylesheet()
    for colour in ("#1a1a2e", "#16213e", "#0f3460", "#e94560"):
        assert colour in sheet


# -- chat input


def test_enter_sends_and_shift_enter_makes_a_new_line(qtbot: QtBot) -> None:
    box = ChatInput()
    qtbot.addWidget(box)
    sent: list[str] = []
    box.submitted.connect(sent.append)
    type_text(box.edit, "first")
    press(box.edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    type_text(box.edit, "second")
    assert box.text() == "first\nsecond" and sent == []
    press(box.edit, Qt.Key.Key_Return)
    assert sent == ["first\nsecond"] and box.text() == ""
    press(box.edit, Qt.Key.Key_Enter)  # an empty box sends nothing
    type_text(box.edit, "   ")
    assert not box.send_button.isEnabled()
    box.submit()
    assert sent == ["first\nsecond"]


# -- bubbles and ticks


def test_bubbles_show_the_ticks_the_model_decided(qtbot: QtBot) -> None:
    # That a status only moves forward is the shared model's rule (tests/unit/appmodel).
    messages = MessageList()
    qtbot.addWidget(messages)
    bubble = messages.add_message(message())
    assert bubble.property("outgoing") == "true" and bubble.ticks_label.text() == "◷"
    for status, glyph in [
        (DeliveryStatus.SENT, "✓"),
        (DeliveryStatus.DELIVERED, "✓✓"),
        (DeliveryStatus.READ, "✓✓"),
    ]:
        messages.update_status(bubble.message_id, status)
        assert bubble.ticks_label.text() == glyph
    assert bubble.status is DeliveryStatus.READ and bubble.ticks_label.property("status") == "read"
    assert bubble.ticks_label.toolTip() == "Read"
    failed = messages.add_message(message(number=2))
    assert messages.update_status(failed.message_id, DeliveryStatus.FAILED)
    assert failed.ticks_label.text() == "✕ Not delivered"
    assert failed.ticks_label.toolTip() == "Not delivered"
    assert not messages.update_status(b"\x09" * 16, DeliveryStatus.READ)


def test_two_senders_reusing_one_id_get_two_bubbles(qtbot: QtBot) -> None:
    # Issue 8, finding 6: a member reusing another's (or our) message id hides nothing.
    messages = MessageList()
    qtbot.addWidget(messages)
    ours = messages.add_message(message("mine"))
    incoming = message("honest", outgoing=False, status=DeliveryStatus.DELIVERED)
    honest = messages.add_message(dataclasses.replace(incoming, sender=b"\x03" * 16))
    decoy = dataclasses.replace(
        message("decoy", outgoing=False, status=DeliveryStatus.DELIVERED), sender=b"\x66" * 16
    )
    assert messages.add_message(decoy) is not honest
    assert len(messages.bubbles) == 3
    assert messages.bubble(b"\x66" * 16, decoy.message_id) is not None
    assert messages.update_status(ours.message_id, DeliveryStatus.SENT)
    assert ours.status is DeliveryStatus.SENT and honest.status is DeliveryStatus.DELIVERED


def test_received_bubbles_are_plain_text_with_the_sender_in_groups(qtbot: QtBot) -> None:
    messages = MessageList()
    qtbot.addWidget(messages)
    bubble = messages.add_message(
        message("<b>bold</b>", outgoing=False, status=DeliveryStatus.DELIVERED), show_sender=True
    )
    assert bubble.property("outgoing") == "false"
    assert bubble.text_label.textFormat() == Qt.TextFormat.PlainText
    assert bubble.text_label.text() == "<b>bold</b>"
    assert bubble.sender_label is not None
    assert bubble.sender_label.text() == SENDER_NAME
    assert bubble.ticks_label.isHidden()
    messages.add_system("Swift Falcon #7A3F left.")
    assert messages.system_lines == ["Swift Falcon #7A3F left."]
    assert "text" not in repr(bubble) or "<b>" not in repr(bubble)


def test_a_sender_is_named_by_its_address_and_a_claim_is_labelled(qtbot: QtBot) -> None:
    messages = MessageList()
    qtbot.addWidget(messages)
    liar = dataclasses.replace(
        message("hi", outgoing=False, status=DeliveryStatus.DELIVERED), sender_name="<b>Alice</b>"
    )
    bubble = messages.add_message(liar, show_sender=True)
    assert bubble.sender_label is not None
    assert bubble.sender_label.textFormat() == Qt.TextFormat.PlainText
    assert bubble.sender_label.text() == f'{SENDER_NAME} (claims "<b>Alice</b>")'


# -- sidebar


def test_sidebar_lists_chats_with_unread_counts_and_searches(qtbot: QtBot) -> None:
    sidebar = Sidebar()
    qtbot.addWidget(sidebar)
    assert not sidebar.empty_label.isHidden()
    sidebar.upsert(ChatSummary("a1", "Swift Falcon #7A3F", "see you", 2))
    sidebar.upsert(ChatSummary("b2", "Calm Otter #0001", "lunch?", 0))
    assert sidebar.chat_ids() == ["a1", "b2"] and sidebar.empty_label.isHidden()
    entry = sidebar.entry("a1")
    assert entry is not None and entry.badge.text() == "2"
    sidebar.upsert(ChatSummary("a1", "Swift Falcon #7A3F", "see you", 0))
    assert entry.badge.isHidden()
    type_text(sidebar.search, "LUNCH")
    assert sidebar.chat_ids(visible_only=True) == ["b2"]
    sidebar.search.clear()
    with qtbot.waitSignal(sidebar.chat_selected, timeout=1000) as selected:
        sidebar.list.setCurrentRow(1)
    assert selected.args == ["b2"]
    sidebar.remove("b2")
    assert sidebar.chat_ids() == ["a1"]


# -- status bar


def test_status_bar_states_and_encryption(qtbot: QtBot) -> None:
    url = "ws://127.0.0.1:9900"
    bar = ConnectionStatusBar(url)
    qtbot.addWidget(bar)
    assert bar.state == "connecting" and bar.encryption_label.text() == ""
    assert bar.connection_label.text() == f"● Connecting to {url}…"
    waiting = ConnectionState(
        LinkState.CONNECTING,
        attempt=3,
        reason="connection refused",
        relay_url=url,
        retry_at_ms=clock_ms() + 4_000,
    )
    bar.set_connection(waiting)
    assert bar.state == "connecting"
    assert bar.connection_label.text() == (
        f"● Relay at {url} unreachable: connection refused — retrying in 4 s (attempt 3)"
    )
    assert bar.offline_text() == f"the relay at {url} is not reachable (connection refused)"
    bar.set_connection(ConnectionState(LinkState.CONNECTED, latency_ms=12.4))
    assert bar.connection_label.text() == f"● Connected to {url}"
    assert bar.reason == "" and bar.latency_label.text() == "12 ms"
    bar.set_encrypted(encrypted=True)
    assert bar.encrypted_shown
    bar.set_connection(ConnectionState(LinkState.DISCONNECTED, reason="the relay is shutting down"))
    assert bar.connection_label.text() == (f"● Disconnected from {url}: the relay is shutting down")
    assert bar.latency_label.text() == ""


# -- session panel


def test_session_panel_validates_codes_and_keys_as_typed(qtbot: QtBot) -> None:
    panel = SessionPanel()
    qtbot.addWidget(panel)
    assert panel.invite_code is None and panel.qr_label.isHidden()
    join = panel.join_field
    type_text(join.edit, "KBQU")
    assert join.error.startswith("not an invite code") and not join.button.isEnabled()
    join.edit.setText("kbqw e3tv")
    assert join.error == "" and join.value == "KBQW-E3TV"
    with qtbot.waitSignal(panel.join_requested, timeout=1000) as joined:
        press(join.edit, Qt.Key.Key_Return)
    assert joined.args == ["KBQW-E3TV"]
    call = panel.call_field
    call.edit.setText("QK-12")
    assert call.error.startswith("not a QuickoKey") and not call.button.isEnabled()
    call.edit.setText(KNOWN.public.quickokey.lower())
    assert call.value == KNOWN.public.quickokey
    panel.show_invite("KBQW-E3TV")
    assert panel.invite_label.text() == "KBQW-E3TV" and not panel.qr_label.pixmap().isNull()


def test_qr_codes_are_drawn_in_memory() -> None:
    image = qr_image("KBQW-E3TV", scale=3)
    assert image.width() == image.height() == (21 + 2 * QR_BORDER_MODULES) * 3
    assert QColor(image.pixel(0, 0)) == QColor("white")
    finder = QR_BORDER_MODULES * 3 + 1  # inside the top-left finder pattern
    assert QColor(image.pixel(finder, finder)) == QColor("black")
    with pytest.raises(ValueError, match="scale"):
        qr_image("x", scale=0)


# -- identity panel


def test_identity_panel_hides_the_seed_phrase_until_asked(qtbot: QtBot) -> None:
    panel = IdentityPanel()
    qtbot.addWidget(panel)
    panel.set_identity("QK-0000", "Temp Name #0000", ())
    assert not panel.show_seed_button.isEnabled() and not panel.register_button.isEnabled()
    words = tuple(KNOWN.seed_phrase)
    panel.set_identity(KNOWN.public.quickokey, KNOWN.public.display_name, words)
    assert panel.seed_label.text() == "" and panel.seed_label.isHidden()
    panel.show_seed_button.click()
    assert panel.seed_label.text() == format_seed_phrase(words)
    assert not panel.warning_label.isHidden() and "only backup" in panel.warning_label.text()
    panel.show_seed_button.click()
    assert panel.seed_label.text() == ""
    assert format_seed_phrase(words).splitlines()[0].startswith(" 1. ")


def test_seed_entry_checks_each_word_and_one_word_is_fixed_in_place(qtbot: QtBot) -> None:
    # Issue 12, item 6: entry was blind, one typo meant retyping all 16 words, and two
    # swapped words silently recovered another identity.
    qt_app.ensure_application()  # themed, for the screenshot
    panel = IdentityPanel()
    qtbot.addWidget(panel)
    panel.resize(900, 640)
    recovered: list[str] = []
    panel.recover_requested.connect(recovered.append)
    entry = panel.recover_entry
    type_text(entry.fields[0], "abandon ")  # a space moves on to the next field
    type_text(entry.fields[1], "absu")  # four letters are enough
    assert [field.text() for field in entry.fields[:3]] == ["abandon", "absu", ""]
    assert entry.fields[1].property("valid") == "true"
    assert panel.word_count_label.text() == "2 of 16 words"
    hints = [label.text() for label in panel.findChildren(QLabel)]
    assert any("a word may appear more than once" in hint for hint in hints)
    panel.submit_recovery()
    assert panel.recover_error.text() == "expected 16 words, got 2" and recovered == []

    words = list(KNOWN.seed_phrase)
    entry.set_text(" ".join([*words[:4], "abandxn", *words[5:]]))  # a paste spreads out
    assert [field.text() for field in entry.fields][5:] == words[5:]
    assert entry.fields[4].property("valid") == "false"
    assert entry.fields[3].property("valid") == "true"
    assert entry.problems == (
        "Word 5 'abandxn' is not in the word list: did you mean abandon, brand?"
    )
    panel.show()
    screenshot(panel, "recover-word")
    entry.fields[4].setText(words[4])  # fix that one word
    assert entry.problems == "" and entry.complete

    entry.set_text(" ".join([words[1], words[0], *words[2:]]))  # two words swapped
    panel.submit_recovery()
    assert recovered == []
    assert panel.recover_error.text() == CHECKSUM_MESSAGE
    screenshot(panel, "recover-checksum")
    entry.fields[0].setText(words[0])
    entry.fields[1].setText(words[1])
    assert panel.recover_error.text() == ""
    panel.submit_recovery()
    assert recovered == [" ".join(words)]


def test_repeated_words_are_accepted() -> None:
    body = bytes([9] * 15)
    identity = Identity.from_root(body + bytes([seed_checksum(body)]))
    panel = IdentityPanel()
    recovered: list[str] = []
    panel.recover_requested.connect(recovered.append)
    panel.recover_entry.set_text(" ".join(identity.seed_phrase))
    assert panel.recover_entry.problems == ""
    panel.submit_recovery()
    assert recovered == [" ".join(identity.seed_phrase)]


# -- bridge and window with a stand-in client


class FakeClient:
    """A stand-in for AsyncQuickoClient: records calls, answers from the test, reports events."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.threads: set[str] = set()
        self.closed = False
        self.answer: m.SessionInfo | None = None
        self.sent: dict[str, ChatMessage] = {}
        self.stored: list[ChatMessage] = []
        self.live: list[m.SessionInfo] = []
        self._events: queue.SimpleQueue[m.ClientEvent] = queue.SimpleQueue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None

    def push(self, *events: m.ClientEvent) -> None:
        """Report events (from the test's thread), as the client's loop would."""
        for event in events:
            self._events.put(event)
        if self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    @property
    def relay_url(self) -> str:
        return "ws://127.0.0.1:9"

    @property
    def identity_info(self) -> m.QuickoKeyInfo:
        public = KNOWN.public
        return m.QuickoKeyInfo(public.quickokey, public.display_name, (), "00", "00")

    def _record(self, name: str, detail: str = "") -> None:
        self.calls.append((name, detail))
        self.threads.add(threading.current_thread().name)

    async def connect(self, timeout: float = 10.0) -> None:
        self._record("connect")

    async def disconnect(self) -> None:
        self.closed = True

    async def next_event(self) -> m.ClientEvent:
        self._loop = asyncio.get_running_loop()
        wake = self._wake = self._wake or asyncio.Event()
        while True:
            wake.clear()  # before looking, so a push in between is not missed
            try:
                return self._events.get_nowait()
            except queue.Empty:
                await wake.wait()

    async def create_session(self) -> m.SessionInfo:
        self._record("create")
        return m.SessionInfo("5e" * 16, "KBQW-E3TV", "creator", ())

    async def join_session(self, code: str) -> m.SessionInfo:
        self._record("join", code)
        raise SessionError("wrong invite code (2 tries left)")

    async def send_message(self, session_id: str, text: str) -> ChatMessage:
        self._record("send", text)
        sent = message(text)
        self.sent[sent.message_id.hex()] = sent
        return sent

    async def mark_read(self, session_id: str, message_ids: Sequence[str]) -> None:
        self._record("read", ",".join(message_ids))

    async def leave_session(self, session_id: str) -> None:
        self._record("leave", session_id)

    async def destroy_session(self, session_id: str) -> None:
        self._record("destroy", session_id)

    async def generate_quickokey(self) -> m.QuickoKeyInfo:
        raise NotImplementedError

    async def recover_quickokey(self, seed_phrase: str) -> m.QuickoKeyInfo:
        raise NotImplementedError

    async def register_key(self) -> None:
        raise RuntimeError("secret internal detail")

    async def call(self, quickokey: str, timeout: float = 60) -> m.SessionInfo:
        raise TimeoutError

    def messages(self, session_id: str) -> list[ChatMessage]:
        self._record("messages", session_id)
        return list(self.stored)

    def sessions(self) -> list[m.SessionInfo]:
        self._record("sessions")
        return list(self.live)

    async def retry_message(self, session_id: str, message_id: str) -> ChatMessage:
        self._record("retry", message_id)
        return self.sent[message_id].with_status(DeliveryStatus.PENDING)

    async def cancel_call(self, call_id: str) -> None:
        self._record("cancel", call_id)

    async def answer_call(self, call_id: str, accept: bool) -> m.SessionInfo | None:
        self._record("answer", call_id)
        return self.answer if accept else None

    def mark_verified(self, session_id: str, address: str) -> None:
        self._record("verified", address)


@pytest.fixture
def fake_window(qtbot: QtBot) -> MainWindow:
    client = FakeClient()
    window = MainWindow(ClientBridge(client))
    qtbot.addWidget(window)
    window.show()
    window.handle_event(m.Connected("fake"))
    return window


def fake(window: MainWindow) -> FakeClient:
    client = window.client
    assert isinstance(client, FakeClient)
    return client


def test_calls_run_off_the_ui_thread_and_errors_come_back_safe(
    qtbot: QtBot, fake_window: MainWindow
) -> None:
    window = fake_window
    window.create_session()
    qtbot.waitUntil(lambda: window.session_panel.invite_code == "KBQW-E3TV", timeout=5000)
    assert fake(window).threads == {window.bridge.loop_thread.name}
    assert threading.current_thread() is not window.bridge.loop_thread
    window.join_session("KBQW-E3TV")
    field = window.session_panel.join_field
    qtbot.waitUntil(lambda: field.error.startswith("Could not join"), timeout=5000)
    assert field.error == "Could not join: wrong invite code (2 tries left)"
    window.register_key()
    panel = window.identity_panel
    qtbot.waitUntil(lambda: panel.status_label.text() != "", timeout=5000)
    assert "secret" not in panel.status_label.text()
    assert describe_exception(TimeoutError()) == "timed out"


def test_the_bridge_keeps_order_and_never_polls(qtbot: QtBot, fake_window: MainWindow) -> None:
    # Issue 10: no timer polling a queue, no thread per call; events and results arrive on the
    # UI thread through queued signals, in the order the client produced them.
    window = fake_window
    bridge = window.bridge
    assert bridge.findChildren(QTimer) == []
    client = fake(window)
    seen: list[str] = []
    bridge.client_event.connect(
        lambda event: (
            seen.append(f"e{event.latency_ms:.0f}")
            if isinstance(event, m.LatencyMeasured)
            else None
        )
    )
    for number in range(20):
        text = f"t{number}"

        async def send(text: str = text) -> ChatMessage:
            return await client.send_message("5e" * 16, text)

        bridge.submit(send, lambda sent: seen.append(sent.text))
        client.push(m.LatencyMeasured(latency_ms=float(number)))
    qtbot.waitUntil(lambda: len(seen) == 40, timeout=5000)
    assert [s for s in seen if s.startswith("t")] == [f"t{n}" for n in range(20)]
    assert [s for s in seen if s.startswith("e")] == [f"e{n}" for n in range(20)]
    assert bridge.pending == 0
    bridge.close()
    assert not bridge.loop_thread.is_alive() and fake(window).closed
    assert bridge.submit(send) is None  # closed: nothing runs


def test_events_drive_the_window(qtbot: QtBot, fake_window: MainWindow) -> None:
    window = fake_window
    client = fake(window)
    sid = "5e" * 16
    incoming = message("hello there", outgoing=False, status=DeliveryStatus.DELIVERED, number=7)
    client.push(
        m.Reconnecting(attempt=2, delay_ms=100),
        m.MessageReceived(sid, incoming),  # overtakes the session: held, then replayed
        m.SessionReady(m.SessionInfo(sid, None, "callee", (PEER,))),  # held too: opens nothing
        m.Connected("fake"),
        m.LatencyMeasured(latency_ms=3.0),  # shown while connected
    )
    qtbot.waitUntil(lambda: window.status.latency_label.text() == "3 ms", timeout=5000)
    assert window.chats == {} and window.sidebar.chat_ids() == []
    state = window.open_chat(m.SessionInfo(sid, None, "callee", ()))  # answer_call's result
    assert state is not None and window.chat_of(sid) is state
    cid = state.chat_id
    assert cid != sid
    view = window.views[cid]
    qtbot.waitUntil(lambda: len(view.messages.bubbles) == 1, timeout=5000)
    assert PEER.address in state.peers and view.title_label.text() == PEER_NAME
    entry = window.sidebar.entry(cid)
    assert entry is not None and entry.badge.text() == "1"
    window.show_chat(cid)
    qtbot.waitUntil(lambda: ("read", incoming.message_id.hex()) in client.calls, timeout=5000)
    assert entry.badge.isHidden() and window.status.encrypted_shown
    client.push(
        m.KeyChanged(sid, PEER.address, "Mallory"),
        m.PeerLeft(sid, PEER.address, "Mallory", "left"),
    )
    qtbot.waitUntil(lambda: len(view.messages.system_lines) >= 3, timeout=5000)
    changed = [line for line in view.messages.system_lines if "different keys" in line]
    assert changed == [f"⚠ Someone presented different keys for {PEER_NAME}; they were refused."]
    assert view.messages.system_lines[-1] == f"{PEER_NAME} left."
    assert not any("Mallory" in line for line in view.messages.system_lines)
    client.push(m.SessionClosed(sid))
    qtbot.waitUntil(lambda: cid not in window.views, timeout=5000)
    assert window.sidebar.chat_ids() == [] and window.chat_of(sid) is None


def test_dropped_events_are_made_good_from_the_clients_store(
    qtbot: QtBot, fake_window: MainWindow
) -> None:
    window = fake_window
    client = fake(window)
    sid = "5e" * 16
    chat = window.open_chat(m.SessionInfo(sid, None, "joiner", (PEER,)))
    assert chat is not None
    view = window.views[chat.chat_id]
    missed = message("you missed me", outgoing=False, status=DeliveryStatus.DELIVERED)
    client.stored = [missed]
    client.live = [m.SessionInfo(sid, None, "joiner", ())]  # the peer left meanwhile
    client.push(m.EventsDropped(count=3))
    qtbot.waitUntil(lambda: len(view.messages.bubbles) == 1, timeout=5000)
    assert ("messages", sid) in client.calls and ("sessions", "") in client.calls
    assert view.messages.bubbles[0].text == "you missed me"
    assert chat.peers == {}  # the leave whose event was dropped shows too


def test_sending_shows_a_bubble_and_an_early_status(qtbot: QtBot, fake_window: MainWindow) -> None:
    qt_app.ensure_application()  # themed, for the screenshot
    window = fake_window
    window.resize(1000, 680)
    window.handle_event(m.Connected("fake"))
    client = fake(window)
    sid = "5e" * 16
    state = window.open_chat(m.SessionInfo(sid, None, "joiner", (PEER,)))
    assert state is not None
    window.show_chat(state.chat_id)
    # The Ack's status may reach the UI before the send call's result does.
    client.push(
        m.StatusChanged(sid, message("x").message_id.hex(), DeliveryStatus.SENT),
        m.LatencyMeasured(latency_ms=5.0),
    )
    qtbot.waitUntil(lambda: window.status.latency_label.text() == "5 ms", timeout=5000)
    view = window.views[state.chat_id]
    type_text(view.input.edit, "x")
    press(view.input.edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: len(view.messages.bubbles) == 1, timeout=5000)
    assert view.messages.bubbles[0].status is DeliveryStatus.SENT
    assert ("send", "x") in client.calls
    window.leave_current()
    assert ("leave", sid) not in client.calls  # asked first
    (box,) = [b for b in window.findChildren(ConfirmDialog, "confirmLeave") if b.isVisible()]
    box.confirm_button.click()
    qtbot.waitUntil(lambda: ("leave", sid) in client.calls, timeout=5000)
    assert window.current_chat is None


@pytest.mark.parametrize(
    ("role", "label"), [("creator", PENDING_JOINER), ("joiner", PENDING_MEMBER)]
)
def test_a_member_not_authenticated_is_never_shown_as_a_person(
    qtbot: QtBot, fake_window: MainWindow, role: m.SessionRole, label: str
) -> None:
    window = fake_window
    client = fake(window)
    sid = "5e" * 16
    state = window.open_chat(
        m.SessionInfo(sid, "KBQW-E3TV" if role == "creator" else None, role, ())
    )
    assert state is not None
    view = window.views[state.chat_id]
    stranger = m.PeerInfo("cd" * 16, "Alice", False, None, False)
    client.push(m.PeerJoined(sid, stranger))
    qtbot.waitUntil(lambda: f"{label}." in view.messages.system_lines, timeout=5000)
    entry = window.sidebar.entry(state.chat_id)
    assert entry is not None
    assert state.title == label and view.title_label.text() == label
    assert entry.title_label.full_text == label and state.next_to_verify() is None
    derived = display_name(bytes.fromhex(stranger.address))
    shown = [*view.messages.system_lines, view.title_label.text(), entry.preview_label.text()]
    assert not any("Alice" in text or derived in text for text in shown)

    client.push(m.PeerAuthenticated(sid, dataclasses.replace(stranger, authenticated=True)))
    qtbot.waitUntil(lambda: view.title_label.text() != label, timeout=5000)
    assert view.title_label.text() == f'{derived} (claims "Alice")'
    client.push(m.PeerLeft(sid, stranger.address, "Alice", "left"))
    qtbot.waitUntil(lambda: not state.peers, timeout=5000)
    assert view.messages.system_lines[-1] == f'{derived} (claims "Alice") left.'


def test_a_call_with_an_open_chats_session_id_cannot_take_it_over(
    qtbot: QtBot, fake_window: MainWindow
) -> None:
    # Issue 8, finding 1: the user accepts a call whose session id is an existing chat's; the
    # window keeps that chat (local id, peers, messages, view) and opens nothing over it.
    qt_app.ensure_application()  # themed, for the screenshot
    window = fake_window
    window.resize(1000, 680)
    window.handle_event(m.Connected("fake"))
    client = fake(window)
    sid = "5e" * 16
    state = window.open_chat(m.SessionInfo(sid, None, "joiner", (PEER,)))
    assert state is not None
    cid, view = state.chat_id, window.views[state.chat_id]
    client.push(
        m.MessageReceived(sid, message("hello", outgoing=False, status=DeliveryStatus.DELIVERED))
    )
    qtbot.waitUntil(lambda: len(view.messages.bubbles) == 1, timeout=5000)
    before = (dict(state.peers), state.role, list(view.messages.system_lines), window.stack.count())

    attacker = bytes(range(16))
    liar = m.PeerInfo(attacker.hex(), "Alice", True, "00000", False)
    client.answer = m.SessionInfo(sid, None, "callee", (liar,), "chatting")
    client.push(m.IncomingCall("c0" * 16, format_quickokey(attacker), "Alice", "12345"))
    qtbot.waitUntil(lambda: bool(window.dialogs), timeout=5000)
    dialog = window.dialogs[-1]
    assert isinstance(dialog, IncomingCallDialog)
    title_label = dialog.findChild(QLabel, "title")
    assert title_label is not None
    assert title_label.text() == f"{display_name(attacker)} is calling"
    assert dialog.claim_label is not None and '"Alice"' in dialog.claim_label.text()
    dialog.accept_button.click()
    qtbot.waitUntil(lambda: ("answer", "c0" * 16) in client.calls, timeout=5000)
    qtbot.waitUntil(lambda: "already has a chat" in window.status.currentMessage(), timeout=5000)
    # A late report of the other session under this id is not merged either.
    client.push(m.SessionReady(client.answer))
    client.push(m.LatencyMeasured(latency_ms=4.0))
    qtbot.waitUntil(lambda: window.status.latency_label.text() == "4 ms", timeout=5000)

    assert list(window.chats) == [cid] and window.chat_of(sid) is state
    assert window.views[cid] is view and window.sidebar.chat_ids() == [cid]
    assert (dict(state.peers), state.role, view.messages.system_lines, window.stack.count()) == (
        before
    )
    assert view.title_label.text() == PEER_NAME


def test_run_app_starts_the_window_and_closes_the_client(
    qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    shown: list[MainWindow] = []

    def exec_once() -> int:
        windows = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow)]
        shown.extend(w for w in windows if w.isVisible())
        return 0

    monkeypatch.setattr(QApplication, "exec", staticmethod(exec_once))
    # The app applies the client's collector policy once its window exists (not here: it is
    # process-wide, and this is the test runner's process).
    tuned: list[int] = []
    monkeypatch.setattr(qt_app, "tune_client_gc", lambda: tuned.append(len(shown)))
    # Nothing listens on port 9 of the loopback: the window starts and keeps "connecting".
    assert qt_app.run_app("ws://127.0.0.1:9/ws") == 0
    assert shown and shown[-1].windowTitle() == "Quicko2 — ws://127.0.0.1:9"  # the client's
    assert tuned == [0]  # once, before the event loop ran
    shown[-1].close()


def test_a_failed_message_says_why_and_retry_sends_it_again(
    qtbot: QtBot, fake_window: MainWindow
) -> None:
    qt_app.ensure_application()  # themed, for the screenshot
    window = fake_window
    window.resize(1000, 680)
    window.handle_event(m.Connected("fake"))
    client = fake(window)
    sid = "5e" * 16
    state = window.open_chat(m.SessionInfo(sid, None, "joiner", (PEER,)))
    assert state is not None
    window.show_chat(state.chat_id)
    view = window.views[state.chat_id]
    window.send_message(state.chat_id, "did this arrive?")
    qtbot.waitUntil(lambda: len(view.messages.bubbles) == 1, timeout=5000)
    bubble = view.messages.bubbles[0]
    assert bubble.retry_button.isHidden()
    message_id = bubble.message_id.hex()
    client.push(m.StatusChanged(sid, message_id, DeliveryStatus.FAILED, "the peer left"))
    qtbot.waitUntil(lambda: bubble.status is DeliveryStatus.FAILED, timeout=5000)
    assert bubble.ticks_label.text() == "✕ Not delivered: the peer left"
    assert bubble.retry_button.isVisibleTo(bubble)
    screenshot(window, "failed-message")
    bubble.retry_button.click()
    qtbot.waitUntil(lambda: bubble.status is DeliveryStatus.PENDING, timeout=5000)
    assert ("retry", message_id) in client.calls
    assert client.calls.count(("send", "did this arrive?")) == 1  # the same message, not a copy
    assert len(view.messages.bubbles) == 1 and "Not delivered" not in bubble.ticks_label.text()
    assert bubble.retry_button.isHidden()
    window.retry_current()  # Ctrl+R: nothing failed is left
    assert window.status.currentMessage() == "No failed message to send again here."


# -- desktop polish (issue 12, item 8)


def test_bubbles_wrap_relative_to_the_pane(qtbot: QtBot) -> None:
    messages = MessageList()
    qtbot.addWidget(messages)
    messages.resize(830, 500)
    messages.show()
    long_text = "word " * 60
    bubble = messages.add_message(message(long_text.strip(), outgoing=False))
    short = messages.add_message(message("hi", number=2))
    qtbot.waitUntil(lambda: bubble.width() > 0, timeout=5000)
    QApplication.processEvents()
    pane = messages.viewport().width()
    assert bubble.width() > 0.6 * pane  # not the ~300 px of a word-wrapped label
    assert bubble.width() <= 0.7 * pane + 1
    assert short.width() < 200  # a short message stays small
    messages.resize(1200, 500)
    QApplication.processEvents()
    assert bubble.width() > 0.6 * messages.viewport().width()


def test_chat_list_previews_elide_instead_of_overflowing(qtbot: QtBot) -> None:
    sidebar = Sidebar()
    qtbot.addWidget(sidebar)
    sidebar.resize(280, 400)
    sidebar.show()
    preview = "You: " + "a very long message that does not fit " * 5
    sidebar.upsert(ChatSummary("c1", "Swift Falcon #7A3F", preview, 0))
    entry = sidebar.entry("c1")
    assert entry is not None
    QApplication.processEvents()
    assert entry.preview_label.text().endswith("…")
    assert entry.preview_label.full_text.startswith("You: a very long")
    assert entry.preview_label.toolTip() == entry.preview_label.full_text
    assert not sidebar.list.horizontalScrollBar().isVisible()


def test_emoji_are_drawn_with_an_emoji_font(qtbot: QtBot) -> None:
    if "Noto Color Emoji" not in QFontDatabase.families():
        pytest.skip("fonts-noto-color-emoji is not installed (scripts/system-deps.sh does it)")
    qt_app.ensure_application()
    label = QLabel("😀")
    qtbot.addWidget(label)
    label.setStyleSheet("font-size: 40px; background: #000000; color: #ffffff;")
    label.resize(80, 80)
    image = label.grab().toImage()
    colours = {image.pixelColor(x, y).name() for x in range(0, 80, 2) for y in range(0, 80, 2)}
    # A missing glyph is a white box on black; a colour emoji has its yellow.
    assert any(QColor(c).saturation() > 100 and QColor(c).value() > 100 for c in colours)


def test_a_peer_gets_a_local_name_shown_with_its_derived_one(
    qtbot: QtBot, fake_window: MainWindow
) -> None:
    # Issue 12, item 9: two chats with the same peer name could not be told apart.
    window = fake_window
    first = window.open_chat(m.SessionInfo("5e" * 16, None, "joiner", (PEER,)))
    second = window.open_chat(m.SessionInfo("6f" * 16, None, "callee", (PEER,)))
    assert first is not None and second is not None
    window.show_chat(first.chat_id)
    view = window.views[first.chat_id]
    view.rename_button.click()
    dialog = window.findChild(RenameDialog, "rename")
    assert isinstance(dialog, RenameDialog) and dialog.member_box.isHidden()
    dialog.name_edit.setText("Bob from work")
    dialog.save_button.click()
    assert view.title_label.text() == f"Bob from work ({PEER_NAME})"
    assert view.title_label.toolTip() == PEER_NAME
    assert view.messages.system_lines[-1].startswith(f"You named {PEER_NAME} “Bob from work”")
    one, two = (window.sidebar.entry(s.chat_id) for s in (first, second))
    assert one is not None and two is not None
    assert one.title_label.full_text != two.title_label.full_text  # told apart
    assert two.title_label.full_text == PEER_NAME
    window.set_local_name(first.chat_id, PEER.address, "")
    assert view.title_label.text() == PEER_NAME
