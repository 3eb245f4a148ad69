"""The status line: the relay and its connection, latency, whether the shown chat is encrypted.

The relay's URL is always shown; while the relay is not reachable the line says why (the
client's last disconnect reason) and when the next attempt is, counting down (issue 12, item 4).

"End-to-end encrypted" appears only when the shown chat has peers and every one of them is
authenticated (:attr:`quicko.appmodel.Chat.encrypted`); a chat still waiting for its peer says
so instead.
"""

from __future__ import annotations

import time

from rich.text import Text
from textual.widgets import Static

from quicko.appmodel import ConnectionState, LinkState
from quicko.tui.theme import ERROR, MUTED, SUCCESS, WARNING

__all__ = ["StatusLine", "clock_ms", "render_connection"]


def clock_ms() -> int:
    """The clock the terminal app gives its model (:mod:`quicko.appmodel`): wall-clock ms."""
    return time.time_ns() // 1_000_000


def render_connection(connection: ConnectionState, now_ms: int) -> Text:
    """The connection part of the status line (the retry countdown is taken at ``now_ms``)."""
    where = connection.relay_url or "the relay"
    if connection.state is LinkState.CONNECTED:
        text = Text(f"● connected to {where}", style=f"bold {SUCCESS}")
        if connection.latency_ms is not None:
            digits = 1 if connection.latency_ms < 10 else 0
            text.append(f" · {connection.latency_ms:.{digits}f} ms", style=MUTED)
        return text
    if connection.state is LinkState.CONNECTING and not connection.attempt:
        return Text(f"◌ connecting to {where}…", style=f"bold {WARNING}")
    if connection.state is LinkState.CONNECTING:
        text = Text(f"◌ relay at {where} unreachable", style=f"bold {WARNING}")
        if connection.reason:
            text.append(f": {connection.reason}", style=WARNING)
        left = connection.seconds_to_retry(now_ms)
        if left is not None:
            text.append(f" — retrying in {left} s" if left > 0 else " — retrying now")
        text.append(f" (attempt {connection.attempt})", style=MUTED)
        return text
    text = Text(f"○ disconnected from {where}", style=f"bold {ERROR}")
    if connection.reason:
        text.append(f": {connection.reason}", style=MUTED)
    return text


class StatusLine(Static):
    """The line above the footer.

    Attributes:
        connection: the connection state shown.
        encryption: ``None`` when no chat is shown, else whether it is end-to-end encrypted.
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.connection = ConnectionState()
        self.encryption: bool | None = None
        self.waiting_for = ""

    def on_mount(self) -> None:
        """Fill in the widgets once mounted."""
        self._redraw()

    def set_connection(self, connection: ConnectionState) -> None:
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
        text = render_connection(self.connection, clock_ms())
        if self.encryption is True:
            text.append("   🔒 end-to-end encrypted", style=SUCCESS)
        elif self.encryption is False:
            text.append(f"   not encrypted yet{self.waiting_for}", style=WARNING)
        return text

    def _redraw(self) -> None:
        self.update(self._text())
