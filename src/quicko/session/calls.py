"""Calls by QuickoKey: the signed bundles of CallPeer and CallResponse (docs/protocol.md §8.5).

The caller looks the callee up (LookupKey), checks the directory entry against the dialled
QuickoKey with :func:`verify_lookup`, and dials with :meth:`OutgoingCall.dial`, whose
``CallPeer.bundle`` is the caller's bundle itself. The callee checks it with
:meth:`IncomingCall.receive` (the caller's address is the hash of the bundle's keys), shows who
calls, and answers with :meth:`IncomingCall.accept` (a CallResponse whose ``bundle`` is its own
bundle, and its :class:`~quicko.session.Session`) or :meth:`IncomingCall.decline`. The caller
checks the answer with :meth:`OutgoingCall.complete`: the callee's bundle must name the dialled
QuickoKey.

Nobody chooses a call's session id: both sides derive it from the call with
:func:`call_session_id`, ``SHA-256(LP("quicko2/v4/call-session", call_id, caller,
callee))[0:16]``, so a caller cannot aim a call at an existing chat's session (issue 8,
finding 1); a client still refuses a call whose id is already one of its live sessions. Each
bundle is signed for ``call_context(call_id, caller, callee, recipient=<the other party>)``, so
neither can be replayed into another call or to another party. The session's join key (the
Ed25519 key whose proof the relay asks for at every Join) comes from the pair's 3DH secret
(:func:`call_join_seed`): both parties, and nobody else, can create or join the call's session.
The call's pairwise channel itself is keyed by the hybrid key agreement like every other
(:mod:`quicko.session.pairwise`), from the X25519 and ML-KEM keys of the two call bundles.
"""

from __future__ import annotations

from dataclasses import dataclass

from quicko.crypto import RandomSource, kdf
from quicko.crypto import verify as ed25519_verify
from quicko.errors import AuthenticationError, MalformedFrameError, SessionError
from quicko.identity import Identity, PublicIdentity, safety_number
from quicko.protocol import CallPeer, CallResponse, CallStatus, LookupResponse
from quicko.protocol.auth import register_transcript
from quicko.protocol.constants import CALL_ID_SIZE, SESSION_ID_SIZE
from quicko.session.bundle import (
    HandshakeKeys,
    IdentityBundle,
    call_context,
    fresh_bundle,
    verify_bundle,
)
from quicko.session.delivery import DEFAULT_MESSAGE_TTL_MS
from quicko.session.pairwise import triple_dh
from quicko.session.session import Session

__all__ = [
    "CALL_JOIN_LABEL",
    "CALL_SESSION_LABEL",
    "IncomingCall",
    "OutgoingCall",
    "call_join_seed",
    "call_session_id",
    "verify_lookup",
]

CALL_SESSION_LABEL = kdf.label("call-session")
"""Domain-separation label of :func:`call_session_id`."""
CALL_JOIN_LABEL = kdf.label("call-join")
"""HKDF info of :func:`call_join_seed`."""
_JOIN_SEED_SIZE = 32


def call_session_id(call_id: bytes, caller: bytes, callee: bytes) -> bytes:
    """The 16-byte session id of a call, which nobody chooses and both parties compute.

    ``SHA-256(LP(label("call-session"), call_id, caller, callee))[0:16]``.
    """
    return kdf.sha256(CALL_SESSION_LABEL, call_id, caller, callee)[:SESSION_ID_SIZE]


def call_join_seed(shared_key: bytes, session_id: bytes) -> bytes:
    """The Ed25519 seed of a call session's join key.

    ``HKDF(SK_3dh, salt=session_id, info=label("call-join"), 32)``, with SK_3dh the pair's
    classical triple-DH secret (:func:`~quicko.session.pairwise.triple_dh`, docs/protocol.md
    §9.1). Not the hybrid SK: both parties need the join key before any message, and the
    responder learns the ML-KEM secret only from the initiator's first message. The join key
    only admits to the relay's session; it protects no message.
    """
    return kdf.hkdf_sha256(shared_key, salt=session_id, info=CALL_JOIN_LABEL,
                           length=_JOIN_SEED_SIZE)  # fmt: skip


