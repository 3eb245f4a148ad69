"""Why a relay cannot be reached, found out at once instead of after the connect timeout.

The client keeps retrying a relay it cannot reach (that is right for an app that stays open),
so its ``connect()`` only ends at its timeout, whatever the cause. A command that is told to
reach a relay should instead say at once when it never can:

- a host name that does not resolve is a typo (or no network): :func:`resolve_problem` (and,
  for the apps, :func:`quicko.cli._relay_url.unresolved`);
- a refused TCP connection means nothing listens on that port, usually no relay running:
  :func:`refused_problem`, which the session command runs only if the client has not connected
  after a moment (a connection that works costs no probe).

Every other failure (a timeout, an unreachable network, TLS) is left to the client's timeout.
The client connects directly (it is given no proxy), so a direct probe sees what it sees.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Final

from quicko.cli._relay_url import unresolvable_message

__all__ = ["PROBE_TIMEOUT_S", "refused_problem", "resolve_problem"]

PROBE_TIMEOUT_S: Final = 2.0
"""Longest wait for one TCP connection of the probe, in seconds."""


async def resolve_problem(host: str, port: int) -> str | None:
    """The line to show when ``host`` does not resolve, else ``None``."""
    try:
        await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return unresolvable_message(host)
    return None


async def refused_problem(host: str, port: int, timeout: float = PROBE_TIMEOUT_S) -> str | None:
    """The line to show when every address of ``host`` refuses ``port``, else ``None``.

    ``None`` also when the answer is not clear (a timeout, an unreachable network): the
    client's own timeout then says it.
    """
    loop = asyncio.get_running_loop()
    try:
        addresses = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return unresolvable_message(host)
    refused = False
    for family, kind, proto, _, address in addresses:
        with contextlib.closing(socket.socket(family, kind, proto)) as sock:
            sock.setblocking(False)
            try:
                async with asyncio.timeout(timeout):
                    await loop.sock_connect(sock, address)
            except TimeoutError:
                return None  # not a clear answer, and no time to spend on the others
            except ConnectionRefusedError:
                refused = True
                continue
            except OSError:  # this address is unusable here (no IPv6 route…): try the next
                continue
            return None  # something listens there
    if not refused:
        return None
    return (
        f"nothing is listening on {host} port {port} (connection refused): is the relay "
        f"running? Start one with `quicko relay --port {port}` (or ./run.sh), or pass --relay URL"
    )
