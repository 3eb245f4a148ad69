"""The status bar: connection state, latency, and whether the current chat is encrypted."""

from __future__ import annotations

from typing import Final

from PySide6.QtWidgets import QLabel, QStatusBar, QWidget

__all__ = ["CONNECTION_STATES", "ConnectionStatusBar"]

CONNECTION_STATES: Final = ("connected", "connecting", "disconnected")
"""The states the bar shows (``reconnecting`` is shown as ``connecting``)."""

_ENCRYPTED_TEXT: Final = "🔒 End-to-end encrypted"
_ENCRYPTED_FALLBACK: Final = "End-to-end encrypted"


def _restyle(label: QLabel) -> None:
    style = label.style()
    style.unpolish(label)
    style.polish(label)


class ConnectionStatusBar(QStatusBar):
    """Connected / connecting (attempt n) / disconnected, the latency, and encryption.

    "End-to-end encrypted" is shown only when the window says the current chat's keys are
    authenticated (:meth:`set_encrypted`), never by default.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizeGripEnabled(False)
        self.connection_label = QLabel()
        self.connection_label.setObjectName("connection")
        self.latency_label = QLabel()
        self.latency_label.setObjectName("muted")
        self.encryption_label = QLabel()
        self.encryption_label.setObjectName("encryption")
        self.addWidget(self.connection_label)
        self.addWidget(self.latency_label)
        self.addPermanentWidget(self.encryption_label)
        self.state = "disconnected"
        self.set_connection("disconnected")
        self.set_latency(None)
        self.set_encrypted(encrypted=False)

    def set_connection(self, state: str, *, attempt: int | None = None, detail: str = "") -> None:
        """Show a connection state.

        Args:
            state: ``connected``, ``connecting``, ``reconnecting`` or ``disconnected``.
            attempt: the reconnection attempt, shown while connecting.
            detail: why, shown after a disconnection (a short, safe text).
        """
        shown = "connecting" if state == "reconnecting" else state
        if shown not in CONNECTION_STATES:
            raise ValueError(f"unknown connection state {state!r}")
        self.state = shown
        if shown == "connected":
            text = "● Connected"
        elif shown == "connecting":
            text = "● Connecting…" if attempt is None else f"● Connecting… (attempt {attempt})"
        else:
            text = "● Disconnected" + (f": {detail}" if detail else "")
            self.set_latency(None)
        self.connection_label.setText(text)
        self.connection_label.setProperty("state", shown)
        _restyle(self.connection_label)

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
