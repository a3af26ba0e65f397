"""The last 30 minutes of each CRD's counters, for the sparklines (in memory, bounded).

A sample is taken from each poll, but at most one every `SPACING` seconds, so a short refresh
interval cannot grow the history: 10 runtimes × 20 CRDs hold at most 72 000 small tuples.
Rates are derived from consecutive samples: reconciles per second, the share of failed
reconciles in each step, and the queue depth as read.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import NamedTuple

WINDOW = 30 * 60.0
SPACING = 5.0


class Sample(NamedTuple):
    at: float
    total: int
    failed: int
    depth: int


@dataclass(frozen=True)
class Series:
    """Equal-length lists, oldest first, ready for a sparkline."""

    reconcile_rate: list[float]
    error_rate: list[float]
    queue_depth: list[float]
    seconds: float                 # time covered, for the caption

    def as_json(self) -> dict:
        return {"reconcilesPerSecond": self.reconcile_rate, "errorRate": self.error_rate,
                "queueDepth": self.queue_depth, "seconds": round(self.seconds, 1)}


class History:
    def __init__(self, *, window: float = WINDOW, spacing: float = SPACING) -> None:
        self._window, self._spacing = window, spacing
        self._samples: dict[tuple[str, str], deque[Sample]] = {}

    def add(self, rid: str, crd: str, sample: Sample) -> None:
        samples = self._samples.setdefault((rid, crd), deque(maxlen=int(self._window / self._spacing) + 1))
        if samples and sample.at - samples[-1].at < self._spacing:
            return
        samples.append(sample)
        while samples and sample.at - samples[0].at > self._window:
            samples.popleft()

    def forget(self, rid: str, keep: set[str]) -> None:
        """Drop the CRDs of `rid` that its Katalog no longer lists."""
        for key in [k for k in self._samples if k[0] == rid and k[1] not in keep]:
            del self._samples[key]

    def series(self, rid: str, crd: str) -> Series:
        samples = list(self._samples.get((rid, crd), ()))
        rates, errors = [], []
        for prev, cur in zip(samples, samples[1:]):
            done = max(0, cur.total - prev.total)
            failed = max(0, cur.failed - prev.failed)
            rates.append(round(done / max(cur.at - prev.at, 1e-9), 3))
            errors.append(round(failed / done, 4) if done else 0.0)
        seconds = samples[-1].at - samples[0].at if samples else 0.0
        return Series(rates, errors, [float(s.depth) for s in samples[1:]], seconds)
