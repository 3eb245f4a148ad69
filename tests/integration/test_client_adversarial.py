"""A hostile network between real clients and a real relay: tampering, replays, captures.

A small WebSocket proxy (client_support.Proxy) sits between a client and the relay, records every
frame, and rewrites what the relay sends: keys substituted in a KeyExchange, a CallResponse or a
LookupResponse are detected and the session refused; forged names in Joined/PeerJoined never
become authenticated; replayed and reordered Message frames are shown once; and no frame carries
plaintext, private key bytes or the invite password.
"""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
from functools import partial

import msgpack
import pytest
from client_support import Proxy, Watcher, chat_pair, closing, trust_proxy
from relay_support import relay_url

from quicko.client import (
    AsyncQuickoClient,
    DeliveryStatus,
    IncomingCall,
    MessageReceived,
    SessionReady,
    StatusChanged,
)
from quicko.crypto import X25519KeyPair
from quicko.errors import AuthenticationError, SessionError
from quicko.identity import Identity
from quicko.protocol import (
    CallResponse,
    CallStatus,
    Joined,
    LobbyMessage,
    LookupResponse,
    Member,
    Message,
    PeerJoined,
    decode_frame,
    encode_frame,
)
from quicko.relay.server import RelayServer
from quicko.session import call_context, make_bundle

pytestmark = pytest.mark.integration

_CONFIRM_C = 4
_FORGED_NAME = "Forged Name #0000"


