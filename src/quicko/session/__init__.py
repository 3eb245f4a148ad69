"""End-to-end session state machines: handshake, ratchet, members, lifecycle (sans-I/O).

- :class:`Session` (:mod:`quicko.session.session`): one conversation, fed relay frames, giving
  payloads to send and typed events (:mod:`quicko.session.events`).
- :mod:`quicko.session.bundle`: signed identity bundles; :mod:`quicko.session.pake`: the
  invite-code SPAKE2 handshake; :mod:`quicko.session.calls`: calls by QuickoKey.
- :mod:`quicko.session.pairwise`, :mod:`quicko.session.envelope`: the pairwise channels and
  the padded envelopes they carry.
"""

from __future__ import annotations

from quicko.messaging.status import DeliveryStatus
from quicko.session.bundle import (
    IdentityBundle,
    call_context,
    invite_context,
    make_bundle,
    verify_bundle,
)
from quicko.session.calls import IncomingCall, OutgoingCall, verify_lookup
from quicko.session.delivery import DEFAULT_MESSAGE_TTL_MS
from quicko.session.events import (
    InviteRetired,
    KeyChanged,
    MessageReceived,
    PeerAuthenticated,
    PeerJoined,
    PeerLeft,
    PeerRefused,
    SessionEvent,
    SessionFailed,
    SessionOpened,
    StatusChanged,
    WrongInviteCode,
)
from quicko.session.session import PAKE_TIMEOUT_MS, Role, Session, State

__all__ = [
    "DEFAULT_MESSAGE_TTL_MS",
    "PAKE_TIMEOUT_MS",
    "DeliveryStatus",
    "IdentityBundle",
    "IncomingCall",
    "InviteRetired",
    "KeyChanged",
    "MessageReceived",
    "OutgoingCall",
    "PeerAuthenticated",
    "PeerJoined",
    "PeerLeft",
    "PeerRefused",
    "Role",
    "Session",
    "SessionEvent",
    "SessionFailed",
    "SessionOpened",
    "State",
    "StatusChanged",
    "WrongInviteCode",
    "call_context",
    "invite_context",
    "make_bundle",
    "verify_bundle",
    "verify_lookup",
]
