"""``quicko app``: start the desktop app (PySide6) against a relay.

Qt is imported only when the command runs, so the rest of the CLI works without PySide6.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from argparse import _SubParsersAction

__all__ = ["DEFAULT_RELAY_URL", "register", "run_app_command"]

DEFAULT_RELAY_URL: Final = "ws://127.0.0.1:9900"
"""The relay used without ``--relay`` (the one ``./run.sh`` starts)."""

EXIT_UNAVAILABLE: Final = 1
"""Exit status when the desktop app cannot start here."""


def register(subparsers: _SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``app`` sub-command to the ``quicko`` parser."""
    parser = subparsers.add_parser(
        "app",
        help="start the desktop app",
        description="Start the Quicko2 desktop app (PySide6). Nothing is written to disk.",
    )
    parser.add_argument(
        "--relay",
        default=DEFAULT_RELAY_URL,
        metavar="URL",
        help=f"the relay's ws:// or wss:// URL (default {DEFAULT_RELAY_URL})",
    )
    parser.set_defaults(handler=run_app_command)


def _no_display() -> bool:
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return False
    return not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def run_app_command(args: argparse.Namespace) -> int:
    """Handle ``quicko app``: run the window until it closes."""
    relay_url: str = args.relay
    if not relay_url.startswith(("ws://", "wss://")):
        print(
            f"quicko app: --relay must be a ws:// or wss:// URL, got {relay_url!r}", file=sys.stderr
        )
        return 2
    if _no_display():
        print(
            "quicko app: no display (neither DISPLAY nor WAYLAND_DISPLAY is set); "
            "use the terminal app, or set QT_QPA_PLATFORM=offscreen",
            file=sys.stderr,
        )
        return EXIT_UNAVAILABLE
    try:
        from quicko.ui.qt.app import run_app  # noqa: PLC0415 (Qt only when asked for)
    except ImportError as exc:
        print(
            f"quicko app: the desktop app needs PySide6 ({exc}); "
            "install it with: pip install 'quicko2[desktop]'",
            file=sys.stderr,
        )
        return EXIT_UNAVAILABLE
    return run_app(relay_url)
