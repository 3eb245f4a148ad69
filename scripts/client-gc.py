"""The client's cyclic collector in the messages scenario of ``quicko bench client``, per policy.

Runs the scenario in this process (a fresh relay process each time, as the benchmark does) under
one collector policy, applied after the imports as the apps apply theirs, and prints one JSON
line per run: collections (per generation), their total and longest pause, the objects they
walked (at the start of every collection, the objects in the generations it collects: a count
the machine's load does not move), the client CPU per message, and the process's RSS after
the run and its peak. docs/performance.md ("fifth pass") reports it. Examples:

    PYTHONPATH=src python scripts/client-gc.py default 20000 2
    PYTHONPATH=src python scripts/client-gc.py apps 20000 2        # quicko.client.tune_client_gc
    PYTHONPATH=src python scripts/client-gc.py 50000,50,100/freeze 20000 2
    PYTHONPATH=<older tree>/src python scripts/client-gc.py 10000,50,100/freeze 20000 2

Usage: ``client-gc.py POLICY MESSAGES RUNS``; POLICY is ``default`` (CPython's), ``apps`` or
``T0,T1,T2`` thresholds, optionally followed by ``/freeze``.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import sys
import time

from quicko.bench.clientreport import ClientBenchOptions
from quicko.bench.clientrun import SCENARIOS, _cpus, _pinned  # the runner's own helpers
from quicko.bench.procs import ServerProcess, relay_argv


class _Log:
    """Every collection: generation, objects walked, pause (µs)."""

    def __init__(self) -> None:
        self.entries: list[tuple[int, int, float]] = []
        self._walked = 0
        self._started = 0

    def callback(self, phase: str, info: dict[str, int]) -> None:
        generation = info["generation"]
        if phase == "start":
            self._walked = sum(len(gc.get_objects(g)) for g in range(generation + 1))
            self._started = time.perf_counter_ns()
            return
        pause_us = (time.perf_counter_ns() - self._started) / 1e3
        self.entries.append((generation, self._walked, pause_us))


def _apply(policy: str) -> None:
    if policy == "default":
        return
    if policy == "apps":
        from quicko.client import tune_client_gc  # noqa: PLC0415 (older trees have none)

        tune_client_gc()
        return
    thresholds, _, freeze = policy.partition("/")
    gc.collect()
    if freeze == "freeze":
        gc.freeze()
    first, second, third = (int(value) for value in thresholds.split(","))
    gc.set_threshold(first, second, third)


def _memory_kb() -> dict[str, int]:
    with open("/proc/self/status", encoding="ascii") as status:
        fields = dict(line.split(":", 1) for line in status if line.startswith(("VmRSS", "VmHWM")))
    return {key: int(value.split()[0]) for key, value in fields.items()}


async def _run(options: ClientBenchOptions, relay_cpu: int | None) -> dict[str, object]:
    async with ServerProcess("relay", relay_argv(1000, ()), cpu=relay_cpu) as relay:
        return await SCENARIOS["messages"](f"ws://127.0.0.1:{relay.port}", options, relay.pid)


async def main(policy: str, messages: int, runs: int, relay_cpu: int | None) -> None:
    """Run the scenario ``runs`` times under ``policy``; one JSON line each."""
    _apply(policy)
    log = _Log()
    gc.callbacks.append(log.callback)
    options = ClientBenchOptions(messages=messages)
    for _ in range(runs):
        log.entries.clear()
        result = await _run(options, relay_cpu)
        entries = log.entries
        memory = _memory_kb()
        line = {
            "policy": policy,
            "collections": [sum(1 for e in entries if e[0] == g) for g in range(3)],
            "pause_total_ms": round(sum(e[2] for e in entries) / 1e3, 2),
            "pause_max_ms": round(max((e[2] for e in entries), default=0.0) / 1e3, 2),
            "walked_per_message": round(sum(e[1] for e in entries) / messages, 2),
            "walked_max": max((e[1] for e in entries), default=0),
            "client_cpu_us": round(float(str(result["client_cpu_us"])), 1),
            "rss_mb": round(memory["VmRSS"] / 1024, 1),
            "peak_rss_mb": round(memory["VmHWM"] / 1024, 1),
            "load": round(os.getloadavg()[0], 2),
        }
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    relay_cpu, clients_cpu = _cpus(True)
    with _pinned(clients_cpu):
        asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), relay_cpu))
