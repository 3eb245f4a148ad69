"""Sessions, members, nameplates, away members and the lobby (docs/protocol.md §4.3).

A member is *online* when a connection holds its address, and *away* otherwise: away members
stay in their sessions for the buffer TTL after their connection went (frames for them are
buffered), and are removed when that time passes without a new Hello.

A nameplate joiner is not a member but *pending* on the nameplate (:class:`PendingJoiner`):
it may exchange LobbyMessages with the nameplate's owner only, until it joins by id, sends
another nameplate Join, disconnects, or the lobby TTL passes.

This store knows nothing about connections; the router asks the connection table who is
online. Every method that changes state is here, so that a shared implementation can publish
the change (see :mod:`quicko.relay.stores`).
"""

from __future__ import annotations

from collections import OrderedDict

__all__ = ["PendingJoiner", "Session", "SessionStore"]


class Session:
    """One session: its members (address → display name), join key and nameplate.

    Treat it as read-only outside :class:`SessionStore`.

    Attributes:
        session_id: the 16-byte session id.
        join_key: the Ed25519 public key whose signature a Join by id must carry.
        source: the source address key of the connection that created it (per-source quota).
        members: display name of every member, online or away, in joining order.
        nameplate: the claimed nameplate, or ``""``.
        owner: the address that claimed the nameplate, or ``b""``.
        owner_source: the source address key the nameplate was claimed from, or ``""``.
    """

    __slots__ = (
        "join_key",
        "members",
        "nameplate",
        "owner",
        "owner_source",
        "session_id",
        "source",
    )

    def __init__(self, session_id: bytes, join_key: bytes = b"", source: str = "") -> None:
        self.session_id = session_id
        self.join_key = join_key
        self.source = source
        self.members: dict[bytes, str] = {}
        self.nameplate = ""
        self.owner = b""
        self.owner_source = ""

    def __repr__(self) -> str:
        return f"<Session {self.session_id[:2].hex()} members={len(self.members)}>"


class PendingJoiner:
    """An address waiting in a nameplate's lobby. Read-only outside :class:`SessionStore`.

    Attributes:
        address: the joiner's bound address.
        nameplate: the nameplate it joined by.
        source: the source address key of its connection.
        deadline_ms: when its pending period ends.
        from_joiner: LobbyMessages it sent to the owner in this period.
        to_joiner: LobbyMessages the owner sent it in this period.
    """

    __slots__ = ("address", "deadline_ms", "from_joiner", "nameplate", "source", "to_joiner")

    def __init__(self, address: bytes, nameplate: str, source: str, deadline_ms: int) -> None:
        self.address = address
        self.nameplate = nameplate
        self.source = source
        self.deadline_ms = deadline_ms
        self.from_joiner = 0
        self.to_joiner = 0

    def __repr__(self) -> str:
        return f"<PendingJoiner on a nameplate, {self.from_joiner}/{self.to_joiner} messages>"


