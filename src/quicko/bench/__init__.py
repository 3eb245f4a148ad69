"""Benchmarks: the relay and a bare forwarder under load, measured side by side.

``quicko bench relay`` (:mod:`quicko.cli.bench`) drives :func:`quicko.bench.runner.run_bench`,
which starts each server (:mod:`quicko.bench.procs`; the bare forwarder is
:mod:`quicko.bench.bare`) and a load generator process (:mod:`quicko.bench.load`, whose
connections are :mod:`quicko.bench.client`), then builds the report
(:mod:`quicko.bench.results`, :mod:`quicko.bench.stats`). docs/performance.md says what is
measured and how.
"""

from __future__ import annotations

__all__: list[str] = []
