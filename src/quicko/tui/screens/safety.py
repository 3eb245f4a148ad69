"""The safety-number dialog: compare numbers with each peer, and mark them verified.

Each authenticated peer of the chat has a safety number that both sides compute from their
public keys (DESIGN.md §4). The user reads it to the peer over another channel (in person, on
the phone); if it matches, pressing ``v`` marks that peer verified. A peer whose keys are not
authenticated yet has no number to compare.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Label, ListItem, ListView, Static

from quicko.appmodel import Chat, Peer
from quicko.identity import safety_number_lines
from quicko.tui.theme import MUTED, SUCCESS, WARNING

__all__ = ["SafetyScreen"]


class _PeerItem(ListItem):
    def __init__(self, peer: Peer, name: str) -> None:
        super().__init__()
        self.peer = peer
        self._shown_name = name
        self._label = Label(_describe(peer, name), markup=False)

    def compose(self) -> ComposeResult:
        """Build the widgets."""
        yield self._label

    def show(self, peer: Peer) -> None:
        self.peer = peer
        self._label.update(_describe(peer, self._shown_name))


def _describe(peer: Peer, name: str) -> Text:
    text = Text(name, style="bold")
    if peer.verified:
        text.append("   ✔ verified", style=SUCCESS)
    elif peer.authenticated:
        text.append("   not verified (v when the numbers match)", style=WARNING)
    text.append("\n")
    if peer.safety_number is None:
        text.append("no safety number yet: the peer is not authenticated", style=MUTED)
    else:
        text.append(safety_number_lines(peer.safety_number))
    return text


class SafetyScreen(ModalScreen[None]):
    """The safety numbers of a chat's peers.

    Args:
        chat: the chat whose peers to show.
        verify: called with a peer's address when the user marks it verified; returns the
            updated peer.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("v", "verify", "Numbers match: verify"),
    ]

    def __init__(self, chat: Chat, verify: Callable[[str], Peer | None]) -> None:
        super().__init__(id="safety-dialog")
        self._chat = chat
        self._verify = verify

    def compose(self) -> ComposeResult:
        """Build the widgets."""
        with Vertical(classes="dialog"):
            yield Static(Text("Safety numbers"), classes="dialog-title")
            yield Static(
                Text(
                    "Compare each number with the person, in person or on a call. If they "
                    "match, nobody — not even the relay — is in the middle."
                ),
                classes="hint",
            )
            items = (
                _PeerItem(peer, self._chat.name_of(peer)) for peer in self._chat.peers.values()
            )
            yield ListView(*items, id="peers")
        yield Footer()

    def on_mount(self) -> None:
        """Fill in the widgets once mounted."""
        self.query_one("#peers", ListView).focus()

    def action_close(self) -> None:
        """Close the dialog."""
        self.dismiss(None)

    def action_verify(self) -> None:
        """Mark the highlighted peer verified (only an authenticated one)."""
        item = self.query_one("#peers", ListView).highlighted_child
        if not isinstance(item, _PeerItem) or item.peer.safety_number is None:
            self.notify("This peer has no safety number yet.", severity="warning")
            return
        peer = self._verify(item.peer.address)
        if peer is not None:
            item.show(peer)
