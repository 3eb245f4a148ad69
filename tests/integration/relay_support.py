"""Helpers of the integration tests: a real WebSocket client of the relay, and relay processes.

- :class:`RelayClient`: a real WebSocket client (``websockets``) that answers the relay's
  Challenge with a signed Hello for a real :class:`~quicko.identity.Identity`, then sends and
  receives payloads: ``await RelayClient.connect(relay_url(relay))``.
- :func:`relay_url`, :func:`http_get`: addresses of an in-process relay, and a raw HTTP GET.
- :func:`spawn_relay`: run ``python -m quicko relay --port 0`` as a subprocess and read its
  ``listening`` line.

The fixtures that start in-process relays are in ``conftest.py`` beside this module.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import json
import os
import secrets
import ssl
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from websockets.asyncio.client import ClientConnection, connect

from quicko.client.link import relay_binding
from quicko.crypto.ed25519 import Ed25519KeyPair
from quicko.identity import Identity
from quicko.protocol import (
    MAX_PAYLOAD_BYTES,
    Ack,
    AckStatus,
    Challenge,
    Hello,
    HelloAck,
    Join,
    Joined,
    Message,
    Payload,
    PeerJoined,
    RegisterKey,
    canonical_relay_url,
    decode_frame,
    encode_frame,
    hello_transcript,
    join_transcript,
    register_transcript,
)
from quicko.protocol.constants import HEADER_SIZE
from quicko.relay.server import RelayServer

P = TypeVar("P")

#: Seconds a test waits for one frame or event before failing (never a synchronising sleep).
RECV_TIMEOUT_S = 5.0
#: Largest message the test clients accept: one frame of the largest payload.
MAX_MESSAGE_BYTES = HEADER_SIZE + MAX_PAYLOAD_BYTES


StartRelay = Callable[..., Awaitable[RelayServer]]
"""The type of the ``start_relay`` fixture (see conftest.py)."""

#: Every client connection opened by RelayClient.connect, so fixtures can drop leftovers.
OPEN_CLIENTS: list[ClientConnection] = []


def drop_open_clients() -> None:
    """Abort every test client connection still open (teardown after a failed test)."""
    while OPEN_CLIENTS:
        OPEN_CLIENTS.pop().transport.abort()


def relay_url(server: RelayServer, path: str = "/ws") -> str:
    """The WebSocket URL of an in-process relay."""
    scheme = "wss" if server.ssl_context is not None else "ws"
    return f"{scheme}://127.0.0.1:{server.port}{path}"


async def http_get(port: int, path: str) -> tuple[int, dict[str, str], bytes]:
    """GET ``path`` from 127.0.0.1:``port`` over a raw socket: status, headers, body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        raw = await asyncio.wait_for(reader.read(), RECV_TIMEOUT_S)  # the relay closes after
    finally:
        writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, body


def write_self_signed(directory: Path) -> tuple[Path, Path]:
    """Write a self-signed certificate for ``localhost`` and 127.0.0.1, and its key (PEM)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    alt_names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        # A CA certificate, so that clients can also trust it as their only root.
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@dataclass
class RelayClient:
    """A WebSocket client of the relay, authenticated with a real identity.

    Attributes:
        ws: the underlying ``websockets`` connection (use it for raw or text messages).
        identity: the identity that proved itself in the Hello.
        challenge: the relay's Challenge.
        hello_ack: the relay's HelloAck (``None`` when connected with ``authenticate=False``).
    """

    ws: ClientConnection
    identity: Identity
    challenge: Challenge
    hello_ack: HelloAck | None = None
    received: list[Payload] = field(default_factory=list)
    url: str = "ws://127.0.0.1:9900"

    @classmethod
    async def connect(
        cls,
        url: str,
        identity: Identity | None = None,
        *,
        authenticate: bool = True,
        ssl_context: ssl.SSLContext | None = None,
    ) -> RelayClient:
        """Connect, read the Challenge and (unless told not to) authenticate with a Hello."""
        # max_queue=None: the test client never stops reading, so it is never the slow reader.
        ws = await connect(
            url,
            max_size=MAX_MESSAGE_BYTES,
            max_queue=None,
            ssl=ssl_context,
            ping_interval=None,
            open_timeout=RECV_TIMEOUT_S,
        )
        OPEN_CLIENTS.append(ws)
        first = decode_frame(await asyncio.wait_for(ws.recv(decode=False), RECV_TIMEOUT_S))
        assert isinstance(first, Challenge), first
        client = cls(ws, identity or Identity.generate(secrets.token_bytes), first)
        client.url = canonical_relay_url(url)
        if authenticate:
            await client.send(client.hello())
            client.hello_ack = await client.expect(HelloAck)
        return client

    @property
    def address(self) -> bytes:
        """The client's 16-byte address."""
        return self.identity.address

    @property
    def display_name(self) -> str:
        """The client's display name."""
        return self.identity.display_name

    def hello(self, challenge: Challenge | None = None) -> Hello:
        """A Hello that answers ``challenge`` (the connection's own by default)."""
        challenge = challenge or self.challenge
        public = self.identity.public
        transcript = hello_transcript(
            nonce=challenge.nonce,
            node_id=challenge.node_id,
            server_time=challenge.server_time,
            relay_url=self.url,
            channel_binding=relay_binding(self.ws),
            address=public.address,
            display_name=self.display_name,
            x25519_public=public.x25519_public,
            ed25519_public=public.ed25519_public,
        )
        return Hello(
            address=public.address,
            display_name=self.display_name,
            x25519_public=public.x25519_public,
            ed25519_public=public.ed25519_public,
            relay_url=self.url,
            signature=self.identity.sign(transcript),
        )

    def join(self, session_id: bytes, key: Ed25519KeyPair, nameplate: str = "") -> Join:
        """A Join by id proven with the session's join *key* on this connection."""
        transcript = join_transcript(
            nonce=self.challenge.nonce,
            node_id=self.challenge.node_id,
            session_id=session_id,
            address=self.address,
        )
        return Join(session_id, nameplate, key.public, key.sign(transcript))

    async def send(self, payload: Payload) -> None:
        """Send one payload as a frame."""
        await self.ws.send(encode_frame(payload))

    async def send_raw(self, data: bytes | str) -> None:
        """Send raw bytes (a binary message) or text (a text message)."""
        await self.ws.send(data)

    async def recv_raw(self, timeout: float = RECV_TIMEOUT_S) -> bytes:
        """The next binary message, undecoded."""
        data = await asyncio.wait_for(self.ws.recv(decode=False), timeout)
        assert isinstance(data, bytes)
        return data

    async def recv(self, timeout: float = RECV_TIMEOUT_S) -> Payload:
        """The next frame, decoded."""
        payload = decode_frame(await self.recv_raw(timeout))
        self.received.append(payload)
        return payload

    async def expect(self, kind: type[P], timeout: float = RECV_TIMEOUT_S) -> P:
        """The next frame, which must be a ``kind``."""
        payload = await self.recv(timeout)
        assert isinstance(payload, kind), f"expected {kind.__name__}, got {payload!r}"
        return payload

    async def wait_closed(self, timeout: float = RECV_TIMEOUT_S) -> int | None:
        """Wait until the relay closes the connection; return the close code it sent."""
        await asyncio.wait_for(self.ws.wait_closed(), timeout)
        return self.ws.close_code

    async def close(self) -> None:
        """Close the connection (normal closure)."""
        await self.ws.close()


