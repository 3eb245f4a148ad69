"""Optional baseline servers of ``quicko bench relay --baseline nats,node``.

Each baseline is found and prepared once, before the run; a missing tool gives a one-line
reason to skip it, never an exception:

- ``nats``: Debian's ``nats-server`` (``apt-get install nats-server``, or
  ``scripts/system-deps.sh --bench``), looked up on ``PATH`` and in ``/usr/sbin``. It runs with
  a generated configuration: client and WebSocket listeners on 127.0.0.1 with random ports
  (``-1``), the WebSocket one without TLS, and ``GOMAXPROCS=1`` (with the bench's CPU pinning:
  one core, as the relay). The load generator speaks NATS to it (:mod:`.natsload`).
- ``node``: ``src/quicko/bench/node/forwarder.js``, the bare forwarder's semantics on Node.js and
  the ``ws`` package (:data:`WS_VERSION`), which is installed on demand with
  ``npm install --prefix <cache>`` into :func:`cache_dir` (``$QUICKO_BENCH_CACHE``, else
  ``$XDG_CACHE_HOME/quicko/bench``, else ``~/.cache/quicko/bench``). It needs ``node`` and,
  the first time, ``npm`` with access to the npm registry.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from quicko.bench.results import BASELINE_SERVERS
from quicko.bench.wire import BARE_CHALLENGE, BARE_HELLO_ACK, BARE_JOINED
from quicko.protocol import MessageType

__all__ = [
    "NATS_CONFIG",
    "WS_VERSION",
    "Launch",
    "cache_dir",
    "find_nats_server",
    "nats_launch",
    "node_launch",
    "prepare_baselines",
]

WS_VERSION: Final = "8.18.3"
"""The version of the npm package ``ws`` the Node.js forwarder runs on (pinned: reproducible)."""

NATS_CONFIG: Final = """\
# Written by quicko bench relay: loopback only, random ports, WebSocket without TLS.
listen: "127.0.0.1:-1"
websocket {
  listen: "127.0.0.1:-1"
  no_tls: true
  compression: false
}
"""
"""The ``nats-server`` configuration the benchmark runs it with."""

_NPM_TIMEOUT_S: Final = 300.0
_VERSION_TIMEOUT_S: Final = 10.0
_SHOWN_CHARS: Final = 300
_FORWARDER: Final = Path(__file__).with_name("node") / "forwarder.js"


@dataclass(frozen=True, slots=True)
class Launch:
    """How to start one baseline server: command line, extra environment, version string."""

    argv: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)
    version: str | None = None


def cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where the Node.js ``ws`` package is installed (see the module docstring)."""
    environ = os.environ if environ is None else environ
    if environ.get("QUICKO_BENCH_CACHE"):
        return Path(environ["QUICKO_BENCH_CACHE"])
    base = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "quicko" / "bench"


def find_nats_server() -> str | None:
    """The path of ``nats-server`` (Debian puts it in ``/usr/sbin``), or ``None``."""
    return shutil.which("nats-server") or shutil.which("nats-server", path="/usr/sbin:/usr/bin")


def _output(argv: Sequence[str], timeout: float) -> tuple[int, str]:
    try:
        done = subprocess.run(  # noqa: S603 (fixed tools, no shell)
            argv, capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return -1, f"{type(exc).__name__}: {exc}"
    text = (done.stdout + done.stderr).strip()
    return done.returncode, text if len(text) <= _SHOWN_CHARS else "…" + text[-_SHOWN_CHARS:]


def nats_launch(work_dir: Path) -> Launch | str:
    """The NATS server's launch (its configuration written into *work_dir*), or why not."""
    binary = find_nats_server()
    if binary is None:
        return (
            "nats-server not found (Debian: apt-get install nats-server, "
            "or scripts/system-deps.sh --bench)"
        )
    config = work_dir / "nats-server.conf"
    config.write_text(NATS_CONFIG, encoding="utf-8")
    code, version = _output((binary, "--version"), _VERSION_TIMEOUT_S)
    return Launch(
        (binary, "-c", str(config)),
        {"GOMAXPROCS": "1"},
        version.removeprefix("nats-server: ") if code == 0 else None,
    )


def _ws_installed(modules: Path) -> bool:
    package = modules / "ws" / "package.json"
    return package.is_file() and f'"version": "{WS_VERSION}"' in package.read_text("utf-8")


def node_launch(cache: Path) -> Launch | str:
    """The Node.js forwarder's launch (``ws`` installed into *cache* if needed), or why not."""
    node = shutil.which("node")
    if node is None:
        return "node not found (install Node.js to measure the Node ws forwarder)"
    modules = cache / "node_modules"
    if not _ws_installed(modules):
        npm = shutil.which("npm")
        if npm is None:
            return f"npm not found, and ws {WS_VERSION} is not in {modules}"
        cache.mkdir(parents=True, exist_ok=True)
        command = (npm, "install", "--prefix", str(cache), "--no-audit", "--no-fund",
                   "--loglevel=error", f"ws@{WS_VERSION}")  # fmt: skip
        code, output = _output(command, _NPM_TIMEOUT_S)
        if code != 0 or not _ws_installed(modules):
            return f"npm could not install ws {WS_VERSION} into {cache}: {output}"
    code, version = _output((node, "--version"), _VERSION_TIMEOUT_S)
    argv = (
        node, str(_FORWARDER), "--host", "127.0.0.1", "--port", "0",
        "--challenge", BARE_CHALLENGE.hex(), "--hello-ack", BARE_HELLO_ACK.hex(),
        "--joined", BARE_JOINED.hex(), "--received-type", str(int(MessageType.RECEIVED)),
    )  # fmt: skip
    shown = f"node {version}, ws {WS_VERSION}" if code == 0 else f"ws {WS_VERSION}"
    return Launch(argv, {"NODE_PATH": str(modules)}, shown)


def prepare_baselines(
    names: Sequence[str], work_dir: Path, cache: Path | None = None
) -> tuple[dict[str, Launch], dict[str, str]]:
    """Launches of the baselines *names* that can run, and a reason for each that cannot."""
    launches: dict[str, Launch] = {}
    skipped: dict[str, str] = {}
    for name in names:
        if name == "nats":
            found = nats_launch(work_dir)
        elif name == "node":
            found = node_launch(cache if cache is not None else cache_dir())
        else:
            raise ValueError(f"unknown baseline {name!r} (known: {', '.join(BASELINE_SERVERS)})")
        if isinstance(found, str):
            skipped[name] = found
        else:
            launches[name] = found
    return launches, skipped
