"""One session as the client keeps it: the sans-I/O Session, its store and its peers.

:class:`LiveSession` is the client's bookkeeping around a :class:`quicko.session.Session`
(no I/O here either): the session's :class:`~quicko.store.EphemeralStore` (every message shown
or sent, with its status), the display names and safety numbers of its peers, and whether the
relay confirmed our Join on the current connection. :meth:`LiveSession.translate` turns the
session's events into client events, updating all of that on the way.

A session's display state (:class:`SessionState`) is *computed* from the connection, the
session and its members (:meth:`LiveSession.display_state`), never fed through a second table
(STYLE.md rule 4). Statuses of our messages come from the session's ledger, which keeps them
beyond the store: a message pushed out of the store still reports its status changes.
"""

from __future__ import annotations

from typing import Final

from quicko.client import models as m
from quicko.client.models import SessionState
from quicko.identity import InviteCode
from quicko.messaging import ChatMessage, DeliveryStatus
from quicko.protocol import LeaveReason
from quicko.session import Session, State
from quicko.session import events as ev
from quicko.store import EphemeralStore

__all__ = ["LEAVE_REASONS", "LiveSession", "SessionState"]


LEAVE_REASONS: Final[dict[int, str]] = {
    LeaveReason.LEFT: "away",
    LeaveReason.DISCONNECTED: "disconnected",
    LeaveReason.EXPIRED: "expired",
}
"""The client-event spelling of each relay LeaveReason for a member that is not gone (a relay's
LEFT only makes a member away); a member gone by its own LEAVE is reported ``"left"``."""


_NONE_PASSED: Final[frozenset[bytes]] = frozenset()


def _passed_sent(events: list[ev.SessionEvent]) -> set[bytes] | frozenset[bytes]:
    """Ids of messages reported SENT and, later in ``events``, past SENT.

    An Ack and the receipt that follows it may arrive in one read: the SENT between is
    dropped from the batch's events (and its store update skipped), since the later status
    implies it. Statuses still only move forward (the store takes PENDING → DELIVERED in one
    step) and the last one shown is the true one.
    """
    passed: set[bytes] = set()
    later: set[bytes] = set()
    for event in reversed(events):
        if type(event) is ev.StatusChanged:
            if event.status is DeliveryStatus.SENT:
                if event.message_id in later:
                    passed.add(event.message_id)
            elif event.status > DeliveryStatus.SENT:
                later.add(event.message_id)
    return passed


