"""A yes/no question before a destructive action (leave a chat, replace the identity).

Cancel is what Escape, ``n`` and the first button do; the action needs ``y`` or its own
button, so a stray Enter never destroys anything.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Static

from quicko.client.wording import replace_question

__all__ = ["ConfirmScreen", "replace_question"]


class ConfirmScreen(ModalScreen[bool]):
    """Asks a question; the result is ``True`` when the user confirms.

    Args:
        title: the question, such as "Leave this chat?".
        text: what will happen.
        action: the confirming button's label, such as "Leave".
        id: the screen's id.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "Cancel"),
    ]

    def __init__(self, title: str, text: str, action: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.title_text = title
        self.text = text
        self._action = action

    def compose(self) -> ComposeResult:
        """Build the widgets."""
        with Vertical(classes="dialog"):
            yield Static(Text(self.title_text), classes="dialog-title")
            yield Static(Text(self.text))
            with Horizontal(classes="buttons"):
                yield Button("Cancel (n)", id="cancel")
                yield Button(f"{self._action} (y)", id="confirm", variant="error")
        yield Footer()

    def on_mount(self) -> None:
        """Put the focus on Cancel."""
        self.query_one("#cancel", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """The buttons do what the keys do."""
        self.action_answer(event.button.id == "confirm")

    def action_answer(self, confirm: bool) -> None:
        """Close with the answer."""
        self.dismiss(confirm)
