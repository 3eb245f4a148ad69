"""The invite-code handshake: CPace in the relay's lobby, with key confirmation (§8.3).

A joiner waits in a nameplate's lobby (``Join(b"", nameplate)`` → ``Lobby``) and exchanges
:class:`LobbyMessage` bodies with the nameplate's owner, the creator, and nobody else (the relay
guarantees it). Bodies are MessagePack arrays ``[kind, ...]`` (:class:`PakeKind`)::

    [1, sid bin16, Ya bin32]          PAKE_START  joiner → owner
    [2, Yb bin32]                     PAKE_REPLY  owner → joiner
    [3, mac_j bin32, sealed_j bin]    CONFIRM_J   joiner → owner
    [4, mac_c bin32, sealed_c bin]    CONFIRM_C   owner → joiner
    [5, retry_after_ms uint]          PAKE_FAIL   owner → joiner

The PAKE is CPace (:mod:`quicko.crypto.cpace`), the joiner the initiator:
``PRS`` = the password's 4 ASCII characters, ``CI = LP(label("invite"), nameplate)``, ``sid`` 16
random bytes per attempt, ``ADa`` = the joiner's address (the owner takes it from the relay's
``LobbyMessage.peer``), ``ADb`` empty (the joiner has no prior knowledge of the owner; the owner's
identity is proved inside CONFIRM_C). From ``ISK`` both derive, with
``T = LP(label("pake/transcript"), nameplate, sid, joiner, Ya, Yb)``::

    k_x = HKDF(ISK, salt = sid, info = label("pake/" + x), 32)  for x in confirm-j, confirm-c,
                                                                    seal-j, seal-c
    mac_x = HMAC(k_confirm_x, T)
    sealed_x = AES-GCM(k_seal_x, nonce = 12 zero bytes, plaintext, ad = LP(label("pake/seal"), T))

The joiner proves the password first (CONFIRM_J, sealing its bundle); only then does the owner
prove it and reveal its bundle, the session id, the session's join seed and the identities of
the current members (CONFIRM_C). A CONFIRM_J whose MAC fails is a wrong guess, counted by
:class:`InviteBudget`. Bad input raises :class:`~quicko.errors.MalformedFrameError` (shape) or
:class:`~quicko.errors.AuthenticationError` (a failed check).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Final, assert_never

import msgpack

from quicko.crypto import RandomSource, aead, cpace, kdf
from quicko.errors import AuthenticationError, MalformedFrameError
from quicko.identity import PublicIdentity
from quicko.protocol.constants import ADDRESS_SIZE, MAX_BLOB_BYTES, MAX_MEMBERS, SESSION_ID_SIZE
from quicko.session.bundle import (
    IdentityBundle,
    expect_bytes,
    pake_creator_context,
    pake_joiner_context,
    unpack_array,
    verify_bundle,
)

__all__ = [
    "ATTEMPT_TIMEOUT_MS",
    "BACKOFF_BASE_MS",
    "BACKOFF_MAX_MS",
    "FREE_FAILURES",
    "JOIN_SEED_SIZE",
    "MAX_ATTEMPTS_IN_FLIGHT",
    "MAX_PAKE_FAILURES",
    "SID_SIZE",
    "Admission",
    "ConfirmC",
    "ConfirmJ",
    "CreatorPake",
    "InviteBudget",
    "JoinerPake",
    "LobbyBody",
    "PakeFail",
    "PakeKeys",
    "PakeKind",
    "PakeReply",
    "PakeStart",
    "decode_lobby_body",
    "decode_member_init",
    "encode_lobby_body",
    "encode_member_init",
    "invite_ci",
]

SID_SIZE: Final = 16
"""Bytes of a PAKE attempt's ``sid`` (fresh random per attempt, chosen by the joiner)."""
JOIN_SEED_SIZE: Final = 32
"""Bytes of a session's join seed (the Ed25519 seed of its join key)."""
MAX_ATTEMPTS_IN_FLIGHT: Final = 4
"""PAKE attempts an owner runs at once; a further PAKE_START is told to retry later."""
ATTEMPT_TIMEOUT_MS: Final = 20_000
"""An owner forgets an attempt whose CONFIRM_J has not come after this long (not a failure)."""
FREE_FAILURES: Final = 3
"""Wrong codes per invite code before the owner spaces attempts out with a back-off."""
BACKOFF_BASE_MS: Final = 1_000
"""Back-off after the ``FREE_FAILURES``-th failure; it doubles with every further failure."""
BACKOFF_MAX_MS: Final = 60_000
"""Largest back-off between two attempts on one invite code."""
MAX_PAKE_FAILURES: Final = 32
"""Wrong codes after which the owner retires the invite code (ReleaseNameplate)."""
MAX_RETRY_AFTER_MS: Final = 2**32 - 1

