"""``quicko session``: chat from a terminal or a script (create, join, call, listen).

Lines read from standard input are messages to send; what happens is printed on standard output,
one line per event — readable text by default, one JSON object with an ``"event"`` field per
line with ``--json`` (docs/cli.md lists every event). End of input, SIGINT or SIGTERM leave the
session cleanly (after waiting, a bounded time, for the messages already sent to be delivered)
and exit 0; errors go to standard error with a hint and a non-zero status.

This module is the parser; the client and the session are in :mod:`quicko.cli._session`,
imported when the command runs (start-up time, see :mod:`quicko.cli.main`).
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from argparse import _SubParsersAction

__all__ = ["CONNECT_TIMEOUT_S", "DEFAULT_RELAY", "SEED_ENV", "register", "run_session"]

DEFAULT_RELAY: Final = "ws://127.0.0.1:9900"
"""The relay a session command talks to without ``--relay``."""
SEED_ENV: Final = "QUICKO_SEED_PHRASE"
"""The environment variable a seed phrase may come from."""
CONNECT_TIMEOUT_S: Final = 10.0
"""Seconds to reach the relay before giving up (``--connect-timeout``)."""
MAX_CONNECT_TIMEOUT_S: Final = 3600.0
"""Longest ``--connect-timeout``, in seconds."""
EXIT_FAILED: Final = 1
"""Exit status when the session could not start or failed."""
EXIT_INPUT: Final = 2
"""Exit status for a bad argument or input (as argparse uses for usage errors)."""


def _seconds(text: str) -> float:
    """A number of seconds above 0 and at most an hour (argparse ``type``)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value <= MAX_CONNECT_TIMEOUT_S:  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be above 0 and at most {MAX_CONNECT_TIMEOUT_S:g}")
    return value


def register(subparsers: _SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``quicko session create|join|call|listen`` to the ``quicko`` parser."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--relay", default=DEFAULT_RELAY, metavar="URL",
                        help="the relay: ws://HOST:PORT, wss://HOST:PORT, or HOST:PORT for "
                        f"ws:// (default {DEFAULT_RELAY}); several, comma-separated (the "
                        "nodes of one relay cluster): tried in order on reconnect")  # fmt: skip
    common.add_argument("--json", action="store_true", help="one JSON object per event line")
    common.add_argument("--connect-timeout", type=_seconds, default=CONNECT_TIMEOUT_S,
                        metavar="SECONDS", help="give up if the relay cannot be reached in time "
                        f"(default {CONNECT_TIMEOUT_S:g})")  # fmt: skip
    seed_help = f"read a seed phrase from file descriptor N (else ${SEED_ENV})"
    common.add_argument("--seed-fd", type=int, metavar="N", help=seed_help)
    session = subparsers.add_parser(
        "session",
        help="chat from the terminal or a script: create, join, call or listen",
        description="Chat end-to-end encrypted: standard input lines are messages to send.",
    )
    actions = session.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("create", parents=[common], help="create a session; print its invite code")
    join = actions.add_parser("join", parents=[common], help="join a session by invite code")
    join.add_argument("code", help="the XXXX-XXXX invite code")
    call = actions.add_parser("call", parents=[common], help="call a registered QuickoKey")
    call.add_argument("quickokey", help="QK-XXXX-… address to call")
    listen = actions.add_parser("listen", parents=[common],
                                help="register your QuickoKey and answer calls")  # fmt: skip
    listen.add_argument("--accept-all", action="store_true", help="accept every call")
    session.set_defaults(handler=run_session)


def run_session(args: argparse.Namespace) -> int:
    """Handle ``quicko session …``; return the exit status.

    ``--relay`` is checked before the client is imported (:mod:`quicko.cli._relay_url`).
    """
    from quicko.cli._relay_url import check_relay_url  # noqa: PLC0415 (start-up time)
    from quicko.errors import InputError  # noqa: PLC0415

    try:
        relays = [check_relay_url(part.strip()) for part in args.relay.split(",")]
        args.relay = relays[0] if len(relays) == 1 else relays  # a cluster's nodes, in order
    except InputError as exc:
        print(f"quicko session: {exc}", file=sys.stderr)
        return EXIT_INPUT
    from quicko.cli._session import run_session as run  # noqa: PLC0415

    return run(args)
