"""The client: a sans-I/O core, the connection supervisor, and the QuickoClient façades.

- :class:`ClientCore` (:mod:`quicko.client.core`): every decision of the client, no I/O.
- :class:`AsyncQuickoClient` (:mod:`quicko.client.api`): the client for asyncio programs (it
  has a core and a connection).
- :class:`QuickoClient` (:mod:`quicko.client.sync`): the same, synchronous, on its own
  event-loop thread (for scripts and Qt).
- :mod:`quicko.client.models`: the value objects and client events they report.
- :class:`Connection` (:mod:`quicko.client.connection`): the relay connection supervisor.
- :func:`tune_client_gc` (:mod:`quicko.client.collector`): the applications' policy for the
  cyclic garbage collector, which they apply at start-up (the library never does it itself).
"""

from __future__ import annotations

from quicko.client.api import AsyncQuickoClient
from quicko.client.collector import CLIENT_GC_THRESHOLDS, tune_client_gc
from quicko.client.connection import Connection, ConnectionSettings
from quicko.client.core import CALL_RING_MS, ClientCore
from quicko.client.events import DisconnectReason
from quicko.client.models import (
    CallDeclined,
    CallEnded,
    CallEndReason,
    CallRinging,
    ClientError,
    ClientEvent,
    Connected,
    Disconnected,
    EventsDropped,
    IncomingCall,
    InviteRetired,
    JoinerFailed,
    JoinerPending,
    KeyChanged,
    LatencyMeasured,
    LookupInfo,
    MessageReceived,
    PeerAuthenticated,
    PeerInfo,
    PeerJoined,
    PeerLeft,
    PeerRefused,
    QuickoKeyInfo,
    Reconnecting,
    ReconnectionFailed,
    SessionClosed,
    SessionFailed,
    SessionInfo,
    SessionReady,
    SessionRole,
    SessionState,
    SessionStateChanged,
    SessionStateName,
    StatusChanged,
    WrongInviteCode,
)
from quicko.client.sync import QuickoClient
from quicko.messaging import ChatMessage, DeliveryStatus

__all__ = [
    "CALL_RING_MS",
    "CLIENT_GC_THRESHOLDS",
    "AsyncQuickoClient",
    "CallDeclined",
    "CallEndReason",
    "CallEnded",
    "CallRinging",
    "ChatMessage",
    "ClientCore",
    "ClientError",
    "ClientEvent",
    "Connected",
    "Connection",
    "ConnectionSettings",
    "DeliveryStatus",
    "DisconnectReason",
    "Disconnected",
    "EventsDropped",
    "IncomingCall",
    "InviteRetired",
    "JoinerFailed",
    "JoinerPending",
    "KeyChanged",
    "LatencyMeasured",
    "LookupInfo",
    "MessageReceived",
    "PeerAuthenticated",
    "PeerInfo",
    "PeerJoined",
    "PeerLeft",
    "PeerRefused",
    "QuickoClient",
    "QuickoKeyInfo",
    "Reconnecting",
    "ReconnectionFailed",
    "SessionClosed",
    "SessionFailed",
    "SessionInfo",
    "SessionReady",
    "SessionRole",
    "SessionState",
    "SessionStateChanged",
    "SessionStateName",
    "StatusChanged",
    "WrongInviteCode",
    "tune_client_gc",
]
