"""Router: hop-by-hop acknowledged delivery and flow control (issue 10, docs/protocol.md §4.4).

The relay numbers every frame it sends on a connection after the HelloAck; a client's
``Received(n)`` says it has the first *n*. The routed frames it has not acknowledged go back to
the address's away buffer when the connection dies, times out or is replaced, and come again,
in order and before anything newer, after the next HelloAck.
"""

from __future__ import annotations

from collections.abc import Sequence

from router_harness import (
    Harness,
    Peer,
    closes,
    errors,
    hello_for,
    identity,
    mid,
    payloads,
    raw,
    sid,
)

from quicko.protocol import (
    Ack,
    AckStatus,
    ErrorCode,
    HelloAck,
    KeyExchange,
    LeaveReason,
    Message,
    PeerLeft,
    Ping,
    Received,
    encode_frame,
)
from quicko.relay.actions import CLOSE_DEAD_LINK, CLOSE_REPLACED, Action, PauseReading, Send
from quicko.relay.config import RelayConfig


class Counter:
    """Counts the frames a connection was sent, as its client would for Received."""

    def __init__(self, conn: int) -> None:
        self.conn = conn
        self.count = 0

    def feed(self, actions: Sequence[Action]) -> list[Action]:
        self.count += sum(isinstance(a, Send) and a.conn == self.conn for a in actions)
        return list(actions)


def _pair(h: Harness) -> tuple[Peer, Peer, Counter]:
    """a and b in session 1; a counter of what b received since its HelloAck."""
    a, b = h.peer(1), h.peer(2)
    h.join(a, sid(1))
    counter = Counter(b.conn)
    counter.feed(h.join(b, sid(1)))
    return a, b, counter


def _message(a: Peer, to: Peer, n: int, body: bytes = b"ciphertext") -> bytes:
    return encode_frame(Message(sid(1), a.address, to.address, mid(n), 1, body))


def _send(h: Harness, a: Peer, b: Peer, counter: Counter, n: int, body: bytes = b"x") -> bytes:
    frame = _message(a, b, n, body)
    counter.feed(h.recv(a.conn, frame))
    return frame


def _reconnect(h: Harness, n: int) -> tuple[Peer, list[bytes]]:
    """Connect identity *n* again; return it and the routed frames after its HelloAck."""
    peer, actions = h.connect(n)
    frames = raw(actions, peer.conn)
    assert isinstance(payloads(actions, peer.conn)[0], HelloAck)
    return peer, [f for f in frames[1:] if f[1] in {0x10, 0x11, 0x40}]


def test_received_counts_every_frame_after_the_hello_ack() -> None:
    h = Harness()
    a, b, counter = _pair(h)
    for n in range(3):
        _send(h, a, b, counter, n)
    counter.feed(h.send(b.conn, Ping(1)))  # the relay's own frames count too (the Pong)
    assert counter.count == 5  # Joined, three Messages, the Pong
    actions = h.send(b.conn, Received(counter.count + 1))
    assert errors(actions, b.conn) == [ErrorCode.MALFORMED]
    assert payloads(actions, b.conn)[0].ref_type == 0x12  # type: ignore[union-attr]
    assert closes(actions) == {}  # stays open
    assert h.send(b.conn, Received(counter.count)) == []


def test_acknowledged_frames_are_forgotten_the_rest_come_back_in_order() -> None:
    h = Harness()
    a, b, counter = _pair(h)
    frames = [_send(h, a, b, counter, n) for n in range(4)]
    assert h.send(b.conn, Received(counter.count - 2)) == []  # the first two messages
    h.drop(b)
    assert h.router.metrics.requeued == 2
    _, again = _reconnect(h, 2)
    assert again == frames[2:]


def test_a_new_hello_moves_the_old_connections_frames_ahead_of_new_ones() -> None:
    h = Harness()
    a, b, counter = _pair(h)
    frames = [_send(h, a, b, counter, n) for n in range(3)]
    h.router.writing_paused(b.conn)  # b's socket is full: the next one is held
    held = _message(a, b, 3)
    actions = h.recv(a.conn, held)
    assert raw(actions, b.conn) == []
    assert payloads(actions, a.conn) == [Ack(sid(1), a.address, b.address, mid(3), 2)]
    b2, actions = h.connect(2)  # the path changed: b's old connection is replaced
    assert closes(actions) == {b.conn: CLOSE_REPLACED}
    [ack] = [p for p in payloads(actions, b2.conn) if isinstance(p, HelloAck)]
    assert ack.buffered == 4
    assert raw(actions, b2.conn)[1:5] == [*frames, held]  # unacknowledged first, in order
    newer = _message(a, b2, 4)
    assert raw(h.recv(a.conn, newer), b2.conn) == [newer]
    assert not any(isinstance(p, PeerLeft) for p in payloads(actions, a.conn))


