from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

import quicko.store as store_package
from quicko.messaging.message import ChatMessage
from quicko.messaging.status import FINAL_STATUSES, DeliveryStatus
from quicko.store.ephemeral import DEFAULT_STORE_CAPACITY, DEFAULT_STORE_TTL_MS, EphemeralStore

SID = bytes(range(16))
OTHER_SID = bytes(range(1, 17))
SECRET = "the launch code is 0000"


SENDER = b"\xaa" * 16


def mid(n: int) -> bytes:
    return n.to_bytes(16, "big")


def key(n: int) -> tuple[bytes, bytes]:
    return (SENDER, mid(n))


def message(
    n: int,
    *,
    session_id: bytes = SID,
    status: DeliveryStatus = DeliveryStatus.PENDING,
    text: str = SECRET,
) -> ChatMessage:
    return ChatMessage(
        message_id=mid(n),
        session_id=session_id,
        sender=SENDER,
        sender_name="Swift Falcon #7A3F",
        text=text,
        timestamp_ms=0,
        outgoing=True,
        status=status,
    )


def test_defaults() -> None:
    store = EphemeralStore(SID)
    assert store.session_id == SID
    assert store.capacity == DEFAULT_STORE_CAPACITY == 1_000
    assert store.ttl_ms == DEFAULT_STORE_TTL_MS == 3_600_000
    assert len(store) == 0
    assert store.next_deadline() is None


@pytest.mark.parametrize(("capacity", "ttl_ms"), [(0, 10), (10, 0), (-1, -1)])
def test_arguments_must_be_positive(capacity: int, ttl_ms: int) -> None:
    with pytest.raises(ValueError, match="must be at least 1"):
        EphemeralStore(SID, capacity=capacity, ttl_ms=ttl_ms)


def test_add_get_and_arrival_order() -> None:
    store = EphemeralStore(SID, capacity=10, ttl_ms=100)
    for n in (3, 1, 2):
        assert store.add(message(n), now_ms=n) == []
    assert [m.message_id for m in store.messages()] == [mid(3), mid(1), mid(2)]
    assert [m.message_id for m in store] == [mid(3), mid(1), mid(2)]
    assert store.get(SENDER, mid(1)) == message(1)
    assert store.get(SENDER, mid(9)) is None
    assert key(2) in store
    assert mid(2) not in store  # a bare id is not a key
    assert len(store) == 3


def test_full_store_evicts_the_oldest() -> None:
    store = EphemeralStore(SID, capacity=2, ttl_ms=100)
    store.add(message(0), 0)
    store.add(message(1), 0)
    assert store.add(message(2), 0) == [key(0)]
    assert store.get(SENDER, mid(0)) is None
    assert [m.message_id for m in store.messages()] == [mid(1), mid(2)]


def test_add_refuses_another_session_and_a_stored_id() -> None:
    store = EphemeralStore(SID, capacity=5, ttl_ms=100)
    with pytest.raises(ValueError, match="another session"):
        store.add(message(0, session_id=OTHER_SID), 0)
    store.add(message(0), 0)
    with pytest.raises(ValueError, match="already stored"):
        store.add(message(0, text="a forged duplicate"), 0)
    assert store.get(SENDER, mid(0)) == message(0)


def test_two_senders_may_use_the_same_id() -> None:
    # Issue 8, finding 6: keyed by id alone, a member reusing another member's id hid that
    # member's message. Keyed by (sender, id), both are kept and updated separately.
    store = EphemeralStore(SID, capacity=5, ttl_ms=100)
    mallory = dataclasses.replace(message(0, text="decoy"), sender=b"\x66" * 16)
    store.add(mallory, 0)
    store.add(message(0), 1)
    assert [m.text for m in store] == ["decoy", SECRET]
    assert store.get(SENDER, mid(0)) == message(0)
    assert store.get(b"\x66" * 16, mid(0)) == mallory
    assert store.update_status(SENDER, mid(0), DeliveryStatus.SENT) is not None
    assert store.get(b"\x66" * 16, mid(0)) == mallory  # the other sender's is untouched


