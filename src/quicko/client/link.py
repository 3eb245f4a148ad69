"""One WebSocket link to a relay: open it, prove our identity, read frames, explain its end.

These are the per-connection steps that the supervisor (:mod:`quicko.client.connection`)
repeats on every (re)connection:

1. :func:`open_link`: a ``websockets`` client connection with the protocol's limits (one frame
   per message, at most ``HEADER_SIZE + MAX_PAYLOAD_BYTES``, refused before it is buffered whole;
   no compression; no WebSocket-level pings, since the heartbeat pings at protocol level),
   whose common frames are parsed by :class:`~quicko.client.wsread.RelayConnection`.
2. :func:`authenticate`: read the relay's Challenge, answer with a Hello signed over
   :func:`~quicko.protocol.hello_transcript`, and wait for the HelloAck (relay spec §2-3).
3. :func:`receive` and :func:`screen`: decode each frame and refuse what a relay may not send.

Every way a link can end becomes a :class:`LinkError` with a
:class:`~quicko.client.events.DisconnectReason`: nothing the relay sends raises anything else.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Callable
from typing import Final
from urllib.parse import urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from quicko.client import frames
from quicko.client.events import DisconnectReason
from quicko.client.wsread import RelayConnection
from quicko.errors import RemoteProtocolError, TransportError
from quicko.identity import Identity
from quicko.protocol import (
    HEADER_SIZE,
    MAX_PAYLOAD_BYTES,
    Ack,
    CallPeer,
    CallResponse,
    Challenge,
    Error,
    ErrorCode,
    Hello,
    HelloAck,
    Joined,
    KeyExchange,
    Lobby,
    LobbyMessage,
    LookupResponse,
    Message,
    Payload,
    PeerJoined,
    PeerLeft,
    RegisterAck,
    canonical_relay_url,
    encode_frame,
    hello_transcript,
    tls_channel_binding,
)

__all__ = [
    "DEFAULT_PATH",
    "MAX_CLOCK_SKEW_MS",
    "MAX_MESSAGE_BYTES",
    "LinkError",
    "authenticate",
    "check_clock",
    "decode_received",
    "error_for_closure",
    "error_for_frame",
    "hello_for",
    "login",
    "normalize_url",
    "open_link",
    "receive",
    "screen",
]

#: The relay's WebSocket path, used when a URL has none.
DEFAULT_PATH = "/ws"
#: What a WebSocket message may hold: one frame with the largest payload.
MAX_MESSAGE_BYTES = HEADER_SIZE + MAX_PAYLOAD_BYTES
#: The WebSocket close code "message too big" (RFC 6455 §7.4.1).
_CLOSE_TOO_BIG = 1009
MAX_CLOCK_SKEW_MS: Final = 120_000
"""A Challenge whose ``server_time`` is further than this from our clock is refused."""


def wall_ms() -> int:
    """Our wall clock, in milliseconds since the epoch."""
    return time.time_ns() // 1_000_000


#: Frames a relay sends to a client after the handshake (Pong aside); others are out of place.
_DELIVERED = (
    Message,
    Ack,
    Joined,
    PeerJoined,
    PeerLeft,
    KeyExchange,
    Lobby,
    LobbyMessage,
    RegisterAck,
    LookupResponse,
    CallPeer,
    CallResponse,
    Error,
)
#: Error codes after which the relay closes the connection (spec §1, §3, §18, §20).
_FATAL_ERRORS = frozenset(
    {
        ErrorCode.TEXT_FRAME,
        ErrorCode.UNAUTHENTICATED,
        ErrorCode.AUTHENTICATION_FAILED,
        ErrorCode.REPLACED,
        ErrorCode.HANDSHAKE_TIMEOUT,
        ErrorCode.IDLE_TIMEOUT,
        ErrorCode.TOO_SLOW,
        ErrorCode.SHUTTING_DOWN,
    }
)
_REASON_OF_ERROR: dict[int, DisconnectReason] = {
    ErrorCode.AUTHENTICATION_FAILED: DisconnectReason.AUTHENTICATION_FAILED,
    ErrorCode.REPLACED: DisconnectReason.REPLACED,
    ErrorCode.HANDSHAKE_TIMEOUT: DisconnectReason.HANDSHAKE_TIMEOUT,
}


class LinkError(TransportError):
    """The link ended (or could not be made), and why.

    Attributes:
        reason: the kind of end.
        detail: a short explanation (no secrets, no identifiers).
        error_code: the code of the relay's Error frame that explained it, if any.
    """

    def __init__(
        self, reason: DisconnectReason, detail: str, error_code: int | None = None
    ) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.error_code = error_code


def normalize_url(url: str) -> str:
    """Check a relay URL and give it the default path ``/ws`` if it has none.

    Raises:
        ValueError: the scheme is not ``ws`` or ``wss``, or there is no host.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss"):
        raise ValueError("a relay URL must start with ws:// or wss://")
    if not parts.hostname:
        raise ValueError("a relay URL must name a host")
    path = parts.path or DEFAULT_PATH
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


