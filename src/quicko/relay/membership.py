"""Session handlers: JOIN, the lobby, LEAVE, RELEASE_NAMEPLATE, away members (protocol.md §4.3).

A Join by id needs a proof: an Ed25519 signature by the session's join key over this
connection's Challenge, the session id and the joiner's address (the key is fixed by the Join
that creates the session). A Join by nameplate only makes the address *pending* on that
nameplate: the reply is ``Lobby(nameplate)``, nobody is told, and the pending joiner can reach
the nameplate's owner, and be reached by it, through LobbyMessages only. The owner admits a
joiner by giving it the join key inside the PAKE-protected exchange; the relay never sees it.
"""

from __future__ import annotations

import hmac

from quicko.crypto import ed25519
from quicko.errors import AuthenticationError
from quicko.identity.invite import is_valid_nameplate
from quicko.protocol import (
    Join,
    Joined,
    Leave,
    LeaveReason,
    Lobby,
    LobbyMessage,
    Member,
    MessageType,
    PeerJoined,
    PeerLeft,
    ReleaseNameplate,
    encode_frame,
    join_transcript,
)
from quicko.protocol.types import ErrorCode
from quicko.relay.actions import Action
from quicko.relay.connections import Connection
from quicko.relay.core import RouterCore
from quicko.relay.sessions import Session

__all__ = ["MembershipHandlers"]

_JOIN = int(MessageType.JOIN)
_LOBBY = int(MessageType.LOBBY_MESSAGE)


