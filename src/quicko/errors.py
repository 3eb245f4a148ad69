"""The whole exception tree of Quicko2.

Everything Quicko2 raises on purpose derives from :class:`QuickoError`. Misuse by our own code
(a wrong type, an argument out of range) raises the built-in ``TypeError`` or ``ValueError``
instead; a ``QuickoError`` always means that something from *outside* — the network, a peer,
a person typing — was wrong, or that a security check failed::

    QuickoError
    ├── AuthenticationError            one opaque error for every failed tag, signature,
    │                                  key confirmation or self-certifying address check
    ├── InvalidKeyError                a public key that is malformed or of low order
    │                                  (an all-zero X25519 shared secret)
    ├── InputError                     something a person typed is not valid; ``str()`` says
    │   │                              what is wrong and how to fix it
    │   ├── SeedPhraseError            wrong word count, or an unknown word (with its position
    │   │                              and the nearest valid words)
    │   ├── QuickoKeyFormatError       not a ``QK-XXXX-…`` address
    │   └── InviteCodeError            not an ``XXXX-XXXX`` invite code
    ├── ProtocolError
    │   ├── LocalProtocolError         we were about to send something the protocol forbids
    │   └── RemoteProtocolError        a peer or the relay sent bytes that break the protocol
    │       ├── UnsupportedVersionError    the frame's version byte is not ours
    │       ├── FrameTooLargeError         declared or actual payload over the limit
    │       ├── UnknownTypeError           the frame type code is not in the table
    │       └── MalformedFrameError        truncated header, length mismatch, a payload of
    │                                      the wrong shape, a container or string over its cap
    ├── SessionError                   a session-level refusal (wrong invite code, code
    │   │                              retired, not a member, call declined, …)
    │   └── CallCancelledError         we stopped calling (``cancel_call``) before an answer
    └── TransportError                 the network failed under us (I/O shells only)
        └── ConnectionClosedError      the connection is closed

Only the receive path raises ``RemoteProtocolError``: it is what bytes from outside produce when
they are not a valid value (STYLE.md rule 5). Exceptions never carry secrets in their messages.
"""

from __future__ import annotations

__all__ = [
    "AuthenticationError",
    "CallCancelledError",
    "ConnectionClosedError",
    "FrameTooLargeError",
    "InputError",
    "InvalidKeyError",
    "InviteCodeError",
    "LocalProtocolError",
    "MalformedFrameError",
    "ProtocolError",
    "QuickoError",
    "QuickoKeyFormatError",
    "RemoteProtocolError",
    "SeedPhraseError",
    "SessionError",
    "TransportError",
    "UnknownTypeError",
    "UnsupportedVersionError",
]


class QuickoError(Exception):
    """Root of every exception Quicko2 raises on purpose."""


class AuthenticationError(QuickoError):
    """A tag, signature, key confirmation or address check failed.

    It is deliberately opaque: it never says which check failed or why, so that it cannot be
    used as an oracle.
    """

    def __init__(self, message: str = "authentication failed") -> None:
        super().__init__(message)


class InvalidKeyError(QuickoError):
    """A public key is malformed, or produced an all-zero (low-order) shared secret."""


class InputError(QuickoError, ValueError):
    """Something a person typed is not valid; the message says what and how to fix it."""


class SeedPhraseError(InputError):
    """A seed phrase has the wrong number of words or an unknown word.

    Attributes:
        position: 1-based position of the first unknown word, or ``None`` for a count error.
        suggestions: the nearest valid words for that position (may be empty).
    """

    def __init__(
        self,
        message: str,
        *,
        position: int | None = None,
        suggestions: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message)
        self.position = position
        self.suggestions = suggestions


class QuickoKeyFormatError(InputError):
    """A string is not a QuickoKey address (``QK-`` followed by 32 hex digits)."""


class InviteCodeError(InputError):
    """A string is not an invite code (8 Crockford base-32 characters, ``XXXX-XXXX``)."""


class ProtocolError(QuickoError):
    """A violation of the wire protocol (docs/protocol.md)."""


class LocalProtocolError(ProtocolError):
    """We were about to send something the protocol forbids (for example, too large)."""


class RemoteProtocolError(ProtocolError):
    """Bytes received from the network do not form a valid frame."""


class UnsupportedVersionError(RemoteProtocolError):
    """The frame's version byte is not the one this implementation speaks."""


class FrameTooLargeError(RemoteProtocolError):
    """The declared or actual payload length is over the limit."""


class UnknownTypeError(RemoteProtocolError):
    """The frame's type code is not in the table of docs/protocol.md."""


class MalformedFrameError(RemoteProtocolError):
    """The frame is truncated, its length is wrong, or its payload has the wrong shape."""


class SessionError(QuickoError):
    """A session-level refusal: wrong invite code, retired code, not a member, declined call."""


class CallCancelledError(SessionError):
    """The call was cancelled by us (``cancel_call``) before the callee answered."""


class TransportError(QuickoError):
    """The network failed under us; raised only by the I/O shells."""


class ConnectionClosedError(TransportError):
    """The connection is closed."""
