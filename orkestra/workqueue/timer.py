"""`Timer`: one heap of deadlines served by one thread, `ork-timer`, for the whole process.

Every delaying queue (`add_after`, rate-limited retries) and every informer resync schedules its
callbacks here instead of owning a thread: with a hundred CRDs that is one thread, not two hundred.
Callbacks must be short and must not block (they re-add a key or enqueue a resync); a callback
that raises is logged and the timer keeps going.

The clock is injectable. Tests pass a fake clock, build the timer with `start=False` and call
`run_due()` after moving the clock, so nothing sleeps and the order is deterministic.
"""
from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger("orkestra.workqueue")

Clock = Callable[[], float]


class Timer:
    """Runs callbacks at monotonic deadlines on a single background thread."""

    def __init__(self, *, clock: Clock = time.monotonic, start: bool = True,
                 name: str = "ork-timer") -> None:
        self._clock = clock
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._stopped = False
        self._thread: threading.Thread | None = None
        self._autostart = start
        self._name = name

    def now(self) -> float:
        return self._clock()

    def call_at(self, when: float, fn: Callable[[], None]) -> None:
        """Run `fn` on the timer thread once `clock() >= when`. Ignored after `stop()`."""
        with self._cond:
            if self._stopped:
                return
            heapq.heappush(self._heap, (when, next(self._seq), fn))
            if self._autostart and self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            self._cond.notify()

    def call_later(self, delay: float, fn: Callable[[], None]) -> None:
        self.call_at(self._clock() + max(0.0, delay), fn)

    def run_due(self) -> int:
        """Run every callback whose deadline has passed; returns how many ran (for tests)."""
        ran = 0
        while True:
            with self._cond:
                if not self._heap or self._heap[0][0] > self._clock():
                    return ran
                _, _, fn = heapq.heappop(self._heap)
            _call(fn)
            ran += 1

    def pending(self) -> int:
        with self._cond:
            return len(self._heap)

    def stop(self) -> None:
        """Drop every pending callback and end the thread."""
        with self._cond:
            self._stopped = True
            self._heap.clear()
            self._cond.notify()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopped and (not self._heap or self._heap[0][0] > self._clock()):
                    wait = self._heap[0][0] - self._clock() if self._heap else None
                    self._cond.wait(timeout=wait)
                if self._stopped:
                    return
            self.run_due()


def _call(fn: Callable[[], None]) -> None:
    try:
        fn()
    except Exception:
        log.exception("timer callback failed")


_shared: Timer | None = None
_shared_lock = threading.Lock()


def shared_timer() -> Timer:
    """The process-wide timer (created on first use, never at import)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Timer()
        return _shared
