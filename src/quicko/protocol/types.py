"""The numeric tables of the wire protocol: frame types, error codes and statuses.

Every value here is normative and listed in docs/protocol.md; a change is a protocol change.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = ["AckStatus", "CallStatus", "ErrorCode", "LeaveReason", "MessageType"]


class MessageType(IntEnum):
    """Frame type codes (docs/protocol.md §3). The original's meanings are kept."""

    HELLO = 0x01
    HELLO_ACK = 0x02
    CHALLENGE = 0x03
    MESSAGE = 0x10
    ACK = 0x11
    RECEIVED = 0x12
    PING = 0x20
    PONG = 0x21
    JOIN = 0x30
    LEAVE = 0x31
    PEER_JOINED = 0x32
    PEER_LEFT = 0x33
    JOINED = 0x34
    RELEASE_NAMEPLATE = 0x35
    LOBBY = 0x36
    KEY_EXCHANGE = 0x40
    LOBBY_MESSAGE = 0x42
    REGISTER_KEY = 0x50
    LOOKUP_KEY = 0x51
    LOOKUP_RESPONSE = 0x52
    UNREGISTER_KEY = 0x53
    CALL_PEER = 0x54
    CALL_RESPONSE = 0x55
    REGISTER_ACK = 0x56
    ERROR = 0xFF


class ErrorCode(IntEnum):
    """Codes carried by Error frames (docs/protocol.md §5)."""

    MALFORMED = 1
    UNSUPPORTED_VERSION = 2
    UNKNOWN_TYPE = 3
    TOO_LARGE = 4
    TEXT_FRAME = 5
    UNEXPECTED_TYPE = 6
    UNAUTHENTICATED = 10
    AUTHENTICATION_FAILED = 11
    SENDER_MISMATCH = 12
    REPLACED = 13
    HANDSHAKE_TIMEOUT = 14
    IDLE_TIMEOUT = 15
    WRONG_RELAY = 16
    RATE_LIMITED = 20
    TOO_SLOW = 21
    SERVER_FULL = 22
    SHUTTING_DOWN = 23
    UNKNOWN_INVITE = 30
    NAMEPLATE_TAKEN = 31
    NOT_A_MEMBER = 32
    SESSION_FULL = 33
    LIMIT_REACHED = 34
    PROOF_INVALID = 35
    RECIPIENT_UNKNOWN = 40
    BUFFER_FULL = 41
    NOT_OWNER = 50
    STALE_SIGNATURE = 51
    NOT_PENDING = 52
    INTERNAL = 99


class AckStatus(IntEnum):
    """What an Ack says about the message it names (docs/protocol.md §4.4)."""

    #: The relay accepted the message and handed it to the recipient's connection.
    ACCEPTED = 1
    #: The recipient is away; the relay holds the message for the buffer TTL.
    BUFFERED = 2
    #: The buffer TTL passed before the recipient came back; the message is dropped.
    EXPIRED = 3
    #: The recipient's client received the message (sent by that client, relayed).
    RECEIVED = 4


class CallStatus(IntEnum):
    """The outcome a CallResponse carries (docs/protocol.md §4.8)."""

    ACCEPTED = 1
    DECLINED = 2
    #: Sent by the relay: the callee is not online.
    OFFLINE = 3
    #: Sent by the relay (to the caller, and to the callee when online): no answer in time.
    TIMEOUT = 4
    #: Sent by the caller: it stopped calling; the relay forwards it to the callee.
    CANCELLED = 5


class LeaveReason(IntEnum):
    """Why a PeerLeft was sent."""

    LEFT = 1
    DISCONNECTED = 2
    EXPIRED = 3
