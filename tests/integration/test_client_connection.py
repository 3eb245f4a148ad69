"""The connection supervisor (quicko.client.connection) against real relays and scripted ones.

The real relay runs as ``python -m quicko relay`` on 127.0.0.1 (a subprocess, so that it can be
killed with SIGKILL and restarted on the same port); the scripted relay is a small websockets
server for what a real relay never does (garbage, silence, a refused Hello). Every wait is on
an event with a timeout, never a sleep.
"""

from __future__ import annotations

import asyncio
import secrets
import signal
import ssl
from pathlib import Path

import pytest
from client_helpers import (
    ScriptedRelay,
    accept_hello,
    expect_event,
    recv_payload,
    relay_subprocess,
    signed_join,
    stop_relay,
)
from relay_support import RelayProcess, spawn_relay, write_self_signed
from websockets.asyncio.server import ServerConnection

from quicko.client.backoff import Jitter
from quicko.client.connection import (
    Connection,
    ConnectionSettings,
    ConnectionState,
)
from quicko.client.events import (
    AttemptFailed,
    Connected,
    Disconnected,
    DisconnectReason,
    MessageReceived,
    PingReceived,
    Reconnecting,
    ReconnectionFailed,
)
from quicko.client.link import normalize_url, wall_ms
from quicko.crypto import Ed25519KeyPair
from quicko.errors import ConnectionClosedError
from quicko.identity import Identity
from quicko.protocol import (
    HEADER_SIZE,
    MAX_PAYLOAD_BYTES,
    Ack,
    AckStatus,
    Challenge,
    Error,
    ErrorCode,
    HelloAck,
    Joined,
    Message,
    PeerJoined,
    Ping,
    Pong,
    encode_frame,
)

pytestmark = pytest.mark.integration

#: Fast timings so that reconnects and heartbeats happen within a test's patience.
FAST = ConnectionSettings(
    ping_interval=30.0,
    backoff_initial=0.05,
    backoff_maximum=0.2,
    close_timeout=1.0,
    open_timeout=2.0,
    handshake_timeout=2.0,
)


def new_identity() -> Identity:
    return Identity.generate(secrets.token_bytes)


def state_of(conn: Connection) -> ConnectionState:
    """The state, read afresh (mypy would keep an earlier narrowing of the property)."""
    return conn.state


def url_of(relay: RelayProcess, path: str = "/ws") -> str:
    return f"ws://127.0.0.1:{relay.port}{path}"


async def test_connects_and_authenticates_then_closes() -> None:
    identity = new_identity()
    async with relay_subprocess() as relay:
        conn = Connection(f"ws://127.0.0.1:{relay.port}", identity, settings=FAST)  # no path
        assert conn.url.endswith("/ws")
        assert repr(conn) == f"<Connection ws://127.0.0.1:{relay.port}/ws idle>"
        connected = await asyncio.wait_for(conn.wait_connected(), 10)
        assert connected.address == identity.address
        assert connected.node_id == relay.listening["node_id"]
        assert (connected.generation, connected.buffered) == (1, 0)
        assert conn.is_connected
        assert conn.connected == connected
        assert await conn.next_event() == connected  # the first event
        await conn.close()
        closed, _ = await expect_event(conn, Disconnected)
        assert closed == Disconnected(DisconnectReason.CLOSED, "closed by the client", None, False)
        assert conn.state is ConnectionState.CLOSED
        with pytest.raises(ConnectionClosedError):
            await conn.next_event()  # every event read, and no more will come
        with pytest.raises(ConnectionClosedError):
            await conn.send(Ping(1))
        await conn.close()  # idempotent
        with pytest.raises(ConnectionClosedError):
            conn.start()


