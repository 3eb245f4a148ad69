"""Just enough of the NATS client protocol for the benchmark's NATS column, sans I/O.

``quicko bench relay --baseline nats`` drives a NATS server (Debian's ``nats-server``, with a
WebSocket listener) with the same load generator as the relay: each pair of connections
subscribes to one subject each and publishes 256-byte bodies to the other's. This module owns
the bytes: the commands the load sends (:func:`connect_command`, :func:`sub_command`,
:func:`pub_command`, :data:`PING`, :data:`PONG`) and :class:`NatsParser`, which turns what the
server sends (a byte stream: NATS over WebSocket puts any number of operations in a WebSocket
message, and may split one across messages) into counted ``MSG`` payloads and other operations.

The grammar (https://docs.nats.io/reference/reference-protocols/nats-protocol): every operation
is a control line ending in CRLF; ``MSG <subject> <sid> [reply-to] <#bytes>`` is followed by
exactly ``#bytes`` of payload and a CRLF. The server also sends ``INFO {json}``, ``PING``,
``PONG``, ``+OK`` and ``-ERR '<message>'``. Anything else — an unknown operation, a control
line over :data:`MAX_CONTROL_LINE_BYTES`, a size over :data:`MAX_PAYLOAD_BYTES` or not a
decimal number, a payload not followed by CRLF — raises :class:`NatsProtocolError`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Final

from quicko.bench.client import BenchError

__all__ = [
    "CRLF",
    "MAX_CONTROL_LINE_BYTES",
    "MAX_PAYLOAD_BYTES",
    "PING",
    "PONG",
    "NatsOp",
    "NatsParser",
    "NatsProtocolError",
    "connect_command",
    "pub_command",
    "sub_command",
]

CRLF: Final = b"\r\n"
"""The end of every NATS control line and payload."""

PING: Final = b"PING\r\n"
"""A PING command (the server answers PONG: a round trip that flushes what came before)."""

PONG: Final = b"PONG\r\n"
"""The answer to a server's PING (a server closes a client that leaves its PINGs unanswered)."""

MAX_CONTROL_LINE_BYTES: Final = 4096
"""The longest control line accepted (the server's default ``max_control_line``)."""

MAX_PAYLOAD_BYTES: Final = 1 << 20
"""The largest MSG payload accepted (the server's default ``max_payload``)."""

_MSG: Final = b"MSG "
_SIZE_DIGITS: Final = 7
_OPS: Final = frozenset({"INFO", "PING", "PONG", "+OK", "-ERR"})


class NatsProtocolError(BenchError):
    """The NATS server sent bytes that are not the NATS protocol (or over our limits)."""


@dataclass(frozen=True, slots=True)
class NatsOp:
    """One server operation other than MSG: its name (``INFO``, ``PING``, …) and arguments."""

    name: str
    args: bytes = b""


def connect_command() -> bytes:
    """The CONNECT command: no echo of our own publications, no ``+OK`` for each command."""
    options = {
        "verbose": False,
        "pedantic": False,
        "echo": False,
        "lang": "python",
        "version": "quicko-bench",
        "protocol": 1,
    }
    return b"CONNECT " + json.dumps(options, separators=(",", ":")).encode() + CRLF


def _subject(subject: str) -> bytes:
    raw = subject.encode("ascii")
    if not raw or any(byte <= 0x20 for byte in raw):
        raise ValueError(f"not a NATS subject: {subject!r}")
    return raw


def sub_command(subject: str, sid: int) -> bytes:
    """``SUB <subject> <sid>``: deliver *subject*'s messages to this connection as *sid*."""
    return b"SUB %s %d\r\n" % (_subject(subject), sid)


def pub_command(subject: str, body: bytes) -> bytes:
    """``PUB <subject> <#bytes>`` and *body*, *without* the CRLF that ends a payload.

    The body is the command's last bytes, so a send time can be stamped into it in place (as
    in the relay's MESSAGE template); the sender appends :data:`CRLF` when it writes.
    """
    return b"PUB %s %d\r\n" % (_subject(subject), len(body)) + body


class NatsParser:
    """A byte-stream parser of what a NATS server sends (see the module docstring).

    :meth:`feed` returns how many ``MSG`` operations completed; their payloads are appended to
    :attr:`payloads` when :attr:`keep_payloads` is set (for latency, which reads the send
    time stamped in the body), and every other operation to :attr:`ops`. The caller drains
    both lists.
    """

    __slots__ = ("_buffer", "_line", "_line_size", "keep_payloads", "ops", "payloads")

    def __init__(self, *, keep_payloads: bool = False) -> None:
        self.keep_payloads = keep_payloads
        self.payloads: list[bytes] = []
        self.ops: list[NatsOp] = []
        self._buffer = b""
        # The last MSG control line (with its CRLF) and its byte count: a connection's MSGs
        # repeat it, and one comparison then replaces finding, splitting and converting it.
        self._line = b""
        self._line_size = 0

    def feed(self, data: bytes) -> int:
        """Parse *data* (after what came before); return the number of MSGs completed.

        Raises:
            NatsProtocolError: the stream is not the NATS protocol (see the module docstring).
        """
        buffer = self._buffer + data if self._buffer else data
        size, position, count = len(buffer), 0, 0
        while position < size:
            if self._line and buffer.startswith(self._line, position):
                start = position + len(self._line)
                stop = start + self._line_size
                if stop + 2 > size:
                    break
                if buffer[stop : stop + 2] != CRLF:
                    raise NatsProtocolError("NATS payload not followed by CRLF")
                if self.keep_payloads:
                    self.payloads.append(buffer[start:stop])
                count += 1
                position = stop + 2
                continue
            end = buffer.find(CRLF, position, position + MAX_CONTROL_LINE_BYTES)
            if end < 0:
                if size - position >= MAX_CONTROL_LINE_BYTES:
                    raise NatsProtocolError("NATS control line too long")
                break
            if buffer.startswith(_MSG, position):
                # The next pass takes the fast path above, with this line (or waits for its
                # payload, still on its way, and then does).
                self._line_size = _msg_size(buffer[position:end])
                self._line = buffer[position : end + 2]
                continue
            self.ops.append(_op(buffer[position:end]))
            position = end + 2
        self._buffer = buffer[position:]
        return count


def _msg_size(line: bytes) -> int:
    """The byte count of a ``MSG <subject> <sid> [reply-to] <#bytes>`` line."""
    fields = line.split()
    if len(fields) not in (4, 5):
        raise NatsProtocolError("malformed NATS MSG line")
    digits = fields[-1]
    if not digits.isdigit() or len(digits) > _SIZE_DIGITS:
        raise NatsProtocolError("malformed NATS MSG size")
    count = int(digits)
    if count > MAX_PAYLOAD_BYTES:
        raise NatsProtocolError("NATS MSG payload over the limit")
    return count


def _op(line: bytes) -> NatsOp:
    name, _, args = line.partition(b" ")
    text = name.decode("ascii", "replace").upper()
    if text not in _OPS:
        raise NatsProtocolError("unknown NATS operation")
    return NatsOp(text, args.strip())
