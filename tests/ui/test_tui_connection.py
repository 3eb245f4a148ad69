"""The terminal app, headless: the status line follows the relay connection.

A real relay stops: the status line goes to "connecting" with the attempt number; the relay
comes back on the same port: the status line goes back to "connected". The app also starts
with nothing written to disk by Textual, and quits with ctrl+q.
"""

from __future__ import annotations

import pytest
import textual.constants
from tui_support import SIZE, fast_client, relay_on, screenshot, url_of, wait_for

from quicko.tui.app import QuickoApp
from quicko.tui.screens.main import MainScreen

pytestmark = [pytest.mark.ui, pytest.mark.integration]


def status(app: QuickoApp) -> str:
    return app.main_screen.status_line.plain


async def test_status_line_follows_a_relay_restart() -> None:
    async with relay_on() as relay:
        port = relay.port
        app = QuickoApp(fast_client(url_of(relay)))
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: status(app).startswith("● connected"), "connected")
            await wait_for(pilot, lambda: status(app).endswith(" ms"), "a latency measured")
            await screenshot(pilot, "welcome")

            await relay.shutdown(grace_s=1.0)
            await wait_for(pilot, lambda: "connecting" in status(app), "connecting")
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
