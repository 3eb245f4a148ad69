"""Test support: seeded randomness and a tiny in-memory relay that pumps Session objects.

The pump routes every payload the sessions emit the way docs/protocol.md §4.3 says (membership,
Joined/PeerJoined/PeerLeft, unicast and broadcast, Acks for messages, nameplates, the lobby of
pending joiners and LobbyMessages between them and the nameplate's owner, join keys and the
proofs of Joins by id), and encodes and decodes every frame with the real protocol codec,
keeping the frame bytes for inspection. Acting as each client's I/O layer, it has the session
sign its Joins (:meth:`Session.sign_join`) with a per-client Challenge nonce.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from quicko.crypto import verify as ed25519_verify
from quicko.errors import AuthenticationError
from quicko.identity import Identity, InviteCode
from quicko.messaging.status import DeliveryStatus
from quicko.protocol import (
    Ack,
    AckStatus,
    Error,
    ErrorCode,
    Join,
    Joined,
    KeyExchange,
    Leave,
    LeaveReason,
    Lobby,
    LobbyMessage,
    Member,
    Message,
    MessageType,
    Payload,
    PeerJoined,
    PeerLeft,
    ReleaseNameplate,
    decode_frame,
    encode_frame,
)
from quicko.protocol.auth import join_transcript
from quicko.session import MessageReceived, Session, SessionEvent, StatusChanged
from quicko.session.bundle import HandshakeKeys, call_context, make_bundle

NOW = 1_700_000_000_000

T = TypeVar("T")


def of_type(events: list[SessionEvent], kind: type[T]) -> list[T]:
    """The events of one type, in order."""
    return [event for event in events if isinstance(event, kind)]


def texts(events: list[SessionEvent]) -> list[str]:
    """The texts of the MessageReceived events, in order."""
    return [event.text for event in of_type(events, MessageReceived)]


def statuses(events: list[SessionEvent], message_id: bytes) -> list[DeliveryStatus]:
    """The statuses one message went through, in order."""
    return [e.status for e in of_type(events, StatusChanged) if e.message_id == message_id]


def messages(payloads: list[Payload]) -> list[Message]:
    """The Message frames among payloads."""
    return [p for p in payloads if isinstance(p, Message)]


class SeededRng:
    """A deterministic RandomSource: SHA-256 blocks of (seed, counter)."""

    def __init__(self, seed: bytes) -> None:
        self._seed = seed
        self._counter = 0

    def __call__(self, n: int) -> bytes:
        out = b""
        while len(out) < n:
            self._counter += 1
            out += hashlib.sha256(self._seed + self._counter.to_bytes(8, "big")).digest()
        return out[:n]


def identity(name: str) -> Identity:
    # from_root, not generate: the same 16 bytes as before the seed checksum (protocol.md
    # §6.2), so the pinned identities (and the order of their addresses) do not move.
    return Identity.from_root(SeededRng(b"identity/" + name.encode())(16))


#: A hook that sees (recipient, payload) before delivery and returns what to deliver instead
#: (a list: empty to drop, several to duplicate).
Tamper = Callable[[bytes, Payload], list[Payload]]


NODE_ID = "pump"


@dataclass
class _RelaySession:
    members: list[bytes] = field(default_factory=list)
    nameplate: str = ""
    owner: bytes = b""
    join_key: bytes = b""


class Pump:
    """A content-blind relay between Session objects, one per address."""

    def __init__(self) -> None:
        self.clients: dict[bytes, Session] = {}
        self.online: set[bytes] = set()
        self.sessions: dict[bytes, _RelaySession] = {}
        self.nameplates: dict[str, bytes] = {}
        self.inbox: dict[bytes, list[Payload]] = {}
        self.frames: list[bytes] = []
        self.events: dict[bytes, list[SessionEvent]] = {}
        self.tamper: Tamper | None = None
        #: Pending joiners: address -> the nameplate whose lobby it waits in.
        self.pending: dict[bytes, str] = {}
        #: Every Join by id refused for its proof.
        self.refused_proofs = 0
        self.now = NOW
        #: A seed that interleaves the senders' frames at the relay (``None``: in turn).
        self.order: bytes | None = None
        self._draws = 0

    def add(self, session: Session) -> Session:
        self.clients[session.address] = session
        self.online.add(session.address)
        self.inbox.setdefault(session.address, [])
        self.events.setdefault(session.address, [])
        return session

    # ---------------------------------------------------------------- relay side

    def _deliver(self, recipient: bytes, payload: Payload) -> None:
        data = encode_frame(payload)
        self.frames.append(data)
        self.inbox[recipient].append(decode_frame(data))

    def _session_of(self, session_id: bytes) -> _RelaySession | None:
        return self.sessions.get(session_id)

    def nonce(self, address: bytes) -> bytes:
        """The Challenge nonce of ``address``'s current connection."""
        return hashlib.sha256(b"nonce" + address).digest()[:16]

    def route(self, sender: bytes, payload: Payload) -> None:
        if isinstance(payload, Join) and sender in self.clients:
            payload = self.clients[sender].sign_join(
                payload, nonce=self.nonce(sender), node_id=NODE_ID
            )
        data = encode_frame(payload)
        self.frames.append(data)
        payload = decode_frame(data)
        match payload:
            case Join():
                self._join(sender, payload)
            case Leave():
                self._leave(sender, payload.session_id, LeaveReason.LEFT)
            case ReleaseNameplate():
                room = self._session_of(payload.session_id)
                if room is not None and room.owner == sender and room.nameplate:
                    self.nameplates.pop(room.nameplate, None)
                    room.nameplate = ""
            case KeyExchange() | Message():
                self._forward(sender, payload)
            case LobbyMessage():
                self._lobby_message(sender, payload)
            case _:
                raise AssertionError(f"unexpected payload {type(payload).__name__}")

    def _error(self, to: bytes, code: ErrorCode, ref: MessageType, ref_id: bytes = b"") -> None:
        self._deliver(to, Error(int(code), "refused", int(ref), ref_id))

    def _join(self, sender: bytes, join: Join) -> None:
        self.pending.pop(sender, None)
        if not join.session_id:
            if join.nameplate not in self.nameplates:
                self._error(sender, ErrorCode.UNKNOWN_INVITE, MessageType.JOIN)
                return
            self.pending[sender] = join.nameplate
            self._deliver(sender, Lobby(join.nameplate))
            return
        session_id = join.session_id
        room = self.sessions.get(session_id)
        if not self._proof_ok(sender, join, room):
            self.refused_proofs += 1
            self._error(sender, ErrorCode.PROOF_INVALID, MessageType.JOIN, session_id)
            return
        room = self.sessions.setdefault(session_id, _RelaySession(join_key=join.join_key))
        if join.nameplate and not room.nameplate:
            if self.nameplates.get(join.nameplate, session_id) != session_id:
                self._error(sender, ErrorCode.NAMEPLATE_TAKEN, MessageType.JOIN)
                return
            self.nameplates[join.nameplate] = session_id
            room.nameplate, room.owner = join.nameplate, sender
        others = [m for m in room.members if m != sender]
        if sender not in room.members:
            room.members.append(sender)
        members = tuple(Member(m, self.clients[m].address.hex()[:8], m in self.online)
                        for m in others)  # fmt: skip
        self._deliver(sender, Joined(session_id, room.nameplate, members))
        for other in others:
            if other in self.online:
                self._deliver(other, PeerJoined(session_id, sender, "claimed name"))

    def _proof_ok(self, sender: bytes, join: Join, room: _RelaySession | None) -> bool:
        if room is not None and join.join_key != room.join_key:
            return False
        transcript = join_transcript(nonce=self.nonce(sender), node_id=NODE_ID,
                                     session_id=join.session_id, address=sender)  # fmt: skip
        try:
            ed25519_verify(join.join_key, join.proof, transcript)
        except AuthenticationError:
            return False
        return True

    def _lobby_message(self, sender: bytes, frame: LobbyMessage) -> None:
        ref = MessageType.LOBBY_MESSAGE
        session_id = self.nameplates.get(frame.nameplate)
        room = None if session_id is None else self.sessions.get(session_id)
        if room is None:
            self._error(sender, ErrorCode.NOT_PENDING, ref)
            return
        if not frame.peer:  # from a pending joiner, to the owner
            if self.pending.get(sender) != frame.nameplate:
                self._error(sender, ErrorCode.NOT_PENDING, ref)
            elif room.owner not in self.online:
                self._error(sender, ErrorCode.RECIPIENT_UNKNOWN, ref)
            else:
                forwarded = LobbyMessage(frame.nameplate, sender, frame.body)
                self._deliver(room.owner, forwarded)
            return
        if sender != room.owner or self.pending.get(frame.peer) != frame.nameplate:
            self._error(sender, ErrorCode.NOT_PENDING, ref)
            return
        self._deliver(frame.peer, LobbyMessage(frame.nameplate, b"", frame.body))

    def _leave(self, sender: bytes, session_id: bytes, reason: LeaveReason) -> None:
        room = self._session_of(session_id)
        if room is None or sender not in room.members:
            return
        room.members.remove(sender)
        for other in room.members:
            if other in self.online:
                self._deliver(other, PeerLeft(session_id, sender, int(reason)))
        if not room.members:
            self.nameplates.pop(room.nameplate, None)
            del self.sessions[session_id]

    def _forward(self, sender: bytes, frame: KeyExchange | Message) -> None:
        assert frame.sender == sender, "sender check"
        room = self._session_of(frame.session_id)
        ref = MessageType.MESSAGE if isinstance(frame, Message) else MessageType.KEY_EXCHANGE
        ref_id = frame.message_id if isinstance(frame, Message) else frame.session_id
        if room is None or sender not in room.members:
            self._error(sender, ErrorCode.NOT_A_MEMBER, ref, ref_id)
            return
        if frame.recipient and frame.recipient not in room.members:
            self._error(sender, ErrorCode.RECIPIENT_UNKNOWN, ref, ref_id)
            return
        targets = [frame.recipient] if frame.recipient else [m for m in room.members if m != sender]
        for target in targets:
            self._deliver(target, frame)
        if isinstance(frame, Message):
            status = AckStatus.ACCEPTED if targets[0] in self.online else AckStatus.BUFFERED
            ack = Ack(frame.session_id, sender, frame.recipient, frame.message_id, int(status))
            self._deliver(sender, ack)

    # ---------------------------------------------------------------- client side

    def disconnect(self, address: bytes) -> None:
        self.online.discard(address)
        self.pending.pop(address, None)
        self.inbox[address].clear()
        for session_id, room in self.sessions.items():
            if address in room.members:
                for other in room.members:
                    if other != address and other in self.online:
                        self._deliver(
                            other, PeerLeft(session_id, address, int(LeaveReason.DISCONNECTED))
                        )

    def expire(self, address: bytes) -> None:
        """An away member stayed away past the buffer TTL: removed, its held frames dropped.

        The other online members get PeerLeft(EXPIRED), and the senders of the held Messages
        get Ack EXPIRED (docs/protocol.md §4.3-§4.4).
        """
        assert address not in self.online, "only an away member expires"
        for session_id, room in self.sessions.items():
            if address in room.members:
                room.members.remove(address)
                for other in room.members:
                    if other in self.online:
                        notice = PeerLeft(session_id, address, int(LeaveReason.EXPIRED))
                        self._deliver(other, notice)
        held, self.inbox[address] = self.inbox[address], []
        for frame in held:
            if isinstance(frame, Message) and frame.sender in self.online:
                expired = Ack(frame.session_id, frame.sender, frame.recipient,
                              frame.message_id, int(AckStatus.EXPIRED))  # fmt: skip
                self._deliver(frame.sender, expired)

    def reconnect(self, address: bytes) -> None:
        self.online.add(address)
        self.clients[address].rejoin(self.now)

    def step(self) -> bool:
        """Route everything the sessions want to send, then deliver every inbox once."""
        moved = False
        outgoing = {address: session.data_to_send() for address, session in self.clients.items()}
        for address, payload in self._interleave(outgoing):
            moved = True
            if address in self.online:
                self.route(address, payload)
        for address in list(self.inbox):
            if address not in self.online:
                continue
            pending, self.inbox[address] = self.inbox[address], []
            for payload in pending:
                moved = True
                delivered = [payload] if self.tamper is None else self.tamper(address, payload)
                for item in delivered:
                    self.clients[address].receive(item, self.now)
        for address, session in self.clients.items():
            self.events[address].extend(session.events())
        return moved

    def _interleave(self, outgoing: dict[bytes, list[Payload]]) -> list[tuple[bytes, Payload]]:
        """Each sender's frames in order; senders interleaved as ``order`` (a seed) says."""
        queues = {address: list(frames) for address, frames in outgoing.items() if frames}
        merged: list[tuple[bytes, Payload]] = []
        while queues:
            senders = sorted(queues)
            if self.order is not None:
                self._draws += 1
                digest = hashlib.sha256(self.order + self._draws.to_bytes(8, "big")).digest()
                sender = senders[digest[0] % len(senders)]
            else:
                sender = senders[0]
            merged.append((sender, queues[sender].pop(0)))
            if not queues[sender]:
                del queues[sender]
        return merged

    def run(self, limit: int = 100) -> None:
        for _ in range(limit):
            if not self.step():
                return
        raise AssertionError("the pump did not settle")

    def advance(self, ms: int) -> None:
        """Let ``ms`` pass: every session handles its timeouts, then the pump settles."""
        self.now += ms
        for session in self.clients.values():
            session.handle_timeout(self.now)
        self.run()

    def take(self, address: bytes) -> list[SessionEvent]:
        out, self.events[address] = self.events[address], []
        return out


