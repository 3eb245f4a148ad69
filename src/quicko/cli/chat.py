"""``quicko chat``: start the terminal app (Textual) against a relay.

Textual is imported only when the command runs, so the rest of the CLI works without it. Before
it is imported, the environment variables by which Textual would write files (its log, a key
log, screenshots) or talk to devtools are removed: the app writes nothing to disk.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from argparse import _SubParsersAction

__all__ = [
    "DEFAULT_RELAY_URL",
    "TEXTUAL_OUTPUT_VARIABLES",
    "register",
    "run_chat_command",
    "scrub_textual_environment",
]

DEFAULT_RELAY_URL: Final = "ws://127.0.0.1:9900"
"""The relay used without ``--relay`` (the one ``./run.sh`` starts)."""

EXIT_UNAVAILABLE: Final = 1
"""Exit status when the terminal app cannot start here."""

TEXTUAL_OUTPUT_VARIABLES: Final = (
    "TEXTUAL_LOG",
    "TEXTUAL_DEBUG",
    "TEXTUAL_SCREENSHOT",
    "TEXTUAL_SCREENSHOT_LOCATION",
    "TEXTUAL_SCREENSHOT_FILENAME",
    "TEXTUAL_DEVTOOLS_HOST",
    "TEXTUAL_DEVTOOLS_PORT",
)
"""Variables that make Textual write files or connect to devtools; removed before it starts."""

_UNSAFE_FEATURES: Final = frozenset({"devtools", "debug"})


def register(subparsers: _SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``chat`` sub-command to the ``quicko`` parser."""
    parser = subparsers.add_parser(
        "chat",
        help="start the terminal app",
        description=(
            "Start the Quicko2 terminal app (Textual): sessions by invite code, calls by "
            "QuickoKey, end-to-end encrypted chat. Nothing is written to disk."
        ),
    )
    parser.add_argument(
        "--relay",
        default=DEFAULT_RELAY_URL,
        metavar="URL",
        help="the relay: ws://HOST:PORT, wss://HOST:PORT, or HOST:PORT for ws:// "
        f"(default {DEFAULT_RELAY_URL})",
    )
    parser.set_defaults(handler=run_chat_command)


def scrub_textual_environment(environ: MutableMapping[str, str]) -> None:
    """Remove what would make Textual write files or talk to devtools from ``environ``."""
    for name in TEXTUAL_OUTPUT_VARIABLES:
        environ.pop(name, None)
    features = [name.strip() for name in environ.get("TEXTUAL", "").split(",")]
    kept = [name for name in features if name and name not in _UNSAFE_FEATURES]
    if kept:
        environ["TEXTUAL"] = ",".join(kept)
    else:
        environ.pop("TEXTUAL", None)


def run_chat_command(args: argparse.Namespace) -> int:
    """Handle ``quicko chat``: run the terminal app until the user quits."""
    from quicko.cli._relay_url import check_relay_url, unresolved  # noqa: PLC0415 (start-up)
    from quicko.errors import InputError  # noqa: PLC0415

    try:
        relay_url = check_relay_url(args.relay)
    except InputError as exc:
        print(f"quicko chat: {exc}", file=sys.stderr)
        return 2
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        print("quicko chat: the terminal app needs a terminal (a TTY)", file=sys.stderr)
        return EXIT_UNAVAILABLE
    problem = unresolved(relay_url)
    if problem is not None:
        print(f"quicko chat: {problem}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    scrub_textual_environment(os.environ)
    try:
        from quicko.tui.app import run_chat  # noqa: PLC0415 (Textual only when asked for)
    except ImportError as exc:
        print(
            f"quicko chat: the terminal app needs Textual ({exc}); "
            "install it with: pip install 'quicko2[tui]'",
            file=sys.stderr,
        )
        return EXIT_UNAVAILABLE
    return run_chat(relay_url)
