"""Calls by QuickoKey: lookup checks, offer and answer bundles, and the resulting sessions."""

from __future__ import annotations

import dataclasses
from typing import TypeVar

import msgpack
import pytest
from session_pump import NOW, Pump, SeededRng, identity

from quicko.crypto import Ed25519KeyPair, kdf
from quicko.crypto import verify as ed25519_verify
from quicko.errors import AuthenticationError, MalformedFrameError, SessionError
from quicko.identity import Identity
from quicko.protocol import (
    CallPeer,
    CallResponse,
    CallStatus,
    Join,
    LookupResponse,
    decode_frame,
    encode_frame,
    register_transcript,
)
from quicko.protocol.auth import join_transcript
from quicko.session import (
    HandshakeKeys,
    IdentityBundle,
    IncomingCall,
    MessageReceived,
    OutgoingCall,
    PeerAuthenticated,
    Role,
    Session,
    State,
    call_context,
    call_join_seed,
    call_session_id,
    make_bundle,
    verify_lookup,
)
from quicko.session.pairwise import triple_dh

P = TypeVar("P", CallPeer, CallResponse)
CALLER, CALLEE, EVIL = identity("eve"), identity("dana"), identity("mallory")


def lookup(who: Identity, *, found: bool = True) -> LookupResponse:
    signed_at = NOW
    transcript = register_transcript(
        address=who.address,
        display_name=who.display_name,
        x25519_public=who.public.x25519_public,
        ed25519_public=who.public.ed25519_public,
        relay_url="ws://127.0.0.1:9900",
        signed_at=signed_at,
    )
    return LookupResponse(
        who.address, found, True, who.display_name, who.public.x25519_public,
        who.public.ed25519_public, "ws://127.0.0.1:9900", signed_at, who.sign(transcript),
    )  # fmt: skip


def wire(payload: P) -> P:
    return decode_frame(encode_frame(payload))  # type: ignore[return-value]  # decode_frame returns the union


def test_verify_lookup() -> None:
    assert verify_lookup(lookup(CALLEE), CALLEE.address) == CALLEE.public
    with pytest.raises(AuthenticationError):
        verify_lookup(lookup(CALLEE), EVIL.address)
    with pytest.raises(SessionError, match="not registered"):
        verify_lookup(LookupResponse(CALLEE.address, False, False, "", b"", b"", "", 0, b""),
                      CALLEE.address)  # fmt: skip
    # The directory hands out another identity's keys for the dialled address.
    substituted = dataclasses.replace(lookup(EVIL), address=CALLEE.address)
    with pytest.raises(AuthenticationError):
        verify_lookup(substituted, CALLEE.address)
    # The keys are right but the entry was not signed by their owner.
    unsigned = dataclasses.replace(lookup(CALLEE), display_name="Someone Else")
    with pytest.raises(AuthenticationError):
        verify_lookup(unsigned, CALLEE.address)


def place_call() -> tuple[OutgoingCall, IncomingCall]:
    callee = verify_lookup(lookup(CALLEE), CALLEE.address)
    outgoing = OutgoingCall.dial(CALLER, callee, SeededRng(b"caller"))
    incoming = IncomingCall.receive(wire(outgoing.call_peer), CALLEE)
    return outgoing, incoming


