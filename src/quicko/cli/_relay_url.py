"""The ``--relay`` argument of ``session``, ``app`` and ``chat``: checked before anything starts.

A relay is reached over WebSocket, so its URL starts with ``ws://`` or ``wss://``
(docs/cli.md). What people type instead gets one line that says what to type:

- ``host:port`` (``localhost:9900``, ``[::1]:9900``) is taken as ``ws://host:port``: the
  plain-text scheme, as for the local relay ``./run.sh`` starts; a relay elsewhere is
  normally ``wss://`` and has to be written so;
- ``http://`` and ``https://`` are refused with the ``ws://`` or ``wss://`` URL to use instead:
  an HTTP URL may be the address of a web page rather than of a relay;
- anything else (another scheme, no host, a bad port, a host without a port) is refused with
  an example.

Only the standard library's URL parser is used: this runs before the client is imported.
:func:`unresolved` also says, before an app starts, that the relay's host name does not resolve
(a typo is better told at once than as endless reconnection attempts).
"""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import urlsplit

from quicko.errors import InputError

__all__ = [
    "RELAY_EXAMPLE",
    "check_relay_url",
    "relay_host_port",
    "unresolvable_message",
    "unresolved",
]

RELAY_EXAMPLE: Final = "ws://127.0.0.1:9900"
"""The URL of the relay ``./run.sh`` starts, shown in error messages."""

_DEFAULT_PORTS: Final = {"ws": 80, "wss": 443}
_HTTP_TO_WS: Final = {"http": "ws", "https": "wss"}
# host:port without a scheme: a name or IPv4 address, or an IPv6 address in brackets.
_HOST_PORT: Final = re.compile(r"(?:\[[0-9A-Fa-f:.%\w]+\]|[\w.-]+):\d+")


def check_relay_url(text: str) -> str:
    """Return the relay URL ``text`` stands for: itself, or ``ws://`` + ``host:port``.

    Raises:
        InputError: not a ``ws://`` or ``wss://`` URL, nor ``host:port``; the message says
            what to type instead.
    """
    url = text.strip()
    if "://" not in url:
        if _HOST_PORT.fullmatch(url):
            url = f"ws://{url}"
        else:
            raise InputError(
                f"--relay {text!r} is not a relay URL: give ws://HOST:PORT or wss://HOST:PORT, "
                f"or HOST:PORT for ws:// (e.g. {RELAY_EXAMPLE})"
            )
    scheme, _, rest = url.partition("://")
    scheme = scheme.lower()
    if scheme in _HTTP_TO_WS:
        raise InputError(
            f"--relay {text!r}: a relay speaks WebSocket, not HTTP: "
            f"use {_HTTP_TO_WS[scheme]}://{rest}"
        )
    if scheme not in _DEFAULT_PORTS:
        raise InputError(
            f"--relay {text!r}: a relay URL starts with ws:// or wss:// (e.g. {RELAY_EXAMPLE})"
        )
    relay_host_port(url, original=text)  # the host and the port must make sense
    return url


def relay_host_port(url: str, *, original: str | None = None) -> tuple[str, int]:
    """The host and the TCP port of a ``ws://`` or ``wss://`` URL (default port 80 or 443).

    Raises:
        InputError: no host, or a port that is not a number from 1 to 65535.
    """
    shown = url if original is None else original
    try:
        parts = urlsplit(url)
    except ValueError:  # an unclosed IPv6 bracket, …
        raise InputError(f"--relay {shown!r} is not a valid URL (e.g. {RELAY_EXAMPLE})") from None
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        raise InputError(f"--relay {shown!r}: the port must be a number from 1 to 65535")
    if not parts.hostname:
        raise InputError(f"--relay {shown!r} names no host (e.g. {RELAY_EXAMPLE})")
    return parts.hostname, port if port is not None else _DEFAULT_PORTS[parts.scheme]


def unresolvable_message(host: str) -> str:
    """The line that says the relay's ``host`` does not resolve."""
    return f"cannot resolve relay host {host!r}: check the host name in --relay"


def unresolved(url: str) -> str | None:
    """The line to show when the host of the relay ``url`` does not resolve, else ``None``.

    It blocks for as long as the system's resolver takes (before an app starts, that is fine).
    """
    import socket  # noqa: PLC0415 (start-up time: only the apps call this)

    host, port = relay_host_port(url)
    try:
        socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return unresolvable_message(host)
    return None
