"""``quicko bench faults``: delivery latency of real clients under network faults, in one run.

A relay process on 127.0.0.1 (limits lifted), the fault-injecting TCP proxy
(:mod:`quicko.bench.faultproxy`) in front of it, and a fresh pair of real
:class:`~quicko.client.AsyncQuickoClient` per scenario, both dialling the proxy. Each client
sends ``rate`` texts per second to the other throughout a scenario; a text's latency is the
time from its ``send_message`` call to the ``MessageReceived`` event at the other client (one
process, one clock). Scenarios, side by side:

- **clean**: ``clean_s`` seconds on a working link (the baseline).
- **blackhole**: every flow goes silent (no FIN, no RST; new flows too) for ``blackhole_s``
  seconds, then the network is back for new flows. Reported: the texts sent *during* the
  blackhole and those sent in the ``after_s`` seconds *right after* it; how long until both
  clients had noticed (their Disconnected events), until both were connected again after the
  network came back (Connected), and until the last text arrived.
- **path change**: every current flow dies silently while new flows work at once (NAT
  rebinding, Wi-Fi to mobile data). Reported: the texts sent in the ``after_s`` seconds after
  the change, the detection and reconnection times and when the last of them arrived.

The clients use the production timings (:class:`~quicko.client.ConnectionSettings` defaults:
idle ping 15 s, a probe 3 s after an unacknowledged Message, Pong timeout 5 s, opening
timeout 10 s) unless ``fast`` asks for the fault tests' short ones. Every text must arrive
exactly once; ``lost`` counts those missing when the scenario's bound expired and ``dup`` those
shown twice. This module sleeps only to pace the offered load and to hold a fault for its
length.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Final, TextIO

from quicko.bench.client import BenchError
from quicko.bench.faultproxy import FaultProxy
from quicko.bench.procs import ServerProcess, relay_argv
from quicko.bench.stats import latency_summary
from quicko.client import (
    AsyncQuickoClient,
    Connected,
    ConnectionSettings,
    Disconnected,
    MessageReceived,
    SessionReady,
)
from quicko.errors import QuickoError

__all__ = [
    "FAST_SETTINGS",
    "FaultBenchOptions",
    "format_faults_table",
    "run_faults_bench",
]

FAST_SETTINGS: Final = ConnectionSettings(
    ping_interval=2.0,
    ping_timeout=1.5,
    probe_after=1.0,
    backoff_initial=0.05,
    backoff_maximum=0.5,
    close_timeout=0.5,
    open_timeout=1.0,
    handshake_timeout=1.0,
)
"""The fault tests' short client timings (``--fast``): dead links found in about 2.5 s."""

_RELAY_CONNECTIONS: Final = 100
_STOP_S: Final = 5.0
_SETUP_S: Final = 30.0
_NAMES: Final = ("alice", "bob")


@dataclass(frozen=True, slots=True)
class FaultBenchOptions:
    """What ``quicko bench faults`` runs (see the module docstring)."""

    blackhole_s: float = 10.0
    rate: float = 5.0
    clean_s: float = 3.0
    after_s: float = 3.0
    timeout: float = 90.0
    fast: bool = False
    relay_args: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        """The options as a JSON-ready dictionary."""
        return {**asdict(self), "relay_args": list(self.relay_args)}


@dataclass
class _Probe:
    """Send and receive times (``time.monotonic``) of the texts of one pair, by text."""

    sent: dict[str, float] = field(default_factory=dict)
    received: dict[str, float] = field(default_factory=dict)
    duplicates: int = 0
    disconnected: dict[str, list[float]] = field(default_factory=dict)
    connected: dict[str, list[float]] = field(default_factory=dict)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def latencies_ns(self, texts: Iterable[str]) -> list[int]:
        """Latencies of the texts of ``texts`` that arrived, in ns."""
        return [
            int((self.received[text] - self.sent[text]) * 1e9)
            for text in texts
            if text in self.received
        ]


