"""The relay's I/O shell: HTTP endpoints, limits at the upgrade, frame size, slow readers, TLS."""

from __future__ import annotations

import asyncio
import json
import secrets
import ssl
import time
from pathlib import Path

import pytest
from relay_support import (
    RelayClient,
    StartRelay,
    http_get,
    join_key,
    relay_url,
    write_self_signed,
)
from websockets.exceptions import InvalidStatus

from quicko.protocol import (
    Ack,
    Error,
    ErrorCode,
    Joined,
    LeaveReason,
    Message,
    PeerJoined,
    PeerLeft,
    Ping,
    Pong,
    tls_channel_binding,
)
from quicko.relay.admission import TCP_SLACK
from quicko.relay.server import RelayServer
from quicko.relay.settings import certificate_der, make_ssl_context

pytestmark = pytest.mark.integration


async def test_health_is_json_with_counts(relay: RelayServer) -> None:
    await RelayClient.connect(relay_url(relay))
    status, headers, body = await http_get(relay.port, "/health")
    assert (status, headers["content-type"]) == (200, "application/json")
    health = json.loads(body)
    assert health["status"] == "ok"
    assert health["node_id"] == "test"
    assert health["connections"] == 1
    assert health["sessions"] == 0
    assert isinstance(health["uptime_s"], int)


async def test_metrics_are_prometheus_text_without_identifiers(relay: RelayServer) -> None:
    client = await RelayClient.connect(relay_url(relay))
    await client.send(Ping(1))
    await client.expect(Pong)
    status, headers, body = await http_get(relay.port, "/metrics")
    assert status == 200
    assert headers["content-type"].startswith("text/plain; version=0.0.4")
    text = body.decode()
    assert 'quicko_relay_frames_in_total{type="ping"} 1.0' in text
    assert 'quicko_relay_frames_out_total{type="pong"} 1.0' in text
    assert "quicko_relay_open_connections 1.0" in text
    assert "# TYPE quicko_relay_sessions gauge" in text
    assert client.address.hex() not in text
    assert client.address[:2].hex() not in text.replace("0x", "")


async def test_unknown_path_is_404_and_query_is_ignored(relay: RelayServer) -> None:
    assert (await http_get(relay.port, "/nope"))[0] == 404
    assert (await http_get(relay.port, "/health?verbose=1"))[0] == 200


async def test_websocket_at_root_path_too(relay: RelayServer) -> None:
    client = await RelayClient.connect(relay_url(relay, "/"))
    assert client.hello_ack is not None


async def test_connection_cap_refuses_with_503(start_relay: StartRelay) -> None:
    relay = await start_relay(max_connections=2)
    clients = [await RelayClient.connect(relay_url(relay)) for _ in range(2)]
    with pytest.raises(InvalidStatus) as refused:
        await RelayClient.connect(relay_url(relay))
    assert refused.value.response.status_code == 503
    assert (await http_get(relay.port, "/health"))[0] == 200  # health still answers when full
    await clients[0].close()
    await clients[0].wait_closed()
    assert (await RelayClient.connect(relay_url(relay))).hello_ack is not None
    assert relay.io.refused_full == 1


async def test_per_address_cap_refuses_with_429(start_relay: StartRelay) -> None:
    relay = await start_relay(max_connections_per_ip=1)
    await RelayClient.connect(relay_url(relay))
    with pytest.raises(InvalidStatus) as refused:
        await RelayClient.connect(relay_url(relay))
    assert refused.value.response.status_code == 429
    assert relay.io.refused_per_ip == 1


async def test_silent_tcp_connections_are_capped_per_address(start_relay: StartRelay) -> None:
    # Sockets that never send an upgrade cost a file descriptor each until the handshake
    # timeout: past the per-address cap (plus TCP_SLACK) the relay drops them on accept.
    relay = await start_relay(max_connections_per_ip=1)
    allowed = 1 + TCP_SLACK
    silent = [await asyncio.open_connection("127.0.0.1", relay.port) for _ in range(allowed + 3)]
    # A dropped socket reads end-of-file at once; a counted one stays open.
    dropped = 0
    for reader, _ in silent[allowed:]:
        assert await asyncio.wait_for(reader.read(1), timeout=10) == b""
        dropped += 1
    assert dropped == 3
    assert (relay.io.refused_tcp, relay.io.tcp_open) == (3, allowed)
    for _, writer in silent:
        writer.close()
    async with asyncio.timeout(10):
        while relay.io.tcp_open:  # connection_lost runs on the relay's loop, which is ours
            await asyncio.sleep(0)
    assert (await RelayClient.connect(relay_url(relay))).hello_ack is not None
    metrics = (await http_get(relay.port, "/metrics"))[2].decode()
    assert "quicko_relay_refused_tcp_total 3.0" in metrics


async def test_connect_rate_refuses_with_429(start_relay: StartRelay) -> None:
    relay = await start_relay(connect_rate=1.0)
    first = await RelayClient.connect(relay_url(relay))
    await first.close()
    with pytest.raises(InvalidStatus) as refused:
        await RelayClient.connect(relay_url(relay))
    assert refused.value.response.status_code == 429
    assert relay.io.refused_rate == 1


