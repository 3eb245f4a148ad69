"""The terminal app, headless: client events that arrive while the app closes fail no worker.

When the app closes, Textual removes the main screen's widgets (the status line among them)
while the app's workers still run: the client's event pump and the connection attempt. An event
(a reconnection, a measured latency, a peer leaving) that arrived just then made a worker query
a widget already removed (``NoMatches: No nodes match 'StatusLine' on MainScreen``), and the test
failed about one run in six. Here a scripted client delivers the events at exactly that moment.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from quicko.client import models as m
from quicko.tui.app import QuickoApp
from quicko.tui.screens.main import MainScreen

pytestmark = pytest.mark.ui

_INFO = m.QuickoKeyInfo(
    quickokey="QK-0C85-ACA8-D45E-5305-D081-6B0F-C71B-C0A5",
    display_name="Fiery Loon #E664",
    seed_phrase=(),
    x25519_public="00" * 32,
    ed25519_public="00" * 32,
)


class ScriptedClient:
    """The client surface the app needs at start and at exit; events are pushed by the test."""

    def __init__(self) -> None:
        self.events: asyncio.Queue[m.ClientEvent] = asyncio.Queue()
        self.connected = asyncio.Event()
        self.connection_state = "connecting"
        self.latency_ms: float | None = 3.0
        self.identity_info = _INFO
        self.relay_url = "ws://127.0.0.1:9"

    async def connect(self, timeout: float = 10.0) -> None:
        await self.connected.wait()
        self.connection_state = "connected"

    async def disconnect(self) -> None:
        self.connection_state = "disconnected"

    async def next_event(self) -> m.ClientEvent:
        return await self.events.get()

    async def mark_read(self, session_id: str, message_ids: Sequence[str]) -> None:
        pass


async def test_events_during_shutdown_do_not_fail_a_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    client = ScriptedClient()
    seen: list[str] = []

    async def on_unmount(self: MainScreen) -> None:  # its widgets are gone, it is not yet
        seen.append("unmount")
        client.connected.set()  # the connect worker finishes now: it redraws the status line
        for event in (m.Reconnecting(2, 100), m.Connected("node"), m.LatencyMeasured(4.0)):
            client.events.put_nowait(event)
        for _ in range(20):  # let both workers run while the screen is being taken apart
            await asyncio.sleep(0)

    monkeypatch.setattr(MainScreen, "on_unmount", on_unmount, raising=False)
    app = QuickoApp(client)  # type: ignore[arg-type]  # the part of ChatClient it uses
    async with app.run_test() as pilot:
        await pilot.pause()
        assert "connecting" in app.main_screen.status_line.plain
    # run_test re-raises what failed in a worker; getting here means nothing did.
    assert seen == ["unmount"]
    assert client.events.qsize() < 3  # the pump took an event while the widgets were gone
