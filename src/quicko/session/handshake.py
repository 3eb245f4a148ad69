"""The handshake handlers of a session: the lobby PAKE, admission, vouching, MEMBER_INIT.

These are the bodies of docs/protocol.md §8 (:mod:`quicko.session.pake`) as seen by a
:class:`~quicko.session.Session`:

- **Joiner.** In the relay's lobby (after ``Lobby``) it sends PAKE_START to the nameplate's
  owner, answers PAKE_REPLY with CONFIRM_J, and on a verified CONFIRM_C learns the session id
  and join seed, authenticates the creator and the vouched members, and joins by id. The relay
  lets nobody but the owner reach a pending joiner, so a PAKE_FAIL is the owner's.
- **Owner (creator).** Answers each PAKE_START with a fresh CPace attempt within the budget of
  :class:`~quicko.session.pake.InviteBudget` (at most 4 in flight; a failed joiner refused; a
  back-off after 3 failures; the code retired after 32), counts a CONFIRM_J whose MAC fails, and
  admits a joiner whose MAC and bundle verify.
- **Members.** Two vouched members set up their channel with MEMBER_INIT bundles signed for
  the session *and the recipient*, so a relay cannot replay one member's MEMBER_INIT to another.
"""

from __future__ import annotations

from typing import assert_never

from quicko.errors import QuickoError
from quicko.protocol import MAX_MEMBERS, KeyExchange, Lobby, LobbyMessage
from quicko.protocol.constants import SESSION_ID_SIZE
from quicko.session import envelope as env
from quicko.session import events as ev
from quicko.session.bundle import (
    IdentityBundle,
    member_init_context,
    pake_creator_context,
    pake_joiner_context,
    verify_bundle,
)
from quicko.session.core import MESSAGE_ID_SIZE, Attempt, Role, SessionCore, State
from quicko.session.pake import (
    ATTEMPT_TIMEOUT_MS,
    MAX_ATTEMPTS_IN_FLIGHT,
    ConfirmC,
    ConfirmJ,
    CreatorPake,
    JoinerPake,
    PakeFail,
    PakeReply,
    PakeStart,
    decode_lobby_body,
    decode_member_init,
)

__all__ = ["HandshakeMixin"]


