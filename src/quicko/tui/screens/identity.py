"""The identity dialog: who we are, generate a QuickoKey, show its seed phrase, recover, register.

A fresh app runs with an ephemeral identity (a random one, gone when the app ends). Generating
a QuickoKey makes a long-term identity whose only backup is its 16-word seed phrase: the
phrase stays hidden until the user asks for it, and is always shown with the warning that
nothing else can bring the identity back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Final, Protocol

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from quicko.tui.screens.confirm import ConfirmScreen

__all__ = ["BACKUP_WARNING", "IdentityActions", "IdentityScreen", "IdentityView"]

BACKUP_WARNING: Final = (
    "⚠ These 16 words are the ONLY backup of this identity. Nothing is saved on this machine: "
    "write them down on paper and keep them secret. Anyone who has them can be you; without "
    "them, this QuickoKey is lost when the app closes."
)
"""Shown with every display of a seed phrase."""

_WORDS_PER_ROW: Final = 4


@dataclass(frozen=True, slots=True, repr=False)
class IdentityView:
    """What the dialog shows of an identity.

    Attributes:
        display_name: such as ``"Swift Falcon #7A3F"``.
        quickokey: the public address ``QK-…``.
        seed_phrase: the 16 words, empty for an ephemeral identity (never in ``repr()``).
        registered: whether the QuickoKey is in the relay's directory.
        words_written: whether the user said the 16 words are written down.
    """

    display_name: str
    quickokey: str
    seed_phrase: tuple[str, ...] = field(default=())
    registered: bool = False
    words_written: bool = False

    @property
    def long_term(self) -> bool:
        """Whether this is a QuickoKey identity that can be recovered from words."""
        return bool(self.seed_phrase)

    def __repr__(self) -> str:
        return f"IdentityView(display_name={self.display_name!r}, long_term={self.long_term})"


class IdentityActions(Protocol):
    """What the dialog asks the app to do."""

    def identity_view(self) -> IdentityView:
        """The current identity."""

    def replace_question(self) -> tuple[str, str] | None:
        """What to ask before replacing the identity, or ``None`` when nothing would be lost."""

    def confirm_written(self) -> None:
        """Record that the user wrote the current QuickoKey's words down."""

    async def generate_identity(self) -> str | None:
        """Replace the identity with a new QuickoKey; return a problem or ``None``."""

    async def register_identity(self) -> str | None:
        """Register the QuickoKey in the relay's directory; return a problem or ``None``."""

    def open_recover(self) -> None:
        """Open the recover dialog (on top of this one)."""