_MAC_SIZE: Final = 32
_KEY_SIZE: Final = 32
_ZERO_NONCE: Final = bytes(aead.NONCE_SIZE)
_INVITE_LABEL: Final = kdf.label("invite")
_TRANSCRIPT_LABEL: Final = kdf.label("pake/transcript")
_SEAL_LABEL: Final = kdf.label("pake/seal")
_MEMBER_INIT: Final = 6


class PakeKind(IntEnum):
    """The first item of every lobby body."""

    PAKE_START = 1
    PAKE_REPLY = 2
    CONFIRM_J = 3
    CONFIRM_C = 4
    PAKE_FAIL = 5


@dataclass(frozen=True, slots=True)
class PakeStart:
    """Joiner → owner: ``[1, sid, Ya]``."""

    sid: bytes
    share: bytes


@dataclass(frozen=True, slots=True)
class PakeReply:
    """Owner → joiner: ``[2, Yb]``."""

    share: bytes


@dataclass(frozen=True, slots=True, repr=False)
class ConfirmJ:
    """Joiner → owner: ``[3, mac_j, sealed_j]`` (sealed_j: the joiner's bundle)."""

    mac: bytes
    sealed: bytes


@dataclass(frozen=True, slots=True, repr=False)
class ConfirmC:
    """Owner → joiner: ``[4, mac_c, sealed_c]`` (see :meth:`CreatorPake.confirm`)."""

    mac: bytes
    sealed: bytes


@dataclass(frozen=True, slots=True)
class PakeFail:
    """Owner → joiner: ``[5, retry_after_ms]``.

    After a CONFIRM_J: the code was wrong. In answer to a PAKE_START: try again after
    ``retry_after_ms`` (busy or backing off), or never (``0``: this joiner or this code is done).
    """

    retry_after_ms: int


LobbyBody = PakeStart | PakeReply | ConfirmJ | ConfirmC | PakeFail


def encode_lobby_body(message: LobbyBody) -> bytes:
    """Return the LobbyMessage body of ``message``."""
    items: list[object]
    match message:
        case PakeStart(sid=sid, share=share):
            items = [int(PakeKind.PAKE_START), sid, share]
        case PakeReply(share=share):
            items = [int(PakeKind.PAKE_REPLY), share]
        case ConfirmJ(mac=mac, sealed=sealed):
            items = [int(PakeKind.CONFIRM_J), mac, sealed]
        case ConfirmC(mac=mac, sealed=sealed):
            items = [int(PakeKind.CONFIRM_C), mac, sealed]
        case PakeFail(retry_after_ms=retry):
            items = [int(PakeKind.PAKE_FAIL), retry]
        case _:
            assert_never(message)
    packed: bytes = msgpack.packb(items, use_bin_type=True)
    return packed


_ARITY: Final = {1: 2, 2: 1, 3: 2, 4: 2, 5: 1}


def decode_lobby_body(body: bytes) -> LobbyBody:
    """Decode a LobbyMessage body.

    Raises:
        MalformedFrameError: the body is not one of the five shapes.
    """
    items = unpack_array(body, max_items=3, max_bytes=MAX_BLOB_BYTES, what="lobby body")
    if not items or type(items[0]) is not int:
        raise MalformedFrameError("a lobby body must start with its kind")
    kind, rest = items[0], items[1:]
    if _ARITY.get(kind) != len(rest):
        raise MalformedFrameError("unknown lobby body kind or wrong number of fields")
    if kind == PakeKind.PAKE_START:
        sid = expect_bytes(rest[0], "PAKE sid", SID_SIZE)
        return PakeStart(sid, expect_bytes(rest[1], "PAKE share", cpace.POINT_SIZE))
    if kind == PakeKind.PAKE_REPLY:
        return PakeReply(expect_bytes(rest[0], "PAKE share", cpace.POINT_SIZE))
    if kind in (PakeKind.CONFIRM_J, PakeKind.CONFIRM_C):
        mac = expect_bytes(rest[0], "confirmation MAC", _MAC_SIZE)
        sealed = expect_bytes(rest[1], "sealed confirmation")
        return ConfirmJ(mac, sealed) if kind == PakeKind.CONFIRM_J else ConfirmC(mac, sealed)
    retry = rest[0]
    if type(retry) is not int or not 0 <= retry <= MAX_RETRY_AFTER_MS:
        raise MalformedFrameError("retry_after_ms out of range")
    return PakeFail(retry)


