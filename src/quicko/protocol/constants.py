"""Sizes and limits of the wire protocol (docs/protocol.md §1 and §2)."""

from __future__ import annotations

__all__ = [
    "ADDRESS_SIZE",
    "CALL_ID_SIZE",
    "HEADER_SIZE",
    "MAX_BLOB_BYTES",
    "MAX_CONTAINERS",
    "MAX_CONTAINER_ITEMS",
    "MAX_DISPLAY_NAME_CHARS",
    "MAX_MEMBERS",
    "MAX_PAYLOAD_BYTES",
    "MAX_REASON_CHARS",
    "MAX_RELAY_URL_CHARS",
    "MESSAGE_ID_SIZE",
    "NONCE_SIZE",
    "PROTOCOL_VERSION",
    "SESSION_ID_SIZE",
]

#: The version byte of every frame. Version 1 was the original, unauthenticated protocol.
PROTOCOL_VERSION = 4
#: version (1 byte) | type (1 byte) | payload length (4 bytes, big-endian).
HEADER_SIZE = 6
#: Largest payload a frame may declare or carry: what the protocol needs and no more. The largest
#: frame a client sends is a Message whose body is a 64 KiB text padded to 128 KiB (a 40-byte
#: ratchet header, 131,072 bytes of ciphertext and a 16-byte tag: 131,128 bytes) plus its other
#: fields; 132 KiB leaves room for those (docs/protocol.md §2.2).
MAX_PAYLOAD_BYTES = 135_168

#: An identity's address (the 128-bit QuickoKey or ephemeral id).
ADDRESS_SIZE = 16
SESSION_ID_SIZE = 16
MESSAGE_ID_SIZE = 16
CALL_ID_SIZE = 16
#: The relay's challenge nonce.
NONCE_SIZE = 32

#: Largest opaque byte string (ciphertext, key-exchange body, call bundle) in one frame.
MAX_BLOB_BYTES = MAX_PAYLOAD_BYTES - 1024
MAX_DISPLAY_NAME_CHARS = 64
MAX_REASON_CHARS = 256
#: The relay URL a client names in Hello and RegisterKey (docs/protocol.md §4.1).
MAX_RELAY_URL_CHARS = 256
#: Largest number of members a session may have, and so the longest member list on the wire.
MAX_MEMBERS = 64
#: Decoder caps: items in one MessagePack array, and arrays in one payload. With them no frame
#: of at most MAX_PAYLOAD_BYTES expands into much more memory than its own size.
MAX_CONTAINER_ITEMS = MAX_MEMBERS
MAX_CONTAINERS = MAX_MEMBERS + 2
