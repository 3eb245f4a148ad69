"""Helpers of the desktop-app tests: a relay on its own thread, real clients, screenshots.

pytest-qt tests run on the Qt (UI) thread, which must keep spinning while the app works, so:

- the shared fixtures live in :mod:`qt_fixtures`;

- :class:`RelayThread` runs a real in-process relay on 127.0.0.1 on an event-loop thread of its
  own; it can be stopped and brought back on the same port.
- :func:`peer_client` makes a real :class:`QuickoClient` (the second user) with quick
  reconnects; its blocking calls are fine when the app's part runs on the app client's thread,
  and :func:`in_background` runs the ones that need the UI to act (an incoming call).
- :func:`wait_event` waits for a peer's event with ``qtbot.waitUntil`` (the UI keeps running).
- :func:`press` and :func:`type_text` send real key events (typed wrappers of ``QTest``).
- :func:`screenshot` saves ``widget.grab()`` as a PNG under
  ``test-output/screenshots/desktop/`` and, with ``QUICKO_UPDATE_SCREENSHOTS=1``, copies it to
  ``docs/screenshots/desktop-NAME.png``.

Importing this module sets ``QT_QPA_PLATFORM=offscreen`` (unless set) before any
``QApplication`` exists.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from quicko.client import ClientEvent, ConnectionSettings, QuickoClient
from quicko.identity import Identity
from quicko.relay.config import RelayConfig
from quicko.relay.server import RelayServer

E = TypeVar("E")
T = TypeVar("T")

#: Milliseconds a test waits for something to show before failing (never a fixed sleep).
WAIT_MS = 15_000
#: Seconds a blocking call on the relay's thread may take.
RELAY_CALL_S = 10.0

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-output" / "screenshots" / "desktop"
DOCS_SCREENSHOTS = ROOT / "docs" / "screenshots"

#: Quick reconnects and a 1 s heartbeat, so the relay-restart test is short.
FAST = ConnectionSettings(backoff_initial=0.05, backoff_maximum=0.3, ping_interval=1.0)


class RelayThread:
    """A real relay on 127.0.0.1, served by an event loop on a thread of its own."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="relay", daemon=True)
        self._thread.start()
        self.server: RelayServer | None = None
        self.port = 0

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(RELAY_CALL_S)

    @property
    def url(self) -> str:
        """The relay's WebSocket URL."""
        return f"ws://127.0.0.1:{self.port}/ws"

    def start(self) -> None:
        """Start the relay (on a free port the first time, then on the same one)."""
        server = RelayServer(RelayConfig(host="127.0.0.1", port=self.port, node_id="qt-test"))
        self._call(server.start())
        self.server = server
        self.port = server.port

    def stop(self) -> None:
        """Shut the relay down (its clients see the connection drop)."""
        if self.server is not None:
            self._call(self.server.shutdown(grace_s=0.5))
            self.server = None

    def close(self) -> None:
        """Stop the relay and its thread."""
        self.stop()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(RELAY_CALL_S)
        self._loop.close()


def peer_client(url: str, identity: Identity | None = None) -> QuickoClient:
    """A connected second user with quick reconnects."""
    client = QuickoClient(url, identity=identity, settings=FAST)
    client.connect(RELAY_CALL_S)
    return client


def in_background(call: Callable[[], T]) -> concurrent.futures.Future[T]:
    """Run a blocking call on a thread, for one that needs the UI to act before it returns."""
    executor = concurrent.futures.ThreadPoolExecutor(1, "peer-call")
    future = executor.submit(call)
    executor.shutdown(wait=False)
    return future


def wait_event(
    qtbot: QtBot,
    client: QuickoClient,
    kind: type[E],
    where: Callable[[E], bool] = lambda _event: True,
    timeout_ms: int = WAIT_MS,
) -> E:
    """The next event of ``kind`` (matching ``where``) of a peer, keeping the UI running."""
    found: list[E] = []

    def seen() -> bool:
        while not found:
            event: ClientEvent | None = client.poll_event()
            if event is None:
                return False
            if isinstance(event, kind) and where(event):
                found.append(event)
        return True

    qtbot.waitUntil(seen, timeout=timeout_ms)
    return found[0]


def press(
    widget: QWidget,
    key: Qt.Key,
    modifiers: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier,
) -> None:
    """Press and release one key (with modifiers) on ``widget``."""
    QTest.keyClick(widget, key, modifiers)


def type_text(widget: QWidget, text: str) -> None:
    """Type ``text`` into ``widget`` key by key."""
    QTest.keyClicks(widget, text)


def screenshot(widget: QWidget, name: str) -> Path:
    """Save a PNG of ``widget`` (and copy it to docs/ when asked to)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    QApplication.processEvents()  # pending layout and paint first, as a person would see it
    assert widget.grab().save(str(path), "PNG"), f"could not save {path}"
    if os.environ.get("QUICKO_UPDATE_SCREENSHOTS") == "1":
        DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOCS_SCREENSHOTS / f"desktop-{name}.png")
    return path
