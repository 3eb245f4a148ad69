"""The load generator's connection: a picows listener with a setup path and a fast path.

During setup (:data:`SETUP`), received frames are queued for the awaiting code that performs
the real handshake (Challenge → signed Hello → HelloAck, :func:`authenticate`) and the Join
(:func:`join`). During a measurement the listener switches to a fast path that reads only the
type byte of each frame: MESSAGE frames are counted (and, in :data:`CLOSED_LOOP` mode, answered
by the sending peer with its next frame; in :data:`OPEN_LOOP` mode, timed), and everything
else (Acks, PeerJoined, Errors) is drained and counted.

In the closed loop the frames a peer owes are sent together when the last frame of a read has
been handled (picows' ``last_in_buffer``), as pre-built WebSocket frames in one transport write,
so that the load generator spends as little as it can per frame.

Every wait is bounded by a timeout. Only the load generator uses this module.
"""

from __future__ import annotations

import asyncio
from array import array
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from time import perf_counter_ns
from typing import Final, TypeVar

from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

from quicko.bench.wire import (
    BODY_BYTES,
    MESSAGE_TYPE_CODE,
    STAMP,
    TYPE_OFFSET,
    client_ws_frame,
)
from quicko.crypto.ed25519 import Ed25519KeyPair
from quicko.errors import QuickoError, RemoteProtocolError
from quicko.identity import Identity
from quicko.protocol import (
    Challenge,
    Error,
    Hello,
    HelloAck,
    Join,
    Joined,
    MessageType,
    Payload,
    Received,
    canonical_relay_url,
    decode_frame,
    encode_frame,
    hello_transcript,
    join_transcript,
)

__all__ = [
    "CLOSED_LOOP",
    "DRAIN",
    "OPEN_LOOP",
    "SETUP",
    "BenchClient",
    "BenchError",
    "Recorder",
    "authenticate",
    "bounded_map",
    "close_all",
    "connect",
    "join",
]

SETUP: Final = 0
"""Mode: frames are queued for :meth:`BenchClient.next_frame`."""
DRAIN: Final = 1
"""Mode: frames are counted by type and dropped."""
CLOSED_LOOP: Final = 2
"""Mode: each MESSAGE received lets its sender (the peer) send its next frame."""
OPEN_LOOP: Final = 3
"""Mode: each MESSAGE received is timed against the send time stamped in its body."""

_BINARY: Final = WSMsgType.BINARY
_CLOSE: Final = WSMsgType.CLOSE
_ACK_CODE: Final = int(MessageType.ACK)
_ERROR_CODE: Final = int(MessageType.ERROR)
_MAX_SETUP_FRAMES: Final = 64
_MAX_SKIPPED_FRAMES: Final = 8

_T = TypeVar("_T")
_R = TypeVar("_R")


class BenchError(QuickoError):
    """The benchmark could not run: a server refused, closed, or did not answer in time."""


class Recorder:
    """Latencies (ns) of MESSAGE frames whose send time falls in ``[start_ns, stop_ns)``."""

    __slots__ = ("latencies", "start_ns", "stop_ns")

    def __init__(self) -> None:
        self.latencies = array("q")
        self.start_ns = 0
        self.stop_ns = 0


