"""The load generator's NATS connections: a :class:`~.client.BenchClient` that speaks NATS.

With ``--server nats`` the load generator (:mod:`quicko.bench.load`) opens these instead of
Quicko connections, and runs the same scenarios with the same code: a connection reads the
server's INFO, sends CONNECT and PING and waits for the PONG (the "handshake"); a pair's members
each SUB to their own subject (``q.<pair>.a`` / ``q.<pair>.b``, :func:`pair_subjects`),
confirmed by a PING round trip, and PUB 256-byte bodies to the other's subject. A NATS server
may put several MSGs in one WebSocket message, so each message is run through a
:class:`~.nats.NatsParser` and every MSG counts (and, in the closed loop, lets the peer send one
more), as every MESSAGE frame counts for the relay. A server PING is answered with PONG. Nothing
is acknowledged (``--acking`` does not apply: NATS core has no receipts).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from time import perf_counter_ns
from typing import Final

from picows import WSFrame, WSMsgType, WSTransport

from quicko.bench.client import (
    CLOSED_LOOP,
    OPEN_LOOP,
    SETUP,
    BenchClient,
    BenchError,
    bounded_map,
    connect,
)
from quicko.bench.nats import (
    CRLF,
    PING,
    PONG,
    NatsOp,
    NatsParser,
    NatsProtocolError,
    connect_command,
    pub_command,
    sub_command,
)
from quicko.bench.wire import BODY_BYTES, STAMP, client_ws_frame

__all__ = ["NatsClient", "open_nats", "open_nats_pairs", "pair_subjects"]

_BINARY: Final = WSMsgType.BINARY
_TEXT: Final = WSMsgType.TEXT
_CLOSE: Final = WSMsgType.CLOSE
_SID: Final = 1
_MAX_SETUP_OPS: Final = 64
_MAX_SKIPPED_OPS: Final = 8
_PAIR_DIGITS: Final = 7
_MAX_PAIRS: Final = 10**_PAIR_DIGITS


def pair_subjects(pair: int) -> tuple[str, str]:
    """The subjects the first and the second member of pair *pair* subscribe to.

    Every subject has the same length (the pair number zero-padded), so every PUB command has
    the same length: the latency scenario stamps every connection's frame at one offset, as it
    does the relay's MESSAGE frames, whose fields all have fixed sizes.
    """
    if not 0 <= pair < _MAX_PAIRS:
        raise ValueError(f"pair {pair} out of range")
    return f"q.{pair:0{_PAIR_DIGITS}d}.a", f"q.{pair:0{_PAIR_DIGITS}d}.b"


class NatsClient(BenchClient):
    """One NATS-over-WebSocket load connection, in the modes of :class:`~.client.BenchClient`.

    :attr:`frame` is the PUB command without its final CRLF (:func:`~.nats.pub_command`), so
    that the latency scenario stamps the send time at the start of the body, where
    :meth:`_record` reads it back from the MSG payload.
    """

    def __init__(self) -> None:
        super().__init__()
        self.parser = NatsParser()
        self._ops: deque[NatsOp] = deque(maxlen=_MAX_SETUP_OPS)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        """Parse the NATS operations of one WebSocket message; count, time and answer MSGs."""
        kind = frame.msg_type
        if kind is not _BINARY and kind is not _TEXT:
            if kind is _CLOSE:
                transport.send_close(frame.get_close_code())
                transport.disconnect()
            return
        parser = self.parser
        try:
            count = parser.feed(frame.get_payload_as_bytes())
        except NatsProtocolError as exc:
            self.first_error = self.first_error or str(exc).encode()
            transport.disconnect()
            return
        if parser.ops:
            self._handle_ops(transport)
        if count:
            self.received += count
            mode = self.mode
            if mode == CLOSED_LOOP:
                peer = self.peer
                if peer is not None and peer.running:
                    peer.pending += count
            elif mode == OPEN_LOOP:
                now = perf_counter_ns()
                for payload in parser.payloads:
                    self._record(memoryview(payload), now)
                parser.payloads.clear()
        if self.mode == CLOSED_LOOP and frame.last_in_buffer and self.peer is not None:
            self.peer.flush()

    def _handle_ops(self, transport: WSTransport) -> None:
        ops, self.parser.ops = self.parser.ops, []
        for op in ops:
            if op.name == "PING":
                transport.send(_BINARY, PONG)
            elif self.mode == SETUP:
                self._ops.append(op)
                self._wake()
            elif op.name == "-ERR":
                self.others += 1
                self.first_error = self.first_error or op.args
            else:
                self.others += 1

    def _record(self, view: memoryview, now: int) -> None:
        recorder = self.recorder
        if len(view) != BODY_BYTES:
            return
        sent: int = STAMP.unpack_from(view, 0)[0]
        if recorder is not None and recorder.start_ns <= sent < recorder.stop_ns:
            recorder.latencies.append(now - sent)

    def send(self, data: bytes | bytearray) -> None:
        """Send one command; a PUB (:attr:`frame`) gets the CRLF that ends its payload."""
        super().send(bytes(data) + CRLF if data is self.frame else data)

    def start(self, mode: int) -> None:
        """Leave setup for *mode*; MSG payloads are kept only to time them (open loop)."""
        self._ops.clear()
        super().start(mode)
        self.parser.keep_payloads = mode == OPEN_LOOP
        if mode == CLOSED_LOOP:
            self.wire = client_ws_frame(bytes(self.frame) + CRLF)

    async def next_op(self, timeout: float) -> NatsOp:
        """Return the next operation received during setup (PINGs are answered, not returned).

        Raises:
            BenchError: none arrived within *timeout* seconds, or the connection closed.
        """
        if not self._ops and not self.disconnected:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await asyncio.wait_for(self._waiter, timeout)
            except TimeoutError as exc:
                raise BenchError(f"no answer from the NATS server within {timeout} s") from exc
            finally:
                self._waiter = None
        if not self._ops:
            detail = self.first_error.decode("utf-8", "replace") if self.first_error else ""
            raise BenchError(f"the NATS server closed the connection during setup {detail}")
        return self._ops.popleft()

    async def expect(self, name: str, timeout: float) -> NatsOp:
        """Read setup operations until one named *name*; a ``-ERR`` fails.

        Raises:
            BenchError: the server refused (``-ERR``), closed or did not answer.
        """
        for _ in range(_MAX_SKIPPED_OPS):
            op = await self.next_op(timeout)
            if op.name == name:
                return op
            if op.name == "-ERR":
                raise BenchError(f"NATS server error: {op.args.decode('utf-8', 'replace')}")
        raise BenchError(f"no {name} from the NATS server")


async def open_nats(url: str, timeout: float, subject: str | None = None) -> NatsClient:
    """Connect to the NATS server at *url*: INFO, CONNECT, optionally SUB *subject*, PING/PONG.

    Raises:
        BenchError: the connection failed, or the server refused or did not answer.
    """
    client = NatsClient()
    await connect(url, client, timeout)
    await client.expect("INFO", timeout)
    commands = connect_command()
    if subject is not None:
        commands += sub_command(subject, _SID)
    client.send(commands + PING)
    await client.expect("PONG", timeout)
    return client


async def open_nats_pairs(
    url: str, pairs: int, timeout: float, concurrency: int
) -> list[NatsClient]:
    """Open *pairs* pairs of subscribed connections; return them flat, peers linked.

    Every member's SUB is confirmed (PING/PONG) before this returns, so no PUB is lost.
    """

    async def open_member(index: int) -> NatsClient:
        return await open_nats(url, timeout, pair_subjects(index // 2)[index % 2])

    clients: Sequence[NatsClient] = await bounded_map(open_member, range(2 * pairs), concurrency)
    body = bytes(BODY_BYTES)
    for pair in range(pairs):
        first, second = clients[2 * pair], clients[2 * pair + 1]
        first_subject, second_subject = pair_subjects(pair)
        first.peer, second.peer = second, first
        first.frame = bytearray(pub_command(second_subject, body))
        second.frame = bytearray(pub_command(first_subject, body))
    return list(clients)
