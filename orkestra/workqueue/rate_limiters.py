"""Rate limiters (docs/runtime.md §3.3): how long a failed item waits before its retry.

* `ItemExponentialLimiter` — per item, `base × 2^failures` capped at `max_delay`
  (5 ms … 1000 s); each `when(item)` counts one more failure until `forget(item)`.
* `TokenBucketLimiter` — the whole queue, `qps` tokens per second with a `burst` (10/100). A
  reservation is never refused: the delay is how long until its token exists.
* `MaxOfLimiter` — the longest delay of its parts; `num_requeues` is the largest count.

`default_limiter()` is the combination every CRD queue uses. Clocks are injectable.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Hashable
from typing import Protocol

from orkestra.workqueue.timer import Clock


class RateLimiter(Protocol):
    def when(self, item: Hashable) -> float:
        """Seconds the item should wait before its next attempt (counts as one failure)."""

    def forget(self, item: Hashable) -> None:
        """Stop tracking the item (it succeeded)."""

    def num_requeues(self, item: Hashable) -> int:
        """Failures counted for the item since the last `forget`."""


class ItemExponentialLimiter:
    def __init__(self, base: float = 0.005, max_delay: float = 1000.0) -> None:
        self._base = base
        self._max = max_delay
        self._failures: dict[Hashable, int] = {}
        self._lock = threading.Lock()

    def when(self, item: Hashable) -> float:
        with self._lock:
            failures = self._failures.get(item, 0)
            self._failures[item] = failures + 1
        if failures >= 64:  # 2^64 × base is far past any cap; avoid huge floats
            return self._max
        return min(self._base * 2 ** failures, self._max)

    def forget(self, item: Hashable) -> None:
        with self._lock:
            self._failures.pop(item, None)

    def num_requeues(self, item: Hashable) -> int:
        with self._lock:
            return self._failures.get(item, 0)


class TokenBucketLimiter:
    def __init__(self, qps: float = 10.0, burst: int = 100, *, clock: Clock = time.monotonic) -> None:
        self._qps = qps
        self._burst = float(burst)
        self._clock = clock
        self._tokens = float(burst)
        self._last = clock()
        self._lock = threading.Lock()

    def when(self, item: Hashable) -> float:
        with self._lock:
            now = self._clock()
            self._tokens = min(self._burst, self._tokens + (now - self._last) * self._qps)
            self._last = now
            self._tokens -= 1
            return 0.0 if self._tokens >= 0 else -self._tokens / self._qps

    def forget(self, item: Hashable) -> None:
        """The bucket is shared by every item: nothing to forget."""

    def num_requeues(self, item: Hashable) -> int:
        return 0


class MaxOfLimiter:
    def __init__(self, *limiters: RateLimiter) -> None:
        self._limiters = limiters

    def when(self, item: Hashable) -> float:
        return max(limiter.when(item) for limiter in self._limiters)

    def forget(self, item: Hashable) -> None:
        for limiter in self._limiters:
            limiter.forget(item)

    def num_requeues(self, item: Hashable) -> int:
        return max(limiter.num_requeues(item) for limiter in self._limiters)


def default_limiter(clock: Clock = time.monotonic) -> MaxOfLimiter:
    """Per-item exponential 5 ms..1000 s combined with a 10 qps / burst 100 bucket."""
    return MaxOfLimiter(ItemExponentialLimiter(), TokenBucketLimiter(clock=clock))
