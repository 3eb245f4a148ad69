"""CPace, the CFRG balanced PAKE, cipher suite CPACE-X25519-SHA512 (initiator-responder mode).

Implements draft-irtf-cfrg-cpace-21 (group ``G_X25519``, hash SHA-512), checked against the
draft's own test vectors (``tests/vectors/cpace/``). One run, with A the initiator (the
joiner, who chooses ``sid``) and B the responder::

    g  = calculate_generator(prs, ci, sid)          # both sides, same inputs
    ya = sample_scalar(rng);  Ya = scalar_mult_vfy(ya, g)      # A sends Ya (and ADa)
    yb = sample_scalar(rng);  Yb = scalar_mult_vfy(yb, g)      # B sends Yb (and ADb)
    K  = scalar_mult_vfy(ya, Yb)  /  scalar_mult_vfy(yb, Ya)  # raises on a low-order share
    ISK = isk_ir(sid, K, Ya, ADa, Yb, ADb)                    # 64 bytes, equal on both sides

``ISK`` matches on both sides exactly when PRS, CI, sid and both parties' views of
``(Ya, ADa, Yb, ADb)`` match. CPace gives implicit authentication only: the caller must derive
its keys from ``ISK`` with a KDF and add explicit key confirmation (draft §"Key
confirmation"). ``K`` is secret and must never leave the caller (a leaked ``K`` enables an
offline dictionary attack); only ``ISK`` is an output.

Public API (other modules code against exactly this):

- :data:`DSI` = ``b"CPace255"``.
- :func:`calculate_generator` ``(prs, ci, sid) -> bytes`` (32-byte u-coordinate).
- :func:`sample_scalar` ``(rng) -> bytes`` (32 random bytes).
- :func:`scalar_mult_vfy` ``(scalar, point) -> bytes`` (X25519; raises
  :class:`~quicko.errors.AuthenticationError` on the neutral element).
- :func:`isk_ir` ``(sid, k, ya, ada, yb, adb) -> bytes`` (64-byte ISK).
- The draft's string helpers :func:`prepend_len`, :func:`lv_cat`, :func:`generator_string`
  and :func:`transcript_ir`.

Side channels: the Elligator 2 map runs on the password-derived hash, so it is written
straight-line after RFC 9380 Appendix G.2.1: no branch and no table lookup depends on secret
data, conditional moves are arithmetic masks, equality tests use
:func:`hmac.compare_digest`, and every ``pow`` has a fixed public exponent. This is *not* a
constant-time guarantee: CPython's big-integer arithmetic (multiplication, ``%``, ``pow``)
makes no such promise, and Python cannot wipe secrets from memory. X25519 itself runs in
OpenSSL through pyca/cryptography.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Final

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from quicko.crypto.random import RandomSource
from quicko.errors import AuthenticationError

__all__ = [
    "DSI",
    "FIELD_SIZE_BYTES",
    "HASH_BLOCK_BYTES",
    "ISK_SIZE",
    "POINT_SIZE",
    "SCALAR_SIZE",
    "calculate_generator",
    "generator_string",
    "isk_ir",
    "lv_cat",
    "prepend_len",
    "sample_scalar",
    "scalar_mult_vfy",
    "transcript_ir",
]

DSI: Final = b"CPace255"
"""Domain-separation identifier of the group ``G_X25519``."""
FIELD_SIZE_BYTES: Final = 32
"""Size of an encoded field element (``G_X25519.field_size_bytes``)."""
HASH_BLOCK_BYTES: Final = 128
"""SHA-512's input block size (``H.s_in_bytes``), which the generator string's padding fills."""
SCALAR_SIZE: Final = 32
"""Size of a scalar from :func:`sample_scalar`, in bytes."""
POINT_SIZE: Final = 32
"""Size of a generator or public share (an X25519 u-coordinate), in bytes."""
ISK_SIZE: Final = 64
"""Size of the intermediate session key ISK (a SHA-512 digest), in bytes."""

_NEUTRAL = bytes(POINT_SIZE)  # G_X25519.I
_ISK_DSI = DSI + b"_ISK"

# Field and curve constants: p = 2^255 - 19, curve25519's A = J = 486662, and the constants
# c3, c4 of RFC 9380 Appendix G.2.1 (c1 and c2 only serve the y-coordinate, not computed here).
_P = 2**255 - 19
_J = 486662
_C4 = (_P - 5) // 8
_C3 = pow(2, (_P - 1) // 4, _P)  # a square root of -1
_INV_EXPONENT = _P - 2
_U_MASK = (1 << 255) - 1  # decodeUCoordinate drops bit 255


def prepend_len(data: bytes) -> bytes:
    """Return ``data`` prefixed with its length in LEB128 (the draft's ``prepend_len``).

    LEB128 writes 7 bits per byte, least significant group first, with bit 7 set on every
    byte but the last; lengths below 128 take one byte.
    """
    length = len(data)
    encoded = bytearray()
    while True:
        group = length & 0x7F
        length >>= 7
        if length == 0:
            encoded.append(group)
            return bytes(encoded) + data
        encoded.append(group | 0x80)


def lv_cat(*parts: bytes) -> bytes:
    """Concatenate ``parts``, each prefixed with its length (the draft's ``lv_cat``)."""
    return b"".join(prepend_len(part) for part in parts)


def generator_string(prs: bytes, ci: bytes, sid: bytes) -> bytes:
    """Return the draft's ``generator_string(DSI, PRS, CI, sid, 128)`` for SHA-512.

    Zero padding after DSI and PRS fills SHA-512's first 128-byte input block, so that for a
    short password the amount hashed does not depend on its length.
    """
    zpad = max(0, HASH_BLOCK_BYTES - 1 - len(prepend_len(prs)) - len(prepend_len(DSI)))
    return lv_cat(DSI, prs, bytes(zpad), ci, sid)


def _cmov(a: int, b: int, c: int) -> int:
    """Return ``b`` if ``c == 1`` else ``a`` (``c`` in {0, 1}), by masking, not branching."""
    return a ^ ((a ^ b) & -c)


def _eq(a: int, b: int) -> int:
    """Return 1 if the reduced field elements ``a`` and ``b`` are equal, else 0."""
    return int(
        hmac.compare_digest(
            a.to_bytes(FIELD_SIZE_BYTES, "little"), b.to_bytes(FIELD_SIZE_BYTES, "little")
        )
    )


def _map_to_curve_elligator2(u: int) -> int:
    """Map a field element to the u-coordinate of a curve25519 point (Elligator 2).

    The straight-line ``map_to_curve_elligator2_curve25519`` of RFC 9380 Appendix G.2.1,
    keeping only the steps that produce the x-coordinate (CPace discards the y-coordinate),
    then dividing ``xn / xd`` with one inversion by Fermat's little theorem. Every step runs
    whatever the input; see the module docstring for what that does and does not promise.
    """
    p = _P
    u %= p
    tv1 = 2 * u * u % p
    xd = (tv1 + 1) % p  # never zero: -1 is a square mod p and 2 * u^2 is not
    x1n = -_J % p  # x1 = x1n / xd = -J / (1 + 2 * u^2)
    tv2 = xd * xd % p
    gxd = tv2 * xd % p  # g(x1) = gx1 / gxd
    gx1 = _J * tv1 % p
    gx1 = gx1 * x1n % p
    gx1 = (gx1 + tv2) % p
    gx1 = gx1 * x1n % p
    tv3 = gxd * gxd % p
    tv2 = tv3 * tv3 % p  # gxd^4
    tv3 = tv3 * gxd % p  # gxd^3
    tv3 = tv3 * gx1 % p  # gx1 * gxd^3
    tv2 = tv2 * tv3 % p  # gx1 * gxd^7
    y11 = pow(tv2, _C4, p) * tv3 % p
    y12 = y11 * _C3 % p
    e1 = _eq(y11 * y11 * gxd % p, gx1)
    y1 = _cmov(y12, y11, e1)  # the square root of g(x1), if it has one
    x2n = x1n * tv1 % p  # x2 = x2n / xd = -x1 - J
    e3 = _eq(y1 * y1 * gxd % p, gx1)  # g(x1) is square: x = x1, else x = x2
    xn = _cmov(x2n, x1n, e3)
    return xn * pow(xd, _INV_EXPONENT, p) % p


def calculate_generator(prs: bytes, ci: bytes, sid: bytes) -> bytes:
    """Derive the password-dependent generator ``g`` (``G_X25519.calculate_generator``).

    Hashes :func:`generator_string` with SHA-512, keeps the first 32 bytes, decodes them as an
    RFC 7748 u-coordinate (bit 255 cleared) and maps that field element onto curve25519 with
    Elligator 2.

    Args:
        prs: the password-related string (secret).
        ci: the channel identifier; both sides must use the same bytes.
        sid: the session identifier; both sides must use the same bytes.

    Returns:
        The 32-byte little-endian u-coordinate of ``g``.
    """
    digest = hashlib.sha512(generator_string(prs, ci, sid)).digest()[:FIELD_SIZE_BYTES]
    u = int.from_bytes(digest, "little") & _U_MASK
    return _map_to_curve_elligator2(u).to_bytes(FIELD_SIZE_BYTES, "little")


def sample_scalar(rng: RandomSource) -> bytes:
    """Return a fresh 32-byte scalar from ``rng`` (``G_X25519.sample_scalar``).

    X25519 clamps it when used. A scalar must never be reused.

    Raises:
        ValueError: ``rng`` did not return 32 bytes.
    """
    scalar = rng(SCALAR_SIZE)
    if len(scalar) != SCALAR_SIZE:
        raise ValueError(f"the random source must return {SCALAR_SIZE} bytes")
    return scalar


def scalar_mult_vfy(scalar: bytes, point: bytes) -> bytes:
    """Return X25519(``scalar``, ``point``), refusing the neutral element.

    Used both to make a public share (``point`` = the generator) and to compute ``K`` from
    the peer's share. The result is all zero exactly when ``point`` has low order on the
    curve or its twist (bit 255 of ``point`` is ignored, as RFC 7748 requires); CPace must
    then abort.

    Args:
        scalar: our 32-byte scalar from :func:`sample_scalar`.
        point: a 32-byte u-coordinate: a generator or the peer's public share.

    Returns:
        The 32-byte u-coordinate of ``scalar * point``.

    Raises:
        ValueError: ``scalar`` is not 32 bytes long (our own misuse).
        AuthenticationError: ``point`` is not 32 bytes long, or the result is the neutral
            element. Deliberately opaque.
    """
    if len(scalar) != SCALAR_SIZE:
        raise ValueError(f"a CPace scalar must be {SCALAR_SIZE} bytes")
    if len(point) != POINT_SIZE:
        raise AuthenticationError
    private_key = X25519PrivateKey.from_private_bytes(scalar)
    try:
        result = private_key.exchange(X25519PublicKey.from_public_bytes(point))
    except ValueError as exc:
        # pyca/cryptography raises ValueError when the result is all zero.
        raise AuthenticationError from exc
    return _refuse_neutral(result)


def _refuse_neutral(result: bytes) -> bytes:
    """Raise if ``result`` is the neutral element ``G_X25519.I`` (all zero).

    pyca/cryptography already refuses it; this check keeps the guarantee ours.
    """
    if hmac.compare_digest(result, _NEUTRAL):
        raise AuthenticationError
    return result


def transcript_ir(ya: bytes, ada: bytes, yb: bytes, adb: bytes) -> bytes:
    """Return the initiator-responder transcript ``lv_cat(Ya, ADa) || lv_cat(Yb, ADb)``."""
    return lv_cat(ya, ada) + lv_cat(yb, adb)


# Six positional arguments in the draft's order: the API other modules were promised.
def isk_ir(sid: bytes, k: bytes, ya: bytes, ada: bytes, yb: bytes, adb: bytes) -> bytes:  # noqa: PLR0917
    """Return the intermediate session key ISK of initiator-responder mode.

    ``ISK = SHA-512(lv_cat(DSI || "_ISK", sid, K) || transcript_ir(Ya, ADa, Yb, ADb))``.
    A is always the initiator, whichever side computes it.

    Args:
        sid: the session identifier used for the generator.
        k: the shared point from :func:`scalar_mult_vfy` (secret).
        ya: the initiator's public share.
        ada: the initiator's associated data.
        yb: the responder's public share.
        adb: the responder's associated data.

    Returns:
        The 64-byte ISK. Derive keys from it with a KDF; do not use it directly.
    """
    return hashlib.sha512(lv_cat(_ISK_DSI, sid, k) + transcript_ir(ya, ada, yb, adb)).digest()
