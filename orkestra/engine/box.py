"""One CRD's isolated operator stack (docs/runtime.md §5): the `OperatorBox`.

A box owns, for its CRD: the informer handle (from the shared factory), its own rate-limited
queue, a `WorkerPool`, the reconciler and the `CrdHealth`. Boxes share nothing mutable except
the factory, the API client and the metrics registry, so a broken CRD can never stall another.

The box is also the reconciler's `ReconcileRuntime` (docs/architecture.md): it answers `cached`,
`cached_all`, `children` and `set_warnings` from in-memory state, never from the API server.

Lifecycle: `watch()` starts the informer (every replica: warm caches), `activate()` builds a fresh
queue, reconciler and pool (leader only), `stop()` tears the queue and workers down, and
`unwatch()` releases the informer. A box can be activated again after a stop (CRD re-created):
health counters survive, everything else is new.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, NamedTuple, Protocol, TypeVar

from prometheus_client import Gauge

from orkestra import metrics
from orkestra.engine import filters
from orkestra.engine.health import CrdHealth, CrdState
from orkestra.engine.pool import WorkerPool
from orkestra.informers import SharedInformer, SharedInformerFactory
from orkestra.informers.reflector import InformerStatus
from orkestra.informers.store import index_uid, object_key
from orkestra.engine.safe import Outcome, safe_reconcile
from orkestra.durations import format_duration
from orkestra.gvk import GVR
from orkestra.katalog.model import CrdEntry, Katalog
from orkestra.kube import Discovery, KubeClient
from orkestra.reconcile.runtime import EventSink, Reconciler
from orkestra.workqueue.rate_limiting import Offered, RateLimitingQueue

if TYPE_CHECKING:
    from orkestra.informers import Handler
    from orkestra.kube import AsyncEventSink

log = logging.getLogger("orkestra.engine")
T = TypeVar("T")


def _connected(client: T | None) -> T:
    """A client the engine builds in `connect()`; a box reconciles only after that."""
    if client is None:
        raise RuntimeError("the engine is not connected yet")
    return client


class _Gauges(NamedTuple):
    """A box's gauge children, bound once: `labels()` costs a lock and a dict lookup per call,
    and `update_gauges` runs after every reconcile, resyncs included (issue 15, idle CPU)."""
    queue_depth: Gauge
    workers_active: Gauge
    workers_processing: Gauge
    workers_idle: Gauge
    cr_active_workers: Gauge
    consecutive_failures: Gauge
    resource_count: Gauge

    @classmethod
    def bind(cls, gvk: str, key: str) -> "_Gauges":
        labels = (gvk, key)
        return cls(metrics.queue_depth.labels(*labels), metrics.workers_active.labels(*labels),
                   metrics.workers_processing.labels(*labels), metrics.workers_idle.labels(*labels),
                   metrics.cr_active_workers.labels(key), metrics.consecutive_failures.labels(*labels),
                   metrics.resource_count.labels(*labels))


class BoxEnvironment(Protocol):
    """What boxes share, provided by the engine (or a fake in unit tests)."""
    kube: KubeClient | None
    discovery: Discovery | None
    recorder: AsyncEventSink | None
    identity: str
    katalog: Katalog
    factory: SharedInformerFactory | None

    def make_queue(self, entry: CrdEntry, on_limit_warning: Callable[[int, int], None]) -> RateLimitingQueue: ...
    def release_queue(self, key: str) -> None: ...
    def make_reconciler(self, entry: CrdEntry, box: OperatorBox) -> Reconciler: ...
    def children(self, owner_uid: str) -> list[dict]: ...
    def child_gvrs_of(self, key: str) -> list[GVR]: ...
    def health_changed(self) -> None: ...


class OperatorBox:
    def __init__(self, entry: CrdEntry, env: BoxEnvironment, *, wall: Callable[[], float] = time.time,
                 clock: Callable[[], float] = time.monotonic):
        self.entry = entry
        self.key = entry.key
        self.gvk_string = entry.api.gvk_string
        self.env = env
        self.health = CrdHealth(entry.key, entry.box_spec.queue.failure_threshold, clock=wall)
        self.informer: SharedInformer | None = None
        self.queue: RateLimitingQueue | None = None
        self.pool: WorkerPool | None = None
        self.reconciler: Reconciler | None = None
        self._wall = wall
        self._clock = clock
        self._lock = threading.Lock()
        self._warnings: dict[str, dict[str, list[dict]]] = {}   # cr key -> source -> warnings
        self.dropped = 0
        self.limit_reached = 0
        self._gauges = _Gauges.bind(self.gvk_string, self.key)
        self._state_gauges: dict[CrdState, Gauge] = {}    # bound by the first tick, which sets them
        self._handler: Handler | None = None

    # ------------------------------------------------------------------ ReconcileRuntime
    @property
    def kube(self) -> KubeClient:
        return _connected(self.env.kube)

    @property
    def discovery(self) -> Discovery:
        return _connected(self.env.discovery)

    @property
    def recorder(self) -> EventSink:
        return _connected(self.env.recorder)

    @property
    def identity(self) -> str:
        return self.env.identity

    @property
    def katalog(self) -> Katalog:
        return self.env.katalog

    def cached(self, key: str) -> dict | None:
        informer = self.informer        # read once: unwatch() may clear it meanwhile (a worker asks)
        return informer.store.get(key) if informer is not None else None

    def cached_all(self) -> list[dict]:
        return self.informer.store.list() if self.informer is not None else []

    def children(self, owner_uid: str) -> list[dict]:
        return self.env.children(owner_uid)

    def child_informer_gvrs(self) -> list[GVR]:
        return self.env.child_gvrs_of(self.key)

    def set_warnings(self, key: str, source: str, warnings: list[dict]) -> None:
        now = self._wall()
        with self._lock:
            per_cr = self._warnings.setdefault(key, {})
            previous = {(w.get("field"), w.get("message")): w.get("since") for w in per_cr.get(source, ())}
            if warnings:
                per_cr[source] = [{**w, "since": previous.get((w.get("field"), w.get("message"))) or w.get("since") or now}
                                  for w in warnings]
            else:
                per_cr.pop(source, None)
            if not per_cr:
                self._warnings.pop(key, None)

    def active_warnings(self) -> list[dict]:
        with self._lock:
            return [{"key": key, "source": source, **w}
                    for key, by_source in sorted(self._warnings.items())
                    for source, items in sorted(by_source.items()) for w in items]

    # ------------------------------------------------------------------ lifecycle
    @property
    def active(self) -> bool:
        return self.pool is not None

    def watch(self) -> None:
        """Start (or share) this CRD's informer; safe on followers."""
        if self.informer is not None:
            return
        e, factory = self.entry, self.env.factory
        assert factory is not None, "the engine connects before a box watches"
        informer = factory.informer(
            e.api.gvr, namespace=e.namespace, label_selector=filters.selector_string(e.label_selector),
            field_selector=filters.selector_string(e.field_selector), indexers={"uid": index_uid},
            namespaced=e.api.namespaced)
        self._handler = informer.add_handler(self._on_add, self._on_update, self._on_delete, e.box_spec.resync)
        informer.add_status_listener(lambda condition, message: self._informer_status(informer, condition, message))
        self.informer = informer
        informer.start()

    def unwatch(self) -> None:
        if self.informer is not None:
            informer, self.informer = self.informer, None
            if self._handler is not None:
                informer.remove_handler(self._handler)
            if self.env.factory is not None:
                self.env.factory.release(informer)

    def _informer_status(self, informer: SharedInformer, condition: InformerStatus, message: str) -> None:
        """Reflector news: `forbidden` degrades the CRD until a list succeeds; `gone` (404) asks
        the activator to check presence now."""
        if informer is not self.informer:
            return
        changed = False
        if condition == InformerStatus.FORBIDDEN:
            changed = self.health.set_forbidden(message)
        elif condition == InformerStatus.LISTED:
            changed = self.health.set_forbidden("")
        if changed or condition == InformerStatus.GONE:
            self.env.health_changed()

    def synced(self) -> bool:
        return self.informer is not None and self.informer.has_synced()

    def activate(self) -> None:
        """Fresh queue, reconciler and workers; every cached CR is queued once."""
        e = self.entry
        self.queue = self.env.make_queue(e, self._limit_warning)
        reconciler = self.reconciler = self.env.make_reconciler(e, self)

        def handle(key: str, cancelled: threading.Event) -> Outcome:
            # bound to this activation's reconciler: a later stop() cannot pull it from under a call
            was_cached = self.cached(key) is not None
            outcome = safe_reconcile(reconciler, key, cancelled, sink=self, clock=self._clock)
            if was_cached and self.cached(key) is None:
                # deleted while it ran: its delete event may have forgotten the key before this
                # reconcile recorded anything, and no later event would forget it (issue 14 soak)
                self._forget(key, reconciler)
            return outcome
        self.pool = WorkerPool(crd=self.key, size=e.box_spec.workers, queue=self.queue, handle=handle,
                               timeout=e.box_spec.timeout, on_timeout=self._on_timeout,
                               after_item=self.update_gauges, clock=self._clock, wall=self._wall)
        for obj in self.cached_all():
            self.queue.add(object_key(obj))
        self.health.mark_started()
        self.pool.start()
        metrics.cr_max_concurrent.labels(self.key).set(e.box_spec.workers)
        log.info("crd activated", extra={"crd": self.key, "gvk": self.gvk_string, "workers": e.box_spec.workers})
        self.update_gauges()

    def shut_down_queue(self) -> None:
        """Stop handing out keys (§11 step 2, §9 lost leadership); in-flight calls go on, with
        their `cancelled` set so a cooperative hook can finish early."""
        queue, pool = self.queue, self.pool
        if queue is not None:
            queue.shut_down()
        if pool is not None:
            pool.cancel_in_flight()

    def drain(self, timeout: float) -> bool:
        """Wait up to `timeout` for in-flight reconciles after `shut_down_queue`."""
        return self.pool.join(timeout) if self.pool is not None else True

    def stop(self, *, timeout: float = 5.0) -> None:
        """Discard the queue and workers (the CRD vanished, or leadership was lost)."""
        self.shut_down_queue()
        self.drain(timeout)
        self.pool, self.queue, self.reconciler = None, None, None
        self.env.release_queue(self.key)
        self.update_gauges()

    # ------------------------------------------------------------------ work
    def record_success(self, duration: float) -> None:
        if self.health.record_success(duration):
            self.env.health_changed()

    def record_failure(self, error: str, stack: str, duration: float) -> None:
        if self.health.record_failure(error, stack, duration):
            self.env.health_changed()

    def warning_event(self, cr_key: str, reason: str, message: str) -> None:
        obj = self.cached(cr_key)
        if obj is not None and self.env.recorder is not None:
            self.env.recorder.event(obj, "Warning", reason, message)

    def _on_timeout(self, key: str, stack: str) -> None:
        error = f"reconcile timed out after {format_duration(self.entry.box_spec.timeout)}"
        log.error("reconcile timed out", extra={"crd": self.key, "gvk": self.gvk_string, "key": key,
                                                "stack": stack})
        self.record_failure(error, stack, self.entry.box_spec.timeout)

    # ------------------------------------------------------------------ informer events
    def enqueue(self, key: str) -> None:
        """An informer-driven add: subject to the depth limit (§3.5), which the queue logs."""
        queue = self.queue
        if queue is None:
            return
        result = queue.offer(key)
        if result == Offered.LIMITED:
            self.limit_reached += 1
        elif result == Offered.DROPPED and self.active:
            self.dropped += 1

    def _limit_warning(self, depth: int, limit: int) -> None:
        self.set_warnings("", "queue", [{"field": "queue.maxDepth",
                                         "message": f"queue depth limit reached ({depth}/{limit})"}])

    def _on_add(self, obj: dict) -> None:
        self.enqueue(object_key(obj))

    def _on_update(self, old: dict, new: dict) -> None:
        ignore = self.entry.ignore_observed_generation
        if not filters.update_needs_reconcile(old, new, ignore_observed_generation=ignore):
            return
        reconciler, key = self.reconciler, object_key(new)
        if not ignore and reconciler is not None and reconciler.own_writes.caused(
                key, old, new, lambda: self.enqueue(key)):
            return      # the reconcile that wrote it goes on with this version
        self.enqueue(key)

    def _on_delete(self, obj: dict) -> None:
        key = object_key(obj)
        queue, reconciler = self.queue, self.reconciler     # stop() may clear them meanwhile
        if queue is not None:
            queue.forget(key)
        self._forget(key, reconciler)
        if reconciler is not None and reconciler.holds_finalizers(obj):
            self.enqueue(key)    # it left the selector, not the cluster: release its finalizers

    def _forget(self, key: str, reconciler: Reconciler | None) -> None:
        """Drop what this process remembers of a CR that left the cache."""
        with self._lock:
            self._warnings.pop(key, None)
        if reconciler is not None:
            reconciler.forget(key)

    # ------------------------------------------------------------------ gauges and snapshots
    def resource_count(self) -> int:
        return len(self.informer.store) if self.informer is not None else 0

    def queue_depth(self) -> int:
        """Items waiting in the current queue; 0 when there is none. Reads `self.queue` once:
        the activator's stop() may clear it while a view or a worker is reading."""
        queue = self.queue
        return len(queue) if queue is not None else 0

    def update_gauges(self) -> None:
        counts = self.pool.counts() if self.pool is not None else {"active": 0, "processing": 0, "idle": 0}
        gauges = self._gauges
        gauges.queue_depth.set(self.queue_depth())
        gauges.workers_active.set(counts["active"])
        gauges.workers_processing.set(counts["processing"])
        gauges.workers_idle.set(counts["idle"])
        gauges.cr_active_workers.set(counts["processing"])
        gauges.consecutive_failures.set(self.health.consecutive_fails)

    def tick(self) -> None:
        """Supervisor tick: watchdog, idle-healthy promotion, slower gauges."""
        if self.pool is not None:
            self.pool.check_timeouts()
            counts = self.pool.counts()
            if self.synced() and counts["processing"] == 0 and counts["stuck"] == 0 and self.queue_depth() == 0:
                if self.health.mark_idle():
                    self.env.health_changed()
        max_depth = self.entry.box_spec.queue.max_depth
        if max_depth and self.queue_depth() < max_depth:
            self.set_warnings("", "queue", [])     # the depth limit warning is active only while reached
        self._gauges.resource_count.set(self.resource_count())
        state = self.health.state
        if not self._state_gauges:      # not at construction: until a tick sets them, no state would read 1
            self._state_gauges = {s: metrics.crd_state.labels(self.gvk_string, self.key, s) for s in CrdState}
        for s, gauge in self._state_gauges.items():
            gauge.set(1 if s == state else 0)
        self.update_gauges()

    def snapshot(self) -> dict[str, Any]:
        """Everything the HTTP API shows about this CRD, as plain values."""
        pool = self.pool
        counts = pool.counts() if pool is not None else {"active": 0, "processing": 0, "idle": 0, "stuck": 0}
        return {
            "key": self.key,
            "health": self.health.snapshot(),
            "workers": {**counts, "states": pool.states() if pool is not None else []},
            "queueDepth": self.queue_depth(),
            "dropped": self.dropped,
            "limitReached": self.limit_reached,
            "resourceCount": self.resource_count(),
            "activeWarnings": self.active_warnings(),
        }