def two_party(
    code: InviteCode | None = None, joiner_code: InviteCode | None = None
) -> tuple[Pump, Session, Session]:
    """Alice creates, Bob joins (with ``joiner_code`` if given); pumped until quiet."""
    pump = Pump()
    code = code or InviteCode("KBQW", "E3TV")
    alice = pump.add(Session.create(identity("alice"), SeededRng(b"a"), NOW, code))
    pump.run()
    bob = pump.add(Session.join(identity("bob"), joiner_code or code, SeededRng(b"b"), NOW))
    pump.run()
    return pump, alice, bob


class Delay:
    """A tamper hook that holds back one sender's frames of one kind to one recipient."""

    def __init__(self, recipient: bytes, sender: bytes, kind: type[Message] | type[KeyExchange]):
        self.recipient, self.sender, self.kind = recipient, sender, kind
        self.stash: list[Payload] = []
        self.active = True

    def __call__(self, to: bytes, payload: Payload) -> list[Payload]:
        mine = isinstance(payload, self.kind) and payload.sender == self.sender
        if self.active and to == self.recipient and mine:
            self.stash.append(payload)
            return []
        return [payload]

    def release(self, pump: Pump) -> None:
        self.active = False
        pump.inbox[self.recipient].extend(self.stash)
        self.stash = []