def encode_member_init(bundle: IdentityBundle) -> bytes:
    """The KeyExchange body MEMBER_INIT ``[6, bundle bin]``."""
    packed: bytes = msgpack.packb([_MEMBER_INIT, bundle.encode()], use_bin_type=True)
    return packed


def decode_member_init(body: bytes) -> IdentityBundle:
    """Decode a KeyExchange body, which must be MEMBER_INIT (the bundle's shape only).

    Raises:
        MalformedFrameError: it is not ``[6, bundle]``.
    """
    items = unpack_array(body, max_items=2, max_bytes=MAX_BLOB_BYTES, what="key exchange body")
    if len(items) != 2 or items[0] != _MEMBER_INIT or type(items[0]) is not int:
        raise MalformedFrameError("a key exchange body is [6, bundle]")
    return IdentityBundle.decode(expect_bytes(items[1], "bundle"))


def invite_ci(nameplate: str) -> bytes:
    """CPace's channel identifier for an invite code: ``LP(label("invite"), nameplate)``."""
    return kdf.encode_fields(_INVITE_LABEL, nameplate.encode("ascii"))


@dataclass(frozen=True, slots=True, repr=False)
class PakeKeys:
    """The four keys both sides derive from CPace's ISK, and the transcript they bind."""

    transcript: bytes
    confirm_j: bytes
    confirm_c: bytes
    seal_j: bytes
    seal_c: bytes

    @classmethod
    def derive(
        cls, isk: bytes, *, nameplate: str, sid: bytes, joiner: bytes, ya: bytes, yb: bytes
    ) -> PakeKeys:
        """Derive the keys from ISK and the attempt's transcript."""
        transcript = kdf.encode_fields(
            _TRANSCRIPT_LABEL, nameplate.encode("ascii"), sid, joiner, ya, yb
        )

        def derive_one(purpose: str) -> bytes:
            return kdf.hkdf_sha256(isk, salt=sid, info=kdf.label(purpose), length=_KEY_SIZE)

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
        ad = kdf.encode_fields(_SEAL_LABEL, self.transcript)
        return aead.encrypt(key, _ZERO_NONCE, plaintext, ad)

    def open(self, key: bytes, sealed: bytes) -> bytes:
        """Open what :meth:`seal` sealed; :class:`AuthenticationError` if it was altered."""
        ad = kdf.encode_fields(_SEAL_LABEL, self.transcript)
        return aead.decrypt(key, _ZERO_NONCE, sealed, ad)


@dataclass(frozen=True, slots=True, repr=False)
class Admission:
    """What a joiner learns from a verified CONFIRM_C.

    Attributes:
        creator: the owner's bundle, verified (signed for this attempt and for us).
        session_id: the session to join by id.
        join_seed: the Ed25519 seed of the session's join key (a secret).
        vouched: the identities of the other members, vouched for by the creator.
    """

    creator: IdentityBundle
    session_id: bytes
    join_seed: bytes
    vouched: tuple[PublicIdentity, ...]


