"""The bare forwarder: the relay's WebSocket stack (picows + uvloop) with no protocol logic.

It is the baseline every relay number is set beside (docs/performance.md). Exactly what it does:

1. It accepts a WebSocket upgrade at any path. A path ``/pair/<key>`` gives the connection a
   pair key (the bytes after ``/pair/``, not parsed); any other path gives none.
2. On open it sends :data:`~quicko.bench.wire.BARE_CHALLENGE`, a fixed frame of the size of
   the relay's Challenge.
3. The connection's first binary message stands for the Hello: it is neither decoded nor
   verified, and is answered with the fixed :data:`~quicko.bench.wire.BARE_HELLO_ACK`.
4. The second binary message stands for the Join: unread, answered with the fixed
   :data:`~quicko.bench.wire.BARE_JOINED`. If another connection with the same pair key is
   waiting, the two are linked; otherwise this one waits under its key.
5. Every later binary message is forwarded unchanged to the linked connection (dropped while
   there is none), with one picows ``send`` each: one ``send()`` system call per message when
   the socket's buffer is empty, as the relay does. Nothing is acknowledged, counted, limited
   or buffered. With ``--coalesce`` (an experiment, not the baseline), the messages of one read
   are instead queued and written to the partner together, once, after the read's last frame.
6. Text messages are ignored; a Close is answered and the connection dropped; a disconnection
   unlinks the partner and frees the key.

Run it as ``python -m quicko.bench.bare --port 0``; like the relay, it writes one JSON line
``{"event": "listening", "host": …, "port": …}`` to standard error once bound, and exits 0 on
SIGTERM or SIGINT. It binds 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from collections.abc import Callable, Sequence
from typing import Final

import uvloop
from picows import (
    WSFrame,
    WSListener,
    WSMsgType,
    WSTransport,
    WSUpgradeRequest,
    ws_create_server,
)

from quicko.bench.wire import BARE_CHALLENGE, BARE_HELLO_ACK, BARE_JOINED, server_ws_header
from quicko.protocol import HEADER_SIZE, MAX_PAYLOAD_BYTES, MessageType

__all__ = ["PAIR_PREFIX", "READ_BUFFER_BYTES", "BareHub", "BareLink", "main", "serve"]

PAIR_PREFIX: Final = b"/pair/"
"""Path prefix that carries a connection's pair key."""

READ_BUFFER_BYTES: Final = 4096
"""Initial picows read buffer per connection: the relay's value (quicko.relay.server)."""

_RECEIVED: Final = int(MessageType.RECEIVED)

_BINARY: Final = WSMsgType.BINARY
_CLOSE: Final = WSMsgType.CLOSE
_HELLO_INDEX: Final = 1
_JOIN_INDEX: Final = 2


class BareHub:
    """The connections waiting for their partner, by pair key, and the forwarding style."""

    __slots__ = ("coalesce", "waiting")

    def __init__(self, *, coalesce: bool = False) -> None:
        self.waiting: dict[bytes, BareLink] = {}
        self.coalesce = coalesce

    def pair(self, link: BareLink) -> None:
        """Link *link* to the connection waiting under its key, or make it wait."""
        if link.key is None:
            return
        other = self.waiting.pop(link.key, None)
        if other is None:
            self.waiting[link.key] = link
        else:
            link.partner = other
            other.partner = link

    def unpair(self, link: BareLink) -> None:
        """Forget *link*: free its key and unlink its partner."""
        if link.key is not None and self.waiting.get(link.key) is link:
            del self.waiting[link.key]
        partner = link.partner
        if partner is not None:
            partner.partner = None
            link.partner = None


