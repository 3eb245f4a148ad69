"""What the window knows about each open chat, and how it names and describes it.

The state is built from the client's events only (no blocking call on the UI thread): the
:class:`~quicko.client.models.SessionInfo` of the call that opened the chat, then every
``PeerJoined``, ``PeerAuthenticated``, ``PeerLeft`` and verification on top.

Each chat has a local id the window assigns when it opens it; the session id only maps to it.
People are named by their addresses (:func:`peer_name`, :func:`sender_name`), never by the
names they claim, and a member not authenticated yet is never named at all
(:func:`pending_label`) — DESIGN.md §4.3.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Final

from quicko.client.models import PeerInfo, SessionInfo
from quicko.identity import display_name, shown_name
from quicko.messaging import ChatMessage, DeliveryStatus

__all__ = [
    "PENDING_JOINER",
    "PENDING_MEMBER",
    "ChatState",
    "address_name",
    "is_encrypted",
    "labelled",
    "left_line",
    "name_of",
    "peer_name",
    "pending_label",
    "sender_name",
    "subtitle",
    "title",
]

PENDING_JOINER: Final = "Someone with the invite code is trying to join"
"""What stands for a member not authenticated yet, in a session we created."""

PENDING_MEMBER: Final = "Someone is connecting securely…"
"""What stands for a member not authenticated yet, in any other session."""


def pending_label(role: str) -> str:
    """What to show instead of a name for a member not authenticated yet (never a person)."""
    return PENDING_JOINER if role == "creator" else PENDING_MEMBER


def address_name(address: str) -> str:
    """The name derived from an address (hex)."""
    return display_name(bytes.fromhex(address))


def peer_name(peer: PeerInfo) -> str:
    """A member's derived name, with the name it claims labelled as a claim if it differs."""
    return shown_name(bytes.fromhex(peer.address), peer.display_name)


def sender_name(message: ChatMessage) -> str:
    """The name shown on a received message: its sender's derived name (claim labelled)."""
    return shown_name(message.sender, message.sender_name)


@dataclass
class ChatState:
    """One open chat.

    Attributes:
        chat_id: the window's local id of the chat.
        session_id: the session (hex).
        role: ``creator``, ``joiner``, ``caller`` or ``callee``.
        invite_code: the code of a session we created (shown in the header), else ``None``.
        peers: the other members by address (hex).
        unread: ids (hex) of received messages not yet shown, oldest first.
        preview: the last message or event, for the sidebar.
        early_status: statuses that arrived before the message they concern was shown.
        closed: why the session ended, or ``""`` while it is open.
        announced: members whose joining was shown (a later report of them is no news).
        away: members the relay said left (only their return is "is back").
        local_names: names the user gave members here, by address (memory only; shown
            first, with the derived name after it).
    """

    chat_id: str
    session_id: str
    role: str
    invite_code: str | None = None
    peers: dict[str, PeerInfo] = field(default_factory=dict)
    unread: list[str] = field(default_factory=list)
    preview: str = ""
    early_status: dict[bytes, DeliveryStatus] = field(default_factory=dict)
    closed: str = ""
    announced: set[str] = field(default_factory=set)
    away: set[str] = field(default_factory=set)
    local_names: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_info(cls, chat_id: str, info: SessionInfo) -> ChatState:
        """The state of a chat just opened under the local id ``chat_id``."""
        state = cls(chat_id, info.session_id, info.role, info.invite_code)
        state.update(info)
        return state

    def update(self, info: SessionInfo) -> None:
        """Take the members of a fresher :class:`SessionInfo`."""
        for peer in info.peers:
            self.peers[peer.address] = peer

    def set_peer(self, peer: PeerInfo) -> None:
        """Add or update a member; what is known of it is never lost by a later event.

        Events can carry an older snapshot than the one already shown (a join's result arrives
        before the events queued during the join): an address commits to its keys, so once
        authenticated (or verified) a member stays so until it leaves.
        """
        known = self.peers.get(peer.address)
        if known is not None and known.authenticated and not peer.authenticated:
            peer = dataclasses.replace(
                peer,
                display_name=known.display_name,  # the signed claim, not the relay's
                authenticated=True,
                safety_number=known.safety_number,
            )
        if known is not None and known.verified and not peer.verified:
            peer = dataclasses.replace(peer, verified=True)
        self.peers[peer.address] = peer

    def mark_verified(self, address: str) -> PeerInfo | None:
        """Record that the user compared this member's safety number."""
        peer = self.peers.get(address)
        if peer is None:
            return None
        peer = dataclasses.replace(peer, verified=True)
        self.peers[address] = peer
        return peer

    @property
    def is_group(self) -> bool:
        """Whether more than one other member is (or was) here."""
        return len(self.peers) > 1

    def next_to_verify(self) -> PeerInfo | None:
        """The first authenticated member not verified yet, else the first authenticated one."""
        authenticated = [peer for peer in self.peers.values() if peer.authenticated]
        for peer in authenticated:
            if not peer.verified:
                return peer
        return authenticated[0] if authenticated else None


def labelled(state: ChatState, peer: PeerInfo) -> str:
    """A member's derived name, after the name the user gave it here if any."""
    local = state.local_names.get(peer.address)
    return f"{local} ({peer_name(peer)})" if local else peer_name(peer)


def name_of(state: ChatState, peer: PeerInfo) -> str:
    """How a member is named in a chat: its name once authenticated, never a person before."""
    return labelled(state, peer) if peer.authenticated else pending_label(state.role)


def left_line(state: ChatState, peer: PeerInfo | None, how: str) -> str:
    """The system line for a member who left (``how``: "left", "timed out"…)."""
    if peer is not None and peer.authenticated:
        return f"{labelled(state, peer)} {how}."
    if state.role == "creator":
        return f"Someone who was trying to join {how}."
    return f"Someone who was connecting {how}."


def title(state: ChatState) -> str:
    """The names shown at the top of a chat and in the sidebar (authenticated members only)."""
    names = [labelled(state, peer) for peer in state.peers.values() if peer.authenticated]
    pending = len(state.peers) - len(names)
    if names:
        return ", ".join(names) + (f" (+{pending} connecting…)" if pending else "")
    if pending:
        return pending_label(state.role)
    if state.role == "creator":
        return "Waiting for someone to join"
    return "Connecting…"


def subtitle(state: ChatState) -> str:
    """The status line under the names: the code, and where verification stands."""
    if state.closed:
        return state.closed
    parts: list[str] = []
    if state.invite_code:
        parts.append(f"Invite code {state.invite_code}")
    peers = list(state.peers.values())
    if len(peers) == 1:
        peer = peers[0]
        if peer.verified:
            parts.append("Verified ✓")
        elif peer.authenticated:
            parts.append("Not verified: compare safety numbers")
        else:
            parts.append("Authenticating…")
    elif peers:
        verified = sum(peer.verified for peer in peers)
        parts.append(f"{len(peers) + 1} members · {verified} verified")
    return " · ".join(parts)


def is_encrypted(state: ChatState) -> bool:
    """Whether every member's keys are authenticated (so "end-to-end encrypted" is true)."""
    return (
        bool(state.peers)
        and not state.closed
        and all(peer.authenticated for peer in state.peers.values())
    )
