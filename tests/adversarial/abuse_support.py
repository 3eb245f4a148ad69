"""Helpers of the adversarial tests: relay processes, their memory and their counts."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Sequence

from relay_support import RelayProcess, http_get, spawn_relay

__all__ = ["health", "relay_process", "rss_bytes"]


def rss_bytes(pid: int) -> int:
    """The resident set size of process ``pid`` (``VmRSS`` of ``/proc/<pid>/status``)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS line")


async def health(port: int) -> dict[str, int]:
    """The relay's ``/health`` document."""
    status, _, body = await http_get(port, "/health")
    assert status == 200
    document: dict[str, int] = json.loads(body)
    return document


@contextlib.asynccontextmanager
async def relay_process(args: Sequence[str]) -> AsyncIterator[RelayProcess]:
    """A relay subprocess on 127.0.0.1 with ``args``, stopped (SIGTERM, then SIGKILL) after."""
    relay = await spawn_relay(args)
    try:
        yield relay
    finally:
        if relay.process.returncode is None:
            relay.process.terminate()
            try:
                await asyncio.wait_for(relay.process.wait(), 10)
            except TimeoutError:
                relay.process.kill()
                await relay.process.wait()