def call_pair() -> tuple[Session, Session]:
    """Two call sessions set up directly (no relay), ratchet initiator first.

    The initiator's SYNC waits for a Joined that shows the responder; the callee's message TTL
    is 10 ms.
    """
    first, second = identity("caller"), identity("callee")
    rng_a, rng_b = SeededRng(b"ca"), SeededRng(b"cb")
    call_id = b"c" * 16
    to_a = call_context(call_id, first.address, second.address, recipient=first.address)
    to_b = call_context(call_id, first.address, second.address, recipient=second.address)
    eph_a, eph_b = HandshakeKeys.generate(rng_a), HandshakeKeys.generate(rng_b)
    bundle_a = make_bundle(first, eph_a, to_b)
    bundle_b = make_bundle(second, eph_b, to_a)
    sid, seed = b"s" * 16, b"j" * 32
    a = Session.from_call(first, rng_a, NOW, session_id=sid, join_seed=seed, own_ephemeral=eph_a,
                          peer_bundle=bundle_b, context=to_a)  # fmt: skip
    b = Session.from_call(second, rng_b, NOW, session_id=sid, join_seed=seed,
                          own_ephemeral=eph_b, peer_bundle=bundle_a, context=to_b,
                          message_ttl_ms=10)  # fmt: skip
    return (a, b) if a.address < b.address else (b, a)
