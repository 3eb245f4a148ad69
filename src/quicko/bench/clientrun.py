"""The client benchmark's run: a fresh relay process per scenario, the clients in this process.

Scenarios (:mod:`quicko.bench.clientbench`) run in a fixed order (messages, joins, calls), and
the whole sequence ``repeat`` times. Each scenario gets a fresh relay on 127.0.0.1 port 0 with
its limits lifted, so that no run inherits another's sessions or directory. Where the machine has
two CPUs or more, the relay is pinned to one and this process (every client, one event loop) to
another for the run; the former affinity is restored afterwards. A failed run is recorded as
``{"error": …}`` and the benchmark goes on with the next one.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from importlib import metadata
from typing import Final, TextIO

from quicko.bench.client import BenchError
from quicko.bench.clientbench import SCENARIOS
from quicko.bench.clientreport import CLIENT_SCENARIOS, ClientBenchOptions, build_client_report
from quicko.bench.procs import ServerProcess, relay_argv
from quicko.bench.runner import DEFAULTS, machine_info
from quicko.client.collector import tune_client_gc
from quicko.client.compiled import hot_path
from quicko.errors import QuickoError

__all__ = ["SETUP_MARGIN_S", "client_machine_info", "run_client_bench"]

SETUP_MARGIN_S: Final = 30.0
"""Time a scenario may take beyond ``timeout`` to connect its clients and clean up, in s."""

_RELAY_CONNECTIONS: Final = 1000


def _cpus(pin: bool) -> tuple[int | None, int | None]:
    """CPUs for (relay, clients): two distinct ones when pinning is possible."""
    available = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if not pin or len(available) < 2:  # two CPUs: one each
        return None, None
    return available[0], available[1]


@contextlib.contextmanager
def _pinned(cpu: int | None) -> Iterator[None]:
    """Pin this process to ``cpu`` for the block (its former affinity is restored)."""
    if cpu is None:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


async def _run_one(
    scenario: str, options: ClientBenchOptions, relay_cpu: int | None
) -> dict[str, object]:
    argv = relay_argv(_RELAY_CONNECTIONS, options.relay_args)
    async with ServerProcess("relay", argv, cpu=relay_cpu) as relay:
        url = f"ws://127.0.0.1:{relay.port}"
        limit = options.timeout + SETUP_MARGIN_S
        try:
            async with asyncio.timeout(limit):
                return await SCENARIOS[scenario](url, options, relay.pid)
        except TimeoutError:
            raise BenchError(f"did not finish within {limit:g} s") from None
        except BenchError:
            raise
        except (QuickoError, OSError) as exc:
            raise BenchError(f"{type(exc).__name__}: {exc}") from exc


def _summary(result: Mapping[str, object]) -> str:
    for key in ("delivered_per_s", "p50_ms"):
        value = result.get(key)
        if isinstance(value, int | float):
            return f"{key}={value:,.1f}"
    return str(result.get("error", "?"))


async def _run_all(
    options: ClientBenchOptions, relay_cpu: int | None, show: Callable[[str], None]
) -> dict[str, list[dict[str, object]]]:
    runs: dict[str, list[dict[str, object]]] = {}
    scenarios = [name for name in CLIENT_SCENARIOS if name not in options.skip]
    for repetition in range(1, options.repeat + 1):
        for scenario in scenarios:
            try:
                result = await _run_one(scenario, options, relay_cpu)
            except BenchError as exc:
                result = {"error": str(exc)}
            runs.setdefault(scenario, []).append(result)
            show(f"[{repetition}/{options.repeat}] {scenario}: {_summary(result)}")
    return runs


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def client_machine_info(relay_cpu: int | None, clients_cpu: int | None) -> dict[str, object]:
    """The machine and software the numbers were measured on, and who ran on which CPU."""
    machine = machine_info(replace(DEFAULTS, pin=False))
    for key in ("server_cpu", "load_cpu"):
        machine.pop(key, None)
    machine.update(
        relay_cpu=relay_cpu,
        clients_cpu=clients_cpu,
        event_loop="asyncio (default), one loop for every client",
        websockets=_version("websockets"),
        pake="CPace (quicko.crypto.cpace), CPACE-X25519-SHA512",
        # "python" (the default) or "compiled" (scripts/compile.sh: quicko.client.compiled).
        client_path=hot_path(),
    )
    return machine


def run_client_bench(
    options: ClientBenchOptions, progress: TextIO | None = None
) -> dict[str, object]:
    """Run the client benchmark and return its report (see :func:`build_client_report`).

    Progress lines go to *progress* (standard error by default). SIGTERM and SIGINT cancel
    the run; every client and relay process is stopped before this returns or raises.
    """
    stream = progress if progress is not None else sys.stderr

    def show(line: str) -> None:
        stream.write(line + "\n")
        stream.flush()

    relay_cpu, clients_cpu = _cpus(options.pin)

    async def main() -> dict[str, list[dict[str, object]]]:
        task = asyncio.current_task()
        if task is not None:
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        return await _run_all(options, relay_cpu, show)

    load_before = os.getloadavg()
    # The applications' collector policy: the benchmark measures what they do.
    tune_client_gc()
    with _pinned(clients_cpu):
        runs = asyncio.run(main())
    machine = client_machine_info(relay_cpu, clients_cpu)
    machine["load_average_before"] = [round(value, 2) for value in load_before]
    machine["load_average_after"] = [round(value, 2) for value in os.getloadavg()]
    return build_client_report(runs, parameters=options.as_dict(), machine=machine)