class HandshakeMixin(SessionCore):
    """The lobby and KeyExchange handlers (mixed into :class:`~quicko.session.Session`)."""

    # ------------------------------------------------------------------ lobby frames

    def _on_lobby(self, lobby: Lobby, now_ms: int) -> bool:
        """The relay put us in the nameplate's lobby: start a PAKE attempt."""
        invite = self._invite
        if (
            self._role != Role.JOINER
            or self._state != State.CONNECTING
            or self._session_id
            or invite is None
            or lobby.nameplate != invite.nameplate
        ):
            return False
        self._joiner_pake = JoinerPake(invite.password, invite.nameplate, self._me, self._rng)
        self._joiner_ephemeral = None
        self._move(State.AUTHENTICATING)
        self._send_lobby(b"", self._joiner_pake.start_message)
        return True

    def _on_lobby_message(self, frame: LobbyMessage, now_ms: int) -> bool:
        if self._invite is None or frame.nameplate != self._invite.nameplate:
            return False
        message = decode_lobby_body(frame.body)
        if frame.peer:  # to the owner, from the pending joiner the relay names
            match message:
                case PakeStart():
                    return self._on_pake_start(frame.peer, message, now_ms)
                case ConfirmJ():
                    return self._on_confirm_j(frame.peer, message, now_ms)
                case _:
                    return False
        match message:  # to a pending joiner: only the owner can reach it (relay rule)
            case PakeReply():
                return self._on_pake_reply(message)
            case ConfirmC():
                return self._on_confirm_c(message, now_ms)
            case PakeFail():
                return self._on_pake_fail(message, now_ms)
            case PakeStart() | ConfirmJ():
                return False
            case _:
                assert_never(message)

    # ------------------------------------------------------------------ joiner

    def _on_pake_reply(self, reply: PakeReply) -> bool:
        pake = self._joiner_pake
        if self._state != State.AUTHENTICATING or pake is None or pake.replied:
            return False
        keys, bundle = self._fresh_bundle(pake_joiner_context(pake.sid))
        confirm = pake.receive_reply(reply, bundle)
        self._joiner_ephemeral = keys
        self._send_lobby(b"", confirm)
        return True

    def _on_confirm_c(self, confirm: ConfirmC, now_ms: int) -> bool:
        pake, keys = self._joiner_pake, self._joiner_ephemeral
        if self._state != State.AUTHENTICATING or pake is None or keys is None:
            return False
        try:
            admission = pake.receive_confirm(confirm)
        except QuickoError:
            self._fail("the session's creator could not be authenticated")
            return True
        creator = admission.creator
        if creator.address == self._me:
            self._fail("the session's creator could not be authenticated")
            return True
        self._joiner_pake = self._joiner_ephemeral = None
        self._session_id = admission.session_id
        self._use_join_seed(admission.join_seed)
        self._creator = creator.address
        self._move(State.CONNECTING)
        peer = self._add_peer(creator.public_identity, creator.display_name)
        self._establish(peer, keys, creator, now_ms)
        for identity in admission.vouched:
            if identity.address != creator.address:
                self._vouch(identity, now_ms)
        self._out.append(self._join_frame())
        return True

    def _on_pake_fail(self, fail: PakeFail, now_ms: int) -> bool:
        pake = self._joiner_pake
        if self._state != State.AUTHENTICATING or pake is None:
            return False
        if pake.replied:
            # Our CONFIRM_J did not verify at the owner: the password was wrong.
            self._give_up(ev.WrongInviteCode(fail.retry_after_ms))
        elif fail.retry_after_ms == 0:
            self._fail("the session's creator refused the join")
        elif self._deadline is not None and now_ms + fail.retry_after_ms >= self._deadline:
            self._fail("the session's creator is busy; try again later")
        else:
            # Busy or backing off: a new lobby period and a fresh attempt at the time it gave.
            self._joiner_pake = None
            self._retry_at = now_ms + fail.retry_after_ms
        return True

    # ------------------------------------------------------------------ owner

    def _on_pake_start(self, joiner: bytes, start: PakeStart, now_ms: int) -> bool:
        invite = self._invite
        if self._role != Role.CREATOR or self._retired or invite is None or joiner == self._me:
            return False
        budget = self._budget
        if start.sid in budget.sids:
            return False  # a replayed PAKE_START: every attempt has a fresh sid
        retry = budget.retry_after(joiner, now_ms)
        if retry is None and joiner not in self._attempts:
            retry = self._busy_until(now_ms)
        if retry is not None:
            self._send_lobby(joiner, PakeFail(retry))
            return True
        budget.sids.add(start.sid)
        attempt = CreatorPake(invite.password, invite.nameplate, joiner, start, self._rng)
        self._attempts[joiner] = Attempt(attempt, now_ms)  # replaces its own earlier attempt
        self._events.append(ev.JoinerPending(joiner))
        self._send_lobby(joiner, attempt.reply)
        return True

    def _busy_until(self, now_ms: int) -> int | None:
        """``None`` if another attempt may start now, else the ms until one slot frees."""
        if len(self._attempts) < MAX_ATTEMPTS_IN_FLIGHT:
            return None
        oldest = min(attempt.started_ms for attempt in self._attempts.values())
        return max(oldest + ATTEMPT_TIMEOUT_MS - now_ms, 1)

    def _on_confirm_j(self, joiner: bytes, confirm: ConfirmJ, now_ms: int) -> bool:
        attempt = self._attempts.pop(joiner, None)
        if attempt is None or self._retired:
            return False
        try:
            attempt.pake.check_confirm(confirm)
        except QuickoError:
            self._budget.fail(joiner, now_ms)
            self._events.append(ev.JoinerFailed(joiner, self._budget.failures))
            self._send_lobby(joiner, PakeFail(0))
            if self._budget.exhausted:
                self._retire()
            return True
        try:
            bundle = attempt.pake.open_bundle(confirm)
        except QuickoError:
            self._events.append(ev.PeerRefused(joiner, "its identity bundle did not verify"))
            return True
        self._admit(attempt.pake, bundle, now_ms)
        return True

    def _admit(self, pake: CreatorPake, bundle: IdentityBundle, now_ms: int) -> None:
        """Admit a joiner whose CONFIRM_J verified: CONFIRM_C, our channel, the vouches."""
        joiner = bundle.address
        old = self._peers.pop(joiner, None)
        self._members = None
        if old is not None:
            # Admitted before, and its CONFIRM_C was lost: start its channel afresh.
            self._drop_peer(old)
        vouched = tuple(peer.identity for peer in self._peers.values())
        keys, own = self._fresh_bundle(pake_creator_context(pake.sid, joiner))
        peer = self._add_peer(bundle.public_identity, bundle.display_name)
        confirm = pake.confirm(own, session_id=self._session_id, join_seed=self._join_seed,
                               vouched=vouched)  # fmt: skip
        self._send_lobby(joiner, confirm)
        self._establish(peer, keys, bundle, now_ms)
        if old is not None:
            return  # the other members know it already
        identity = peer.identity
        vouch = env.MemberAdd(identity.address, identity.x25519_public, identity.ed25519_public)
        for other in self._peers.values():
            if other is not peer:
                vouch_id = self._rng(MESSAGE_ID_SIZE)
                self._send_envelope(other, vouch, vouch_id, now_ms, vouch=True)

    # ------------------------------------------------------------------ members

    def _on_key_exchange(self, frame: KeyExchange, now_ms: int) -> bool:
        """MEMBER_INIT from a vouched member: signed for this session and for us."""
        sender = frame.sender
        if (
            sender == self._me
            or frame.recipient != self._me
            or len(self._session_id) != (SESSION_ID_SIZE)
        ):
            return False
        bundle = decode_member_init(frame.body)
        try:
            # The sender is the expected address, and the address is the hash of the keys:
            # a verified bundle carries the sender's identity keys, never another's.
            verify_bundle(bundle, member_init_context(self._session_id, self._me),
                          expected_address=sender)  # fmt: skip
        except QuickoError:
            return False  # e.g. a MEMBER_INIT for another member, replayed to us
        known = self._peers.get(sender)
        if known is None:
            self._pending_inits.pop(sender, None)
            if len(self._pending_inits) < MAX_MEMBERS:
                self._pending_inits[sender] = bundle
            return True
        # A duplicate (the channel exists), or a peer not set up by MEMBER_INIT (the creator,
        # a joiner's creator, a call peer: they have a channel from the start).
        if known.channel is not None or known.own_ephemeral is None:
            return False
        known.display_name = bundle.display_name
        self._establish(known, known.own_ephemeral, bundle, now_ms)
        return True