class JoinerPake:
    """The joiner's side of one PAKE attempt (a fresh ``sid`` and scalar per attempt).

    Args:
        password: the invite code's password half (4 characters).
        nameplate: the invite code's nameplate.
        joiner: our own address (CPace's ``ADa``).
        rng: randomness for ``sid`` and the scalar.
    """

    __slots__ = ("_joiner", "_keys", "_nameplate", "_scalar", "sid", "start_message")

    def __init__(self, password: str, nameplate: str, joiner: bytes, rng: RandomSource) -> None:
        self.sid = rng(SID_SIZE)
        self._nameplate = nameplate
        self._joiner = joiner
        self._scalar = cpace.sample_scalar(rng)
        generator = cpace.calculate_generator(
            password.encode("ascii"), invite_ci(nameplate), self.sid
        )
        self.start_message = PakeStart(self.sid, cpace.scalar_mult_vfy(self._scalar, generator))
        self._keys: PakeKeys | None = None

    def receive_reply(self, reply: PakeReply, own_bundle: IdentityBundle) -> ConfirmJ:
        """Finish CPace with the owner's share; return our confirmation sealing ``own_bundle``.

        ``own_bundle`` must be signed for :func:`~quicko.session.bundle.pake_joiner_context`
        of :attr:`sid`.

        Raises:
            AuthenticationError: the share is a low-order point.
            ValueError: a reply was already processed in this attempt (local misuse).
        """
        if self._keys is not None:
            raise ValueError("this PAKE attempt already received its reply")
        ya = self.start_message.share
        k = cpace.scalar_mult_vfy(self._scalar, reply.share)
        isk = cpace.isk_ir(self.sid, k, ya, self._joiner, reply.share, b"")
        keys = PakeKeys.derive(isk, nameplate=self._nameplate, sid=self.sid, joiner=self._joiner,
                               ya=ya, yb=reply.share)  # fmt: skip
        self._keys = keys
        return ConfirmJ(keys.mac(keys.confirm_j), keys.seal(keys.seal_j, own_bundle.encode()))

    @property
    def replied(self) -> bool:
        """Whether the owner's PAKE_REPLY was processed (so a PAKE_FAIL means a wrong code)."""
        return self._keys is not None

    def receive_confirm(self, confirm: ConfirmC) -> Admission:
        """Check the owner's confirmation and return what it admits us to.

        Raises:
            AuthenticationError: the MAC, the seal, the owner's bundle or a vouched identity
                does not verify (or no reply came first).
            MalformedFrameError: the sealed content has the wrong shape.
        """
        keys = self._keys
        if keys is None:
            raise AuthenticationError
        keys.check_mac(keys.confirm_c, confirm.mac)
        content = unpack_array(keys.open(keys.seal_c, confirm.sealed), max_items=MAX_MEMBERS,
                               max_bytes=MAX_BLOB_BYTES, what="CONFIRM_C content")  # fmt: skip
        if len(content) != 4 or type(content[3]) is not list:
            raise MalformedFrameError("CONFIRM_C content is [bundle, session_id, seed, [ids]]")
        bundle = IdentityBundle.decode(expect_bytes(content[0], "creator bundle"))
        creator = verify_bundle(bundle, pake_creator_context(self.sid, self._joiner),
                                expected_address=bundle.address)  # fmt: skip
        session_id = expect_bytes(content[1], "session id", SESSION_ID_SIZE)
        seed = expect_bytes(content[2], "join seed", JOIN_SEED_SIZE)
        vouched = tuple(_decode_identity(item) for item in content[3])
        return Admission(creator, session_id, seed, vouched)

    def __repr__(self) -> str:
        return f"<JoinerPake replied={self._keys is not None}>"


def _decode_identity(item: object) -> PublicIdentity:
    """A vouched identity ``[address bin16, x25519 bin32, ed25519 bin32]``, checked."""
    if type(item) is not list or len(item) != 3:
        raise MalformedFrameError("a vouched identity is [address, x25519, ed25519]")
    return PublicIdentity(
        expect_bytes(item[0], "vouched address", ADDRESS_SIZE),
        expect_bytes(item[1], "vouched X25519 key", 32),
        expect_bytes(item[2], "vouched Ed25519 key", 32),
    )


