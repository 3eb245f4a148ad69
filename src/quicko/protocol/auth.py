"""What Hello, RegisterKey and Join signatures cover (docs/protocol.md §4.1, §4.3, §4.6).

Each transcript is the unambiguous length-prefixed encoding of a versioned label and the fields
it binds (:func:`quicko.crypto.kdf.encode_fields`), so that no signature made for one purpose can
be replayed for another, and no two field lists encode alike.
"""

from __future__ import annotations

import hashlib
import ipaddress
from urllib.parse import urlsplit

from quicko.crypto import kdf

__all__ = [
    "HELLO_LABEL",
    "JOIN_LABEL",
    "REGISTER_LABEL",
    "canonical_relay_url",
    "hello_transcript",
    "join_transcript",
    "register_transcript",
    "tls_channel_binding",
]

HELLO_LABEL = kdf.label("hello")
REGISTER_LABEL = kdf.label("register")
JOIN_LABEL = kdf.label("join")

_DEFAULT_PORTS = {"ws": 80, "wss": 443}


def canonical_relay_url(url: str) -> str:
    """Return the relay URL as Hello and RegisterKey name it: ``scheme://host:port``.

    The scheme and host are lower case, an IPv6 host is in brackets in its RFC 5952 form (zeros
    compressed: ``[2001:0db8:0:0::a]`` is ``[2001:db8::a]``), the port is always written
    (80 for ``ws``, 443 for ``wss`` when the URL omits it), and any path, query or fragment is
    dropped, so that ``WS://Relay.example:80/ws`` and ``ws://relay.example`` name the same relay.

    Raises:
        ValueError: the URL is not a ``ws://`` or ``wss://`` URL with a host, or its port is
            invalid (not a decimal number from 1 to 65535).
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"not a ws:// or wss:// URL with a host: {url!r}")
    port = parts.port if parts.port is not None else _DEFAULT_PORTS[scheme]
    if port == 0:
        raise ValueError(f"port 0 cannot be dialled: {url!r}")
    host = parts.hostname.lower()
    if ":" in host:
        try:
            host = ipaddress.IPv6Address(host).compressed  # RFC 5952: one spelling per address
        except ValueError:
            raise ValueError(f"not a valid IPv6 address in brackets: {url!r}") from None
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}"


def tls_channel_binding(certificate_der: bytes | None) -> bytes:
    """The channel binding a Hello signs: SHA-256 of the relay's TLS certificate, or empty.

    This is RFC 5929's ``tls-server-end-point`` with SHA-256 always. ``None`` (a ``ws://``
    connection) gives the empty binding.
    """
    if certificate_der is None:
        return b""
    return hashlib.sha256(certificate_der).digest()


def _u64(value: int) -> bytes:
    return value.to_bytes(8, "big")


def hello_transcript(
    *,
    nonce: bytes,
    node_id: str,
    server_time: int,
    relay_url: str,
    channel_binding: bytes,
    address: bytes,
    display_name: str,
    x25519_public: bytes,
    ed25519_public: bytes,
) -> bytes:
    """What a Hello's signature covers: the relay's challenge, the relay dialled, the claims."""
    return kdf.encode_fields(
        HELLO_LABEL,
        nonce,
        node_id.encode(),
        _u64(server_time),
        relay_url.encode(),
        channel_binding,
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
    relay_url: str,
    signed_at: int,
) -> bytes:
    """What a RegisterKey's (and so a LookupResponse's) signature covers."""
    return kdf.encode_fields(
        REGISTER_LABEL,
        address,
        display_name.encode(),
        x25519_public,
        ed25519_public,
        relay_url.encode(),
        _u64(signed_at),
    )


def join_transcript(*, nonce: bytes, node_id: str, session_id: bytes, address: bytes) -> bytes:
    """What a Join's proof covers: this connection's Challenge, the session and the joiner.

    The proof is an Ed25519 signature by the session's join key, which only admitted members
    hold; binding the Challenge makes a proof useless on any other connection.
    """
    return kdf.encode_fields(JOIN_LABEL, nonce, node_id.encode(), session_id, address)
