"""Helpers of the client fault tests: a chatting pair, and what it checks at the application.

- :data:`FAULTY`: client timings short enough that dead links are found in about 2.5 s.
- :class:`Pair`: two chatting clients and everything each of them sent; :meth:`Pair.settle`
  waits (bounded) until everything arrived and every sender saw it delivered, and
  :meth:`Pair.check` asserts exactly once, nothing lost and every status true.
- :func:`trust`, :func:`both_disconnected`: a relay that lists a proxy's URL as its own, and a
  wait until both clients noticed their link died.

Used by ``test_client_faults.py`` (the fault proxy, :mod:`quicko.bench.faultproxy`) and
``test_client_faults_relay.py`` (a relay SIGKILLed, a thousand clients dropping at once).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from client_support import Watcher
from relay_support import relay_url

from quicko.bench.faultproxy import FaultProxy
from quicko.client import (
    ClientEvent,
    ConnectionSettings,
    DeliveryStatus,
    Disconnected,
    MessageReceived,
    StatusChanged,
)
from quicko.protocol import canonical_relay_url
from quicko.relay.server import RelayServer

#: Short timings: dead links are found in about 2.5 s while data is outstanding.
FAULTY = ConnectionSettings(
    ping_interval=2.0,
    ping_timeout=1.5,
    probe_after=1.0,
    backoff_initial=0.05,
    backoff_maximum=0.5,
    close_timeout=0.5,
    open_timeout=1.0,
    handshake_timeout=1.0,
)

#: How long the whole exchange may take after a fault ends (generous: a benchmark measures).
SETTLE_S = 40.0


def last_status(watcher: Watcher, message_id: bytes) -> DeliveryStatus | None:
    """The last status ``watcher``'s client reported for one of its messages."""
    found = [e.status for e in watcher.of(StatusChanged) if e.message_id == message_id.hex()]
    return found[-1] if found else None


def delivered(watcher: Watcher, ids: list[bytes]) -> bool:
    """Whether every message of ``ids`` was reported DELIVERED or READ (not FAILED)."""
    return all(
        (s := last_status(watcher, mid)) is not None and s >= DeliveryStatus.DELIVERED
        and s is not DeliveryStatus.FAILED
        for mid in ids
    )  # fmt: skip


def shown(watcher: Watcher) -> list[str]:
    """Every text shown to ``watcher``'s user, in order (duplicates included)."""
    return [e.message.text for e in watcher.of(MessageReceived)]


class Pair:
    """Two chatting clients, and everything each of them sent."""

    def __init__(self, a: Watcher, b: Watcher, sid: str, proxy: FaultProxy | None = None) -> None:
        self.a, self.b, self.sid = a, b, sid
        self._proxy = proxy
        self.sent: dict[str, list[bytes]] = {"a": [], "b": []}
        self.texts: dict[str, list[str]] = {"a": [], "b": []}

    @property
    def proxy(self) -> FaultProxy:
        """The fault proxy between the clients and the relay."""
        assert self._proxy is not None
        return self._proxy

    async def send(self, who: str, label: str, count: int) -> None:
        """``who`` ("a" or "b") sends ``count`` texts (``send_message`` never waits)."""
        watcher = self.a if who == "a" else self.b
        for n in range(count):
            text = f"{who} {label} {n}"
            message = await watcher.client.send_message(self.sid, text)
            self.sent[who].append(message.message_id)
            self.texts[who].append(text)

    async def settle(self, timeout: float = SETTLE_S) -> None:
        """Wait until every message arrived and every sender saw it delivered."""

        def done_a(_events: object) -> bool:
            return delivered(self.a, self.sent["a"]) and len(shown(self.a)) >= len(self.texts["b"])

        def done_b(_events: object) -> bool:
            return delivered(self.b, self.sent["b"]) and len(shown(self.b)) >= len(self.texts["a"])

        await asyncio.gather(self.a.until(done_a, timeout), self.b.until(done_b, timeout))

    def check(self) -> None:
        """Exactly once each, nothing lost, every status true (none FAILED)."""
        assert sorted(shown(self.b)) == sorted(self.texts["a"])
        assert sorted(shown(self.a)) == sorted(self.texts["b"])
        for who, watcher in (("a", self.a), ("b", self.b)):
            assert not any(e.status is DeliveryStatus.FAILED for e in watcher.of(StatusChanged))
            for message_id in self.sent[who]:
                status = watcher.client.message_status(self.sid, message_id.hex())
                assert status in (DeliveryStatus.DELIVERED, DeliveryStatus.READ)


def trust(relay: RelayServer, proxy: FaultProxy) -> None:
    """The relay lists the proxy's URL as one of its own (a Hello names the URL dialled)."""
    urls = [canonical_relay_url(url) for url in (relay_url(relay), proxy.url)]
    relay.router.set_public_urls(urls)


def disconnects(watcher: Watcher) -> int:
    """How many times ``watcher``'s client reported its link down so far."""
    return len(watcher.of(Disconnected))


async def both_disconnected(chat: Pair, timeout: float = 20.0) -> None:
    """Wait until each client noticed its link died (a Disconnected event after now)."""
    marks = (len(chat.a.events), len(chat.b.events))

    def noticed(mark: int) -> Callable[[list[ClientEvent]], bool]:
        return lambda events: any(isinstance(e, Disconnected) for e in events[mark:])

    await asyncio.gather(
        chat.a.until(noticed(marks[0]), timeout), chat.b.until(noticed(marks[1]), timeout)
    )