def test_update_status_uses_the_transition_table() -> None:
    store = EphemeralStore(SID, capacity=5, ttl_ms=100)
    store.add(message(0), 0)
    store.add(message(1), 0)
    sent = store.update_status(SENDER, mid(0), DeliveryStatus.SENT)
    assert sent is not None
    assert sent.status is DeliveryStatus.SENT
    assert store.get(SENDER, mid(0)) == sent
    assert store.update_status(SENDER, mid(0), DeliveryStatus.SENT) is None  # duplicate Ack
    read = store.update_status(SENDER, mid(0), DeliveryStatus.READ)
    assert read is not None
    assert read.status is DeliveryStatus.READ
    assert store.update_status(SENDER, mid(0), DeliveryStatus.DELIVERED) is None  # late receipt
    assert store.update_status(SENDER, mid(0), DeliveryStatus.FAILED) is None
    assert store.get(SENDER, mid(0)) == read
    # The update kept the message's place in the arrival order.
    assert [m.message_id for m in store.messages()] == [mid(0), mid(1)]


def test_advance_status_is_recorded_in_place_forward_only_and_read_back() -> None:
    # The Ack and the receipt of a message we sent change its status without rebuilding the
    # message; whoever reads it (get, messages, update_status, retry) sees the latest status.
    store = EphemeralStore(SID, capacity=5, ttl_ms=100)
    stored = message(0)
    store.add(stored, 0)
    assert store.advance_status(SENDER, mid(0), DeliveryStatus.SENT)
    assert not store.advance_status(SENDER, mid(0), DeliveryStatus.SENT)  # duplicate Ack
    assert store.advance_status(SENDER, mid(0), DeliveryStatus.DELIVERED)
    assert not store.advance_status(SENDER, mid(0), DeliveryStatus.SENT)  # never backwards
    assert not store.advance_status(SENDER, mid(9), DeliveryStatus.SENT)  # not stored
    assert store.messages() == [stored.with_status(DeliveryStatus.DELIVERED)]
    assert store.advance_status(SENDER, mid(0), DeliveryStatus.READ)
    assert store.get(SENDER, mid(0)) == stored.with_status(DeliveryStatus.READ)
    assert store.update_status(SENDER, mid(0), DeliveryStatus.DELIVERED) is None
    store.add(message(1), 0)
    assert store.advance_status(SENDER, mid(1), DeliveryStatus.FAILED)
    retried = store.retry(SENDER, mid(1))  # FAILED, though not rebuilt yet
    assert retried is not None and retried.status is DeliveryStatus.PENDING
    assert store.get(SENDER, mid(1)) == retried


def test_a_status_recorded_in_place_leaves_with_its_message() -> None:
    # Evicted, expired or wiped: the next message under the same key starts from its own.
    store = EphemeralStore(SID, capacity=1, ttl_ms=100)
    store.add(message(0), 0)
    store.advance_status(SENDER, mid(0), DeliveryStatus.SENT)
    assert store.add(message(1), 0) == [key(0)]  # evicted
    store.advance_status(SENDER, mid(1), DeliveryStatus.SENT)
    assert store.purge_expired(100) == [key(1)]  # expired
    store.add(message(0), 100)
    assert store.get(SENDER, mid(0)) == message(0)
    store.advance_status(SENDER, mid(0), DeliveryStatus.DELIVERED)
    store.wipe()
    store.add(message(0), 200)
    assert store.messages() == [message(0)]


def test_update_status_of_an_unknown_id_changes_nothing() -> None:
    store = EphemeralStore(SID, capacity=5, ttl_ms=100)
    assert store.update_status(SENDER, mid(7), DeliveryStatus.DELIVERED) is None
    assert len(store) == 0


