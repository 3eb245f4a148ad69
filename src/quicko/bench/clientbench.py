"""The scenarios of ``quicko bench client``: what QuickoClients cost end to end, via a relay.

Each scenario is given the URL of a real relay (started by :mod:`quicko.bench.clientrun` with
its limits lifted) and drives real :class:`~quicko.client.AsyncQuickoClient` instances in this
process, all on one asyncio event loop: every client shares one core. The clients do not pace
themselves (:data:`BENCH_SETTINGS`). Scenarios:

- **messages**: Alice sends ``messages`` texts to Bob in one authenticated session, keeping at
  most ``window`` of them sent and not yet DELIVERED; measured are the send_message calls per
  second, the rate at which Bob receives them (:class:`MessageReceived`) and the rate at which
  Alice sees them DELIVERED (:class:`StatusChanged`), all from the first measured send.
- **joins**: Alice creates a session and a fresh client joins it by invite code, until
  ``join_session`` returns with Alice authenticated (PAKE, key confirmation, bundles, ratchet).
- **calls**: a caller calls a registered QuickoKey whose client accepts every
  :class:`IncomingCall` from its event stream, until ``call()`` returns.

For joins and calls, also the bytes of the frames both clients sent and received from the start
of the clock until the two links are quiet (``wire_bytes`` of each client, after minus before):
the frames still in flight when the clock stops (the initiator's first message reaching the
joiner, acknowledgements) belong to the join or call. That wait is left out of the CPU figures.

Every loop is bounded in count, the measured part of the messages scenario in time
(``timeout``; the runner bounds every whole scenario); every client is disconnected on exit, on
error and on cancellation. docs/performance.md reports the numbers.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import secrets
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Final, NamedTuple, TypeVar

from quicko.bench.client import BenchError
from quicko.bench.clientreport import ClientBenchOptions, byte_summary, sample_summary
from quicko.bench.stats import parse_cpu_ticks, parse_vm_rss
from quicko.client import (
    AsyncQuickoClient,
    ConnectionSettings,
    DeliveryStatus,
    IncomingCall,
    MessageReceived,
    SessionReady,
    StatusChanged,
)
from quicko.client.hop import ACK_DELAY_S
from quicko.errors import QuickoError
from quicko.identity import Identity
from quicko.relay.collector import GcPauses

__all__ = [
    "BENCH_SETTINGS",
    "QUIET_S",
    "SCENARIOS",
    "WARMUP_MESSAGES",
    "Scenario",
    "measure_calls",
    "measure_joins",
    "measure_messages",
]

BENCH_SETTINGS: Final = ConnectionSettings(send_rate=1e9, send_burst=10**9)
"""Client settings of the benchmark: no client-side pacing (the relay's limits are lifted)."""

WARMUP_MESSAGES: Final = 20
"""Messages sent and DELIVERED before the measured ones (first-use costs, ratchet steps)."""

_STOP_S: Final = 5.0

QUIET_S: Final = ACK_DELAY_S + 0.05
"""No frame for this long (longer than a Received acknowledgement may wait): the links are quiet."""

_QUIET_CHECKS: Final = 20

E = TypeVar("E")

Scenario = Callable[[str, ClientBenchOptions, int], Awaitable[dict[str, object]]]
"""A measurement: (relay URL, options, relay pid) → its raw result."""


# ---------------------------------------------------------------------- helpers


def _cpu_ticks(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return parse_cpu_ticks(stat.read())
    except (OSError, ValueError):
        return None


class _CpuMeter:
    """CPU use of the relay and of this process (all the clients) from creation to result."""

    def __init__(self, relay_pid: int) -> None:
        self._pid = relay_pid
        self._relay = _cpu_ticks(relay_pid)
        self._own = time.process_time()
        self._start = time.perf_counter()

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Leave the block's time and CPU use out of the result."""
        relay, own, start = _cpu_ticks(self._pid), time.process_time(), time.perf_counter()
        try:
            yield
        finally:
            self._start += time.perf_counter() - start
            self._own += time.process_time() - own
            relay_now = _cpu_ticks(self._pid)
            if self._relay is not None and relay is not None and relay_now is not None:
                self._relay += relay_now - relay

    def own_cpu_s(self) -> float:
        """CPU seconds this process (every client) used so far, paused blocks left out."""
        return time.process_time() - self._own

    def result(self) -> dict[str, float | None]:
        elapsed = max(time.perf_counter() - self._start, 1e-9)
        own = (time.process_time() - self._own) / elapsed * 100
        relay_now = _cpu_ticks(self._pid)
        relay = None
        if self._relay is not None and relay_now is not None:
            relay = (relay_now - self._relay) / os.sysconf("SC_CLK_TCK") / elapsed * 100
        return {
            "clients_cpu_pct": round(own, 1),
            "relay_cpu_pct": None if relay is None else round(relay, 1),
        }


@contextlib.contextmanager
def _collections() -> Iterator[GcPauses]:
    """Time this process's (the clients') collections during the block.

    With a :class:`~quicko.relay.collector.GcPauses` of its own, the relay's timer (a light
    module: nothing of the relay's server or picows is loaded into the clients' process, whose
    RSS the result reports).
    """
    pauses = GcPauses()
    gc.callbacks.append(pauses.callback)
    try:
        yield pauses
    finally:
        gc.callbacks.remove(pauses.callback)


def _own_rss_mb() -> float | None:
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as status:
            return round(parse_vm_rss(status.read()) / 2**20, 1)
    except (OSError, ValueError):
        return None


def _gc_result(pauses: GcPauses) -> dict[str, object]:
    """The collections of the clients' process in the measured window, and its memory after."""
    return {
        "gc_collections": pauses.collections,
        "gc_by_generation": list(pauses.by_generation),
        "gc_pause_total_ms": round(pauses.total_us / 1e3, 2),
        "gc_pause_max_ms": round(pauses.max_us / 1e3, 2),
        "gc_thresholds": list(gc.get_threshold()),
        "gc_frozen": gc.get_freeze_count(),
        "clients_rss_mb": _own_rss_mb(),
    }


class _Pool:
    """The clients and background tasks of one scenario; all stopped when the block ends."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._clients: list[AsyncQuickoClient] = []
        self._tasks: list[asyncio.Task[None]] = []

    async def new(self, identity: Identity | None = None) -> AsyncQuickoClient:
        """A connected client (a fresh ephemeral identity unless one is given)."""
        client = AsyncQuickoClient(self.url, identity=identity, settings=BENCH_SETTINGS)
        self._clients.append(client)
        try:
            await client.connect()
        except TimeoutError:
            raise BenchError("a client could not connect to the relay") from None
        return client

    def spawn(self, work: Coroutine[None, None, None]) -> None:
        """Run ``work`` in the background until the block ends."""
        self._tasks.append(asyncio.get_running_loop().create_task(work))

    async def close(self, client: AsyncQuickoClient) -> None:
        """Disconnect one client (bounded in time; failures ignored: it is being dropped)."""
        if client in self._clients:
            self._clients.remove(client)
        with contextlib.suppress(TimeoutError, QuickoError, OSError):
            await asyncio.wait_for(client.disconnect(), _STOP_S)

    async def __aenter__(self) -> _Pool:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for client in list(self._clients):
            await self.close(client)


def _wire(*clients: AsyncQuickoClient) -> tuple[int, int]:
    """Bytes (sent, received) of the frames these clients exchanged with the relay so far."""
    totals = [client.wire_bytes for client in clients]
    return sum(sent for sent, _ in totals), sum(received for _, received in totals)


async def _quiet_wire(meter: _CpuMeter | None, *clients: AsyncQuickoClient) -> tuple[int, int]:
    """:func:`_wire` once no frame has moved for :data:`QUIET_S` (waits at most 20 times that)."""
    with meter.paused() if meter is not None else contextlib.nullcontext():
        last = _wire(*clients)
        for _ in range(_QUIET_CHECKS):
            await asyncio.sleep(QUIET_S)
            now, last = last, _wire(*clients)
            if now == last:
                break
    return last


def _bytes(samples: Sequence[tuple[int, int]]) -> dict[str, float]:
    """Median and range of (client->relay, relay->client) bytes per join or call."""
    return {
        **byte_summary([up for up, _ in samples], "up_"),
        **byte_summary([down for _, down in samples], "down_"),
    }


async def _next_of(client: AsyncQuickoClient, kind: type[E]) -> E:
    while True:
        event = await client.next_event()
        if isinstance(event, kind):
            return event


async def _pair(pool: _Pool) -> tuple[AsyncQuickoClient, AsyncQuickoClient, str]:
    """Alice and Bob, connected and authenticated in one session, and its id."""
    alice, bob = await pool.new(), await pool.new()
    info = await alice.create_session()
    if info.invite_code is None:
        raise BenchError("the session has no invite code")
    await bob.join_session(info.invite_code)
    while (await _next_of(alice, SessionReady)).session.session_id != info.session_id:
        pass
    return alice, bob, info.session_id


# ---------------------------------------------------------------------- messages


class _Flow:
    """Counts, in one session, Bob's received messages and Alice's settled ones."""

    def __init__(self, session_id: str) -> None:
        self.session_id = session_id
        self.received = 0
        self.settled = 0
        self.failed = 0
        self.target = 0
        self.received_at: float | None = None
        self.settled_at: float | None = None
        self._changed = asyncio.Event()

    def expect(self, target: int) -> None:
        """Stamp the moments the counts reach ``target`` (from now on)."""
        self.target, self.received_at, self.settled_at = target, None, None

    async def read_bob(self, bob: AsyncQuickoClient) -> None:
        while True:
            event = await bob.next_event()
            if isinstance(event, MessageReceived) and event.session_id == self.session_id:
                self.received += 1
                if self.received_at is None and self.received >= self.target:
                    self.received_at = time.perf_counter()
                self._changed.set()

    async def read_alice(self, alice: AsyncQuickoClient) -> None:
        while True:
            event = await alice.next_event()
            if not isinstance(event, StatusChanged) or event.session_id != self.session_id:
                continue
            if event.status is DeliveryStatus.FAILED:
                self.failed += 1
            elif event.status is not DeliveryStatus.DELIVERED:
                continue
            self.settled += 1
            if self.settled_at is None and self.settled >= self.target:
                self.settled_at = time.perf_counter()
            self._changed.set()

    async def until(self, check: Callable[[], bool]) -> None:
        """Wait until ``check()`` holds (re-checked after every counted event)."""
        while not check():
            self._changed.clear()
            await self._changed.wait()

    async def room(self, number: int, window: int) -> None:
        """Wait until message ``number`` (from 0) leaves fewer than ``window`` outstanding."""
        await self.until(lambda: number - self.settled < window)

    def done(self) -> bool:
        """Whether both counts reached the target."""
        return self.received >= self.target and self.settled >= self.target


def _text(number: int, size: int) -> str:
    return f"{number:08d} ".ljust(size, "x")[:size]


async def _send(
    alice: AsyncQuickoClient, flow: _Flow, numbers: range, options: ClientBenchOptions
) -> float:
    """Send the messages ``numbers`` within the window; return the time spent in the calls."""
    inside = 0.0
    for number in numbers:
        await flow.room(number, options.window)
        start = time.perf_counter()
        await alice.send_message(flow.session_id, _text(number, options.text_bytes))
        inside += time.perf_counter() - start
    return inside


async def measure_messages(
    url: str, options: ClientBenchOptions, relay_pid: int
) -> dict[str, object]:
    """Alice sends ``options.messages`` texts to Bob; the send, receive and DELIVERED rates."""
    async with _Pool(url) as pool:
        alice, bob, session_id = await _pair(pool)
        flow = _Flow(session_id)
        pool.spawn(flow.read_bob(bob))
        pool.spawn(flow.read_alice(alice))
        flow.expect(WARMUP_MESSAGES)
        await _send(alice, flow, range(WARMUP_MESSAGES), options)
        await flow.until(flow.done)
        total = WARMUP_MESSAGES + options.messages
        flow.expect(total)
        meter = _CpuMeter(relay_pid)
        start = time.perf_counter()
        try:
            with _collections() as pauses:
                async with asyncio.timeout(options.timeout):
                    inside = await _send(alice, flow, range(WARMUP_MESSAGES, total), options)
                    sent_at = time.perf_counter()
                    await flow.until(flow.done)
        except TimeoutError:
            raise BenchError(
                f"after {options.timeout:g} s Bob had {flow.received - WARMUP_MESSAGES}"
                f" and Alice {flow.settled - WARMUP_MESSAGES} DELIVERED of {options.messages}"
            ) from None
        cpu_s = meter.own_cpu_s()
        cpu = meter.result()
        collected = _gc_result(pauses)
    if flow.failed or flow.received_at is None or flow.settled_at is None:
        raise BenchError(f"{flow.failed} messages FAILED")
    count = options.messages
    return {
        "messages": count,
        "window": options.window,
        "text_bytes": options.text_bytes,
        "send_s": sent_at - start,
        "receive_s": flow.received_at - start,
        "deliver_s": flow.settled_at - start,
        "sent_per_s": count / (sent_at - start),
        "received_per_s": count / (flow.received_at - start),
        "delivered_per_s": count / (flow.settled_at - start),
        "send_call_us": inside / count * 1e6,
        # On a shared machine the clients may get less than their core: CPU per message is
        # the number that does not depend on it (both ends, everything in this process).
        "client_cpu_us": cpu_s / count * 1e6,
        "delivered_per_cpu_s": count / max(cpu_s, 1e-9),
        **cpu,
        **collected,
    }


# ---------------------------------------------------------------------- joins


class _Stamps:
    """Moments at which keys (session ids) were seen, and waits for them."""

    def __init__(self) -> None:
        self._seen: dict[str, float] = {}
        self._changed = asyncio.Event()

    def mark(self, key: str) -> None:
        self._seen.setdefault(key, time.perf_counter())
        self._changed.set()

    async def wait(self, key: str) -> float:
        while key not in self._seen:
            self._changed.clear()
            await self._changed.wait()
        return self._seen.pop(key)


async def _stamp_ready(client: AsyncQuickoClient, stamps: _Stamps) -> None:
    while True:
        stamps.mark((await _next_of(client, SessionReady)).session.session_id)


class _Join(NamedTuple):
    create_s: float
    join_s: float
    ready_s: float
    wire: tuple[int, int]


async def _one_join(
    pool: _Pool, alice: AsyncQuickoClient, ready: _Stamps, meter: _CpuMeter | None
) -> _Join:
    """One join by a fresh client: times (create, create + join, both ready) and its bytes."""
    bob = await pool.new()
    wire = _wire(alice, bob)
    start = time.perf_counter()
    info = await alice.create_session()
    created = time.perf_counter()
    if info.invite_code is None:
        raise BenchError("the session has no invite code")
    await bob.join_session(info.invite_code)
    joined = time.perf_counter()
    alice_ready = await ready.wait(info.session_id)
    sent, received = await _quiet_wire(meter, alice, bob)
    await pool.close(bob)
    await alice.destroy_session(info.session_id)
    wire = (sent - wire[0], received - wire[1])
    return _Join(created - start, joined - start, max(joined, alice_ready) - start, wire)


async def measure_joins(url: str, options: ClientBenchOptions, relay_pid: int) -> dict[str, object]:
    """``options.joins`` invite-code joins (after one warm-up join), one fresh joiner each."""
    async with _Pool(url) as pool:
        alice = await pool.new()
        ready = _Stamps()
        pool.spawn(_stamp_ready(alice, ready))
        first = await _one_join(pool, alice, ready, None)
        meter = _CpuMeter(relay_pid)
        samples = [await _one_join(pool, alice, ready, meter) for _ in range(options.joins)]
        cpu = meter.result()
    return {
        "joins": options.joins,
        "first_ms": first.join_s * 1000,
        **sample_summary([sample.join_s for sample in samples]),
        **sample_summary([sample.create_s for sample in samples], "create_"),
        **sample_summary([sample.ready_s for sample in samples], "ready_"),
        **_bytes([sample.wire for sample in samples]),
        **cpu,
    }


# ---------------------------------------------------------------------- calls


async def _answer(callee: AsyncQuickoClient, answered: asyncio.Queue[str]) -> None:
    """Accept every incoming call; queue each call's session id ("" when it failed)."""
    while True:
        ring = await _next_of(callee, IncomingCall)
        try:
            info = await callee.answer_call(ring.call_id, accept=True)
        except QuickoError:
            info = None
        answered.put_nowait(info.session_id if info is not None else "")


async def _one_call(
    caller: AsyncQuickoClient,
    callee: AsyncQuickoClient,
    answered: asyncio.Queue[str],
    timeout: float,
    meter: _CpuMeter | None,
) -> tuple[float, tuple[int, int]]:
    """One accepted call: its duration in seconds and its bytes (until the callee answered).

    Both sides then destroy its session.
    """
    wire = _wire(caller, callee)
    start = time.perf_counter()
    info = await caller.call(callee.identity_info.quickokey, timeout=timeout)
    elapsed = time.perf_counter() - start
    callee_session = await answered.get()
    sent, received = await _quiet_wire(meter, caller, callee)
    if callee_session != info.session_id:
        raise BenchError("the callee's session is not the caller's")
    await caller.destroy_session(info.session_id)
    await callee.destroy_session(callee_session)
    return elapsed, (sent - wire[0], received - wire[1])


async def measure_calls(url: str, options: ClientBenchOptions, relay_pid: int) -> dict[str, object]:
    """``options.calls`` calls by QuickoKey (after one warm-up call) to an auto-answering client."""
    async with _Pool(url) as pool:
        callee = await pool.new(Identity.generate(secrets.token_bytes))
        await callee.register_key()
        answered: asyncio.Queue[str] = asyncio.Queue()
        pool.spawn(_answer(callee, answered))
        caller = await pool.new()
        first = await _one_call(caller, callee, answered, options.timeout, None)
        meter = _CpuMeter(relay_pid)
        samples = [
            await _one_call(caller, callee, answered, options.timeout, meter)
            for _ in range(options.calls)
        ]
        cpu = meter.result()
    return {
        "calls": options.calls,
        "first_ms": first[0] * 1000,
        **sample_summary([elapsed for elapsed, _ in samples]),
        **_bytes([wire for _, wire in samples]),
        **cpu,
    }


SCENARIOS: Final[Mapping[str, Scenario]] = {
    "messages": measure_messages,
    "joins": measure_joins,
    "calls": measure_calls,
}
"""Every scenario by name (:data:`~quicko.bench.clientreport.CLIENT_SCENARIOS` gives the order)."""