class _Pair:
    """Alice and Bob, chatting through the proxy, read by background tasks."""

    def __init__(self, url: str, settings: ConnectionSettings) -> None:
        self.alice = AsyncQuickoClient(url, settings=settings)
        self.bob = AsyncQuickoClient(url, settings=settings)
        self.probe = _Probe()
        self.session_id = ""
        self._readers: list[asyncio.Task[None]] = []
        self._count = 0

    async def __aenter__(self) -> _Pair:
        try:
            await self.alice.connect()
            await self.bob.connect()
        except TimeoutError:
            raise BenchError("a client could not connect to the relay") from None
        info = await self.alice.create_session()
        if info.invite_code is None:
            raise BenchError("the session has no invite code")
        await self.bob.join_session(info.invite_code)
        self.session_id = info.session_id
        ready = [asyncio.Event(), asyncio.Event()]
        for name, client, event in (("alice", self.alice, ready[0]), ("bob", self.bob, ready[1])):
            self._readers.append(asyncio.create_task(self._read(name, client, event)))
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in ready)), _SETUP_S)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        for task in self._readers:
            task.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)
        for client in (self.alice, self.bob):
            with contextlib.suppress(TimeoutError, QuickoError, OSError):
                await asyncio.wait_for(client.disconnect(), _STOP_S)

    async def _read(self, name: str, client: AsyncQuickoClient, ready: asyncio.Event) -> None:
        probe = self.probe
        while True:
            event = await client.next_event()
            now = time.monotonic()
            if isinstance(event, MessageReceived):
                text = event.message.text
                if text in probe.received:
                    probe.duplicates += 1
                else:
                    probe.received[text] = now
                    probe.arrived.set()
            elif isinstance(event, Disconnected):
                probe.disconnected.setdefault(name, []).append(now)
            elif isinstance(event, Connected):
                probe.connected.setdefault(name, []).append(now)
            elif isinstance(event, SessionReady) and event.session.session_id == self.session_id:
                ready.set()

    async def send_for(self, seconds: float, rate: float, label: str) -> list[str]:
        """Both send ``rate`` texts per second each for ``seconds``; the texts sent."""
        texts: list[str] = []
        start = time.monotonic()
        tick = 0
        while (now := time.monotonic()) < start + seconds:
            for client in (self.alice, self.bob):
                self._count += 1
                text = f"{label} {self._count}"
                self.probe.sent[text] = time.monotonic()
                await client.send_message(self.session_id, text)
                texts.append(text)
            tick += 1
            await asyncio.sleep(max(0.0, start + tick / rate - now))
        return texts

    async def delivered(self, texts: Iterable[str], timeout: float) -> bool:
        """Wait (at most ``timeout``) until every text of ``texts`` arrived."""
        wanted = list(texts)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while not all(text in self.probe.received for text in wanted):
                    self.probe.arrived.clear()
                    await self.probe.arrived.wait()
                return True
        return False


def _group(probe: _Probe, texts: list[str]) -> dict[str, object]:
    summary = latency_summary(probe.latencies_ns(texts))
    ms = {
        key.replace("_us", "_ms"): (None if value is None else round(value / 1000, 2))
        for key, value in summary.as_dict().items()
        if key.endswith("_us")
    }
    lost = sum(1 for text in texts if text not in probe.received)
    return {"texts": len(texts), **ms, "lost": lost}


def _first_after(events: Mapping[str, list[float]], since: float) -> float | None:
    """Seconds from ``since`` until both clients had an event after it (the later of the two)."""
    found = [
        min(t for t in times if t >= since) - since
        for times in events.values()
        if any(t >= since for t in times)
    ]
    return round(max(found), 2) if len(found) == len(_NAMES) else None


def _last_arrival(probe: _Probe, texts: list[str], since: float) -> float | None:
    times = [probe.received[text] for text in texts if text in probe.received]
    return round(max(times) - since, 2) if times else None


Scenario = Callable[[_Pair, FaultProxy, FaultBenchOptions], Awaitable[dict[str, object]]]


async def _clean(pair: _Pair, proxy: FaultProxy, options: FaultBenchOptions) -> dict[str, object]:
    texts = await pair.send_for(options.clean_s, options.rate, "clean")
    await pair.delivered(texts, options.timeout)
    return {"sent_on_a_clean_link": _group(pair.probe, texts), "dup": pair.probe.duplicates}


async def _blackhole(
    pair: _Pair, proxy: FaultProxy, options: FaultBenchOptions
) -> dict[str, object]:
    start = time.monotonic()
    proxy.blackhole()
    during = await pair.send_for(options.blackhole_s, options.rate, "during")
    proxy.restore()
    back = time.monotonic()
    after = await pair.send_for(options.after_s, options.rate, "after")
    await pair.delivered(during + after, options.timeout)
    return {
        "sent_during": _group(pair.probe, during),
        "sent_right_after": _group(pair.probe, after),
        "detected_s": _first_after(pair.probe.disconnected, start),
        "reconnected_after_restore_s": _first_after(pair.probe.connected, back),
        "last_arrival_after_restore_s": _last_arrival(pair.probe, during + after, back),
        "blackhole_s": round(back - start, 2),
        "dup": pair.probe.duplicates,
    }


