"""``quicko relay``: run a relay until SIGTERM or SIGINT (docs/relay.md).

Settings come from flags, then ``QUICKO_*`` environment variables, then defaults
(:mod:`quicko.relay.settings`). Logs are JSON lines on standard error; the first one after
binding is ``{"event": "listening", "host": ..., "port": <bound port>, "node_id": ...,
"tls": ..., "hot_path": ...}``, so ``--port 0`` is usable by scripts (``hot_path`` is
``"compiled"`` when ``scripts/compile.sh`` built the hot modules with mypyc, else
``"python"``); the second is ``{"event": "hardened", "warnings": [...]}`` (what process
hardening could not do, if anything). The relay writes no file.

Cluster mode (docs/cluster.md): ``--redis URL`` (``QUICKO_REDIS_URL``; ``redis://``,
``rediss://``, with AUTH in the URL) shares the node's state through Redis, which must not
persist to disk unless ``--redis-allow-persistence`` (``QUICKO_REDIS_ALLOW_PERSISTENCE=1``);
``--workers N`` (``QUICKO_WORKERS``) runs N processes sharing the port (SO_REUSEPORT), and needs
``--redis``.

Exit status: 0 after a graceful shutdown, 1 if the address cannot be bound or Redis cannot be
used, 2 for a bad setting (argparse's usage-error status).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from quicko.cli._commands import add_command

if TYPE_CHECKING:
    from argparse import _SubParsersAction

    from quicko.relay.config import RelayConfig

__all__ = ["bind_hint", "register", "run_relay", "serve"]

EXIT_BIND_FAILED: Final = 1
EXIT_BAD_SETTING: Final = 2


def register(subparsers: _SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``relay`` sub-command to the ``quicko`` parser."""
    add_command(
        subparsers,
        "relay",
        help="run a relay (WebSocket server with /health and /metrics)",
        description=(
            "Run a Quicko2 relay. Every flag can also be set with the QUICKO_* environment "
            "variable shown in its help; a flag wins over the environment."
        ),
        build=_build_parser,
    )


def _build_parser(parser: argparse.ArgumentParser) -> None:
    # The flags are derived from the relay's settings: imported only for `quicko relay …`.
    from quicko.relay.settings import add_arguments  # noqa: PLC0415

    add_arguments(parser)
    cluster = parser.add_argument_group("cluster mode (docs/cluster.md)")
    cluster.add_argument(
        "--redis",
        metavar="URL",
        default=None,
        help="share state with other nodes through this Redis (redis:// or rediss://, "
        "AUTH in the URL) [env QUICKO_REDIS_URL; default: none, a single in-memory node]",
    )
    cluster.add_argument(
        "--redis-allow-persistence",
        action="store_true",
        default=None,
        help="start even if Redis writes RDB snapshots or an AOF to disk (it then keeps "
        "relay state on disk) [env QUICKO_REDIS_ALLOW_PERSISTENCE=1]",
    )
    cluster.add_argument(
        "--workers",
        metavar="N",
        type=int,
        default=None,
        help="processes sharing the port with SO_REUSEPORT; above 1 needs --redis "
        "[env QUICKO_WORKERS; default: 1]",
    )
    parser.set_defaults(handler=run_relay)


def _cluster_options(args: argparse.Namespace) -> tuple[str | None, bool, int]:
    """``--redis``, ``--redis-allow-persistence`` and ``--workers``, or their variables.

    Raises:
        InputError: a value does not parse, or ``--workers`` > 1 without ``--redis``.
    """
    from quicko.errors import InputError  # noqa: PLC0415 (start-up time: main.py)

    redis_url = getattr(args, "redis", None) or os.environ.get("QUICKO_REDIS_URL") or None
    allow = getattr(args, "redis_allow_persistence", None)
    if allow is None:
        allow = os.environ.get("QUICKO_REDIS_ALLOW_PERSISTENCE", "") in {"1", "true", "yes"}
    workers = getattr(args, "workers", None)
    if workers is None:
        text = os.environ.get("QUICKO_WORKERS", "1")
        try:
            workers = int(text)
        except ValueError:
            raise InputError(
                f"environment variable QUICKO_WORKERS: {text!r} is not a whole number"
            ) from None
    if workers < 1:
        raise InputError("--workers must be at least 1")
    if workers > 1 and redis_url is None:
        raise InputError(
            "--workers above 1 needs --redis: worker processes share their state through "
            "Redis (a single process keeps it in memory)"
        )
    return redis_url, bool(allow), workers


def run_relay(args: argparse.Namespace) -> int:
    """Handle ``quicko relay``: load the settings, serve until a signal, return the status."""
    from quicko.errors import InputError  # noqa: PLC0415 (start-up time: main.py)
    from quicko.relay.logs import configure_logging  # noqa: PLC0415
    from quicko.relay.settings import config_from_args  # noqa: PLC0415

    try:
        config = config_from_args(args)
        redis_url, allow_persistence, workers = _cluster_options(args)
    except InputError as exc:
        print(f"quicko relay: {exc}", file=sys.stderr)
        return EXIT_BAD_SETTING
    configure_logging(config.log_level)
    if workers > 1 and os.environ.get(_WORKER_ENV) is None:
        return _run_workers(workers)
    parent = os.environ.get(_PARENT_ENV, "")
    if parent.isdigit():
        from quicko.cli.hardening import die_with_parent  # noqa: PLC0415

        if not die_with_parent(int(parent)):
            return 0  # the parent is gone already: no orphaned worker
    import uvloop  # noqa: PLC0415  # only the relay needs it; keep `quicko --help` light

    warnings: list[str] = getattr(args, "hardening_warnings", [])
    reuse_port = os.environ.get(_WORKER_ENV) is not None
    return uvloop.run(
        serve(
            config,
            warnings,
            redis_url=redis_url,
            allow_persistence=allow_persistence,
            reuse_port=reuse_port,
        )
    )


