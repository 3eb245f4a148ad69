"""A one-field dialog with live validation and an asynchronous submit (join, call, recover).

The field is checked as the user types (the ``check`` function returns a problem or ``None``);
Enter runs ``submit`` in a worker, showing ``busy_text`` until it returns. ``submit`` returns
``None`` on success, which closes the dialog, or the problem to show, which keeps it open so
the user can fix the input. Escape cancels at any time (and cancels a submit in progress).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Static

__all__ = ["Check", "Detail", "FormScreen", "Incomplete", "Submit"]


class Incomplete(str):
    """A problem that only means "not finished yet": shown as a hint, not as an error."""

    __slots__ = ()


Check = Callable[[str], str | None]
"""Returns what is wrong with the typed text, or ``None`` when it is acceptable."""

Submit = Callable[[str], Awaitable[str | None]]
"""Acts on the text; returns ``None`` on success or the problem to show."""

Detail = Callable[[str], Text]
"""Renders what the typed text holds, under the field (such as each word of a seed phrase)."""


class FormScreen(ModalScreen[bool]):
    """A dialog with a title, a hint, one input, and a line for problems and progress.

    Args:
        title: the dialog's title.
        hint: one or two lines explaining what to type.
        placeholder: the input's placeholder.
        check: the live validator.
        submit: what Enter does with valid text.
        busy_text: shown while ``submit`` runs.
        password: hide what is typed.
        detail: renders the typed text under the field, updated as it is typed.

    The dialog's result is ``True`` when ``submit`` succeeded, ``False`` when cancelled.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("enter", "submit", "Submit", show=True),
    ]

    def __init__(
        self,
        *,
        title: str,
        hint: str,
        placeholder: str,
        check: Check,
        submit: Submit,
        busy_text: str,
        password: bool = False,
        detail: Detail | None = None,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self._title = title
        self._hint = hint
        self._placeholder = placeholder
        self._check = check
        self._submit = submit
        self._busy_text = busy_text
        self._password = password
        self._detail = detail
        self.busy = False

    def compose(self) -> ComposeResult:
        """Build the widgets."""
        with Vertical(classes="dialog"):
            yield Static(Text(self._title), classes="dialog-title")
            yield Static(Text(self._hint), classes="hint")
            yield Input(placeholder=self._placeholder, password=self._password, id="field")
            if self._detail is not None:
                yield Static(self._detail(""), id="detail")
            yield Static(id="problem")
        yield Footer()

    @property
    def field(self) -> Input:
        """The input."""
        return self.query_one("#field", Input)

    @property
    def detail(self) -> str:
        """What the detail area shows, as plain text ("" without one)."""
        details = self.query("#detail")
        return str(details.first(Static).content) if details else ""

    @property
    def problem(self) -> str:
        """The problem or progress line as plain text ("" when there is none)."""
        return str(self.query_one("#problem", Static).content)

    def on_mount(self) -> None:
        """Fill in the widgets once mounted."""
        self.field.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        """Check the text as it is typed; say nothing while the field is empty."""
        if self._detail is not None:
            self.query_one("#detail", Static).update(self._detail(event.value))
        if self.busy:
            return
        problem = self._check(event.value) if event.value.strip() else None
        self._say(problem, error=not isinstance(problem, Incomplete))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in the field submits."""
        event.stop()
        self.action_submit()

    def action_submit(self) -> None:
        """Submit the text if it is valid and nothing is under way."""
        if self.busy:
            return
        text = self.field.value
        problem = self._check(text)
        if problem is not None:
            self._say(problem)
            return
        self.busy = True
        self.field.disabled = True
        self._say(self._busy_text, error=False)
        self.run_worker(self._run_submit(text), group="submit", exclusive=True)

    async def _run_submit(self, text: str) -> None:
        try:
            problem = await self._submit(text)
        finally:
            self.busy = False
            self.field.disabled = False
        if problem is None:
            self.dismiss(True)
            return
        self._say(problem)
        self.field.focus()

    def action_cancel(self) -> None:
        """Close the dialog, cancelling a submit in progress."""
        self.workers.cancel_group(self, "submit")
        self.dismiss(False)

    def _say(self, message: str | None, *, error: bool = True) -> None:
        line = self.query_one("#problem", Static)
        line.set_class(error, "error")
        line.set_class(not error, "hint")
        line.update(Text(message or ""))
