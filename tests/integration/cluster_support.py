"""Helpers of the cluster integration tests: a restartable redis-server, node mirrors, waits.

- :class:`RedisProcess`: a private ``redis-server`` on a fixed free loopback port, persistence
  off, that a test can SIGKILL and start again *empty* on the same port (a Redis restart).
- :func:`until`, :func:`mirror`, :func:`replicated`, :func:`texts`: waits on a node's mirror
  or a watcher's events, each with a bound (never a bare sleep).
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from quicko.client import MessageReceived
from quicko.relay.cluster import ClusterState
from quicko.relay.server import RelayServer


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (free now: the caller binds it at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class RedisProcess:
    """A ``redis-server`` of one test: persistence off, its own directory and port."""

    def __init__(self, binary: str, workdir: Path) -> None:
        """Prepare (nothing runs until :meth:`start`)."""
        self.binary = binary
        self.workdir = workdir
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The ``redis://`` URL of this server."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start it (empty) and wait until it answers PING."""
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir), "--protected-mode", "yes",
             "--loglevel", "warning"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while not self._answers():
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.kill()
                raise RuntimeError("redis-server did not start")
            time.sleep(0.02)

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        """SIGKILL it: everything it held is gone (persistence is off)."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def restart(self) -> None:
        """Kill it and start an empty one on the same port."""
        self.kill()
        self.start()

    def close(self) -> None:
        """Stop it and remove its directory."""
        self.kill()
        shutil.rmtree(self.workdir, ignore_errors=True)


async def until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait until ``check()`` holds (polling the event loop), or fail."""
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.01)


def mirror(node: RelayServer) -> ClusterState:
    """A node's cluster mirror."""
    assert node._cluster is not None
    return node._cluster.state


async def replicated(node: RelayServer, invite_code: str) -> None:
    """Wait until *node*'s mirror knows the invite code's nameplate (one publish away).

    A code typed by a person arrives seconds after it was claimed; a test types at once.
    """
    await until(lambda: mirror(node).sessions.by_nameplate(invite_code[:4]) is not None)


def texts(events: list[Any]) -> set[str]:
    """The texts of the MessageReceived events among *events*."""
    return {e.message.text for e in events if isinstance(e, MessageReceived)}


#: HAProxy in front of the nodes: the configuration docs/cluster.md shows, on loopback, with
#: quick health checks (a node that stops answering /health with Redis connected is out).
HAPROXY_CONFIG = """\
global
    maxconn 1000
defaults
    mode http
    timeout connect 1s
    timeout client 120s
    timeout server 120s
    timeout tunnel 1h
    option redispatch
    retries 3
frontend quicko
    bind 127.0.0.1:{port}
    default_backend relays
backend relays
    balance roundrobin
    option httpchk
    http-check send meth GET uri /health ver HTTP/1.1 hdr Host localhost
    http-check expect string "\\"redis\\": \\"connected\\""
{servers}
"""


class HAProxy:
    """A real HAProxy (Debian's package) on a free loopback port in front of relay nodes."""

    def __init__(self, binary: str, workdir: Path) -> None:
        """Choose its port (the nodes' public URL); nothing runs until :meth:`start`."""
        self.binary = binary
        self.port = free_port()
        self.config = workdir / "haproxy.cfg"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The relay URL clients dial (every node's ``--public-url``)."""
        return f"ws://127.0.0.1:{self.port}/ws"

    def start(self, backends: list[int]) -> None:
        """Start it in the foreground (``-db``) in front of the nodes listening on *backends*."""
        servers = "\n".join(
            f"    server n{i} 127.0.0.1:{port} check inter 200ms fall 1 rise 1"
            for i, port in enumerate(backends)
        )
        self.config.write_text(HAPROXY_CONFIG.format(port=self.port, servers=servers))
        self.process = subprocess.Popen(
            [self.binary, "-db", "-f", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.close()
                    raise RuntimeError("haproxy did not start") from None
                time.sleep(0.02)

    def close(self) -> None:
        """Stop it."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None
