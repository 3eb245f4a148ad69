"""One frozen dataclass per frame type: the payload fields, in wire order.

Each class carries its frame type in ``TYPE`` and its wire schema in ``FIELDS`` (derived from the
dataclass fields' ``wire`` metadata by :func:`_payload`), so the order of the fields *is* the
order on the wire (docs/protocol.md §4). The codec in :mod:`quicko.protocol.codec` turns any of
them into a frame and back.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from quicko.protocol.constants import (
    ADDRESS_SIZE,
    CALL_ID_SIZE,
    MAX_BLOB_BYTES,
    MAX_DISPLAY_NAME_CHARS,
    MAX_MEMBERS,
    MAX_REASON_CHARS,
    MAX_RELAY_URL_CHARS,
    MESSAGE_ID_SIZE,
    NONCE_SIZE,
    SESSION_ID_SIZE,
)
from quicko.protocol.fields import Bin, Bool, FieldSpec, Int, ListOf, Str
from quicko.protocol.frozen import direct_init
from quicko.protocol.types import MessageType

__all__ = [
    "PAYLOAD_TYPES",
    "Ack",
    "CallPeer",
    "CallResponse",
    "Challenge",
    "Error",
    "Hello",
    "HelloAck",
    "Join",
    "Joined",
    "KeyExchange",
    "Leave",
    "Lobby",
    "LobbyMessage",
    "LookupKey",
    "LookupResponse",
    "Member",
    "Message",
    "Payload",
    "PeerJoined",
    "PeerLeft",
    "Ping",
    "Pong",
    "Received",
    "RegisterAck",
    "RegisterKey",
    "ReleaseNameplate",
    "UnregisterKey",
]

_T = TypeVar("_T")

ADDRESS = Bin(sizes=(ADDRESS_SIZE,))
ADDRESS_OR_EMPTY = Bin(sizes=(0, ADDRESS_SIZE))
SESSION_ID = Bin(sizes=(SESSION_ID_SIZE,))
SESSION_ID_OR_EMPTY = Bin(sizes=(0, SESSION_ID_SIZE))
MESSAGE_ID = Bin(sizes=(MESSAGE_ID_SIZE,))
CALL_ID = Bin(sizes=(CALL_ID_SIZE,))
X25519_KEY = Bin(sizes=(32,))
ED25519_KEY = Bin(sizes=(32,))
SIGNATURE = Bin(sizes=(64,))
BLOB = Bin(max_size=MAX_BLOB_BYTES)
DISPLAY_NAME = Str(MAX_DISPLAY_NAME_CHARS)
NAMEPLATE = Str(8)
NODE_ID = Str(64)
RELAY_URL = Str(MAX_RELAY_URL_CHARS)
TIME_MS = Int()
SMALL = Int(0, 255)


def wire(spec: FieldSpec, *, default: object = dataclasses.MISSING) -> Any:
    """Declare a dataclass field and how it travels on the wire (and, optionally, its default)."""
    return dataclasses.field(default=default, metadata={"wire": spec})


def _payload(message_type: MessageType) -> Callable[[type[_T]], type[_T]]:
    """Attach the frame type and the wire schema (from field metadata) to a payload class."""

    def attach(cls: type[_T]) -> type[_T]:
        schema = tuple((f.name, f.metadata["wire"]) for f in dataclasses.fields(cls))  # type: ignore[arg-type]  # cls is a dataclass
        cls.TYPE = message_type  # type: ignore[attr-defined]  # declared as ClassVar on each class
        cls.FIELDS = schema  # type: ignore[attr-defined]  # declared as ClassVar on each class
        return cls

    return attach


@_payload(MessageType.CHALLENGE)
@dataclass(frozen=True, slots=True)
class Challenge:
    """Relay → client, first frame on every connection (§4.1)."""

    TYPE: ClassVar[MessageType]
    FIELDS: ClassVar[tuple[tuple[str, FieldSpec], ...]]
    nonce: bytes = wire(Bin(sizes=(NONCE_SIZE,)))
    node_id: str = wire(NODE_ID)
    server_time: int = wire(TIME_MS)


@_payload(MessageType.HELLO)
@dataclass(frozen=True, slots=True)
class Hello:
    """Client → relay: proof of possession of the identity keys (§4.1)."""

    TYPE: ClassVar[MessageType]
    FIELDS: ClassVar[tuple[tuple[str, FieldSpec], ...]]
    address: bytes = wire(ADDRESS)
    display_name: str = wire(DISPLAY_NAME)
    x25519_public: bytes = wire(X25519_KEY)
    ed25519_public: bytes = wire(ED25519_KEY)
    relay_url: str = wire(RELAY_URL)
    signature: bytes = wire(SIGNATURE)


@_payload(MessageType.HELLO_ACK)
@dataclass(frozen=True, slots=True)
class HelloAck:
    """Relay → client: the address is now bound to this connection (§4.1)."""

    TYPE: ClassVar[MessageType]
    FIELDS: ClassVar[tuple[tuple[str, FieldSpec], ...]]
    address: bytes = wire(ADDRESS)
    node_id: str = wire(NODE_ID)
    server_time: int = wire(TIME_MS)
    buffered: int = wire(Int())


@_payload(MessageType.MESSAGE)
@direct_init  # built for every message sent and received (protocol/frozen.py)
@dataclass(frozen=True, slots=True)
class Message:
    """Both directions: an end-to-end encrypted message, opaque to the relay (§4.4)."""

    TYPE: ClassVar[MessageType]
    FIELDS: ClassVar[tuple[tuple[str, FieldSpec], ...]]
    session_id: bytes = wire(SESSION_ID)
    sender: bytes = wire(ADDRESS)
    recipient: bytes = wire(ADDRESS_OR_EMPTY)
    message_id: bytes = wire(MESSAGE_ID)
    timestamp: int = wire(TIME_MS)
    body: bytes = wire(BLOB)


@_payload(MessageType.ACK)
@direct_init
@dataclass(frozen=True, slots=True)
class Ack:
    """Both directions: what became of the message (session, sender, recipient, id) (§4.4)."""

    TYPE: ClassVar[MessageType]
    FIELDS: ClassVar[tuple[tuple[str, FieldSpec], ...]]
    session_id: bytes = wire(SESSION_ID)
    sender: bytes = wire(ADDRESS)
    recipient: bytes = wire(ADDRESS_OR_EMPTY)
    message_id: bytes = wire(MESSAGE_ID)
    status: int = wire(SMALL)


@_payload(MessageType.RECEIVED)
@dataclass(frozen=True, slots=True)
class Received:
    """Client → relay: the frames received on this connection since its HelloAck (§4.4).

    *count* is cumulative: every frame the relay sent after the HelloAck (that one excluded),
    whatever its type. The relay forgets the routed frames numbered up to *count*; those it
    sent later and not yet acknowledged are re-delivered on the address's next connection if
    this one dies or is replaced.
    """

    TYPE: ClassVar[MessageType]
    FIELDS: ClassVar[tuple[tuple[str, FieldSpec], ...]]
    count: int = wire(Int())


@_payload(MessageType.PING)
@dataclass(frozen=True, slots=True)
class Ping:
    """Client → relay: heartbeat; the relay echoes *nonce* in a Pong."""

    TYPE: ClassVar[MessageType]
    FIELDS: ClassVar[tuple[tuple[str, FieldSpec], ...]]
    nonce: int = wire(Int())


@_payload(MessageType.PONG)
@dataclass(frozen=True, slots=True)
class Pong:
    """Relay → client: answer to a Ping."""

    TYPE: ClassVar[MessageType]
    FIELDS: ClassVar[tuple[tuple[str, FieldSpec], ...]]
    nonce: int = wire(Int())
    server_time: int = wire(TIME_MS)


@_payload(MessageType.JOIN)
@dataclass(frozen=True, slots=True)
class Join:
    """Client → relay: wait in a nameplate's lobby, or join/create a session by id (§4.3).

    By nameplate, only ``nameplate`` is set. By id, ``join_key`` is the session's Ed25519 join key
    and ``proof`` its signature over the join transcript of this connection's Challenge.
    """

    TYPE: ClassVar[MessageType]
    FIELDS: ClassVar[tuple[tuple[str, FieldSpec], ...]]
    session_id: bytes = wire(SESSION_ID_OR_EMPTY)
    nameplate: str = wire(NAMEPLATE)
    join_key: bytes = wire(Bin(sizes=(0, 32)), default=b"")
    proof: bytes = wire(Bin(sizes=(0, 64)), default=b"")


@_payload(MessageType.LOBBY)
@dataclass(frozen=True, slots=True)
class Lobby:
    """Relay → client: the joiner now waits in the nameplate's lobby (§4.3)."""

    TYPE: ClassVar[MessageType]
    FIELDS: ClassVar[tuple[tuple[str, FieldSpec], ...]]
    nameplate: str = wire(NAMEPLATE)


