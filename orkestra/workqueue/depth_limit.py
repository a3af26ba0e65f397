"""`DepthLimit`: what happens when an informer event meets a full queue (docs/runtime.md §3.5).

The queue decides under its lock whether an offered item is added; this class holds the policy
(`warn` adds anyway, `drop` refuses) and everything said about it afterwards: the log line (for
`warn` at most once a minute per CRD), the counters and the callback that sets the CRD's active
warning. Only `offer` consults it; retries and `add_after` are never limited.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Hashable

from orkestra.workqueue.metrics import QueueMetrics
from orkestra.workqueue.timer import Clock

log = logging.getLogger("orkestra.workqueue")

ON_LIMIT = ("warn", "drop")
WARN_INTERVAL = 60.0


class DepthLimit:
    """`max_depth` 0 means unlimited. `on_warning(depth, limit)` is called on every add past
    the limit under `warn` (the engine turns it into the CRD's active warning)."""

    def __init__(self, max_depth: int = 0, on_limit: str = "warn", *, name: str, gvk: str = "",
                 clock: Clock, metrics: QueueMetrics,
                 on_warning: Callable[[int, int], None] | None = None) -> None:
        if on_limit not in ON_LIMIT:
            raise ValueError(f"queue.onLimit: {on_limit!r} is not one of {', '.join(ON_LIMIT)}")
        if max_depth < 0:
            raise ValueError(f"queue.maxDepth: {max_depth} must be >= 0")
        self.max_depth = max_depth
        self.drops = on_limit == "drop"
        self._name = name
        self._gvk = gvk
        self._clock = clock
        self._metrics = metrics
        self._on_warning = on_warning
        self._last_warned: float | None = None

    def full(self, depth: int) -> bool:
        return bool(self.max_depth) and depth >= self.max_depth

    def report_limited(self, depth: int) -> None:
        """An item was added past the limit (`warn`)."""
        self._metrics.limit_reached()
        now = self._clock()
        if self._last_warned is None or now - self._last_warned >= WARN_INTERVAL:
            self._last_warned = now
            log.warning("queue depth limit reached",
                        extra={"crd": self._name, "depth": depth, "limit": self.max_depth})
        if self._on_warning is not None:
            self._on_warning(depth, self.max_depth)

    def report_dropped(self, item: Hashable, depth: int) -> None:
        """An item was refused (`drop`); the next resync offers it again."""
        self._metrics.dropped()
        log.warning("enqueue: queue depth limit reached — item dropped",
                    extra={"crd": self._name, "key": str(item), "gvk": self._gvk,
                           "limit": self.max_depth, "depth": depth})
