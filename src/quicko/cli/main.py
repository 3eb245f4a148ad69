"""Entry point of the ``quicko`` command: builds the parser and dispatches sub-commands.

Each sub-command module has a ``register(subparsers)`` function that adds its parsers and sets
``handler`` (``Callable[[argparse.Namespace], int]``) with ``set_defaults``; to add a command,
write such a module and append its ``register`` to :data:`REGISTRARS`.

Every command starts in well under 100 ms (docs/performance.md, "Start-up"), so importing this
module imports no sub-command's dependencies: a command module imports only argparse and the
standard library at its top; its handler imports the rest (the client, the relay, Qt, Textual,
the benchmark harness) when it runs, and a parser whose options come from a heavier module is
built only when its command is used (:func:`quicko.cli._commands.add_command`).
``tests/unit/cli/test_cli_imports.py`` checks it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Final

from quicko import __version__
from quicko.cli import app, bench, chat, keys, relay, session
from quicko.cli._commands import LazySubParsersAction
from quicko.cli.hardening import harden_process

if TYPE_CHECKING:
    from argparse import _SubParsersAction

__all__ = ["REGISTRARS", "build_parser", "main"]

REGISTRARS: Final[tuple[Callable[[_SubParsersAction[argparse.ArgumentParser]], None], ...]] = (
    keys.register,
    relay.register,
    bench.register,
    session.register,
    app.register,
    chat.register,
)
"""The ``register(subparsers)`` function of every sub-command module, in help order."""


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every sub-command registered."""
    parser = argparse.ArgumentParser(
        prog="quicko",
        description="Quicko2: ephemeral, end-to-end encrypted messenger.",
    )
    parser.add_argument("--version", action="version", version=f"quicko {__version__}")
    parser.add_argument(
        "--mlock",
        action="store_true",
        help="lock memory out of swap (needs CAP_IPC_LOCK or an unlimited RLIMIT_MEMLOCK)",
    )
    subparsers = parser.add_subparsers(
        dest="command", metavar="COMMAND", action=LazySubParsersAction
    )
    for register in REGISTRARS:
        register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``quicko`` command and return its exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    # Every command handles keys or plaintext: no core dumps, no ptrace, no swap (--mlock).
    # The relay logs the warnings as JSON after its "listening" line (its first line, which
    # scripts read); every other command prints them at once.
    args.hardening_warnings = harden_process(mlock=args.mlock)
    if args.command != "relay":
        for warning in args.hardening_warnings:
            print(f"quicko: warning: {warning}", file=sys.stderr)
    result: int = handler(args)
    return result
