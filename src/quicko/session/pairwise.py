"""The pairwise channel: a hybrid (PQXDH-style) key agreement, then a Double Ratchet.

One :class:`PairwiseChannel` per (session, peer), docs/protocol.md §9. The peer with the
lexicographically smaller address is the initiator I ("Alice"); the other is the responder R
("Bob"). Each side's bundle carries an identity X25519 key IK, a fresh X25519 key EK and a fresh
ML-KEM-768 encapsulation key PQPK, all signed (:mod:`quicko.session.bundle`).

**Key agreement** (§9.1), after Signal's PQXDH (revision 3,
https://signal.org/docs/specifications/pqxdh/, §2.2 and §3.3) without signed or one-time
prekeys — both bundles are fresh, so EK_R plays the signed prekey's part and PQPK_R the
last-resort post-quantum prekey's::

    dh1 = DH(IK_I, EK_R), dh2 = DH(EK_I, IK_R), dh3 = DH(EK_I, EK_R)
    (SS, CT) = ML-KEM-768.Encaps(PQPK_R)                          # I only; R: SS = Decaps(CT)
    SK = HKDF-SHA256(ikm  = F || dh1 || dh2 || dh3 || SS,          # F = 32 bytes 0xFF
                     salt = session_id,
                     info = LP(label("pqxdh"), "CURVE25519_SHA-256_ML-KEM-768",
                               addr_I, addr_R, PQPK_R, CT), 32)

SK seeds the Double Ratchet as before (I: ``RatchetInitAlice(SK, EK_R)``; R:
``RatchetInitBob(SK, EK_R key pair)``). The responder can derive SK only once it has CT, so it
can send only after it has opened one message; the initiator sends a SYNC envelope at once and
the session layer queues the responder's messages until :attr:`PairwiseChannel.can_send`.

**Message body** (``Message.body``): a one-byte kind, then::

    0x00 RATCHET      ratchet message                         (header 40 || ciphertext || tag 16)
    0x01 PQXDH_INIT   CT (1,088 bytes) || ratchet message

The initiator sends PQXDH_INIT for every message until it has opened one from the responder
(the SYNC first; a retransmitted frame is the same bytes), RATCHET afterwards; the responder
always sends RATCHET. The responder derives SK from the first PQXDH_INIT whose ratchet message
opens — nothing is kept from one that does not (a tampered CT gives another SS by ML-KEM's
implicit rejection, so the message fails to open) — and afterwards accepts PQXDH_INIT only with
that same CT. There is no classical-only body: the hybrid is mandatory since version 3.

The ratchet message's associated data (docs/protocol.md §9.4)::

    ad = encode_fields(label("message"), version (1 byte, 3), session_id, sender, recipient,
                       message_id, u64(timestamp))

so that a body moved to another session, sender, recipient, message id or timestamp does not
open.
"""

from __future__ import annotations

import hmac
import struct
from collections.abc import Callable
from typing import Final

from quicko.crypto import mlkem
from quicko.crypto.kdf import encode_fields, hkdf_sha256, label
from quicko.crypto.mlkem import MLKEMKeyPair
from quicko.crypto.random import RandomSource
from quicko.crypto.ratchet import SHARED_KEY_SIZE, DoubleRatchet
from quicko.crypto.x25519 import X25519KeyPair
from quicko.errors import AuthenticationError
from quicko.protocol.constants import (
    ADDRESS_SIZE,
    MESSAGE_ID_SIZE,
    PROTOCOL_VERSION,
    SESSION_ID_SIZE,
)
from quicko.session.envelope import Envelope, pad_envelope, unpad_envelope

__all__ = [
    "BODY_PQXDH_INIT",
    "BODY_RATCHET",
    "PQXDH_F",
    "PQXDH_LABEL",
    "PQXDH_SUITE",
    "Encapsulate",
    "PairwiseChannel",
    "message_ad",
    "pqxdh_shared_key",
    "triple_dh",
]

PQXDH_LABEL: Final = label("pqxdh")
"""First field of the PQXDH info (``quicko2/v4/pqxdh``)."""
PQXDH_SUITE: Final = b"CURVE25519_SHA-256_ML-KEM-768"
"""Second field of the PQXDH info: PQXDH's curve, hash and pqkem parameters, ``_``-joined."""
PQXDH_F: Final = b"\xff" * 32
"""PQXDH's ``F`` for curve25519: 32 0xFF bytes before the key material (§2.2)."""
BODY_RATCHET: Final = 0x00
"""Body kind: a ratchet message."""
BODY_PQXDH_INIT: Final = 0x01
"""Body kind: the initiator's ML-KEM ciphertext, then a ratchet message."""