def test_update_keeps_the_time_of_arrival() -> None:
    store = EphemeralStore(SID, capacity=5, ttl_ms=100)
    store.add(message(0), 1_000)
    store.update_status(SENDER, mid(0), DeliveryStatus.SENT)
    assert store.next_deadline() == 1_100
    assert store.purge_expired(1_100) == [key(0)]


def test_purge_expired() -> None:
    store = EphemeralStore(SID, capacity=5, ttl_ms=100)
    store.add(message(0), 1_000)
    store.add(message(1), 1_040)
    assert store.next_deadline() == 1_100
    assert store.purge_expired(1_099) == []
    assert store.purge_expired(1_100) == [key(0)]
    assert store.next_deadline() == 1_140
    assert store.purge_expired(5_000) == [key(1)]
    assert store.purge_expired(6_000) == []
    assert store.next_deadline() is None


def test_the_ttl_counts_from_local_arrival_not_the_peers_timestamp() -> None:
    store = EphemeralStore(SID, capacity=5, ttl_ms=100)
    old = ChatMessage(mid(0), SID, b"p" * 16, "Peer", "hi", 0, False, DeliveryStatus.DELIVERED)
    store.add(old, 1_000_000)
    assert store.purge_expired(1_000_099) == []


def test_clock_going_back_counts_from_the_latest_arrival() -> None:
    store = EphemeralStore(SID, capacity=5, ttl_ms=100)
    store.add(message(0), 1_000)
    store.add(message(1), 10)
    assert store.purge_expired(200) == []
    assert store.purge_expired(1_100) == [key(0), key(1)]


def test_wipe() -> None:
    store = EphemeralStore(SID, capacity=5, ttl_ms=100)
    store.add(message(0), 1_000)
    store.add(message(1), 1_000)
    store.wipe()
    assert len(store) == 0
    assert store.messages() == []
    assert store.get(SENDER, mid(0)) is None
    assert store.next_deadline() is None
    # After a wipe the clock starts afresh: an earlier time is not clamped to the old one.
    store.add(message(0), 10)
    assert store.next_deadline() == 110


def test_repr_shows_no_text_and_no_full_id() -> None:
    store = EphemeralStore(SID, capacity=5, ttl_ms=100)
    store.add(message(0), 0)
    shown = repr(store)
    assert shown == "EphemeralStore(session=00010203…, 1/5, ttl_ms=100)"
    assert SECRET not in shown
    assert SECRET not in repr(store.messages())


def test_package_exports() -> None:
    assert store_package.EphemeralStore is EphemeralStore
    for name in store_package.__all__:
        assert hasattr(store_package, name)


@settings(max_examples=80)
@given(
    capacity=st.integers(1, 8),
    arrivals=st.lists(st.integers(0, 50), max_size=40),
    ttl_ms=st.integers(1, 60),
    purge_at=st.integers(0, 3_000),
)
def test_ring_and_ttl_against_a_model(
    capacity: int, arrivals: list[int], ttl_ms: int, purge_at: int
) -> None:
    store = EphemeralStore(SID, capacity=capacity, ttl_ms=ttl_ms)
    now = 0
    model: dict[int, int] = {}  # n -> time of arrival, in arrival order
    evicted: list[int] = []
    for n, step in enumerate(arrivals):
        now += step
        model[n] = now
        evicted.extend(int.from_bytes(m, "big") for _, m in store.add(message(n), now))
        assert len(store) <= capacity
    # Eviction: exactly the oldest ones beyond the capacity, each reported once.
    assert evicted == list(range(max(0, len(arrivals) - capacity)))
    for n in evicted:
        del model[n]
    removed = [int.from_bytes(m, "big") for _, m in store.purge_expired(purge_at)]
    assert removed == [n for n, t in model.items() if t + ttl_ms <= purge_at]
    assert [int.from_bytes(m.message_id, "big") for m in store] == [
        n for n, t in model.items() if t + ttl_ms > purge_at
    ]