def test_call_accepted_then_chat() -> None:
    outgoing, incoming = place_call()
    assert outgoing.call_peer.caller == CALLER.address
    assert incoming.caller == CALLER.public and incoming.call_id == outgoing.call_id
    assert incoming.display_name == CALLER.display_name
    response, callee_session = incoming.accept(CALLEE, SeededRng(b"callee"), NOW)
    assert response.status == CallStatus.ACCEPTED
    caller_session = outgoing.complete(wire(response), CALLER, SeededRng(b"caller2"), NOW)
    assert caller_session.role is Role.CALL and callee_session.role is Role.CALL
    assert caller_session.session_id == callee_session.session_id == incoming.session_id
    # Nobody chose the session id: it is derived from the call (docs/protocol.md §8.5).
    assert incoming.session_id == call_session_id(outgoing.call_id, CALLER.address,
                                                  CALLEE.address)  # fmt: skip
    assert outgoing.call_peer.bundle == IdentityBundle.decode(outgoing.call_peer.bundle).encode()
    assert caller_session.safety_number(CALLEE.address) == incoming.safety_number
    [seen] = [e for e in caller_session.events() if isinstance(e, PeerAuthenticated)]
    assert seen.address == CALLEE.address
    pump = Pump()
    pump.add(caller_session), pump.add(callee_session)
    pump.run()
    assert caller_session.state is State.ACTIVE and callee_session.state is State.ACTIVE
    caller_session.send_text("hi dana", NOW)
    callee_session.send_text("hi eve", NOW)
    pump.run()
    got = [e.text for e in pump.take(CALLEE.address) if isinstance(e, MessageReceived)]
    assert got == ["hi dana"]
    got = [e.text for e in pump.take(CALLER.address) if isinstance(e, MessageReceived)]
    assert got == ["hi eve"]
    assert caller_session.dropped_frames == callee_session.dropped_frames == 0


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (CallStatus.DECLINED, "declined"),
        (CallStatus.OFFLINE, "not online"),
        (CallStatus.TIMEOUT, "did not answer"),
        (9, "failed"),
    ],
)
def test_call_not_accepted(status: int, reason: str) -> None:
    outgoing, incoming = place_call()
    if status == CallStatus.DECLINED:
        response = incoming.decline()
        assert response.bundle == b""
    else:
        frame = outgoing.call_peer
        response = CallResponse(frame.call_id, frame.caller, frame.callee, int(status), b"")
    with pytest.raises(SessionError, match=reason):
        outgoing.complete(response, CALLER, SeededRng(b"x"), NOW)


def test_tampered_call_response_is_refused() -> None:
    outgoing, incoming = place_call()
    response, _ = incoming.accept(CALLEE, SeededRng(b"callee"), NOW)
    # A relay (or anyone) answers with its own, correctly signed bundle.
    context = call_context(outgoing.call_id, CALLER.address, CALLEE.address,
                           recipient=CALLER.address)  # fmt: skip
    evil = make_bundle(EVIL, HandshakeKeys.generate(SeededRng(b"e")), context)
    with pytest.raises(AuthenticationError):
        outgoing.complete(dataclasses.replace(response, bundle=evil.encode()), CALLER,
                          SeededRng(b"x"), NOW)  # fmt: skip
    # The callee's bundle signed for the callee (the caller's own offer, reflected) is refused.
    with pytest.raises(AuthenticationError):
        outgoing.complete(dataclasses.replace(response, bundle=outgoing.call_peer.bundle),
                          CALLER, SeededRng(b"x"), NOW)  # fmt: skip
    # The callee's own bundle, but with the address's keys replaced.
    real = msgpack.unpackb(response.bundle)
    real[4] = EVIL.public.x25519_public
    with pytest.raises(AuthenticationError):
        outgoing.complete(dataclasses.replace(response, bundle=msgpack.packb(real)), CALLER,
                          SeededRng(b"x"), NOW)  # fmt: skip
    with pytest.raises(MalformedFrameError):
        outgoing.complete(dataclasses.replace(response, call_id=bytes(16)), CALLER,
                          SeededRng(b"x"), NOW)  # fmt: skip
    with pytest.raises(MalformedFrameError):
        outgoing.complete(dataclasses.replace(response, bundle=b"\xc1"), CALLER,
                          SeededRng(b"x"), NOW)  # fmt: skip


def test_replayed_answer_from_another_call_is_refused() -> None:
    first, incoming = place_call()
    old_response, _ = incoming.accept(CALLEE, SeededRng(b"callee"), NOW)
    second = OutgoingCall.dial(CALLER, CALLEE.public, SeededRng(b"caller-again"))
    frame = second.call_peer
    replayed = dataclasses.replace(old_response, call_id=frame.call_id)
    with pytest.raises(AuthenticationError):
        second.complete(replayed, CALLER, SeededRng(b"x"), NOW)
    assert first.call_id != second.call_id