async def test_two_connections_exchange_join_and_message() -> None:
    session_id = secrets.token_bytes(16)
    alice_id, bob_id = new_identity(), new_identity()
    async with (
        relay_subprocess() as relay,
        Connection(url_of(relay), alice_id, settings=FAST) as alice,
        Connection(url_of(relay), bob_id, settings=FAST) as bob,
    ):
        await asyncio.wait_for(alice.wait_connected(), 10)
        await asyncio.wait_for(bob.wait_connected(), 10)
        key = Ed25519KeyPair.generate(secrets.token_bytes)
        await alice.send(signed_join(alice, alice_id, session_id, key))
        await expect_event(alice, MessageReceived)  # Joined, no other members
        await bob.send(signed_join(bob, bob_id, session_id, key))
        joined, _ = await expect_event(bob, MessageReceived)
        assert isinstance(joined.payload, Joined)
        assert [m.address for m in joined.payload.members] == [alice_id.address]
        peer, _ = await expect_event(alice, MessageReceived)
        assert peer.payload == PeerJoined(session_id, bob_id.address, bob_id.display_name)

        message = Message(
            session_id, alice_id.address, bob_id.address, bytes(16), 1, b"opaque body"
        )
        await alice.send(message)
        received, _ = await expect_event(bob, MessageReceived)
        assert received.payload == message
        ack, _ = await expect_event(alice, MessageReceived)
        assert ack.payload == Ack(
            session_id, alice_id.address, bob_id.address, bytes(16), AckStatus.ACCEPTED
        )


async def test_heartbeat_measures_latency() -> None:
    # An interval shorter than the timeout: the next Ping is due 50 ms after the previous
    # one, not when the previous one would have timed out.
    settings = ConnectionSettings(ping_interval=0.05, ping_timeout=30.0)
    async with (
        relay_subprocess() as relay,
        Connection(url_of(relay), new_identity(), settings=settings) as conn,
    ):
        await asyncio.wait_for(conn.wait_connected(), 10)
        latencies = []
        for _ in range(3):
            ping, _ = await expect_event(conn, PingReceived, timeout=5.0)
            latencies.append(ping.latency_ms)
            assert ping.server_time > 1_700_000_000_000
        assert all(0.0 < ms < 5000.0 for ms in latencies)
        assert conn.latency_ms == latencies[-1]
        assert conn.is_connected


async def test_reconnects_by_itself_after_the_relay_is_killed_and_restarted() -> None:
    session_id = secrets.token_bytes(16)
    generations: list[int] = []

    async def rejoin(connected: Connected) -> None:
        generations.append(connected.generation)
        await conn.send(signed_join(conn, identity, session_id, key))

    relay = await spawn_relay()
    port = relay.port
    identity, key = new_identity(), Ed25519KeyPair.generate(secrets.token_bytes)
    conn = Connection(url_of(relay), identity, on_connected=rejoin, settings=FAST)
    try:
        await asyncio.wait_for(conn.wait_connected(), 10)
        joined, _ = await expect_event(conn, MessageReceived)
        assert isinstance(joined.payload, Joined)

        await stop_relay(relay)  # SIGKILL: no goodbye, the socket just breaks
        dropped, _ = await expect_event(conn, Disconnected)
        assert dropped.reason is DisconnectReason.CONNECTION_LOST
        assert dropped.will_reconnect
        retry, _ = await expect_event(conn, Reconnecting)
        assert retry.attempt == 1
        assert 50 <= retry.delay_ms <= 200
        with pytest.raises(ConnectionClosedError):
            await conn.send(Ping(1))  # nothing is queued here: the caller keeps it

        async with relay_subprocess(port) as restarted:
            assert restarted.port == port
            back, between = await expect_event(conn, Connected, timeout=20)
            assert back.generation == 2
            assert all(isinstance(e, AttemptFailed | Reconnecting) for e in between)
            rejoined, _ = await expect_event(conn, MessageReceived)  # the hook re-joined
            assert isinstance(rejoined.payload, Joined)
            assert rejoined.payload.session_id == session_id
            assert generations == [1, 2]
            await conn.close()
    finally:
        await conn.close()
        await stop_relay(relay)


