"""Helpers of the adversarial tests: relay processes, their memory and their counts."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import AsyncIterator, Sequence
from typing import Any

from relay_support import (
    MAX_MESSAGE_BYTES,
    OPEN_CLIENTS,
    RECV_TIMEOUT_S,
    RelayClient,
    RelayProcess,
    http_get,
    spawn_relay,
)
from websockets.asyncio.client import connect

from quicko.identity import Identity
from quicko.protocol import Challenge, HelloAck, decode_frame

__all__ = ["connect_from", "health", "relay_process", "rss_bytes"]


async def connect_from(source: str, port: int) -> RelayClient:
    """An authenticated client of the relay on 127.0.0.1:``port``, from address ``source``.

    Every 127.x.y.z address reaches the loopback interface on Linux, so tests can play
    several source addresses.
    """
    ws = await connect(
        f"ws://127.0.0.1:{port}/ws",
        max_size=MAX_MESSAGE_BYTES,
        max_queue=None,
        ping_interval=None,
        open_timeout=RECV_TIMEOUT_S,
        local_addr=(source, 0),
    )
    OPEN_CLIENTS.append(ws)
    challenge = decode_frame(await asyncio.wait_for(ws.recv(decode=False), RECV_TIMEOUT_S))
    assert isinstance(challenge, Challenge)
    client = RelayClient(ws, Identity.generate(secrets.token_bytes), challenge)
    client.url = f"ws://127.0.0.1:{port}"
    await client.send(client.hello())
    client.hello_ack = await client.expect(HelloAck)
    return client


def rss_bytes(pid: int) -> int:
    """The resident set size of process ``pid`` (``VmRSS`` of ``/proc/<pid>/status``)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS line")


async def health(port: int) -> dict[str, Any]:
    """The relay's ``/health`` document (counts, and records such as ``gc``)."""
    status, _, body = await http_get(port, "/health")
    assert status == 200
    document = json.loads(body)
    assert isinstance(document, dict)
    return document


@contextlib.asynccontextmanager
async def relay_process(args: Sequence[str]) -> AsyncIterator[RelayProcess]:
    """A relay subprocess on 127.0.0.1 with ``args``, stopped (SIGTERM, then SIGKILL) after."""
    relay = await spawn_relay(args)
    try:
        yield relay
    finally:
        if relay.process.returncode is None:
            relay.process.terminate()
            try:
                await asyncio.wait_for(relay.process.wait(), 10)
            except TimeoutError:
                relay.process.kill()
                await relay.process.wait()
