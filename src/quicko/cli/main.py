"""Entry point of the ``quicko`` command: builds the parser and dispatches sub-commands."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from quicko import __version__

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every sub-command registered."""
    parser = argparse.ArgumentParser(
        prog="quicko",
        description="Quicko2: ephemeral, end-to-end encrypted messenger.",
    )
    parser.add_argument("--version", action="version", version=f"quicko {__version__}")
    parser.add_subparsers(dest="command", metavar="COMMAND")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``quicko`` command and return its exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    result: int = handler(args)
    return result