async def test_close_stops_reconnecting() -> None:
    relay = await spawn_relay()
    conn = Connection(url_of(relay), new_identity(), settings=FAST)
    try:
        await asyncio.wait_for(conn.wait_connected(), 10)
        await stop_relay(relay)
        await expect_event(conn, Reconnecting)
        await expect_event(conn, AttemptFailed)  # nobody listens on the port now
        await asyncio.wait_for(conn.close(), 5)
        assert conn.state is ConnectionState.CLOSED
        leftovers = []
        while (event := conn.poll_event()) is not None:
            leftovers.append(event)
        assert not any(isinstance(e, Connected) for e in leftovers)
        with pytest.raises(ConnectionClosedError):
            await asyncio.wait_for(conn.wait_connected(), 5)
    finally:
        await conn.close()
        await stop_relay(relay)


async def test_a_second_connection_with_the_same_identity_replaces_the_first() -> None:
    identity = new_identity()
    async with (
        relay_subprocess() as relay,
        Connection(url_of(relay), identity, settings=FAST) as first,
        Connection(url_of(relay), identity, settings=FAST) as second,
    ):
        await asyncio.wait_for(first.wait_connected(), 10)
        await asyncio.wait_for(second.wait_connected(), 10)
        replaced, _ = await expect_event(first, Disconnected)
        assert replaced.reason is DisconnectReason.REPLACED
        assert replaced.error_code == ErrorCode.REPLACED
        assert not replaced.will_reconnect
        with pytest.raises(ConnectionClosedError):
            await first.next_event()  # it stopped instead of fighting for the address
        assert first.state is ConnectionState.CLOSED
        assert second.is_connected
        key = Ed25519KeyPair.generate(secrets.token_bytes)
        await second.send(signed_join(second, identity, secrets.token_bytes(16), key))
        joined, _ = await expect_event(second, MessageReceived)
        assert isinstance(joined.payload, Joined)


async def test_wss_with_a_self_signed_certificate(tmp_path: Path) -> None:
    cert, key = write_self_signed(tmp_path)
    trusted = ssl.create_default_context(cafile=str(cert))
    identity = new_identity()
    tls = ("--tls-cert", str(cert), "--tls-key", str(key))
    async with relay_subprocess(0, *tls) as relay:
        url = f"wss://127.0.0.1:{relay.port}"
        async with Connection(url, identity, ssl_context=trusted, settings=FAST) as conn:
            connected = await asyncio.wait_for(conn.wait_connected(), 10)
            assert connected.address == identity.address
        untrusting = Connection(url, identity, settings=FAST)  # the system's CAs only
        async with untrusting:
            failed, _ = await expect_event(untrusting, AttemptFailed)
            assert failed.reason is DisconnectReason.CONNECT_FAILED
            assert "SSL" in failed.detail


def test_urls_are_checked_and_completed() -> None:
    identity = new_identity()
    assert Connection("ws://127.0.0.1:9900", identity).url == "ws://127.0.0.1:9900/ws"
    assert Connection("wss://relay.example/", identity).url == "wss://relay.example/"
    assert normalize_url("ws://[::1]:9900/ws?x=1#frag") == "ws://[::1]:9900/ws?x=1"
    for bad in ("http://127.0.0.1:9900", "127.0.0.1:9900", "ws:///ws"):
        with pytest.raises(ValueError, match="relay URL"):
            Connection(bad, identity)
    with pytest.raises(ValueError, match="wss://"):
        Connection("ws://127.0.0.1:9900", identity, ssl_context=ssl.create_default_context())


# ---------------------------------------------------------------- scripted relays


async def test_close_before_start_closes_for_good() -> None:
    conn = Connection("ws://127.0.0.1:9", new_identity())
    await conn.close()
    assert conn.state is ConnectionState.CLOSED
    with pytest.raises(ConnectionClosedError):
        conn.start()
    with pytest.raises(ConnectionClosedError):
        await conn.next_event()


