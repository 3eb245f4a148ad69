"""The NATS protocol subset of the NATS baseline: commands, and the stream parser's contract."""

from __future__ import annotations

import itertools
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quicko.bench.nats import (
    MAX_CONTROL_LINE_BYTES,
    MAX_PAYLOAD_BYTES,
    NatsOp,
    NatsParser,
    NatsProtocolError,
    connect_command,
    pub_command,
    sub_command,
)
from quicko.bench.natsload import pair_subjects

INFO = b'INFO {"server_id":"N1","version":"2.9.10","max_payload":1048576}\r\n'


def _msg(subject: bytes, payload: bytes, reply: bytes = b"") -> bytes:
    reply_field = b" " + reply if reply else b""
    return b"MSG %s 1%s %d\r\n" % (subject, reply_field, len(payload)) + payload + b"\r\n"


def test_connect_asks_for_no_echo_and_no_ok() -> None:
    command = connect_command()
    assert command.startswith(b"CONNECT {")
    assert command.endswith(b"}\r\n")
    options = json.loads(command[len(b"CONNECT ") : -2])
    assert options["verbose"] is False
    assert options["echo"] is False
    assert options["protocol"] == 1


def test_sub_and_pub_commands() -> None:
    assert sub_command("q.3.a", 1) == b"SUB q.3.a 1\r\n"
    body = bytes(range(256))
    command = pub_command("q.3.b", body)
    assert command == b"PUB q.3.b 256\r\n" + body
    assert command.endswith(body)  # the body is last: a send time can be stamped in place


@pytest.mark.parametrize("subject", ["", "a b", "a\r\nPUB", "tab\there"])
def test_subjects_with_spaces_or_controls_are_refused(subject: str) -> None:
    with pytest.raises(ValueError, match="subject"):
        sub_command(subject, 1)


def test_msgs_and_operations_in_one_chunk() -> None:
    parser = NatsParser(keep_payloads=True)
    stream = INFO + b"PING\r\n" + _msg(b"q.1.a", b"x" * 256) + b"+OK\r\n"
    stream += _msg(b"q.1.a", b"", reply=b"_INBOX.1") + b"-ERR 'Slow Consumer'\r\nPONG\r\n"
    assert parser.feed(stream) == 2
    assert parser.payloads == [b"x" * 256, b""]
    assert [op.name for op in parser.ops] == ["INFO", "PING", "+OK", "-ERR", "PONG"]
    assert parser.ops[0].args.startswith(b"{")
    assert parser.ops[3] == NatsOp("-ERR", b"'Slow Consumer'")


def test_payloads_are_not_kept_unless_asked() -> None:
    parser = NatsParser()
    assert parser.feed(_msg(b"s", b"abc") * 3) == 3
    assert parser.payloads == []


def test_a_payload_containing_crlf_and_msg_is_opaque() -> None:
    payload = b"\r\nMSG x 1 3\r\nabc\r\n"
    parser = NatsParser(keep_payloads=True)
    assert parser.feed(_msg(b"s", payload)) == 1
    assert parser.payloads == [payload]
    assert parser.ops == []


def test_every_split_of_a_stream_gives_the_same_result() -> None:
    stream = INFO + _msg(b"q.0.b", b"\x00" * 256) + b"PING\r\n" + _msg(b"q.0.b", b"\r\n" * 5)
    for cut in range(len(stream) + 1):
        parser = NatsParser(keep_payloads=True)
        count = parser.feed(stream[:cut]) + parser.feed(stream[cut:])
        assert count == 2, cut
        assert parser.payloads == [b"\x00" * 256, b"\r\n" * 5]
        assert [op.name for op in parser.ops] == ["INFO", "PING"]


@pytest.mark.parametrize(
    ("stream", "message"),
    [
        (b"HELLO world\r\n", "unknown"),
        (b"MSG s 1\r\n", "malformed NATS MSG line"),
        (b"MSG s 1 a b c\r\n", "malformed NATS MSG line"),
        (b"MSG s 1 -3\r\n", "size"),
        (b"MSG s 1 12345678\r\n", "size"),
        (b"MSG s 1 %d\r\n" % (MAX_PAYLOAD_BYTES + 1), "limit"),
        (b"MSG s 1 3\r\nabcde\r\n", "CRLF"),
        (b"PING" + b" " * MAX_CONTROL_LINE_BYTES, "too long"),
    ],
)
def test_what_is_not_nats_raises(stream: bytes, message: str) -> None:
    with pytest.raises(NatsProtocolError, match=message):
        NatsParser().feed(stream)


def test_an_incomplete_stream_waits() -> None:
    parser = NatsParser()
    assert parser.feed(b"MSG s 1 300\r\n" + b"a" * 100) == 0
    assert parser.feed(b"a" * 200) == 0
    assert parser.feed(b"\r") == 0
    assert parser.feed(b"\nPI") == 1
    assert parser.feed(b"NG\r\n") == 0
    assert parser.ops == [NatsOp("PING")]


@given(st.lists(st.binary(max_size=64), max_size=8))
def test_arbitrary_bytes_give_a_count_or_a_protocol_error(chunks: list[bytes]) -> None:
    parser = NatsParser(keep_payloads=True)
    try:
        total = sum(parser.feed(chunk) for chunk in chunks)
    except NatsProtocolError:
        return
    assert total == len(parser.payloads)


_OPS = st.sampled_from([b"PING\r\n", b"PONG\r\n", b"+OK\r\n", INFO, b"-ERR 'x'\r\n"])
_MSGS = st.binary(max_size=300).map(lambda payload: _msg(b"q.9.a", payload))


@given(st.lists(_OPS | _MSGS, max_size=10), st.lists(st.integers(0, 4000), max_size=6))
def test_chunking_never_changes_what_is_parsed(parts: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(parts)
    whole = NatsParser(keep_payloads=True)
    count = whole.feed(stream)
    chunked = NatsParser(keep_payloads=True)
    bounds = [0, *sorted(min(cut, len(stream)) for cut in cuts), len(stream)]
    chunked_count = sum(chunked.feed(stream[a:b]) for a, b in itertools.pairwise(bounds))
    assert count == chunked_count == sum(part.startswith(b"MSG") for part in parts)
    assert whole.payloads == chunked.payloads
    assert whole.ops == chunked.ops


def test_every_pair_publishes_frames_of_one_length() -> None:
    # The latency scenario stamps every connection's frame at the first one's body offset.
    lengths = {
        len(pub_command(subject, bytes(256)))
        for pair in (0, 9, 10, 4999, 9_999_999)
        for subject in pair_subjects(pair)
    }
    assert len(lengths) == 1
    with pytest.raises(ValueError, match="out of range"):
        pair_subjects(10**7)


def test_a_repeated_msg_line_and_a_changed_one_are_both_parsed() -> None:
    parser = NatsParser(keep_payloads=True)
    stream = _msg(b"q.1.a", b"ab") + _msg(b"q.1.a", b"cd") + _msg(b"q.1.a", b"efg")
    assert parser.feed(stream) == 3
    assert parser.payloads == [b"ab", b"cd", b"efg"]
    with pytest.raises(NatsProtocolError, match="CRLF"):
        parser.feed(b"MSG q.1.a 1 3\r\nabcd\r\n")  # the last line again, a payload too long


def test_a_stray_nul_is_not_a_msg() -> None:
    with pytest.raises(NatsProtocolError, match="unknown"):
        NatsParser().feed(b"\x00\r\n")