def flip_confirm_c(data: bytes) -> list[bytes]:
    """Corrupt the sealed content of a CONFIRM_C lobby body."""
    frame = decode_frame(data)
    if isinstance(frame, LobbyMessage):
        items = msgpack.unpackb(frame.body)
        if items[0] == _CONFIRM_C:
            sealed = bytearray(items[2])
            sealed[len(sealed) // 2] ^= 0x01
            body = msgpack.packb([items[0], items[1], bytes(sealed)], use_bin_type=True)
            return [encode_frame(dataclasses.replace(frame, body=body))]
    return [data]


def forge_names(data: bytes) -> list[bytes]:
    """Rename every member the relay announces, and add a member that does not exist."""
    frame = decode_frame(data)
    if isinstance(frame, PeerJoined):
        return [encode_frame(dataclasses.replace(frame, display_name=_FORGED_NAME))]
    if isinstance(frame, Joined):
        members = tuple(dataclasses.replace(m, display_name=_FORGED_NAME) for m in frame.members)
        ghost = Member(secrets.token_bytes(16), _FORGED_NAME, True)
        return [encode_frame(dataclasses.replace(frame, members=(*members, ghost)))]
    return [data]


async def test_tampered_key_exchange_refuses_the_session(relay: RelayServer) -> None:
    alice = AsyncQuickoClient(relay_url(relay))
    async with Proxy(relay_url(relay), to_client=flip_confirm_c) as proxy:
        trust_proxy(relay, proxy)
        bob = AsyncQuickoClient(proxy.url)
        async with closing(alice, bob):
            await alice.connect()
            await bob.connect()
            created = await alice.create_session()
            assert created.invite_code is not None
            with pytest.raises(SessionError, match="could not be authenticated"):
                await bob.join_session(created.invite_code)
            assert bob.sessions() == []
            assert all(not p.authenticated for s in bob.sessions() for p in s.peers)


async def test_forged_relay_names_never_authenticate(relay: RelayServer) -> None:
    alice = AsyncQuickoClient(relay_url(relay))
    async with Proxy(relay_url(relay), to_client=forge_names) as proxy:
        trust_proxy(relay, proxy)
        bob = AsyncQuickoClient(proxy.url)
        async with closing(alice, bob):
            await alice.connect()
            await bob.connect()
            created = await alice.create_session()
            assert created.invite_code is not None
            joined = await bob.join_session(created.invite_code)
            authenticated = [peer for peer in joined.peers if peer.authenticated]
            assert [peer.display_name for peer in authenticated] == [
                alice.identity_info.display_name
            ]
            assert all(p.display_name != _FORGED_NAME for p in authenticated)
            with pytest.raises(SessionError):
                bob.safety_number(joined.session_id, secrets.token_hex(16))


async def test_substituted_call_response_is_refused(relay: RelayServer) -> None:
    url = relay_url(relay)
    mallory = Identity.generate(secrets.token_bytes)

    def substitute(data: bytes) -> list[bytes]:
        frame = decode_frame(data)
        if isinstance(frame, CallResponse) and frame.status == CallStatus.ACCEPTED:
            context = call_context(
                frame.call_id, frame.caller, frame.callee, recipient=frame.caller
            )
            bundle = make_bundle(mallory, X25519KeyPair.generate(secrets.token_bytes), context)
            return [encode_frame(dataclasses.replace(frame, bundle=bundle.encode()))]
        return [data]

    bob = Watcher(AsyncQuickoClient(url), "callee")
    async with Proxy(url, to_client=substitute) as proxy:
        trust_proxy(relay, proxy)
        alice = AsyncQuickoClient(proxy.url)
        async with closing(alice, bob.client):
            await bob.client.connect()
            await bob.client.generate_quickokey()
            await bob.client.register_key()
            await alice.connect()
            dialling = asyncio.create_task(alice.call(bob.client.identity_info.quickokey))
            ring = await bob.wait(IncomingCall)
            await bob.client.answer_call(ring.call_id, accept=True)
            with pytest.raises(AuthenticationError):
                await dialling
            assert alice.sessions() == []


async def test_substituted_directory_keys_are_refused(relay: RelayServer) -> None:
    url = relay_url(relay)
    mallory = Identity.generate(secrets.token_bytes).public

    def substitute(data: bytes) -> list[bytes]:
        frame = decode_frame(data)
        if isinstance(frame, LookupResponse) and frame.found:
            forged = dataclasses.replace(frame, x25519_public=mallory.x25519_public)
            return [encode_frame(forged)]
        return [data]

    bob = AsyncQuickoClient(url)
    async with Proxy(url, to_client=substitute) as proxy:
        trust_proxy(relay, proxy)
        alice = AsyncQuickoClient(proxy.url)
        async with closing(alice, bob):
            await bob.connect()
            await bob.generate_quickokey()
            await bob.register_key()
            await alice.connect()
            with pytest.raises(AuthenticationError):
                await alice.lookup_key(bob.identity_info.quickokey)
            with pytest.raises(AuthenticationError):
                await alice.call(bob.identity_info.quickokey)


async def test_replayed_and_reordered_frames_are_shown_once(relay: RelayServer) -> None:
    held: list[bytes] = []
    captured: list[bytes] = []
    senders: list[bytes] = []

    def replay_and_swap(data: bytes) -> list[bytes]:
        frame = decode_frame(data)
        if not isinstance(frame, Message) or frame.sender not in senders:
            return [data]  # only the texts of one sender: an even number of them
        captured.append(data)
        if not held:
            held.append(data)
            return []
        first = held.pop()
        return [data, first, data, first]  # swapped, and each delivered twice

    async with Proxy(relay_url(relay)) as proxy:
        trust_proxy(relay, proxy)
        url = proxy.url
        a, b, created, joined = await chat_pair(url)
        async with closing(a.client, b.client):
            senders.append(bytes.fromhex(joined.peers[0].address))  # Alice, as Bob knows her
            sid = created.session_id
            # Settle the handshake first: Alice's SYNC waits for Bob's PeerJoined (v3 admits
            # him before he joins by id), and must not be one of the frames swapped below.
            warm = await a.client.send_message(sid, "warm-up")
            await b.wait(MessageReceived, lambda e: e.message.message_id == warm.message_id)
            proxy.to_client = replay_and_swap
            texts = [f"message {n}" for n in range(6)]
            sent = [await a.client.send_message(sid, text) for text in texts]
            await b.until(lambda ev: len(b.of(MessageReceived)) >= len(texts) + 1)
            # Replays through the relay itself, later: the sender's exact frames again.
            proxy.to_client = None
            for message in sent[:2]:
                frame = next(f for f in captured if is_message(f, message.message_id))
                await a.client.send_raw(frame)
            for message in sent:
                wanted = (message.message_id.hex(), DeliveryStatus.DELIVERED)
                await a.wait(StatusChanged, partial(has_status, wanted))
            marker = await a.client.send_message(sid, "marker")
            await b.wait(MessageReceived, lambda e: e.message.message_id == marker.message_id)
            shown = [e.message.text for e in b.of(MessageReceived)]
            assert sorted(shown) == sorted(["warm-up", *texts, "marker"])
            assert len(b.client.messages(sid)) == len(texts) + 2


async def test_capture_holds_no_plaintext_keys_or_password(relay: RelayServer) -> None:
    identities = [Identity.generate(secrets.token_bytes) for _ in range(2)]
    async with Proxy(relay_url(relay)) as proxy:
        trust_proxy(relay, proxy)
        alice = AsyncQuickoClient(proxy.url, identity=identities[0])
        bob = AsyncQuickoClient(proxy.url, identity=identities[1])
        async with closing(alice, bob):
            await alice.connect()
            await bob.connect()
            created = await alice.create_session()
            assert created.invite_code is not None
            joined = await bob.join_session(created.invite_code)
            a, b = Watcher(alice), Watcher(bob)
            await a.wait(SessionReady)
            texts = ["Rendezvous at the old mill at 7", "Swordfish-Passphrase-42 ünïcödé"]
            first = await alice.send_message(created.session_id, texts[0])
            got = await b.wait(MessageReceived)
            await bob.mark_read(joined.session_id, [got.message.message_id.hex()])
            await bob.send_message(joined.session_id, texts[1])
            await a.wait(MessageReceived)
            done = (first.message_id.hex(), DeliveryStatus.READ)
            await a.wait(StatusChanged, lambda e: (e.message_id, e.status) == done)
    capture = b"".join(proxy.frames)
    assert len(proxy.frames) > 10
    secrets_seen = [text.encode() for text in texts]
    secrets_seen += [text.encode("utf-16-le") for text in texts]
    password = created.invite_code.split("-")[1]
    secrets_seen += [password.encode(), created.invite_code.encode()]
    for identity in identities:
        secrets_seen.append(identity.root.to_bytes())
        secrets_seen.append(identity.x25519._private_key.private_bytes_raw())
        secrets_seen.append(identity.ed25519._private_key.private_bytes_raw())
    for secret in secrets_seen:
        assert secret not in capture


def is_message(frame: bytes, message_id: bytes) -> bool:
    """Whether ``frame`` is a Message frame with this message id."""
    payload = decode_frame(frame)
    return isinstance(payload, Message) and payload.message_id == message_id


def has_status(wanted: tuple[str, DeliveryStatus], event: StatusChanged) -> bool:
    """Whether ``event`` reports the (message id, status) pair ``wanted``."""
    return (event.message_id, event.status) == wanted