async def test_close_interrupts_an_attempt_in_progress() -> None:
    challenge_sent = asyncio.Event()

    async def script(ws: ServerConnection, n: int) -> None:
        await ws.send(encode_frame(Challenge(bytes(32), "scripted", wall_ms())))
        challenge_sent.set()
        await ws.wait_closed()  # never answers the Hello

    settings = ConnectionSettings(handshake_timeout=30.0)
    async with ScriptedRelay(script) as relay:
        conn = Connection(relay.url, new_identity(), settings=settings)
        conn.start()
        await asyncio.wait_for(challenge_sent.wait(), 10)
        assert state_of(conn) is ConnectionState.CONNECTING
        await asyncio.wait_for(conn.close(), 5)
        assert state_of(conn) is ConnectionState.CLOSED
        assert conn.poll_event() is None  # it never connected, so nothing to report
        assert relay.connections == 1


async def test_garbage_from_the_relay_is_reported_and_the_connection_re_established() -> None:
    async def script(ws: ServerConnection, n: int) -> None:
        if n == 1:
            await ws.send(b"\x07\x03\x00\x00\x00\x00")  # version 7 in place of a Challenge
        elif n == 2:
            await accept_hello(ws)
            await ws.send(b"\x04\x10\x00\x00\x00\x04\x93\x01\x02\x03")  # a Message of 3 ints
        elif n == 3:
            await accept_hello(ws)
            await ws.send("a text message")
        elif n == 4:
            await accept_hello(ws)
            await ws.send(bytes(HEADER_SIZE + MAX_PAYLOAD_BYTES + 1))  # over the limit
        else:
            await accept_hello(ws)
            await ws.send(encode_frame(Challenge(bytes(32), "x", 0)))  # out of place
        await ws.wait_closed()

    async with (
        ScriptedRelay(script) as relay,
        Connection(relay.url, new_identity(), settings=FAST) as conn,
    ):
        failed, _ = await expect_event(conn, AttemptFailed)
        assert (failed.attempt, failed.reason) == (0, DisconnectReason.PROTOCOL_ERROR)
        assert "version 7" in failed.detail
        expectations = (
            "Message payload must be an array",
            "text message",
            "over the size limit",
            "unexpected Challenge",
        )
        for expected in expectations:
            connected, _ = await expect_event(conn, Connected)
            dropped, _ = await expect_event(conn, Disconnected)
            assert dropped.reason is DisconnectReason.PROTOCOL_ERROR
            assert expected in dropped.detail
            assert dropped.will_reconnect
        assert connected.generation == 4
        await expect_event(conn, Reconnecting)
        assert relay.connections >= 5


async def test_an_unanswered_ping_drops_the_connection() -> None:
    async def script(ws: ServerConnection, n: int) -> None:
        await accept_hello(ws)
        ping = await recv_payload(ws)
        assert isinstance(ping, Ping)
        if n > 1:
            await ws.send(encode_frame(Pong(ping.nonce + 1, 5)))  # answers the wrong Ping
        await ws.wait_closed()

    settings = ConnectionSettings(ping_interval=0.05, ping_timeout=0.1, backoff_maximum=0.1)
    async with (
        ScriptedRelay(script) as relay,
        Connection(relay.url, new_identity(), settings=settings) as conn,
    ):
        for _ in range(2):
            dropped, skipped = await expect_event(conn, Disconnected)
            assert dropped.reason is DisconnectReason.PING_TIMEOUT
            assert not any(isinstance(e, PingReceived) for e in skipped)