Encapsulate = Callable[[bytes], tuple[bytes, bytes]]
"""ML-KEM encapsulation: encapsulation key -> (shared secret, ciphertext)."""

_TRIPLE_DH_INFO = label("3dh")
_MESSAGE_LABEL = label("message")
_VERSION = bytes([PROTOCOL_VERSION])
_MAX_TIMESTAMP = 2**64 - 1
_INIT_PREFIX_SIZE = 1 + mlkem.CIPHERTEXT_SIZE
# The last two fields of message_ad, length-prefixed: the message id and the u64 timestamp.
_AD_TAIL = struct.Struct(f">I{MESSAGE_ID_SIZE}sIQ")


def _check_ids(session_id: bytes, *addresses: bytes) -> None:
    if len(session_id) != SESSION_ID_SIZE:
        raise ValueError(f"a session id must be {SESSION_ID_SIZE} bytes")
    for address in addresses:
        if len(address) != ADDRESS_SIZE:
            raise ValueError(f"an address must be {ADDRESS_SIZE} bytes")
    if len(set(addresses)) != len(addresses):
        raise ValueError("a pairwise channel needs two different addresses")


def _dh_outputs(
    *,
    own_identity: X25519KeyPair,
    own_ephemeral: X25519KeyPair,
    own_address: bytes,
    peer_identity_public: bytes,
    peer_ephemeral_public: bytes,
    peer_address: bytes,
) -> tuple[bytes, bytes, bytes]:
    """``(dh1 || dh2 || dh3, addr_I, addr_R)``, the same on both sides."""
    if own_address < peer_address:
        dh1 = own_identity.exchange(peer_ephemeral_public)
        dh2 = own_ephemeral.exchange(peer_identity_public)
        first, second = own_address, peer_address
    else:
        dh1 = own_ephemeral.exchange(peer_identity_public)
        dh2 = own_identity.exchange(peer_ephemeral_public)
        first, second = peer_address, own_address
    dh3 = own_ephemeral.exchange(peer_ephemeral_public)
    return dh1 + dh2 + dh3, first, second


def triple_dh(
    *,
    own_identity: X25519KeyPair,
    own_ephemeral: X25519KeyPair,
    own_address: bytes,
    peer_identity_public: bytes,
    peer_ephemeral_public: bytes,
    peer_address: bytes,
    session_id: bytes,
) -> bytes:
    """The classical 32-byte triple-DH secret of a pair (the same on both sides).

    It no longer keys any channel (see :func:`pqxdh_shared_key`); it derives only a call's join
    key (:func:`quicko.session.calls.call_join_seed`), which both parties need before any
    message. With I the peer of smaller address, R the other::

        SK_3dh = HKDF-SHA256(dh1 || dh2 || dh3, salt=session_id,
                             info=encode_fields(label("3dh"), addr_I, addr_R), 32)

    Raises:
        ValueError: an address or the session id has the wrong size, or the addresses are equal.
        InvalidKeyError: a peer public key is malformed or of low order.
    """
    _check_ids(session_id, own_address, peer_address)
    dh, first, second = _dh_outputs(
        own_identity=own_identity,
        own_ephemeral=own_ephemeral,
        own_address=own_address,
        peer_identity_public=peer_identity_public,
        peer_ephemeral_public=peer_ephemeral_public,
        peer_address=peer_address,
    )
    info = encode_fields(_TRIPLE_DH_INFO, first, second)
    return hkdf_sha256(dh, salt=session_id, info=info, length=SHARED_KEY_SIZE)