def test_frames_routed_by_the_relay_come_back_but_its_own_do_not() -> None:
    h = Harness()
    a, b, counter = _pair(h)
    exchange = encode_frame(KeyExchange(sid(1), a.address, b.address, b"init"))
    counter.feed(h.recv(a.conn, exchange))
    receipt = encode_frame(Ack(sid(1), b.address, a.address, mid(9), AckStatus.RECEIVED))
    counter.feed(h.recv(a.conn, receipt))  # a acks b's message: routed to b
    counter.feed(h.send(b.conn, Ping(1)))  # a Pong: the relay's own
    h.drop(b)
    _, again = _reconnect(h, 2)
    assert again == [exchange, receipt]


def test_a_link_that_stops_acknowledging_is_closed_and_its_frames_requeued() -> None:
    h = Harness(RelayConfig(rate=1000, burst=1000, idle_timeout_s=600, ack_timeout_s=10))
    a, b, counter = _pair(h)
    assert h.send(b.conn, Received(counter.count)) == []  # b acknowledges: the timer applies
    assert h.router.next_deadline() is not None
    quiet = h.router.next_deadline()
    frame = _send(h, a, b, counter, 1)
    assert h.router.next_deadline() == h.now + 10_000  # earlier than any other deadline
    assert quiet is not None and quiet > h.now + 10_000
    h.now += 9_000
    frame2 = _send(h, a, b, counter, 2)  # more outstanding: the clock does not restart
    actions = h.advance(1_000)
    assert closes(actions) == {b.conn: CLOSE_DEAD_LINK}
    assert h.router.metrics.dead_links == 1
    assert PeerLeft(sid(1), b.address, LeaveReason.DISCONNECTED) in payloads(actions, a.conn)
    _, again = _reconnect(h, 2)
    assert again == [frame, frame2]


def test_progress_restarts_the_ack_clock() -> None:
    h = Harness(RelayConfig(rate=1000, burst=1000, idle_timeout_s=600, ack_timeout_s=10))
    a, b, counter = _pair(h)
    h.send(b.conn, Received(counter.count))
    _send(h, a, b, counter, 1)
    _send(h, a, b, counter, 2)
    h.now += 9_000
    h.send(b.conn, Received(counter.count - 1))  # the first one: progress
    assert closes(h.advance(9_000)) == {}
    assert closes(h.advance(1_000)) == {b.conn: CLOSE_DEAD_LINK}


def test_no_ack_timeout_for_a_client_that_never_acknowledges() -> None:
    h = Harness(RelayConfig(rate=1000, burst=1000, idle_timeout_s=600, ack_timeout_s=10))
    a, b, counter = _pair(h)
    _send(h, a, b, counter, 1)
    assert closes(h.advance(30_000)) == {}  # an old or raw client works as before


def test_writes_blocked_hold_frames_in_the_away_buffer_until_it_drains() -> None:
    h = Harness()
    a, b, counter = _pair(h)
    h.router.writing_paused(b.conn)
    assert h.router.metrics.writes_blocked == 1
    held = [_message(a, b, n) for n in range(3)]
    for frame in held:
        actions = h.recv(a.conn, frame)
        assert raw(actions, b.conn) == []
        assert payloads(actions, a.conn)[0].status == AckStatus.BUFFERED  # type: ignore[union-attr]
    assert h.router.health()["buffered_frames"] == 3
    actions = h.router.writing_resumed(b.conn, h.now)
    assert raw(actions, b.conn) == held
    counter.feed(actions)
    direct = _message(a, b, 9)
    assert raw(h.recv(a.conn, direct), b.conn) == [direct]
    assert h.router.writing_resumed(b.conn, h.now) == []  # not paused: nothing to do