@_payload(MessageType.LOBBY_MESSAGE)
@dataclass(frozen=True, slots=True)
class LobbyMessage:
    """Both directions: a PAKE message between a pending joiner and the nameplate's owner (§4.3).

    ``peer`` is empty from a joiner and to a joiner; from the owner it names the pending joiner,
    and to the owner the relay fills in the joiner's bound address.
    """

    TYPE: ClassVar[MessageType]
    FIELDS: ClassVar[tuple[tuple[str, FieldSpec], ...]]
    nameplate: str = wire(NAMEPLATE)
    peer: bytes = wire(ADDRESS_OR_EMPTY)
    body: bytes = wire(BLOB)


@_payload(MessageType.LEAVE)
@dataclass(frozen=True, slots=True)
class Leave:
    """Client → relay: leave a session."""

    TYPE: ClassVar[MessageType]
    FIELDS: ClassVar[tuple[tuple[str, FieldSpec], ...]]
    session_id: bytes = wire(SESSION_ID)


@dataclass(frozen=True, slots=True)
class Member:
    """One session member in a Joined frame."""

    address: bytes
    display_name: str
    online: bool


MEMBER_FIELDS: tuple[tuple[str, FieldSpec], ...] = (
    ("address", ADDRESS),
    ("display_name", DISPLAY_NAME),
    ("online", Bool()),
)