async def test_oversized_message_closes_1009_and_relay_serves_others(
    start_relay: StartRelay,
) -> None:
    relay = await start_relay(max_payload=1024)
    big = await RelayClient.connect(relay_url(relay))
    other = await RelayClient.connect(relay_url(relay))
    await big.send_raw(b"\x04\x20" + (2000).to_bytes(4, "big") + bytes(2000))
    assert await big.wait_closed() == 1009
    await other.send(Ping(5))
    assert (await other.expect(Pong)).nonce == 5


async def test_fragmented_message_is_reassembled(relay: RelayServer) -> None:
    client = await RelayClient.connect(relay_url(relay))
    frame = b"\x04\x20\x00\x00\x00\x02\x91\x07"  # Ping(7)
    await client.ws.send(iter([frame[:3], frame[3:]]))
    assert (await client.expect(Pong)).nonce == 7


async def test_fragmented_message_over_the_limit_closes_1009(start_relay: StartRelay) -> None:
    relay = await start_relay(max_payload=1024)
    client = await RelayClient.connect(relay_url(relay))
    await client.ws.send(iter([bytes(800), bytes(800)]))
    assert await client.wait_closed() == 1009
    assert relay.io.oversized == 1


async def test_text_frame_gets_error_and_close_1003(relay: RelayServer) -> None:
    client = await RelayClient.connect(relay_url(relay))
    await client.send_raw("hello")
    assert (await client.expect(Error)).code == ErrorCode.TEXT_FRAME
    assert await client.wait_closed() == 1003


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"\x04\x20\x00\x00\x00\x01\xc1", ErrorCode.MALFORMED),  # 0xc1 is never valid msgpack
        (b"\x04\x20\x00\x00", ErrorCode.MALFORMED),  # shorter than a header
        (b"\x04\x7e\x00\x00\x00\x01\x90", ErrorCode.UNKNOWN_TYPE),
        (b"\x01\x20\x00\x00\x00\x01\x07", ErrorCode.UNSUPPORTED_VERSION),
    ],
)
async def test_bad_frames_get_errors_and_the_relay_keeps_serving(
    relay: RelayServer, data: bytes, code: ErrorCode
) -> None:
    bad = await RelayClient.connect(relay_url(relay))
    good = await RelayClient.connect(relay_url(relay))
    await bad.send_raw(data)
    assert (await bad.expect(Error)).code == code
    for client in (bad, good):
        await client.send(Ping(9))
        assert (await client.expect(Pong)).nonce == 9


async def test_a_reader_past_the_hard_cap_is_dropped_while_others_keep_receiving(
    start_relay: StartRelay,
) -> None:
    # A hard cap below the soft one: dropped as soon as its writes block (the soft cap's
    # holding in the away buffer is tested in test_relay_delivery.py).
    relay = await start_relay(
        send_queue_bytes=512 * 1024, send_queue_hard_bytes=1, rate=1e6, burst=1_000_000
    )
    url = relay_url(relay)
    alice, bob, carol = [await RelayClient.connect(url) for _ in range(3)]
    session, key = secrets.token_bytes(16), join_key()
    for client in (alice, bob, carol):
        await client.send(client.join(session, key))
        await client.expect(Joined)
    for _ in range(2):
        await alice.expect(PeerJoined)
    await bob.expect(PeerJoined)
    bob.ws.transport.pause_reading()  # bob stops reading: the kernel buffers, then the relay's
    body, sent = bytes(16 * 1024), 0
    deadline = time.monotonic() + 20
    while relay.io.slow_disconnects == 0 and sent < 5000 and time.monotonic() < deadline:
        await alice.send(Message(session, alice.address, b"", secrets.token_bytes(16), 0, body))
        sent += 1
        while not isinstance(await alice.recv(), Ack):  # the relay has handed it on
            pass  # (an Error(BUFFER_FULL) comes first once bob's away buffer is full)
    assert relay.io.slow_disconnects == 1
    received = 0
    while received < sent:  # carol got every message, in spite of bob
        received += isinstance(await carol.recv(), Message)
    assert await carol.expect(PeerLeft) == PeerLeft(session, bob.address, LeaveReason.DISCONNECTED)
    await carol.send(Ping(1))
    assert isinstance(await carol.recv(), Pong)
    bob.ws.transport.resume_reading()
    assert await bob.wait_closed(timeout=10) in {1006, 1008}


async def test_shutdown_tells_clients(relay: RelayServer) -> None:
    client = await RelayClient.connect(relay_url(relay))
    await relay.shutdown(grace_s=2)
    error = await client.expect(Error)
    assert error.code == ErrorCode.SHUTTING_DOWN
    assert await client.wait_closed() == 1001
    assert relay.connections == 0


async def test_tls(start_relay: StartRelay, tmp_path: Path) -> None:
    cert, key = write_self_signed(tmp_path)
    binding = tls_channel_binding(certificate_der(str(cert)))  # what the Hello signs
    relay = await start_relay(
        ssl_context=make_ssl_context(str(cert), str(key)), channel_binding=binding
    )
    client_context = ssl.create_default_context(cafile=str(cert))
    client = await RelayClient.connect(relay_url(relay), ssl_context=client_context)
    assert relay_url(relay).startswith("wss://")
    await client.send(Ping(3))
    assert (await client.expect(Pong)).nonce == 3