def test_a_blocked_reader_past_its_budget_costs_the_sender_buffer_full_not_the_reader() -> None:
    h = Harness(RelayConfig(rate=1000, burst=1000, buffer_bytes_per_recipient=2000))
    a, b, _ = _pair(h)
    h.router.writing_paused(b.conn)
    body = bytes(500)  # each counts about 850 bytes: two fit in 2000
    codes = [errors(h.recv(a.conn, _message(a, b, n, body)), a.conn) for n in range(3)]
    assert codes == [[], [], [ErrorCode.BUFFER_FULL]]
    assert closes(h.advance(1)) == {}


def test_an_acknowledging_client_has_a_window_of_unacknowledged_bytes() -> None:
    h = Harness(RelayConfig(rate=1000, burst=1000, send_queue_bytes=2000))
    a, b, counter = _pair(h)
    h.send(b.conn, Received(counter.count))
    body = bytes(800)
    sent = [_send(h, a, b, counter, n, body) for n in range(3)]  # the third passes 2000 bytes
    held = _message(a, b, 3, body)
    assert raw(h.recv(a.conn, held), b.conn) == []  # blocked: held
    actions = h.send(b.conn, Received(counter.count))  # b caught up: the window opens
    assert raw(actions, b.conn) == [held]
    assert len(sent) == 3


def test_a_client_that_never_acknowledges_keeps_a_bounded_list() -> None:
    h = Harness(RelayConfig(rate=1000, burst=1000, send_queue_bytes=2000))
    a, b, counter = _pair(h)
    frames = [_send(h, a, b, counter, n, bytes(800)) for n in range(10)]
    assert h.router.metrics.unacked_forgotten == 8  # forgotten as delivered
    h.drop(b)
    _, again = _reconnect(h, 2)
    assert again == frames[-2:]


def test_unacknowledged_frames_over_the_buffer_budget_expire_to_their_sender() -> None:
    h = Harness(RelayConfig(rate=1000, burst=1000, buffer_bytes_per_recipient=2000))
    a, b, counter = _pair(h)
    frames = [_send(h, a, b, counter, n, bytes(500)) for n in range(3)]  # two fit in 2000
    actions = h.drop(b)
    expired = Ack(sid(1), a.address, b.address, mid(2), AckStatus.EXPIRED)
    assert expired in payloads(actions, a.conn)
    assert h.router.metrics.requeue_refused == 1
    _, again = _reconnect(h, 2)
    assert again == frames[:2]


def test_an_acknowledgement_costs_no_token_a_repeated_one_does() -> None:
    h = Harness(RelayConfig(rate=1, burst=2))
    a, b = h.peer(1), h.peer(2)
    h.join(a, sid(1))
    h.join(b, sid(1))
    h.send(b.conn, Ping(1))  # b's two tokens are gone
    assert h.send(b.conn, Received(1)) == []  # new: free
    actions = h.send(b.conn, Received(1))  # nothing new: charged, in debt
    assert actions == [PauseReading(b.conn, h.now + 1001)]


def test_a_paused_reader_is_not_taken_for_a_dead_link() -> None:
    h = Harness(RelayConfig(rate=1, burst=5, idle_timeout_s=600, ack_timeout_s=10))
    a, b, counter = _pair(h)
    h.send(b.conn, Received(counter.count))
    _send(h, a, b, counter, 1)
    h.now += 1_000
    for n in range(20):  # b floods: it is paused for about 20 s
        actions = h.send(b.conn, Ping(n))
    pause = actions[-1]
    assert isinstance(pause, PauseReading) and pause.until_ms > h.now + 15_000
    assert closes(h.advance(9_500)) == {}  # its Received may be stuck behind the pause
    h.now = pause.until_ms
    assert closes(h.advance(10_000)) == {b.conn: CLOSE_DEAD_LINK}


def test_a_connection_opened_later_than_its_frames_owes_nothing() -> None:
    # Regression: a bucket made at open() started at open's time; a first frame stamped earlier
    # (a clock stepping back, or the I/O layer's clocks disagreeing) looked like a debt of the
    # difference, and a 90 s difference closed the connection as abusive.
    h = Harness(RelayConfig())  # the default rates
    h.now += 90_000
    conn = h.open()
    h.now -= 90_000
    actions = h.send(conn, hello_for(identity(1), h.challenges[conn]))
    assert closes(actions) == {}
    assert not [a for a in actions if isinstance(a, PauseReading)]