async def _path_change(
    pair: _Pair, proxy: FaultProxy, options: FaultBenchOptions
) -> dict[str, object]:
    start = time.monotonic()
    proxy.path_change()
    after = await pair.send_for(options.after_s, options.rate, "after")
    await pair.delivered(after, options.timeout)
    return {
        "sent_right_after": _group(pair.probe, after),
        "detected_s": _first_after(pair.probe.disconnected, start),
        "reconnected_after_change_s": _first_after(pair.probe.connected, start),
        "last_arrival_after_change_s": _last_arrival(pair.probe, after, start),
        "dup": pair.probe.duplicates,
    }


SCENARIOS: Final[Mapping[str, Scenario]] = {
    "clean": _clean,
    "blackhole": _blackhole,
    "path_change": _path_change,
}


async def _run(options: FaultBenchOptions, show: Callable[[str], None]) -> dict[str, object]:
    settings = FAST_SETTINGS if options.fast else ConnectionSettings()
    results: dict[str, object] = {}
    async with FaultProxy() as proxy:
        public = f"ws://127.0.0.1:{proxy.port}"
        argv = relay_argv(_RELAY_CONNECTIONS, ("--public-url", public, *options.relay_args))
        async with ServerProcess("relay", argv) as relay:
            proxy.upstream_port = relay.port
            for name, scenario in SCENARIOS.items():
                try:
                    async with asyncio.timeout(options.timeout + _SETUP_S + options.blackhole_s):
                        async with _Pair(proxy.url, settings) as pair:
                            # Warm up: the ratchets advance both ways before the clock runs.
                            warm = await pair.send_for(0.5, options.rate, "warm-up")
                            if not await pair.delivered(warm, _SETUP_S):
                                raise BenchError("the warm-up texts did not arrive")
                            result = await scenario(pair, proxy, options)
                except TimeoutError:
                    result = {"error": "did not finish in time"}
                except (BenchError, QuickoError, OSError) as exc:
                    result = {"error": f"{type(exc).__name__}: {exc}"}
                proxy.forget_dead()
                results[name] = result
                show(f"{name}: done")
    return results


def run_faults_bench(
    options: FaultBenchOptions, progress: TextIO | None = None
) -> dict[str, object]:
    """Run the fault benchmark; return its report (``parameters``, ``machine``, ``results``).

    Progress lines go to *progress* (standard error by default). SIGTERM and SIGINT cancel the
    run; the relay process is stopped before this returns or raises.
    """
    stream = progress if progress is not None else sys.stderr

    def show(line: str) -> None:
        stream.write(line + "\n")
        stream.flush()

    async def main() -> dict[str, object]:
        task = asyncio.current_task()
        if task is not None:
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        return await _run(options, show)

    load_before = os.getloadavg()
    results = asyncio.run(main())
    machine = {
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "client_timings": "fast (the fault tests')" if options.fast else "production defaults",
        "load_average_before": [round(v, 2) for v in load_before],
        "load_average_after": [round(v, 2) for v in os.getloadavg()],
    }
    return {"parameters": options.as_dict(), "machine": machine, "results": results}


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.1f}"
    return str(value)


def format_faults_table(report: Mapping[str, object]) -> str:
    """The report as a table: one row per group of texts, the fault's timings beside it."""
    results = report.get("results")
    parameters = report.get("parameters")
    if not isinstance(results, Mapping) or not isinstance(parameters, Mapping):
        return "no results"
    head = (
        f"delivery under faults: {parameters.get('rate')} texts/s each way, blackhole "
        f"{parameters.get('blackhole_s')} s, 'right after' = {parameters.get('after_s')} s, "
        f"{'fast' if parameters.get('fast') else 'production'} client timings"
    )
    rows = [head, ""]
    rows.append(
        f"{'texts sent':<34}{'n':>5}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}{'lost':>6}"
        f"  fault timings"
    )
    labels = {
        "sent_on_a_clean_link": "on a clean link",
        "sent_during": "during the blackhole",
        "sent_right_after": "right after",
    }
    for name, result in results.items():
        if not isinstance(result, Mapping):
            continue
        if "error" in result:
            rows.append(f"{name:<34}error: {result['error']}")
            continue
        notes = ", ".join(
            f"{key.replace('_', ' ')} {_cell(value)}"
            for key, value in result.items()
            if key.endswith("_s") and key != "blackhole_s"
        )
        if result.get("dup"):
            notes += f", {result['dup']} shown twice"
        first = True
        for key, label in labels.items():
            group = result.get(key)
            if not isinstance(group, Mapping):
                continue
            title = f"{name.replace('_', ' ')}: {label}"
            rows.append(
                f"{title:<34}{group['texts']:>5}{_cell(group['p50_ms']):>10}"
                f"{_cell(group['p99_ms']):>10}{_cell(group['max_ms']):>10}{group['lost']:>6}"
                f"  {notes if first else ''}".rstrip()
            )
            first = False
    return "\n".join(rows)