def bind_hint(host: str, port: int, errno_value: int | None) -> str:
    """One line that says why ``host``:``port`` could not be bound and what to do about it."""
    import errno  # noqa: PLC0415 (start-up time: main.py)

    if errno_value == errno.EADDRINUSE:
        return (
            f"port {port} on {host} is already in use (by another relay?): stop that program, "
            "or choose another port with --port N (or QUICKO_PORT)"
        )
    if errno_value == errno.EACCES:
        return f"port {port} needs privileges: choose a port above 1023 with --port N"
    if errno_value == errno.EADDRNOTAVAIL:
        return f"{host} is not an address of this machine: use --host 127.0.0.1 or 0.0.0.0"
    return f"cannot listen on {host} port {port}: check --host and --port"


_WORKER_ENV: Final = "QUICKO_WORKER_INDEX"
_PARENT_ENV: Final = "QUICKO_WORKER_PARENT"


def _run_workers(workers: int) -> int:
    """Run *workers* copies of this command (each with SO_REUSEPORT) until a signal.

    The parent binds nothing: each worker is ``quicko relay`` with the same arguments and
    environment, marked by ``QUICKO_WORKER_INDEX`` (and ``QUICKO_WORKER_PARENT``: a worker
    gets SIGTERM from the kernel when its parent dies, even by SIGKILL, on Linux); SIGTERM and
    SIGINT are passed on, and the status is the first non-zero status of a worker (0 if all
    stopped cleanly).
    """
    import signal  # noqa: PLC0415 (start-up time: main.py)
    import subprocess  # noqa: PLC0415

    children = []
    for index in range(workers):
        env = {**os.environ, _WORKER_ENV: str(index), _PARENT_ENV: str(os.getpid())}
        children.append(subprocess.Popen([sys.executable, "-m", "quicko", *sys.argv[1:]], env=env))  # noqa: S603  # our own command line

    def forward(signum: int, _frame: object) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    statuses = [child.wait() for child in children]
    return next((status for status in statuses if status), 0)


class _NoClusterError(Exception):
    """Never raised: stands for ClusterError when the relay runs without ``--redis``."""


async def serve(
    config: RelayConfig,
    warnings: Sequence[str] = (),
    *,
    redis_url: str | None = None,
    allow_persistence: bool = False,
    reuse_port: bool = False,
) -> int:
    """Run a relay with ``config`` until SIGTERM or SIGINT; return the exit status.

    ``warnings`` (from process hardening) are logged right after the ``listening`` line.
    With *redis_url* the node joins a cluster (docs/cluster.md).
    """
    import asyncio  # noqa: PLC0415 (start-up time: main.py)
    import logging  # noqa: PLC0415
    import secrets  # noqa: PLC0415
    import signal  # noqa: PLC0415

    from quicko.relay.collector import tune_gc  # noqa: PLC0415
    from quicko.relay.compiled import hot_path  # noqa: PLC0415
    from quicko.relay.logs import log_event  # noqa: PLC0415
    from quicko.relay.server import RelayServer  # noqa: PLC0415
    from quicko.relay.settings import make_ssl_context  # noqa: PLC0415

    ssl_context = None
    if config.tls_cert is not None and config.tls_key is not None:
        ssl_context = make_ssl_context(config.tls_cert, config.tls_key)
    cluster = None
    cluster_error: type[Exception] = _NoClusterError
    if redis_url is not None:
        # Only cluster mode needs redis (the `cluster` extra; ./run.sh installs runtime extras).
        from quicko.relay.cluster import ClusterError, ClusterLink, ClusterState  # noqa: PLC0415

        cluster_error = ClusterError
        node_id = config.node_id or secrets.token_hex(4)
        worker = os.environ.get(_WORKER_ENV)
        if worker is not None and config.node_id:
            node_id = f"{config.node_id}-{worker}"
        cluster = ClusterLink(
            ClusterState(config, node_id), redis_url, config, allow_persistence=allow_persistence
        )
    server = RelayServer(config, ssl_context=ssl_context, cluster=cluster, reuse_port=reuse_port)
    try:
        await server.start()
    except cluster_error as exc:
        log_event("cluster_refused", logging.ERROR, always=True, error=str(exc))
        print(f"quicko relay: {exc}", file=sys.stderr)
        return EXIT_BIND_FAILED
    except OSError as exc:
        log_event(
            "bind_failed",
            logging.ERROR,
            host=config.host,
            port=config.port,
            error=exc.strerror or type(exc).__name__,
            hint=bind_hint(config.host, config.port, exc.errno),
        )
        return EXIT_BIND_FAILED
    log_event(
        "listening",
        always=True,
        host=config.host,
        port=server.port,
        node_id=server.node_id,
        tls=ssl_context is not None,
        cluster=cluster is not None,
        hot_path=hot_path(),  # "compiled" after scripts/compile.sh (mypyc), else "python"
    )
    # Always one line, right after "listening": what process hardening could not do, if anything.
    level = logging.WARNING if warnings else logging.INFO
    log_event("hardened", level, always=True, warnings=list(warnings))
    tune_gc()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    log_event("shutting_down", connections=server.connections)
    await server.shutdown()
    log_event("stopped", always=True, uptime_s=int(server.uptime_s()))
    return 0
