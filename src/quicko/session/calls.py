"""Calls by QuickoKey: the signed bundles of CallPeer and CallResponse (docs/protocol.md §8).

The caller looks the callee up (LookupKey), checks the directory entry against the dialled
QuickoKey with :func:`verify_lookup`, and dials with :meth:`OutgoingCall.dial`, whose CallPeer
carries ``msgpack [session_id bin16, bundle_caller]``. The callee checks it with
:meth:`IncomingCall.receive` (the caller's address is the hash of the bundle's keys), shows who
calls, and answers with :meth:`IncomingCall.accept` (a CallResponse carrying its own bundle, and
its :class:`~quicko.session.Session`) or :meth:`IncomingCall.decline`. The caller checks the
answer with :meth:`OutgoingCall.complete`: the callee's bundle must name the dialled QuickoKey.
Both bundles are signed for ``call_context(call_id, caller, callee)``, so neither can be replayed
into another call.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgpack

from quicko.crypto import RandomSource, X25519KeyPair
from quicko.crypto import verify as ed25519_verify
from quicko.errors import AuthenticationError, MalformedFrameError, SessionError
from quicko.identity import Identity, PublicIdentity, safety_number
from quicko.protocol import CallPeer, CallResponse, CallStatus, LookupResponse
from quicko.protocol.auth import register_transcript
from quicko.protocol.constants import CALL_ID_SIZE, SESSION_ID_SIZE
from quicko.session.bundle import (
    IdentityBundle,
    call_context,
    fresh_bundle,
    unpack_array,
    verify_bundle,
)
from quicko.session.delivery import DEFAULT_MESSAGE_TTL_MS
from quicko.session.session import Session

__all__ = ["IncomingCall", "OutgoingCall", "verify_lookup"]

_MAX_OFFER_BYTES = 1024
_REFUSALS: dict[int, str] = {
    CallStatus.DECLINED: "the call was declined",
    CallStatus.OFFLINE: "the callee is not online",
    CallStatus.TIMEOUT: "the callee did not answer",
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
    _ephemeral: X25519KeyPair

    @classmethod
    def dial(cls, identity: Identity, callee: PublicIdentity, rng: RandomSource) -> OutgoingCall:
        """Prepare a call to ``callee`` (from :func:`verify_lookup`)."""
        call_id, session_id = rng(CALL_ID_SIZE), rng(SESSION_ID_SIZE)
        context = call_context(call_id, identity.address, callee.address)
        ephemeral, bundle = fresh_bundle(identity, context, rng)
        offer: bytes = msgpack.packb([session_id, bundle.encode()], use_bin_type=True)
        frame = CallPeer(call_id, identity.address, callee.address, offer)
        return cls(frame, callee, session_id, ephemeral)

    @property
    def call_id(self) -> bytes:
        """The call's 16-byte id."""
        return self.call_peer.call_id

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
        context = call_context(frame.call_id, frame.caller, frame.callee)
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
        items = unpack_array(frame.bundle, max_items=2, max_bytes=_MAX_OFFER_BYTES,
                             what="call offer")  # fmt: skip
        if len(items) != 2 or type(items[0]) is not bytes or type(items[1]) is not bytes:
            raise MalformedFrameError("a call offer is [session_id, bundle]")
        session_id, raw_bundle = items[0], items[1]
        if len(session_id) != SESSION_ID_SIZE:
            raise MalformedFrameError("a call's session id is 16 bytes")
        context = call_context(frame.call_id, frame.caller, frame.callee)
        bundle = verify_bundle(
            IdentityBundle.decode(raw_bundle), context, expected_address=frame.caller
        )
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
        context = call_context(frame.call_id, frame.caller, frame.callee)
        ephemeral, bundle = fresh_bundle(identity, context, rng)
        response = CallResponse(
            frame.call_id, frame.caller, frame.callee, int(CallStatus.ACCEPTED), bundle.encode()
        )
        session = Session.from_call(
            identity,
            rng,
            now_ms,
            session_id=self.session_id,
            own_ephemeral=ephemeral,
            peer_bundle=self._bundle,
            context=context,
            message_ttl_ms=message_ttl_ms,
        )
        return response, session

    def decline(self) -> CallResponse:
        """Decline: a CallResponse(DECLINED) with no bundle."""
        frame = self.call_peer
        return CallResponse(
            frame.call_id, frame.caller, frame.callee, int(CallStatus.DECLINED), b""
        )
