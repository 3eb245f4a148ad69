from __future__ import annotations

import hashlib
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quicko.identity.keys import Identity, PublicIdentity
from quicko.identity.safety import (
    SAFETY_NUMBER_ITERATIONS,
    SAFETY_NUMBER_LABEL,
    SAFETY_NUMBER_VERSION,
    fingerprint,
    safety_number,
    safety_number_lines,
)

ALICE = Identity.from_root(bytes(range(16))).public
BOB = Identity.from_root(bytes([255] * 16)).public
CAROL = Identity.from_root(bytes(16)).public
SHAPE = re.compile(r"^\d{5}( \d{5}){11}$")


def _lp(*fields: bytes) -> bytes:
    return b"".join(len(field).to_bytes(4, "big") + field for field in fields)


def _reference_fingerprint(identity: PublicIdentity) -> str:
    """Signal's NumericFingerprintGenerator.getFingerprint, written out from its Java source."""
    key = _lp(b"quicko2/v3/safety-number", identity.address, identity.x25519_public,
              identity.ed25519_public)  # fmt: skip
    digest = (0).to_bytes(2, "big") + key + identity.address
    for _ in range(5200):
        digest = hashlib.sha512(digest + key).digest()
    return "".join(
        f"{int.from_bytes(digest[i : i + 5], 'big') % 100000:05d}" for i in range(0, 30, 5)
    )


def test_constants() -> None:
    assert SAFETY_NUMBER_LABEL == b"quicko2/v3/safety-number"
    assert SAFETY_NUMBER_VERSION == 0
    assert SAFETY_NUMBER_ITERATIONS == 5200


def test_known_answer() -> None:
    assert fingerprint(ALICE) == "131616570868961127209251316366"
    assert fingerprint(BOB) == "182244568635375764503117245553"
    assert safety_number(ALICE, BOB) == (
        "13161 65708 68961 12720 92513 16366 18224 45686 35375 76450 31172 45553"
    )


def test_matches_the_construction_written_out() -> None:
    for identity in (ALICE, BOB, CAROL):
        assert fingerprint(identity) == _reference_fingerprint(identity)


def test_is_both_fingerprints_smaller_first() -> None:
    number = safety_number(ALICE, CAROL).replace(" ", "")
    first, second = sorted((fingerprint(ALICE), fingerprint(CAROL)))
    assert number == first + second


def test_same_on_both_sides() -> None:
    assert safety_number(ALICE, BOB) == safety_number(BOB, ALICE)


def test_shape() -> None:
    assert SHAPE.match(safety_number(ALICE, BOB))
    assert SHAPE.match(safety_number(ALICE, ALICE))


def test_different_keys_give_different_numbers() -> None:
    numbers = {safety_number(ALICE, BOB), safety_number(ALICE, CAROL), safety_number(BOB, CAROL)}
    assert len(numbers) == 3


@settings(max_examples=20, deadline=None)
@given(st.binary(min_size=16, max_size=16), st.binary(min_size=16, max_size=16))
def test_symmetry_property(root_a: bytes, root_b: bytes) -> None:
    a = Identity.from_root(root_a).public
    b = Identity.from_root(root_b).public
    assert safety_number(a, b) == safety_number(b, a)
    assert SHAPE.match(safety_number(a, b))


def test_a_substituted_key_changes_that_partys_fingerprint_only() -> None:
    mallory = PublicIdentity.from_keys(BOB.x25519_public, CAROL.ed25519_public)
    assert safety_number(ALICE, mallory) != safety_number(ALICE, BOB)
    assert fingerprint(mallory) != fingerprint(BOB)
    # Alice's half is unchanged: each party's digits depend on its own keys alone, so an
    # attacker in the middle cannot trade work on one side against the other (no claw search).
    assert fingerprint(ALICE) in safety_number(ALICE, mallory).replace(" ", "")


def test_two_lines_of_six_groups() -> None:
    lines = safety_number_lines(safety_number(ALICE, BOB)).split("\n")
    assert lines == ["13161 65708 68961 12720 92513 16366", "18224 45686 35375 76450 31172 45553"]
    assert safety_number_lines("11111 22222 33333", groups_per_line=2) == "11111 22222\n33333"
    with pytest.raises(ValueError, match="at least one"):
        safety_number_lines("11111", groups_per_line=0)
