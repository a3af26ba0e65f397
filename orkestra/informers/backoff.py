"""`Backoff`: 800 ms doubling with jitter up to 30 s (docs/runtime.md §4.1 step 5), reset on success.

The random source is injectable so tests can pin the jitter.
"""
from __future__ import annotations

import random


class Backoff:
    def __init__(self, initial: float = 0.8, cap: float = 30.0, jitter: float = 0.2,
                 rand: random.Random | None = None) -> None:
        self._initial = initial
        self._cap = cap
        self._jitter = jitter
        self._rand = rand or random.Random()
        self._failures = 0

    def next(self) -> float:
        """The delay before the next attempt; each call counts one more failure."""
        base = self._initial * 2 ** min(self._failures, 32)
        self._failures += 1
        return min(self._cap, base * (1 + self._jitter * self._rand.random()))

    def reset(self) -> None:
        self._failures = 0
