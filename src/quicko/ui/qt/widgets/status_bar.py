"""The status bar: which relay, the connection state and why, latency, encryption.

The relay's URL is always shown, and while the relay is not reachable the bar says why (the
client's last disconnect reason) and when the next attempt is, counting down:
"● Relay at ws://127.0.0.1:9900 unreachable: connection refused — retrying in 4 s (attempt 3)"
(issue 12, item 4).
"""

from __future__ import annotations

import time
from typing import Final

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QLabel, QStatusBar, QWidget

from quicko.appmodel import ConnectionState, LinkState

__all__ = ["ConnectionStatusBar", "clock_ms"]


def clock_ms() -> int:
    """The clock the desktop app gives its model (:mod:`quicko.appmodel`): wall-clock ms."""
    return time.time_ns() // 1_000_000


_ENCRYPTED_TEXT: Final = "🔒 End-to-end encrypted"
_ENCRYPTED_FALLBACK: Final = "End-to-end encrypted"


def _restyle(label: QLabel) -> None:
    style = label.style()
    style.unpolish(label)
    style.polish(label)


class ConnectionStatusBar(QStatusBar):
    """The relay, connected / connecting (why, next attempt) / disconnected, latency, encryption.

    "End-to-end encrypted" is shown only when the window says the current chat's keys are
    authenticated (:meth:`set_encrypted`), never by default.

    Args:
        relay_url: the relay's URL, always shown.
        parent: the parent widget.

    Attributes:
        connection: the connection shown.
        state: ``connected``, ``connecting`` or ``disconnected``.
        reason: why the connection went down (plain words), until it is back.
    """

    def __init__(self, relay_url: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.relay_url = relay_url
        self.setSizeGripEnabled(False)
        self.connection_label = QLabel()
        self.connection_label.setObjectName("connection")
        self.latency_label = QLabel()
        self.latency_label.setObjectName("muted")
        self.encryption_label = QLabel()
        self.encryption_label.setObjectName("encryption")
        # Permanent widgets stay when a passing message is shown (it takes the left side), so
        # the relay and its state are always in view.
        self.addPermanentWidget(self.connection_label)
        self.addPermanentWidget(self.latency_label)
        self.addPermanentWidget(self.encryption_label)
        self.connection = ConnectionState(relay_url=relay_url)
        self.state = str(self.connection.state)
        self.reason = ""
        self._countdown = QTimer(self)
        self._countdown.setInterval(1000)
        self._countdown.timeout.connect(self._show)
        self.set_connection(self.connection)
        self.set_encrypted(encrypted=False)

    @property
    def relay(self) -> str:
        """How the relay is named: ``the relay at URL``."""
        return f"the relay at {self.relay_url}" if self.relay_url else "the relay"

    def set_connection(self, connection: ConnectionState) -> None:
        """Show the connection as the shared model has it (:mod:`quicko.appmodel`)."""
        self.connection = connection
        self.state = str(connection.state)
        self.reason = connection.reason
        if connection.state is LinkState.CONNECTING and connection.retry_at_ms is not None:
            self._countdown.start()
        else:
            self._countdown.stop()
        self.set_latency(connection.latency_ms)
        self._show()

    def offline_text(self) -> str:
        """Why nothing can reach the relay now, as a clause ("the relay at … is not reachable")."""
        return self.connection.offline_text()

    def _show(self) -> None:
        self.connection_label.setText(self._text())
        self.connection_label.setToolTip(self.relay_url)
        self.connection_label.setProperty("state", self.state)
        _restyle(self.connection_label)

    def _text(self) -> str:
        connection = self.connection
        where = self.relay_url or "the relay"
        if connection.state is LinkState.CONNECTED:
            return f"● Connected to {where}"
        if connection.state is LinkState.DISCONNECTED:
            because = f": {self.reason}" if self.reason else ""
            return f"● Disconnected from {where}{because}"
        if not connection.attempt:
            return f"● Connecting to {where}…"
        text = (
            f"● Relay at {self.relay_url} unreachable" if self.relay_url else "● Relay unreachable"
        )
        text += f": {self.reason}" if self.reason else ""
        left = connection.seconds_to_retry(clock_ms())
        if left is not None:
            text += f" — retrying in {left} s" if left > 0 else " — retrying now"
        return f"{text} (attempt {connection.attempt})"

    def set_latency(self, latency_ms: float | None) -> None:
        """Show the last round-trip time to the relay (nothing when unknown)."""
        if latency_ms is None:
            self.latency_label.setText("")
        else:
            self.latency_label.setText(f"{latency_ms:.0f} ms")

    def set_encrypted(self, *, encrypted: bool, detail: str = "") -> None:
        """Say whether the current chat's keys are authenticated (or show ``detail`` instead)."""
        if encrypted:
            font_has_lock = self.fontMetrics().inFontUcs4(0x1F512)
            self.encryption_label.setText(_ENCRYPTED_TEXT if font_has_lock else _ENCRYPTED_FALLBACK)
            self.encryption_label.setObjectName("encryption")
        else:
            self.encryption_label.setText(detail)
            self.encryption_label.setObjectName("muted")
        _restyle(self.encryption_label)

    @property
    def encrypted_shown(self) -> bool:
        """Whether "End-to-end encrypted" is shown."""
        return self.encryption_label.text().endswith(_ENCRYPTED_FALLBACK)
