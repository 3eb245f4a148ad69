"""Exponential back-off with jitter (quicko.client.backoff), with seeded randomness."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quicko.client.backoff import Backoff, Jitter


def seeded(seed: int) -> Callable[[int], bytes]:
    """A deterministic RandomSource: SHA-256 in counter mode."""
    counter = 0

    def rng(n: int) -> bytes:
        nonlocal counter
        out = b""
        while len(out) < n:
            out += hashlib.sha256(seed.to_bytes(8, "big") + counter.to_bytes(8, "big")).digest()
            counter += 1
        return out[:n]

    return rng


def constant(byte: int) -> Callable[[int], bytes]:
    return lambda n: bytes([byte]) * n


def test_no_jitter_doubles_from_100_ms_to_30_s() -> None:
    backoff = Backoff(constant(0), jitter=Jitter.NONE)
    delays = [backoff.next_delay() for _ in range(12)]
    assert delays[:6] == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.6, 3.2])
    assert delays[8] == pytest.approx(25.6)
    assert delays[9:] == [30.0, 30.0, 30.0]
    assert backoff.attempts == 12


def test_full_jitter_spans_initial_to_ceiling() -> None:
    low = Backoff(constant(0x00))
    high = Backoff(constant(0xFF))
    assert [low.next_delay() for _ in range(4)] == pytest.approx([0.1] * 4)
    assert [high.next_delay() for _ in range(4)] == pytest.approx([0.1, 0.2, 0.4, 0.8])


def test_full_jitter_is_a_function_of_the_seed() -> None:
    a, b, c = Backoff(seeded(7)), Backoff(seeded(7)), Backoff(seeded(8))
    seq_a = [a.next_delay() for _ in range(10)]
    seq_b = [b.next_delay() for _ in range(10)]
    seq_c = [c.next_delay() for _ in range(10)]
    assert seq_a == seq_b
    assert seq_a != seq_c
    assert len(set(seq_a)) == 10  # jittered, not a fixed ladder


def test_reset_starts_again_from_initial() -> None:
    backoff = Backoff(constant(0xFF))
    for _ in range(8):
        backoff.next_delay()
    assert backoff.ceiling == pytest.approx(25.6)
    backoff.reset()
    assert backoff.attempts == 0
    assert backoff.ceiling == pytest.approx(0.1)
    assert backoff.next_delay() == pytest.approx(0.1)


def test_decorrelated_jitter_grows_from_the_previous_delay() -> None:
    backoff = Backoff(constant(0xFF), jitter=Jitter.DECORRELATED, maximum=10.0)
    delays = [backoff.next_delay() for _ in range(6)]
    # With the largest draws: 0.1 * 3, * 3, … until the cap.
    assert delays == pytest.approx([0.3, 0.9, 2.7, 8.1, 10.0, 10.0])
    backoff.reset()
    assert backoff.next_delay() == pytest.approx(0.3)


@given(
    seed=st.integers(0, 2**32),
    jitter=st.sampled_from(list(Jitter)),
    initial=st.floats(0.001, 5.0),
    spread=st.floats(1.0, 100.0),
    factor=st.floats(1.0, 4.0),
    steps=st.integers(1, 40),
)
def test_every_delay_is_within_bounds(
    seed: int, jitter: Jitter, initial: float, spread: float, factor: float, steps: int
) -> None:
    maximum = initial * spread
    backoff = Backoff(seeded(seed), initial=initial, maximum=maximum, factor=factor, jitter=jitter)
    for _ in range(steps):
        ceiling = backoff.ceiling
        delay = backoff.next_delay()
        assert initial * (1 - 1e-9) <= delay <= min(ceiling, maximum) * (1 + 1e-9)


@pytest.mark.parametrize(
    ("initial", "maximum", "factor"), [(0.0, 1.0, 2.0), (2.0, 1.0, 2.0), (0.1, 1.0, 0.5)]
)
def test_bad_bounds_are_refused(initial: float, maximum: float, factor: float) -> None:
    with pytest.raises(ValueError, match="back-off"):
        Backoff(constant(0), initial=initial, maximum=maximum, factor=factor)


def test_repr_shows_the_policy_only() -> None:
    assert repr(Backoff(constant(0))) == "Backoff(0.1s..30.0s x2.0, full, attempts=0)"