class LiveSession:
    """A session of the client, with everything the UIs read about it.

    Args:
        session: the sans-I/O session.
        role: ``"creator"``, ``"joiner"``, ``"caller"`` or ``"callee"``.
        invite: the invite code of a session we created or join.
    """

    def __init__(
        self, session: Session, role: m.SessionRole, invite: InviteCode | None = None
    ) -> None:
        self.session = session
        self._me = session.address  # our own address (never changes)
        # A DELIVERED receipt goes only once the text is in our store (see _received).
        session.hold_delivered_receipts()
        self.role = role
        self.invite = invite
        self.names: dict[bytes, str] = {}
        self.numbers: dict[bytes, str] = {}
        self.verified: set[bytes] = set()
        #: Our text messages, by id (to route relay errors about them).
        self.outgoing: set[bytes] = set()
        self.ready = False
        #: The relay confirmed our Join on the current connection (cleared when it drops).
        self.joined_here = False
        #: The relay confirmed a Join of ours at least once.
        self.ever_joined = False
        #: Our Join went out (the session is past CREATED).
        self.started = False
        #: The display state last reported (to report changes only).
        self.shown = SessionState.CREATED
        self._store: EphemeralStore | None = None
        self._key_of: bytes | None = None  # the session id that _key spells (see key)
        self._key = ""
        # The session id once known: a session's id, once set, never changes (a joiner learns
        # it once), so the views below are computed once for it (they are read per message).
        self._known_id = b""
        self._store_for = b""  # the session id object _store was last checked against

    # ------------------------------------------------------------------ views

    @property
    def session_id(self) -> bytes:
        """The session id (empty for a joiner until the relay's Joined)."""
        return self._known_id or self._learn_id()

    def _learn_id(self) -> bytes:
        self._known_id = session_id = self.session.session_id
        return session_id

    @property
    def key(self) -> str:
        """The session id in hex, as the API names sessions."""
        session_id = self._known_id or self._learn_id()
        if session_id is not self._key_of:  # a joiner learns its id: spelled out again
            self._key_of, self._key = session_id, session_id.hex()
        return self._key

    @property
    def store(self) -> EphemeralStore:
        """The session's messages (created once the session id is known)."""
        store = self._store
        session_id = self._known_id or self._learn_id()
        if store is None or self._store_for is not session_id:
            if store is None or store.session_id != session_id:
                store = self._store = EphemeralStore(session_id)
            self._store_for = session_id
        return store

    def peer(self, address: bytes) -> m.PeerInfo:
        """What we know of one member."""
        authenticated = any(member.address == address for member in self.session.members)
        return m.PeerInfo(
            address=address.hex(),
            display_name=self.names.get(address, ""),
            authenticated=authenticated,
            safety_number=self.numbers.get(address) if authenticated else None,
            verified=address in self.verified and authenticated,
        )

    def info(self) -> m.SessionInfo:
        """The session as :class:`~quicko.client.models.SessionInfo`."""
        addresses = [member.address for member in self.session.members]
        addresses += [address for address in self.names if address not in addresses]
        return m.SessionInfo(
            session_id=self.key,
            invite_code=str(self.invite) if self.invite and self.role == "creator" else None,
            role=self.role,
            peers=tuple(self.peer(address) for address in addresses),
            state=self.shown.value,
        )

    # ------------------------------------------------------------------ display state

    def display_state(self, connected: bool) -> SessionState:
        """The state a UI shows, computed from the connection, the session and its members."""
        state = self.session.state
        if state is State.FAILED or state is State.CLOSED:
            return SessionState.DESTROYED
        if connected and self.joined_here:
            return SessionState.CHATTING if self.session.members else SessionState.CONNECTED
        if self.ever_joined:
            return SessionState.RECONNECTING
        return SessionState.CONNECTING if self.started else SessionState.CREATED

    def refresh(self, connected: bool) -> list[m.ClientEvent]:
        """Report the display state if it changed since the last report."""
        state = self.display_state(connected)
        if state is self.shown or not self.session_id:
            return []
        self.shown = state
        return [m.SessionStateChanged(self.key, state.value)]

    def joined(self) -> None:
        """The relay confirmed our (re-)Join on the current connection."""
        self.joined_here = self.ever_joined = True

    # ------------------------------------------------------------------ outgoing

    def add_outgoing(self, message: ChatMessage, now_ms: int) -> None:
        """Keep a message we just sent."""
        self.outgoing.add(message.message_id)
        self.store.add(message, now_ms)

    def _status(self, message_id: bytes, status: DeliveryStatus, reason: str) -> m.StatusChanged:
        # The ledger decided (it only reports changes, and keeps statuses beyond the store):
        # report it whether or not the store still holds the message (issue 10, item 4).
        self.store.advance_status(self._me, message_id, status)
        return m.StatusChanged(self.key, message_id.hex(), status, reason)

    # ------------------------------------------------------------------ session events

    def translate(self, events: list[ev.SessionEvent], now_ms: int) -> list[m.ClientEvent]:
        """Turn session events into client events, updating the store, peers and lifecycle."""
        out: list[m.ClientEvent] = []
        if not events:
            return out
        passed = _passed_sent(events) if len(events) > 1 else _NONE_PASSED
        for event in events:
            # The two events of every text first (one type check each, _status and _received
            # inlined), the rest by _one.
            if type(event) is ev.StatusChanged:
                message_id, status = event.message_id, event.status
                if passed and status is DeliveryStatus.SENT and message_id in passed:
                    continue  # the later DELIVERED (or READ, FAILED) of this batch says it all
                # As _status: reported whether or not the store still holds the message.
                self.store.advance_status(self._me, message_id, status)
                out.append(m.StatusChanged(self.key, message_id.hex(), status, event.reason))
            elif type(event) is ev.MessageReceived:
                shown = self._received(event, now_ms)
                if shown is not None:
                    out.append(shown)
            else:
                out.extend(self._one(event, now_ms))
        return out

    def _one(self, event: ev.SessionEvent, now_ms: int) -> list[m.ClientEvent]:
        key = self.key
        match event:
            case ev.SessionOpened():
                return []  # the client reports the Join through the lifecycle (see joined)
            case ev.PeerJoined(address=address, display_name=name):
                self.names.setdefault(address, name)
                return [m.PeerJoined(key, self.peer(address))]
            case ev.PeerLeft(address=address, reason=reason, gone=gone):
                return self._peer_left(address, reason, gone)
            case ev.PeerAuthenticated(address=address, display_name=name, safety_number=number):
                return self._authenticated(address, name, number)
            case ev.PeerRefused(address=address, reason=reason):
                return [m.PeerRefused(key, address.hex(), reason)]
            case ev.KeyChanged(address=address):
                return [m.KeyChanged(key, address.hex(), self.names.get(address, ""))]
            case ev.MessageReceived():
                shown = self._received(event, now_ms)
                return [] if shown is None else [shown]
            case ev.StatusChanged(message_id=message_id, status=status, reason=reason):
                return [self._status(message_id, status, reason)]
            case ev.WrongInviteCode(retry_after_ms=retry):
                return [m.WrongInviteCode(key, retry)]
            case ev.JoinerPending():
                return [m.JoinerPending(key)]
            case ev.JoinerFailed(failures=failures):
                return [m.JoinerFailed(key, failures)]
            case ev.InviteRetired():
                return [m.InviteRetired(key)]
            case ev.SessionFailed(reason=reason):
                return [m.SessionFailed(key, reason)]

    def _peer_left(self, address: bytes, reason: int, gone: bool) -> list[m.ClientEvent]:
        name = self.names.get(address, "")
        if reason != LeaveReason.DISCONNECTED and not any(
            member.address == address for member in self.session.members
        ):
            self.names.pop(address, None)
        spelled = "left" if gone else LEAVE_REASONS.get(reason, "away")
        return [m.PeerLeft(self.key, address.hex(), name, spelled)]

    def _authenticated(self, address: bytes, name: str, number: str) -> list[m.ClientEvent]:
        self.names[address] = name  # the signed name replaces the relay's claim
        self.numbers[address] = number
        out: list[m.ClientEvent] = [m.PeerAuthenticated(self.key, self.peer(address))]
        if not self.ready:
            self.ready = True
            out.append(m.SessionReady(self.info()))
        return out

    def _received(self, event: ev.MessageReceived, now_ms: int) -> m.MessageReceived | None:
        store = self.store
        message = ChatMessage(
            message_id=event.message_id,
            session_id=self.session_id,
            sender=event.sender,
            sender_name=event.display_name,
            text=event.text,
            timestamp_ms=event.timestamp,
            outgoing=False,
            status=DeliveryStatus.DELIVERED,
        )
        # Keyed by (sender, message id), like the session's deduplication: a member reusing
        # another member's id cannot hide that member's message (issue 8, finding 6).
        if not store.add_new(message, now_ms):
            return None  # cannot happen: the session shows each (sender, id) once
        # Stored: only now may the sender see "Delivered".
        self.session.message_stored(event.sender, event.message_id, now_ms)
        return m.MessageReceived(self.key, message)

    def mark_read(self, message_ids: list[bytes]) -> None:
        """Mark shown incoming messages READ in the store (every sender's, for each id)."""
        wanted = set(message_ids)
        for stored in self.store.messages():
            if not stored.outgoing and stored.message_id in wanted:
                self.store.advance_status(stored.sender, stored.message_id, DeliveryStatus.READ)

    def wipe(self) -> None:
        """Forget the messages and the peers (the session itself is left by the caller)."""
        if self._store is not None:
            self._store.wipe()
        self.names.clear()
        self.numbers.clear()
        self.verified.clear()

    def __repr__(self) -> str:
        return f"<LiveSession {self.role} {self.shown.value} id={self.key[:4]}…>"
