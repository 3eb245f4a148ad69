"""Sessions, their members and nameplates, and members who are away (docs/protocol.md §4.3).

A member is *online* when a connection holds its address, and *away* otherwise: away members
stay in their sessions for the buffer TTL after their connection went (frames for them are
buffered), and are removed when that time passes without a new Hello.

This store knows nothing about connections; the router asks the connection table who is
online. Every method that changes state is here, so that a shared implementation can publish
the change (see :mod:`quicko.relay.stores`).
"""

from __future__ import annotations

from collections import OrderedDict

__all__ = ["Session", "SessionStore"]


class Session:
    """One session: its members (address → display name) and its nameplate.

    Treat it as read-only outside :class:`SessionStore`.

    Attributes:
        session_id: the 16-byte session id.
        members: display name of every member, online or away, in joining order.
        nameplate: the claimed nameplate, or ``""``.
        owner: the address that claimed the nameplate, or ``b""``.
    """

    __slots__ = ("members", "nameplate", "owner", "session_id")

    def __init__(self, session_id: bytes) -> None:
        self.session_id = session_id
        self.members: dict[bytes, str] = {}
        self.nameplate = ""
        self.owner = b""

    def __repr__(self) -> str:
        return f"<Session {self.session_id[:2].hex()} members={len(self.members)}>"


class SessionStore:
    """Sessions by id, nameplates, each address's sessions, and away deadlines (in memory)."""

    __slots__ = ("_away", "_by_address", "_nameplates", "_sessions")

    def __init__(self) -> None:
        self._sessions: dict[bytes, Session] = {}
        self._nameplates: dict[str, Session] = {}
        self._by_address: dict[bytes, set[bytes]] = {}
        self._away: OrderedDict[bytes, int] = OrderedDict()

    def __len__(self) -> int:
        return len(self._sessions)

    @property
    def nameplate_count(self) -> int:
        """Claimed nameplates."""
        return len(self._nameplates)

    def get(self, session_id: bytes) -> Session | None:
        """The session *session_id*, if it exists."""
        return self._sessions.get(session_id)

    def by_nameplate(self, nameplate: str) -> Session | None:
        """The session holding *nameplate*, if any."""
        return self._nameplates.get(nameplate)

    def sessions_of(self, address: bytes) -> list[Session]:
        """Every session *address* is a member of (a copy)."""
        ids = self._by_address.get(address, ())
        return [self._sessions[session_id] for session_id in ids]

    def session_count_of(self, address: bytes) -> int:
        """How many sessions *address* is a member of."""
        return len(self._by_address.get(address, ()))

    def create(self, session_id: bytes) -> Session:
        """Create the empty session *session_id* (which must not exist)."""
        session = Session(session_id)
        self._sessions[session_id] = session
        return session

    def claim(self, session: Session, nameplate: str, owner: bytes) -> None:
        """Give *nameplate* (which must be free) to *session*, owned by *owner*."""
        session.nameplate = nameplate
        session.owner = owner
        self._nameplates[nameplate] = session

    def release(self, session: Session) -> None:
        """Free the session's nameplate (later joins by it fail)."""
        self._nameplates.pop(session.nameplate, None)
        session.nameplate = ""
        session.owner = b""

    def add_member(self, session: Session, address: bytes, display_name: str) -> None:
        """Add (or rename) a member."""
        session.members[address] = display_name
        self._by_address.setdefault(address, set()).add(session.session_id)

    def remove_member(self, session: Session, address: bytes) -> bool:
        """Remove a member; delete the session (and free its nameplate) once it is empty.

        Returns:
            Whether the session was deleted.
        """
        del session.members[address]
        ids = self._by_address[address]
        ids.discard(session.session_id)
        if not ids:
            del self._by_address[address]
            self._away.pop(address, None)
        if session.members:
            return False
        self.release(session)
        del self._sessions[session.session_id]
        return True

    def mark_away(self, address: bytes, deadline_ms: int) -> None:
        """*address* went offline: it stays a member until *deadline_ms* (if it has sessions)."""
        if address in self._by_address:
            self._away[address] = deadline_ms
            self._away.move_to_end(address)

    def mark_back(self, address: bytes) -> bool:
        """*address* proved its id again; return whether it was away."""
        return self._away.pop(address, None) is not None

    def next_away_deadline(self) -> int | None:
        """When the first away member expires."""
        return next(iter(self._away.values()), None)

    def pop_expired_away(self, now_ms: int) -> bytes | None:
        """Stop tracking and return one away address whose deadline has passed, if any."""
        first = next(iter(self._away.items()), None)
        if first is None or first[1] > now_ms:
            return None
        del self._away[first[0]]
        return first[0]
