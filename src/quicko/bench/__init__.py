"""Benchmarks: the relay and a bare forwarder under load, measured side by side."""
