"""The invite-code handshake: SPAKE2 with key confirmation (docs/protocol.md §9).

Every handshake message travels in a KeyExchange body, a MessagePack array ``[kind, ...]``
(:class:`HandshakeKind`). The joiner and the creator each run ``spake2.SPAKE2_Symmetric`` with
the invite code's password and ``idSymmetric = b"quicko2/v2/pake/" + session_id``; from its key
K and the transcript ``T = encode_fields(session_id, joiner_address, pake_msg_j, pake_msg_c)``
they derive two confirmation keys and two sealing keys (HKDF-SHA256, salt = session id). The
joiner proves the password first (CONFIRM_J, with its sealed bundle); only then does the creator
prove it and reveal its own bundle and the vouched bundles of the current members (CONFIRM_C).
A wrong password shows up as a CONFIRM_J whose MAC does not verify; the creator counts it.

:class:`JoinerPake` and :class:`CreatorPake` are the two sides of one attempt; the session
drives them. Bad input raises :class:`~quicko.errors.MalformedFrameError` (a shape problem) or
:class:`~quicko.errors.AuthenticationError` (a failed check).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from enum import IntEnum
from typing import Final, assert_never

import msgpack
import spake2
from spake2 import ed25519_basic

from quicko.crypto import RandomSource, aead, kdf
from quicko.errors import AuthenticationError, MalformedFrameError
from quicko.protocol.constants import MAX_BLOB_BYTES, MAX_MEMBERS
from quicko.session.bundle import (
    IdentityBundle,
    expect_bytes,
    invite_context,
    unpack_array,
    verify_bundle,
)

__all__ = [
    "MAX_PAKE_FAILURES",
    "PAKE_ID_PREFIX",
    "PAKE_MESSAGE_SIZE",
    "ConfirmC",
    "ConfirmJ",
    "CreatorPake",
    "HandshakeKind",
    "HandshakeMessage",
    "JoinerPake",
    "MemberInit",
    "PakeFail",
    "PakeKeys",
    "PakeReply",
    "PakeStart",
    "decode_handshake",
    "encode_handshake",
]

MAX_PAKE_FAILURES: Final = 3
"""Wrong-code attempts after which the creator retires the invite code."""

PAKE_ID_PREFIX: Final = kdf.label("pake/")
"""``idSymmetric`` of SPAKE2 is this prefix followed by the session id."""

PAKE_MESSAGE_SIZE: Final = 33
"""A SPAKE2_Symmetric message: the side byte ``S`` and a 32-byte Ed25519 group element."""

_MAC_SIZE: Final = 32
_ZERO_NONCE: Final = bytes(aead.NONCE_SIZE)
_SEAL_LABEL: Final = kdf.label("pake/seal")
_SIDE_SYMMETRIC: Final = 0x53  # b"S"


class HandshakeKind(IntEnum):
    """The first item of every KeyExchange body."""

    PAKE_START = 1
    PAKE_REPLY = 2
    CONFIRM_J = 3
    CONFIRM_C = 4
    PAKE_FAIL = 5
    MEMBER_INIT = 6


@dataclass(frozen=True, slots=True)
class PakeStart:
    """Joiner → every member: ``[1, pake_msg_j]``."""

    pake_message: bytes


@dataclass(frozen=True, slots=True)
class PakeReply:
    """Creator → joiner: ``[2, pake_msg_c]``."""

    pake_message: bytes


@dataclass(frozen=True, slots=True, repr=False)
class ConfirmJ:
    """Joiner → creator: ``[3, mac_j, sealed_bundle_j]``."""

    mac: bytes
    sealed: bytes


@dataclass(frozen=True, slots=True, repr=False)
class ConfirmC:
    """Creator → joiner: ``[4, mac_c, sealed([bundle_c, [vouched bundles]])]``."""

    mac: bytes
    sealed: bytes


@dataclass(frozen=True, slots=True)
class PakeFail:
    """Creator → joiner: ``[5, attempts_left]``: the joiner's MAC did not verify."""

    attempts_left: int


