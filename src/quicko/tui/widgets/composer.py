"""The message composer: several lines, an explicit size limit, nothing ever dropped silently.

Enter sends; Ctrl+J (the terminal's line feed, which every terminal can type), Shift+Enter and
Alt+Enter (where the terminal reports them) start a new line; a paste keeps all its lines. One
message holds at most :data:`~quicko.session.envelope.MAX_TEXT_BYTES` (64 KiB) of UTF-8, the
protocol's limit; the line under the box always shows the size and the limit, and an edit or a
paste that would go over it is refused with a message saying so (issue 12, item 3).
"""

from __future__ import annotations

from typing import Final

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Static, TextArea
from textual.widgets.text_area import EditResult, Location

from quicko.session.envelope import MAX_TEXT_BYTES
from quicko.tui.theme import ERROR, MUTED, WARNING

__all__ = [
    "NEWLINE_KEYS",
    "Composer",
    "ComposerBox",
    "format_size",
    "size_hint",
    "text_size",
]

NEWLINE_KEYS: Final = frozenset({"ctrl+j", "shift+enter", "alt+enter"})
"""Keys that start a new line (Enter sends)."""

_KEY_HELP: Final = "Enter sends · Ctrl+J new line"
_NEAR_LIMIT: Final = 0.9


def text_size(text: str) -> int:
    """The size of ``text`` in a message: its UTF-8 bytes."""
    return len(text.encode("utf-8"))


def format_size(size: int) -> str:
    """``812 B``, ``1.5 KiB`` or ``64 KiB``."""
    if size < 1024:
        return f"{size} B"
    kib = size / 1024
    return f"{kib:.0f} KiB" if kib == int(kib) else f"{kib:.1f} KiB"


def size_hint(size: int) -> str:
    """The line under the composer: the keys, the size and the limit."""
    return f"{_KEY_HELP} · {format_size(size)} of {format_size(MAX_TEXT_BYTES)}"


class Composer(TextArea):
    """A multi-line text box: Enter sends, Ctrl+J starts a new line, 64 KiB at most.

    Attributes:
        refused: the last refusal shown ("" since the last accepted edit).
    """

    class Submitted(Message):
        """The user pressed Enter with ``text`` in the composer."""

        def __init__(self, composer: Composer, text: str) -> None:
            super().__init__()
            self.composer = composer
            self.text = text

    class Refused(Message):
        """An edit or paste was refused because the message would be over the limit."""

        def __init__(self, reason: str) -> None:
            super().__init__()
            self.reason = reason

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(
            id=id,
            soft_wrap=True,
            show_line_numbers=False,
            tab_behavior="focus",
            placeholder="Type a message",
        )
        self.refused = ""

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            self.post_message(self.Submitted(self, self.text))
            return
        if event.key in NEWLINE_KEYS:
            event.stop()
            event.prevent_default()
            self._replace_via_keyboard("\n", *self.selection)
            return
        await super()._on_key(event)

    def _replace_via_keyboard(
        self, insert: str, start: Location, end: Location
    ) -> EditResult | None:
        # Every typed character, paste (bracketed or Ctrl+V) and Ctrl+J goes through here in
        # Textual 8: the one place where a too-long message can be refused before it exists.
        size = text_size(self.text) - text_size(self.get_text_range(start, end)) + text_size(insert)
        if size > MAX_TEXT_BYTES:
            what = "Paste" if len(insert) > 1 else "Typing"
            self.refused = (
                f"{what} refused: the message would be {size:,} bytes, over the limit of "
                f"{MAX_TEXT_BYTES:,} ({format_size(MAX_TEXT_BYTES)}). Nothing was inserted."
            )
            self.post_message(self.Refused(self.refused))
            return None
        self.refused = ""
        return super()._replace_via_keyboard(insert, start, end)


class ComposerBox(Vertical):
    """The composer and the line under it (keys, size, limit, refusals)."""

    def compose(self) -> ComposeResult:
        """Build the widgets."""
        yield Composer(id="composer")
        yield Static(Text(size_hint(0), MUTED), id="composer-hint")

    @property
    def composer(self) -> Composer:
        """The text box."""
        return self.query_one(Composer)

    @property
    def hint(self) -> str:
        """The line under the box, as plain text."""
        return str(self.query_one("#composer-hint", Static).content)

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        """Show the new size (a refusal stays until the next accepted edit)."""
        self._show(self.composer.refused)

    def on_composer_refused(self, event: Composer.Refused) -> None:
        """Show why an edit or paste was refused."""
        self._show(event.reason)

    def _show(self, refusal: str) -> None:
        line = self.query_one("#composer-hint", Static)
        if refusal:
            line.update(Text(refusal, f"bold {ERROR}"))
            return
        size = text_size(self.composer.text)
        style = WARNING if size > _NEAR_LIMIT * MAX_TEXT_BYTES else MUTED
        line.update(Text(size_hint(size), style))
