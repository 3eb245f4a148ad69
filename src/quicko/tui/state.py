"""What the terminal app knows about its chats, in memory only, with no Textual in it.

The app turns client events into calls on a :class:`ChatBook`; the widgets render what it
holds. Keeping this plain makes the rules testable without a terminal: unread counts, the
order of messages and system lines, delivery ticks that only move forward
(:func:`quicko.messaging.advance`), "end-to-end encrypted" shown only when every peer of
a chat is authenticated, and the names shown (DESIGN.md §4.3): a peer is named by its address
(:func:`quicko.identity.shown_name`), never by the name it claims, and a peer not authenticated
yet is not shown as a person at all (:func:`pending_label`).

Chats are keyed by a local id the book assigns when a chat opens, never by anything a remote
party chooses: the session id only maps to a chat, and a second open for a session id already
in the book is refused (DESIGN.md §4.3, "no remote party ever chooses or overwrites a local
session").

Nothing here is written anywhere: a chat's entries are a bounded ring in memory, like the
client's ephemeral store, and closing a chat drops them.
"""

from __future__ import annotations

import itertools
import logging
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Final

from quicko.client.models import PeerInfo
from quicko.identity import claimed_name, display_name, shown_name
from quicko.messaging import ChatMessage, DeliveryStatus, advance

__all__ = [
    "MAX_ENTRIES",
    "PENDING_JOINER",
    "PENDING_MEMBER",
    "STATUS_MARKS",
    "Chat",
    "ChatBook",
    "Entry",
    "Peer",
    "SystemLine",
    "pending_label",
    "sender_name",
    "status_mark",
]

_log = logging.getLogger(__name__)

PENDING_JOINER: Final = "Someone with the invite code is trying to join"
"""What stands for a member not authenticated yet, in a session we created."""

PENDING_MEMBER: Final = "Someone is connecting securely…"
"""What stands for a member not authenticated yet, in any other session."""


def pending_label(role: str) -> str:
    """What to show instead of a name for a member not authenticated yet (never a person)."""
    return PENDING_JOINER if role == "creator" else PENDING_MEMBER


def sender_name(message: ChatMessage) -> str:
    """The name shown on a received message: its sender's address-derived name."""
    return shown_name(message.sender, message.sender_name)


MAX_ENTRIES: Final = 1000
"""Messages and system lines a chat keeps (the client's store keeps as many)."""

STATUS_MARKS: Final[dict[DeliveryStatus, tuple[str, str]]] = {
    DeliveryStatus.PENDING: ("◷", "pending"),
    DeliveryStatus.SENT: ("✓", "sent"),
    DeliveryStatus.DELIVERED: ("✓✓", "delivered"),
    DeliveryStatus.READ: ("✓✓", "read"),
    DeliveryStatus.FAILED: ("✗", "failed"),
}
"""The tick and the word shown beside an outgoing message for each delivery status."""


def status_mark(status: DeliveryStatus, *, waiting: bool = False, retried: bool = False) -> str:
    """The tick and word for ``status``, such as ``"✓✓ read"``.

    Args:
        status: the delivery status.
        waiting: a pending message waits for the relay, which is not reachable.
        retried: a failed message was sent again (as a new message).
    """
    tick, word = STATUS_MARKS[status]
    if status is DeliveryStatus.PENDING and waiting:
        return f"{tick} waiting for the relay"
    if status is DeliveryStatus.FAILED:
        return (
            f"{tick} failed · sent again" if retried else f"{tick} failed — ctrl+r sends it again"
        )
    return f"{tick} {word}"


