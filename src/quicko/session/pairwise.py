"""The pairwise channel: triple Diffie-Hellman, then a Double Ratchet (docs/protocol.md §9).

One :class:`PairwiseChannel` per (session, peer). The peer with the lexicographically smaller
address is the initiator ("Alice"); the other is the responder ("Bob"), who can send only after
it has opened one message, so the initiator sends a SYNC envelope at once and the session layer
queues the responder's messages until :attr:`PairwiseChannel.can_send`.

The message body is the ratchet's ``header || ciphertext || tag`` of the padded envelope, with
associated data (docs/protocol.md §9, "Exact AD")::

    ad = encode_fields(label("message"), version (1 byte, 3), session_id, sender, recipient,
                       message_id, u64(timestamp))

so that a body moved to another session, sender, recipient, message id or timestamp does not
open.
"""

from __future__ import annotations

from quicko.crypto.kdf import encode_fields, hkdf_sha256, label
from quicko.crypto.random import RandomSource
from quicko.crypto.ratchet import SHARED_KEY_SIZE, DoubleRatchet
from quicko.crypto.x25519 import X25519KeyPair
from quicko.protocol.constants import (
    ADDRESS_SIZE,
    MESSAGE_ID_SIZE,
    PROTOCOL_VERSION,
    SESSION_ID_SIZE,
)
from quicko.session.envelope import Envelope, pad_envelope, unpad_envelope

__all__ = ["PairwiseChannel", "message_ad", "triple_dh"]

_TRIPLE_DH_INFO = label("3dh")
_MESSAGE_LABEL = label("message")
_VERSION = bytes([PROTOCOL_VERSION])
_MAX_TIMESTAMP = 2**64 - 1