class SessionStore:
    """Sessions by id, nameplates, each address's sessions, away deadlines, the lobby."""

    __slots__ = (
        "_away",
        "_by_address",
        "_by_nameplate_pending",
        "_nameplates",
        "_nameplates_by_source",
        "_pending",
        "_sessions",
        "_sessions_by_source",
    )

    def __init__(self) -> None:
        self._sessions: dict[bytes, Session] = {}
        self._nameplates: dict[str, Session] = {}
        self._by_address: dict[bytes, set[bytes]] = {}
        self._away: OrderedDict[bytes, int] = OrderedDict()
        self._sessions_by_source: dict[str, int] = {}
        self._nameplates_by_source: dict[str, int] = {}
        #: Pending joiners by address, in deadline order (every period has the same TTL).
        self._pending: OrderedDict[bytes, PendingJoiner] = OrderedDict()
        self._by_nameplate_pending: dict[str, dict[bytes, PendingJoiner]] = {}

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

    def sessions_created_from(self, source: str) -> int:
        """Live sessions created from *source*."""
        return self._sessions_by_source.get(source, 0)

    def nameplates_claimed_from(self, source: str) -> int:
        """Claimed nameplates claimed from *source*."""
        return self._nameplates_by_source.get(source, 0)

    def create(self, session_id: bytes, join_key: bytes, source: str) -> Session:
        """Create the empty session *session_id* (which must not exist) with its join key."""
        session = Session(session_id, join_key, source)
        self._sessions[session_id] = session
        _count(self._sessions_by_source, source, 1)
        return session

    def claim(self, session: Session, nameplate: str, owner: bytes, source: str) -> None:
        """Give *nameplate* (which must be free) to *session*, owned by *owner* at *source*."""
        session.nameplate = nameplate
        session.owner = owner
        session.owner_source = source
        self._nameplates[nameplate] = session
        _count(self._nameplates_by_source, source, 1)

    def release(self, session: Session) -> None:
        """Free the session's nameplate (later joins by it fail) and empty its lobby."""
        if session.nameplate:
            del self._nameplates[session.nameplate]
            _count(self._nameplates_by_source, session.owner_source, -1)
            for address in list(self._by_nameplate_pending.get(session.nameplate, ())):
                self.remove_pending(address)
        session.nameplate = ""
        session.owner = b""
        session.owner_source = ""

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
        _count(self._sessions_by_source, session.source, -1)
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

    # ------------------------------------------------------------------ the lobby

    def pending(self, address: bytes) -> PendingJoiner | None:
        """The pending period of *address*, if it waits in a lobby."""
        return self._pending.get(address)

    def pending_count(self, nameplate: str) -> int:
        """Addresses pending on *nameplate*."""
        return len(self._by_nameplate_pending.get(nameplate, ()))

    def pending_count_from(self, nameplate: str, source: str) -> int:
        """Addresses pending on *nameplate* from connections of *source*."""
        joiners = self._by_nameplate_pending.get(nameplate, {})
        return sum(1 for joiner in joiners.values() if joiner.source == source)

    def add_pending(
        self, address: bytes, nameplate: str, source: str, deadline_ms: int
    ) -> PendingJoiner:
        """Start a pending period of *address* (which is not pending) on *nameplate*."""
        joiner = PendingJoiner(address, nameplate, source, deadline_ms)
        self._pending[address] = joiner
        self._by_nameplate_pending.setdefault(nameplate, {})[address] = joiner
        return joiner

    def remove_pending(self, address: bytes) -> PendingJoiner | None:
        """End the pending period of *address*, if any; return it."""
        joiner = self._pending.pop(address, None)
        if joiner is not None:
            joiners = self._by_nameplate_pending[joiner.nameplate]
            del joiners[address]
            if not joiners:
                del self._by_nameplate_pending[joiner.nameplate]
        return joiner

    def count_lobby_message(self, joiner: PendingJoiner, *, from_owner: bool) -> None:
        """Count one LobbyMessage of *joiner*'s period: to it from the owner, or from it."""
        if from_owner:
            joiner.to_joiner += 1
        else:
            joiner.from_joiner += 1

    def next_pending_deadline(self) -> int | None:
        """When the first pending period ends."""
        first = next(iter(self._pending.values()), None)
        return None if first is None else first.deadline_ms

    def pop_expired_pending(self, now_ms: int) -> PendingJoiner | None:
        """End and return one pending period whose deadline has passed, if any."""
        first = next(iter(self._pending.values()), None)
        if first is None or first.deadline_ms > now_ms:
            return None
        return self.remove_pending(first.address)


def _count(counts: dict[str, int], key: str, delta: int) -> None:
    """Add *delta* to ``counts[key]``, dropping keys that reach zero."""
    value = counts.get(key, 0) + delta
    if value > 0:
        counts[key] = value
    else:
        counts.pop(key, None)
