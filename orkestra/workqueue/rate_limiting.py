"""`RateLimitingQueue`: a `DelayingQueue` plus retries with backoff and the depth limit.

This is the queue each CRD's operator box uses. Informer events come in through `offer`, which
applies the depth limit (§3.5); worker retries come in through `add_rate_limited`, which is never
limited. Remember: `forget(item)` only clears the item's failure count — the worker still has to
call `done(item)`.
"""
from __future__ import annotations

from collections.abc import Callable, Hashable
from enum import StrEnum

from orkestra.workqueue.delaying import DelayingQueue
from orkestra.workqueue.depth_limit import DepthLimit
from orkestra.workqueue.metrics import QueueMetrics
from orkestra.workqueue.rate_limiters import RateLimiter, default_limiter
from orkestra.workqueue.timer import Clock, Timer


class Offered(StrEnum):
    """What `offer` did with an item."""
    ADDED = "added"
    LIMITED = "limited"        # added past the depth limit (`onLimit: warn`)
    DROPPED = "dropped"        # refused (`onLimit: drop`, or the queue is shutting down)
    DIRTY = "dirty"            # already waiting: nothing to do, never limited


class RateLimitingQueue(DelayingQueue):
    def __init__(self, name: str, *, clock: Clock | None = None, timer: Timer | None = None,
                 rate_limiter: RateLimiter | None = None, max_depth: int = 0, on_limit: str = "warn",
                 metrics: QueueMetrics | None = None, gvk: str = "",
                 on_limit_warning: Callable[[int, int], None] | None = None) -> None:
        super().__init__(name, clock=clock, timer=timer, metrics=metrics)
        self._limiter = rate_limiter or default_limiter(self._clock)
        self._limit = DepthLimit(max_depth, on_limit, name=name, gvk=gvk, clock=self._clock,
                                 metrics=self._metrics, on_warning=on_limit_warning)

    def offer(self, item: Hashable) -> Offered:
        """Add an item from an informer event or resync, applying the depth limit."""
        with self._cond:
            if self._shutting_down:
                return Offered.DROPPED
            if item in self._dirty:
                return Offered.DIRTY
            depth = len(self._queue)
            full = self._limit.full(depth)
            if full and self._limit.drops:
                outcome = Offered.DROPPED
            else:
                self._add_locked(item)
                outcome = Offered.LIMITED if full else Offered.ADDED
        if outcome == Offered.LIMITED:
            self._limit.report_limited(depth)
        elif outcome == Offered.DROPPED:
            self._limit.report_dropped(item, depth)
        return outcome

    def add_rate_limited(self, item: Hashable) -> None:
        """Retry `item` after the rate limiter's delay (counts a failure and a retry)."""
        self._metrics.retried()
        self.add_after(item, self._limiter.when(item))

    def forget(self, item: Hashable) -> None:
        """Reset the item's failure count. You still have to call `done(item)`."""
        self._limiter.forget(item)

    def num_requeues(self, item: Hashable) -> int:
        return self._limiter.num_requeues(item)