class IdentityScreen(ModalScreen[None]):
    """The identity dialog.

    Attributes:
        seed_shown: whether the seed phrase is on screen.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("g", "generate", "Generate QuickoKey"),
        Binding("s", "toggle_seed", "Show/hide words"),
        Binding("w", "written", "Wrote them down"),
        Binding("r", "recover", "Recover"),
        Binding("e", "register", "Register"),
    ]

    def __init__(self, actions: IdentityActions) -> None:
        super().__init__(id="identity-dialog")
        self._actions = actions
        self.seed_shown = False
        self.busy = False

    def compose(self) -> ComposeResult:
        """Build the widgets."""
        with Vertical(classes="dialog"):
            yield Static(Text("Your identity"), classes="dialog-title")
            yield Static(id="identity-summary")
            yield Static(id="identity-seed", classes="seed")
            yield Static(id="identity-warning", classes="warning")
            yield Static(id="identity-problem")
        yield Footer()

    def on_mount(self) -> None:
        """Fill in the widgets once mounted."""
        self.refresh_view()

    def on_screen_resume(self) -> None:
        """Redraw when a dialog over this one closed (a recovery changes the identity)."""
        self.refresh_view()

    @property
    def problem(self) -> str:
        """The last problem or progress message (plain text)."""
        return str(self.query_one("#identity-problem", Static).content)

    @property
    def seed_text(self) -> str:
        """The seed-phrase area as plain text (words only when shown)."""
        return str(self.query_one("#identity-seed", Static).content)

    def refresh_view(self) -> None:
        """Redraw from the app's current identity."""
        view = self._actions.identity_view()
        self.query_one("#identity-summary", Static).update(_summary(view))
        seed = self.query_one("#identity-seed", Static)
        warning = self.query_one("#identity-warning", Static)
        seed.display = warning.display = view.long_term
        if not view.long_term:
            self.seed_shown = False
            return
        seed.update(_words(view.seed_phrase) if self.seed_shown else _hidden())
        warning.update(Text(BACKUP_WARNING))

    def action_close(self) -> None:
        """Close the dialog (and forget the words on screen)."""
        self.seed_shown = False
        self.dismiss(None)

    def action_toggle_seed(self) -> None:
        """Show or hide the seed phrase."""
        self.seed_shown = not self.seed_shown
        self.refresh_view()

    def action_recover(self) -> None:
        """Open the recover dialog."""
        self._actions.open_recover()

    def action_written(self) -> None:
        """Record that the words are written down (only while they are on screen)."""
        if not self.seed_shown:
            hint = "Press s to show the 16 words first, then w once they are on paper."
            self._say(hint, error=True)
            return
        self._actions.confirm_written()
        self.refresh_view()
        self._say("Noted: the 16 words are written down.", error=False)

    def action_generate(self) -> None:
        """Replace the identity with a new QuickoKey, asking first if that loses anything.

        A second ``g`` never silently replaces a QuickoKey whose words are not written down.
        """
        if self.busy:
            return
        question = self._actions.replace_question()
        if question is None:
            self._generate()
            return
        title, text = question

        def answered(replace: bool | None) -> None:
            if replace:
                self._generate()
            else:
                self._say("Kept your current identity.", error=False)

        self.app.push_screen(ConfirmScreen(title, text, "Replace", id="confirm-replace"), answered)

    def _generate(self) -> None:
        done = "New QuickoKey made: press s to see its 16 words, and write them down."
        self._run("Generating a QuickoKey and reconnecting…", done, self._actions.generate_identity)

    def action_register(self) -> None:
        """Register the QuickoKey so others can call it."""
        done = "Registered: people can call your QuickoKey while the app is open."
        self._run("Registering…", done, self._actions.register_identity)

    def _run(self, busy_text: str, done_text: str, action: _Action) -> None:
        if self.busy:
            return
        self.busy = True
        self._say(busy_text, error=False)
        self.run_worker(self._finish(action, done_text), group="identity", exclusive=True)

    async def _finish(self, action: _Action, done_text: str) -> None:
        try:
            problem = await action()
        finally:
            self.busy = False
        self.seed_shown = False
        self.refresh_view()
        self._say(problem or done_text, error=problem is not None)

    def _say(self, message: str, *, error: bool) -> None:
        line = self.query_one("#identity-problem", Static)
        line.set_class(error, "error")
        line.set_class(not error, "ok")
        line.update(Text(message))


class _Action(Protocol):
    async def __call__(self) -> str | None: ...


def _summary(view: IdentityView) -> Text:
    text = Text.assemble(("Name       ", "bold"), view.display_name, "\n")
    text.append("QuickoKey  ", style="bold")
    text.append(view.quickokey)
    text.append("\nKind       ", style="bold")
    if view.long_term:
        state = "registered" if view.registered else "not registered (e to register)"
        text.append(f"long-term QuickoKey, {state}")
        text.append("\nWords      ", style="bold")
        text.append(
            "written down ✓"
            if view.words_written
            else "not confirmed as written down (s to show, w once on paper)"
        )
    else:
        text.append("ephemeral: a random identity, gone when the app closes (g to generate)")
    return text


def _hidden() -> Text:
    return Text("Seed phrase hidden: 16 words (press s to show them)")


def _words(words: tuple[str, ...]) -> Text:
    rows = [
        "   ".join(
            f"{start + offset + 1:>2}. {word:<10}"
            for offset, word in enumerate(words[start : start + _WORDS_PER_ROW])
        )
        for start in range(0, len(words), _WORDS_PER_ROW)
    ]
    return Text("\n".join(rows))