@dataclass(frozen=True, slots=True)
class Peer:
    """Another member of a chat, as the app shows it.

    Attributes:
        address: the peer's address (hex).
        display_name: derived from the address, such as ``"Swift Falcon #7A3F"``.
        authenticated: whether the peer's keys are authenticated (PAKE or QuickoKey).
        safety_number: the number both sides can compare, once authenticated.
        verified: whether the user marked the safety number as compared.
        claimed_name: the name the peer claims, when it is not its derived name (cleaned;
            only ever shown labelled as a claim).
    """

    address: str
    display_name: str
    authenticated: bool = False
    safety_number: str | None = None
    verified: bool = False
    claimed_name: str | None = None

    @classmethod
    def from_info(cls, info: PeerInfo) -> Peer:
        """The app's view of a client's :class:`~quicko.client.models.PeerInfo`.

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


@dataclass(eq=False)
class Chat:
    """One open session, as the app shows it.

    Attributes:
        chat_id: the app's local id of the chat (assigned by :class:`ChatBook`).
        session_id: the session's id (hex).
        role: ``"creator"``, ``"joiner"``, ``"caller"`` or ``"callee"``.
        invite_code: the code to read out, for a session we created (until someone joins).
        peers: the other members, by address.
        entries: messages and system lines, oldest first (at most :data:`MAX_ENTRIES`).
        unread: incoming messages not yet shown to the user.
        ended: why the session ended, once it has (no more sending).
        retried: ids (hex) of our failed messages already sent again.
        local_names: names the user gave peers here, by address (memory only; shown first,
            with the derived name after it).
    """

    chat_id: str
    session_id: str
    role: str
    invite_code: str | None = None
    peers: dict[str, Peer] = field(default_factory=dict)
    entries: deque[Entry] = field(default_factory=lambda: deque(maxlen=MAX_ENTRIES))
    unread: int = 0
    ended: str | None = None
    retried: set[str] = field(default_factory=set)
    local_names: dict[str, str] = field(default_factory=dict)
    _early: dict[str, DeliveryStatus] = field(default_factory=dict, repr=False)

    @property
    def title(self) -> str:
        """The authenticated peers' names, or what the chat is waiting for."""
        names = [self.label(peer) for peer in self.peers.values() if peer.authenticated]
        pending = len(self.peers) - len(names)
        if names:
            return ", ".join(names) + (f" (+{pending} connecting…)" if pending else "")
        if pending:
            return pending_label(self.role)
        if self.invite_code is not None:
            return "Waiting for a peer…"
        return "Connecting…"

    def label(self, peer: Peer) -> str:
        """A peer's derived name, after the name the user gave it here if any."""
        local = self.local_names.get(peer.address)
        return f"{local} ({peer.shown_name})" if local else peer.shown_name

    def name_of(self, peer: Peer) -> str:
        """How ``peer`` is named here: its name once authenticated, never a person before."""
        return self.label(peer) if peer.authenticated else pending_label(self.role)

    @property
    def encrypted(self) -> bool:
        """Whether the chat is end-to-end encrypted: it has peers and all are authenticated."""
        return bool(self.peers) and all(peer.authenticated for peer in self.peers.values())

    @property
    def verified(self) -> bool:
        """Whether every peer's safety number was compared and marked verified."""
        return self.encrypted and all(peer.verified for peer in self.peers.values())

    def add_peer(self, peer: Peer) -> bool:
        """Add or update a peer; return whether it is new.

        An event may carry an older snapshot than the one already shown (a join's result
        arrives before the events queued during the join): once authenticated or verified, a
        peer stays so until it leaves, since its address commits to its keys.
        """
        known = self.peers.get(peer.address)
        if known is not None and known.authenticated and not peer.authenticated:
            peer = replace(
                peer,
                authenticated=True,
                safety_number=known.safety_number,
                claimed_name=known.claimed_name,
            )
        if known is not None and known.verified and not peer.verified:
            peer = replace(peer, verified=True)
        self.peers[peer.address] = peer
        return known is None

    def remove_peer(self, address: str) -> Peer | None:
        """Remove a peer; return it, or ``None`` if it was not a member."""
        return self.peers.pop(address, None)

    def mark_verified(self, address: str) -> None:
        """Record that the user compared ``address``'s safety number."""
        peer = self.peers.get(address)
        if peer is not None:
            self.peers[address] = replace(peer, verified=True)

    def add(self, entry: Entry) -> None:
        """Append a message or a system line; an incoming message counts as unread.

        A status update that arrived before its message (see :meth:`update_status`) is
        applied now.
        """
        if isinstance(entry, ChatMessage) and entry.outgoing:
            early = self._early.pop(entry.message_id.hex(), None)
            new = None if early is None else advance(entry.status, early)
            entry = entry if new is None else entry.with_status(new)
        self.entries.append(entry)
        if isinstance(entry, ChatMessage) and not entry.outgoing:
            self.unread += 1

    def update_status(self, message_id: str, status: DeliveryStatus) -> ChatMessage | None:
        """Move an outgoing message's status forward.

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
                updated = entry.with_status(new)
                self.entries[index] = updated
                return updated
        if len(self._early) < MAX_ENTRIES:
            current = self._early.get(message_id, DeliveryStatus.PENDING)
            self._early[message_id] = advance(current, status) or current
        return None

    def failed(self) -> list[ChatMessage]:
        """Our failed messages not sent again yet, oldest first."""
        return [
            entry
            for entry in self.entries
            if isinstance(entry, ChatMessage)
            and entry.outgoing
            and entry.status is DeliveryStatus.FAILED
            and entry.message_id.hex() not in self.retried
        ]

    def take_unread(self) -> list[str]:
        """Reset the unread count; return the ids (hex) of the incoming messages not yet read."""
        self.unread = 0
        unread: list[str] = []
        for index, entry in enumerate(self.entries):
            if (
                isinstance(entry, ChatMessage)
                and not entry.outgoing
                and entry.status != DeliveryStatus.READ
            ):
                unread.append(entry.message_id.hex())
                self.entries[index] = entry.with_status(DeliveryStatus.READ)
        return unread


class ChatBook:
    """The open chats, in the order they were opened, and which one is shown.

    Chats are keyed by a local id the book assigns (``"c1"``, ``"c2"``, …, never reused);
    session ids only map to them. A second :meth:`open` for a session id already in the book is
    refused: a new session never replaces or merges into an existing chat.

    Attributes:
        active: the local id of the chat shown, or ``None``.
    """

    def __init__(self) -> None:
        self._chats: dict[str, Chat] = {}
        self._by_session: dict[str, str] = {}
        self._ids = (f"c{number}" for number in itertools.count(1))
        self.active: str | None = None

    def __len__(self) -> int:
        return len(self._chats)

    def __iter__(self) -> Iterator[Chat]:
        return iter(list(self._chats.values()))

    def __contains__(self, chat_id: object) -> bool:
        return chat_id in self._chats

    def get(self, chat_id: str) -> Chat | None:
        """The chat of a local id, or ``None``."""
        return self._chats.get(chat_id)

    def find(self, session_id: str) -> Chat | None:
        """The chat of a session id, or ``None``."""
        chat_id = self._by_session.get(session_id)
        return None if chat_id is None else self._chats.get(chat_id)

    def open(self, session_id: str, role: str, invite_code: str | None = None) -> Chat | None:
        """Open a new chat for a session, under a new local id.

        Returns:
            The new chat, or ``None`` when a chat for ``session_id`` is already open: that one
            is left exactly as it was (a warning is logged).
        """
        if session_id in self._by_session:
            _log.warning("refused a second chat for a session already open (as a %s)", role)
            return None
        chat = Chat(next(self._ids), session_id, role, invite_code)
        self._chats[chat.chat_id] = chat
        self._by_session[session_id] = chat.chat_id
        return chat

    def close(self, chat_id: str) -> Chat | None:
        """Forget a chat and its entries; if it was shown, show the next one (or none)."""
        chat = self._chats.pop(chat_id, None)
        if chat is not None:
            self._by_session.pop(chat.session_id, None)
        if self.active == chat_id:
            self.active = next(iter(self._chats), None)
        return chat

    @property
    def active_chat(self) -> Chat | None:
        """The chat being shown, if any."""
        return None if self.active is None else self._chats.get(self.active)

    @property
    def total_unread(self) -> int:
        """Unread messages across every chat."""
        return sum(chat.unread for chat in self._chats.values())
