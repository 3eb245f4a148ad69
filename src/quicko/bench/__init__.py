"""Benchmarks: the relay beside a bare forwarder, and end-to-end client costs.

``quicko bench relay`` and ``quicko bench client``; numbers in docs/performance.md.
"""