class BareLink(WSListener):
    """One connection of the bare forwarder."""

    def __init__(self, hub: BareHub, key: bytes | None) -> None:
        super().__init__()
        self.hub = hub
        self.key = key
        self.transport: WSTransport | None = None
        self.partner: BareLink | None = None
        self.count = 0
        self.out: list[bytes] = []

    def on_ws_connected(self, transport: WSTransport) -> None:
        """Send the fixed Challenge-sized frame."""
        self.transport = transport
        transport.send(_BINARY, BARE_CHALLENGE)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        """Forward to the partner, or answer the first two messages with fixed frames."""
        if frame.msg_type is not _BINARY:
            if self.partner is not None and frame.last_in_buffer:
                self.partner.flush()
            if frame.msg_type is _CLOSE:
                transport.send_close(frame.get_close_code())
                transport.disconnect()
            return
        partner = self.partner
        if partner is not None:
            # An acknowledging load's Received frames are for the server (a relay consumes
            # them): they are dropped, by their type byte, not forwarded.
            if not self.hub.coalesce:
                view = frame.get_payload_as_memoryview()
                if view[1] != _RECEIVED:
                    partner.transport.send(_BINARY, view)  # type: ignore[union-attr]  # linked only once connected
                return
            data = frame.get_payload_as_bytes()
            if data[1] != _RECEIVED:
                partner.out += (server_ws_header(len(data)), data)
            if frame.last_in_buffer:
                partner.flush()
            return
        self.count += 1
        if self.count == _HELLO_INDEX:
            transport.send(_BINARY, BARE_HELLO_ACK)
        elif self.count == _JOIN_INDEX:
            self.hub.pair(self)
            transport.send(_BINARY, BARE_JOINED)

    def flush(self) -> None:
        """Write the frames queued for this connection in one go (``--coalesce`` only)."""
        out, self.out = self.out, []
        if out and self.transport is not None:
            self.transport.underlying_transport.writelines(out)

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        """Unlink the partner and free the key."""
        self.hub.unpair(self)
        self.transport = None


def _factory(hub: BareHub) -> Callable[[WSUpgradeRequest], BareLink]:
    def make(request: WSUpgradeRequest) -> BareLink:
        path: bytes = request.path
        key = path[len(PAIR_PREFIX) :] if path.startswith(PAIR_PREFIX) else None
        return BareLink(hub, key)

    return make


async def serve(
    host: str,
    port: int,
    *,
    read_buffer_bytes: int = READ_BUFFER_BYTES,
    aiofastnet: bool = False,
    coalesce: bool = False,
    stop: asyncio.Event | None = None,
) -> None:
    """Serve until SIGTERM/SIGINT (or *stop* is set); log the listening line to stderr."""
    hub = BareHub(coalesce=coalesce)
    server = await ws_create_server(
        _factory(hub),
        host,
        port,
        max_frame_size=HEADER_SIZE + MAX_PAYLOAD_BYTES,
        websocket_handshake_timeout=10,
        read_buffer_init_size=read_buffer_bytes,
        use_aiofastnet=aiofastnet,
        backlog=1024,
    )
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    bound = server.sockets[0].getsockname()
    event = {"event": "listening", "host": bound[0], "port": bound[1], "server": "bare"}
    sys.stderr.write(json.dumps(event) + "\n")
    sys.stderr.flush()
    try:
        await stop.wait()
    finally:
        server.close()
        await server.wait_closed()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the bare forwarder (``python -m quicko.bench.bare``)."""
    parser = argparse.ArgumentParser(
        prog="python -m quicko.bench.bare",
        description="Bare WebSocket forwarder (picows + uvloop, no protocol logic).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind (0: any free port)")
    parser.add_argument(
        "--read-buffer-bytes",
        type=int,
        default=READ_BUFFER_BYTES,
        help=f"picows's initial read buffer per connection ({READ_BUFFER_BYTES}, as the relay)",
    )
    parser.add_argument(
        "--coalesce",
        action="store_true",
        help="queue forwarded messages and write each read's worth at once (one system call)",
    )
    parser.add_argument(
        "--aiofastnet",
        action="store_true",
        help="let picows use aiofastnet transports (default: uvloop's, as the relay)",
    )
    args = parser.parse_args(argv)
    uvloop.run(
        serve(
            args.host,
            args.port,
            read_buffer_bytes=args.read_buffer_bytes,
            aiofastnet=args.aiofastnet,
            coalesce=args.coalesce,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