@settings(max_examples=100)
@given(
    capacity=st.integers(1, 6),
    ops=st.lists(
        st.tuples(st.integers(0, 9), st.integers(0, 5), st.sampled_from(list(DeliveryStatus))),
        max_size=40,
    ),
)
def test_add_new_is_add_unless_already_stored(
    capacity: int, ops: list[tuple[int, int, DeliveryStatus]]
) -> None:
    # The client's receive path: add_new must leave the store exactly as add would, and refuse
    # (False, nothing changed) where add raises for a stored (sender, id).
    general = EphemeralStore(SID, capacity=capacity, ttl_ms=50)
    fast = EphemeralStore(SID, capacity=capacity, ttl_ms=50)
    now = 0
    for n, step, status in ops:
        now += step
        general.advance_status(SENDER, mid(n), status)  # statuses recorded in place, too
        fast.advance_status(SENDER, mid(n), status)
        try:
            general.add(message(n), now)
        except ValueError:
            assert not fast.add_new(message(n), now)
        else:
            assert fast.add_new(message(n), now)
        assert fast.messages() == general.messages()
    with pytest.raises(ValueError, match="another session"):
        fast.add_new(message(99, session_id=OTHER_SID), now)


_RANK = {
    DeliveryStatus.PENDING: 0,
    DeliveryStatus.SENT: 1,
    DeliveryStatus.DELIVERED: 2,
    DeliveryStatus.READ: 3,
}


class StoreMachine(RuleBasedStateMachine):
    """Random adds, status updates, purges and wipes; the store never breaks its promises."""

    def __init__(self) -> None:
        super().__init__()
        self.store = EphemeralStore(SID, capacity=1, ttl_ms=1)
        self.capacity = 1
        self.now_ms = 0
        self.next_id = 0
        self.added: list[int] = []
        self.gone: list[int] = []  # evicted, purged or wiped, each once

    @initialize(capacity=st.integers(1, 5), ttl_ms=st.integers(1, 40))
    def start(self, capacity: int, ttl_ms: int) -> None:
        self.capacity = capacity
        self.store = EphemeralStore(SID, capacity=capacity, ttl_ms=ttl_ms)

    @rule(step=st.integers(0, 20))
    def add(self, step: int) -> None:
        self.now_ms += step
        n = self.next_id
        self.next_id += 1
        self.added.append(n)
        self.gone.extend(
            int.from_bytes(m, "big") for _, m in self.store.add(message(n), self.now_ms)
        )

    @precondition(lambda self: len(self.store) > 0)
    @rule(data=st.data(), status=st.sampled_from(DeliveryStatus))
    def update(self, data: st.DataObject, status: DeliveryStatus) -> None:
        target = data.draw(st.sampled_from(self.store.messages()))
        before = target.status
        updated = self.store.update_status(target.sender, target.message_id, status)
        after = self.store.get(target.sender, target.message_id)
        assert after is not None
        if updated is None:
            assert after.status is before
        else:
            assert after == updated
            assert updated.status is status
            assert before not in FINAL_STATUSES
            if status is not DeliveryStatus.FAILED:
                assert _RANK[status] > _RANK[before]

    @rule()
    def purge(self) -> None:
        self.gone.extend(int.from_bytes(m, "big") for _, m in self.store.purge_expired(self.now_ms))

    @rule()
    def wipe(self) -> None:
        self.gone.extend(int.from_bytes(m.message_id, "big") for m in self.store)
        self.store.wipe()

    @invariant()
    def bounded_and_consistent(self) -> None:
        assert len(self.store) <= self.capacity
        present = [int.from_bytes(m.message_id, "big") for m in self.store]
        assert present == sorted(present)  # arrival order
        assert sorted(self.gone + present) == self.added  # every message accounted once


StoreMachine.TestCase.settings = settings(max_examples=50, stateful_step_count=40)
test_store_state_machine = StoreMachine.TestCase