class MembershipHandlers(RouterCore):
    """JOIN (by id, or into a lobby), LOBBY_MESSAGE, LEAVE, RELEASE_NAMEPLATE and notices."""

    def _join(self, c: Connection, address: bytes, join: Join, now_ms: int) -> list[Action]:
        """Wait in a nameplate's lobby, or join (creating if needed) by id with a proof (§6)."""
        if not join.session_id:
            return self._join_lobby(c, address, join, now_ms)
        session_id, nameplate = join.session_id, join.nameplate
        if nameplate and not is_valid_nameplate(nameplate):
            return self._reject(
                c, ErrorCode.MALFORMED, "a nameplate is 4 Crockford base-32 characters", _JOIN
            )
        session = self._sessions.get(session_id)
        if not self._proof_holds(c, address, join, session):
            return self._reject(
                c, ErrorCode.PROOF_INVALID, "no valid proof for this session", _JOIN, session_id
            )
        if nameplate:
            holder = self._sessions.by_nameplate(nameplate)
            if (holder is not None and holder is not session) or (
                session is not None and session.nameplate not in ("", nameplate)
            ):
                return self._reject(
                    c, ErrorCode.NAMEPLATE_TAKEN, "the nameplate is taken", _JOIN, session_id
                )
            if holder is not None:
                nameplate = ""  # already this session's: nothing to claim
        return self._join_checked(c, address, session, join, nameplate)

    def _proof_holds(
        self, c: Connection, address: bytes, join: Join, session: Session | None
    ) -> bool:
        """Whether *join* proves the session's join key on this connection (§6).

        A new session takes the join key the Join names (its proof shows possession); an
        existing one needs exactly its stored key, compared in constant time.
        """
        if len(join.join_key) != ed25519.PUBLIC_KEY_SIZE:
            return False
        if session is not None and not hmac.compare_digest(session.join_key, join.join_key):
            return False
        transcript = join_transcript(
            nonce=c.nonce, node_id=self._node_id, session_id=join.session_id, address=address
        )
        try:
            ed25519.verify(join.join_key, join.proof, transcript)
        except AuthenticationError:
            return False
        return True

    def _join_checked(
        self,
        c: Connection,
        address: bytes,
        session: Session | None,
        join: Join,
        claim: str,
    ) -> list[Action]:
        """Check the limits, then create, claim and add as needed (nothing changes on error)."""
        config, sessions = self._config, self._sessions
        session_id = join.session_id
        problem = ""
        code = ErrorCode.LIMIT_REACHED
        is_member = session is not None and address in session.members
        if session is None and len(sessions) >= config.max_sessions:
            problem = "too many sessions on this relay"
        elif session is None and sessions.sessions_created_from(c.source) >= (
            config.max_sessions_per_source
        ):
            problem = "too many sessions from your network"
        elif claim and sessions.nameplate_count >= config.max_nameplates:
            problem = "too many invite codes on this relay"
        elif claim and sessions.nameplates_claimed_from(c.source) >= (
            config.max_nameplates_per_source
        ):
            problem = "too many invite codes from your network"
        elif not is_member and session is not None and len(session.members) >= config.max_members:
            code, problem = ErrorCode.SESSION_FULL, "the session is full"
        elif not is_member and sessions.session_count_of(address) >= (
            config.max_sessions_per_address
        ):
            problem = "too many sessions for this address"
        if problem:
            return self._reject(c, code, problem, _JOIN, session_id)
        if session is None:
            session = sessions.create(session_id, join.join_key, c.source)
        if claim:
            sessions.claim(session, claim, address, c.source)
        sessions.add_member(session, address, c.display_name)
        sessions.remove_pending(address)
        return self._joined(c, address, session, announce=not is_member)

    def _join_lobby(self, c: Connection, address: bytes, join: Join, now_ms: int) -> list[Action]:
        """Become pending on a claimed nameplate; learn nothing else (§6).

        Every answer here is about the nameplate only: no Error carries a session id, and
        nobody hears of the joiner but the owner, through its LobbyMessages.
        """
        nameplate = join.nameplate
        if not is_valid_nameplate(nameplate) or join.join_key or join.proof:
            return self._reject(
                c,
                ErrorCode.MALFORMED,
                "a lobby join carries a nameplate of 4 Crockford base-32 characters only",
                _JOIN,
            )
        sessions = self._sessions
        sessions.remove_pending(address)  # a new nameplate Join ends any pending period
        misses = self._misses
        if not misses.allows(c.source, now_ms):
            return self._reject(c, ErrorCode.RATE_LIMITED, "too many unknown invite codes", _JOIN)
        session = sessions.by_nameplate(nameplate)
        if session is None:
            misses.charge(c.source, now_ms)
            return self._reject(c, ErrorCode.UNKNOWN_INVITE, "no session has this code", _JOIN)
        config = self._config
        if sessions.pending_count(nameplate) >= config.max_pending_per_nameplate or (
            sessions.pending_count_from(nameplate, c.source) >= config.max_pending_per_source
        ):
            return self._reject(
                c, ErrorCode.LIMIT_REACHED, "too many joiners are waiting on this code", _JOIN
            )
        sessions.add_pending(address, nameplate, c.source, now_ms + self._lobby_ttl_ms)
        out: list[Action] = []
        self._send_payload(out, c.conn, Lobby(nameplate))
        return out

    def _lobby_message(
        self, c: Connection, address: bytes, message: LobbyMessage, now_ms: int
    ) -> list[Action]:
        """Route a LobbyMessage between a pending joiner and the nameplate's owner only (§6).

        From a joiner (``peer`` empty) it goes to the owner with ``peer`` = the joiner; from
        the owner (``peer`` = a pending joiner) it goes to that joiner with ``peer`` empty.
        Errors never carry a session id (``ref_id`` is always empty).
        """
        sessions, nameplate, cap = self._sessions, message.nameplate, self._config.lobby_messages
        if not message.peer:
            joiner = sessions.pending(address)
            if joiner is None or joiner.nameplate != nameplate:
                return self._reject(
                    c, ErrorCode.NOT_PENDING, "you are not waiting on this code", _LOBBY
                )
            if joiner.from_joiner >= cap:
                return self._reject(c, ErrorCode.RATE_LIMITED, "too many lobby messages", _LOBBY)
            session = sessions.by_nameplate(nameplate)
            owner = None if session is None else self._conns.bound(session.owner)
            if owner is None:
                return self._reject(
                    c, ErrorCode.RECIPIENT_UNKNOWN, "the code's owner is not online", _LOBBY
                )
            sessions.count_lobby_message(joiner, from_owner=False)
            forward = LobbyMessage(nameplate, address, message.body)
            target = owner
        else:
            session = sessions.by_nameplate(nameplate)
            joiner = sessions.pending(message.peer)
            if (
                session is None
                or session.owner != address
                or joiner is None
                or joiner.nameplate != nameplate
            ):
                return self._reject(
                    c, ErrorCode.NOT_PENDING, "nobody is waiting on your code as this peer", _LOBBY
                )
            if joiner.to_joiner >= cap:
                return self._reject(c, ErrorCode.RATE_LIMITED, "too many lobby messages", _LOBBY)
            bound = self._conns.bound(message.peer)
            if bound is None:  # not reachable in one node: a disconnect ends the period
                sessions.remove_pending(message.peer)
                return self._reject(
                    c, ErrorCode.NOT_PENDING, "nobody is waiting on your code as this peer", _LOBBY
                )
            sessions.count_lobby_message(joiner, from_owner=True)
            forward = LobbyMessage(nameplate, b"", message.body)
            target = bound
        out: list[Action] = []
        self._route(out, target, encode_frame(forward), address, now_ms)
        return out

    def _joined(
        self, c: Connection, address: bytes, session: Session, *, announce: bool
    ) -> list[Action]:
        """Reply Joined with the other members, and announce a new member to them."""
        bound = self._conns.bound
        members = tuple(
            Member(member, name, bound(member) is not None)
            for member, name in session.members.items()
            if member != address
        )
        out: list[Action] = []
        reply = Joined(session.session_id, session.nameplate, members)
        self._send_payload(out, c.conn, reply)
        if announce:
            notice = PeerJoined(session.session_id, address, c.display_name)
            self._announce(out, session, address, encode_frame(notice))
        return out

    def _leave(self, c: Connection, address: bytes, leave: Leave) -> list[Action]:
        """Leave a session; the others hear PeerLeft(LEFT) (§7)."""
        session = self._sessions.get(leave.session_id)
        if session is None or address not in session.members:
            return self._reject(
                c,
                ErrorCode.NOT_A_MEMBER,
                "not a member of this session",
                MessageType.LEAVE,
                leave.session_id,
            )
        out: list[Action] = []
        self._sessions.remove_member(session, address)
        notice = PeerLeft(session.session_id, address, int(LeaveReason.LEFT))
        self._announce(out, session, address, encode_frame(notice))
        return out

    def _release(self, c: Connection, address: bytes, release: ReleaseNameplate) -> list[Action]:
        """Retire a session's nameplate; only its owner may (§11). No reply."""
        session = self._sessions.by_nameplate(release.nameplate)
        ref = int(MessageType.RELEASE_NAMEPLATE)
        if session is None or session.session_id != release.session_id:
            return self._reject(
                c, ErrorCode.UNKNOWN_INVITE, "no such code", ref, release.session_id
            )
        if session.owner != address:
            return self._reject(
                c,
                ErrorCode.NOT_OWNER,
                "only its owner may release a code",
                ref,
                release.session_id,
            )
        self._sessions.release(session)
        return []

    def _welcome_back(self, out: list[Action], c: Connection, address: bytes) -> None:
        """An away member proved its id again: it is online in its sessions once more."""
        if not self._sessions.mark_back(address):
            return
        for session in self._sessions.sessions_of(address):
            self._sessions.add_member(session, address, c.display_name)
            notice = PeerJoined(session.session_id, address, c.display_name)
            self._announce(out, session, address, encode_frame(notice))

    def _expire_member(self, out: list[Action], address: bytes) -> None:
        """An away member did not come back in time: remove it everywhere (§8)."""
        for session in self._sessions.sessions_of(address):
            self._sessions.remove_member(session, address)
            notice = PeerLeft(session.session_id, address, int(LeaveReason.EXPIRED))
            self._announce(out, session, address, encode_frame(notice))