@_payload(MessageType.JOINED)
@dataclass(frozen=True, slots=True)
class Joined:
    """Relay → client: the join succeeded; the other members of the session (§4.3)."""

    TYPE: ClassVar[MessageType]
    FIELDS: ClassVar[tuple[tuple[str, FieldSpec], ...]]
    session_id: bytes = wire(SESSION_ID)
    nameplate: str = wire(NAMEPLATE)
    members: tuple[Member, ...] = wire(ListOf(Member, MEMBER_FIELDS, MAX_MEMBERS))


@_payload(MessageType.PEER_JOINED)
@dataclass(frozen=True, slots=True)
class PeerJoined:
    """Relay → client: a member joined (or came back to) a session."""

    TYPE: ClassVar[MessageType]
    FIELDS: ClassVar[tuple[tuple[str, FieldSpec], ...]]
    session_id: bytes = wire(SESSION_ID)
    address: bytes = wire(ADDRESS)
    display_name: str = wire(DISPLAY_NAME)


@_payload(MessageType.PEER_LEFT)
@dataclass(frozen=True, slots=True)
class PeerLeft:
    """Relay → client: a member left, disconnected, or expired (see LeaveReason)."""

    TYPE: ClassVar[MessageType]
    FIELDS: ClassVar[tuple[tuple[str, FieldSpec], ...]]
    session_id: bytes = wire(SESSION_ID)
    address: bytes = wire(ADDRESS)
    reason: int = wire(SMALL)


@_payload(MessageType.RELEASE_NAMEPLATE)
@dataclass(frozen=True, slots=True)
class ReleaseNameplate:
    """Client → relay: retire a session's nameplate; later joins by it fail (§4.3)."""

    TYPE: ClassVar[MessageType]
    FIELDS: ClassVar[tuple[tuple[str, FieldSpec], ...]]
    session_id: bytes = wire(SESSION_ID)
    nameplate: str = wire(NAMEPLATE)


@_payload(MessageType.KEY_EXCHANGE)
@dataclass(frozen=True, slots=True)
class KeyExchange:
    """Both directions: an end-to-end handshake message, opaque to the relay (§4.5)."""

    TYPE: ClassVar[MessageType]
    FIELDS: ClassVar[tuple[tuple[str, FieldSpec], ...]]
    session_id: bytes = wire(SESSION_ID)
    sender: bytes = wire(ADDRESS)
    recipient: bytes = wire(ADDRESS_OR_EMPTY)
    body: bytes = wire(BLOB)


@_payload(MessageType.REGISTER_KEY)
@dataclass(frozen=True, slots=True)
class RegisterKey:
    """Client → relay: publish the connection's QuickoKey in the directory, signed (§4.6)."""

    TYPE: ClassVar[MessageType]
    FIELDS: ClassVar[tuple[tuple[str, FieldSpec], ...]]
    address: bytes = wire(ADDRESS)
    display_name: str = wire(DISPLAY_NAME)
    x25519_public: bytes = wire(X25519_KEY)
    ed25519_public: bytes = wire(ED25519_KEY)
    relay_url: str = wire(RELAY_URL)
    signed_at: int = wire(TIME_MS)
    signature: bytes = wire(SIGNATURE)