class BenchClient(WSListener):
    """One load connection (see the module docstring for its modes)."""

    def __init__(self) -> None:
        super().__init__()
        self.transport: WSTransport | None = None
        self.mode = SETUP
        self.peer: BenchClient | None = None
        self.frame = bytearray()
        self.running = False
        self.recorder: Recorder | None = None
        self.received = 0
        self.sent = 0
        self.pending = 0
        self.wire = b""
        self._write: Callable[[bytes], object] | None = None
        self.acks = 0
        self.others = 0
        #: Acknowledge what arrives, as Quicko's client does: one ``Received`` per read.
        self.acking = False
        #: Frames received since :meth:`start` (a lower bound of the relay's count).
        self.seen = 0
        self.first_error: bytes | None = None
        #: The server's Challenge, once :func:`authenticate` read it (Join proofs sign it).
        self.challenge: Challenge | None = None
        self.disconnected = False
        self._inbox: deque[bytes] = deque(maxlen=_MAX_SETUP_FRAMES)
        self._waiter: asyncio.Future[None] | None = None

    def on_ws_connected(self, transport: WSTransport) -> None:
        """Keep the transport."""
        self.transport = transport

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        """Queue (setup) or count, time and answer (measurement) one frame."""
        if frame.msg_type is not _BINARY:
            if frame.msg_type is _CLOSE:
                transport.send_close(frame.get_close_code())
                transport.disconnect()
            return
        mode = self.mode
        if mode == SETUP:
            self._inbox.append(frame.get_payload_as_bytes())
            self._wake()
            return
        view = frame.get_payload_as_memoryview()
        if view[TYPE_OFFSET] == MESSAGE_TYPE_CODE:
            self.received += 1
            if mode == CLOSED_LOOP:
                peer = self.peer
                if peer is not None and peer.running:
                    peer.pending += 1
            elif mode == OPEN_LOOP:
                self._record(view, perf_counter_ns())
        else:
            self._count_other(view)
        if self.acking:
            self.seen += 1
            if frame.last_in_buffer:
                # Frames before start() are not counted: the count stays at or below the
                # relay's, which a Received must never pass (docs/protocol.md §4.4).
                transport.send(_BINARY, encode_frame(Received(self.seen)))
        # The peer's next frames go out together, once this read's frames are all handled.
        if mode == CLOSED_LOOP and frame.last_in_buffer and self.peer is not None:
            self.peer.flush()

    def flush(self) -> None:
        """Send the frames owed since the last flush in one write (closed loop only)."""
        count = self.pending
        if count and self._write is not None:
            self.pending = 0
            self.sent += count
            self._write(self.wire if count == 1 else self.wire * count)

    def _record(self, view: memoryview, now: int) -> None:
        recorder = self.recorder
        sent: int = STAMP.unpack_from(view, len(view) - BODY_BYTES)[0]
        if recorder is not None and recorder.start_ns <= sent < recorder.stop_ns:
            recorder.latencies.append(now - sent)

    def _count_other(self, view: memoryview) -> None:
        if view[TYPE_OFFSET] == _ACK_CODE:
            self.acks += 1
            return
        self.others += 1
        if view[TYPE_OFFSET] == _ERROR_CODE and self.first_error is None:
            self.first_error = bytes(view)

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        """Remember the disconnection and wake a waiting reader."""
        self.disconnected = True
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def send(self, data: bytes | bytearray) -> None:
        """Send one binary message."""
        if self.transport is None:
            raise BenchError("connection is not open")
        self.transport.send(_BINARY, data)
        self.sent += 1

    async def next_frame(self, timeout: float) -> bytes:
        """Return the next frame received during setup.

        Raises:
            BenchError: none arrived within *timeout* seconds, or the connection closed.
        """
        if not self._inbox and not self.disconnected:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await asyncio.wait_for(self._waiter, timeout)
            except TimeoutError as exc:
                raise BenchError(f"no frame from the server within {timeout} s") from exc
            finally:
                self._waiter = None
        if not self._inbox:
            raise BenchError("the server closed the connection during setup")
        return self._inbox.popleft()

    def start(self, mode: int) -> None:
        """Leave setup for *mode*, dropping frames still queued (PeerJoined and the like).

        In :data:`CLOSED_LOOP` mode the connection's MESSAGE is also built once as a whole
        client WebSocket frame (:func:`~quicko.bench.wire.client_ws_frame`), written straight
        to the TCP transport by :meth:`flush`.
        """
        self._inbox.clear()
        self.sent = self.received = self.pending = 0
        if mode == CLOSED_LOOP:
            if self.transport is None:
                raise BenchError("connection is not open")
            self.wire = client_ws_frame(self.frame)
            self._write = self.transport.underlying_transport.write
        self.mode = mode


