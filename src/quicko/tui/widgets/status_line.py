"""The status line: the relay and its connection, latency, whether the shown chat is encrypted.

The relay's URL is always shown; while the relay is not reachable the line says why (the
client's last disconnect reason) and when the next attempt is, counting down (issue 12, item 4).

"End-to-end encrypted" appears only when the shown chat has peers and every one of them is
authenticated (:attr:`quicko.tui.state.Chat.encrypted`); a chat still waiting for its peer says
so instead.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from rich.text import Text
from textual.widgets import Static

from quicko.client.wording import plain_reason
from quicko.tui.theme import ERROR, MUTED, SUCCESS, WARNING

__all__ = ["ConnectionView", "StatusLine", "plain_reason"]


@dataclass(frozen=True, slots=True)
class ConnectionView:
    """What the status line shows about the relay connection.

    Attributes:
        state: ``"connected"``, ``"connecting"`` or ``"disconnected"``.
        attempt: the reconnection attempt under way (0 for the first connection).
        latency_ms: the last heartbeat round trip, if measured.
        detail: why the connection is down (plain words), until it is back.
        relay_url: the relay's URL, always shown.
        retry_at: when the next attempt starts (``time.monotonic()``), while connecting.
    """

    state: str = "connecting"
    attempt: int = 0
    latency_ms: float | None = None
    detail: str = ""
    relay_url: str = ""
    retry_at: float | None = None

    @property
    def relay(self) -> str:
        """How the relay is named: ``the relay at URL``."""
        return f"the relay at {self.relay_url}" if self.relay_url else "the relay"

    def offline_text(self) -> str:
        """Why nothing can reach the relay now, as a clause ("the relay at … is not reachable")."""
        because = f" ({self.detail})" if self.detail else ""
        return f"{self.relay} is not reachable{because}"

    def render(self) -> Text:
        """The connection part of the status line."""
        where = self.relay_url or "the relay"
        if self.state == "connected":
            text = Text(f"● connected to {where}", style=f"bold {SUCCESS}")
            if self.latency_ms is not None:
                digits = 1 if self.latency_ms < 10 else 0
                text.append(f" · {self.latency_ms:.{digits}f} ms", style=MUTED)
            return text
        if self.state == "connecting" and not self.attempt:
            return Text(f"◌ connecting to {where}…", style=f"bold {WARNING}")
        if self.state == "connecting":
            text = Text(f"◌ relay at {where} unreachable", style=f"bold {WARNING}")
            if self.detail:
                text.append(f": {self.detail}", style=WARNING)
            if self.retry_at is not None:
                left = math.ceil(self.retry_at - time.monotonic())
                text.append(f" — retrying in {left} s" if left > 0 else " — retrying now")
            text.append(f" (attempt {self.attempt})", style=MUTED)
            return text
        text = Text(f"○ disconnected from {where}", style=f"bold {ERROR}")
        if self.detail:
            text.append(f": {self.detail}", style=MUTED)
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
