"""``quicko relay``: run a relay until SIGTERM or SIGINT (docs/relay.md).

Settings come from flags, then ``QUICKO_*`` environment variables, then defaults
(:mod:`quicko.relay.settings`). Logs are JSON lines on standard error; the first one after
binding is ``{"event": "listening", "host": ..., "port": <bound port>, "node_id": ...,
"tls": ...}``, so ``--port 0`` is usable by scripts; the second is ``{"event": "hardened",
"warnings": [...]}`` (what process hardening could not do, if anything). The relay writes no
file.

Exit status: 0 after a graceful shutdown, 1 if the address cannot be bound, 2 for a bad
setting (argparse's usage-error status).
"""

from __future__ import annotations

import argparse
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
    parser.set_defaults(handler=run_relay)


def run_relay(args: argparse.Namespace) -> int:
    """Handle ``quicko relay``: load the settings, serve until a signal, return the status."""
    from quicko.errors import InputError  # noqa: PLC0415 (start-up time: main.py)
    from quicko.relay.logs import configure_logging  # noqa: PLC0415
    from quicko.relay.settings import config_from_args  # noqa: PLC0415

    try:
        config = config_from_args(args)
    except InputError as exc:
        print(f"quicko relay: {exc}", file=sys.stderr)
        return EXIT_BAD_SETTING
    configure_logging(config.log_level)
    import uvloop  # noqa: PLC0415  # only the relay needs it; keep `quicko --help` light

    warnings: list[str] = getattr(args, "hardening_warnings", [])
    return uvloop.run(serve(config, warnings))


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


async def serve(config: RelayConfig, warnings: Sequence[str] = ()) -> int:
    """Run a relay with ``config`` until SIGTERM or SIGINT; return the exit status.

    ``warnings`` (from process hardening) are logged right after the ``listening`` line.
    """
    import asyncio  # noqa: PLC0415 (start-up time: main.py)
    import logging  # noqa: PLC0415
    import signal  # noqa: PLC0415

    from quicko.relay.logs import log_event  # noqa: PLC0415
    from quicko.relay.server import RelayServer, tune_gc  # noqa: PLC0415
    from quicko.relay.settings import make_ssl_context  # noqa: PLC0415

    ssl_context = None
    if config.tls_cert is not None and config.tls_key is not None:
        ssl_context = make_ssl_context(config.tls_cert, config.tls_key)
    server = RelayServer(config, ssl_context=ssl_context)
    try:
        await server.start()
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
