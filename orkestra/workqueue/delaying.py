"""`DelayingQueue`: a `Queue` plus `add_after` (docs/runtime.md §3.2).

Waiting items live in `_waiting` (item -> ready time); the deadline itself is scheduled on the
shared `Timer`, so a hundred queues cost no extra threads. When the same item is added again
with a delay, the **earlier** ready time wins: a later request is ignored, an earlier one is
scheduled and the stale timer entry finds `_waiting` changed and does nothing.
"""
from __future__ import annotations

from collections.abc import Hashable

from orkestra.workqueue.metrics import QueueMetrics
from orkestra.workqueue.queue import Queue
from orkestra.workqueue.timer import Clock, Timer, shared_timer


class DelayingQueue(Queue):
    """A queue whose items can become ready later.

    `clock` defaults to the timer's clock; when both are given they must be the same clock.
    """

    def __init__(self, name: str = "", *, clock: Clock | None = None, timer: Timer | None = None,
                 metrics: QueueMetrics | None = None) -> None:
        self._timer = timer or shared_timer()
        super().__init__(name, clock=clock or self._timer.now, metrics=metrics)
        self._waiting: dict[Hashable, float] = {}

    def add_after(self, item: Hashable, delay: float) -> None:
        """Add `item` once `delay` seconds have passed (at once when `delay <= 0`).
        If it is already waiting for an earlier time, nothing changes."""
        if delay <= 0:
            self.add(item)
            return
        with self._cond:
            if self._shutting_down:
                return
            ready = self._clock() + delay
            current = self._waiting.get(item)
            if current is not None and current <= ready:
                return
            self._waiting[item] = ready
        self._timer.call_at(ready, lambda: self._ready(item, ready))

    def waiting(self) -> int:
        """Items scheduled for later."""
        with self._cond:
            return len(self._waiting)

    def _ready(self, item: Hashable, ready: float) -> None:
        with self._cond:
            if self._waiting.get(item) != ready:
                return  # superseded by an earlier add_after, or already added
            del self._waiting[item]
            self._add_locked(item)

    def shut_down(self) -> None:
        with self._cond:
            self._waiting.clear()
        super().shut_down()
