"""The handshake handlers of a session: PAKE, key confirmation, vouching, MEMBER_INIT.

These are the KeyExchange bodies of docs/protocol.md §9 (:mod:`quicko.session.pake`) as seen by
a :class:`~quicko.session.Session`: the creator answers PAKE_START with a fresh SPAKE2, counts
CONFIRM_J messages whose MAC fails and retires the code after ``MAX_PAKE_FAILURES``; the joiner
checks CONFIRM_C and the vouched members in it; two vouched members set up their pairwise
channel with MEMBER_INIT bundles.
"""

from __future__ import annotations

from typing import assert_never

from quicko.errors import QuickoError
from quicko.protocol import (
    MAX_MEMBERS,
    KeyExchange,
)
from quicko.session import envelope as env
from quicko.session import events as ev
from quicko.session.bundle import IdentityBundle, invite_context, verify_bundle
from quicko.session.core import (
    MAX_PENDING_ATTEMPTS,
    MESSAGE_ID_SIZE,
    Attempt,
    Role,
    SessionCore,
    State,
)
from quicko.session.pake import (
    MAX_PAKE_FAILURES,
    ConfirmC,
    ConfirmJ,
    CreatorPake,
    MemberInit,
    PakeFail,
    PakeReply,
    PakeStart,
    decode_handshake,
)

__all__ = ["HandshakeMixin"]


class HandshakeMixin(SessionCore):
    """The KeyExchange handlers (mixed into :class:`~quicko.session.Session`)."""

    # ------------------------------------------------------------------ handshake frames

    def _on_key_exchange(self, frame: KeyExchange, now_ms: int) -> bool:
        if frame.sender == self._me or frame.recipient not in (b"", self._me):
            return False
        message = decode_handshake(frame.body)
        sender = frame.sender
        match message:
            case PakeStart():
                return self._on_pake_start(sender, message, now_ms)
            case PakeReply():
                return self._on_pake_reply(sender, message)
            case ConfirmJ():
                return self._on_confirm_j(sender, message, now_ms)
            case ConfirmC():
                return self._on_confirm_c(sender, message, now_ms)
            case PakeFail():
                return self._on_pake_fail(sender, message)
            case MemberInit():
                return self._on_member_init(sender, message, now_ms)
            case _:
                assert_never(message)

    def _on_pake_start(self, sender: bytes, start: PakeStart, now_ms: int) -> bool:
        if self._role != Role.CREATOR:
            return True  # a broadcast every member gets; only the creator answers it
        if self._retired or sender in self._peers:
            return False
        assert self._invite is not None
        attempt = CreatorPake(self._invite.password, self._session_id, sender, start, self._rng)
        self._attempts.pop(sender, None)
        while len(self._attempts) >= MAX_PENDING_ATTEMPTS:
            del self._attempts[next(iter(self._attempts))]
        self._attempts[sender] = Attempt(attempt, now_ms)
        self._send_handshake(sender, attempt.reply)
        return True

    def _on_pake_reply(self, sender: bytes, reply: PakeReply) -> bool:
        pake = self._joiner_pake
        if self._state != State.AUTHENTICATING or pake is None or self._creator is not None:
            return False
        ephemeral, bundle = self._fresh_bundle()
        confirm = pake.receive_reply(reply, bundle)
        self._creator = sender
        self._joiner_ephemeral = ephemeral
        self._send_handshake(sender, confirm)
        return True

    def _on_confirm_j(self, sender: bytes, confirm: ConfirmJ, now_ms: int) -> bool:
        attempt = self._attempts.pop(sender, None)
        if attempt is None or self._retired:
            return False
        try:
            attempt.pake.check_confirm(confirm)
        except QuickoError:
            self._failures += 1
            left = max(MAX_PAKE_FAILURES - self._failures, 0)
            self._send_handshake(sender, PakeFail(left))
            if left == 0:
                self._retire()
            return True
        try:
            bundle = attempt.pake.open_bundle(confirm, self._session_id)
        except QuickoError:
            self._events.append(ev.PeerRefused(sender, "its identity bundle did not verify"))
            return True
        vouched = tuple(peer.bundle for peer in self._peers.values())
        ephemeral, own = self._fresh_bundle()
        peer = self._add_peer(bundle)
        self._send_handshake(sender, attempt.pake.confirm(own, vouched))
        self._establish(peer, ephemeral, bundle, now_ms)
        for other in self._peers.values():
            if other is not peer:
                vouch_id = self._rng(MESSAGE_ID_SIZE)
                self._send_envelope(other, env.MemberAdd(bundle.encode()), vouch_id, now_ms,
                                    vouch=True)  # fmt: skip
        return True

    def _on_confirm_c(self, sender: bytes, confirm: ConfirmC, now_ms: int) -> bool:
        pake, ephemeral = self._joiner_pake, self._joiner_ephemeral
        if sender != self._creator or pake is None or ephemeral is None:
            return False
        try:
            creator, vouched = pake.receive_confirm(confirm, sender)
        except QuickoError:
            self._fail("the session's creator could not be authenticated")
            return True
        self._joiner_pake = self._joiner_ephemeral = None
        self._move(State.ACTIVE)
        peer = self._add_peer(creator)
        self._establish(peer, ephemeral, creator, now_ms)
        for bundle in vouched:
            if bundle.address not in (self._me, sender):
                self._vouch(bundle, now_ms)
        return True

    def _on_pake_fail(self, sender: bytes, fail: PakeFail) -> bool:
        if self._state != State.AUTHENTICATING or sender != self._creator:
            return False
        self._give_up(ev.WrongInviteCode(fail.attempts_left))
        return True

    def _on_member_init(self, sender: bytes, init: MemberInit, now_ms: int) -> bool:
        bundle = IdentityBundle.decode(init.bundle)
        known = self._peers.get(sender)
        if known is not None and not bundle.same_identity(known.identity):
            self._events.append(ev.KeyChanged(sender))
            return True
        try:
            verify_bundle(bundle, invite_context(self._session_id), expected_address=sender)
        except QuickoError:
            self._events.append(ev.PeerRefused(sender, "its identity bundle did not verify"))
            return True
        if known is None:
            self._pending_inits.pop(sender, None)
            if len(self._pending_inits) < MAX_MEMBERS:
                self._pending_inits[sender] = bundle
            return True
        # A duplicate (the channel exists), or a peer not set up by MEMBER_INIT (the creator,
        # a joiner's creator, a call peer: they have a channel from the start).
        if known.channel is not None or known.own_ephemeral is None:
            return False
        self._establish(known, known.own_ephemeral, bundle, now_ms)
        return True
