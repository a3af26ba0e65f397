"""`Queue`: the basic work queue (docs/runtime.md §3.1), client-go's semantics with Python names.

Three structures under one lock:
* `_queue` — the order in which items are handed out;
* `_dirty` — items that need processing (queued, or changed while being processed);
* `_processing` — items a worker holds, with the time it got them.

An item is in `_queue` at most once (dedup) and **never handed to two workers at once**: an item
added while processing is only marked dirty, and `done` puts it back. Unlike client-go, once
`shut_down` is called `get` hands out nothing more; the backlog is left to the next leader.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Hashable
from typing import Any

from orkestra.workqueue.metrics import QueueMetrics
from orkestra.workqueue.timer import Clock


class Queue:
    """FIFO of distinct hashable items with dirty/processing tracking. Thread-safe."""

    def __init__(self, name: str = "", *, clock: Clock = time.monotonic,
                 metrics: QueueMetrics | None = None) -> None:
        self.name = name
        self._clock = clock
        self._metrics = metrics or QueueMetrics()
        self._cond = threading.Condition()
        self._queue: deque[Hashable] = deque()
        self._dirty: set[Hashable] = set()
        self._processing: dict[Hashable, float] = {}
        self._enqueued_at: dict[Hashable, float] = {}
        self._shutting_down = False
        self._metrics.bind_in_flight(self.in_flight)

    def add(self, item: Hashable) -> bool:
        """Mark `item` as needing processing. Returns False when nothing changed (already dirty,
        or the queue is shutting down)."""
        with self._cond:
            return self._add_locked(item)

    def get(self) -> tuple[Any, bool]:
        """Block until an item is available; returns `(item, False)`, or `(None, True)` once the
        queue is shutting down. **Call `done(item)` when finished**, even if processing failed."""
        with self._cond:
            while not self._queue and not self._shutting_down:
                self._cond.wait()
            if self._shutting_down:
                return None, True
            item = self._queue.popleft()
            now = self._clock()
            self._metrics.depth(len(self._queue))
            self._metrics.queued(now - self._enqueued_at.pop(item, now))
            self._processing[item] = now
            self._dirty.discard(item)
            return item, False

    def done(self, item: Hashable) -> None:
        """Release `item`; if it was added again while processing, it is queued again."""
        with self._cond:
            started = self._processing.pop(item, None)
            if started is not None:
                self._metrics.worked(self._clock() - started)
            if item in self._dirty and not self._shutting_down:
                self._push_locked(item)
            if not self._processing:
                self._cond.notify_all()  # a drain may be waiting

    def __len__(self) -> int:
        """Items waiting to be handed out (not the ones being processed)."""
        with self._cond:
            return len(self._queue)

    @property
    def shutting_down(self) -> bool:
        with self._cond:
            return self._shutting_down

    def processing(self) -> dict[Hashable, float]:
        """A snapshot of the items being processed and when each was handed out."""
        with self._cond:
            return dict(self._processing)

    def in_flight(self) -> tuple[float, float]:
        """(total seconds of work in progress, seconds of the longest running item)."""
        with self._cond:
            now = self._clock()
            ages = [now - started for started in self._processing.values()]
        return sum(ages), max(ages, default=0.0)

    def shut_down(self) -> None:
        """Refuse further adds and wake every `get`, which then returns `(None, True)`."""
        with self._cond:
            self._shutting_down = True
            self._cond.notify_all()

    def shut_down_with_drain(self, timeout: float) -> bool:
        """`shut_down`, then wait up to `timeout` seconds for the processing set to empty.
        Returns True when it drained."""
        self.shut_down()
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._processing:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(timeout=remaining)
            return True

    # --- for subclasses, called with self._cond held --------------------------------------------

    def _add_locked(self, item: Hashable) -> bool:
        if self._shutting_down or item in self._dirty:
            return False
        self._metrics.added()
        self._dirty.add(item)
        if item not in self._processing:
            self._push_locked(item)
        return True

    def _push_locked(self, item: Hashable) -> None:
        self._queue.append(item)
        self._enqueued_at[item] = self._clock()
        self._metrics.depth(len(self._queue))
        self._cond.notify()
