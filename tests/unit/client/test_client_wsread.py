"""The client's own reading of the relay's usual WebSocket frames changes nothing websockets sees.

Two ``websockets`` protocols get the same bytes, cut in the same places: one parses them all
itself, the other first lets :func:`quicko.client.wsread.take_frames` read the complete binary
frames at the start of each chunk whenever :func:`~quicko.client.wsread.between_frames` holds
(as :class:`~quicko.client.wsread.RelayConnection` does). Every event, every byte to send, the
state and the parser's error must be the same — for the common frames, and for everything that
must still go to ``websockets`` (control frames, text, fragments, masked or oversized frames).
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.frames import Close, CloseCode, Frame, Opcode
from websockets.protocol import OPEN, Protocol, Side
from websockets.streams import StreamReader

from quicko.client.wsread import between_frames, take_frames

_MAX_SIZE = 70_000


def _protocol() -> Protocol:
    return Protocol(Side.CLIENT, state=OPEN, max_size=_MAX_SIZE)


def _server_frame(frame: Frame | bytes) -> bytes:
    return frame if isinstance(frame, bytes) else frame.serialize(mask=False)


def _with_rsv1(frame: Frame) -> bytes:
    data = bytearray(_server_frame(frame))
    data[0] |= 0x40  # an extension bit, with no extension negotiated
    return bytes(data)


def _sent(writes: list[bytes]) -> list[tuple[Opcode, bytes]]:
    """The client's writes as (opcode, unmasked data): masking keys are random."""
    reader = StreamReader()
    reader.feed_data(b"".join(writes))
    reader.feed_eof()
    frames = []
    while reader.buffer:
        parser = Frame.parse(reader.read_exact, mask=True)
        try:
            next(parser)
        except StopIteration as done:
            frames.append((done.value.opcode, bytes(done.value.data)))
    return frames


def _outcome(protocol: Protocol) -> tuple[object, ...]:
    events = [(f.opcode, bytes(f.data), f.fin) for f in protocol.events_received()]  # type: ignore[union-attr]
    return (
        events,
        _sent(protocol.data_to_send()),
        protocol.state,
        type(protocol.parser_exc).__name__,
        protocol.close_rcvd,
    )


def _feed_both(chunks: list[bytes]) -> tuple[tuple[object, ...], tuple[object, ...], int]:
    plain, ours = _protocol(), _protocol()
    taken_total = 0
    for chunk in chunks:
        plain.receive_data(chunk)
        rest = chunk
        if between_frames(ours):
            taken = take_frames(ours, chunk)
            taken_total += taken
            rest = chunk[taken:]
        ours.receive_data(rest)
    return _outcome(plain), _outcome(ours), taken_total


_binary = st.binary(max_size=300).map(lambda data: Frame(Opcode.BINARY, data))
_big_binary = st.sampled_from([125, 126, 65535, 65536]).map(
    lambda size: Frame(Opcode.BINARY, bytes([size % 251]) * size)
)
_others = st.sampled_from(
    [
        Frame(Opcode.PING, b"ping"),
        Frame(Opcode.PONG, b"pong"),
        Frame(Opcode.TEXT, b"text"),
        Frame(Opcode.BINARY, b"first half", fin=False),
        Frame(Opcode.CONT, b"second half"),
        _with_rsv1(Frame(Opcode.BINARY, b"compressed?")),
        Frame(Opcode.BINARY, b"x" * (_MAX_SIZE + 1)),
        Frame(Opcode.CLOSE, Close(CloseCode.NORMAL_CLOSURE, "bye").serialize()),
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.one_of(_binary, _binary, _big_binary, _others), min_size=1, max_size=8),
    st.lists(st.integers(min_value=1, max_value=70_000), max_size=6),
    st.booleans(),
)
def test_same_events_as_websockets_for_any_frames_and_cuts(
    frames: list[Frame | bytes], cuts: list[int], masked_last: bool
) -> None:
    data = b"".join(_server_frame(frame) for frame in frames)
    if masked_last:  # a server must not mask: websockets fails the connection
        data += Frame(Opcode.BINARY, b"masked").serialize(mask=True)
    points = sorted({cut % (len(data) + 1) for cut in cuts} | {0, len(data)})
    chunks = [data[a:b] for a, b in itertools.pairwise(points)]
    plain, ours, _ = _feed_both(chunks)
    assert ours == plain


def test_common_frames_are_read_here() -> None:
    frames = [Frame(Opcode.BINARY, bytes([n % 251]) * n) for n in (0, 1, 125, 126, 300, 65536)]
    data = b"".join(_server_frame(frame) for frame in frames)
    plain, ours, taken = _feed_both([data])
    assert ours == plain
    assert taken == len(data)  # websockets parsed none of them


def test_a_frame_cut_in_two_goes_to_websockets_then_reading_here_resumes() -> None:
    first, second, third = (_server_frame(Frame(Opcode.BINARY, b"m" * n)) for n in (10, 200, 5))
    cut = len(first) + 3  # inside the second frame's header
    chunks = [(first + second)[:cut], (first + second)[cut:], third]
    plain, ours, taken = _feed_both(chunks)
    assert ours == plain
    assert taken == len(first) + len(third)


@pytest.mark.parametrize(
    "protocol_state",
    ["closing", "fragment", "buffered"],
)
def test_not_between_frames(protocol_state: str) -> None:
    protocol = _protocol()
    assert between_frames(protocol)
    if protocol_state == "closing":
        protocol.send_close()
    elif protocol_state == "fragment":
        protocol.receive_data(_server_frame(Frame(Opcode.BINARY, b"part", fin=False)))
    else:
        protocol.receive_data(_server_frame(Frame(Opcode.BINARY, b"abc"))[:2])
    assert not between_frames(protocol)