def _check_ids(session_id: bytes, *addresses: bytes) -> None:
    if len(session_id) != SESSION_ID_SIZE:
        raise ValueError(f"a session id must be {SESSION_ID_SIZE} bytes")
    for address in addresses:
        if len(address) != ADDRESS_SIZE:
            raise ValueError(f"an address must be {ADDRESS_SIZE} bytes")
    if len(set(addresses)) != len(addresses):
        raise ValueError("a pairwise channel needs two different addresses")


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
    """Agree the 32-byte shared key SK of a pair of peers (the same on both sides).

    With I the peer of smaller address, R the other, IK identity and EK ephemeral keys::

        dh1 = DH(IK_I, EK_R), dh2 = DH(EK_I, IK_R), dh3 = DH(EK_I, EK_R)
        SK = HKDF-SHA256(dh1 || dh2 || dh3, salt=session_id,
                         info=encode_fields(label("3dh"), addr_I, addr_R), 32)

    Raises:
        ValueError: an address or the session id has the wrong size, or the addresses are equal.
        InvalidKeyError: a peer public key is malformed or of low order.
    """
    _check_ids(session_id, own_address, peer_address)
    if own_address < peer_address:
        dh1 = own_identity.exchange(peer_ephemeral_public)
        dh2 = own_ephemeral.exchange(peer_identity_public)
        first, second = own_address, peer_address
    else:
        dh1 = own_ephemeral.exchange(peer_identity_public)
        dh2 = own_identity.exchange(peer_ephemeral_public)
        first, second = peer_address, own_address
    dh3 = own_ephemeral.exchange(peer_ephemeral_public)
    info = encode_fields(_TRIPLE_DH_INFO, first, second)
    return hkdf_sha256(dh1 + dh2 + dh3, salt=session_id, info=info, length=SHARED_KEY_SIZE)


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

    __slots__ = ("_is_initiator", "_own_address", "_peer_address", "_ratchet", "_session_id")

    def __init__(
        self,
        *,
        session_id: bytes,
        own_address: bytes,
        peer_address: bytes,
        is_initiator: bool,
        ratchet: DoubleRatchet,
    ) -> None:
        self._session_id = session_id
        self._own_address = own_address
        self._peer_address = peer_address
        self._is_initiator = is_initiator
        self._ratchet = ratchet

    @classmethod
    def establish(
        cls,
        *,
        session_id: bytes,
        own_address: bytes,
        own_identity: X25519KeyPair,
        own_ephemeral: X25519KeyPair,
        peer_address: bytes,
        peer_identity_public: bytes,
        peer_ephemeral_public: bytes,
        rng: RandomSource,
    ) -> PairwiseChannel:
        """Agree SK by :func:`triple_dh` and start the ratchet in the role the addresses give.

        The keys must come from verified bundles (the session layer checks them). The initiator
        starts with the peer's ephemeral key as the remote ratchet key; the responder uses its
        own ephemeral key pair as its first ratchet key pair.

        Raises:
            ValueError: an address or the session id has the wrong size, or the addresses are
                equal.
            InvalidKeyError: a peer public key is malformed or of low order.
        """
        shared = triple_dh(
            own_identity=own_identity,
            own_ephemeral=own_ephemeral,
            own_address=own_address,
            peer_identity_public=peer_identity_public,
            peer_ephemeral_public=peer_ephemeral_public,
            peer_address=peer_address,
            session_id=session_id,
        )
        is_initiator = own_address < peer_address
        if is_initiator:
            ratchet = DoubleRatchet.initiator(shared, peer_ephemeral_public, rng)
        else:
            ratchet = DoubleRatchet.responder(shared, own_ephemeral, rng)
        return cls(
            session_id=bytes(session_id),
            own_address=bytes(own_address),
            peer_address=bytes(peer_address),
            is_initiator=is_initiator,
            ratchet=ratchet,
        )

    @property
    def is_initiator(self) -> bool:
        """Whether we are the initiator (our address is the smaller one)."""
        return self._is_initiator

    @property
    def can_send(self) -> bool:
        """Whether :meth:`seal` may be called; a responder must first open a message."""
        return self._ratchet.can_send

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
            The Message body: ratchet header || ciphertext || tag.

        Raises:
            ValueError: the channel cannot send yet (a responder that has opened nothing), was
                wiped, or an argument is invalid.
        """
        if not self._ratchet.can_send:
            raise ValueError("the channel cannot send before it has opened a message")
        ad = self._ad(outgoing=True, message_id=message_id, timestamp=timestamp)
        return self._ratchet.encrypt(pad_envelope(envelope), ad)

    def open(self, body: bytes, *, message_id: bytes, timestamp: int) -> Envelope:
        """Decrypt and decode a Message body from the peer.

        Args:
            body: the Message frame's body.
            message_id: the frame's 16-byte message id.
            timestamp: the frame's timestamp.

        Returns:
            The envelope.

        Raises:
            AuthenticationError: the body does not open (forged, tampered with, replayed, or
                sent for other frame fields); the channel is unchanged.
            MalformedFrameError: the body opened, but the envelope inside is malformed (the
                message key is then used up).
            ValueError: the channel was wiped, or ``message_id`` or ``timestamp`` is invalid.
        """
        ad = self._ad(outgoing=False, message_id=message_id, timestamp=timestamp)
        return unpad_envelope(self._ratchet.decrypt(body, ad))

    def _ad(self, *, outgoing: bool, message_id: bytes, timestamp: int) -> bytes:
        """The :func:`message_ad` of a frame we send (``outgoing``) or receive on this channel."""
        ours, theirs = self._own_address, self._peer_address
        sender, recipient = (ours, theirs) if outgoing else (theirs, ours)
        return message_ad(
            session_id=self._session_id,
            sender=sender,
            recipient=recipient,
            message_id=message_id,
            timestamp=timestamp,
        )

    def wipe(self) -> None:
        """Zero the ratchet's secrets; the channel then refuses to seal or open."""
        self._ratchet.wipe()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(is_initiator={self._is_initiator}, can_send={self.can_send})"