async def open_link(
    url: str,
    *,
    ssl_context: ssl.SSLContext | None,
    open_timeout: float,
    close_timeout: float,
    proxy: str | None,
) -> ClientConnection:
    """Open the WebSocket connection to ``url`` (normalised; ``wss://`` needs a context).

    Raises:
        LinkError: ``REFUSED`` (HTTP status at the upgrade) or ``CONNECT_FAILED``.
    """
    try:
        return await connect(
            url,
            ssl=ssl_context,
            compression=None,
            max_size=MAX_MESSAGE_BYTES,
            ping_interval=None,  # the heartbeat pings at protocol level (spec §17)
            ping_timeout=None,
            open_timeout=open_timeout,
            close_timeout=close_timeout,
            proxy=proxy,
            user_agent_header=None,
            create_connection=RelayConnection,  # reads the relay's usual frames itself
        )
    except InvalidStatus as exc:
        status = exc.response.status_code
        raise LinkError(DisconnectReason.REFUSED, f"upgrade refused with HTTP {status}") from exc
    except TimeoutError as exc:
        detail = "timed out opening the connection"
        raise LinkError(DisconnectReason.CONNECT_FAILED, detail) from exc
    except Exception as exc:  # OSError, TLS errors, invalid handshakes, proxy errors…
        detail = f"cannot connect: {type(exc).__name__}"
        raise LinkError(DisconnectReason.CONNECT_FAILED, detail) from exc


def relay_binding(ws: ClientConnection) -> bytes:
    """The channel binding of ``ws``: SHA-256 of the relay's TLS certificate, or empty (§4.1)."""
    ssl_object = ws.transport.get_extra_info("ssl_object") if ws.transport else None
    certificate = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
    return tls_channel_binding(certificate)


def check_clock(challenge: Challenge, now_ms: int) -> None:
    """Refuse a Challenge whose time is more than :data:`MAX_CLOCK_SKEW_MS` from ``now_ms``.

    A Challenge from far in the past or future is a replayed or forwarded one (issue 8,
    finding 4), or a clock that is wrong; either way we do not sign a Hello for it.

    Raises:
        LinkError: ``CLOCK_SKEW``, saying by how much the clocks differ.
    """
    skew = challenge.server_time - now_ms
    if abs(skew) > MAX_CLOCK_SKEW_MS:
        side = "ahead of" if skew > 0 else "behind"
        detail = (
            f"the relay's clock is {round(abs(skew) / 1000)} s {side} ours (more than "
            f"{MAX_CLOCK_SKEW_MS // 1000} s): check this device's clock"
        )
        raise LinkError(DisconnectReason.CLOCK_SKEW, detail)


async def authenticate(
    ws: ClientConnection, identity: Identity, timeout: float, *, relay_url: str
) -> HelloAck:
    """Answer the relay's Challenge with a signed Hello and return its HelloAck (spec §2-3).

    Raises:
        LinkError: as :func:`login`.
        ConnectionClosed: the connection closed under us.
    """
    _, ack = await login(ws, identity, timeout, relay_url=relay_url)
    return ack


async def login(
    ws: ClientConnection,
    identity: Identity,
    timeout: float,
    *,
    relay_url: str,
    wall_clock: Callable[[], int] = wall_ms,
) -> tuple[Challenge, HelloAck]:
    """Check the relay's Challenge, answer with a signed Hello; return both ends (spec §2-3).

    Raises:
        LinkError: the Challenge's time is too far from ``wall_clock()`` (``CLOCK_SKEW``), the
            relay refused (``AUTHENTICATION_FAILED``, …), took longer than ``timeout`` seconds
            (``HANDSHAKE_TIMEOUT``) or broke the protocol.
        ConnectionClosed: the connection closed under us.
    """
    try:
        async with asyncio.timeout(timeout):
            challenge = await receive(ws)
            if not isinstance(challenge, Challenge):
                raise _out_of_place(challenge, "a Challenge")
            check_clock(challenge, wall_clock())
            hello = hello_for(
                identity,
                challenge,
                relay_url=canonical_relay_url(relay_url),
                channel_binding=relay_binding(ws),
            )
            await ws.send(encode_frame(hello))
            ack = await receive(ws)
            if not isinstance(ack, HelloAck):
                raise _out_of_place(ack, "a HelloAck")
    except TimeoutError as exc:
        detail = "the relay did not complete the handshake in time"
        raise LinkError(DisconnectReason.HANDSHAKE_TIMEOUT, detail) from exc
    if ack.address != identity.address:
        raise LinkError(DisconnectReason.PROTOCOL_ERROR, "HelloAck names another address")
    return challenge, ack


