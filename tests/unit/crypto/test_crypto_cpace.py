"""Tests of quicko.crypto.cpace: the draft's X25519/SHA-512 vectors, agreement, low-order shares."""

from __future__ import annotations

import ast
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quicko.crypto import cpace
from quicko.crypto.cpace import (
    DSI,
    ISK_SIZE,
    POINT_SIZE,
    SCALAR_SIZE,
    _map_to_curve_elligator2,
    _refuse_neutral,
    calculate_generator,
    generator_string,
    isk_ir,
    lv_cat,
    prepend_len,
    sample_scalar,
    scalar_mult_vfy,
    transcript_ir,
)
from quicko.errors import AuthenticationError

VECTORS: dict[str, Any] = json.loads(
    (
        Path(__file__).resolve().parents[2] / "vectors" / "cpace" / "cpace_x25519_sha512.json"
    ).read_text()
)
UTILS: dict[str, Any] = VECTORS["string_utils"]
TV: dict[str, Any] = VECTORS["x25519_sha512"]
LOW_ORDER: dict[str, Any] = VECTORS["x25519_low_order"]

# The snapshot must hold what tests/vectors/README.md says: 12 points u0..ub, 7 of which
# (u0..u5, u7) must make a party abort.
assert len(LOW_ORDER["cases"]) == 12
assert sum(case["abort"] for case in LOW_ORDER["cases"]) == 7

P = 2**255 - 19
A = 486662
SIDE_ROLES = ("initiator", "responder")


def _h(name: str) -> bytes:
    value: str = TV[name]
    return bytes.fromhex(value)


def _run(
    prs: tuple[bytes, bytes],
    ci: tuple[bytes, bytes],
    sid: tuple[bytes, bytes],
    ya: bytes,
    yb: bytes,
    ada: bytes = b"",
    adb: bytes = b"",
) -> tuple[bytes, bytes]:
    """Run both sides of CPace; each tuple holds (initiator's view, responder's view)."""
    share_a = scalar_mult_vfy(ya, calculate_generator(prs[0], ci[0], sid[0]))
    share_b = scalar_mult_vfy(yb, calculate_generator(prs[1], ci[1], sid[1]))
    isk_a = isk_ir(sid[0], scalar_mult_vfy(ya, share_b), share_a, ada, share_b, adb)
    isk_b = isk_ir(sid[1], scalar_mult_vfy(yb, share_a), share_a, ada, share_b, adb)
    return isk_a, isk_b


# ----------------------------------------------------------------- string utilities


@pytest.mark.parametrize("case", UTILS["prepend_len"], ids=lambda c: f"len{len(c['input']) // 2}")
def test_prepend_len_vectors(case: dict[str, str]) -> None:
    assert prepend_len(bytes.fromhex(case["input"])) == bytes.fromhex(case["output"])


@pytest.mark.parametrize(
    ("length", "prefix"),
    [
        (0, b"\x00"),
        (127, b"\x7f"),
        (128, b"\x80\x01"),
        (300, b"\xac\x02"),
        (16384, b"\x80\x80\x01"),
    ],
)
def test_prepend_len_leb128(length: int, prefix: bytes) -> None:
    assert prepend_len(bytes(length)) == prefix + bytes(length)


def test_lv_cat_vector() -> None:
    (case,) = UTILS["lv_cat"]
    parts = [bytes.fromhex(part) for part in case["inputs"]]
    assert lv_cat(*parts) == bytes.fromhex(case["output"])
    assert lv_cat() == b""


@pytest.mark.parametrize("case", UTILS["transcript_ir"], ids=["short", "long"])
def test_transcript_ir_vectors(case: dict[str, str]) -> None:
    args = (bytes.fromhex(case[key]) for key in ("Ya", "ADa", "Yb", "ADb"))
    assert transcript_ir(*args) == bytes.fromhex(case["output"])


# ----------------------------------------------------------------- the X25519 / SHA-512 run