class CreatorPake:
    """The owner's side of one PAKE attempt by one joiner; construction answers PAKE_START.

    Args:
        password: the invite code's password half.
        nameplate: the invite code's nameplate.
        joiner: the joiner's address as the relay put it in ``LobbyMessage.peer`` (``ADa``).
        start: the joiner's PAKE_START.
        rng: randomness for the scalar.

    Raises:
        AuthenticationError: the joiner's share is a low-order point.
    """

    __slots__ = ("_keys", "joiner", "reply", "sid")

    def __init__(
        self, password: str, nameplate: str, joiner: bytes, start: PakeStart, rng: RandomSource
    ) -> None:
        generator = cpace.calculate_generator(
            password.encode("ascii"), invite_ci(nameplate), start.sid
        )
        scalar = cpace.sample_scalar(rng)
        yb = cpace.scalar_mult_vfy(scalar, generator)
        k = cpace.scalar_mult_vfy(scalar, start.share)
        isk = cpace.isk_ir(start.sid, k, start.share, joiner, yb, b"")
        self.joiner = joiner
        self.sid = start.sid
        self.reply = PakeReply(yb)
        self._keys = PakeKeys.derive(isk, nameplate=nameplate, sid=start.sid, joiner=joiner,
                                     ya=start.share, yb=yb)  # fmt: skip

    def check_confirm(self, confirm: ConfirmJ) -> None:
        """Check the joiner's MAC: whether it knows the password.

        Raises:
            AuthenticationError: it does not verify (a wrong invite code).
        """
        self._keys.check_mac(self._keys.confirm_j, confirm.mac)

    def open_bundle(self, confirm: ConfirmJ) -> IdentityBundle:
        """Open and verify the joiner's sealed bundle (after :meth:`check_confirm`).

        Raises:
            AuthenticationError: the seal or the bundle does not verify.
            MalformedFrameError: the bundle has the wrong shape.
        """
        bundle = IdentityBundle.decode(self._keys.open(self._keys.seal_j, confirm.sealed))
        return verify_bundle(bundle, pake_joiner_context(self.sid), expected_address=self.joiner)

    def confirm(
        self,
        own_bundle: IdentityBundle,
        *,
        session_id: bytes,
        join_seed: bytes,
        vouched: tuple[PublicIdentity, ...],
    ) -> ConfirmC:
        """Our confirmation, sealing our bundle, the session id, join seed and members.

        ``sealed_c`` holds ``msgpack [bundle_c bin, session_id bin16, join_seed bin32,
        [[address bin16, x25519 bin32, ed25519 bin32], ...]]``.

        ``own_bundle`` must be signed for ``pake_creator_context(sid, joiner)``.
        """
        members = [[p.address, p.x25519_public, p.ed25519_public] for p in vouched]
        content: bytes = msgpack.packb(
            [own_bundle.encode(), session_id, join_seed, members], use_bin_type=True
        )
        keys = self._keys
        return ConfirmC(keys.mac(keys.confirm_c), keys.seal(keys.seal_c, content))

    def __repr__(self) -> str:
        return f"<CreatorPake joiner={self.joiner[:2].hex()}...>"


@dataclass(slots=True)
class InviteBudget:
    """The owner's count of wrong guesses on one invite code (pure bookkeeping, §8.3).

    - A joiner address whose CONFIRM_J failed once is refused for this code for good.
    - After :data:`FREE_FAILURES` failures, each new attempt waits a back-off after the last
      failure: :data:`BACKOFF_BASE_MS` doubling per further failure, at most
      :data:`BACKOFF_MAX_MS`.
    - After :data:`MAX_PAKE_FAILURES` failures the code is retired.
    - A ``sid`` is accepted once per code.
    """

    failures: int = 0
    last_failure_ms: int = 0
    failed: set[bytes] = field(default_factory=set)
    sids: set[bytes] = field(default_factory=set)

    @property
    def exhausted(self) -> bool:
        """Whether the code must be retired."""
        return self.failures >= MAX_PAKE_FAILURES

    def backoff_ms(self) -> int:
        """The wait required after the last failure before a new attempt (0: none)."""
        if self.failures < FREE_FAILURES:
            return 0
        return min(BACKOFF_BASE_MS << min(self.failures - FREE_FAILURES, 16), BACKOFF_MAX_MS)

    def retry_after(self, joiner: bytes, now_ms: int) -> int | None:
        """``None`` if ``joiner`` may start an attempt now, else when to retry (0: never)."""
        if self.exhausted or joiner in self.failed:
            return 0
        wait = self.last_failure_ms + self.backoff_ms() - now_ms
        return wait if wait > 0 else None

    def fail(self, joiner: bytes, now_ms: int) -> None:
        """Count a wrong guess by ``joiner``."""
        self.failures += 1
        self.last_failure_ms = now_ms
        self.failed.add(joiner)