def hello_for(
    identity: Identity, challenge: Challenge, *, relay_url: str, channel_binding: bytes
) -> Hello:
    """The Hello that proves ``identity`` to the relay at ``relay_url`` that sent ``challenge``.

    ``relay_url`` is canonical (:func:`~quicko.protocol.auth.canonical_relay_url`) and
    ``channel_binding`` the connection's (:func:`relay_binding`), so that the Hello is good only
    at the relay the client dialled, over this TLS channel.
    """
    public = identity.public
    name = identity.display_name
    transcript = hello_transcript(
        nonce=challenge.nonce,
        node_id=challenge.node_id,
        server_time=challenge.server_time,
        relay_url=relay_url,
        channel_binding=channel_binding,
        address=public.address,
        display_name=name,
        x25519_public=public.x25519_public,
        ed25519_public=public.ed25519_public,
    )
    signature = identity.sign(transcript)
    return Hello(
        public.address, name, public.x25519_public, public.ed25519_public, relay_url, signature
    )


async def receive(ws: ClientConnection, on_size: Callable[[int], None] | None = None) -> Payload:
    """Read and decode one frame; ``on_size``, if given, is called with its length in bytes.

    Raises:
        LinkError: ``PROTOCOL_ERROR`` for a text message or a frame that does not decode.
        ConnectionClosed: the connection closed (see :func:`error_for_closure`).
    """
    message = await ws.recv()
    payload = decode_received(message)
    if on_size is not None:
        on_size(len(message))
    return payload


def decode_received(message: str | bytes) -> Payload:
    """Decode one WebSocket message from the relay (:func:`quicko.client.frames.decode`).

    Raises:
        LinkError: ``PROTOCOL_ERROR`` for a text message or a frame that does not decode.
    """
    if isinstance(message, str):
        raise LinkError(DisconnectReason.PROTOCOL_ERROR, "the relay sent a text message")
    try:
        return frames.decode(message)
    except RemoteProtocolError as exc:
        detail = f"undecodable frame: {exc}"
        raise LinkError(DisconnectReason.PROTOCOL_ERROR, detail) from exc


def screen(payload: Payload) -> Payload:
    """Return a frame the relay may send after the handshake, to be delivered upward.

    Raises:
        LinkError: an Error frame after which the relay closes the connection (``REPLACED``,
            ``SHUTTING_DOWN``, …), or a frame a relay never sends (``PROTOCOL_ERROR``).
    """
    if isinstance(payload, Error) and payload.code in _FATAL_ERRORS:
        raise error_for_frame(payload)
    if not isinstance(payload, _DELIVERED):
        detail = f"unexpected {type(payload).__name__} from the relay"
        raise LinkError(DisconnectReason.PROTOCOL_ERROR, detail)
    return payload


def error_for_frame(error: Error) -> LinkError:
    """The end of a link that a relay Error frame explains."""
    try:
        name = ErrorCode(error.code).name
    except ValueError:
        name = f"code {error.code}"
    reason = _REASON_OF_ERROR.get(error.code, DisconnectReason.RELAY_ERROR)
    return LinkError(reason, f"relay error {name}: {error.reason}", error.code)


def error_for_closure(exc: ConnectionClosed) -> LinkError:
    """The end of a link that closed or broke without an Error frame."""
    if exc.sent is not None and exc.sent.code == _CLOSE_TOO_BIG:
        # We closed it: the relay sent a message over the limit (refused before buffering).
        return LinkError(DisconnectReason.PROTOCOL_ERROR, "message over the size limit")
    frame = exc.rcvd or exc.sent
    if frame is None:
        return LinkError(DisconnectReason.CONNECTION_LOST, "connection lost")
    return LinkError(DisconnectReason.CONNECTION_LOST, f"closed with code {frame.code}")


def _out_of_place(payload: Payload, expected: str) -> LinkError:
    if isinstance(payload, Error):
        return error_for_frame(payload)
    return LinkError(
        DisconnectReason.PROTOCOL_ERROR, f"expected {expected}, got {type(payload).__name__}"
    )