@dataclass(frozen=True, slots=True)
class MemberInit:
    """Member ↔ member: ``[6, bundle]``, a fresh signed bundle for a pairwise channel."""

    bundle: bytes


HandshakeMessage = PakeStart | PakeReply | ConfirmJ | ConfirmC | PakeFail | MemberInit


def encode_handshake(message: HandshakeMessage) -> bytes:
    """Return the KeyExchange body of ``message``."""
    items: list[object]
    match message:
        case PakeStart(pake_message=data):
            items = [HandshakeKind.PAKE_START, data]
        case PakeReply(pake_message=data):
            items = [HandshakeKind.PAKE_REPLY, data]
        case ConfirmJ(mac=mac, sealed=sealed):
            items = [HandshakeKind.CONFIRM_J, mac, sealed]
        case ConfirmC(mac=mac, sealed=sealed):
            items = [HandshakeKind.CONFIRM_C, mac, sealed]
        case PakeFail(attempts_left=left):
            items = [HandshakeKind.PAKE_FAIL, left]
        case MemberInit(bundle=bundle):
            items = [HandshakeKind.MEMBER_INIT, bundle]
        case _:
            assert_never(message)
    packed: bytes = msgpack.packb([int(item) if isinstance(item, IntEnum) else item
                                   for item in items], use_bin_type=True)  # fmt: skip
    return packed


def decode_handshake(body: bytes) -> HandshakeMessage:
    """Decode a KeyExchange body.

    Raises:
        MalformedFrameError: the body is not one of the six shapes.
    """
    items = unpack_array(body, max_items=3, max_bytes=MAX_BLOB_BYTES, what="key exchange body")
    if not items or type(items[0]) is not int:
        raise MalformedFrameError("key exchange body must start with its kind")
    kind, rest = items[0], items[1:]
    arity = {1: 1, 2: 1, 3: 2, 4: 2, 5: 1, 6: 1}.get(kind)
    if arity is None or len(rest) != arity:
        raise MalformedFrameError("unknown key exchange kind or wrong number of fields")
    if kind == HandshakeKind.PAKE_START:
        return PakeStart(expect_bytes(rest[0], "PAKE message", PAKE_MESSAGE_SIZE))
    if kind == HandshakeKind.PAKE_REPLY:
        return PakeReply(expect_bytes(rest[0], "PAKE message", PAKE_MESSAGE_SIZE))
    if kind in (HandshakeKind.CONFIRM_J, HandshakeKind.CONFIRM_C):
        mac = expect_bytes(rest[0], "confirmation MAC", _MAC_SIZE)
        sealed = expect_bytes(rest[1], "sealed bundle")
        return ConfirmJ(mac, sealed) if kind == HandshakeKind.CONFIRM_J else ConfirmC(mac, sealed)
    if kind == HandshakeKind.PAKE_FAIL:
        left = rest[0]
        if type(left) is not int or not 0 <= left <= MAX_PAKE_FAILURES:
            raise MalformedFrameError("attempts left out of range")
        return PakeFail(left)
    return MemberInit(expect_bytes(rest[0], "bundle"))


