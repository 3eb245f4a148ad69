"""Helpers of the terminal-app tests: a real relay, real clients, bounded waits, screenshots.

- :func:`relay_on`: an in-process relay on 127.0.0.1 (port 0, or a given port to bring one
  back after a stop), shut down when the block ends.
- :func:`fast_client`: an :class:`AsyncQuickoClient` that reconnects quickly.
- :func:`wait_for`: poll a condition of the app's state through the pilot, bounded in time.
- :func:`expect_event`: the next client event of a kind, bounded in time.
- :func:`screenshot`: save an SVG of the screen under ``test-output/screenshots/terminal/``
  and, with ``QUICKO_UPDATE_SCREENSHOTS=1``, copy it to ``docs/screenshots/terminal-*.svg``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from textual.app import App
from textual.pilot import Pilot

from quicko.client import AsyncQuickoClient, ClientEvent, ConnectionSettings
from quicko.identity import Identity
from quicko.relay.config import RelayConfig
from quicko.relay.server import RelayServer

E = TypeVar("E")

#: Seconds a test waits for a condition or an event before failing.
WAIT_S = 15.0
#: Seconds between two looks at the app's state while waiting.
POLL_S = 0.02
#: The terminal size of every test (columns, rows).
SIZE = (120, 36)

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-output" / "screenshots" / "terminal"
DOCS_SCREENSHOTS = ROOT / "docs" / "screenshots"

#: Reconnect quickly, so the relay-restart test is short (DESIGN.md's 100 ms start is kept).
FAST = ConnectionSettings(backoff_initial=0.05, backoff_maximum=0.3, ping_interval=1.0)


@contextlib.asynccontextmanager
async def relay_on(port: int = 0) -> AsyncIterator[RelayServer]:
    """A relay on 127.0.0.1:``port`` in this process, shut down when the block ends."""
    server = RelayServer(RelayConfig(host="127.0.0.1", port=port, node_id="tui-test"))
    await server.start()
    try:
        yield server
    finally:
        await server.shutdown(grace_s=1.0)


def url_of(server: RelayServer) -> str:
    """The WebSocket URL of an in-process relay."""
    return f"ws://127.0.0.1:{server.port}/ws"


def fast_client(url: str, identity: Identity | None = None) -> AsyncQuickoClient:
    """A client of ``url`` with quick reconnects and a 1 s heartbeat."""
    return AsyncQuickoClient(url, identity=identity, settings=FAST)


async def wait_for(
    pilot: Pilot[Any], condition: Callable[[], object], what: str, timeout: float = WAIT_S
) -> None:
    """Let the app run until ``condition()`` is true; fail after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(POLL_S)
    await pilot.pause()


async def expect_event(client: AsyncQuickoClient, kind: type[E], timeout: float = WAIT_S) -> E:
    """Read ``client``'s events until one is a ``kind`` (others are dropped)."""
    async with asyncio.timeout(timeout):
        while True:
            event: ClientEvent = await client.next_event()
            if isinstance(event, kind):
                return event


async def screenshot(pilot: Pilot[Any], name: str) -> Path:
    """Save the screen as ``test-output/screenshots/terminal/<name>.svg`` and return the path."""
    await pilot.pause()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.svg"
    path.write_text(pilot.app.export_screenshot(title=f"Quicko2 — {name}"), encoding="utf-8")
    if os.environ.get("QUICKO_UPDATE_SCREENSHOTS") == "1":
        DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOCS_SCREENSHOTS / f"terminal-{name}.svg")
    return path


def recorded_notes(monkeypatch: pytest.MonkeyPatch, app: App[Any]) -> list[str]:
    """The notices the app shows from now on (still shown), in order."""
    notes: list[str] = []
    notify = app.notify

    def record(message: str, **options: Any) -> None:
        notes.append(message)
        notify(message, **options)

    monkeypatch.setattr(app, "notify", record)
    return notes
