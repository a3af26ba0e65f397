"""Webhook statistics of one process (docs/webhooks.md §8).

Counters run forever; latencies live in ring buffers of `CONVERSION_WINDOW` samples, per CRD
and per webhook (admission), per conversion group (conversion). `summarise` is the one place
that implements the spec's statistics: mean, maximum, and the percentile
`sorted(window)[min(n-1, floor(n*p))]`, in milliseconds rounded to 3 decimals, `None` while a
window is empty. One lock guards everything: handlers record a handful of numbers per request,
so contention is negligible next to JSON parsing.
"""
from __future__ import annotations

import math
import threading
from collections import Counter, deque
from collections.abc import Iterable


def percentile(samples: list[float], p: float) -> float | None:
    """`sorted(window)[min(n-1, floor(n*p))]`, or None for an empty window."""
    if not samples:
        return None
    ordered = sorted(samples)
    n = len(ordered)
    return ordered[min(n - 1, math.floor(n * p))]


def summarise(samples: Iterable[float]) -> dict[str, float | None]:
    """{avg, p95, max} in milliseconds (input seconds), rounded to 3 decimals."""
    window = [s * 1000.0 for s in samples]
    if not window:
        return {"avg": None, "p95": None, "max": None}
    p95 = percentile(window, 0.95)
    assert p95 is not None        # the window is not empty
    return {"avg": round(sum(window) / len(window), 3),
            "p95": round(p95, 3),
            "max": round(max(window), 3)}


class WebhookStats:
    """Thread-safe counters and latency windows, keyed by CRD key or conversion group name."""

    def __init__(self, window: int = 1000) -> None:
        self._window = max(1, int(window))
        self._lock = threading.Lock()
        self._counts: dict[str, Counter] = {}
        self._latency: dict[str, deque] = {}
        self._directions: dict[str, dict[str, Counter]] = {}

    def _bucket(self, scope: str) -> Counter:
        c = self._counts.get(scope)
        if c is None:
            c = self._counts[scope] = Counter()
        return c

    def count(self, scope: str, *names: str) -> None:
        """Increment each named counter of `scope` (e.g. ("admission:web", "validationTotal"))."""
        with self._lock:
            bucket = self._bucket(scope)
            for name in names:
                bucket[name] += 1

    def observe(self, scope: str, seconds: float) -> None:
        with self._lock:
            ring = self._latency.get(scope)
            if ring is None:
                ring = self._latency[scope] = deque(maxlen=self._window)
            ring.append(seconds)

    def direction(self, scope: str, direction: str, failed: bool) -> None:
        with self._lock:
            d = self._directions.setdefault(scope, {}).setdefault(direction, Counter())
            d["total"] += 1
            if failed:
                d["failures"] += 1

    def counters(self, scope: str) -> dict[str, int]:
        with self._lock:
            return dict(self._counts.get(scope, {}))

    def latency(self, scope: str) -> dict[str, float | None]:
        with self._lock:
            samples = list(self._latency.get(scope, ()))
        return summarise(samples)

    def directions(self, scope: str) -> dict[str, dict[str, int]]:
        with self._lock:
            return {k: {"total": v["total"], "failures": v["failures"]}
                    for k, v in self._directions.get(scope, {}).items()}