@_payload(MessageType.REGISTER_ACK)
@dataclass(frozen=True, slots=True)
class RegisterAck:
    """Relay → client: the directory entry is now registered (true) or removed (false)."""

    TYPE: ClassVar[MessageType]
    FIELDS: ClassVar[tuple[tuple[str, FieldSpec], ...]]
    address: bytes = wire(ADDRESS)
    registered: bool = wire(Bool())


@_payload(MessageType.LOOKUP_KEY)
@dataclass(frozen=True, slots=True)
class LookupKey:
    """Client → relay: look a QuickoKey up in the directory."""

    TYPE: ClassVar[MessageType]
    FIELDS: ClassVar[tuple[tuple[str, FieldSpec], ...]]
    address: bytes = wire(ADDRESS)


@_payload(MessageType.LOOKUP_RESPONSE)
@dataclass(frozen=True, slots=True)
class LookupResponse:
    """Relay → client: the directory entry, exactly as its owner signed it (§4.6)."""

    TYPE: ClassVar[MessageType]
    FIELDS: ClassVar[tuple[tuple[str, FieldSpec], ...]]
    address: bytes = wire(ADDRESS)
    found: bool = wire(Bool())
    online: bool = wire(Bool())
    display_name: str = wire(DISPLAY_NAME)
    x25519_public: bytes = wire(Bin(sizes=(0, 32)))
    ed25519_public: bytes = wire(Bin(sizes=(0, 32)))
    relay_url: str = wire(RELAY_URL)
    signed_at: int = wire(TIME_MS)
    signature: bytes = wire(Bin(sizes=(0, 64)))


@_payload(MessageType.UNREGISTER_KEY)
@dataclass(frozen=True, slots=True)
class UnregisterKey:
    """Client → relay: remove the connection's own QuickoKey from the directory."""

    TYPE: ClassVar[MessageType]
    FIELDS: ClassVar[tuple[tuple[str, FieldSpec], ...]]
    address: bytes = wire(ADDRESS)


@_payload(MessageType.CALL_PEER)
@dataclass(frozen=True, slots=True)
class CallPeer:
    """Both directions: a call from *caller* to the QuickoKey *callee* (§4.8)."""

    TYPE: ClassVar[MessageType]
    FIELDS: ClassVar[tuple[tuple[str, FieldSpec], ...]]
    call_id: bytes = wire(CALL_ID)
    caller: bytes = wire(ADDRESS)
    callee: bytes = wire(ADDRESS)
    bundle: bytes = wire(BLOB)


@_payload(MessageType.CALL_RESPONSE)
@dataclass(frozen=True, slots=True)
class CallResponse:
    """Both directions: the callee's answer, or the relay's OFFLINE/TIMEOUT (§4.8)."""

    TYPE: ClassVar[MessageType]
    FIELDS: ClassVar[tuple[tuple[str, FieldSpec], ...]]
    call_id: bytes = wire(CALL_ID)
    caller: bytes = wire(ADDRESS)
    callee: bytes = wire(ADDRESS)
    status: int = wire(SMALL)
    bundle: bytes = wire(BLOB)


@_payload(MessageType.ERROR)
@dataclass(frozen=True, slots=True)
class Error:
    """Relay → client: a rejection, with a code from the ErrorCode table (§5)."""

    TYPE: ClassVar[MessageType]
    FIELDS: ClassVar[tuple[tuple[str, FieldSpec], ...]]
    code: int = wire(Int(0, 65535))
    reason: str = wire(Str(MAX_REASON_CHARS))
    ref_type: int = wire(SMALL)
    ref_id: bytes = wire(Bin(max_size=32))


Payload = (
    Challenge
    | Hello
    | HelloAck
    | Message
    | Ack
    | Received
    | Ping
    | Pong
    | Join
    | Lobby
    | LobbyMessage
    | Leave
    | Joined
    | PeerJoined
    | PeerLeft
    | ReleaseNameplate
    | KeyExchange
    | RegisterKey
    | RegisterAck
    | LookupKey
    | LookupResponse
    | UnregisterKey
    | CallPeer
    | CallResponse
    | Error
)

#: Every payload class by its frame type code.
PAYLOAD_TYPES: dict[int, type[Payload]] = {
    cls.TYPE: cls
    for cls in (
        Challenge, Hello, HelloAck, Message, Ack, Received, Ping, Pong, Join, Lobby, Leave, Joined,
        PeerJoined, PeerLeft, ReleaseNameplate, KeyExchange, LobbyMessage, RegisterKey,
        RegisterAck, LookupKey, LookupResponse, UnregisterKey, CallPeer, CallResponse, Error,
    )
}  # fmt: skip
