"""A leaner WebSocket reader for the relay's usual frames, inside ``websockets``' own connection.

``websockets`` parses every incoming frame with a generator-based parser (several generator
steps, an enum lookup and a frame check per frame): on a chatting client that is most of the
WebSocket layer's cost. What a relay sends after the handshake is almost always a run of
complete, final, unmasked, uncompressed binary frames (one Quicko frame each).

:class:`RelayConnection` is ``websockets``' :class:`~websockets.asyncio.client.ClientConnection`
with one change: when bytes arrive and ``websockets``' parser is *between frames* (nothing
buffered, waiting for the next frame's first byte, connection open, no fragmented message under
way, no extension, no debug logging), the complete binary frames at the start of the bytes are
read here (:func:`take_frames`) and handed to the protocol's own state machine
(``Protocol.recv_frame``), exactly as its parser would hand them; the first byte of anything
else (a control frame, a text or fragmented frame, a masked or oversized frame, a frame not
complete yet) and everything after it go to ``websockets``' parser as before, which accepts it
or fails the connection as before. Events then flow as before (same order, same flow control,
same close handling): only the parsing of the common frames is done here.

Whether the parser is between frames is read from where its generator waits (in
``StreamReader.at_eof``, called from ``Protocol.parse``). If a future ``websockets`` parses
differently, that check is false and every byte goes to ``websockets`` (slower, never wrong);
a test pins that the fast path is taken with the version we ship.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from types import CodeType, GeneratorType
from typing import Any, Final

from websockets.asyncio.client import ClientConnection
from websockets.frames import Frame, Opcode
from websockets.protocol import OPEN, Protocol
from websockets.streams import StreamReader
from websockets.typing import Data

__all__ = ["RelayConnection", "between_frames", "take_frames"]

_FINAL_BINARY: Final = 0x80 | Opcode.BINARY  # FIN set, RSV1-3 clear, opcode 2
_MASKED: Final = 0x80
_LENGTH_16: Final = 126
_LENGTH_64: Final = 127
_AT_EOF: Final[CodeType] = StreamReader.at_eof.__code__
_PARSE: Final[CodeType] = Protocol.parse.__code__


def between_frames(protocol: Protocol) -> bool:
    """Whether ``protocol``'s parser waits for the first byte of a frame, with nothing held."""
    reader = protocol.reader
    if (
        protocol.state is not OPEN
        or protocol.current_size is not None  # a fragmented message under way
        or protocol.extensions
        or protocol.debug
        or reader.buffer
        or reader.eof
    ):
        return False
    # The innermost generator the parser waits in must be at_eof, called by Protocol.parse.
    outer: Any = None
    inner: Any = protocol.parser
    while isinstance(inner, GeneratorType) and inner.gi_yieldfrom is not None:
        outer, inner = inner, inner.gi_yieldfrom
    return (
        outer is not None
        and getattr(inner, "gi_code", None) is _AT_EOF
        and getattr(outer, "gi_code", None) is _PARSE
    )


def take_frames(
    protocol: Protocol, data: bytes, deliver: Callable[[bytes], object] | None = None
) -> int:
    """Hand the complete final binary frames that start ``data`` to ``protocol``, or ``deliver``.

    Call only when :func:`between_frames` holds. Frames are read as ``websockets`` reads a
    server's frames (unmasked; the length in 7, 16 or 64 bits; at most the protocol's
    ``max_message_size`` and ``max_fragment_size``); each payload goes to ``deliver``, or by
    default, as a frame, to ``protocol.recv_frame`` (as ``websockets``' parser would hand it).

    Returns:
        How many bytes were read: ``data[returned:]`` goes to ``websockets``' parser.
    """
    if deliver is None:
        recv_frame = protocol.recv_frame

        def deliver(payload: bytes) -> None:
            recv_frame(Frame(Opcode.BINARY, payload))

    limit = protocol.max_message_size
    fragment_limit = protocol.max_fragment_size
    if fragment_limit is not None and (limit is None or fragment_limit < limit):
        limit = fragment_limit
    size = len(data)
    pos = 0
    while pos + 2 <= size:
        second = data[pos + 1]
        if data[pos] != _FINAL_BINARY or second & _MASKED:
            break
        if second < _LENGTH_16:
            length, start = second, pos + 2
        elif second == _LENGTH_16:
            start = pos + 4
            if start > size:
                break
            length = data[pos + 2] << 8 | data[pos + 3]
        else:
            start = pos + 10
            if start > size:
                break
            length = int.from_bytes(data[pos + 2 : start], "big")
        end = start + length
        if (limit is not None and length > limit) or end > size:
            break
        deliver(data[start:end])
        pos = end
    return pos


