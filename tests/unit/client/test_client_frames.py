"""The client's direct MESSAGE/ACK codec paths agree with the general codec, byte for byte.

:func:`quicko.client.frames.decode` must be sound (whatever it accepts, the codec accepts with
the same payload) and fall back to the codec for everything else, so that every input —
generated frames, and the same frames truncated, extended or with any byte changed — has the
same outcome through both. :func:`quicko.client.frames.encode_message` must write exactly what
:func:`quicko.protocol.encode_frame` writes, and raise like it.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quicko.client.compiled import is_compiled
from quicko.client.frames import decode, encode_message
from quicko.errors import LocalProtocolError, RemoteProtocolError
from quicko.protocol import Ack, Message, Payload, Pong, decode_frame, encode_frame
from quicko.protocol.constants import MAX_BLOB_BYTES

_ids = st.binary(min_size=16, max_size=16)
_recipients = st.one_of(st.just(b""), _ids)
_times = st.one_of(
    st.sampled_from([0, 1, 127, 128, 255, 256, 65535, 65536, 2**32 - 1, 2**32, 2**64 - 1]),
    st.integers(min_value=0, max_value=2**64 - 1),
)
_bodies = st.one_of(
    st.binary(max_size=300),
    st.sampled_from([b"", b"x" * 255, b"y" * 256, b"z" * 65535, b"w" * 65536]),
)
_messages = st.builds(Message, _ids, _ids, _recipients, _ids, _times, _bodies)
_acks = st.builds(Ack, _ids, _ids, _recipients, _ids, st.integers(min_value=0, max_value=255))


def _outcome(data: bytes, how: object) -> Payload | str:
    try:
        return how(data)  # type: ignore[operator,no-any-return]
    except RemoteProtocolError as exc:
        return f"{type(exc).__name__}"


@settings(max_examples=300, deadline=None)
@given(_messages)
def test_messages_encode_as_the_codec_and_decode_back(message: Message) -> None:
    data = encode_message(message)
    assert data == encode_frame(message)
    assert decode(data) == message == decode_frame(data)
    assert type(decode(data).body) is bytes  # type: ignore[union-attr]


@settings(max_examples=200, deadline=None)
@given(_acks)
def test_acks_decode_as_the_codec(ack: Ack) -> None:
    data = encode_frame(ack)
    assert decode(data) == ack == decode_frame(data)


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(_messages, _acks),
    st.data(),
)
def test_changed_frames_as_the_codec(frame_of: Message | Ack, data: st.DataObject) -> None:
    frame = bytearray(encode_frame(frame_of))
    how = data.draw(st.sampled_from(["byte", "truncate", "extend"]))
    if how == "byte":
        at = data.draw(st.integers(min_value=0, max_value=len(frame) - 1))
        frame[at] = data.draw(st.integers(min_value=0, max_value=255))
    elif how == "truncate":
        frame = frame[: data.draw(st.integers(min_value=0, max_value=len(frame) - 1))]
    else:
        frame += data.draw(st.binary(min_size=1, max_size=4))
    changed = bytes(frame)
    assert _outcome(changed, decode) == _outcome(changed, decode_frame)


@pytest.mark.parametrize(
    "frame",
    [
        # A uint 8 status, a non-minimal timestamp: valid, decoded by the codec.
        encode_frame(Ack(b"s" * 16, b"a" * 16, b"b" * 16, b"m" * 16, 200)),
        bytes.fromhex("03100000005096c410")
        + b"s" * 16
        + bytes.fromhex("c410")
        + b"a" * 16
        + bytes.fromhex("c400c410")
        + b"m" * 16
        + bytes.fromhex("cd0005c40101"),
        encode_frame(Pong(7, 8)),
        b"",
        b"\x04\x10",
    ],
)
def test_other_encodings_and_types_go_to_the_codec(frame: bytes) -> None:
    assert _outcome(frame, decode) == _outcome(frame, decode_frame)


@pytest.mark.skipif(
    is_compiled("quicko.client.frames"),
    reason="compiled (mypyc), decode() checks its declared argument type: a bytearray "
    "raises TypeError",
)
def test_a_message_from_a_bytearray_goes_to_the_codec() -> None:
    message = Message(b"s" * 16, b"a" * 16, b"", b"m" * 16, 5, b"body")
    assert decode(bytearray(encode_frame(message))) == message  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "message",
    [
        Message(b"s" * 15, b"a" * 16, b"", b"m" * 16, 5, b""),
        Message(b"s" * 16, b"a" * 16, b"r" * 3, b"m" * 16, 5, b""),
        Message(b"s" * 16, b"a" * 16, b"", b"m" * 16, -1, b""),
        Message(b"s" * 16, b"a" * 16, b"", b"m" * 16, 2**64, b""),
        Message(b"s" * 16, b"a" * 16, b"", b"m" * 16, 5, b"b" * (MAX_BLOB_BYTES + 1)),
        Message(b"s" * 16, b"a" * 16, b"", b"m" * 16, True, b""),
        Message(b"s" * 16, b"a" * 16, b"", "m" * 16, 5, b""),  # type: ignore[arg-type]
    ],
)
def test_a_message_out_of_the_schema_raises_like_the_codec(message: Message) -> None:
    with pytest.raises(LocalProtocolError):
        encode_frame(message)
    with pytest.raises(LocalProtocolError):
        encode_message(message)
