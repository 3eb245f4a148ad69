"""The terminal app, headless: the status line follows the relay connection.

A real relay stops: the status line goes to "connecting" with the attempt number; the relay
comes back on the same port: the status line goes back to "connected". The app also starts
with nothing written to disk by Textual, and quits with ctrl+q.
"""

from __future__ import annotations

import re

import pytest
import textual.constants
from tui_support import (
    SIZE,
    expect_event,
    fast_client,
    recorded_notes,
    relay_on,
    screenshot,
    url_of,
    wait_for,
)

from quicko.client import MessageReceived, StatusChanged
from quicko.messaging import ChatMessage, DeliveryStatus
from quicko.tui.app import QuickoApp
from quicko.tui.screens.main import MainScreen
from quicko.tui.widgets import MessageRow

pytestmark = [pytest.mark.ui, pytest.mark.integration]


def status(app: QuickoApp) -> str:
    return app.main_screen.status_line.plain


async def test_status_line_follows_a_relay_restart() -> None:
    async with relay_on() as relay:
        port = relay.port
        app = QuickoApp(fast_client(url_of(relay)))
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: status(app).startswith("● connected to ws://"), "up")
            await wait_for(pilot, lambda: status(app).endswith(" ms"), "a latency measured")
            await screenshot(pilot, "welcome")

            await relay.shutdown(grace_s=1.0)
            await wait_for(pilot, lambda: "unreachable" in status(app), "unreachable")
            await wait_for(pilot, lambda: app.presenter.connection.attempt >= 2, "two attempts")
            assert "attempt" in status(app)
            assert app.presenter.connection.state == "connecting"  # not "disconnected" between
            await screenshot(pilot, "connecting")

            async with relay_on(port):
                await wait_for(pilot, lambda: status(app).startswith("● connected"), "reconnected")
                assert app.client.connection_state == "connected"


async def test_app_writes_nothing_and_quits_with_ctrl_q() -> None:
    async with relay_on() as relay:
        app = QuickoApp(fast_client(url_of(relay)))
        async with app.run_test(size=SIZE) as pilot:
            assert isinstance(app.screen, MainScreen)
            assert textual.constants.LOG_FILE is None
            assert "devtools" not in app.features and app.devtools is None
            assert not app.use_command_palette  # its "save screenshot" command writes files
            assert app.deliver_screenshot() is None
            await wait_for(pilot, lambda: status(app).startswith("● connected"), "connected")
            bindings = app.screen.active_bindings
            shown = {key for key, active in bindings.items() if active.binding.show}
            assert {"ctrl+n", "ctrl+o", "ctrl+t", "ctrl+y", "ctrl+s", "ctrl+l", "ctrl+q"} <= shown
            await pilot.press("ctrl+q")
            await wait_for(pilot, lambda: not app.is_running, "the app to quit")
        assert app.client.connection_state == "disconnected"


async def test_with_the_relay_gone_the_app_says_which_relay_why_and_what_waits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Issue 12, item 4: "connecting… attempt N" said nothing of which relay or why, messages
    # stayed pending without a word, and New session claimed a session was created.
    async with relay_on() as relay:
        port, url = relay.port, url_of(relay)
        app = QuickoApp(fast_client(url))
        peer = fast_client(url)
        await peer.connect()
        notes = recorded_notes(monkeypatch, app)
        try:
            async with app.run_test(size=SIZE) as pilot:
                await wait_for(pilot, lambda: app.presenter.connection.state == "connected", "up")
                await pilot.press("ctrl+n")
                await wait_for(pilot, lambda: app.book.active_chat is not None, "the chat")
                chat = app.book.active_chat
                assert chat is not None and chat.invite_code is not None
                await peer.join_session(chat.invite_code)
                await wait_for(pilot, lambda: chat.encrypted, "the peer")

                await relay.shutdown(grace_s=0.5)
                await wait_for(pilot, lambda: "retrying" in status(app), "the outage explained")
                # Why: the drop's reason, then each failed attempt's (the client's words).
                assert re.match(
                    f"◌ relay at {re.escape(app.client.relay_url)} unreachable: "
                    "(the relay is shutting down|connection refused) — retrying",
                    status(app),
                ), status(app)
                await pilot.press(*"still there?".replace(" ", "_"))
                await pilot.press("enter")
                log = app.main_screen.chat_view.log_widget
                await wait_for(pilot, lambda: len(log.query(MessageRow)) == 1, "the message")
                row = log.query(MessageRow).first()
                assert row.mark == "◷ waiting for the relay"

                await pilot.press("ctrl+n")
                await wait_for(pilot, lambda: any("Cannot create" in n for n in notes), "refusal")
                assert notes[-1].startswith(
                    f"Cannot create a session now: not connected to the relay at "
                    f"{app.client.relay_url}: "
                )
                assert len(app.book) == 1
                await screenshot(pilot, "disconnected")

                async with relay_on(port):
                    await wait_for(pilot, lambda: status(app).startswith("● connected"), "back")
                    received = await expect_event(peer, MessageReceived)
                    assert received.message.text == "still_there?"
                    await wait_for(pilot, lambda: "waiting" not in row.mark, "sent")
        finally:
            await peer.disconnect()


async def test_a_failed_message_says_why_and_ctrl_r_sends_it_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with relay_on() as relay:
        url = url_of(relay)
        app = QuickoApp(fast_client(url))
        peer = fast_client(url)
        await peer.connect()
        try:
            async with app.run_test(size=SIZE) as pilot:
                await wait_for(pilot, lambda: app.presenter.connection.state == "connected", "up")
                await pilot.press("ctrl+n")
                await wait_for(pilot, lambda: app.book.active_chat is not None, "the chat")
                chat = app.book.active_chat
                assert chat is not None and chat.invite_code is not None
                await peer.join_session(chat.invite_code)
                await wait_for(pilot, lambda: chat.encrypted, "the peer")
                await peer.disconnect()  # away: what we send now is not delivered (yet)
                await pilot.press(*"hello")
                await pilot.press("enter")
                log = app.main_screen.chat_view.log_widget
                await wait_for(pilot, lambda: len(log.query(MessageRow)) == 1, "the message")
                row = log.query(MessageRow).first()
                message_id = row.message.message_id.hex()
                failed = StatusChanged(
                    chat.session_id, message_id, DeliveryStatus.FAILED, "the peer left"
                )
                await app.handle_event(failed)  # what the client reports once undeliverable
                await wait_for(pilot, lambda: row.status is DeliveryStatus.FAILED, "failed")
                assert row.mark == "✗ failed: the peer left — ctrl+r sends it again"
                await screenshot(pilot, "failed-message")
                # The client's own retry is tested with a real relay in
                # tests/integration/test_client_api.py; here, that the app uses it.
                asked: list[tuple[str, str]] = []

                async def retry_message(session_id: str, retried_id: str) -> ChatMessage:
                    asked.append((session_id, retried_id))
                    return row.message.with_status(DeliveryStatus.PENDING)

                monkeypatch.setattr(app.client, "retry_message", retry_message)
                await pilot.press("ctrl+r")
                await wait_for(pilot, lambda: row.status is DeliveryStatus.PENDING, "pending")
                assert asked == [(chat.session_id, message_id)]
                assert len(log.query(MessageRow)) == 1  # the same message, in its place
                assert "failed" not in row.mark and chat.failed() == []
        finally:
            await peer.disconnect()
