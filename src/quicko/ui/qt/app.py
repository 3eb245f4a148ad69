"""Start the desktop app: the Qt application, the theme, the client and the window.

``quicko app [--relay URL]`` calls :func:`run_app`. The client is an
:class:`~quicko.client.AsyncQuickoClient` on an event-loop thread the
:class:`~quicko.ui.qt.bridge.ClientBridge` owns; the window reaches it only through the bridge
(futures in, queued signals out). Nothing is written to disk: no settings
file, no cache, no log of content.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Final

from PySide6.QtWidgets import QApplication

from quicko.client.api import AsyncQuickoClient
from quicko.client.collector import tune_client_gc
from quicko.ui.qt.bridge import ClientBridge, ClientLike
from quicko.ui.qt.main_window import MainWindow
from quicko.ui.qt.theme import apply_theme

__all__ = ["APP_NAME", "DEFAULT_RELAY_URL", "create_window", "ensure_application", "run_app"]

APP_NAME: Final = "Quicko2"
"""The application's name (window titles)."""

DEFAULT_RELAY_URL: Final = "ws://127.0.0.1:9900"
"""The relay the app talks to unless told otherwise (the one ``./run.sh`` starts)."""

CONNECT_TIMEOUT_S: Final = 10.0


def ensure_application(argv: Sequence[str] | None = None) -> QApplication:
    """The running ``QApplication``, created (and themed) if there is none."""
    existing = QApplication.instance()
    if isinstance(existing, QApplication):
        app = existing
    else:
        app = QApplication(list(argv) if argv is not None else [sys.argv[0]])
    app.setApplicationName(APP_NAME)
    apply_theme(app)
    return app


def create_window(client: ClientLike) -> MainWindow:
    """A window for ``client``, which it starts connecting (without waiting) and closes with it.

    Args:
        client: an unconnected client (an :class:`AsyncQuickoClient` or a stand-in).
    """
    bridge = ClientBridge(client)
    window = MainWindow(bridge)

    def not_yet(_exc: BaseException) -> None:
        # connect() gives up waiting, not connecting: the client keeps retrying, and the status
        # bar follows its Reconnecting and Connected events.
        window.status.showMessage("The relay is not answering yet; still trying…", 8000)

    bridge.submit(lambda: client.connect(CONNECT_TIMEOUT_S), on_error=not_yet)
    return window


def run_app(relay_url: str = DEFAULT_RELAY_URL, argv: Sequence[str] | None = None) -> int:
    """Run the desktop app until its window closes; return the exit status."""
    app = ensure_application(argv)
    client = AsyncQuickoClient(relay_url)
    window = create_window(client)
    window.show()
    tune_client_gc()  # the app's collector policy, once everything of start-up exists
    status = app.exec()
    window.bridge.close()
    return status
