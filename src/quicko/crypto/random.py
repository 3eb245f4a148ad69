"""The shape of injected randomness.

The core never reads the OS random source itself (STYLE.md rules 1 and 2): every function that
needs fresh bytes takes an ``rng`` argument of type :data:`RandomSource`. At the edge the real
value is :func:`secrets.token_bytes`; tests pass a seeded or fixed source.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeAlias

__all__ = ["RandomSource"]

RandomSource: TypeAlias = Callable[[int], bytes]
"""A callable that returns exactly ``n`` random bytes when called with ``n``."""
