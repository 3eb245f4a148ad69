"""The Quicko2 wire protocol, version 4 (docs/protocol.md): frames, payloads and limits.

Sans-I/O: this package turns payload values into frame bytes and back, and nothing else.

The names below are loaded from their modules when first used (PEP 562), so that importing one
module of the package (:mod:`quicko.protocol.auth` for the relay's settings, or
:mod:`quicko.protocol.constants`) does not build every payload class: ``quicko relay --help``
starts in half the time (docs/performance.md, "Start-up").
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from quicko.protocol.auth import (
        canonical_relay_url,
        hello_transcript,
        join_transcript,
        register_transcript,
        tls_channel_binding,
    )
    from quicko.protocol.codec import decode_frame, encode_frame, error_code_for, read_header
    from quicko.protocol.constants import (
        ADDRESS_SIZE,
        CALL_ID_SIZE,
        HEADER_SIZE,
        MAX_BLOB_BYTES,
        MAX_DISPLAY_NAME_CHARS,
        MAX_MEMBERS,
        MAX_PAYLOAD_BYTES,
        MESSAGE_ID_SIZE,
        NONCE_SIZE,
        PROTOCOL_VERSION,
        SESSION_ID_SIZE,
    )
    from quicko.protocol.payloads import (
        PAYLOAD_TYPES,
        Ack,
        CallPeer,
        CallResponse,
        Challenge,
        Error,
        Hello,
        HelloAck,
        Join,
        Joined,
        KeyExchange,
        Leave,
        Lobby,
        LobbyMessage,
        LookupKey,
        LookupResponse,
        Member,
        Message,
        Payload,
        PeerJoined,
        PeerLeft,
        Ping,
        Pong,
        Received,
        RegisterAck,
        RegisterKey,
        ReleaseNameplate,
        UnregisterKey,
    )
    from quicko.protocol.types import AckStatus, CallStatus, ErrorCode, LeaveReason, MessageType
__all__ = [
    "ADDRESS_SIZE",
    "CALL_ID_SIZE",
    "HEADER_SIZE",
    "MAX_BLOB_BYTES",
    "MAX_DISPLAY_NAME_CHARS",
    "MAX_MEMBERS",
    "MAX_PAYLOAD_BYTES",
    "MESSAGE_ID_SIZE",
    "NONCE_SIZE",
    "PAYLOAD_TYPES",
    "PROTOCOL_VERSION",
    "SESSION_ID_SIZE",
    "Ack",
    "AckStatus",
    "CallPeer",
    "CallResponse",
    "CallStatus",
    "Challenge",
    "Error",
    "ErrorCode",
    "Hello",
    "HelloAck",
    "Join",
    "Joined",
    "KeyExchange",
    "Leave",
    "LeaveReason",
    "Lobby",
    "LobbyMessage",
    "LookupKey",
    "LookupResponse",
    "Member",
    "Message",
    "MessageType",
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
    "canonical_relay_url",
    "decode_frame",
    "encode_frame",
    "error_code_for",
    "hello_transcript",
    "join_transcript",
    "read_header",
    "register_transcript",
    "tls_channel_binding",
]


_MODULES: Final = ("constants", "types", "auth", "payloads", "codec")
"""The modules the names of ``__all__`` come from, searched in this order."""


if not TYPE_CHECKING:  # for mypy, the names are the imports above (a typo stays an error)

    def __getattr__(name: str) -> object:
        """Load ``name`` of ``__all__`` from its module on first use (PEP 562)."""
        if name in __all__:
            for module_name in _MODULES:
                module = importlib.import_module(f"{__name__}.{module_name}")
                if name in vars(module):
                    value = vars(module)[name]
                    globals()[name] = value
                    return value
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted({*globals(), *__all__})
