"""What the window knows about each open chat, and how it names and describes it.

The state is built from the client's events only (no blocking call on the UI thread): the
:class:`~quicko.client.models.SessionInfo` of the call that opened the chat, then every
``PeerJoined``, ``PeerAuthenticated``, ``PeerLeft`` and verification on top.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from quicko.client.models import PeerInfo, SessionInfo
from quicko.messaging import DeliveryStatus

__all__ = ["ChatState", "is_encrypted", "subtitle", "title"]


@dataclass
class ChatState:
    """One open chat.

    Attributes:
        session_id: the session (hex).
        role: ``creator``, ``joiner``, ``caller`` or ``callee``.
        invite_code: the code of a session we created (shown in the header), else ``None``.
        peers: the other members by address (hex).
        unread: ids (hex) of received messages not yet shown, oldest first.
        preview: the last message or event, for the sidebar.
        early_status: statuses that arrived before the message they concern was shown.
        closed: why the session ended, or ``""`` while it is open.
    """

    session_id: str
    role: str
    invite_code: str | None = None
    peers: dict[str, PeerInfo] = field(default_factory=dict)
    unread: list[str] = field(default_factory=list)
    preview: str = ""
    early_status: dict[bytes, DeliveryStatus] = field(default_factory=dict)
    closed: str = ""

    @classmethod
    def from_info(cls, info: SessionInfo) -> ChatState:
        """The state of a chat just opened."""
        state = cls(info.session_id, info.role, info.invite_code)
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
            peer = dataclasses.replace(peer, authenticated=True, safety_number=known.safety_number)
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


def title(state: ChatState) -> str:
    """The names shown at the top of a chat and in the sidebar."""
    if state.peers:
        return ", ".join(peer.display_name for peer in state.peers.values())
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