def test_tampered_call_offer_is_refused() -> None:
    outgoing, _ = place_call()
    frame = outgoing.call_peer
    to_callee = call_context(frame.call_id, CALLER.address, CALLEE.address,
                             recipient=CALLEE.address)  # fmt: skip
    evil = make_bundle(EVIL, HandshakeKeys.generate(SeededRng(b"e")), to_callee).encode()
    # The v2 offer: a session id of the caller's choice wrapped around the bundle.
    v2_offer = msgpack.packb([b"s" * 16, frame.bundle], use_bin_type=True)
    cases: list[tuple[CallPeer, type[Exception]]] = [
        (dataclasses.replace(frame, bundle=evil), AuthenticationError),
        (dataclasses.replace(frame, caller=EVIL.address), AuthenticationError),
        (dataclasses.replace(frame, call_id=bytes(16)), AuthenticationError),
        (dataclasses.replace(frame, callee=EVIL.address), MalformedFrameError),
        (dataclasses.replace(frame, caller=CALLEE.address), MalformedFrameError),
        (dataclasses.replace(frame, bundle=v2_offer), MalformedFrameError),
        (dataclasses.replace(frame, bundle=b"\x00" * 2000), MalformedFrameError),
    ]
    for tampered, error in cases:
        with pytest.raises(error):
            IncomingCall.receive(tampered, CALLEE)


def test_both_sides_derive_the_same_join_key_from_the_3dh_secret() -> None:
    outgoing, incoming = place_call()
    response, callee_session = incoming.accept(CALLEE, SeededRng(b"callee"), NOW)
    caller_session = outgoing.complete(wire(response), CALLER, SeededRng(b"caller2"), NOW)
    [join_a] = caller_session.data_to_send()
    [join_b] = callee_session.data_to_send()
    assert isinstance(join_a, Join) and isinstance(join_b, Join)
    assert join_a.join_key == join_b.join_key and len(join_a.join_key) == 32
    assert join_a.session_id == join_b.session_id == incoming.session_id
    # The seed is HKDF(SK, salt=session_id, info="quicko2/v4/call-join", 32).
    callee_bundle = IdentityBundle.decode(response.bundle)
    shared = triple_dh(own_identity=CALLER.x25519, own_ephemeral=outgoing._ephemeral.ephemeral,
                       own_address=CALLER.address, peer_identity_public=CALLEE.public.x25519_public,
                       peer_ephemeral_public=callee_bundle.ephemeral_public,
                       peer_address=CALLEE.address, session_id=incoming.session_id)  # fmt: skip
    seed = call_join_seed(shared, incoming.session_id)
    assert seed == kdf.hkdf_sha256(shared, salt=incoming.session_id,
                                   info=b"quicko2/v4/call-join", length=32)  # fmt: skip
    assert Ed25519KeyPair.from_seed(seed).public == join_a.join_key
    signed = caller_session.sign_join(join_a, nonce=b"n" * 16, node_id="relay")
    transcript = join_transcript(nonce=b"n" * 16, node_id="relay",
                                 session_id=join_a.session_id, address=CALLER.address)  # fmt: skip
    ed25519_verify(join_a.join_key, signed.proof, transcript)
    # A Join by nameplate, or another session's, is left alone.
    assert caller_session.sign_join(Join(b"", "ABCD"), nonce=b"n" * 16, node_id="r").proof == b""


EPHEMERAL = HandshakeKeys.generate(SeededRng(b"o"))


def test_from_call_verifies_the_bundle_again() -> None:
    outgoing, incoming = place_call()
    context = call_context(outgoing.call_id, CALLER.address, CALLEE.address,
                           recipient=CALLEE.address)  # fmt: skip
    caller_bundle = make_bundle(CALLER, HandshakeKeys.generate(SeededRng(b"q")), context)
    with pytest.raises(AuthenticationError):
        Session.from_call(CALLEE, SeededRng(b"s"), NOW, session_id=incoming.session_id,
                          join_seed=bytes(32), own_ephemeral=EPHEMERAL,
                          peer_bundle=caller_bundle, context=bytes(16))  # fmt: skip
    with pytest.raises(ValueError, match="16 bytes"):
        Session.from_call(CALLEE, SeededRng(b"s"), NOW, session_id=b"short",
                          join_seed=bytes(32), own_ephemeral=EPHEMERAL,
                          peer_bundle=caller_bundle, context=context)  # fmt: skip
