"""What a :class:`~quicko.session.Session` reports: typed, frozen events.

Reprs never show message text (the ``text`` field is left out of ``repr()``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from quicko.messaging.status import DeliveryStatus

__all__ = [
    "InviteRetired",
    "KeyChanged",
    "MessageReceived",
    "PeerAuthenticated",
    "PeerJoined",
    "PeerLeft",
    "PeerRefused",
    "SessionEvent",
    "SessionFailed",
    "SessionOpened",
    "StatusChanged",
    "WrongInviteCode",
]


@dataclass(frozen=True, slots=True)
class SessionOpened:
    """The relay confirmed our Join; for a creator, the invite code now works."""

    session_id: bytes


@dataclass(frozen=True, slots=True)
class PeerJoined:
    """The relay says a member joined or came back (presence only, not authentication).

    Attributes:
        address: the member's address.
        display_name: the name the relay reports (unauthenticated).
        verified: whether this address is already an authenticated member of the session.
    """

    address: bytes
    display_name: str
    verified: bool


@dataclass(frozen=True, slots=True)
class PeerLeft:
    """A member left (its encrypted LEAVE, or the relay's PeerLeft; see LeaveReason)."""

    address: bytes
    reason: int


@dataclass(frozen=True, slots=True)
class PeerAuthenticated:
    """A peer's identity keys are verified (PAKE, a creator's vouch, or a call bundle)."""

    address: bytes
    display_name: str
    safety_number: str


@dataclass(frozen=True, slots=True)
class PeerRefused:
    """A peer's bundle, signature or vouch did not verify; it is not trusted."""

    address: bytes
    reason: str


@dataclass(frozen=True, slots=True)
class KeyChanged:
    """A bundle named a known address with other identity keys; it was refused."""

    address: bytes


@dataclass(frozen=True, slots=True)
class MessageReceived:
    """A text message, decrypted and shown once."""

    message_id: bytes
    sender: bytes
    display_name: str
    text: str = field(repr=False)
    timestamp: int


@dataclass(frozen=True, slots=True)
class StatusChanged:
    """The delivery status of one of our messages changed (aggregated over recipients)."""

    message_id: bytes
    status: DeliveryStatus


@dataclass(frozen=True, slots=True)
class WrongInviteCode:
    """Joiner side: the creator did not accept our invite code's password."""

    attempts_left: int


@dataclass(frozen=True, slots=True)
class InviteRetired:
    """Creator side: too many wrong attempts; the code is released and works no more."""


@dataclass(frozen=True, slots=True)
class SessionFailed:
    """The session cannot go on (the reason is short and safe to show)."""

    reason: str


SessionEvent = (
    SessionOpened
    | PeerJoined
    | PeerLeft
    | PeerAuthenticated
    | PeerRefused
    | KeyChanged
    | MessageReceived
    | StatusChanged
    | WrongInviteCode
    | InviteRetired
    | SessionFailed
)