def pqxdh_shared_key(
    *,
    dh: bytes,
    kem_secret: bytes,
    session_id: bytes,
    initiator: bytes,
    responder: bytes,
    kem_public: bytes,
    kem_ciphertext: bytes,
) -> bytes:
    """The hybrid SK of a pair: one HKDF over the three DH outputs and the ML-KEM secret.

    ``SK = HKDF-SHA256(F || dh1 || dh2 || dh3 || SS, salt=session_id,
    info=LP(label("pqxdh"), "CURVE25519_SHA-256_ML-KEM-768", addr_I, addr_R, PQPK_R, CT), 32)``.

    Args:
        dh: ``dh1 || dh2 || dh3`` (96 bytes).
        kem_secret: SS, the ML-KEM shared secret (32 bytes).
        session_id: the session id (16 bytes), the HKDF salt.
        initiator: addr_I (the smaller address).
        responder: addr_R.
        kem_public: PQPK_R, the responder's encapsulation key from its bundle.
        kem_ciphertext: CT.

    Raises:
        ValueError: a size is wrong.
    """
    _check_ids(session_id, initiator, responder)
    if len(dh) != 3 * SHARED_KEY_SIZE or len(kem_secret) != mlkem.SHARED_SECRET_SIZE:
        raise ValueError("PQXDH needs three 32-byte DH outputs and a 32-byte KEM secret")
    if len(kem_public) != mlkem.PUBLIC_KEY_SIZE or len(kem_ciphertext) != mlkem.CIPHERTEXT_SIZE:
        raise ValueError("PQXDH needs an ML-KEM-768 public key and ciphertext")
    info = encode_fields(PQXDH_LABEL, PQXDH_SUITE, initiator, responder, kem_public,
                         kem_ciphertext)  # fmt: skip
    return hkdf_sha256(PQXDH_F + dh + kem_secret, salt=session_id, info=info,
                       length=SHARED_KEY_SIZE)  # fmt: skip


def message_ad(
    *, session_id: bytes, sender: bytes, recipient: bytes, message_id: bytes, timestamp: int
) -> bytes:
    """Return the associated data that binds a message body to its frame.

    Raises:
        ValueError: an id has the wrong size, or ``timestamp`` is not a u64.
    """
    _check_ids(session_id, sender, recipient)
    if len(message_id) != MESSAGE_ID_SIZE:
        raise ValueError(f"a message id must be {MESSAGE_ID_SIZE} bytes")
    if not 0 <= timestamp <= _MAX_TIMESTAMP:
        raise ValueError("a timestamp must be an unsigned 64-bit integer")
    return encode_fields(
        _MESSAGE_LABEL,
        _VERSION,
        session_id,
        sender,
        recipient,
        message_id,
        timestamp.to_bytes(8, "big"),
    )


