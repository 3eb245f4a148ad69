"""What a :class:`~quicko.session.Session` reports: typed, frozen events.

Reprs never show message text (the ``text`` field is left out of ``repr()``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from quicko.messaging.status import DeliveryStatus
from quicko.protocol.frozen import direct_init

__all__ = [
    "InviteRetired",
    "JoinerFailed",
    "JoinerPending",
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
    """A member left or went away.

    Attributes:
        address: the member's address.
        reason: a relay ``LeaveReason`` (``LEFT`` for its own encrypted LEAVE).
        gone: whether it is no longer a member for us: only its own authenticated LEAVE (or the
            relay's notice about a member never authenticated) removes one. Otherwise it is
            *away*: keys and channel are kept, and what we send waits for it (a relay's
            ``PeerLeft``, whatever its reason, cannot remove an authenticated peer).
    """

    address: bytes
    reason: int
    gone: bool = False


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


@direct_init
@dataclass(frozen=True, slots=True)
class MessageReceived:
    """A text message, decrypted and shown once."""

    message_id: bytes
    sender: bytes
    display_name: str
    text: str = field(repr=False)
    timestamp: int


@direct_init
@dataclass(frozen=True, slots=True)
class StatusChanged:
    """The delivery status of one of our messages changed (aggregated over recipients).

    ``reason`` says why it is FAILED, in plain words (see :data:`FAILED_REASONS` in
    :mod:`quicko.session.delivery`); ``""`` for other statuses.
    """

    message_id: bytes
    status: DeliveryStatus
    reason: str = ""


@dataclass(frozen=True, slots=True)
class WrongInviteCode:
    """Joiner side: the creator did not accept our invite code's password.

    Attributes:
        retry_after_ms: what the creator's PAKE_FAIL said (informational; this joiner's
            address is refused for this code from now on).
    """

    retry_after_ms: int


@dataclass(frozen=True, slots=True)
class JoinerPending:
    """Creator side: someone with the nameplate started a PAKE attempt.

    It is not authenticated: never show it as a person ("someone with the invite code is
    trying to join").

    Attributes:
        address: the address the relay names for it (unauthenticated until admitted).
    """

    address: bytes


@dataclass(frozen=True, slots=True)
class JoinerFailed:
    """Creator side: a PAKE attempt proved a wrong password (counted against the code).

    Attributes:
        address: the relay-named address of the failed joiner (refused for this code now).
        failures: wrong guesses on this code so far (it is retired at 32).
    """

    address: bytes
    failures: int


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
    | JoinerPending
    | JoinerFailed
    | InviteRetired
    | SessionFailed
)
