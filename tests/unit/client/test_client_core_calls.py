"""Calls in the sans-I/O ClientCore, pumped against the real relay Router (no event loop).

Ringing, cancel, the ring time and the races between an answer and the call's end
(docs/protocol.md §4.8, §8.5), counted at the client's public events.
"""

from __future__ import annotations

import pytest
from core_pump import Device, Net

from quicko.client import models as m
from quicko.client.core import CALL_RING_MS
from quicko.errors import CallCancelledError, SessionError
from quicko.identity import format_quickokey
from quicko.protocol import CallResponse, CallStatus, LookupResponse, encode_frame
from quicko.session import OutgoingCall, verify_lookup


def registered_pair(net: Net) -> tuple[Device, Device]:
    """Alice registered in the directory, Bob who will call her; both online."""
    alice, bob = net.device("alice"), net.device("bob")
    net.connect(alice)
    net.connect(bob)
    alice.core.register_key(net.now)
    net.run()
    return alice, bob


def dial(net: Net, caller: Device, callee: Device) -> tuple[OutgoingCall, int]:
    """The caller looks the callee up and dials (as ``AsyncQuickoClient.call`` does)."""
    address = callee.core.identity.address
    looked = caller.core.lookup_key(address)
    net.run()
    response = caller.result(looked).result
    assert isinstance(response, LookupResponse)
    outgoing = OutgoingCall.dial(
        caller.core.identity, verify_lookup(response, address), caller.core._rng
    )
    op = caller.core.dial(outgoing)
    net.run()
    return outgoing, op


def test_the_caller_hears_ringing_and_the_callee_gets_the_ring_time() -> None:
    net = Net()
    alice, bob = registered_pair(net)
    outgoing, _ = dial(net, bob, alice)
    call_id = outgoing.call_id.hex()
    quickokey = format_quickokey(alice.core.identity.address)
    assert bob.of(m.CallRinging) == [m.CallRinging(call_id, quickokey)]
    [ring] = alice.of(m.IncomingCall)
    assert ring.call_id == call_id and ring.expires_ms == net.now + CALL_RING_MS
    assert alice.core.next_deadline() == ring.expires_ms


def test_a_cancel_ends_the_ring_at_once_and_fails_the_call() -> None:
    net = Net()
    alice, bob = registered_pair(net)
    outgoing, op = dial(net, bob, alice)
    call_id = outgoing.call_id.hex()
    bob.core.cancel_call(call_id)
    net.run()
    error = bob.result(op).error
    assert isinstance(error, CallCancelledError) and isinstance(error, SessionError)
    assert alice.of(m.CallEnded) == [m.CallEnded(call_id, "cancelled")]
    with pytest.raises(SessionError, match="the call has ended"):
        alice.core.answer_call(call_id, True, net.now)
    assert net.router.metrics.pending_calls == 0
    assert alice.core.sessions() == [] and bob.core.sessions() == []
    assert not alice.of(m.ClientError) and not bob.of(m.ClientError)
    bob.core.cancel_call(call_id)  # no longer ringing: nothing happens
    assert bob.core.data_to_send() == []


def test_the_relay_timeout_ends_both_sides_and_the_ring_time_is_enforced_locally() -> None:
    net = Net()
    alice, bob = registered_pair(net)
    outgoing, op = dial(net, bob, alice)
    call_id = outgoing.call_id.hex()
    net.advance(CALL_RING_MS)
    timeout = bob.result(op).result
    assert isinstance(timeout, CallResponse) and timeout.status == CallStatus.TIMEOUT
    assert alice.of(m.CallEnded) == [m.CallEnded(call_id, "timeout")]
    with pytest.raises(SessionError, match="the call has ended"):
        alice.core.answer_call(call_id, False, net.now)


def test_a_ring_ends_by_its_own_timer_when_no_timeout_arrives() -> None:
    net = Net()
    alice, bob = registered_pair(net)
    outgoing, _ = dial(net, bob, alice)
    net.disconnect(alice)  # the relay's TIMEOUT cannot reach her
    [ring] = alice.of(m.IncomingCall)
    alice.core.handle_timeout(ring.expires_ms - 1)
    assert alice.core.events() == []
    alice.core.handle_timeout(ring.expires_ms)
    assert alice.core.events() == [m.CallEnded(outgoing.call_id.hex(), "timeout")]


def test_an_answer_after_the_ring_time_is_refused_even_before_the_timer_ran() -> None:
    net = Net()
    alice, bob = registered_pair(net)
    outgoing, _ = dial(net, bob, alice)
    [ring] = alice.of(m.IncomingCall)
    with pytest.raises(SessionError, match="the call has ended"):
        alice.core.answer_call(ring.call_id, True, ring.expires_ms)
    assert alice.core.events() == [m.CallEnded(outgoing.call_id.hex(), "timeout")]
    assert alice.core.sessions() == []


def test_an_accept_that_crossed_the_cancel_is_hung_up_and_the_callee_told() -> None:
    net = Net()
    alice, bob = registered_pair(net)
    outgoing, op = dial(net, bob, alice)
    call_id = outgoing.call_id.hex()
    # Alice accepts and Bob cancels at the same moment; the relay takes her answer first (it
    # forwards it to Bob and forgets the call), then refuses his cancel with NOT_PENDING.
    info = alice.core.answer_call(call_id, True, net.now)
    assert info is not None
    bob.core.cancel_call(call_id)
    net.run()
    assert isinstance(bob.result(op).error, CallCancelledError)
    assert bob.core.sessions() == []  # Bob never shows the call's session ...
    assert not bob.of(m.SessionReady) and not bob.of(m.ClientError)
    # ... but joined it and left at once, so Alice is told instead of waiting in a dead chat.
    assert [event.reason for event in alice.of(m.PeerLeft)] == ["left"]
    assert not alice.of(m.ClientError)


def test_an_accept_that_lost_to_the_cancel_closes_the_callee_session() -> None:
    net = Net()
    alice, bob = registered_pair(net)
    outgoing, op = dial(net, bob, alice)
    call_id = outgoing.call_id.hex()
    # Alice accepts while Bob's cancel is already on its way: the relay takes the cancel
    # first (forwarded to Alice), then refuses her answer with NOT_PENDING.
    info = alice.core.answer_call(call_id, True, net.now)
    assert info is not None
    bob.core.cancel_call(call_id)
    assert bob.conn is not None
    for payload in bob.core.data_to_send():
        net._apply(net.router.receive(bob.conn, encode_frame(payload), net.now))
    net.run()
    assert isinstance(bob.result(op).error, CallCancelledError)
    assert alice.of(m.CallEnded) == [m.CallEnded(call_id, "cancelled")]
    [failed] = alice.of(m.SessionFailed)
    assert failed.session_id == info.session_id and "stopped calling" in failed.reason
    assert alice.core.sessions() == []
    assert not alice.of(m.ClientError) and not bob.of(m.ClientError)
