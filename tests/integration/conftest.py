"""Fixtures of the integration tests: real relays on 127.0.0.1 (helpers: ``relay_support``).

- ``start_relay(**settings)``: start a :class:`RelayServer` in this process on a free loopback
  port (``RelayConfig`` fields as keywords, and ``router=`` / ``ssl_context=``); every relay it
  started is shut down after the test. ``relay``: one started with the default settings.
- Clients and subprocess relays: see ``relay_support.py`` (``RelayClient``, ``spawn_relay``).

Tests here run on uvloop, the relay's production event loop.
"""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import uvloop
from relay_support import StartRelay, drop_open_clients

from quicko.relay.config import RelayConfig
from quicko.relay.server import RelayServer, RouterLike


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> dict[str, Any]:
    """Run the integration tests on uvloop, the relay's production event loop."""
    return {"uvloop": uvloop.new_event_loop}


@pytest.fixture
async def start_relay() -> AsyncIterator[StartRelay]:
    """A factory that starts in-process relays on 127.0.0.1:0 and stops them after the test."""
    servers: list[RelayServer] = []

    async def start(
        *,
        router: RouterLike | None = None,
        ssl_context: ssl.SSLContext | None = None,
        **settings: Any,
    ) -> RelayServer:
        config = RelayConfig(**{"host": "127.0.0.1", "port": 0, "node_id": "test", **settings})
        server = RelayServer(config, router=router, ssl_context=ssl_context)
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.shutdown(grace_s=1.0)
    drop_open_clients()


@pytest.fixture
async def relay(start_relay: StartRelay) -> RelayServer:
    """One in-process relay with the default settings, on 127.0.0.1 and a free port."""
    return await start_relay()


@pytest.fixture
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private redis-server on a free loopback port, persistence off; its URL.

    Skipped (with the reason) only when no ``redis-server`` is installed: ``./test.sh``
    installs it (scripts/system-deps.sh --tests).
    """
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (scripts/system-deps.sh --tests installs it)")
    workdir = tmp_path_factory.mktemp("redis")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(workdir), "--protected-mode", "yes", "--loglevel", "warning"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as conn:
                conn.sendall(b"PING\r\n")
                if conn.recv(16).startswith(b"+PONG"):
                    break
        except OSError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            pytest.fail("redis-server did not start")
        time.sleep(0.02)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.kill()
        process.wait()
        shutil.rmtree(workdir, ignore_errors=True)