async def connect(url: str, client: BenchClient, timeout: float) -> None:
    """Open *client*'s WebSocket connection to *url* (127.0.0.1 only).

    Raises:
        BenchError: the connection or the upgrade failed or timed out.
    """
    try:
        await asyncio.wait_for(
            ws_connect(lambda: client, url, websocket_handshake_timeout=timeout), timeout
        )
    except (OSError, TimeoutError) as exc:
        raise BenchError(f"cannot connect to {url}: {type(exc).__name__}") from exc
    except Exception as exc:  # picows raises its own WSError kinds for refused upgrades
        raise BenchError(f"upgrade refused by {url}: {exc}") from exc


async def _expect(client: BenchClient, kind: type[_T], timeout: float) -> _T:
    """Read setup frames until one of type *kind* (a few others are skipped)."""
    for _ in range(_MAX_SKIPPED_FRAMES):
        data = await client.next_frame(timeout)
        try:
            payload: Payload = decode_frame(data)
        except RemoteProtocolError as exc:
            raise BenchError(f"undecodable frame from the server: {exc}") from exc
        if isinstance(payload, kind):
            return payload
        if isinstance(payload, Error):
            raise BenchError(f"server error {payload.code}: {payload.reason}")
    raise BenchError(f"no {kind.__name__} from the server")


async def authenticate(
    client: BenchClient, identity: Identity, timeout: float, *, relay_url: str
) -> None:
    """Answer the server's Challenge with a signed Hello and wait for the HelloAck.

    Raises:
        BenchError: the server refused or did not answer.
    """
    challenge = await _expect(client, Challenge, timeout)
    client.challenge = challenge
    public = identity.public
    transcript = hello_transcript(
        nonce=challenge.nonce,
        node_id=challenge.node_id,
        server_time=challenge.server_time,
        relay_url=canonical_relay_url(relay_url),
        channel_binding=b"",
        address=public.address,
        display_name=public.display_name,
        x25519_public=public.x25519_public,
        ed25519_public=public.ed25519_public,
    )
    hello = Hello(
        public.address,
        public.display_name,
        public.x25519_public,
        public.ed25519_public,
        canonical_relay_url(relay_url),
        identity.sign(transcript),
    )
    client.send(encode_frame(hello))
    await _expect(client, HelloAck, timeout)


async def join(
    client: BenchClient,
    identity: Identity,
    session_id: bytes,
    join_key: Ed25519KeyPair,
    timeout: float,
) -> None:
    """Join (or create) the session *session_id* by id with a proof, and wait for Joined.

    The proof is *join_key*'s signature over this connection's Challenge, the session id and
    *identity*'s address (docs/protocol.md §4.3); the first member to join creates the
    session with that key.

    Raises:
        BenchError: the server refused or did not answer.
    """
    if client.challenge is None:
        raise BenchError("join before authenticate")
    transcript = join_transcript(
        nonce=client.challenge.nonce,
        node_id=client.challenge.node_id,
        session_id=session_id,
        address=identity.address,
    )
    proof = join_key.sign(transcript)
    client.send(encode_frame(Join(session_id, "", join_key.public, proof)))
    await _expect(client, Joined, timeout)


async def bounded_map(
    func: Callable[[_T], Awaitable[_R]], items: Sequence[_T], concurrency: int
) -> list[_R]:
    """Await ``func(item)`` for every item, at most *concurrency* at a time, in order.

    The first failure cancels the rest and is raised (inside an ``ExceptionGroup``).
    """
    results: list[_R | None] = [None] * len(items)
    pending = iter(enumerate(items))

    async def worker() -> None:
        for index, item in pending:
            results[index] = await func(item)

    async with asyncio.TaskGroup() as group:
        for _ in range(max(1, min(concurrency, len(items)))):
            group.create_task(worker())
    return [result for result in results if result is not None]


async def close_all(clients: Iterable[BenchClient], timeout: float) -> int:
    """Close every connection and wait (at most *timeout* s) until all are down.

    Returns:
        How many were still open at the deadline.
    """
    waits = []
    for client in clients:
        transport = client.transport
        if transport is not None and not client.disconnected:
            transport.send_close()
            transport.disconnect()
            waits.append(asyncio.ensure_future(transport.wait_disconnected()))
    if not waits:
        return 0
    _, still_open = await asyncio.wait(waits, timeout=timeout)
    for waiter in still_open:
        waiter.cancel()
    return len(still_open)
