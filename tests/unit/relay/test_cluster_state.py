"""The cluster mirror (quicko.relay.cluster.state) without Redis or a loop: two mirrors replay
each other's ops by hand."""

from __future__ import annotations

from quicko.relay.buffer import Receipt
from quicko.relay.calls import PendingCall
from quicko.relay.cluster import ClusterState
from quicko.relay.config import RelayConfig
from quicko.relay.connections import Connection

CONFIG = RelayConfig()
ALICE, BOB = b"A" * 16, b"B" * 16


def pair() -> tuple[ClusterState, ClusterState]:
    return ClusterState(CONFIG, "node-a"), ClusterState(CONFIG, "node-b")


def test_a_call_times_out_on_the_node_that_holds_its_caller() -> None:
    a, b = pair()
    a.calls.add(PendingCall(b"c" * 16, ALICE, BOB, 1_000))
    b.apply(a.take_outbox())
    alice_on_b = Connection(1, b"", 0)
    b.connections.bind(alice_on_b, ALICE)  # the caller moved to node B
    assert a.calls.pop_expired(1_000) is None  # not here any more: node A tells nobody
    expired = b.calls.pop_expired(1_000)
    assert expired is not None and expired.caller == ALICE  # node B tells it TIMEOUT
    assert len(a.calls) == 0 and len(b.calls) == 0


def test_buffer_ops_replayed_twice_hold_each_frame_once() -> None:
    a, b = pair()
    assert a.buffer.push(BOB, b"frame", 5_000, sender=ALICE)
    ops = a.take_outbox()
    b.apply(ops)
    b.apply(ops)  # published again: a node that missed the first copy (republish)
    assert len(b.buffer) == 1


def test_the_janitor_adopts_a_dead_nodes_receipts() -> None:
    a, b = pair()
    a.buffer.push(BOB, b"frame", 5_000, sender=ALICE)
    b.apply(a.take_outbox())
    made: list[tuple[bytes, bytes]] = []

    def receipt_for(data: bytes, sender: bytes) -> Receipt:
        made.append((data, sender))
        return Receipt(sender, b"expired-ack")

    b.node_died("node-a", janitor=True, receipt_for=receipt_for)
    assert made == [(b"frame", ALICE)]
    frame = b.buffer.pop_expired(5_000)
    assert frame is not None and frame.receipt is not None and frame.receipt.sender == ALICE


def test_a_snapshot_rebuilds_an_empty_mirror() -> None:
    a, b = pair()
    session = a.sessions.create(b"s" * 16, b"k" * 32, "src")
    a.sessions.claim(session, "K7QW", ALICE, "src")
    a.sessions.add_member(session, ALICE, "alice")
    a.connections.bind(Connection(1, b"", 0), ALICE)
    a.buffer.push(BOB, b"frame", 5_000, sender=ALICE)
    a.take_outbox()
    snapshot = a.snapshot()
    b.apply(snapshot)
    b.apply(snapshot)  # every node writes it: idempotent
    copy = b.sessions.by_nameplate("K7QW")
    assert copy is not None and copy.members == {ALICE: "alice"}
    assert b.connections.holders() == {ALICE: "node-a"}
    assert len(b.buffer) == 1


def test_a_deleted_sessions_nameplate_is_freed_by_an_op() -> None:
    a, _ = pair()
    session = a.sessions.create(b"s" * 16, b"k" * 32, "src")
    a.sessions.claim(session, "K7QW", ALICE, "src")
    a.sessions.add_member(session, ALICE, "alice")
    a.take_outbox()
    a.sessions.remove_member(session, ALICE)
    assert ["SR", b"s" * 16, "K7QW"] in a.take_outbox()
