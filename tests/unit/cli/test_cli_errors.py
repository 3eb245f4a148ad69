"""Bad arguments and unreachable relays: one clear line on standard error, never a traceback.

The commands run as subprocesses, as a person runs them; each failure must come as one line
that names the problem and the fix, with a non-zero status.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import socket
import subprocess
import sys

import pytest

from quicko.cli._reach import refused_problem, resolve_problem
from quicko.cli._relay_url import check_relay_url, relay_host_port, unresolved
from quicko.cli.relay import bind_hint
from quicko.errors import InputError

#: A name that never resolves (RFC 2606 reserves the .invalid top-level domain).
NO_SUCH_HOST = "no-such-host.invalid"


def quicko(*args: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    """Run ``quicko ARGS`` with nothing on standard input (bounded)."""
    return subprocess.run(
        [sys.executable, "-m", "quicko", *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )


def closed_port() -> int:
    """A loopback port nothing listens on (bound then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def one_line(done: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


# ---------------------------------------------------------------- --relay


@pytest.mark.parametrize(
    ("text", "url"),
    [
        ("ws://127.0.0.1:9900", "ws://127.0.0.1:9900"),
        ("  wss://relay.example/ws ", "wss://relay.example/ws"),
        ("WS://Relay.Example:80", "WS://Relay.Example:80"),
        ("localhost:9900", "ws://localhost:9900"),
        ("127.0.0.1:9900", "ws://127.0.0.1:9900"),
        ("[::1]:9900", "ws://[::1]:9900"),
    ],
)
def test_relay_urls_and_host_port_are_accepted(text: str, url: str) -> None:
    assert check_relay_url(text) == url


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("http://127.0.0.1:9900", "a relay speaks WebSocket, not HTTP: use ws://127.0.0.1:9900"),
        ("https://relay.example/ws", "use wss://relay.example/ws"),
        ("localhost", "is not a relay URL: give ws://HOST:PORT"),
        ("ftp://relay.example", "a relay URL starts with ws:// or wss://"),
        ("ws://", "names no host"),
        ("ws://relay.example:99999", "the port must be a number from 1 to 65535"),
        ("localhost:0", "the port must be a number from 1 to 65535"),
        ("ws://[::1", "is not a valid URL"),
    ],
)
def test_bad_relay_urls_say_what_to_type(text: str, problem: str) -> None:
    with pytest.raises(InputError, match=problem.replace("?", r"\?").replace(".", r"\.")):
        check_relay_url(text)


def test_host_and_port_default_to_the_scheme() -> None:
    assert relay_host_port("ws://relay.example") == ("relay.example", 80)
    assert relay_host_port("wss://relay.example/ws") == ("relay.example", 443)
    assert relay_host_port("ws://[::1]:9900") == ("::1", 9900)


def test_an_unresolvable_host_is_named() -> None:
    assert unresolved(f"ws://{NO_SUCH_HOST}:9900") == (
        f"cannot resolve relay host '{NO_SUCH_HOST}': check the host name in --relay"
    )
    assert unresolved("ws://127.0.0.1:9") is None
    assert asyncio.run(resolve_problem(NO_SUCH_HOST, 9900)) is not None
    assert asyncio.run(resolve_problem("127.0.0.1", 9)) is None


def test_a_refused_port_is_told_apart_from_a_listening_one() -> None:
    port = closed_port()
    problem = asyncio.run(refused_problem("127.0.0.1", port))
    assert problem is not None and f"127.0.0.1 port {port} (connection refused)" in problem
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        assert asyncio.run(refused_problem("127.0.0.1", listening.getsockname()[1])) is None


@pytest.mark.parametrize("relay", ["http://127.0.0.1:9900", "localhost", "ws://h:0"])
def test_session_with_a_bad_relay_is_one_line(relay: str) -> None:
    done = quicko("session", "create", "--relay", relay)
    assert done.returncode == 2
    assert one_line(done).startswith(f"quicko session: --relay '{relay}'")


def test_session_with_no_relay_running_fails_at_once_not_after_the_timeout() -> None:
    port = closed_port()
    # A connect timeout longer than the subprocess's bound: only the refusal can end it in time.
    done = quicko("session", "create", "--relay", f"localhost:{port}", "--connect-timeout", "600")
    assert done.returncode == 1
    line = one_line(done)
    assert f"port {port} (connection refused)" in line and "quicko relay" in line


def test_session_with_an_unresolvable_host_says_so() -> None:
    done = quicko("session", "join", "KBQW-E3TV", "--relay", f"ws://{NO_SUCH_HOST}:9900")
    assert done.returncode == 1
    assert one_line(done) == (
        f"quicko session: cannot resolve relay host '{NO_SUCH_HOST}': "
        "check the host name in --relay"
    )


@pytest.mark.parametrize("value", ["0", "-1", "nan", "soon"])
def test_a_bad_connect_timeout_is_a_usage_error(value: str) -> None:
    done = quicko("session", "create", "--connect-timeout", value)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "argument --connect-timeout" in done.stderr.splitlines()[-1]


def test_chat_with_a_bad_relay_is_one_line() -> None:
    done = quicko("chat", "--relay", "http://127.0.0.1:9900")
    assert done.returncode == 2
    assert one_line(done) == (
        "quicko chat: --relay 'http://127.0.0.1:9900': a relay speaks WebSocket, not HTTP: "
        "use ws://127.0.0.1:9900"
    )


# ---------------------------------------------------------------- quicko relay


def test_bind_hints_name_the_port_and_the_fix() -> None:
    taken = bind_hint("127.0.0.1", 9900, errno.EADDRINUSE)
    assert "port 9900 on 127.0.0.1 is already in use" in taken and "--port N" in taken
    assert "above 1023" in bind_hint("0.0.0.0", 80, errno.EACCES)
    assert "not an address of this machine" in bind_hint("10.9.9.9", 9900, errno.EADDRNOTAVAIL)
    assert "check --host and --port" in bind_hint("127.0.0.1", 9900, None)


def test_relay_on_a_taken_port_logs_one_line_with_the_fix() -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        done = quicko("relay", "--host", "127.0.0.1", "--port", str(port))
    assert done.returncode == 1
    record = json.loads(one_line(done))
    assert record["event"] == "bind_failed" and record["port"] == port
    assert record["hint"].startswith(f"port {port} on 127.0.0.1 is already in use")