async def test_a_refused_hello_is_reported_and_retries_are_bounded() -> None:
    async def script(ws: ServerConnection, n: int) -> None:
        await ws.send(encode_frame(Challenge(bytes(32), "scripted", wall_ms())))
        await recv_payload(ws)
        await ws.send(
            encode_frame(
                Error(int(ErrorCode.AUTHENTICATION_FAILED), "authentication failed", 1, b"")
            )
        )
        await ws.close(1008)

    settings = ConnectionSettings(
        backoff_initial=0.01, backoff_maximum=0.02, max_reconnect_attempts=2, jitter=Jitter.NONE
    )
    async with (
        ScriptedRelay(script) as relay,
        Connection(relay.url, new_identity(), settings=settings) as conn,
    ):
        gave_up, events = await expect_event(conn, ReconnectionFailed)
        assert gave_up.attempts == 2
        failures = [e for e in events if isinstance(e, AttemptFailed)]
        assert [f.attempt for f in failures] == [0, 1, 2]
        assert {f.reason for f in failures} == {DisconnectReason.AUTHENTICATION_FAILED}
        assert {f.error_code for f in failures} == {ErrorCode.AUTHENTICATION_FAILED}
        assert [e.delay_ms for e in events if isinstance(e, Reconnecting)] == [10, 20]
        assert relay.connections == 3
        with pytest.raises(ConnectionClosedError):
            await conn.wait_connected()
        assert conn.state is ConnectionState.CLOSED


async def test_events_go_to_a_callback_when_one_is_given() -> None:
    seen: list[object] = []
    arrived = asyncio.Event()

    def on_event(event: object) -> None:
        seen.append(event)
        if isinstance(event, PingReceived):
            arrived.set()
        raise RuntimeError("a failing callback must not stop the supervisor")

    async def failing_hook(connected: Connected) -> None:
        raise RuntimeError("a failing hook must not drop the connection")

    settings = ConnectionSettings(ping_interval=0.05)
    async with (
        relay_subprocess() as relay,
        Connection(
            url_of(relay),
            new_identity(),
            on_event=on_event,
            on_connected=failing_hook,
            settings=settings,
        ),
    ):
        await asyncio.wait_for(arrived.wait(), 10)
    assert isinstance(seen[0], Connected)
    assert not any(isinstance(e, Disconnected) for e in seen[:-1])  # up until closed
    assert isinstance(seen[-1], Disconnected)
    assert seen[-1].reason is DisconnectReason.CLOSED


async def test_handshake_failures_are_reported_and_non_fatal_errors_delivered() -> None:
    stranger = new_identity()

    async def script(ws: ServerConnection, n: int) -> None:
        if n == 1:
            await ws.send(encode_frame(Challenge(bytes(32), "scripted", wall_ms())))  # then silence
        elif n == 2:
            await ws.send(encode_frame(HelloAck(stranger.address, "scripted", 0, 0)))
        elif n == 3:
            await ws.send(encode_frame(Challenge(bytes(32), "scripted", wall_ms())))
            await recv_payload(ws)
            await ws.send(encode_frame(HelloAck(stranger.address, "scripted", 0, 0)))
        else:
            await accept_hello(ws)
            await ws.send(encode_frame(Error(int(ErrorCode.RATE_LIMITED), "slow down", 0x10, b"")))
            await ws.send(encode_frame(Error(int(ErrorCode.SHUTTING_DOWN), "bye", 0, b"")))
        await ws.wait_closed()

    # The first attempt must time out; the others must not, even on a loaded machine where a
    # 0.2 s handshake timeout could fire before a scripted HelloAck arrived.
    settings = ConnectionSettings(
        handshake_timeout=1.5, backoff_initial=0.01, backoff_maximum=0.02, close_timeout=0.5
    )
    async with (
        ScriptedRelay(script) as relay,
        Connection(relay.url, new_identity(), settings=settings) as conn,
    ):
        dropped, events = await expect_event(conn, Disconnected)
        failures = [(e.reason, e.detail) for e in events if isinstance(e, AttemptFailed)]
        assert failures == [
            (
                DisconnectReason.HANDSHAKE_TIMEOUT,
                "the relay did not complete the handshake in time",
            ),
            (DisconnectReason.PROTOCOL_ERROR, "expected a Challenge, got HelloAck"),
            (DisconnectReason.PROTOCOL_ERROR, "HelloAck names another address"),
        ]
        delivered = [e.payload for e in events if isinstance(e, MessageReceived)]
        assert delivered == [Error(ErrorCode.RATE_LIMITED, "slow down", 0x10, b"")]
        assert (dropped.reason, dropped.error_code) == (
            DisconnectReason.RELAY_ERROR,
            ErrorCode.SHUTTING_DOWN,
        )
        assert dropped.detail == "relay error SHUTTING_DOWN: bye"


