from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from quicko.identity.keys import Identity, PublicIdentity
from quicko.identity.safety import SAFETY_NUMBER_LABEL, safety_number

ALICE = Identity.from_root(bytes(range(16))).public
BOB = Identity.from_root(bytes([255] * 16)).public
CAROL = Identity.from_root(bytes(16)).public
SHAPE = re.compile(r"^\d{5}( \d{5}){5}$")


def test_label() -> None:
    assert SAFETY_NUMBER_LABEL == b"quicko2/v2/safety-number"


def test_known_answer() -> None:
    assert safety_number(ALICE, BOB) == "42759 60291 01436 16234 67908 18183"


def test_same_on_both_sides() -> None:
    assert safety_number(ALICE, BOB) == safety_number(BOB, ALICE)


def test_shape() -> None:
    assert SHAPE.match(safety_number(ALICE, BOB))
    assert SHAPE.match(safety_number(ALICE, ALICE))


def test_different_keys_give_different_numbers() -> None:
    numbers = {safety_number(ALICE, BOB), safety_number(ALICE, CAROL), safety_number(BOB, CAROL)}
    assert len(numbers) == 3


@given(st.binary(min_size=16, max_size=16), st.binary(min_size=16, max_size=16))
def test_symmetry_property(root_a: bytes, root_b: bytes) -> None:
    a = Identity.from_root(root_a).public
    b = Identity.from_root(root_b).public
    assert safety_number(a, b) == safety_number(b, a)
    assert SHAPE.match(safety_number(a, b))


def test_a_substituted_key_changes_the_number() -> None:
    mallory = PublicIdentity.from_keys(BOB.x25519_public, CAROL.ed25519_public)
    assert safety_number(ALICE, mallory) != safety_number(ALICE, BOB)
