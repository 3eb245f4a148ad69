from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quicko.client.compiled import is_compiled
from quicko.errors import MalformedFrameError, RemoteProtocolError
from quicko.messaging.status import (
    ALLOWED_TRANSITIONS,
    FINAL_STATUSES,
    RECEIPT_STATUSES,
    STATUS_TRANSITIONS,
    DeliveryStatus,
    StatusUpdate,
    advance,
    receipt_status,
)

P = DeliveryStatus.PENDING
S = DeliveryStatus.SENT
D = DeliveryStatus.DELIVERED
R = DeliveryStatus.READ
F = DeliveryStatus.FAILED

# Written out independently of the module, from the brief and DESIGN.md §5.
EXPECTED_ALLOWED = {
    (P, S),
    (P, F),
    (P, D),
    (P, R),
    (S, D),
    (S, R),
    (S, F),
    (D, R),
}
ALL_PAIRS = list(itertools.product(DeliveryStatus, DeliveryStatus))


_PURE_ONLY = pytest.mark.skipif(
    is_compiled("quicko.messaging.status"),
    reason="compiled (mypyc), the declared argument types are checked: a plain int raises "
    "TypeError (misuse too)",
)
"""For the tests only the pure-Python path can run (quicko.client.compiled)."""


def test_values_match_the_receipt_codes() -> None:
    assert [(s.name, s.value) for s in DeliveryStatus] == [
        ("PENDING", 0),
        ("SENT", 1),
        ("DELIVERED", 3),
        ("READ", 4),
        ("FAILED", 5),
    ]
    assert {D, R} == RECEIPT_STATUSES


def test_the_table_is_complete_and_allows_exactly_the_designed_steps() -> None:
    assert set(STATUS_TRANSITIONS) == set(ALL_PAIRS)
    assert len(STATUS_TRANSITIONS) == 25
    assert set(ALLOWED_TRANSITIONS) == EXPECTED_ALLOWED
    applied = {pair for pair, update in STATUS_TRANSITIONS.items() if update is StatusUpdate.APPLY}
    assert applied == EXPECTED_ALLOWED


@pytest.mark.parametrize(("current", "new"), ALL_PAIRS, ids=lambda s: s.name)
def test_every_pair(current: DeliveryStatus, new: DeliveryStatus) -> None:
    result = advance(current, new)
    if (current, new) in EXPECTED_ALLOWED:
        assert result is new
        assert type(result) is DeliveryStatus
    else:
        assert result is None


def test_duplicates_backwards_and_after_final_are_ignored() -> None:
    for status in DeliveryStatus:
        assert advance(status, status) is None
    assert advance(D, S) is None  # the relay's Ack after the delivered receipt
    assert advance(R, D) is None  # the delivered receipt after the read one
    assert advance(S, P) is None
    assert advance(D, F) is None  # a delivered message cannot fail any more
    assert advance(F, D) is None  # failed is final
    assert advance(R, F) is None


def test_final_statuses_are_derived_from_the_table() -> None:
    assert {R, F} == FINAL_STATUSES


@_PURE_ONLY
@pytest.mark.parametrize(("current", "new"), [(2, S), (P, 2), (P, 6), (-1, 0)])
def test_unknown_values_are_local_misuse(current: int, new: int) -> None:
    with pytest.raises(ValueError, match="not a delivery status pair"):
        advance(current, new)  # type: ignore[arg-type]  # deliberately not statuses


@_PURE_ONLY
def test_plain_ints_equal_to_statuses_come_back_as_statuses() -> None:
    result = advance(1, 3)  # type: ignore[arg-type]  # IntEnum compares equal to int
    assert result is D


def test_receipt_status() -> None:
    assert receipt_status(3) is D
    assert receipt_status(4) is R


@pytest.mark.parametrize("code", [0, 1, 2, 5, -3, 2**64, True, 3.0, "3", None])
def test_receipt_status_refuses_everything_else(code: object) -> None:
    with pytest.raises(MalformedFrameError) as info:
        receipt_status(code)  # bytes from outside may be anything
    assert isinstance(info.value, RemoteProtocolError)


def _oracle(updates: list[DeliveryStatus]) -> DeliveryStatus:
    """The final status, stated without the table: forward only, FAILED only before delivery."""
    best = P
    for update in updates:
        if update is F and best in (P, S):
            return F
        if update is not F and update > best:
            best = update
    return best


_RANK = {P: 0, S: 1, D: 2, R: 3}


@given(st.lists(st.sampled_from(DeliveryStatus), max_size=30))
def test_random_update_sequences_never_go_backwards(updates: list[DeliveryStatus]) -> None:
    status = P
    for update in updates:
        new = advance(status, update)
        if new is None:
            continue
        assert new is not status
        assert status not in FINAL_STATUSES
        if new is not F:
            assert _RANK[new] > _RANK[status]
        status = new
    assert status is _oracle(updates)
    if F not in updates:
        assert status == max([P, *updates])
