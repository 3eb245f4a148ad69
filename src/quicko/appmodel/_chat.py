"""One open chat: its peers, its history, its unread count and its delivery ticks.

The rules both apps show (DESIGN.md §4.3): a peer is named by its address
(:func:`quicko.identity.shown_name`), never by the name it claims; a member not authenticated yet
is never named (:func:`pending_label`); "end-to-end encrypted" holds only while every peer is
authenticated; an outgoing message's status only moves forward (:func:`quicko.messaging.advance`).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace
from typing import Final

from quicko.client.models import PeerInfo
from quicko.identity import claimed_name, display_name, shown_name
from quicko.messaging import ChatMessage, DeliveryStatus, advance

__all__ = [
    "MAX_ENTRIES",
    "PENDING_JOINER",
    "PENDING_MEMBER",
    "Chat",
    "Entry",
    "Peer",
    "SystemLine",
    "merge_peer",
    "pending_label",
    "sender_name",
]

MAX_ENTRIES: Final = 1000
"""Messages and system lines a chat keeps (the client's store keeps as many)."""

PENDING_JOINER: Final = "Someone with the invite code is trying to join"
"""What stands for a member not authenticated yet, in a session we created."""

PENDING_MEMBER: Final = "Someone is connecting securely…"
"""What stands for a member not authenticated yet, in any other session."""


def pending_label(role: str) -> str:
    """What to show instead of a name for a member not authenticated yet (never a person)."""
    return PENDING_JOINER if role == "creator" else PENDING_MEMBER


def sender_name(message: ChatMessage) -> str:
    """The name shown on a received message: its sender's derived name (claim labelled)."""
    return shown_name(message.sender, message.sender_name)


@dataclass(frozen=True, slots=True)
class Peer:
    """Another member of a chat, as the apps show it.

    Attributes:
        address: the peer's address (hex).
        display_name: derived from the address, such as ``"Swift Falcon #7A3F"``.
        authenticated: whether the peer's keys are authenticated (PAKE, vouch or call).
        safety_number: the number both sides can compare, once authenticated.
        verified: whether the user marked the safety number as compared.
        claimed_name: the name the peer claims, when it is not its derived name (only ever
            shown labelled as a claim).
    """

    address: str
    display_name: str
    authenticated: bool = False
    safety_number: str | None = None
    verified: bool = False
    claimed_name: str | None = None

    @classmethod
    def from_info(cls, info: PeerInfo) -> Peer:
        """The apps' view of a client's :class:`~quicko.client.models.PeerInfo`.

        The name is derived from the address; the name in ``info`` is only the peer's (or,
        before it is authenticated, the relay's) claim.
        """
        address = bytes.fromhex(info.address)
        return cls(
            info.address,
            display_name(address),
            info.authenticated,
            info.safety_number,
            info.verified,
            claimed_name(address, info.display_name),
        )

    @property
    def shown_name(self) -> str:
        """The derived name, with a differing claim labelled as such."""
        if self.claimed_name is None:
            return self.display_name
        return f'{self.display_name} (claims "{self.claimed_name}")'


@dataclass(frozen=True, slots=True)
class SystemLine:
    """A line in a chat that is not a message: joins, leaves, key changes, failures.

    Attributes:
        text: what to show.
        warning: shown in the warning colour (a key change, a failure).
    """

    text: str
    warning: bool = False


Entry = ChatMessage | SystemLine
"""One line of a chat's history."""


def merge_peer(known: Peer | None, peer: Peer) -> Peer:
    """The peer to keep when an event reports ``peer`` and ``known`` is shown.

    An event may carry an older snapshot than the one shown (a join's result arrives after
    events queued during the join): an address commits to its keys, so once authenticated (or
    verified) a peer stays so until it leaves, with its signed claim and safety number.
    """
    if known is not None and known.authenticated and not peer.authenticated:
        peer = replace(
            peer,
            authenticated=True,
            safety_number=known.safety_number,
            claimed_name=known.claimed_name,
        )
    if known is not None and known.verified and not peer.verified:
        peer = replace(peer, verified=True)
    return peer


@dataclass(eq=False)
class Chat:
    """One open session, as both apps show it.

    Attributes:
        chat_id: the local id of the chat (assigned by the book, never by a remote party).
        session_id: the session's id (hex).
        role: ``"creator"``, ``"joiner"``, ``"caller"`` or ``"callee"``.
        invite_code: the code to read out, for a session we created (until it is retired).
        peers: the other members, by address.
        entries: messages and system lines, oldest first (at most :data:`MAX_ENTRIES`).
        unread: incoming messages not yet shown to the user.
        preview: the last message or line, for the chat list.
        ended: why the session ended, once it has (no more sending), else ``None``.
        reasons: why each of our FAILED messages failed (plain words), by id (hex).
        local_names: names the user gave peers here, by address (memory only).
        announced: members whose joining was shown (a later report of them is no news).
        away: members the relay said left (only their return is "is back").
    """

    chat_id: str
    session_id: str
    role: str
    invite_code: str | None = None
    peers: dict[str, Peer] = field(default_factory=dict)
    entries: deque[Entry] = field(default_factory=lambda: deque(maxlen=MAX_ENTRIES))
    unread: int = 0
    preview: str = ""
    ended: str | None = None
    reasons: dict[str, str] = field(default_factory=dict)
    local_names: dict[str, str] = field(default_factory=dict)
    announced: set[str] = field(default_factory=set)
    away: set[str] = field(default_factory=set)
    _early: dict[str, DeliveryStatus] = field(default_factory=dict, repr=False)

    # ------------------------------------------------------------------ names

    def label(self, peer: Peer) -> str:
        """A peer's derived name, after the name the user gave it here if any."""
        local = self.local_names.get(peer.address)
        return f"{local} ({peer.shown_name})" if local else peer.shown_name

    def name_of(self, peer: Peer) -> str:
        """How ``peer`` is named here: its name once authenticated, never a person before."""
        return self.label(peer) if peer.authenticated else pending_label(self.role)

    @property
    def title(self) -> str:
        """The authenticated peers' names, or what the chat is waiting for."""
        names = [self.label(peer) for peer in self.peers.values() if peer.authenticated]
        pending = len(self.peers) - len(names)
        if names:
            return ", ".join(names) + (f" (+{pending} connecting…)" if pending else "")
        if pending:
            return pending_label(self.role)
        if self.role == "creator":
            return "Waiting for someone to join"
        return "Connecting…"

    @property
    def derived_names(self) -> str:
        """The authenticated peers' derived names (without the names the user gave them)."""
        return ", ".join(peer.shown_name for peer in self.peers.values() if peer.authenticated)

    @property
    def subtitle(self) -> str:
        """The line under the title: the code, and where verification stands."""
        if self.ended is not None:
            return f"Session ended: {self.ended}"
        parts: list[str] = []
        if self.invite_code:
            parts.append(f"Invite code {self.invite_code}")
        peers = list(self.peers.values())
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

    # ------------------------------------------------------------------ predicates

    @property
    def encrypted(self) -> bool:
        """Whether "end-to-end encrypted" is true: open, with peers, all authenticated."""
        return (
            self.ended is None
            and bool(self.peers)
            and all(peer.authenticated for peer in self.peers.values())
        )

    @property
    def verified(self) -> bool:
        """Whether every peer's safety number was compared and marked verified."""
        return self.encrypted and all(peer.verified for peer in self.peers.values())

    @property
    def is_group(self) -> bool:
        """Whether more than one other member is (or was) here."""
        return len(self.peers) > 1

    def next_to_verify(self) -> Peer | None:
        """The first authenticated peer not verified yet, else the first authenticated one."""
        authenticated = [peer for peer in self.peers.values() if peer.authenticated]
        for peer in authenticated:
            if not peer.verified:
                return peer
        return authenticated[0] if authenticated else None

    # ------------------------------------------------------------------ peers

    def add_peer(self, peer: Peer) -> bool:
        """Add or update a peer (:func:`merge_peer`); return whether it is new."""
        known = self.peers.get(peer.address)
        self.peers[peer.address] = merge_peer(known, peer)
        return known is None

    def remove_peer(self, address: str) -> Peer | None:
        """Remove a peer for good; return it, or ``None`` if it was not a member."""
        self.announced.discard(address)
        self.away.discard(address)
        return self.peers.pop(address, None)

    def mark_verified(self, address: str) -> Peer | None:
        """Record that the user compared ``address``'s safety number; return the peer."""
        peer = self.peers.get(address)
        if peer is None:
            return None
        peer = replace(peer, verified=True)
        self.peers[address] = peer
        return peer

    # ------------------------------------------------------------------ history

    def add(self, entry: Entry) -> Entry:
        """Append a message or a system line; return it as stored.

        An incoming message counts as unread; a status that arrived before our own message
        (see :meth:`update_status`) is applied now.
        """
        if isinstance(entry, ChatMessage) and entry.outgoing:
            early = self._early.pop(entry.message_id.hex(), None)
            new = None if early is None else advance(entry.status, early)
            entry = entry if new is None else entry.with_status(new)
        self.entries.append(entry)
        if isinstance(entry, SystemLine):
            self.preview = entry.text
        elif entry.outgoing:
            self.preview = f"You: {entry.text}"
        else:
            self.unread += 1
            self.preview = f"{sender_name(entry)}: {entry.text}"
        return entry

    def update_status(
        self, message_id: str, status: DeliveryStatus, reason: str = ""
    ) -> ChatMessage | None:
        """Move one of our messages' status forward (never back, never after READ/FAILED).

        ``reason`` says why a FAILED message failed (kept in :attr:`reasons`).

        An update for a message not added yet is kept (a receipt can overtake the reply of
        ``send_message``) and applied by :meth:`add`; at most :data:`MAX_ENTRIES` are kept.

        Returns:
            The updated message, or ``None`` when the message is unknown or the update is a
            duplicate or a step backwards.
        """
        for index, entry in enumerate(self.entries):
            if (
                isinstance(entry, ChatMessage)
                and entry.outgoing  # a peer may reuse our id: statuses are for ours only
                and entry.message_id.hex() == message_id
            ):
                new = advance(entry.status, status)
                if new is None:
                    return None
                if new is DeliveryStatus.FAILED and reason:
                    self.reasons[message_id] = reason
                updated = entry.with_status(new)
                self.entries[index] = updated
                return updated
        if message_id in self._early or len(self._early) < MAX_ENTRIES:
            current = self._early.get(message_id, DeliveryStatus.PENDING)
            self._early[message_id] = advance(current, status) or current
        return None

    def failed(self) -> list[ChatMessage]:
        """Our failed messages, oldest first."""
        return [
            entry
            for entry in self.entries
            if isinstance(entry, ChatMessage)
            and entry.outgoing
            and entry.status is DeliveryStatus.FAILED
        ]

    def retried(self, message: ChatMessage) -> ChatMessage | None:
        """Show one of our failed messages as the client's ``retry_message`` returned it.

        The one step back the status merge allows, because the user asked for it: the message
        keeps its id and its place and is PENDING again; its failure reason is dropped.

        Returns:
            The message as stored, or ``None`` when it is not one of ours in this chat.
        """
        for index, entry in enumerate(self.entries):
            if (
                isinstance(entry, ChatMessage)
                and entry.outgoing
                and entry.message_id == message.message_id
            ):
                self.entries[index] = message
                self.reasons.pop(message.message_id.hex(), None)
                return message
        return None

    def take_unread(self) -> list[str]:
        """Reset the unread count; return the ids (hex) of the incoming messages not yet read."""
        self.unread = 0
        unread: list[str] = []
        for index, entry in enumerate(self.entries):
            if (
                isinstance(entry, ChatMessage)
                and not entry.outgoing
                and entry.status is not DeliveryStatus.READ
            ):
                unread.append(entry.message_id.hex())
                self.entries[index] = entry.with_status(DeliveryStatus.READ)
        return unread
