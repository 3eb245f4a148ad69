"""The Double Ratchet of the Signal specification, on AES-256-GCM, HKDF-SHA256 and HMAC-SHA256.

It follows "The Double Ratchet Algorithm" (Perrin and Marlinspike, revision 1, 2016), section 3
(``RatchetInitAlice``, ``RatchetInitBob``, ``RatchetEncrypt``, ``RatchetDecrypt``,
``TrySkippedMessageKeys``, ``SkipMessageKeys``, ``DHRatchet``), with the functions of
docs/protocol.md §9:

- ``KDF_RK(rk, dh_out)``: HKDF-SHA256(ikm=dh_out, salt=rk, info=label("ratchet/root"), 64 bytes)
  split into the new root key (32) and a chain key (32).
- ``KDF_CK(ck)``: message key = HMAC-SHA256(ck, 0x01), next chain key = HMAC-SHA256(ck, 0x02).
- ``ENCRYPT(mk, plaintext, ad)``: AES-256-GCM with the message key itself as the key and a
  constant nonce of 12 zero bytes (each message key encrypts exactly one message: the option
  "fixed to a constant" of the spec's section 5.2; protocol v4 — v3 expanded ``mk`` with an
  HKDF); the GCM associated data is ``encode_fields(ad, header)``.
- ``HEADER``: the sender's ratchet public key (32) || pn (u32) || n (u32), 40 bytes, big-endian.

A message body is ``header || ciphertext || tag``. Receiving is transactional: every change a
message would make is computed on a staged copy of the state and committed only once the tag has
verified, so a forged, tampered, replayed or out-of-bound message raises
:class:`~quicko.errors.AuthenticationError` and leaves the state exactly as it was. At most
:data:`MAX_SKIP` message keys are skipped in one chain, and at most :data:`MAX_STORED_SKIPPED`
skipped keys are kept (the oldest are dropped). Fresh ratchet keys come from the injected ``rng``.

Secrets that this module holds (root, chain and skipped message keys) live in ``bytearray`` and
are zeroed when replaced and by :meth:`DoubleRatchet.wipe`. Copies that Python or pyca make on
the way (``bytes`` arguments, key objects) cannot be zeroed from here.
"""

from __future__ import annotations

import itertools
import struct
from dataclasses import dataclass
from typing import NamedTuple

from quicko.crypto import aead
from quicko.crypto.kdf import encode_fields, hkdf_sha256, hmac_sha256_pair, label
from quicko.crypto.random import RandomSource
from quicko.crypto.x25519 import PUBLIC_KEY_SIZE, X25519KeyPair
from quicko.errors import AuthenticationError, InvalidKeyError

__all__ = [
    "HEADER_SIZE",
    "MAX_SKIP",
    "MAX_STORED_SKIPPED",
    "MIN_BODY_SIZE",
    "SHARED_KEY_SIZE",
    "DoubleRatchet",
]

SHARED_KEY_SIZE = 32
"""Size of the shared secret that seeds the ratchet (the first root key), in bytes."""
MAX_SKIP = 1000
"""Most message keys skipped in one receiving chain for one message (the spec's MAX_SKIP)."""
MAX_STORED_SKIPPED = 2000
"""Most skipped message keys kept at once; beyond it the oldest are dropped."""

_COUNTERS = struct.Struct(">II")
HEADER_SIZE = PUBLIC_KEY_SIZE + _COUNTERS.size
"""Size of a message header: ratchet public key (32) || pn (u32) || n (u32), in bytes."""
MIN_BODY_SIZE = HEADER_SIZE + aead.TAG_SIZE
"""Smallest valid message body: a header and the tag of an empty plaintext."""

_CHAIN_KEY_SIZE = 32
_MAX_COUNTER = 2**32 - 1
_MAX_FIELD_LENGTH = 2**32 - 1
_ROOT_INFO = label("ratchet/root")
_MESSAGE_KEY_INPUT = b"\x01"
_CHAIN_KEY_INPUT = b"\x02"


_LENGTH = struct.Struct(">I")


def _aad(associated_data: bytes, header: bytes) -> bytes:
    """``encode_fields(associated_data, header)``, inlined.

    The GCM associated data of every message (docs/protocol.md §9): the same bytes as
    :func:`~quicko.crypto.kdf.encode_fields`, without its loop (tested against it).
    """
    if len(associated_data) > _MAX_FIELD_LENGTH:
        return encode_fields(associated_data, header)  # raises ValueError, as it always did
    return b"".join((_LENGTH.pack(len(associated_data)), associated_data,
                     _LENGTH.pack(len(header)), header))  # fmt: skip


