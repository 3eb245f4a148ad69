"""The sans-I/O ClientCore, pumped against the real relay Router: no event loop, no sockets.

Each test drives cores and the router through :mod:`core_pump` on a fixed clock, and counts at
the client's public event vocabulary: texts shown exactly once, and sender statuses that are
true (DELIVERED or READ for what arrived, FAILED only for what cannot).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import pytest
from core_pump import Device, Net, chat

from quicko.client import models as m
from quicko.client.compiled import is_compiled
from quicko.client.core import ClientCore
from quicko.errors import ConnectionClosedError, SessionError
from quicko.messaging import DeliveryStatus
from quicko.protocol import (
    Ack,
    CallResponse,
    Join,
    LookupResponse,
    Message,
    Payload,
    RegisterAck,
    decode_frame,
    encode_frame,
)
from quicko.relay.router import Send
from quicko.session import OutgoingCall, Session, verify_lookup
from quicko.session.delivery import RETRY_INITIAL_MS


def final_status(device: Device, message_id: bytes) -> DeliveryStatus | None:
    changes = [e.status for e in device.of(m.StatusChanged) if e.message_id == message_id.hex()]
    return changes[-1] if changes else None


def test_create_and_join_through_the_router() -> None:
    net = Net()
    alice, bob, sid = chat(net)
    for device in (alice, bob):
        [ready] = device.of(m.SessionReady)
        assert ready.session.session_id == sid
        assert device.core.sessions()[0].state == "chatting"
    assert [e.state for e in alice.of(m.SessionStateChanged)] == ["connecting", "connected",
                                                                  "chatting"]  # fmt: skip
    assert not alice.of(m.ClientError) and not bob.of(m.ClientError)


def test_a_text_is_delivered_then_read_and_shown_once() -> None:
    net = Net()
    alice, bob, sid = chat(net)
    message = alice.core.send_text(sid, "hello", net.now)
    net.run()
    assert bob.texts() == ["hello"]
    assert final_status(alice, message.message_id) is DeliveryStatus.DELIVERED
    bob.core.mark_read(sid, [message.message_id.hex()], net.now)
    net.run()
    assert final_status(alice, message.message_id) is DeliveryStatus.READ
    assert alice.core.status(sid, message.message_id.hex()) is DeliveryStatus.READ


def test_every_join_carries_a_proof_for_its_own_connection() -> None:
    net = Net()
    alice, _bob, sid = chat(net)
    net.disconnect(alice)
    assert alice.core.data_to_send() == []  # nothing for a link that is down
    net.connect(alice)
    joins = [p for p in alice.core.data_to_send() if isinstance(p, Join)]
    assert [j.session_id.hex() for j in joins] == [sid] and len(joins[0].proof) == 64
    alice.core.connection_lost("again", net.now)
    alice.core.events()
    net.connect(alice)  # a new Challenge: the new Join is signed over it
    net.run()
    assert alice.core.sessions()[0].state == "chatting"
    assert not alice.of(m.ClientError)


def test_sending_needs_no_connection_and_an_outage_fails_nothing() -> None:
    net = Net()
    alice, bob, sid = chat(net)
    net.disconnect(alice)
    sent = [alice.core.send_text(sid, f"offline {n}", net.now) for n in range(5)]
    net.run()
    assert bob.texts() == []
    assert alice.core.sessions()[0].state == "reconnecting"
    net.advance(30_000)
    net.ping(bob)
    net.connect(alice)
    net.run()
    assert sorted(bob.texts()) == sorted(f"offline {n}" for n in range(5))
    assert all(final_status(alice, s.message_id) is DeliveryStatus.DELIVERED for s in sent)
    assert not any(e.status is DeliveryStatus.FAILED for e in alice.of(m.StatusChanged))


def test_a_lost_text_is_resent_on_its_timer_without_any_reconnect() -> None:
    net = Net()
    alice, bob, sid = chat(net)
    message = alice.core.send_text(sid, "lost once", net.now)
    [frame] = [p for p in alice.core.data_to_send() if isinstance(p, Message)]
    del frame  # lost on the way (a burst dropped, a dead flow): the relay never saw it
    net.run()
    assert bob.texts() == []
    net.advance(RETRY_INITIAL_MS)
    assert bob.texts() == ["lost once"]
    assert final_status(alice, message.message_id) is DeliveryStatus.DELIVERED


def test_a_path_change_redelivers_what_the_dead_flow_swallowed() -> None:
    net = Net()
    alice, bob, sid = chat(net)
    net.blackhole(bob)  # the relay keeps writing into Bob's dead flow
    sent = [alice.core.send_text(sid, f"into the void {n}", net.now) for n in range(3)]
    net.run()
    assert bob.texts() == []
    assert all(final_status(alice, s.message_id) is DeliveryStatus.SENT for s in sent)
    net.path_change(bob)  # a new flow: the relay re-delivers the unacknowledged frames
    net.run()
    assert sorted(bob.texts()) == sorted(f"into the void {n}" for n in range(3))
    assert all(final_status(alice, s.message_id) is DeliveryStatus.DELIVERED for s in sent)


def test_a_read_receipt_lost_on_a_dead_link_is_repaired() -> None:
    net = Net()
    alice, bob, sid = chat(net)
    message = alice.core.send_text(sid, "read me", net.now)
    net.run()
    net.blackhole(bob)
    bob.core.mark_read(sid, [message.message_id.hex()], net.now)
    net.run()  # the READ receipt went into the dead flow
    assert final_status(alice, message.message_id) is DeliveryStatus.DELIVERED
    net.path_change(bob)  # not acknowledged by the relay: sent again after the re-join
    net.run()
    assert final_status(alice, message.message_id) is DeliveryStatus.READ


def test_an_outage_longer_than_the_relay_buffer_fails_nothing() -> None:
    config = dataclasses.replace(Net().config, buffer_ttl_s=5.0)
    net = Net(config)
    alice, bob, sid = chat(net)
    net.disconnect(bob)
    sent = [alice.core.send_text(sid, f"while away {n}", net.now) for n in range(3)]
    net.run()
    for _ in range(12):  # a minute away, far past the relay's 5 s buffer
        net.advance(5_000)
        net.ping(alice)
    assert not any(e.status is DeliveryStatus.FAILED for e in alice.of(m.StatusChanged))
    net.connect(bob)
    net.run()
    net.advance(RETRY_INITIAL_MS)
    assert sorted(bob.texts()) == sorted(f"while away {n}" for n in range(3))
    assert all(final_status(alice, s.message_id) is DeliveryStatus.DELIVERED for s in sent)


def test_register_lookup_and_a_call_are_matched_to_their_operations() -> None:
    net = Net()
    alice, bob = net.device("alice"), net.device("bob")
    net.connect(alice)
    net.connect(bob)
    registered = alice.core.register_key(net.now)
    net.run()
    ack = alice.result(registered).result
    assert isinstance(ack, RegisterAck) and ack.registered
    address = alice.core.identity.address
    looked = bob.core.lookup_key(address)
    net.run()
    response = bob.result(looked).result
    assert isinstance(response, LookupResponse) and response.found
    outgoing = OutgoingCall.dial(bob.core.identity, verify_lookup(response, address),
                                 bob.core._rng)  # fmt: skip
    dialled = bob.core.dial(outgoing)
    net.run()
    [incoming] = alice.of(m.IncomingCall)
    info = alice.core.answer_call(incoming.call_id, True, net.now)
    net.run()
    answer = bob.result(dialled).result
    assert isinstance(answer, CallResponse) and info is not None
    session = outgoing.complete(answer, bob.core.identity, bob.core._rng, net.now)
    bob.core.open_call(session, "caller", net.now)
    net.run()
    bob.core.send_text(info.session_id, "over the call", net.now)
    net.run()
    assert alice.texts() == ["over the call"]


def test_operations_need_a_link_and_fail_when_it_drops() -> None:
    net = Net()
    alice = net.device("alice")
    with pytest.raises(ConnectionClosedError):
        alice.core.register_key(net.now)
    net.connect(alice)
    op = alice.core.lookup_key(b"\x01" * 16)
    alice.core.connection_lost("gone", net.now)
    [done] = alice.core.completions()
    assert done.op == op and isinstance(done.error, ConnectionClosedError)
    events = alice.core.events()
    assert m.Disconnected("gone", True) in events


def test_a_wrong_code_fails_the_join_operation() -> None:
    net = Net()
    alice, bob = net.device("alice"), net.device("bob")
    net.connect(alice)
    net.connect(bob)
    info, _ = alice.core.create_session(net.now)
    net.run()
    assert info.invite_code is not None
    nameplate = info.invite_code.split("-")[0]
    wrong = nameplate + "-" + ("AAAA" if not info.invite_code.endswith("AAAA") else "BBBB")
    op = bob.core.join_session(wrong, net.now)
    net.run()
    done = bob.result(op)
    assert isinstance(done.error, SessionError)
    assert bob.core.sessions() == []


def test_unknown_sessions_and_bad_ids_are_refused() -> None:
    core = ClientCore(Net().device("x").core.identity, lambda n: b"\x07" * n,
                      relay_url="ws://127.0.0.1:9900")  # fmt: skip
    with pytest.raises(SessionError):
        core.send_text("00" * 16, "x", 0)
    with pytest.raises(SessionError):
        core.get("not hex")
    assert core.next_deadline() is None and core.data_to_send() == []


def test_frames_read_together_are_receipted_together() -> None:
    # The I/O shell hands the frames of one read to receive_batch: every text is stored and
    # shown once, and Bob answers them with one RECEIPT (docs/protocol.md §10.2).
    net = Net()
    alice, bob, sid = chat(net)
    sent = [alice.core.send_text(sid, f"m{n}", net.now) for n in range(5)]
    assert alice.conn is not None and bob.conn is not None
    actions = [
        action
        for payload in alice.core.data_to_send()
        for action in net.router.receive(alice.conn, encode_frame(payload), net.now)
    ]
    to_bob = [decode_frame(a.data) for a in actions if isinstance(a, Send) and a.conn == bob.conn]
    assert sum(isinstance(p, Message) for p in to_bob) == 5
    bob.received += len(to_bob)
    bob.core.receive_batch(to_bob, net.now)
    out = bob.core.data_to_send()
    assert sum(isinstance(p, Message) for p in out) == 1
    for payload in out:
        net._apply(net.router.receive(bob.conn, encode_frame(payload), net.now))
    net._apply([a for a in actions if not (isinstance(a, Send) and a.conn == bob.conn)])
    net.run()
    assert bob.texts() == [f"m{n}" for n in range(5)]
    assert all(final_status(alice, m.message_id) is DeliveryStatus.DELIVERED for m in sent)


@pytest.mark.skipif(
    is_compiled("quicko.client.core"),
    reason="compiled (mypyc), ClientCore calls Session.receive directly: patching the class "
    "cannot inject the fault",
)
def test_a_frame_whose_handling_fails_does_not_cost_the_rest_of_the_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A bug while handling one frame of a read used to drop every later frame of that read.
    net = Net()
    alice, bob, sid = chat(net)
    sent = [alice.core.send_text(sid, f"m{n}", net.now) for n in range(4)]
    assert alice.conn is not None and bob.conn is not None
    actions = _route(net, alice, alice.core.data_to_send())
    to_bob = _to(actions, bob)
    assert sum(isinstance(p, Message) for p in to_bob) == 4
    buggy = sent[1].message_id
    receive = Session.receive

    def failing(self: Session, payload: Payload, now_ms: int) -> None:
        if isinstance(payload, Message) and payload.message_id == buggy:
            raise RuntimeError("a bug")
        receive(self, payload, now_ms)

    monkeypatch.setattr(Session, "receive", failing)
    bob.received += len(to_bob)
    with pytest.raises(RuntimeError, match="a bug"):
        bob.core.receive_batch(to_bob, net.now)
    bob.events += bob.core.events()
    assert bob.texts() == ["m0", "m2", "m3"]  # the later frames of the read were handled


def _to(actions: Sequence[object], device: Device) -> list[Payload]:
    return [decode_frame(a.data) for a in actions if isinstance(a, Send) and a.conn == device.conn]


def _route(net: Net, sender: Device, payloads: Sequence[Payload]) -> list[object]:
    assert sender.conn is not None
    return [
        action
        for payload in payloads
        for action in net.router.receive(sender.conn, encode_frame(payload), net.now)
    ]


@pytest.mark.parametrize("receipt_first", [False, True])
def test_sent_is_not_shown_when_delivered_comes_in_the_same_read(receipt_first: bool) -> None:
    # Alice reads the relay's Acks and Bob's receipt together: the DELIVERED that follows in
    # the batch says the texts were sent, so no SENT is shown; the store goes PENDING →
    # DELIVERED in one step and every status shown moved forward and is the true one.
    net = Net()
    alice, bob, sid = chat(net)
    sent = [alice.core.send_text(sid, f"m{n}", net.now) for n in range(3)]
    alice.events += alice.core.events()
    to_alice = _route(net, alice, alice.core.data_to_send())
    acks = _to(to_alice, alice)
    assert [type(p) for p in acks] == [Ack] * 3
    to_bob = _to(to_alice, bob)
    bob.received += len(to_bob)
    bob.core.receive_batch(to_bob, net.now)
    receipts = _to(_route(net, bob, bob.core.data_to_send()), alice)
    assert [type(p) for p in receipts] == [Message]
    alice.received += 4
    alice.core.receive_batch([*receipts, *acks] if receipt_first else [*acks, *receipts], net.now)
    alice.events += alice.core.events()
    for message in sent:
        shown = [
            e.status for e in alice.of(m.StatusChanged) if e.message_id == message.message_id.hex()
        ]
        assert shown == [DeliveryStatus.DELIVERED]
        [stored] = [s for s in alice.core.messages(sid) if s.message_id == message.message_id]
        assert stored.status is DeliveryStatus.DELIVERED
    net.run()
    assert bob.texts() == ["m0", "m1", "m2"]


def test_sent_is_shown_when_the_receipt_comes_in_a_later_read() -> None:
    net = Net()
    alice, _bob, sid = chat(net)
    message = alice.core.send_text(sid, "hello", net.now)
    to_alice = _route(net, alice, alice.core.data_to_send())
    alice.core.receive_batch(_to(to_alice, alice), net.now)  # the Ack alone
    alice.events += alice.core.events()
    assert final_status(alice, message.message_id) is DeliveryStatus.SENT
    net._apply([a for a in to_alice if not (isinstance(a, Send) and a.conn == alice.conn)])
    net.run()
    shown = [
        e.status for e in alice.of(m.StatusChanged) if e.message_id == message.message_id.hex()
    ]
    assert shown == [DeliveryStatus.SENT, DeliveryStatus.DELIVERED]
