"""Identity bundles: who a peer is, with a fresh ephemeral key, signed (docs/protocol.md §8).

A bundle is the MessagePack array ``[address bin16, display_name str, x25519_public bin32,
ed25519_public bin32, ephemeral_public bin32, signature bin64]``. The signature is Ed25519, by
the identity key in the bundle, over :func:`bundle_transcript` — the label ``bundle``, the
*context* and every other field. A context (:func:`bundle_context`) binds the bundle's
*purpose*, its *scope* and its *recipient*, so that a bundle made for one purpose, session,
call, PAKE attempt or recipient verifies for no other (docs/protocol.md §8.1):

=================  ===============================  =============================
purpose            scope                            recipient
=================  ===============================  =============================
``pake-joiner``    the PAKE attempt's ``sid``       empty (the nameplate's owner)
``pake-creator``   the PAKE attempt's ``sid``       the joiner's address
``member-init``    the session id                   the member it is sent to
``call``           ``LP(call_id, caller, callee)``  the other party of the call
=================  ===============================  =============================

A bundle is only ever trusted after :func:`verify_bundle`: the address is the address of the
two identity keys, the signature verifies for this context, and the address is the one expected
(the relay-level sender, the creator's vouch, or the dialled QuickoKey).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import msgpack

from quicko.crypto import RandomSource, X25519KeyPair, kdf
from quicko.crypto import verify as ed25519_verify
from quicko.errors import AuthenticationError, MalformedFrameError
from quicko.identity import Identity, PublicIdentity
from quicko.identity.address import verify_address
from quicko.protocol.constants import ADDRESS_SIZE, MAX_DISPLAY_NAME_CHARS

__all__ = [
    "BUNDLE_LABEL",
    "IdentityBundle",
    "bundle_context",
    "bundle_transcript",
    "call_context",
    "expect_bytes",
    "fresh_bundle",
    "make_bundle",
    "member_init_context",
    "pake_creator_context",
    "pake_joiner_context",
    "unpack_array",
    "verify_bundle",
]

BUNDLE_LABEL: Final = kdf.label("bundle")
"""Domain-separation label of the bundle signature."""

_KEY_SIZE: Final = 32
_SIGNATURE_SIZE: Final = 64
_BUNDLE_FIELDS: Final = 6
#: A bundle is about 200 bytes; anything much larger is refused before decoding.
_MAX_BUNDLE_BYTES: Final = 512


def unpack_array(data: bytes, *, max_items: int, max_bytes: int, what: str) -> list[object]:
    """MessagePack-decode ``data`` that must be one array, with every size capped.

    Args:
        data: bytes from the network.
        max_items: the largest array length allowed anywhere in ``data``.
        max_bytes: the largest ``data`` (and so string or binary) allowed.
        what: a short name for error messages (never the data itself).

    Raises:
        MalformedFrameError: ``data`` is not one array within the limits.
    """
    if len(data) > max_bytes:
        raise MalformedFrameError(f"{what} is too large")
    try:
        value = msgpack.unpackb(
            data,
            raw=False,
            use_list=True,
            max_array_len=max_items,
            max_map_len=0,
            max_ext_len=0,
            max_str_len=max_bytes,
            max_bin_len=max_bytes,
        )
    except Exception as exc:  # msgpack raises many kinds (ValueError, StackError, ExtraData…)
        raise MalformedFrameError(f"{what} is not valid MessagePack") from exc
    if type(value) is not list:
        raise MalformedFrameError(f"{what} must be an array")
    return value


def expect_bytes(value: object, what: str, size: int | None = None) -> bytes:
    """Return a decoded field if it is a binary string (of ``size`` bytes, if given).

    Raises:
        MalformedFrameError: it is not (``what`` names the field in the message).
    """
    if type(value) is not bytes or (size is not None and len(value) != size):
        raise MalformedFrameError(f"{what} has the wrong type or size")
    return value


def bundle_context(purpose: bytes, scope: bytes, recipient: bytes) -> bytes:
    """The signature context of a bundle: ``LP(purpose, scope, recipient)`` (table above)."""
    return kdf.encode_fields(purpose, scope, recipient)


def pake_joiner_context(sid: bytes) -> bytes:
    """The context of a joiner's bundle in CONFIRM_J: the PAKE attempt, for the owner."""
    return bundle_context(b"pake-joiner", sid, b"")


def pake_creator_context(sid: bytes, joiner: bytes) -> bytes:
    """The context of the creator's bundle in CONFIRM_C: the PAKE attempt, for ``joiner``."""
    return bundle_context(b"pake-creator", sid, joiner)


def member_init_context(session_id: bytes, recipient: bytes) -> bytes:
    """The context of a MEMBER_INIT bundle: the session, for the one member it is sent to."""
    return bundle_context(b"member-init", session_id, recipient)


def call_context(call_id: bytes, caller: bytes, callee: bytes, *, recipient: bytes) -> bytes:
    """The context of a call's bundle: the call (id, caller, callee), for the other party."""
    return bundle_context(b"call", kdf.encode_fields(call_id, caller, callee), recipient)


def bundle_transcript(
    context: bytes,
    *,
    address: bytes,
    display_name: str,
    x25519_public: bytes,
    ed25519_public: bytes,
    ephemeral_public: bytes,
) -> bytes:
    """What a bundle's signature covers (length-prefixed, so unambiguous)."""
    return kdf.encode_fields(
        BUNDLE_LABEL,
        context,
        address,
        display_name.encode("utf-8"),
        x25519_public,
        ed25519_public,
        ephemeral_public,
    )


