from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quicko.session.lifecycle import (
    LIFECYCLE_TRANSITIONS,
    TERMINAL_STATES,
    InvalidTransition,
    Lifecycle,
    LifecycleEvent,
    SessionState,
)

S = SessionState
E = LifecycleEvent
LIVE = [S.CREATED, S.CONNECTING, S.CONNECTED, S.CHATTING, S.RECONNECTING]

# Written out independently of the module: the designed table, in full.
EXPECTED: dict[tuple[SessionState, LifecycleEvent], SessionState] = {
    (S.CREATED, E.CONNECT): S.CONNECTING,
    (S.CONNECTING, E.CONNECTED): S.CONNECTED,
    (S.CONNECTING, E.CONNECTION_LOST): S.RECONNECTING,
    (S.CONNECTED, E.PEER_AUTHENTICATED): S.CHATTING,
    (S.CONNECTED, E.CONNECTION_LOST): S.RECONNECTING,
    (S.CHATTING, E.PEER_AUTHENTICATED): S.CHATTING,
    (S.CHATTING, E.LAST_PEER_LEFT): S.CONNECTED,
    (S.CHATTING, E.CONNECTION_LOST): S.RECONNECTING,
    (S.RECONNECTING, E.CONNECTION_LOST): S.RECONNECTING,
    (S.RECONNECTING, E.RECONNECTED): S.CONNECTED,
    (S.RECONNECTING, E.RESUMED): S.CHATTING,
}
for _state in LIVE:
    EXPECTED[_state, E.TTL_EXPIRED] = S.EXPIRED
    EXPECTED[_state, E.DESTROY] = S.DESTROYED

ALL_PAIRS = list(itertools.product(SessionState, LifecycleEvent))


def test_the_table_is_exactly_the_design() -> None:
    assert dict(LIFECYCLE_TRANSITIONS) == EXPECTED
    assert len(ALL_PAIRS) == 63
    assert len(EXPECTED) == 21


def test_the_table_is_read_only() -> None:
    with pytest.raises(TypeError):
        LIFECYCLE_TRANSITIONS[S.EXPIRED, E.CONNECT] = S.CREATED  # type: ignore[index]


def test_terminal_states() -> None:
    assert {S.EXPIRED, S.DESTROYED} == TERMINAL_STATES


@pytest.mark.parametrize(("state", "event"), ALL_PAIRS, ids=lambda x: x.name)
def test_every_pair_moves_by_the_table_or_raises(
    state: SessionState, event: LifecycleEvent
) -> None:
    lifecycle = Lifecycle(state)
    expected = EXPECTED.get((state, event))
    assert lifecycle.can_handle(event) is (expected is not None)
    if expected is None:
        with pytest.raises(InvalidTransition) as info:
            lifecycle.handle(event)
        assert isinstance(info.value, ValueError)
        assert info.value.state is state
        assert info.value.event is event
        assert state.name in str(info.value)
        assert event.name in str(info.value)
        assert lifecycle.state is state  # unchanged
    else:
        assert lifecycle.handle(event) is expected
        assert lifecycle.state is expected


def test_a_whole_life() -> None:
    lifecycle = Lifecycle()
    assert lifecycle.state is S.CREATED
    assert not Lifecycle().is_terminal
    steps = [
        (E.CONNECT, S.CONNECTING),
        (E.CONNECTED, S.CONNECTED),
        (E.PEER_AUTHENTICATED, S.CHATTING),
        (E.PEER_AUTHENTICATED, S.CHATTING),  # a third member
        (E.CONNECTION_LOST, S.RECONNECTING),
        (E.CONNECTION_LOST, S.RECONNECTING),  # the first attempt dropped too
        (E.RESUMED, S.CHATTING),
        (E.LAST_PEER_LEFT, S.CONNECTED),
        (E.CONNECTION_LOST, S.RECONNECTING),
        (E.RECONNECTED, S.CONNECTED),
        (E.DESTROY, S.DESTROYED),
    ]
    for event, state in steps:
        assert lifecycle.handle(event) is state
    assert lifecycle.is_terminal
    assert repr(lifecycle) == "Lifecycle(DESTROYED)"
    for event in LifecycleEvent:
        assert not lifecycle.can_handle(event)


@given(st.lists(st.sampled_from(LifecycleEvent), max_size=40))
def test_random_event_sequences_follow_the_table(events: list[LifecycleEvent]) -> None:
    lifecycle = Lifecycle()
    for event in events:
        before = lifecycle.state
        try:
            after = lifecycle.handle(event)
        except InvalidTransition:
            assert (before, event) not in EXPECTED
            assert lifecycle.state is before
        else:
            assert after is EXPECTED[before, event]
        if before in TERMINAL_STATES:
            assert lifecycle.state is before  # nothing leaves a final state