async def test_an_internal_failure_is_reported_and_survived() -> None:
    calls = 0

    def flaky_clock() -> float:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("a bug in the clock")
        return float(calls)

    async def script(ws: ServerConnection, n: int) -> None:
        await accept_hello(ws)
        await ws.wait_closed()

    settings = ConnectionSettings(ping_interval=0.01, backoff_initial=0.01, backoff_maximum=0.02)
    async with (
        ScriptedRelay(script) as relay,
        Connection(relay.url, new_identity(), clock=flaky_clock, settings=settings) as conn,
    ):
        dropped, _ = await expect_event(conn, Disconnected)
        assert dropped == Disconnected(
            DisconnectReason.INTERNAL_ERROR, "unexpected RuntimeError", None, True
        )
        back, _ = await expect_event(conn, Connected)
        assert back.generation == 2
        with pytest.raises(ValueError, match="over"):
            await conn.send_frame(bytes(HEADER_SIZE + MAX_PAYLOAD_BYTES + 1))


async def test_a_full_relay_refuses_at_the_upgrade_and_a_stopping_one_says_so() -> None:
    async with relay_subprocess(0, "--max-connections", "1") as relay:
        first = Connection(url_of(relay), new_identity(), settings=FAST)
        second = Connection(url_of(relay), new_identity(), settings=FAST)
        async with first, second:
            await asyncio.wait_for(first.wait_connected(), 10)
            refused, _ = await expect_event(second, AttemptFailed)
            assert refused.reason is DisconnectReason.REFUSED
            assert refused.detail == "upgrade refused with HTTP 503"
            await stop_relay(relay, signal.SIGTERM)  # graceful: Error(SHUTTING_DOWN), close
            stopped, _ = await expect_event(first, Disconnected)
            assert stopped.reason is DisconnectReason.RELAY_ERROR
            assert stopped.error_code == ErrorCode.SHUTTING_DOWN
            assert stopped.will_reconnect


async def test_close_acknowledges_what_was_read_so_the_relay_does_not_deliver_it_again() -> None:
    # A Received may wait 100 ms; a client closing sooner used to leave the frames it had read
    # unacknowledged, and the relay delivered them again to its next connection (a call it had
    # just declined rang again there: tests/integration/test_cli_session.py was flaky).
    session_id = secrets.token_bytes(16)
    alice_id, bob_id = new_identity(), new_identity()
    key = Ed25519KeyPair.generate(secrets.token_bytes)
    async with (
        relay_subprocess() as relay,
        Connection(url_of(relay), alice_id, settings=FAST) as alice,
    ):
        bob = Connection(url_of(relay), bob_id, settings=FAST)
        await asyncio.wait_for(alice.wait_connected(), 10)
        await asyncio.wait_for(bob.wait_connected(), 10)
        await alice.send(signed_join(alice, alice_id, session_id, key))
        await expect_event(alice, MessageReceived)  # Joined
        await bob.send(signed_join(bob, bob_id, session_id, key))
        await expect_event(bob, MessageReceived)  # Joined
        first = Message(session_id, alice_id.address, bob_id.address, bytes(16), 1, b"one")
        await alice.send(first)
        received, _ = await expect_event(bob, MessageReceived)
        assert received.payload == first
        await bob.close()  # at once: well within the 100 ms a Received may wait
        again = Connection(url_of(relay), bob_id, settings=FAST)
        try:
            await asyncio.wait_for(again.wait_connected(), 10)
            await again.send(signed_join(again, bob_id, session_id, key))
            second = Message(session_id, alice_id.address, bob_id.address, b"\x02" * 16, 2, b"two")
            await alice.send(second)
            while True:
                event, _ = await expect_event(again, MessageReceived)
                if isinstance(event.payload, Message):
                    break
            assert event.payload == second  # not the first one again
        finally:
            await again.close()