@dataclass(frozen=True, slots=True, repr=False)
class IdentityBundle:
    """A peer's identity keys and a fresh ephemeral X25519 key, signed by the identity.

    An instance is only a shape: :func:`verify_bundle` is what makes it trustworthy.

    Attributes:
        address: the 16-byte address the bundle claims.
        display_name: the signer's display name.
        x25519_public: the identity X25519 public key.
        ed25519_public: the identity Ed25519 public key (the signer).
        ephemeral_public: a fresh X25519 public key for the pairwise key agreement.
        signature: Ed25519 signature over :func:`bundle_transcript`.
    """

    address: bytes
    display_name: str
    x25519_public: bytes
    ed25519_public: bytes
    ephemeral_public: bytes
    signature: bytes

    def encode(self) -> bytes:
        """Return the MessagePack encoding of the bundle."""
        packed: bytes = msgpack.packb(
            [
                self.address,
                self.display_name,
                self.x25519_public,
                self.ed25519_public,
                self.ephemeral_public,
                self.signature,
            ],
            use_bin_type=True,
        )
        return packed

    @classmethod
    def decode(cls, data: bytes) -> IdentityBundle:
        """Decode a bundle received from the network (its shape only, not its signature).

        Raises:
            MalformedFrameError: ``data`` is not a well-formed bundle.
        """
        items = unpack_array(data, max_items=_BUNDLE_FIELDS, max_bytes=_MAX_BUNDLE_BYTES,
                             what="bundle")  # fmt: skip
        if len(items) != _BUNDLE_FIELDS:
            raise MalformedFrameError("a bundle is an array of 6 fields")
        name = items[1]
        if type(name) is not str or len(name) > MAX_DISPLAY_NAME_CHARS or not name.isprintable():
            raise MalformedFrameError("bundle display name is not a short printable string")
        return cls(
            address=expect_bytes(items[0], "bundle address", ADDRESS_SIZE),
            display_name=name,
            x25519_public=expect_bytes(items[2], "bundle X25519 key", _KEY_SIZE),
            ed25519_public=expect_bytes(items[3], "bundle Ed25519 key", _KEY_SIZE),
            ephemeral_public=expect_bytes(items[4], "bundle ephemeral key", _KEY_SIZE),
            signature=expect_bytes(items[5], "bundle signature", _SIGNATURE_SIZE),
        )

    @property
    def public_identity(self) -> PublicIdentity:
        """The claimed public identity.

        Raises:
            AuthenticationError: the address is not the address of the keys.
        """
        return PublicIdentity(self.address, self.x25519_public, self.ed25519_public)

    def same_identity(self, other: PublicIdentity) -> bool:
        """Whether this bundle names exactly ``other``'s address and identity keys."""
        return (
            self.address == other.address
            and self.x25519_public == other.x25519_public
            and self.ed25519_public == other.ed25519_public
        )

    def __repr__(self) -> str:
        return f"IdentityBundle(address={self.address[:2].hex()}..., name={self.display_name!r})"


def make_bundle(
    identity: Identity,
    ephemeral: X25519KeyPair,
    context: bytes,
    *,
    display_name: str | None = None,
) -> IdentityBundle:
    """Make and sign the bundle of ``identity`` with ``ephemeral``'s public key for ``context``.

    Args:
        identity: our identity (its Ed25519 key signs).
        ephemeral: a fresh X25519 key pair, used for one pairwise key agreement.
        context: from :func:`bundle_context` (or one of its named forms).
        display_name: the name to show; the identity's derived name by default.
    """
    name = identity.display_name if display_name is None else display_name
    public = identity.public
    signature = identity.sign(
        bundle_transcript(
            context,
            address=public.address,
            display_name=name,
            x25519_public=public.x25519_public,
            ed25519_public=public.ed25519_public,
            ephemeral_public=ephemeral.public,
        )
    )
    return IdentityBundle(
        address=public.address,
        display_name=name,
        x25519_public=public.x25519_public,
        ed25519_public=public.ed25519_public,
        ephemeral_public=ephemeral.public,
        signature=signature,
    )


def fresh_bundle(
    identity: Identity, context: bytes, rng: RandomSource
) -> tuple[X25519KeyPair, IdentityBundle]:
    """A fresh ephemeral key pair and our bundle carrying its public key, signed for ``context``.

    The key pair is for one pairwise key agreement (or one call); keep it until then.
    """
    ephemeral = X25519KeyPair.generate(rng)
    return ephemeral, make_bundle(identity, ephemeral, context)


def verify_bundle(
    bundle: IdentityBundle, context: bytes, *, expected_address: bytes
) -> IdentityBundle:
    """Check a bundle completely and return it.

    Args:
        bundle: a decoded bundle.
        context: the context it must have been signed for.
        expected_address: the address it must claim: the relay-level sender of the frame that
            carried it, the address a creator vouched for, or the dialled QuickoKey.

    Returns:
        ``bundle``, now trustworthy.

    Raises:
        AuthenticationError: any check failed (one opaque error, whichever).
    """
    if len(expected_address) != ADDRESS_SIZE or bundle.address != expected_address:
        raise AuthenticationError
    verify_address(bundle.address, bundle.x25519_public, bundle.ed25519_public)
    ed25519_verify(
        bundle.ed25519_public,
        bundle.signature,
        bundle_transcript(
            context,
            address=bundle.address,
            display_name=bundle.display_name,
            x25519_public=bundle.x25519_public,
            ed25519_public=bundle.ed25519_public,
            ephemeral_public=bundle.ephemeral_public,
        ),
    )
    return bundle
