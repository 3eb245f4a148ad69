"""Subprocesses of the benchmark: the server under test and the load generator.

Each server (the relay, ``python -m quicko relay …``, the bare forwarder,
``python -m quicko.bench.bare``, or a baseline of :mod:`quicko.bench.baselines`) is started
on 127.0.0.1 port 0; its port is read from the first JSON line it writes to standard error
(``{"event": "listening", "port": …}``, or a NATS server's "Listening for websocket clients"
line), and its standard error is drained for the rest of its life so that it never blocks on a
full pipe.
Both kinds of child are stopped when their context ends, on error, on cancellation (Ctrl+C,
SIGTERM) and, on Linux, when the benchmark itself dies (``PR_SET_PDEATHSIG``).

The server and the load generator can be pinned to one CPU each (every thread: the affinity
is set in the child before exec), so that on a two-core machine they do not compete for a core.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import re
import signal
import sys
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Final

from quicko.bench.client import BenchError

__all__ = ["LISTENING_TIMEOUT_S", "ServerProcess", "bare_argv", "relay_argv", "run_load"]

LISTENING_TIMEOUT_S: Final = 30.0
"""How long a server may take to print its listening line."""

_STOP_TIMEOUT_S: Final = 5.0
_TAIL_LINES: Final = 20
_SHOWN_LINES: Final = 3
_SHOWN_CHARS: Final = 400
_MAX_LINE_BYTES: Final = 1 << 16
_PR_SET_PDEATHSIG: Final = 1
_HIGH: Final = str(1_000_000_000)
_NATS_LISTENING: Final = re.compile(r"Listening for websocket clients on ws://[^\s]*:(\d{1,5})$")


def relay_argv(max_connections: int, extra: Sequence[str] = ()) -> list[str]:
    """The relay's command line, with every limit that would throttle the load lifted."""
    return [
        sys.executable, "-m", "quicko", "relay",
        "--host", "127.0.0.1", "--port", "0",
        "--rate", _HIGH, "--burst", _HIGH,
        "--max-connections-per-ip", _HIGH, "--connect-rate", _HIGH,
        "--max-sessions-per-source", _HIGH,
        "--max-connections", str(max_connections),
        "--handshake-timeout", "60", "--idle-timeout", "600",
        *extra,
    ]  # fmt: skip


def bare_argv(extra: Sequence[str] = ()) -> list[str]:
    """The bare forwarder's command line."""
    return [
        sys.executable, "-m", "quicko.bench.bare", "--host", "127.0.0.1", "--port", "0", *extra
    ]  # fmt: skip


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _child_setup(cpu: int | None) -> Callable[[], None]:
    """What a child runs before exec: die with the parent, and run on *cpu* only.

    Pinning before exec (rather than the child's pid after it started) binds every thread the
    program will start to the CPU: a Go or Node.js server starts its threads early.
    """

    def setup() -> None:  # pragma: no cover - runs in the child between fork and exec
        _die_with_parent()
        if cpu is not None:
            with contextlib.suppress(OSError, AttributeError):
                os.sched_setaffinity(0, {cpu})

    return setup


async def _stop(process: asyncio.subprocess.Process) -> None:
    """Terminate *process*, then kill it if it does not exit in time, and reap it."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            await asyncio.wait_for(process.wait(), _STOP_TIMEOUT_S)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()


class ServerProcess:
    """A server under test, run as ``async with ServerProcess(argv) as server``."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        cpu: int | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        """Prepare (not start) the server *name* with command line *argv*, pinned to *cpu*.

        *env* adds to (or overrides) the benchmark's own environment for the child.
        """
        self.name = name
        self.argv = list(argv)
        self.cpu = cpu
        self.env = {**os.environ, **env} if env else None
        self.port = 0
        self.tail: deque[str] = deque(maxlen=_TAIL_LINES)
        self._process: asyncio.subprocess.Process | None = None
        self._drain: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int:
        """The server's process id."""
        if self._process is None:
            raise BenchError(f"{self.name} is not running")
        return self._process.pid

    async def __aenter__(self) -> ServerProcess:
        self._process = await asyncio.create_subprocess_exec(
            *self.argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            limit=_MAX_LINE_BYTES,
            env=self.env,
            preexec_fn=_child_setup(self.cpu),  # only prctl and affinity, before exec
        )
        try:
            self.port = await asyncio.wait_for(self._read_port(), LISTENING_TIMEOUT_S)
        except BaseException as exc:
            await self.stop()
            if isinstance(exc, TimeoutError):
                raise BenchError(
                    f"{self.name} did not start listening: {self.tail_text()}"
                ) from exc
            raise
        self._drain = asyncio.create_task(self._drain_stderr())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    async def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after a grace period) and its stderr drain."""
        if self._process is not None:
            await _stop(self._process)
        if self._drain is not None:
            self._drain.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._drain
            self._drain = None

    def tail_text(self) -> str:
        """The last lines the server wrote to standard error (shortened), for error messages."""
        text = " | ".join(list(self.tail)[-_SHOWN_LINES:]) or "(no output)"
        return text if len(text) <= _SHOWN_CHARS else "…" + text[-_SHOWN_CHARS:]

    async def _read_port(self) -> int:
        stderr = self._stderr()
        while line := await stderr.readline():
            text = line.decode("utf-8", "replace").strip()
            self.tail.append(text)
            port = _listening_port(text)
            if port is not None:
                return port
        raise BenchError(f"{self.name} exited before listening: {self.tail_text()}")

    async def _drain_stderr(self) -> None:
        stderr = self._stderr()
        with contextlib.suppress(ValueError, ConnectionError):
            while line := await stderr.readline():
                self.tail.append(line.decode("utf-8", "replace").strip())

    def _stderr(self) -> asyncio.StreamReader:
        if self._process is None or self._process.stderr is None:
            raise BenchError(f"{self.name} has no standard error pipe")
        return self._process.stderr


def _listening_port(line: str) -> int | None:
    """The port of a ``{"event": "listening", "port": …}`` line, else ``None``.

    A NATS server's ``Listening for websocket clients on ws://127.0.0.1:<port>`` line counts
    too (its WebSocket port is what the load connects to).
    """
    found = _NATS_LISTENING.search(line)
    if found is not None:
        number = int(found.group(1))
        return number if 0 < number < 65536 else None
    if not line.startswith("{"):
        return None
    try:
        event = json.loads(line)
    except ValueError:
        return None
    if not isinstance(event, dict) or event.get("event") != "listening":
        return None
    port = event.get("port")
    return port if isinstance(port, int) and 0 < port < 65536 else None


async def run_load(
    args: Sequence[str], *, timeout: float, cpu: int | None = None
) -> dict[str, object]:
    """Run ``python -m quicko.bench.load *args*`` and return the JSON object it prints.

    Raises:
        BenchError: the load generator failed, printed no result, or ran out of time.
    """
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "quicko.bench.load", *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        preexec_fn=_child_setup(cpu),  # only prctl and affinity, before exec
    )  # fmt: skip
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError as exc:
        raise BenchError(f"load {args[0]} did not finish within {timeout:.0f} s") from exc
    finally:
        await _stop(process)
    if process.returncode != 0:
        message = err.decode("utf-8", "replace").strip().splitlines()
        raise BenchError(message[-1] if message else f"load exited with {process.returncode}")
    lines = out.decode("utf-8", "replace").strip().splitlines()
    try:
        result = json.loads(lines[-1])
    except (IndexError, ValueError) as exc:
        raise BenchError("load printed no result") from exc
    if not isinstance(result, dict):
        raise BenchError("load printed no result object")
    return result
