"""Test support for the relay router: real identities, real Hellos, a fixed clock."""

from __future__ import annotations

import random  # noqa: TID251  # seeded randomness for reproducible tests
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

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


def register_for(ident: Identity, signed_at: int, display_name: str = "Dana") -> RegisterKey:
    transcript = register_transcript(
        address=ident.address,
        display_name=display_name,
        x25519_public=ident.x25519.public,
        ed25519_public=ident.ed25519.public,
        relay_url=RELAY_URL,
        signed_at=signed_at,
    )
    return RegisterKey(
        ident.address,
        display_name,
        ident.x25519.public,
        ident.ed25519.public,
        RELAY_URL,
        signed_at,
        ident.sign(transcript),
    )


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
        self.router = Router(config, node_id=NODE_ID, rng=rng.randbytes)
        self.now = T0
        self._next_conn = 100
        self.challenges: dict[int, Challenge] = {}

    def open(self) -> int:
        conn = self._next_conn
        self._next_conn += 1
        actions = self.router.open(conn, self.now)
        [challenge] = payloads(actions, conn)
        assert isinstance(challenge, Challenge)
        self.challenges[conn] = challenge
        return conn

    def connect(self, n: int, display_name: str = "") -> tuple[Peer, list[Action]]:
        """Open a connection and prove identity *n* on it; return the peer and the actions."""
        conn = self.open()
        ident = identity(n)
        actions = self.send(conn, hello_for(ident, self.challenges[conn], display_name))
        ack = payloads(actions, conn)[0]
        assert isinstance(ack, HelloAck), ack
        return Peer(conn, ident), actions

    def peer(self, n: int) -> Peer:
        return self.connect(n)[0]

    def send(self, conn: int, payload: Payload) -> list[Action]:
        return self.router.receive(conn, encode_frame(payload), self.now)

    def recv(self, conn: int, data: bytes) -> list[Action]:
        return self.router.receive(conn, data, self.now)

    def join(self, peer: Peer, session: bytes, nameplate: str = "") -> list[Action]:
        actions = self.send(peer.conn, Join(session, nameplate))
        assert isinstance(payloads(actions, peer.conn)[0], Joined), payloads(actions, peer.conn)
        return actions

    def advance(self, ms: int) -> list[Action]:
        self.now += ms
        return self.router.handle_timeout(self.now)

    def drop(self, peer: Peer) -> list[Action]:
        return self.router.closed(peer.conn, self.now)
