"""Session handlers: JOIN, LEAVE, RELEASE_NAMEPLATE, away members expiring (protocol.md §4.3)."""

from __future__ import annotations

from quicko.identity.invite import is_valid_nameplate
from quicko.protocol import (
    Join,
    Joined,
    Leave,
    LeaveReason,
    Member,
    MessageType,
    PeerJoined,
    PeerLeft,
    ReleaseNameplate,
    encode_frame,
)
from quicko.protocol.types import ErrorCode
from quicko.relay.actions import Action
from quicko.relay.connections import Connection
from quicko.relay.core import RouterCore
from quicko.relay.sessions import Session

__all__ = ["MembershipHandlers"]

_JOIN = int(MessageType.JOIN)


class MembershipHandlers(RouterCore):
    """JOIN, LEAVE and RELEASE_NAMEPLATE, and the PeerJoined/PeerLeft notices they cause."""

    def _join(self, c: Connection, address: bytes, join: Join) -> list[Action]:
        """Join a session by nameplate, or join (creating if needed) by id (§6)."""
        session_id, nameplate = join.session_id, join.nameplate
        if nameplate and not is_valid_nameplate(nameplate):
            return self._reject(
                c, ErrorCode.MALFORMED, "a nameplate is 4 Crockford base-32 characters", _JOIN
            )
        if not session_id:
            if not nameplate:
                return self._reject(
                    c, ErrorCode.MALFORMED, "a join needs a session id or a nameplate", _JOIN
                )
            session = self._sessions.by_nameplate(nameplate)
            if session is None:
                return self._reject(c, ErrorCode.UNKNOWN_INVITE, "no session has this code", _JOIN)
            return self._join_checked(c, address, session, session.session_id, "")
        session = self._sessions.get(session_id)
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
        return self._join_checked(c, address, session, session_id, nameplate)

    def _join_checked(
        self,
        c: Connection,
        address: bytes,
        session: Session | None,
        session_id: bytes,
        claim: str,
    ) -> list[Action]:
        """Check the limits, then create, claim and add as needed (nothing changes on error)."""
        config, sessions = self._config, self._sessions
        problem = ""
        code = ErrorCode.LIMIT_REACHED
        is_member = session is not None and address in session.members
        if session is None and len(sessions) >= config.max_sessions:
            problem = "too many sessions on this relay"
        elif claim and sessions.nameplate_count >= config.max_nameplates:
            problem = "too many invite codes on this relay"
        elif not is_member and session is not None and len(session.members) >= config.max_members:
            code, problem = ErrorCode.SESSION_FULL, "the session is full"
        elif not is_member and sessions.session_count_of(address) >= (
            config.max_sessions_per_address
        ):
            problem = "too many sessions for this address"
        if problem:
            return self._reject(c, code, problem, _JOIN, session_id)
        if session is None:
            session = sessions.create(session_id)
        if claim:
            sessions.claim(session, claim, address)
        sessions.add_member(session, address, c.display_name)
        return self._joined(c, address, session, announce=not is_member)

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
