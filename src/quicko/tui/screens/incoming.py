"""The incoming-call dialog: who is calling, their safety number, accept or decline.

A call can be answered for :data:`RING_S` after its offer arrived: the caller gives up after
60 s (``AsyncQuickoClient.call``'s timeout), so an answer must leave before that with time to
travel. After it the dialog closes itself with the result ``None`` and can no longer accept;
the app says who stopped calling (issue 12, item 1).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import ClassVar, Final

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Static

from quicko.identity import safety_number_lines
from quicko.tui.theme import ACCENT, MUTED, WARNING

__all__ = ["CALLER_TIMEOUT_S", "RING_S", "CallView", "IncomingCallScreen", "stopped_calling"]

CALLER_TIMEOUT_S: Final = 60.0
"""How long a caller waits for an answer (``AsyncQuickoClient.call``'s default timeout)."""

ANSWER_MARGIN_S: Final = 5.0
"""Time left for an answer to reach the caller before it gives up."""

RING_S: Final = CALLER_TIMEOUT_S - ANSWER_MARGIN_S
"""How long after an offer arrived it can be accepted (55 s)."""


def stopped_calling(display_name: str) -> str:
    """The line shown when a caller gave up before the call was answered."""
    return f"{display_name} stopped calling (no answer within {CALLER_TIMEOUT_S:.0f} s)"


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


class IncomingCallScreen(ModalScreen[bool | None]):
    """Asks whether to accept a call.

    The result is ``True`` to accept, ``False`` to decline, and ``None`` when the caller gave
    up first (after ``ring_s`` seconds from the offer's arrival).

    Args:
        call: the call to show.
        ring_s: how long the call can be answered, from now.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a,y", "answer(True)", "Accept"),
        Binding("d,n,escape", "answer(False)", "Decline"),
    ]

    def __init__(self, call: CallView, *, ring_s: float = RING_S) -> None:
        super().__init__(id="incoming-call")
        self.call = call
        self._ring_s = ring_s
        self._deadline = time.monotonic() + ring_s
        self._done = False

    def on_mount(self) -> None:
        """Start the ring timer and the countdown."""
        self.set_timer(max(0.0, self._ring_s), self.expire)
        self.set_interval(1.0, self._show_countdown)
        self._show_countdown()

    @property
    def seconds_left(self) -> int:
        """Whole seconds left to answer (0 once the caller gave up)."""
        return max(0, round(self._deadline - time.monotonic()))

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
        if accept and time.monotonic() >= self._deadline:
            self.expire()
            return
        self._done = True
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