@dataclass(frozen=True, slots=True, repr=False)
class PakeKeys:
    """The four keys both sides derive from the SPAKE2 key, and the transcript they bind."""

    transcript: bytes
    confirm_j: bytes
    confirm_c: bytes
    seal_j: bytes
    seal_c: bytes

    @classmethod
    def derive(
        cls, key: bytes, *, session_id: bytes, joiner: bytes, message_j: bytes, message_c: bytes
    ) -> PakeKeys:
        """Derive the keys from the SPAKE2 key and the attempt's transcript."""
        transcript = kdf.encode_fields(session_id, joiner, message_j, message_c)

        def derive_one(purpose: str) -> bytes:
            return kdf.hkdf_sha256(key, salt=session_id, info=kdf.label(purpose), length=32)

        return cls(
            transcript=transcript,
            confirm_j=derive_one("pake/confirm-j"),
            confirm_c=derive_one("pake/confirm-c"),
            seal_j=derive_one("pake/seal-j"),
            seal_c=derive_one("pake/seal-c"),
        )

    def mac(self, key: bytes) -> bytes:
        """HMAC-SHA256 of the transcript under ``key``."""
        return kdf.hmac_sha256(key, self.transcript)

    def check_mac(self, key: bytes, mac: bytes) -> None:
        """Raise :class:`AuthenticationError` unless ``mac`` is the transcript's MAC."""
        if not hmac.compare_digest(self.mac(key), mac):
            raise AuthenticationError

    def seal(self, key: bytes, plaintext: bytes) -> bytes:
        """Seal with a key used exactly once (so the nonce may be all zero)."""
        return aead.encrypt(
            key, _ZERO_NONCE, plaintext, kdf.encode_fields(_SEAL_LABEL, self.transcript)
        )

    def open(self, key: bytes, sealed: bytes) -> bytes:
        """Open what :meth:`seal` sealed; :class:`AuthenticationError` if it was altered."""
        return aead.decrypt(
            key, _ZERO_NONCE, sealed, kdf.encode_fields(_SEAL_LABEL, self.transcript)
        )


def _new_spake(password: str, session_id: bytes, rng: RandomSource) -> spake2.SPAKE2_Symmetric:
    return spake2.SPAKE2_Symmetric(
        password.encode("ascii"), idSymmetric=PAKE_ID_PREFIX + session_id, entropy_f=rng
    )


def _finish(pake: spake2.SPAKE2_Symmetric, message: bytes) -> bytes:
    """Run ``pake.finish`` on a peer's message, mapping every failure to our errors."""
    if len(message) != PAKE_MESSAGE_SIZE or message[0] != _SIDE_SYMMETRIC:
        raise MalformedFrameError("not a symmetric SPAKE2 message")
    try:
        key: bytes = pake.finish(message)
    except (spake2.SPAKEError, ed25519_basic.NotOnCurve, ValueError, ArithmeticError) as exc:
        # A point off the curve, of the wrong order, zero, or our own message reflected.
        raise AuthenticationError from exc
    return key


class JoinerPake:
    """The joiner's side of one PAKE attempt.

    Args:
        password: the invite code's password half.
        session_id: the session the relay put us in (from Joined).
        joiner_address: our own address.
        rng: randomness for the SPAKE2 scalar.
    """

    __slots__ = ("_address", "_keys", "_pake", "_session_id", "start_message")

    def __init__(
        self, password: str, session_id: bytes, joiner_address: bytes, rng: RandomSource
    ) -> None:
        self._pake = _new_spake(password, session_id, rng)
        self._session_id = session_id
        self._address = joiner_address
        self._keys: PakeKeys | None = None
        self.start_message: bytes = self._pake.start()

    def start(self) -> PakeStart:
        """The PAKE_START message to broadcast."""
        return PakeStart(self.start_message)

    def receive_reply(self, reply: PakeReply, own_bundle: IdentityBundle) -> ConfirmJ:
        """Finish SPAKE2 with the creator's reply and return our confirmation.

        Raises:
            MalformedFrameError: the reply is not a SPAKE2 message.
            AuthenticationError: it is not a valid group element (or our own, reflected).
            ValueError: a reply was already processed in this attempt (local misuse).
        """
        if self._keys is not None:
            raise ValueError("this PAKE attempt already received its reply")
        key = _finish(self._pake, reply.pake_message)
        self._keys = PakeKeys.derive(
            key,
            session_id=self._session_id,
            joiner=self._address,
            message_j=self.start_message,
            message_c=reply.pake_message,
        )
        keys = self._keys
        return ConfirmJ(keys.mac(keys.confirm_j), keys.seal(keys.seal_j, own_bundle.encode()))

    def receive_confirm(
        self, confirm: ConfirmC, creator: bytes
    ) -> tuple[IdentityBundle, tuple[IdentityBundle, ...]]:
        """Check the creator's confirmation and return its bundle and the vouched bundles.

        Args:
            confirm: the CONFIRM_C message.
            creator: the relay-level sender of it, which the creator's bundle must name.

        Returns:
            The creator's verified bundle and the verified bundles of the other members.

        Raises:
            AuthenticationError: the MAC, the seal, or a bundle does not verify.
            MalformedFrameError: the sealed content has the wrong shape.
        """
        if self._keys is None:
            raise AuthenticationError
        keys = self._keys
        keys.check_mac(keys.confirm_c, confirm.mac)
        content = unpack_array(keys.open(keys.seal_c, confirm.sealed), max_items=MAX_MEMBERS,
                               max_bytes=MAX_BLOB_BYTES, what="sealed bundles")  # fmt: skip
        if len(content) != 2 or type(content[0]) is not bytes or type(content[1]) is not list:
            raise MalformedFrameError("sealed bundles must be [bundle, [bundles]]")
        context = invite_context(self._session_id)
        creator_bundle = verify_bundle(
            IdentityBundle.decode(content[0]), context, expected_address=creator
        )
        vouched = []
        for item in content[1]:
            bundle = IdentityBundle.decode(expect_bytes(item, "vouched bundle"))
            vouched.append(verify_bundle(bundle, context, expected_address=bundle.address))
        return creator_bundle, tuple(vouched)

    def __repr__(self) -> str:
        return f"<JoinerPake replied={self._keys is not None}>"