class PairwiseChannel:
    """The end-to-end channel with one peer of one session.

    ``repr()`` shows the role and whether it can send, never ids or keys.
    """

    __slots__ = (
        "_ad_prefixes",
        "_dh",
        "_heard",
        "_is_initiator",
        "_kem_ciphertext",
        "_own_address",
        "_own_ephemeral",
        "_own_kem",
        "_peer_address",
        "_ratchet",
        "_rng",
        "_session_id",
        "_wiped",
    )

    def __init__(
        self,
        *,
        session_id: bytes,
        own_address: bytes,
        peer_address: bytes,
        is_initiator: bool,
        ratchet: DoubleRatchet | None,
        kem_ciphertext: bytes,
        rng: RandomSource,
    ) -> None:
        self._session_id = session_id
        self._own_address = own_address
        self._peer_address = peer_address
        self._is_initiator = is_initiator
        self._ratchet = ratchet
        self._kem_ciphertext = kem_ciphertext
        self._rng = rng
        self._heard = False
        self._wiped = False
        # The fixed start of message_ad for (frames we send, frames we receive), checked once.
        self._ad_prefixes: tuple[bytes, bytes] | None = None
        # A responder until its first message opens: what it needs to derive SK then.
        self._dh: bytearray | None = None
        self._own_ephemeral: X25519KeyPair | None = None
        self._own_kem: MLKEMKeyPair | None = None

    @classmethod
    def establish(
        cls,
        *,
        session_id: bytes,
        own_address: bytes,
        own_identity: X25519KeyPair,
        own_ephemeral: X25519KeyPair,
        own_kem: MLKEMKeyPair,
        peer_address: bytes,
        peer_identity_public: bytes,
        peer_ephemeral_public: bytes,
        peer_kem_public: bytes,
        rng: RandomSource,
        encapsulate: Encapsulate = mlkem.encapsulate,
    ) -> PairwiseChannel:
        """Start the channel in the role the addresses give (module docstring).

        The initiator encapsulates to the peer's ML-KEM key, derives SK at once and starts the
        ratchet with the peer's ephemeral key as the remote ratchet key. The responder computes
        the three DH outputs now (so bad peer keys fail here) and derives SK from the
        initiator's first message; it uses its own ephemeral key pair as its first ratchet key
        pair. The keys must come from verified bundles (the session layer checks them).

        Args:
            session_id: the session's 16-byte id.
            own_address: our address.
            own_identity: our identity X25519 key pair.
            own_ephemeral: the X25519 key pair whose public key our bundle carried.
            own_kem: the ML-KEM key pair whose public key our bundle carried (used only if we
                are the responder).
            peer_address: the peer's address.
            peer_identity_public: the peer's identity X25519 key.
            peer_ephemeral_public: the peer bundle's ephemeral X25519 key.
            peer_kem_public: the peer bundle's ML-KEM key (used only if we are the initiator).
            rng: the source of fresh ratchet keys.
            encapsulate: ML-KEM encapsulation; tests inject a known answer.

        Raises:
            ValueError: an address or the session id has the wrong size, or the addresses are
                equal.
            InvalidKeyError: a peer public key is malformed or of low order.
        """
        _check_ids(session_id, own_address, peer_address)
        dh, first, second = _dh_outputs(
            own_identity=own_identity,
            own_ephemeral=own_ephemeral,
            own_address=own_address,
            peer_identity_public=peer_identity_public,
            peer_ephemeral_public=peer_ephemeral_public,
            peer_address=peer_address,
        )
        ids = (bytes(session_id), bytes(own_address), bytes(peer_address))
        if own_address < peer_address:
            secret, ciphertext = encapsulate(peer_kem_public)
            shared = pqxdh_shared_key(dh=dh, kem_secret=secret, session_id=session_id,
                                      initiator=first, responder=second,
                                      kem_public=peer_kem_public,
                                      kem_ciphertext=ciphertext)  # fmt: skip
            ratchet = DoubleRatchet.initiator(shared, peer_ephemeral_public, rng)
            return cls._make(ids, ratchet, ciphertext, rng)
        channel = cls._make(ids, None, b"", rng)
        channel._dh = bytearray(dh)
        channel._own_ephemeral = own_ephemeral
        channel._own_kem = own_kem
        return channel

    @classmethod
    def _make(
        cls,
        ids: tuple[bytes, bytes, bytes],
        ratchet: DoubleRatchet | None,
        kem_ciphertext: bytes,
        rng: RandomSource,
    ) -> PairwiseChannel:
        session_id, own_address, peer_address = ids
        return cls(session_id=session_id, own_address=own_address, peer_address=peer_address,
                   is_initiator=ratchet is not None, ratchet=ratchet,
                   kem_ciphertext=kem_ciphertext, rng=rng)  # fmt: skip

    @property
    def is_initiator(self) -> bool:
        """Whether we are the initiator (our address is the smaller one)."""
        return self._is_initiator

    @property
    def established(self) -> bool:
        """Whether SK is agreed (always for the initiator; the responder after one message)."""
        return self._ratchet is not None and not self._wiped

    @property
    def can_send(self) -> bool:
        """Whether :meth:`seal` may be called; a responder must first open a message."""
        return self._ratchet is not None and self._ratchet.can_send

    @property
    def peer_address(self) -> bytes:
        """The peer's 16-byte address."""
        return self._peer_address

    def seal(self, envelope: Envelope, *, message_id: bytes, timestamp: int) -> bytes:
        """Pad and encrypt ``envelope`` for the peer, bound to its Message frame's fields.

        Args:
            envelope: what to send.
            message_id: the 16-byte id of the Message frame that will carry it.
            timestamp: that frame's timestamp (milliseconds since the epoch).

        Returns:
            The Message body: PQXDH_INIT (the initiator, until it has heard from the
            responder) or RATCHET (module docstring).

        Raises:
            ValueError: the channel cannot send yet (a responder that has opened nothing), was
                wiped, or an argument is invalid.
        """
        if self._ratchet is None or not self._ratchet.can_send:
            raise ValueError("the channel cannot send before it has opened a message")
        ad = self._ad(outgoing=True, message_id=message_id, timestamp=timestamp)
        message = self._ratchet.encrypt(pad_envelope(envelope), ad)
        if self._is_initiator and not self._heard:
            return bytes([BODY_PQXDH_INIT]) + self._kem_ciphertext + message
        return bytes([BODY_RATCHET]) + message

    def open(self, body: bytes, *, message_id: bytes, timestamp: int) -> Envelope:
        """Decrypt and decode a Message body from the peer.

        Args:
            body: the Message frame's body.
            message_id: the frame's 16-byte message id.
            timestamp: the frame's timestamp.

        Returns:
            The envelope.

        Raises:
            AuthenticationError: the body does not open (forged, tampered with, replayed, sent
                for other frame fields, of an unknown kind, or carrying another ML-KEM
                ciphertext); the channel is unchanged.
            MalformedFrameError: the body opened, but the envelope inside is malformed (the
                message key is then used up).
            ValueError: the channel was wiped, or ``message_id`` or ``timestamp`` is invalid.
        """
        if self._wiped:
            raise ValueError("the channel was wiped")
        ad = self._ad(outgoing=False, message_id=message_id, timestamp=timestamp)
        if not body:
            raise AuthenticationError
        kind = body[0]
        if kind == BODY_RATCHET:
            message = body[1:]
        elif kind == BODY_PQXDH_INIT and not self._is_initiator:
            if len(body) < _INIT_PREFIX_SIZE:
                raise AuthenticationError
            ciphertext, message = body[1:_INIT_PREFIX_SIZE], body[_INIT_PREFIX_SIZE:]
            if self._ratchet is None:
                return unpad_envelope(self._first_open(ciphertext, message, ad))
            if not hmac.compare_digest(ciphertext, self._kem_ciphertext):
                raise AuthenticationError
        else:
            raise AuthenticationError
        if self._ratchet is None:
            raise AuthenticationError  # a responder's first message must be PQXDH_INIT
        plaintext = self._ratchet.decrypt(message, ad)
        self._heard = True
        return unpad_envelope(plaintext)

    def _first_open(self, ciphertext: bytes, message: bytes, ad: bytes) -> bytes:
        """Responder: derive SK from ``ciphertext``; keep it only if ``message`` opens."""
        dh, own_kem, own_ephemeral = self._dh, self._own_kem, self._own_ephemeral
        assert dh is not None and own_kem is not None and own_ephemeral is not None
        shared = pqxdh_shared_key(dh=bytes(dh), kem_secret=own_kem.decapsulate(ciphertext),
                                  session_id=self._session_id, initiator=self._peer_address,
                                  responder=self._own_address, kem_public=own_kem.public,
                                  kem_ciphertext=ciphertext)  # fmt: skip
        ratchet = DoubleRatchet.responder(shared, own_ephemeral, self._rng)
        try:
            plaintext = ratchet.decrypt(message, ad)
        except AuthenticationError:
            ratchet.wipe()
            raise
        self._ratchet, self._kem_ciphertext, self._heard = ratchet, bytes(ciphertext), True
        dh[:] = bytes(len(dh))
        self._dh = self._own_kem = self._own_ephemeral = None
        return plaintext

    def _ad(self, *, outgoing: bool, message_id: bytes, timestamp: int) -> bytes:
        """The :func:`message_ad` of a frame we send (``outgoing``) or receive on this channel.

        The same bytes, with the part every message of one direction shares (label, version,
        session id, sender, recipient) encoded once: ``encode_fields`` is a concatenation.
        """
        prefixes = self._ad_prefixes
        if prefixes is None:
            session_id, ours, theirs = self._session_id, self._own_address, self._peer_address
            _check_ids(session_id, ours, theirs)
            prefixes = self._ad_prefixes = (
                encode_fields(_MESSAGE_LABEL, _VERSION, session_id, ours, theirs),
                encode_fields(_MESSAGE_LABEL, _VERSION, session_id, theirs, ours),
            )
        if len(message_id) != MESSAGE_ID_SIZE:
            raise ValueError(f"a message id must be {MESSAGE_ID_SIZE} bytes")
        if not 0 <= timestamp <= _MAX_TIMESTAMP:
            raise ValueError("a timestamp must be an unsigned 64-bit integer")
        prefix = prefixes[0] if outgoing else prefixes[1]
        return prefix + _AD_TAIL.pack(MESSAGE_ID_SIZE, message_id, 8, timestamp)

    def wipe(self) -> None:
        """Zero the ratchet's secrets; the channel then refuses to seal or open."""
        if self._ratchet is not None:
            self._ratchet.wipe()
        if self._dh is not None:
            self._dh[:] = bytes(len(self._dh))
        self._dh = self._own_kem = self._own_ephemeral = None
        self._wiped = True

    def __repr__(self) -> str:
        return f"{type(self).__name__}(is_initiator={self._is_initiator}, can_send={self.can_send})"
