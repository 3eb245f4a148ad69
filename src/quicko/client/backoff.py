"""Exponential back-off with jitter for reconnecting (DESIGN.md §8).

Pure: the randomness is an injected :data:`~quicko.crypto.RandomSource` and nothing here
sleeps or reads the clock, so the sequence of delays is a function of the seed and can be
tested exactly. The connection supervisor asks :meth:`Backoff.next_delay` before every retry
and calls :meth:`Backoff.reset` once a connection is established.

Jitter spreads the reconnects of many clients after a relay restart, so that they do not all
arrive in the same instant (the "thundering herd"):

- ``FULL``: a delay drawn uniformly between ``initial`` and the current ceiling, which starts
  at ``initial`` and is multiplied by ``factor`` after every retry, up to ``maximum``.
- ``DECORRELATED``: a delay drawn uniformly between ``initial`` and ``factor + 1`` times the
  previous delay, capped at ``maximum`` (the "decorrelated jitter" of the AWS architecture
  blog, which keeps growing like the exponential but wanders less predictably).
- ``NONE``: the ceiling itself (``initial``, ``initial * factor``, …, ``maximum``).
"""

from __future__ import annotations

from enum import Enum

from quicko.crypto import RandomSource

__all__ = ["DEFAULT_FACTOR", "DEFAULT_INITIAL_S", "DEFAULT_MAXIMUM_S", "Backoff", "Jitter"]

#: The first delay, in seconds.
DEFAULT_INITIAL_S = 0.1
#: The largest delay, in seconds.
DEFAULT_MAXIMUM_S = 30.0
#: How much the ceiling grows after every retry.
DEFAULT_FACTOR = 2.0

#: Bits of randomness in one uniform draw (the precision of a float's mantissa).
_UNIFORM_BITS = 53
_UNIFORM_BYTES = 7


class Jitter(Enum):
    """How a delay is drawn below its exponential ceiling."""

    FULL = "full"
    DECORRELATED = "decorrelated"
    NONE = "none"


class Backoff:
    """The delays between reconnection attempts.

    Args:
        rng: the randomness for the jitter (:func:`os.urandom` at the edge).
        initial: the first delay and the smallest one, in seconds.
        maximum: the largest delay, in seconds.
        factor: how much the ceiling grows after every retry (at least 1).
        jitter: how a delay is drawn (see the module docstring).

    Raises:
        ValueError: the bounds are not ``0 < initial <= maximum`` or ``factor < 1``.
    """

    __slots__ = (
        "_ceiling",
        "_factor",
        "_initial",
        "_jitter",
        "_maximum",
        "_previous",
        "_rng",
        "attempts",
    )

    def __init__(
        self,
        rng: RandomSource,
        *,
        initial: float = DEFAULT_INITIAL_S,
        maximum: float = DEFAULT_MAXIMUM_S,
        factor: float = DEFAULT_FACTOR,
        jitter: Jitter = Jitter.FULL,
    ) -> None:
        if not 0 < initial <= maximum:
            raise ValueError("back-off bounds must satisfy 0 < initial <= maximum")
        if factor < 1:
            raise ValueError("back-off factor must be at least 1")
        self._rng = rng
        self._initial = float(initial)
        self._maximum = float(maximum)
        self._factor = float(factor)
        self._jitter = jitter
        self._ceiling = self._initial
        self._previous = self._initial
        #: How many delays were handed out since the last :meth:`reset`.
        self.attempts = 0

    @property
    def ceiling(self) -> float:
        """The largest delay the next call to :meth:`next_delay` can return, in seconds."""
        if self._jitter is Jitter.DECORRELATED:
            return min(self._maximum, self._previous * (self._factor + 1))
        return self._ceiling

    def next_delay(self) -> float:
        """Return the next delay in seconds, always within ``[initial, maximum]``."""
        if self._jitter is Jitter.DECORRELATED:
            delay = self._between(self._initial, self.ceiling)
            self._previous = delay
        else:
            if self._jitter is Jitter.FULL:
                delay = self._between(self._initial, self._ceiling)
            else:
                delay = self._ceiling
            self._ceiling = min(self._maximum, self._ceiling * self._factor)
        self.attempts += 1
        return delay

    def reset(self) -> None:
        """Start again from ``initial`` (after a connection was established)."""
        self._ceiling = self._initial
        self._previous = self._initial
        self.attempts = 0

    def _between(self, low: float, high: float) -> float:
        """A uniform draw in ``[low, high]`` from 53 random bits of ``rng``."""
        bits = int.from_bytes(self._rng(_UNIFORM_BYTES), "big") >> (
            8 * _UNIFORM_BYTES - _UNIFORM_BITS
        )
        return low + (high - low) * (bits / ((1 << _UNIFORM_BITS) - 1))

    def __repr__(self) -> str:
        return (
            f"Backoff({self._initial}s..{self._maximum}s x{self._factor}, "
            f"{self._jitter.value}, attempts={self.attempts})"
        )