class RelayConnection(ClientConnection):
    """``websockets``' client connection, reading the relay's usual frames itself (module doc).

    The messages read here wait in a queue of their own, which :meth:`recv` empties before it
    asks ``websockets``' (its ``Assembler``): a message goes to this queue only while the
    Assembler holds nothing and nobody waits on it, so every message queued here is older than
    every message there, and :meth:`recv` returns them in the order they came. Reading pauses
    when this queue passes the Assembler's high-water mark and resumes below its low one, as
    the Assembler does. Only :meth:`recv` (and iterating over the connection, which calls it)
    knows that queue: ``recv_streaming`` would skip it, and nothing in Quicko uses it.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._payloads: deque[bytes] = deque()
        self._arrived = asyncio.Event()
        self._held_back = False  # reading paused for our own queue

    def data_received(self, data: bytes) -> None:
        """Read the complete binary frames at the start of ``data``, then as ``websockets``."""
        protocol = self.protocol
        if type(data) is bytes and between_frames(protocol):
            assembler = self.recv_messages
            if assembler.frames or assembler.get_in_progress:
                taken = take_frames(protocol, data)  # behind the Assembler's: through it
            else:
                payloads = self._payloads
                taken = take_frames(protocol, data, payloads.append)
                if taken:
                    self._arrived.set()
                    high = assembler.high
                    if high is not None and len(payloads) > high and not self._held_back:
                        self._held_back = True
                        self.transport.pause_reading()
            if taken:
                data = data[taken:]
        super().data_received(data)

    def process_event(self, event: Any) -> None:
        """As ``websockets`` (a message it assembled, a close…), then wake :meth:`recv`."""
        super().process_event(event)
        self._arrived.set()

    def connection_lost(self, exc: Exception | None) -> None:
        """As ``websockets``, then wake :meth:`recv` (which then raises ``ConnectionClosed``)."""
        super().connection_lost(exc)
        self._arrived.set()

    def recv_ready(self) -> bytes | None:
        """The next message read here, at once, or ``None`` when none waits in this queue.

        What :meth:`recv` would return first, without a coroutine per message: a reader that
        gets ``None`` awaits :meth:`recv` (which then looks at ``websockets``' messages), so
        the order is the same. Reading resumes below the low-water mark, as in :meth:`recv`.
        """
        payloads = self._payloads
        if not payloads:
            return None
        payload = payloads.popleft()
        if self._held_back and len(payloads) <= (self.recv_messages.low or 0):
            self._held_back = False
            if not self.recv_messages.paused:
                self.transport.resume_reading()
        return payload

    async def recv(self, decode: bool | None = None) -> Data:  # type: ignore[override]
        """The next message: those read here first, then ``websockets``' (see the class doc).

        Raises:
            ConnectionClosed: as ``websockets``' ``recv``, once every message was returned.
        """
        assembler = self.recv_messages
        while True:
            payload = self.recv_ready()
            if payload is not None:
                return payload.decode() if decode else payload  # binary: bytes unless asked
            if assembler.frames or assembler.closed:
                return await super().recv(decode)
            self._arrived.clear()
            await self._arrived.wait()
