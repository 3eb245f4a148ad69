"""Retrying a failed message, the reasons of FAILED, and the typed connection events.

The sans-I/O ClientCore against the real relay Router (:mod:`core_pump`), no event loop.
"""

from __future__ import annotations

import pytest
from core_pump import Device, Net, chat

from quicko.client import models as m
from quicko.client.events import DisconnectReason
from quicko.errors import SessionError
from quicko.messaging import DeliveryStatus
from quicko.protocol import Error, ErrorCode, MessageType, encode_frame


def send_only(net: Net, device: Device) -> None:
    """Hand one device's frames to the relay now (the others' wait)."""
    assert device.conn is not None
    for payload in device.core.data_to_send():
        net._apply(net.router.receive(device.conn, encode_frame(payload), net.now))
    device.events += device.core.events()


def statuses(device: Device, message_id: bytes) -> list[tuple[DeliveryStatus, str]]:
    return [
        (event.status, event.reason)
        for event in device.of(m.StatusChanged)
        if event.message_id == message_id.hex()
    ]


def refuse(device: Device, message_id: bytes, net: Net, code: ErrorCode) -> None:
    """The relay refuses one of the device's messages for good."""
    error = Error(int(code), "refused", int(MessageType.MESSAGE), message_id)
    device.core.receive(error, net.now)
    device.events += device.core.events()


def test_a_failed_message_says_why_and_is_sent_again_under_its_id() -> None:
    net = Net()
    alice, bob, sid = chat(net)
    message = alice.core.send_text(sid, "hello", net.now)
    mid = message.message_id
    send_only(net, alice)  # Bob has it; his receipt has not left yet
    assert bob.texts() == ["hello"]
    refuse(alice, mid, net, ErrorCode.TOO_LARGE)
    failed = (DeliveryStatus.FAILED, "the relay refused it: TOO_LARGE")
    assert statuses(alice, mid)[-1] == failed
    net.run()  # Bob's DELIVERED comes too late: FAILED stays (a final status)
    assert alice.core.status(sid, mid.hex()) is DeliveryStatus.FAILED

    again = alice.core.retry_message(sid, mid.hex(), net.now)
    assert again.message_id == mid and again.text == "hello"
    assert again.status is DeliveryStatus.PENDING
    assert [msg.status for msg in alice.core.messages(sid)] == [DeliveryStatus.PENDING]
    net.run()
    # Bob drops the copy as a duplicate and repeats his receipt: shown once, DELIVERED.
    assert bob.texts() == ["hello"]
    seen = statuses(alice, mid)
    after = seen[seen.index(failed) + 1 :]
    assert after[0] == (DeliveryStatus.PENDING, "")
    assert after[-1] == (DeliveryStatus.DELIVERED, "")
    [stored] = alice.core.messages(sid)
    assert stored.status is DeliveryStatus.DELIVERED


def test_a_retried_message_the_peer_never_had_is_shown_once() -> None:
    net = Net()
    alice, bob, sid = chat(net)
    net.blackhole(bob)
    message = alice.core.send_text(sid, "lost", net.now)
    net.run()
    refuse(alice, message.message_id, net, ErrorCode.MALFORMED)
    bob.dead = False  # his link works again
    alice.core.retry_message(sid, message.message_id.hex(), net.now)
    net.run()
    assert bob.texts() == ["lost"]
    assert alice.core.status(sid, message.message_id.hex()) is DeliveryStatus.DELIVERED


def test_only_a_failed_message_can_be_retried() -> None:
    net = Net()
    alice, _, sid = chat(net)
    message = alice.core.send_text(sid, "fine", net.now)
    net.run()
    with pytest.raises(SessionError, match="only a message that failed"):
        alice.core.retry_message(sid, message.message_id.hex(), net.now)
    with pytest.raises(SessionError, match="only a message that failed"):
        alice.core.retry_message(sid, "ab" * 16, net.now)
    with pytest.raises(SessionError, match="not a valid message id"):
        alice.core.retry_message(sid, "not hex", net.now)
    with pytest.raises(SessionError, match="unknown session"):
        alice.core.retry_message("cd" * 16, message.message_id.hex(), net.now)


def test_a_peer_that_left_fails_its_messages_with_that_reason() -> None:
    net = Net()
    alice, bob, sid = chat(net)
    net.blackhole(bob)
    message = alice.core.send_text(sid, "after you left", net.now)
    net.run()
    bob.dead = False
    net.ping(bob)
    bob.core.leave_session(sid, net.now)  # his own encrypted LEAVE
    net.run()
    assert statuses(alice, message.message_id)[-1] == (DeliveryStatus.FAILED, "the peer left")
    with pytest.raises(SessionError, match="no authenticated peer"):
        alice.core.retry_message(sid, message.message_id.hex(), net.now)


def test_disconnected_carries_its_code_and_states_are_typed() -> None:
    net = Net()
    alice, _, sid = chat(net)
    alice.core.connection_lost("no pong", net.now, code=DisconnectReason.PING_TIMEOUT)
    event = next(e for e in alice.core.events() if isinstance(e, m.Disconnected))
    assert event == m.Disconnected("no pong", True, DisconnectReason.PING_TIMEOUT)
    assert event.code is DisconnectReason.PING_TIMEOUT and str(event.code) == "ping_timeout"
    [info] = alice.core.sessions()
    assert info.state == "reconnecting"
    assert m.SessionState(info.state) is m.SessionState.RECONNECTING
    assert info.role == "creator"
    assert {state.value for state in m.SessionState} == set(
        m.SessionStateName.__args__  # type: ignore[attr-defined]  # a Literal's values
    )
    assert sid == info.session_id


def test_relay_url_is_canonical() -> None:
    net = Net()
    alice = net.device("alice")
    assert alice.core.relay_url == "ws://127.0.0.1:9900"
