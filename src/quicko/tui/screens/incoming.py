"""The incoming-call dialog: who is calling, their safety number, accept or decline."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Static

from quicko.identity import safety_number_lines
from quicko.tui.theme import ACCENT, MUTED, WARNING

__all__ = ["CallView", "IncomingCallScreen"]


@dataclass(frozen=True, slots=True)
class CallView:
    """What the dialog shows of a call.

    Attributes:
        call_id: the call's id (hex).
        caller_quickokey: the caller's QuickoKey (authenticated by the relay's directory and
            the caller's signature).
        display_name: the caller's display name, derived from its QuickoKey (never the name
            it claims).
        safety_number: to compare with the caller.
        claimed_name: the name the caller claims, when it is not its derived name (shown
            second, labelled as a claim).
    """

    call_id: str
    caller_quickokey: str
    display_name: str
    safety_number: str
    claimed_name: str | None = None


class IncomingCallScreen(ModalScreen[bool]):
    """Asks whether to accept a call; the result is ``True`` to accept."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a,y", "answer(True)", "Accept"),
        Binding("d,n,escape", "answer(False)", "Decline"),
    ]

    def __init__(self, call: CallView) -> None:
        super().__init__(id="incoming-call")
        self.call = call

    def compose(self) -> ComposeResult:
        """Build the widgets."""
        call = self.call
        with Vertical(classes="dialog"):
            yield Static(Text("Incoming call"), classes="dialog-title")
            yield Static(_describe(call))
            with Horizontal(classes="buttons"):
                yield Button("Accept (a)", id="accept", variant="success")
                yield Button("Decline (d)", id="decline", variant="error")
        yield Footer()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """The buttons do what the keys do."""
        self.action_answer(event.button.id == "accept")

    def action_answer(self, accept: bool) -> None:
        """Close the dialog with the answer."""
        self.dismiss(accept)


def _describe(call: CallView) -> Text:
    text = Text.assemble(
        (call.display_name, f"bold {ACCENT}"),
        " is calling you\n",
        (call.caller_quickokey, MUTED),
    )
    if call.claimed_name is not None:
        text.append(
            f'\nIt claims to be "{call.claimed_name}": anyone can claim a name; only the name '
            "above and the safety number are proven.",
            style=WARNING,
        )
    text.append("\n\nSafety number (compare it with the caller to be sure):\n")
    text.append(safety_number_lines(call.safety_number))
    return text