def _join_seed(
    identity: Identity, keys: HandshakeKeys, peer: IdentityBundle, session_id: bytes
) -> bytes:
    """Our side's :func:`call_join_seed`, from the 3DH secret of the two call bundles."""
    shared = triple_dh(
        own_identity=identity.x25519,
        own_ephemeral=keys.ephemeral,
        own_address=identity.address,
        peer_identity_public=peer.x25519_public,
        peer_ephemeral_public=peer.ephemeral_public,
        peer_address=peer.address,
        session_id=session_id,
    )
    return call_join_seed(shared, session_id)


_REFUSALS: dict[int, str] = {
    CallStatus.DECLINED: "the call was declined",
    CallStatus.OFFLINE: "the callee is not online",
    CallStatus.TIMEOUT: "the callee did not answer",
    CallStatus.CANCELLED: "the call was cancelled",
}


def verify_lookup(response: LookupResponse, dialled: bytes) -> PublicIdentity:
    """Check a directory entry against the dialled QuickoKey and return the callee's keys.

    Args:
        response: the relay's LookupResponse.
        dialled: the 16-byte address the user dialled.

    Raises:
        SessionError: the QuickoKey is not registered.
        AuthenticationError: the entry is for another address, its keys are not the
            address's, or its owner's signature does not verify.
    """
    if response.address != dialled:
        raise AuthenticationError
    if not response.found:
        raise SessionError("this QuickoKey is not registered on the relay")
    callee = PublicIdentity(dialled, response.x25519_public, response.ed25519_public)
    transcript = register_transcript(
        address=response.address,
        display_name=response.display_name,
        x25519_public=response.x25519_public,
        ed25519_public=response.ed25519_public,
        relay_url=response.relay_url,
        signed_at=response.signed_at,
    )
    ed25519_verify(response.ed25519_public, response.signature, transcript)
    return callee


@dataclass(slots=True, repr=False)
class OutgoingCall:
    """A call we placed and its answer; build it with :meth:`dial`.

    Attributes:
        call_peer: the CallPeer frame to send.
        callee: the verified identity of the dialled QuickoKey.
    """

    call_peer: CallPeer
    callee: PublicIdentity
    session_id: bytes
    _ephemeral: HandshakeKeys

    @classmethod
    def dial(cls, identity: Identity, callee: PublicIdentity, rng: RandomSource) -> OutgoingCall:
        """Prepare a call to ``callee`` (from :func:`verify_lookup`)."""
        call_id = rng(CALL_ID_SIZE)
        context = call_context(call_id, identity.address, callee.address, recipient=callee.address)
        keys, bundle = fresh_bundle(identity, context, rng)
        frame = CallPeer(call_id, identity.address, callee.address, bundle.encode())
        session_id = call_session_id(call_id, identity.address, callee.address)
        return cls(frame, callee, session_id, keys)

    @property
    def call_id(self) -> bytes:
        """The call's 16-byte id."""
        return self.call_peer.call_id

    def cancel(self) -> CallResponse:
        """Stop calling: a CallResponse(CANCELLED) with no bundle (docs/protocol.md §4.8)."""
        frame = self.call_peer
        return CallResponse(
            frame.call_id, frame.caller, frame.callee, int(CallStatus.CANCELLED), b""
        )

    def complete(
        self,
        response: CallResponse,
        identity: Identity,
        rng: RandomSource,
        now_ms: int,
        *,
        message_ttl_ms: int = DEFAULT_MESSAGE_TTL_MS,
    ) -> Session:
        """Check the callee's answer and start the call's session.

        ``message_ttl_ms`` is as for :meth:`quicko.session.Session.create`.

        Raises:
            SessionError: the call was declined, the callee is offline, or did not answer.
            AuthenticationError: the answer's bundle is not the dialled QuickoKey's, or its
                signature does not verify.
            MalformedFrameError: the answer is not for this call, or its bundle is malformed.
        """
        frame = self.call_peer
        if (response.call_id, response.caller, response.callee) != (
            frame.call_id,
            frame.caller,
            frame.callee,
        ):
            raise MalformedFrameError("the call response is for another call")
        if response.status != CallStatus.ACCEPTED:
            raise SessionError(_REFUSALS.get(response.status, "the call failed"))
        context = call_context(
            frame.call_id, frame.caller, frame.callee, recipient=identity.address
        )
        # The bundle's keys hash to the dialled address, as the callee's verified keys do: so
        # they are the callee's keys (a QuickoKey is self-certifying, docs/protocol.md §8).
        bundle = verify_bundle(
            IdentityBundle.decode(response.bundle), context, expected_address=self.callee.address
        )
        return Session.from_call(
            identity,
            rng,
            now_ms,
            session_id=self.session_id,
            join_seed=_join_seed(identity, self._ephemeral, bundle, self.session_id),
            own_ephemeral=self._ephemeral,
            peer_bundle=bundle,
            context=context,
            message_ttl_ms=message_ttl_ms,
        )


