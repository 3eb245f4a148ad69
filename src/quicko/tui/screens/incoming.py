"""The incoming-call dialog: who is calling, their safety number, accept or decline.

The call and its ring deadline come from the shared model (:class:`quicko.appmodel.RingingCall`):
the caller gives up after 60 s, so an answer must leave before that with time to travel. When
the model says the caller gave up (:class:`quicko.appmodel.CallGone`), the app calls
:meth:`IncomingCallScreen.expire`: the dialog closes with the result ``None`` and can no longer
accept; a late key press is refused by the deadline too (issue 12, item 1).
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Static

from quicko.appmodel import RingingCall
from quicko.identity import safety_number_lines
from quicko.tui.theme import ACCENT, MUTED, WARNING
from quicko.tui.widgets import clock_ms

__all__ = ["IncomingCallScreen"]


class IncomingCallScreen(ModalScreen[bool | None]):
    """Asks whether to accept a call.

    The result is ``True`` to accept, ``False`` to decline, and ``None`` when the caller gave
    up first (:meth:`expire`, or a key pressed after ``call.deadline_ms``).

    Args:
        call: the call to show, with its deadline (:func:`~quicko.tui.widgets.clock_ms`).
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a,y", "answer(True)", "Accept"),
        Binding("d,n,escape", "answer(False)", "Decline"),
    ]

    def __init__(self, call: RingingCall) -> None:
        super().__init__(id="incoming-call")
        self.call = call
        self._done = False

    def on_mount(self) -> None:
        """Start the countdown."""
        self.set_interval(1.0, self._show_countdown)
        self._show_countdown()

    @property
    def seconds_left(self) -> int:
        """Whole seconds left to answer (0 once the caller gave up)."""
        return self.call.seconds_left(clock_ms())

    def expire(self) -> None:
        """The caller gave up: close with ``None`` (no answer is possible any more)."""
        if self._done:
            return
        self._done = True
        self.dismiss(None)

    def _show_countdown(self) -> None:
        countdown = self.query("#countdown")
        if countdown:
            countdown.first(Static).update(Text(f"Answer within {self.seconds_left} s", MUTED))

    def compose(self) -> ComposeResult:
        """Build the widgets."""
        call = self.call
        with Vertical(classes="dialog"):
            yield Static(Text("Incoming call"), classes="dialog-title")
            yield Static(_describe(call))
            yield Static(id="countdown")
            with Horizontal(classes="buttons"):
                yield Button("Accept (a)", id="accept", variant="success")
                yield Button("Decline (d)", id="decline", variant="error")
        yield Footer()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """The buttons do what the keys do."""
        self.action_answer(event.button.id == "accept")

    def action_answer(self, accept: bool) -> None:
        """Close the dialog with the answer (too late to accept: as if the caller gave up)."""
        if self._done:
            return
        if accept and clock_ms() >= self.call.deadline_ms:
            self.expire()
            return
        self._done = True
        self.dismiss(accept)


def _describe(call: RingingCall) -> Text:
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
