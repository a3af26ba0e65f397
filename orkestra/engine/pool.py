"""A CRD's worker threads and their watchdog (docs/runtime.md §5, §6).

Each worker runs the §5 loop: take a key from the CRD's queue, run the (never-raising) handler,
then forget / requeue-after / rate-limit the key and mark it done. The queue guarantees a key is
never handed to two workers at once; the pool only has to keep `done` in a `finally`.

The watchdog is not a thread of its own: the engine's supervisor calls `check_timeouts()` once a
second. A call running longer than `timeout` is marked `stuck`, its `cancelled` event is set, and
a replacement thread is started (at most `size` replacements over the pool's life), so the CRD
keeps `size` usable workers while the stuck call still holds its key in *processing*. When the
stuck call finally returns, its result is handled normally and its thread exits.
"""
from __future__ import annotations

import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Callable

from orkestra.engine.safe import Outcome
from orkestra.workqueue.rate_limiting import RateLimitingQueue


class WorkerState(StrEnum):
    """A worker thread's state, as the API shows it."""
    IDLE = "idle"
    PROCESSING = "processing"
    STUCK = "stuck"              # past the timeout; a replacement thread was started
    STOPPED = "stopped"          # the queue shut down, or a replaced thread's call returned


@dataclass
class _Worker:
    id: int
    state: WorkerState = WorkerState.IDLE
    key: str | None = None
    since: float = 0.0           # monotonic, for the watchdog
    since_wall: float = 0.0      # shown by the API
    cancelled: threading.Event = field(default_factory=threading.Event)
    replaced: bool = False
    thread: threading.Thread | None = None


class WorkerPool:
    def __init__(self, *, crd: str, size: int, queue: RateLimitingQueue, handle: Callable[[str, threading.Event], Outcome],
                 timeout: float, on_timeout: Callable[[str, str], None],
                 after_item: Callable[[], None] = lambda: None,
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time):
        self.crd = crd
        self.size = size
        self.queue = queue
        self._handle = handle
        self._timeout = timeout
        self._on_timeout = on_timeout
        self._after_item = after_item
        self._clock = clock
        self._wall = wall
        self._lock = threading.Lock()
        self._workers: list[_Worker] = []
        self._replacements = 0
        self._cancelling = False     # set by cancel_in_flight: a call that starts later is cancelled too

    def start(self) -> None:
        for _ in range(self.size):
            self._spawn()

    def _spawn(self) -> None:
        # Listed only once started: `join` (a shutdown racing a start) must never meet a thread
        # that exists but has not started ("cannot join thread before it is started").
        with self._lock:
            worker = _Worker(id=len(self._workers))
            worker.thread = threading.Thread(target=self._run, args=(worker,), daemon=True,
                                             name=f"ork-{self.crd}-w{worker.id}")
            worker.thread.start()
            self._workers.append(worker)

    def _run(self, worker: _Worker) -> None:
        while True:
            key, shutdown = self.queue.get()
            if shutdown:
                break
            cancelled = threading.Event()
            with self._lock:
                worker.state, worker.key, worker.cancelled = WorkerState.PROCESSING, key, cancelled
                worker.since, worker.since_wall = self._clock(), self._wall()
                if self._cancelling:
                    cancelled.set()
            try:
                outcome = self._handle(key, cancelled)
                if outcome.ok:
                    self.queue.forget(key)
                    if outcome.requeue_after:
                        self.queue.add_after(key, outcome.requeue_after)
                else:
                    self.queue.add_rate_limited(key)
            finally:
                self.queue.done(key)
                with self._lock:
                    replaced = worker.replaced
                    worker.state, worker.key = (WorkerState.STOPPED if replaced else WorkerState.IDLE), None
                self._after_item()
            if replaced:
                return
        with self._lock:
            worker.state = WorkerState.STOPPED

    def cancel_in_flight(self) -> None:
        """Set `cancelled` on every running call (shutdown, lost leadership): hooks that poll
        `ctx.cancelled` stop early instead of running past the drain budget."""
        with self._lock:
            self._cancelling = True
            for w in self._workers:
                if w.state in (WorkerState.PROCESSING, WorkerState.STUCK):
                    w.cancelled.set()

    def check_timeouts(self) -> None:
        """Watchdog tick: mark calls older than `timeout` stuck and replace their threads."""
        now = self._clock()
        expired: list[tuple[_Worker, str, bool]] = []
        with self._lock:
            for w in self._workers:
                if w.state == WorkerState.PROCESSING and now - w.since > self._timeout:
                    w.state = WorkerState.STUCK
                    w.cancelled.set()
                    # Decided under the same lock as STUCK: if the call returns right after, its
                    # thread already knows it was replaced and exits instead of going back to idle.
                    replace = self._replacements < self.size
                    if replace:
                        self._replacements += 1
                        w.replaced = True
                    expired.append((w, w.key or "", replace))
        for w, key, replace in expired:
            self._on_timeout(key, _thread_stack(w.thread))
            if replace:
                self._spawn()

    def join(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for every thread to exit (after the queue was shut down)."""
        deadline = self._clock() + timeout
        for w in list(self._workers):
            if w.thread is not None:
                w.thread.join(max(0.0, deadline - self._clock()))
        return not any(w.thread is not None and w.thread.is_alive() for w in self._workers)

    def counts(self) -> dict[str, int]:
        with self._lock:
            states = [w.state for w in self._workers]
        idle, processing = states.count(WorkerState.IDLE), states.count(WorkerState.PROCESSING)
        return {"active": idle + processing, "processing": processing, "idle": idle,
                "stuck": states.count(WorkerState.STUCK)}

    def states(self) -> list[dict[str, Any]]:
        """One dict per worker that is not a retired replacement: id, state, key and since."""
        with self._lock:
            out = []
            for w in self._workers:
                if w.replaced and w.state == WorkerState.STOPPED:
                    continue
                item: dict[str, Any] = {"id": w.id, "state": w.state}
                if w.state in (WorkerState.PROCESSING, WorkerState.STUCK):
                    item["key"], item["since"] = w.key, w.since_wall
                out.append(item)
            return out


def _thread_stack(thread: threading.Thread | None) -> str:
    frame = sys._current_frames().get(thread.ident) if thread is not None and thread.ident else None
    return "".join(traceback.format_stack(frame)) if frame is not None else ""