@dataclass(slots=True, repr=False)
class IncomingCall:
    """A verified call to us, waiting for the user's answer; build it with :meth:`receive`.

    Attributes:
        call_peer: the CallPeer frame.
        caller: the caller's verified identity.
        display_name: the caller's (signed) display name.
        safety_number: the safety number we share with the caller.
    """

    call_peer: CallPeer
    caller: PublicIdentity
    display_name: str
    safety_number: str
    session_id: bytes
    _bundle: IdentityBundle

    @classmethod
    def receive(cls, frame: CallPeer, identity: Identity) -> IncomingCall:
        """Check a CallPeer addressed to ``identity``.

        Raises:
            MalformedFrameError: the offer is malformed or not for us.
            AuthenticationError: the caller's bundle does not match its address or signature.
        """
        if frame.callee != identity.address:
            raise MalformedFrameError("the call is for another QuickoKey")
        if frame.caller == identity.address:
            raise MalformedFrameError("a call from our own QuickoKey")
        context = call_context(
            frame.call_id, frame.caller, frame.callee, recipient=identity.address
        )
        bundle = verify_bundle(
            IdentityBundle.decode(frame.bundle), context, expected_address=frame.caller
        )
        session_id = call_session_id(frame.call_id, frame.caller, frame.callee)
        caller = bundle.public_identity
        number = safety_number(identity.public, caller)
        return cls(frame, caller, bundle.display_name, number, session_id, bundle)

    @property
    def call_id(self) -> bytes:
        """The call's 16-byte id."""
        return self.call_peer.call_id

    def accept(
        self,
        identity: Identity,
        rng: RandomSource,
        now_ms: int,
        *,
        message_ttl_ms: int = DEFAULT_MESSAGE_TTL_MS,
    ) -> tuple[CallResponse, Session]:
        """Accept: our signed bundle in a CallResponse, and the call's session.

        ``message_ttl_ms`` is as for :meth:`quicko.session.Session.create`.
        """
        frame = self.call_peer
        context = call_context(frame.call_id, frame.caller, frame.callee, recipient=frame.caller)
        keys, bundle = fresh_bundle(identity, context, rng)
        response = CallResponse(
            frame.call_id, frame.caller, frame.callee, int(CallStatus.ACCEPTED), bundle.encode()
        )
        session = Session.from_call(
            identity,
            rng,
            now_ms,
            session_id=self.session_id,
            join_seed=_join_seed(identity, keys, self._bundle, self.session_id),
            own_ephemeral=keys,
            peer_bundle=self._bundle,
            context=call_context(
                frame.call_id, frame.caller, frame.callee, recipient=identity.address
            ),
            message_ttl_ms=message_ttl_ms,
        )
        return response, session

    def decline(self) -> CallResponse:
        """Decline: a CallResponse(DECLINED) with no bundle."""
        frame = self.call_peer
        return CallResponse(
            frame.call_id, frame.caller, frame.callee, int(CallStatus.DECLINED), b""
        )
