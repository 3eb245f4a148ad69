"""End-to-end session state machines: handshake, ratchet, members, lifecycle (sans-I/O).

- :class:`Session` (:mod:`quicko.session.session`): one conversation, fed relay frames, giving
  payloads to send and typed events (:mod:`quicko.session.events`).
- :mod:`quicko.session.bundle`: signed identity bundles; :mod:`quicko.session.pake`: the
  invite-code CPace handshake in the relay's lobby; :mod:`quicko.session.calls`: calls by
  QuickoKey.
- :mod:`quicko.session.pairwise`, :mod:`quicko.session.envelope`: the pairwise channels and
  the padded envelopes they carry.
"""

from __future__ import annotations

from quicko.messaging.status import DeliveryStatus
from quicko.session.bundle import (
    IdentityBundle,
    bundle_context,
    call_context,
    make_bundle,
    member_init_context,
    verify_bundle,
)
from quicko.session.calls import (
    IncomingCall,
    OutgoingCall,
    call_join_seed,
    call_session_id,
    verify_lookup,
)
from quicko.session.delivery import DEFAULT_MESSAGE_TTL_MS
from quicko.session.events import (
    InviteRetired,
    JoinerFailed,
    JoinerPending,
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
    "JoinerFailed",
    "JoinerPending",
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
    "bundle_context",
    "call_context",
    "call_join_seed",
    "call_session_id",
    "make_bundle",
    "member_init_context",
    "verify_bundle",
    "verify_lookup",
]