@dataclass
class RelayProcess:
    """A relay running as ``python -m quicko relay`` in a subprocess."""

    process: asyncio.subprocess.Process
    listening: dict[str, Any]

    @property
    def port(self) -> int:
        """The bound port, from the ``listening`` line."""
        port: int = self.listening["port"]
        return port

    async def stderr_lines(self) -> list[dict[str, Any]]:
        """Every remaining JSON line of standard error, until the process closes it."""
        assert self.process.stderr is not None
        raw = await asyncio.wait_for(self.process.stderr.read(), RECV_TIMEOUT_S)
        return [json.loads(line) for line in raw.decode().splitlines() if line.strip()]


async def spawn_relay(
    args: Sequence[str] = (), env: Mapping[str, str] | None = None
) -> RelayProcess:
    """Start ``python -m quicko relay --host 127.0.0.1 --port 0 ARGS`` and read its first line.

    Raises:
        AssertionError: the process exited or printed something else before listening.
    """
    environment = {key: value for key, value in os.environ.items() if not key.startswith("QUICKO_")}
    environment.update(env or {})
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "quicko", "relay", "--host", "127.0.0.1", "--port", "0", *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=environment,
    )  # fmt: skip
    assert process.stderr is not None
    line = await asyncio.wait_for(process.stderr.readline(), 20)
    assert line, f"the relay exited with status {await process.wait()} before listening"
    listening = json.loads(line)
    assert listening["event"] == "listening", listening
    return RelayProcess(process, listening)


def register_key(client: RelayClient, relay_url: str | None = None) -> RegisterKey:
    """A signed RegisterKey for ``client``'s own identity, for the relay it dialled (or
    *relay_url*)."""
    public = client.identity.public
    signed_at = int(time.time() * 1000)
    url = client.url if relay_url is None else relay_url
    transcript = register_transcript(
        address=public.address,
        display_name=client.display_name,
        x25519_public=public.x25519_public,
        ed25519_public=public.ed25519_public,
        relay_url=url,
        signed_at=signed_at,
    )
    return RegisterKey(
        public.address,
        client.display_name,
        public.x25519_public,
        public.ed25519_public,
        url,
        signed_at,
        client.identity.sign(transcript),
    )


def join_key() -> Ed25519KeyPair:
    """A fresh session join key (what the creator makes and admitted joiners receive)."""
    return Ed25519KeyPair.generate(secrets.token_bytes)


async def joined_pair(server: RelayServer) -> tuple[RelayClient, RelayClient, bytes]:
    """``(alice, bob, session)``: two new clients joined to a new session, alice told of bob."""
    url, session, key = relay_url(server), secrets.token_bytes(16), join_key()
    alice = await RelayClient.connect(url)
    bob = await RelayClient.connect(url)
    for client in (alice, bob):
        await client.send(client.join(session, key))
        await client.expect(Joined)
    await alice.expect(PeerJoined)
    return alice, bob, session


async def exchange_both_ways(
    alice: RelayClient, bob: RelayClient, session: bytes, messages: Sequence[tuple[int, bytes]]
) -> None:
    """Send each ``(timestamp, body)`` alice → bob, then bob → alice (message id: its index),
    one at a time: the frame arrives unchanged and its sender hears ACCEPTED."""
    for n, (timestamp, body) in enumerate(messages):
        for sender, receiver in ((alice, bob), (bob, alice)):
            message = Message(
                session, sender.address, receiver.address, n.to_bytes(16, "big"), timestamp, body
            )
            await sender.send(message)
            assert await receiver.expect(Message) == message
            ack = await sender.expect(Ack)
            assert (ack.message_id, ack.status) == (message.message_id, AckStatus.ACCEPTED)