def test_generator_vector_step_by_step() -> None:
    prs, ci, sid = _h("PRS"), _h("CI"), _h("sid")
    assert DSI == _h("DSI") == b"CPace255"
    gen_str = generator_string(prs, ci, sid)
    assert gen_str == _h("generator_string")
    zpad: int = TV["zpad_length"]
    after_prs = gen_str[len(prepend_len(DSI)) + len(prepend_len(prs)) :]
    assert after_prs.startswith(bytes([zpad]) + bytes(zpad))
    digest = hashlib.sha512(gen_str).digest()[:32]
    assert digest == _h("hash_generator_string")
    u = int.from_bytes(digest, "little") & ((1 << 255) - 1)
    assert u.to_bytes(32, "little") == _h("decoded_field_element")
    assert _map_to_curve_elligator2(u).to_bytes(32, "little") == _h("g")
    assert calculate_generator(prs, ci, sid) == _h("g")


def test_shares_secret_point_and_isk_vectors() -> None:
    g, sid = _h("g"), _h("sid")
    ya, yb, ada, adb = _h("ya"), _h("yb"), _h("ADa"), _h("ADb")
    share_a, share_b = scalar_mult_vfy(ya, g), scalar_mult_vfy(yb, g)
    assert share_a == _h("Ya")
    assert share_b == _h("Yb")
    k = scalar_mult_vfy(ya, share_b)
    assert k == _h("K_ya_Yb")
    assert scalar_mult_vfy(yb, share_a) == _h("K_yb_Ya") == k
    assert transcript_ir(share_a, ada, share_b, adb) == _h("transcript_ir")
    assert _h("DSI_ISK") == DSI + b"_ISK"
    isk_input = lv_cat(DSI + b"_ISK", sid, k) + transcript_ir(share_a, ada, share_b, adb)
    assert isk_input == _h("isk_input_ir")
    isk = isk_ir(sid, k, share_a, ada, share_b, adb)
    assert isk == _h("ISK_IR")
    assert len(isk) == ISK_SIZE


@pytest.mark.parametrize("case", LOW_ORDER["cases"], ids=lambda c: str(c["name"]))
def test_low_order_and_non_canonical_points(case: dict[str, Any]) -> None:
    scalar, point = bytes.fromhex(LOW_ORDER["s"]), bytes.fromhex(case["u"])
    expected = bytes.fromhex(case["q"])
    if case["abort"]:
        assert expected == bytes(32)
        with pytest.raises(AuthenticationError):
            scalar_mult_vfy(scalar, point)
    else:
        assert scalar_mult_vfy(scalar, point) == expected


@pytest.mark.parametrize(
    "case", [c for c in LOW_ORDER["cases"] if c["abort"]], ids=lambda c: str(c["name"])
)
@pytest.mark.parametrize("receiver", SIDE_ROLES)
def test_low_order_share_in_a_message_aborts(case: dict[str, Any], receiver: str) -> None:
    # An attacker replaces a party's share with a low-order point: the receiver must abort
    # rather than derive an ISK from a key the attacker knows (the neutral element).
    scalar = _h("ya") if receiver == "responder" else _h("yb")
    with pytest.raises(AuthenticationError):
        scalar_mult_vfy(scalar, bytes.fromhex(case["u"]))


# ----------------------------------------------------------------- Elligator 2


