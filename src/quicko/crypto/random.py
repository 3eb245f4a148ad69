"""The shape of injected randomness.

The core never reads the OS random source itself (STYLE.md rules 1 and 2): every function that
needs fresh bytes takes an ``rng`` argument of type :data:`RandomSource`. At the edge the real
value is the OS CSPRNG: :func:`os.urandom` (``getrandom(2)`` on Linux) in the client, which
draws once per message, or :func:`secrets.token_bytes` elsewhere (it returns ``os.urandom``'s
bytes, through two more Python-level calls); tests pass a seeded or fixed source.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeAlias

__all__ = ["RandomSource"]

RandomSource: TypeAlias = Callable[[int], bytes]
"""A callable that returns exactly ``n`` random bytes when called with ``n``."""