class CreatorPake:
    """The creator's side of one PAKE attempt by one joiner.

    Construction answers the joiner's PAKE_START (a fresh SPAKE2 for every attempt).

    Args:
        password: the invite code's password half.
        session_id: our session id.
        joiner: the relay-level sender of the PAKE_START.
        start: the joiner's PAKE_START.
        rng: randomness for the SPAKE2 scalar.

    Raises:
        MalformedFrameError: the joiner's message is not a SPAKE2 message.
        AuthenticationError: it is not a valid group element.
    """

    __slots__ = ("_keys", "joiner", "reply")

    def __init__(
        self, password: str, session_id: bytes, joiner: bytes, start: PakeStart, rng: RandomSource
    ) -> None:
        pake = _new_spake(password, session_id, rng)
        message_c: bytes = pake.start()
        key = _finish(pake, start.pake_message)
        self.joiner = joiner
        self.reply = PakeReply(message_c)
        self._keys = PakeKeys.derive(
            key,
            session_id=session_id,
            joiner=joiner,
            message_j=start.pake_message,
            message_c=message_c,
        )

    def check_confirm(self, confirm: ConfirmJ) -> None:
        """Check the joiner's MAC: whether the joiner knows the password.

        Raises:
            AuthenticationError: it does not verify (a wrong invite code).
        """
        self._keys.check_mac(self._keys.confirm_j, confirm.mac)

    def open_bundle(self, confirm: ConfirmJ, session_id: bytes) -> IdentityBundle:
        """Open and verify the joiner's sealed bundle (after :meth:`check_confirm`).

        Raises:
            AuthenticationError: the seal or the bundle does not verify.
            MalformedFrameError: the bundle has the wrong shape.
        """
        plain = self._keys.open(self._keys.seal_j, confirm.sealed)
        bundle = IdentityBundle.decode(plain)
        return verify_bundle(bundle, invite_context(session_id), expected_address=self.joiner)

    def confirm(self, own_bundle: IdentityBundle, vouched: tuple[IdentityBundle, ...]) -> ConfirmC:
        """Our confirmation, sealing our bundle and the vouched bundles of the members."""
        content: bytes = msgpack.packb(
            [own_bundle.encode(), [bundle.encode() for bundle in vouched]], use_bin_type=True
        )
        keys = self._keys
        return ConfirmC(keys.mac(keys.confirm_c), keys.seal(keys.seal_c, content))

    def __repr__(self) -> str:
        return f"<CreatorPake joiner={self.joiner[:2].hex()}...>"