def _wipe(secret: bytearray | None) -> None:
    """Overwrite ``secret`` with zeros (a no-op for ``None``)."""
    if secret is not None:
        secret[:] = bytes(len(secret))


def _kdf_rk(root_key: bytearray, dh_out: bytes) -> tuple[bytearray, bytearray]:
    """KDF_RK: return the next root key and a new chain key."""
    out = bytearray(hkdf_sha256(dh_out, salt=bytes(root_key), info=_ROOT_INFO, length=64))
    root, chain = out[:32], out[32:]
    _wipe(out)
    return root, chain


def _kdf_ck(chain_key: bytearray) -> tuple[bytearray, bytearray]:
    """KDF_CK: return the next chain key and the message key."""
    chain, message = hmac_sha256_pair(bytes(chain_key), _CHAIN_KEY_INPUT, _MESSAGE_KEY_INPUT)
    return bytearray(chain), bytearray(message)


_MESSAGE_NONCE = bytes(aead.NONCE_SIZE)
"""ENCRYPT's nonce: 12 zero bytes, safe because every message key encrypts one message only."""


def _message_cipher(message_key: bytearray) -> tuple[bytes, bytes]:
    """ENCRYPT's AES-256-GCM key and nonce: the message key itself and :data:`_MESSAGE_NONCE`.

    A message key is a fresh 32-byte HMAC-SHA256 output used for exactly one message (the chain
    moves on, a skipped key is deleted once used), so the (key, nonce) pair never repeats; the
    Double Ratchet specification (section 5.2) lists a constant nonce as one of its options.
    """
    return bytes(message_key), _MESSAGE_NONCE


class _Header(NamedTuple):
    """A parsed message header; ``raw`` is its 40 wire bytes.

    A named tuple, not a frozen dataclass: one is built per received message, and a frozen
    dataclass pays an ``object.__setattr__`` per field.
    """

    raw: bytes
    dh: bytes
    pn: int
    n: int


def _parse(body: bytes) -> tuple[_Header, bytes]:
    """Split a body into its header and ciphertext; a short body fails authentication."""
    if len(body) < MIN_BODY_SIZE:
        raise AuthenticationError
    raw = bytes(body[:HEADER_SIZE])
    pn, n = _COUNTERS.unpack_from(raw, PUBLIC_KEY_SIZE)
    return _Header(raw, raw[:PUBLIC_KEY_SIZE], pn, n), bytes(body[HEADER_SIZE:])


@dataclass(slots=True)
class _State:
    """The spec's state variables, except MKSKIPPED (kept by the ratchet itself).

    Secrets are never changed in place: a step replaces them with new ``bytearray`` objects, so
    a shallow copy is an independent staging area.
    """

    rk: bytearray
    dhs: X25519KeyPair
    dhr: bytes | None
    cks: bytearray | None
    ckr: bytearray | None
    ns: int = 0
    nr: int = 0
    pn: int = 0

    def copy(self) -> _State:
        """A shallow copy (what ``dataclasses.replace`` makes, without its per-field checks)."""
        return _State(self.rk, self.dhs, self.dhr, self.cks, self.ckr, self.ns, self.nr, self.pn)

    def wipe_unshared(self, other: _State) -> None:
        """Zero the secrets of ``self`` that ``other`` does not hold too."""
        for mine, theirs in ((self.rk, other.rk), (self.cks, other.cks), (self.ckr, other.ckr)):
            if mine is not theirs:
                _wipe(mine)


_SkippedKey = tuple[bytes, int]


