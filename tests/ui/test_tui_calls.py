"""The terminal app's incoming-call dialog against a real relay: a stale call cannot be accepted.

Issue 12, item 1: the dialog used to stay open after the caller had given up; accepting then
opened a chat in which nothing was ever delivered.
"""

from __future__ import annotations

import asyncio
import secrets
import time

import pytest
from textual.widgets import Static
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

from quicko.client import CallEnded, CallRinging, IncomingCall
from quicko.errors import CallCancelledError, SessionError
from quicko.identity import Identity
from quicko.tui.app import QuickoApp
from quicko.tui.screens import FormScreen, IncomingCallScreen

pytestmark = [pytest.mark.ui, pytest.mark.integration]


class HeldClock:
    """The app's clock (``clock_ms``), held still until the test moves it: the ring ends when
    the test says, not when a loaded machine happens to get there (it once ended before the
    dialog could be looked at)."""

    def __init__(self) -> None:
        self.now_ms = time.time_ns() // 1_000_000

    def __call__(self) -> int:
        return self.now_ms


async def test_a_call_the_caller_gave_up_on_closes_and_cannot_be_accepted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = HeldClock()
    for module in ("quicko.tui.app", "quicko.tui.presenter", "quicko.tui.screens.incoming"):
        monkeypatch.setattr(f"{module}.clock_ms", clock)
    async with relay_on() as relay:
        client = fast_client(url_of(relay), Identity.generate(secrets.token_bytes))
        app = QuickoApp(client, ring_s=1.0)
        caller = fast_client(url_of(relay))
        await caller.connect()
        notes = recorded_notes(monkeypatch, app)
        try:
            async with app.run_test(size=SIZE) as pilot:
                await wait_for(pilot, lambda: app.presenter.connection.state == "connected", "up")
                await client.register_key()
                placed = asyncio.create_task(caller.call(client.identity_info.quickokey, 20))
                await wait_for(pilot, lambda: isinstance(app.screen, IncomingCallScreen), "ring")
                dialog = app.screen
                assert isinstance(dialog, IncomingCallScreen)
                countdown = str(dialog.query_one("#countdown", Static).content)
                assert countdown.startswith("Answer within ")
                name = dialog.call.display_name
                still_ringing = app.screen is dialog
                assert still_ringing  # the ring has not ended: the clock is held

                clock.now_ms += 1_001  # the caller's ring time is over
                await wait_for(pilot, lambda: app.screen is app.main_screen, "the dialog closed")
                await wait_for(pilot, lambda: f"{name} stopped calling" in " ".join(notes), "line")
                dialog.action_answer(True)  # a late key press on the closed dialog does nothing
                await pilot.press("a")
                with pytest.raises(SessionError, match="declined"):
                    await asyncio.wait_for(placed, 20)  # the app told the client to let it go
                await pilot.pause()
                assert len(app.book) == 0
        finally:
            await caller.disconnect()


async def test_a_call_the_caller_cancels_closes_its_dialog_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The client's CallEnded, not the app's own ring time, closes the dialog.
    async with relay_on() as relay:
        client = fast_client(url_of(relay), Identity.generate(secrets.token_bytes))
        app = QuickoApp(client)
        caller = fast_client(url_of(relay))
        await caller.connect()
        notes = recorded_notes(monkeypatch, app)
        try:
            async with app.run_test(size=SIZE) as pilot:
                await wait_for(pilot, lambda: app.presenter.connection.state == "connected", "up")
                await client.register_key()
                placed = asyncio.create_task(caller.call(client.identity_info.quickokey, 20))
                ringing = await expect_event(caller, CallRinging)
                await wait_for(pilot, lambda: isinstance(app.screen, IncomingCallScreen), "ring")
                dialog = app.screen
                assert isinstance(dialog, IncomingCallScreen) and dialog.seconds_left > 40
                await caller.cancel_call(ringing.call_id)
                await wait_for(pilot, lambda: app.screen is app.main_screen, "the dialog closed")
                name = dialog.call.display_name
                await wait_for(pilot, lambda: f"{name} stopped calling." in notes, "the line")
                with pytest.raises(CallCancelledError):
                    await asyncio.wait_for(placed, 20)
                assert len(app.book) == 0 and app.presenter.model.calls == {}
        finally:
            await caller.disconnect()


async def test_calling_says_so_and_escape_ends_the_callees_ring(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Issue 12, item 5, in the terminal app: "Calling…" while it rings, Escape cancels the call
    # (the callee's ring ends at once; it used to go on for up to 60 s).
    async with relay_on() as relay:
        app = QuickoApp(fast_client(url_of(relay)))
        callee = fast_client(url_of(relay), Identity.generate(secrets.token_bytes))
        await callee.connect()
        await callee.register_key()
        notes = recorded_notes(monkeypatch, app)
        try:
            async with app.run_test(size=SIZE) as pilot:
                await wait_for(pilot, lambda: app.presenter.connection.state == "connected", "up")
                await pilot.press("ctrl+t")
                form = app.screen
                assert isinstance(form, FormScreen)
                form.field.value = callee.identity_info.quickokey
                await pilot.press("enter")
                ring = await expect_event(callee, IncomingCall)
                assert form.is_current and form.busy
                assert form.problem.startswith("Calling… waiting for an answer")
                assert "Escape cancels" in form.problem
                await screenshot(pilot, "calling")

                await pilot.press("escape")
                ended = await expect_event(callee, CallEnded)
                assert ended == CallEnded(ring.call_id, "cancelled")
                await wait_for(pilot, lambda: "Call cancelled." in notes, "the line")
                assert app.screen is app.main_screen
                with pytest.raises(SessionError, match="the call has ended"):
                    await callee.answer_call(ring.call_id, True)
                assert len(app.book) == 0 and app.presenter.model.outgoing is None
        finally:
            await callee.disconnect()
