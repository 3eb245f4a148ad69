"""Test support for the relay router: real identities, real Hellos, a fixed clock."""

from __future__ import annotations

import dataclasses
import hashlib
import random  # noqa: TID251  # seeded randomness for reproducible tests
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from quicko.crypto.ed25519 import Ed25519KeyPair
from quicko.identity import Identity
from quicko.protocol import (
    Challenge,
    Error,
    Hello,
    HelloAck,
    Join,
    Joined,
    Payload,
    RegisterKey,
    decode_frame,
    encode_frame,
    hello_transcript,
    join_transcript,
    register_transcript,
)
from quicko.relay.config import RelayConfig
from quicko.relay.router import Action, Close, Router, Send

T0 = 1_700_000_000_000
NODE_ID = "node-test"


@cache
def identity(n: int) -> Identity:
    """A deterministic identity per small integer."""
    return Identity.from_root(bytes([n % 256]) * 15 + bytes([n // 256]))


def sid(n: int) -> bytes:
    return bytes([0x5A, n]) + bytes(14)


def mid(n: int) -> bytes:
    return bytes([0x4D]) + n.to_bytes(15, "big")


def payloads(actions: Sequence[Action], conn: int) -> list[Payload]:
    """The decoded frames sent to *conn*, in order."""
    return [decode_frame(a.data) for a in actions if isinstance(a, Send) and a.conn == conn]


def raw(actions: Sequence[Action], conn: int) -> list[bytes]:
    return [a.data for a in actions if isinstance(a, Send) and a.conn == conn]


def errors(actions: Sequence[Action], conn: int) -> list[int]:
    """The Error codes sent to *conn*, in order."""
    return [p.code for p in payloads(actions, conn) if isinstance(p, Error)]


def closes(actions: Sequence[Action]) -> dict[int, int]:
    return {a.conn: a.code for a in actions if isinstance(a, Close)}


#: The URL the harness's clients "dialled"; the harness's router lists it as a public URL.
RELAY_URL = "ws://127.0.0.1:9900"


def hello_for(
    ident: Identity, challenge: Challenge, display_name: str = "", relay_url: str = RELAY_URL
) -> Hello:
    name = display_name or ident.display_name
    transcript = hello_transcript(
        nonce=challenge.nonce,
        node_id=challenge.node_id,
        server_time=challenge.server_time,
        relay_url=relay_url,
        channel_binding=b"",
        address=ident.address,
        display_name=name,
        x25519_public=ident.x25519.public,
        ed25519_public=ident.ed25519.public,
    )
    return Hello(
        ident.address,
        name,
        ident.x25519.public,
        ident.ed25519.public,
        relay_url,
        ident.sign(transcript),
    )


def register_for(
    ident: Identity, signed_at: int, display_name: str = "Dana", relay_url: str = RELAY_URL
) -> RegisterKey:
    transcript = register_transcript(
        address=ident.address,
        display_name=display_name,
        x25519_public=ident.x25519.public,
        ed25519_public=ident.ed25519.public,
        relay_url=relay_url,
        signed_at=signed_at,
    )
    return RegisterKey(
        ident.address,
        display_name,
        ident.x25519.public,
        ident.ed25519.public,
        relay_url,
        signed_at,
        ident.sign(transcript),
    )


@cache
def join_key(session_id: bytes) -> Ed25519KeyPair:
    """The join key the harness's members hold for *session_id* (deterministic)."""
    return Ed25519KeyPair.from_seed(hashlib.sha256(b"join key " + session_id).digest())


def join_for(
    challenge: Challenge,
    address: bytes,
    session_id: bytes,
    nameplate: str = "",
    key: Ed25519KeyPair | None = None,
) -> Join:
    """A Join by id with the proof of *key* (the session's harness key by default)."""
    key = key or join_key(session_id)
    transcript = join_transcript(
        nonce=challenge.nonce, node_id=challenge.node_id, session_id=session_id, address=address
    )
    return Join(session_id, nameplate, key.public, key.sign(transcript))


@dataclass
class Peer:
    conn: int
    ident: Identity

    @property
    def address(self) -> bytes:
        return self.ident.address


class Harness:
    """A router with a fixed clock, seeded randomness and helpers to drive it."""

    def __init__(self, config: RelayConfig | None = None, seed: int = 1) -> None:
        rng = random.Random(seed)  # not for secrets: reproducible nonces
        config = config or RelayConfig(rate=1000.0, burst=1000, idle_timeout_s=600.0)
        if not config.public_urls:
            config = dataclasses.replace(config, public_urls=(RELAY_URL,))
        self.config = config
        self.router = Router(config, node_id=NODE_ID, rng=rng.randbytes)
        self.now = T0
        self._next_conn = 100
        self.challenges: dict[int, Challenge] = {}

    def open(self, source: str = "192.0.2.1") -> int:
        conn = self._next_conn
        self._next_conn += 1
        actions = self.router.open(conn, self.now, source)
        [challenge] = payloads(actions, conn)
        assert isinstance(challenge, Challenge)
        self.challenges[conn] = challenge
        return conn

    def connect(
        self, n: int, display_name: str = "", source: str = "192.0.2.1"
    ) -> tuple[Peer, list[Action]]:
        """Open a connection and prove identity *n* on it; return the peer and the actions."""
        conn = self.open(source)
        ident = identity(n)
        actions = self.send(conn, hello_for(ident, self.challenges[conn], display_name))
        ack = payloads(actions, conn)[0]
        assert isinstance(ack, HelloAck), ack
        return Peer(conn, ident), actions

    def peer(self, n: int, source: str = "192.0.2.1") -> Peer:
        return self.connect(n, source=source)[0]

    def send(self, conn: int, payload: Payload) -> list[Action]:
        return self.router.receive(conn, encode_frame(payload), self.now)

    def recv(self, conn: int, data: bytes) -> list[Action]:
        return self.router.receive(conn, data, self.now)

    def join_request(
        self,
        peer: Peer,
        session: bytes,
        nameplate: str = "",
        key: Ed25519KeyPair | None = None,
    ) -> Join:
        """A Join by id for *peer*, with the proof of *key* on *peer*'s connection."""
        return join_for(self.challenges[peer.conn], peer.address, session, nameplate, key)

    def join(self, peer: Peer, session: bytes, nameplate: str = "") -> list[Action]:
        """Join *session* by id with the harness's join key; assert Joined."""
        actions = self.send(peer.conn, self.join_request(peer, session, nameplate))
        assert isinstance(payloads(actions, peer.conn)[0], Joined), payloads(actions, peer.conn)
        return actions

    def advance(self, ms: int) -> list[Action]:
        self.now += ms
        return self.router.handle_timeout(self.now)

    def drop(self, peer: Peer) -> list[Action]:
        return self.router.closed(peer.conn, self.now)