class DoubleRatchet:
    """One side of a Double Ratchet session (docs/protocol.md §9).

    Make one with :meth:`initiator` ("Alice", who sends first) or :meth:`responder` ("Bob", who
    can send only after its first received message). ``repr()`` shows counters, never keys.
    """

    __slots__ = ("_rng", "_skipped", "_state", "_wiped")

    def __init__(self, state: _State, rng: RandomSource) -> None:
        self._state = state
        self._rng = rng
        self._skipped: dict[_SkippedKey, bytearray] = {}
        self._wiped = False

    @classmethod
    def initiator(
        cls, shared_key: bytes, remote_ratchet_public: bytes, rng: RandomSource
    ) -> DoubleRatchet:
        """RatchetInitAlice: start with the peer's ratchet public key.

        Args:
            shared_key: the 32-byte secret agreed with the peer (SK).
            remote_ratchet_public: the responder's 32-byte ratchet public key.
            rng: the source of fresh ratchet key pairs.

        Raises:
            ValueError: ``shared_key`` is not 32 bytes long.
            InvalidKeyError: ``remote_ratchet_public`` is malformed or of low order.
        """
        root = _checked_shared_key(shared_key)
        dhs = X25519KeyPair.generate(rng)
        rk, cks = _kdf_rk(root, dhs.exchange(remote_ratchet_public))
        _wipe(root)
        state = _State(rk=rk, dhs=dhs, dhr=bytes(remote_ratchet_public), cks=cks, ckr=None)
        return cls(state, rng)

    @classmethod
    def responder(
        cls, shared_key: bytes, own_ratchet_pair: X25519KeyPair, rng: RandomSource
    ) -> DoubleRatchet:
        """RatchetInitBob: start with our own ratchet key pair; sending waits for a message.

        Args:
            shared_key: the 32-byte secret agreed with the peer (SK).
            own_ratchet_pair: the key pair whose public key the initiator started with.
            rng: the source of fresh ratchet key pairs.

        Raises:
            ValueError: ``shared_key`` is not 32 bytes long.
        """
        state = _State(
            rk=_checked_shared_key(shared_key), dhs=own_ratchet_pair, dhr=None, cks=None, ckr=None
        )
        return cls(state, rng)

    @property
    def can_send(self) -> bool:
        """Whether :meth:`encrypt` may be called (a responder must first receive a message)."""
        return not self._wiped and self._state.cks is not None

    def encrypt(self, plaintext: bytes, associated_data: bytes) -> bytes:
        """RatchetEncrypt: encrypt the next message of the sending chain.

        Args:
            plaintext: the bytes to encrypt.
            associated_data: bytes to authenticate with the header (the spec's AD).

        Returns:
            The message body: header (40 bytes) || ciphertext || tag (16 bytes).

        Raises:
            ValueError: the ratchet cannot send yet (see :attr:`can_send`), was wiped, or its
                sending chain is exhausted (2**32 - 1 messages without a reply).
        """
        self._check_live()
        state = self._state
        if state.cks is None:
            raise ValueError("the ratchet cannot send before it has received a message")
        if state.ns >= _MAX_COUNTER:
            raise ValueError("the sending chain is exhausted")
        header = state.dhs.public + _COUNTERS.pack(state.pn, state.ns)
        next_chain, message_key = _kdf_ck(state.cks)
        _wipe(state.cks)
        state.cks = next_chain
        state.ns += 1
        key, nonce = _message_cipher(message_key)
        _wipe(message_key)
        return header + aead.encrypt(key, nonce, plaintext, _aad(associated_data, header))

    def decrypt(self, body: bytes, associated_data: bytes) -> bytes:
        """RatchetDecrypt: check and decrypt a message body; commit the state only on success.

        Args:
            body: header || ciphertext || tag, as :meth:`encrypt` returns it.
            associated_data: the associated data it was encrypted with.

        Returns:
            The plaintext.

        Raises:
            AuthenticationError: the body is short, forged or tampered with, was encrypted with
                other associated data, is a replay (its key was used or dropped), carries a
                low-order ratchet key, or would skip more than :data:`MAX_SKIP` keys. The state
                is unchanged.
            ValueError: the ratchet was wiped.
        """
        self._check_live()
        header, ciphertext = _parse(body)
        aad = _aad(associated_data, header.raw)
        skipped = self._skipped.get((header.dh, header.n))
        if skipped is not None:
            plaintext = _open(skipped, ciphertext, aad)
            _wipe(self._skipped.pop((header.dh, header.n)))
            return plaintext
        self._check_bounds(header)
        staged, new_skipped, message_key = self._stage(header)
        try:
            plaintext = _open(message_key, ciphertext, aad)
        except AuthenticationError:
            self._discard(staged, new_skipped)
            raise
        finally:
            _wipe(message_key)
        self._commit(staged, new_skipped)
        return plaintext

    def wipe(self) -> None:
        """Zero every secret this object holds; afterwards it refuses to encrypt or decrypt."""
        state = self._state
        for secret in (state.rk, state.cks, state.ckr, *self._skipped.values()):
            _wipe(secret)
        self._skipped.clear()
        state.cks = state.ckr = None
        self._wiped = True

    def __repr__(self) -> str:
        state = self._state
        return (
            f"{type(self).__name__}(can_send={self.can_send}, sent={state.ns}, "
            f"received={state.nr}, skipped={len(self._skipped)}, wiped={self._wiped})"
        )

    def _check_live(self) -> None:
        if self._wiped:
            raise ValueError("the ratchet was wiped")

    def _check_bounds(self, header: _Header) -> None:
        """Refuse, before any derivation, a header that skips too far or reuses a key."""
        state = self._state
        if header.dh != state.dhr:
            # SkipMessageKeys(state, header.pn) in the old chain, then header.n in the new one.
            refuse = header.pn > state.nr + MAX_SKIP or header.n > MAX_SKIP
        elif state.ckr is None:
            # The initiator's first remote key, before any reply: no chain can decrypt it.
            refuse = True
        else:
            # A key below Nr that is not in MKSKIPPED was used or dropped: a replay.
            refuse = header.n < state.nr or header.n > state.nr + MAX_SKIP
        if refuse:
            raise AuthenticationError

    def _stage(
        self, header: _Header
    ) -> tuple[_State, list[tuple[_SkippedKey, bytearray]], bytearray]:
        """Compute, on a copy of the state, what receiving ``header`` would change.

        Returns:
            The new state, the skipped keys to store, and the message key.
        """
        staged = self._state.copy()
        new_skipped: list[tuple[_SkippedKey, bytearray]] = []
        if header.dh != staged.dhr:
            self._skip(staged, header.pn, new_skipped)
            try:
                self._dh_ratchet(staged, header.dh)
            except InvalidKeyError as exc:
                self._discard(staged, new_skipped)
                raise AuthenticationError from exc
        self._skip(staged, header.n, new_skipped)
        assert staged.ckr is not None  # set by the DH ratchet, or header.dh == dhr
        next_chain, message_key = _kdf_ck(staged.ckr)
        self._replace_receiving_chain(staged, next_chain)
        staged.nr += 1
        return staged, new_skipped, message_key

    def _skip(self, staged: _State, until: int, out: list[tuple[_SkippedKey, bytearray]]) -> None:
        """SkipMessageKeys: derive and set aside the receiving keys below ``until``."""
        if staged.ckr is None or staged.dhr is None:
            return
        while staged.nr < until:
            next_chain, message_key = _kdf_ck(staged.ckr)
            self._replace_receiving_chain(staged, next_chain)
            out.append(((staged.dhr, staged.nr), message_key))
            staged.nr += 1

    def _replace_receiving_chain(self, staged: _State, next_chain: bytearray) -> None:
        """Move the staged receiving chain on, zeroing the old key unless it is committed."""
        if staged.ckr is not self._state.ckr:
            _wipe(staged.ckr)
        staged.ckr = next_chain

    def _dh_ratchet(self, staged: _State, remote_public: bytes) -> None:
        """DHRatchet: step the root chain with the peer's new ratchet key and a fresh own key."""
        staged.pn, staged.ns, staged.nr = staged.ns, 0, 0
        rk, ckr = _kdf_rk(staged.rk, staged.dhs.exchange(remote_public))
        dhs = X25519KeyPair.generate(self._rng)
        rk2, cks = _kdf_rk(rk, dhs.exchange(remote_public))
        _wipe(rk)
        if staged.ckr is not self._state.ckr:
            _wipe(staged.ckr)
        staged.dhr, staged.dhs, staged.rk, staged.ckr, staged.cks = (
            remote_public,
            dhs,
            rk2,
            ckr,
            cks,
        )

    def _commit(self, staged: _State, new_skipped: list[tuple[_SkippedKey, bytearray]]) -> None:
        """Make ``staged`` the state, store the skipped keys and drop the oldest over the cap."""
        self._state.wipe_unshared(staged)
        self._state = staged
        self._skipped.update(new_skipped)
        excess = len(self._skipped) - MAX_STORED_SKIPPED
        if excess > 0:
            # Dicts keep insertion order: the first keys are the oldest.
            for oldest in list(itertools.islice(self._skipped, excess)):
                _wipe(self._skipped.pop(oldest))

    def _discard(self, staged: _State, new_skipped: list[tuple[_SkippedKey, bytearray]]) -> None:
        """Zero what a refused message staged, leaving the committed state as it was."""
        staged.wipe_unshared(self._state)
        for _, key in new_skipped:
            _wipe(key)


def _checked_shared_key(shared_key: bytes) -> bytearray:
    if len(shared_key) != SHARED_KEY_SIZE:
        raise ValueError(f"the shared key must be {SHARED_KEY_SIZE} bytes")
    return bytearray(shared_key)


def _open(message_key: bytearray, ciphertext: bytes, aad: bytes) -> bytes:
    key, nonce = _message_cipher(message_key)
    return aead.decrypt(key, nonce, ciphertext, aad)
