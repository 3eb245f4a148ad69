"""The status line: the relay connection, its latency, and whether the shown chat is encrypted.

"End-to-end encrypted" appears only when the shown chat has peers and every one of them is
authenticated (:attr:`quicko.tui.state.Chat.encrypted`); a chat still waiting for its peer says
so instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.widgets import Static

from quicko.tui.theme import ERROR, MUTED, SUCCESS, WARNING

__all__ = ["ConnectionView", "StatusLine"]


@dataclass(frozen=True, slots=True)
class ConnectionView:
    """What the status line shows about the relay connection.

    Attributes:
        state: ``"connected"``, ``"connecting"`` or ``"disconnected"``.
        attempt: the reconnection attempt under way (0 for the first connection).
        latency_ms: the last heartbeat round trip, if measured.
        detail: why the connection is down, for ``"disconnected"``.
    """

    state: str = "connecting"
    attempt: int = 0
    latency_ms: float | None = None
    detail: str = ""

    def render(self) -> Text:
        """The connection part of the status line."""
        if self.state == "connected":
            text = Text("● connected", style=f"bold {SUCCESS}")
            if self.latency_ms is not None:
                digits = 1 if self.latency_ms < 10 else 0
                text.append(f" · {self.latency_ms:.{digits}f} ms", style=MUTED)
            return text
        if self.state == "connecting":
            text = Text("◌ connecting…", style=f"bold {WARNING}")
            if self.attempt:
                text.append(f" attempt {self.attempt}", style=WARNING)
            return text
        text = Text("○ disconnected", style=f"bold {ERROR}")
        if self.detail:
            text.append(f" ({self.detail})", style=MUTED)
        return text


class StatusLine(Static):
    """The line above the footer.

    Attributes:
        connection: the connection state shown.
        encryption: ``None`` when no chat is shown, else whether it is end-to-end encrypted.
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.connection = ConnectionView()
        self.encryption: bool | None = None
        self.waiting_for = ""

    def on_mount(self) -> None:
        """Fill in the widgets once mounted."""
        self._redraw()

    def set_connection(self, connection: ConnectionView) -> None:
        """Show a new connection state."""
        self.connection = connection
        self._redraw()

    def set_encryption(self, encrypted: bool | None, waiting_for: str = "") -> None:
        """Show the shown chat's encryption: ``None`` for no chat."""
        self.encryption = encrypted
        self.waiting_for = waiting_for
        self._redraw()

    @property
    def plain(self) -> str:
        """The status line as plain text (for tests and screen readers)."""
        return self._text().plain

    def _text(self) -> Text:
        text = self.connection.render()
        if self.encryption is True:
            text.append("   🔒 end-to-end encrypted", style=SUCCESS)
        elif self.encryption is False:
            text.append(f"   not encrypted yet{self.waiting_for}", style=WARNING)
        return text

    def _redraw(self) -> None:
        self.update(self._text())
