"""``quicko app``: start the desktop app (PySide6) against a relay.

Qt is imported only when the command runs, so the rest of the CLI works without PySide6. Before
that, the command checks that a window can be opened here, and says in one line what to do
when it cannot (the terminal app, ``quicko chat``, needs no display):

- no display at all (neither ``DISPLAY`` nor ``WAYLAND_DISPLAY`` on Linux);
- a display that cannot be opened (a stale ``DISPLAY`` after the X server went away, or one
  this user may not use): Qt would abort the process with advice to reinstall the application,
  so a child process tries first to start Qt's GUI (:func:`display_problem`).

``quicko app --check`` runs only these checks (``./run.sh`` uses it to fall back to the
terminal app).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from argparse import _SubParsersAction

__all__ = ["DEFAULT_RELAY_URL", "display_problem", "register", "run_app_command"]

DEFAULT_RELAY_URL: Final = "ws://127.0.0.1:9900"
"""The relay used without ``--relay`` (the one ``./run.sh`` starts)."""

EXIT_UNAVAILABLE: Final = 1
"""Exit status when the desktop app cannot start here."""

PROBE_TIMEOUT_S: Final = 15.0
"""Longest wait for the child that checks the display, in seconds."""

_USE_TERMINAL: Final = "use the terminal app instead: `quicko chat` (or ./run.sh --terminal)"
_WINDOWLESS_PLATFORMS: Final = frozenset({"offscreen", "minimal", "minimalegl", "vnc"})
# Starts Qt's GUI the way the app does; Qt aborts (SIGABRT) when no platform plugin can start.
_PROBE: Final = "from PySide6.QtGui import QGuiApplication\nQGuiApplication(['quicko'])\n"


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
        help="the relay: ws://HOST:PORT, wss://HOST:PORT, or HOST:PORT for ws:// "
        f"(default {DEFAULT_RELAY_URL})",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="only check that the desktop app can open a window here (exit 0), else say why",
    )
    parser.set_defaults(handler=run_app_command)


def display_problem(environ: Mapping[str, str] | None = None) -> str | None:
    """Why the desktop app could not open a window here, or ``None`` when it can.

    Args:
        environ: the environment to check (default: this process's).
    """
    env = os.environ if environ is None else environ
    platform = env.get("QT_QPA_PLATFORM", "").split(":")[0]
    if platform in _WINDOWLESS_PLATFORMS or not sys.platform.startswith("linux"):
        return None  # nothing to open (offscreen), or the system's own window server
    display = env.get("DISPLAY") or env.get("WAYLAND_DISPLAY") or platform
    if not display:
        return "no display (neither DISPLAY nor WAYLAND_DISPLAY is set)"
    import subprocess  # noqa: PLC0415 (start-up time: main.py)

    try:
        done = subprocess.run(  # noqa: S603 (this interpreter, a fixed program)
            [sys.executable, "-c", _PROBE],
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=PROBE_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"the display {display!r} did not answer within {PROBE_TIMEOUT_S:g} s"
    if done.returncode == 0:
        return None
    return (
        f"cannot open the display {display!r} (is its server still running, and may this user "
        "use it?)"
    )


def run_app_command(args: argparse.Namespace) -> int:
    """Handle ``quicko app``: run the window until it closes."""
    import importlib.util  # noqa: PLC0415 (start-up time: main.py)

    from quicko.cli._relay_url import check_relay_url, unresolved  # noqa: PLC0415
    from quicko.errors import InputError  # noqa: PLC0415

    try:
        relay_url = check_relay_url(args.relay)
    except InputError as exc:
        print(f"quicko app: {exc}", file=sys.stderr)
        return 2
    if importlib.util.find_spec("PySide6") is None:
        print(
            "quicko app: the desktop app needs PySide6: install it with "
            f"pip install 'quicko2[desktop]', or {_USE_TERMINAL}",
            file=sys.stderr,
        )
        return EXIT_UNAVAILABLE
    problem = display_problem()
    if problem is not None:
        suffix = "" if getattr(args, "check", False) else f": {_USE_TERMINAL}"
        print(f"quicko app: {problem}{suffix}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    if getattr(args, "check", False):
        return 0
    problem = unresolved(relay_url)
    if problem is not None:
        print(f"quicko app: {problem}", file=sys.stderr)
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
