"""The fixtures every desktop-app test module shares: a relay, the app's window, a peer.

A test module loads them with ``pytest_plugins = ["qt_fixtures"]``: a ``tests/ui/conftest.py``
would be a second module named ``conftest`` to mypy (tests/integration has one), and a module
the tests also import from directly cannot be a plugin (pytest could not rewrite its asserts).
Override ``app_identity`` in a module to give the app a QuickoKey.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytestqt.qtbot import QtBot
from qt_support import FAST, WAIT_MS, RelayThread, peer_client

from quicko.client import AsyncQuickoClient, QuickoClient
from quicko.identity import Identity
from quicko.ui.qt.app import create_window, ensure_application
from quicko.ui.qt.main_window import MainWindow


@pytest.fixture
def relay() -> Iterator[RelayThread]:
    """A real relay on its own thread, for one test."""
    relay = RelayThread()
    relay.start()
    yield relay
    relay.close()


@pytest.fixture
def app_identity() -> Identity | None:
    """The app's identity: ephemeral unless a test module overrides this fixture."""
    return None


@pytest.fixture
def window(qtbot: QtBot, relay: RelayThread, app_identity: Identity | None) -> Iterator[MainWindow]:
    """The desktop app's window on a real client, shown and connected to ``relay``."""
    ensure_application()
    client = AsyncQuickoClient(relay.url, identity=app_identity, settings=FAST)
    window = create_window(client)
    window.resize(1000, 680)
    window.show()
    qtbot.waitUntil(lambda: window.status.state == "connected", timeout=WAIT_MS)
    yield window
    window.close()


@pytest.fixture
def peer(relay: RelayThread) -> Iterator[QuickoClient]:
    """A second user, connected to ``relay``."""
    client = peer_client(relay.url)
    yield client
    client.close()