def _legendre_is_square(x: int) -> bool:
    return pow(x, (P - 1) // 2, P) in {0, 1}


def _reference_elligator2(r: int) -> int:
    # The draft's reference (with branches, not for secrets): v = -A / (1 + 2 r^2); x = v if
    # v^3 + A v^2 + v is a square, else -v - A.
    v = -A * pow(1 + 2 * r * r, P - 2, P) % P
    return v if _legendre_is_square((v**3 + A * v * v + v) % P) else (-v - A) % P


EDGE_INPUTS = [0, 1, 2, P - 1, P, P + 1, 2**255 - 1]


@pytest.mark.parametrize("r", EDGE_INPUTS)
def test_elligator2_edge_inputs_match_reference(r: int) -> None:
    assert _map_to_curve_elligator2(r) == _reference_elligator2(r % P)


@given(st.integers(min_value=0, max_value=2**255 - 1))
def test_elligator2_matches_reference_and_lands_on_the_curve(r: int) -> None:
    x = _map_to_curve_elligator2(r)
    assert 0 <= x < P
    assert x == _reference_elligator2(r % P)
    # On curve25519 itself (not its twist): v^2 = x^3 + A x^2 + x has a solution.
    assert _legendre_is_square((x**3 + A * x * x + x) % P)


# ----------------------------------------------------------------- agreement properties

SCALARS = st.binary(min_size=SCALAR_SIZE, max_size=SCALAR_SIZE)
SHORT = st.binary(max_size=40)


@given(prs=SHORT, ci=SHORT, sid=SHORT, ya=SCALARS, yb=SCALARS, ada=SHORT, adb=SHORT)
def test_same_inputs_agree(
    prs: bytes, ci: bytes, sid: bytes, ya: bytes, yb: bytes, ada: bytes, adb: bytes
) -> None:
    isk_a, isk_b = _run((prs, prs), (ci, ci), (sid, sid), ya, yb, ada, adb)
    assert isk_a == isk_b
    assert len(isk_a) == ISK_SIZE


@given(
    field=st.sampled_from(["prs", "ci", "sid"]),
    pair=st.lists(SHORT, min_size=2, max_size=2, unique=True),
    other=SHORT,
    ya=SCALARS,
    yb=SCALARS,
)
def test_one_differing_input_disagrees(
    field: str, pair: list[bytes], other: bytes, ya: bytes, yb: bytes
) -> None:
    inputs = {"prs": (other, other), "ci": (other, other), "sid": (other, other)}
    inputs[field] = (pair[0], pair[1])
    isk_a, isk_b = _run(inputs["prs"], inputs["ci"], inputs["sid"], ya, yb)
    assert isk_a != isk_b


@given(ya=SCALARS, yb=SCALARS, forged=SCALARS)
def test_a_substituted_share_disagrees(ya: bytes, yb: bytes, forged: bytes) -> None:
    # A man in the middle without the password replaces A's share with its own (made from a
    # guessed generator): B's ISK no longer matches A's.
    g = calculate_generator(b"1234", b"ci", b"sid")
    share_a, share_b = scalar_mult_vfy(ya, g), scalar_mult_vfy(yb, g)
    forged_share = scalar_mult_vfy(forged, calculate_generator(b"9999", b"ci", b"sid"))
    isk_a = isk_ir(b"sid", scalar_mult_vfy(ya, share_b), share_a, b"", share_b, b"")
    isk_b = isk_ir(b"sid", scalar_mult_vfy(yb, forged_share), forged_share, b"", share_b, b"")
    assert isk_a != isk_b


def test_differing_associated_data_disagrees() -> None:
    ya, yb = _h("ya"), _h("yb")
    same = (b"pw", b"pw"), (b"ci", b"ci"), (b"sid", b"sid")
    assert _run(*same, ya, yb, ada=b"A", adb=b"B") != _run(*same, ya, yb, ada=b"A", adb=b"C")


# ----------------------------------------------------------------- misuse and rejection


def test_neutral_element_is_refused() -> None:
    with pytest.raises(AuthenticationError):
        scalar_mult_vfy(_h("ya"), bytes(POINT_SIZE))
    # Our own check, in case the library ever returned the neutral element instead of raising.
    with pytest.raises(AuthenticationError):
        _refuse_neutral(bytes(POINT_SIZE))
    assert _refuse_neutral(_h("K_ya_Yb")) == _h("K_ya_Yb")


@pytest.mark.parametrize("length", [0, 31, 33, 56])
def test_wrong_length_point_is_an_authentication_failure(length: int) -> None:
    with pytest.raises(AuthenticationError) as info:
        scalar_mult_vfy(_h("ya"), b"\x09" * length)
    assert str(info.value) == "authentication failed"


@pytest.mark.parametrize("length", [0, 31, 33])
def test_wrong_length_scalar_is_misuse(length: int) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        scalar_mult_vfy(bytes(length), _h("g"))


def test_sample_scalar_takes_its_bytes_from_rng() -> None:
    requests: list[int] = []

    def rng(n: int) -> bytes:
        requests.append(n)
        return bytes(range(n))

    assert sample_scalar(rng) == bytes(range(32))
    assert requests == [SCALAR_SIZE]
    with pytest.raises(ValueError, match="32 bytes"):
        sample_scalar(lambda n: bytes(n - 1))


def test_module_is_pure() -> None:
    # No I/O, no clock, no OS randomness: only hashing, constant-time compare, pyca X25519.
    tree = ast.parse(Path(cpace.__file__).read_text())
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            roots.add(node.module.split(".")[0])
    assert roots == {"__future__", "hashlib", "hmac", "typing", "cryptography", "quicko"}
