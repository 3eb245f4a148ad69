"""The lifecycle of a session: one state enum, one event enum, one transition table (DESIGN.md §8).

:data:`LIFECYCLE_TRANSITIONS` is the only place transitions live (STYLE.md rule 4)::

              CONNECT              CONNECTED               PEER_AUTHENTICATED
    CREATED ──────────► CONNECTING ──────────► CONNECTED ─────────────────────► CHATTING
                            │                   │     ▲ ◄─────────────────────── │  ▲
                            │   CONNECTION_LOST │     │      LAST_PEER_LEFT      │  │
                            │                   ▼     │ RECONNECTED              │  │
                            └─────────────────► RECONNECTING ◄───────────────────┘  │
                              CONNECTION_LOST       │           CONNECTION_LOST     │
                                                    └──────────── RESUMED ──────────┘

    CHATTING ── PEER_AUTHENTICATED ──► CHATTING              (another member joined)
    RECONNECTING ── CONNECTION_LOST ──► RECONNECTING          (an attempt dropped again)
    CREATED, CONNECTING, CONNECTED, CHATTING, RECONNECTING ── TTL_EXPIRED ──► EXPIRED    (final)
    CREATED, CONNECTING, CONNECTED, CHATTING, RECONNECTING ── DESTROY ──────► DESTROYED  (final)

The events, as the client feeds them:

- ``CONNECT``: the client starts joining the session at the relay.
- ``CONNECTED``: the relay confirmed the join.
- ``PEER_AUTHENTICATED``: a peer's identity bundle verified and the pairwise channel is up.
- ``LAST_PEER_LEFT``: no authenticated peer is left (the session waits for one again).
- ``CONNECTION_LOST``: the connection under the session dropped; the supervisor retries.
- ``RECONNECTED``: joined again after a reconnect, with no authenticated peer.
- ``RESUMED``: joined again after a reconnect, with authenticated peers still there (their
  channels survive a reconnect, so chatting resumes at once).
- ``TTL_EXPIRED``: the session TTL passed.
- ``DESTROY``: the user closed the session (its keys and messages are wiped).

A pair that is not in the table is local misuse and raises :class:`InvalidTransition`;
EXPIRED and DESTROYED accept no event at all (:data:`TERMINAL_STATES`).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from types import MappingProxyType
from typing import Final

__all__ = [
    "LIFECYCLE_TRANSITIONS",
    "TERMINAL_STATES",
    "InvalidTransition",
    "Lifecycle",
    "LifecycleEvent",
    "SessionState",
]


class SessionState(Enum):
    """Where a session is in its life (DESIGN.md §8)."""

    #: Made locally (an invite code or a call), not yet joined at the relay.
    CREATED = "created"
    #: Joining the session at the relay.
    CONNECTING = "connecting"
    #: Joined at the relay; no authenticated peer yet.
    CONNECTED = "connected"
    #: At least one authenticated peer: messages can flow.
    CHATTING = "chatting"
    #: The connection dropped; the supervisor is reconnecting.
    RECONNECTING = "reconnecting"
    #: The session TTL passed (final).
    EXPIRED = "expired"
    #: The session was closed and wiped (final).
    DESTROYED = "destroyed"


class LifecycleEvent(Enum):
    """What happened to a session; see the module docstring for when each is fed."""

    CONNECT = "connect"
    CONNECTED = "connected"
    PEER_AUTHENTICATED = "peer_authenticated"
    LAST_PEER_LEFT = "last_peer_left"
    CONNECTION_LOST = "connection_lost"
    RECONNECTED = "reconnected"
    RESUMED = "resumed"
    TTL_EXPIRED = "ttl_expired"
    DESTROY = "destroy"


_S: Final = SessionState
_E: Final = LifecycleEvent
_LIVE_STATES: Final = (_S.CREATED, _S.CONNECTING, _S.CONNECTED, _S.CHATTING, _S.RECONNECTING)

LIFECYCLE_TRANSITIONS: Final[Mapping[tuple[SessionState, LifecycleEvent], SessionState]] = (
    MappingProxyType(
        {
            (_S.CREATED, _E.CONNECT): _S.CONNECTING,
            (_S.CONNECTING, _E.CONNECTED): _S.CONNECTED,
            (_S.CONNECTING, _E.CONNECTION_LOST): _S.RECONNECTING,
            (_S.CONNECTED, _E.PEER_AUTHENTICATED): _S.CHATTING,
            (_S.CONNECTED, _E.CONNECTION_LOST): _S.RECONNECTING,
            (_S.CHATTING, _E.PEER_AUTHENTICATED): _S.CHATTING,
            (_S.CHATTING, _E.LAST_PEER_LEFT): _S.CONNECTED,
            (_S.CHATTING, _E.CONNECTION_LOST): _S.RECONNECTING,
            (_S.RECONNECTING, _E.CONNECTION_LOST): _S.RECONNECTING,
            (_S.RECONNECTING, _E.RECONNECTED): _S.CONNECTED,
            (_S.RECONNECTING, _E.RESUMED): _S.CHATTING,
            **{(state, _E.TTL_EXPIRED): _S.EXPIRED for state in _LIVE_STATES},
            **{(state, _E.DESTROY): _S.DESTROYED for state in _LIVE_STATES},
        }
    )
)
"""(state, event) -> next state: every allowed transition, and nothing else."""

TERMINAL_STATES: Final[frozenset[SessionState]] = frozenset(
    state
    for state in SessionState
    if not any((state, event) in LIFECYCLE_TRANSITIONS for event in LifecycleEvent)
)
"""States no event leaves (EXPIRED and DESTROYED), derived from the table."""


class InvalidTransition(ValueError):  # noqa: N818 - the name the design uses
    """An event that the table does not allow in the current state (local misuse).

    Attributes:
        state: the state the lifecycle was in (unchanged).
        event: the event that was refused.
    """

    def __init__(self, state: SessionState, event: LifecycleEvent) -> None:
        super().__init__(f"session lifecycle: event {event.name} is not allowed in {state.name}")
        self.state = state
        self.event = event


class Lifecycle:
    """The lifecycle state of one session, moved only by :data:`LIFECYCLE_TRANSITIONS`.

    Args:
        state: the state to start in (CREATED by default).
    """

    __slots__ = ("_state",)

    def __init__(self, state: SessionState = SessionState.CREATED) -> None:
        self._state = state

    @property
    def state(self) -> SessionState:
        """The current state."""
        return self._state

    @property
    def is_terminal(self) -> bool:
        """Whether the session is over (EXPIRED or DESTROYED): no event is accepted."""
        return self._state in TERMINAL_STATES

    def can_handle(self, event: LifecycleEvent) -> bool:
        """Whether :meth:`handle` would accept ``event`` in the current state."""
        return (self._state, event) in LIFECYCLE_TRANSITIONS

    def handle(self, event: LifecycleEvent) -> SessionState:
        """Move to the state the table gives for ``event`` in the current state.

        Returns:
            The new state (it may be the same, for a self-loop).

        Raises:
            InvalidTransition: the table has no entry for (state, event); the state is
                unchanged.
        """
        new_state = LIFECYCLE_TRANSITIONS.get((self._state, event))
        if new_state is None:
            raise InvalidTransition(self._state, event)
        self._state = new_state
        return new_state

    def __repr__(self) -> str:
        return f"Lifecycle({self._state.name})"
