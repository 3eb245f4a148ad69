"""The bare forwarder's behaviour, driven through its picows callbacks with fake transports."""

from __future__ import annotations

from typing import cast

from picows import WSFrame, WSMsgType, WSTransport
from picows.picows import _make_test_ws_frame

from quicko.bench.bare import BareHub, BareLink
from quicko.bench.wire import BARE_CHALLENGE, BARE_HELLO_ACK, BARE_JOINED, server_ws_header


class FakeTcp:
    def __init__(self) -> None:
        self.writes: list[list[bytes]] = []

    def writelines(self, data: list[bytes]) -> None:
        self.writes.append(list(data))


class FakeFrame:
    """A binary frame whose ``last_in_buffer`` can be chosen (a real picows one's cannot)."""

    msg_type = WSMsgType.BINARY

    def __init__(self, data: bytes, last: bool) -> None:
        self.data = data
        self.last_in_buffer = last

    def get_payload_as_bytes(self) -> bytes:
        return self.data


class FakeTransport:
    def __init__(self) -> None:
        self.sent: list[tuple[WSMsgType, bytes]] = []
        self.closed = False
        self.underlying_transport = FakeTcp()

    def send(self, msg_type: WSMsgType, data: bytes | memoryview) -> None:
        self.sent.append((msg_type, bytes(data)))

    def send_close(self, *args: object) -> None:
        self.closed = True

    def disconnect(self) -> None:
        self.closed = True


def _ws(fake: FakeTransport) -> WSTransport:
    """The fake, typed as the picows transport it stands in for."""
    return cast("WSTransport", fake)


def _binary(data: bytes) -> WSFrame:
    return _make_test_ws_frame(WSMsgType.BINARY, data, True, False)


def _open(hub: BareHub, key: bytes | None) -> tuple[BareLink, FakeTransport]:
    link, transport = BareLink(hub, key), FakeTransport()
    link.on_ws_connected(_ws(transport))
    return link, transport


def _payloads(transport: FakeTransport) -> list[bytes]:
    return [data for msg_type, data in transport.sent if msg_type is WSMsgType.BINARY]


def test_open_hello_and_join_are_answered_with_fixed_frames() -> None:
    hub = BareHub()
    link, transport = _open(hub, b"1")
    link.on_ws_frame(_ws(transport), _binary(b"anything as hello"))
    link.on_ws_frame(_ws(transport), _binary(b"anything as join"))
    assert _payloads(transport) == [BARE_CHALLENGE, BARE_HELLO_ACK, BARE_JOINED]
    assert hub.waiting == {b"1": link}


def test_paired_connections_forward_every_later_message_unchanged() -> None:
    hub = BareHub()
    a, a_transport = _open(hub, b"7")
    b, b_transport = _open(hub, b"7")
    for link, transport in ((a, a_transport), (b, b_transport)):
        link.on_ws_frame(_ws(transport), _binary(b"hello"))
        link.on_ws_frame(_ws(transport), _binary(b"join"))
    assert a.partner is b
    assert b.partner is a
    assert hub.waiting == {}
    a.on_ws_frame(_ws(a_transport), _binary(b"from a"))
    b.on_ws_frame(_ws(b_transport), _binary(b"from b"))
    assert _payloads(b_transport)[-1] == b"from a"
    assert _payloads(a_transport)[-1] == b"from b"


def test_messages_without_partner_or_key_are_dropped() -> None:
    hub = BareHub()
    link, transport = _open(hub, None)
    for data in (b"hello", b"join", b"dropped", b"dropped too"):
        link.on_ws_frame(_ws(transport), _binary(data))
    assert _payloads(transport) == [BARE_CHALLENGE, BARE_HELLO_ACK, BARE_JOINED]
    assert hub.waiting == {}


def test_text_is_ignored_and_close_is_answered() -> None:
    hub = BareHub()
    link, transport = _open(hub, b"k")
    link.on_ws_frame(_ws(transport), _make_test_ws_frame(WSMsgType.TEXT, b"hi", True, False))
    assert _payloads(transport) == [BARE_CHALLENGE]
    assert link.count == 0
    link.on_ws_frame(_ws(transport), _make_test_ws_frame(WSMsgType.CLOSE, b"\x03\xe8", True, False))
    assert transport.closed


def test_disconnect_unlinks_partner_and_frees_the_key() -> None:
    hub = BareHub()
    a, a_transport = _open(hub, b"9")
    b, b_transport = _open(hub, b"9")
    for link, transport in ((a, a_transport), (b, b_transport)):
        link.on_ws_frame(_ws(transport), _binary(b"hello"))
        link.on_ws_frame(_ws(transport), _binary(b"join"))
    b.on_ws_disconnected(_ws(b_transport))
    assert a.partner is None
    assert b.partner is None
    waiting, waiting_transport = _open(hub, b"w")
    waiting.on_ws_frame(_ws(waiting_transport), _binary(b"hello"))
    waiting.on_ws_frame(_ws(waiting_transport), _binary(b"join"))
    waiting.on_ws_disconnected(_ws(waiting_transport))
    assert hub.waiting == {}


def test_coalesce_writes_one_reads_messages_to_the_partner_at_once() -> None:
    hub = BareHub(coalesce=True)
    a, a_transport = _open(hub, b"c")
    b, b_transport = _open(hub, b"c")
    for link, transport in ((a, a_transport), (b, b_transport)):
        link.on_ws_frame(_ws(transport), _binary(b"hello"))
        link.on_ws_frame(_ws(transport), _binary(b"join"))
    a.on_ws_frame(_ws(a_transport), cast("WSFrame", FakeFrame(b"one", last=False)))
    a.on_ws_frame(_ws(a_transport), cast("WSFrame", FakeFrame(b"two" * 50, last=False)))
    assert b_transport.underlying_transport.writes == []
    a.on_ws_frame(_ws(a_transport), cast("WSFrame", FakeFrame(b"three", last=True)))
    assert b_transport.underlying_transport.writes == [
        [
            server_ws_header(3), b"one",
            server_ws_header(150), b"two" * 50,
            server_ws_header(5), b"three",
        ]
    ]  # fmt: skip
    assert _payloads(b_transport) == [BARE_CHALLENGE, BARE_HELLO_ACK, BARE_JOINED]
