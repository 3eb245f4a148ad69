"""The byte strings that Hello and RegisterKey signatures cover (docs/protocol.md §4.1, §4.6).

Each transcript is the unambiguous length-prefixed encoding of a versioned label and the fields
it binds (:func:`quicko.crypto.kdf.encode_fields`), so that no signature made for one purpose can
be replayed for another, and no two field lists encode alike.
"""

from __future__ import annotations

from quicko.crypto import kdf

__all__ = ["HELLO_LABEL", "REGISTER_LABEL", "hello_transcript", "register_transcript"]

HELLO_LABEL = b"quicko2/v2/hello"
REGISTER_LABEL = b"quicko2/v2/register"


def _u64(value: int) -> bytes:
    return value.to_bytes(8, "big")


def hello_transcript(
    *,
    nonce: bytes,
    node_id: str,
    server_time: int,
    address: bytes,
    display_name: str,
    x25519_public: bytes,
    ed25519_public: bytes,
) -> bytes:
    """What a Hello's signature covers: the relay's challenge and the client's claims."""
    return kdf.encode_fields(
        HELLO_LABEL,
        nonce,
        node_id.encode(),
        _u64(server_time),
        address,
        display_name.encode(),
        x25519_public,
        ed25519_public,
    )


def register_transcript(
    *,
    address: bytes,
    display_name: str,
    x25519_public: bytes,
    ed25519_public: bytes,
    signed_at: int,
) -> bytes:
    """What a RegisterKey's (and so a LookupResponse's) signature covers."""
    return kdf.encode_fields(
        REGISTER_LABEL,
        address,
        display_name.encode(),
        x25519_public,
        ed25519_public,
        _u64(signed_at),
    )
