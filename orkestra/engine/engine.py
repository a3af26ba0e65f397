"""The `Engine`: one per process, owning every operator box and the threads around them.

`start()` does only what cannot wait (build the API client, the informer factory, the boxes) and
starts threads; it never talks to the API server, because gunicorn kills a worker whose
`post_worker_init` hangs. A bad kubeconfig raises `EngineStartError` (the worker exits 3). The
rest happens on the `ork-activator` supervisor thread, which beats once a second:

1. until the API server has answered `/version`, retry with backoff (`/startup` stays 503);
2. then start informers for every served CRD (every replica: warm caches), and leader election
   (`ork-leader`) — or become leader at once without a Lease;
3. on becoming leader, once: release the CRs of disabled entries from Orkestra's finalizers
   (`engine.disabled`, on its own thread);
4. on every beat: the workers' watchdog, idle-healthy promotion and gauges; an activation pass
   every `CRD_CHECK_INTERVAL`, at once after a health change, and every beat while a CRD waits
   for its informer to sync; `gc.freeze()` once everything has synced.

Gateway mode (`ork gateway`) has no election and no workers: every CRD stays `pending`, and
informers run only for CRDs with `unique` rules, which the admission webhooks consult.

The HTTP views read the engine through `process_snapshot()`, `crd_snapshot()` and the boxes'
caches, never by reaching into threads.
"""
from __future__ import annotations

import gc
import logging
import os
import threading
import time
from typing import Any, Callable

from orkestra import metrics
from orkestra.config import Settings
from orkestra.engine import filters
from orkestra.engine.activation import Activator
from orkestra.engine.box import OperatorBox
from orkestra.engine.children import resolve_child_gvrs
from orkestra.engine.disabled import entries_to_release, release_entry
from orkestra.engine.health import dependency_satisfied, katalog_health, PENDING
from orkestra.errors import OrkestraError
from orkestra.gvk import GVR
from orkestra.informers.store import object_key
from orkestra.katalog.model import CrdEntry, Katalog

log = logging.getLogger("orkestra.engine")
HEARTBEAT_LIMIT = 60.0
LIVE_CHILDREN_TTL = 30.0
LOST_LEADERSHIP_GRACE = 5.0
EVENT_FLUSH_TIMEOUT = 2.0       # shutdown: how long the Events still buffered may take


class EngineStartError(OrkestraError):
    """The engine cannot start at all (unreadable kubeconfig, unusable client): exit code 3."""


class Engine:
    def __init__(self, katalog: Katalog, settings: Settings, *, mode: str = "runtime",
                 kube_factory: Callable[[], Any] | None = None,
                 reconciler_factory: Callable[[CrdEntry, Any], Any] | None = None,
                 exit_process: Callable[[int], None] = os._exit,
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time):
        if mode not in ("runtime", "gateway"):
            raise ValueError(f"unknown engine mode {mode!r}")
        self.katalog = katalog
        self.settings = settings
        self.mode = mode
        self.identity = settings.pod_name
        self.kube: Any = None
        self.discovery: Any = None
        self.recorder: Any = None
        self.factory: Any = None
        self.webhooks: Any = None
        self.elector: Any = None
        self.ready_event = threading.Event()
        self.started_at = wall()
        self._clock, self._wall = clock, wall
        self._kube_factory = kube_factory or self._default_kube
        self._reconciler_factory = reconciler_factory
        self._exit_process = exit_process
        self.boxes: dict[str, OperatorBox] = {e.key: OperatorBox(e, self, wall=wall, clock=clock)
                                              for e in katalog.enabled}
        self.activator: Activator | None = None
        self._leader = False
        self._leadership_callbacks: list[Callable[[bool], None]] = []
        self._child_informers: dict[GVR, Any] = {}
        self._child_gvrs: dict[str, list[GVR]] = {}
        self._live_children: dict[tuple[GVR, str], tuple[float, list[dict]]] = {}
        self._live_lock = threading.Lock()      # HTTP views run on several threads
        self._queue_metrics: dict[str, Any] = {}
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._heartbeat = clock()
        self.api_reachable = False
        self.shutting_down = False
        self.shutdown_done = False
        self._frozen = False

    # ------------------------------------------------------------------ start
    def _default_kube(self) -> Any:
        from orkestra.kube import KubeClient
        return KubeClient.from_config(self.settings.kubeconfig or None, self.settings.context or None)

    def start(self) -> None:
        """Build clients and start the supervisor; returns at once. Raises EngineStartError."""
        try:
            self.kube = self._kube_factory()
            from orkestra.informers import SharedInformerFactory
            from orkestra.kube import Discovery, EventRecorder, EventSink
            from orkestra.workqueue import shared_timer
            self.discovery = Discovery(self.kube)
            self.recorder = EventSink(EventRecorder(self.kube, self.identity))   # off the workers' time
            self.factory = SharedInformerFactory(self.kube, timer=shared_timer(),
                                                 watch_namespace=self.settings.watch_namespace,
                                                 stall_timeout=self.settings.watch_stall_timeout)
        except OrkestraError as err:
            raise EngineStartError(str(err)) from None
        for box in self.boxes.values():
            box.health.mark_pending()
        from orkestra.webhooks import attach
        try:
            self.webhooks = attach(self)    # None when no webhook feature is needed here
        except OrkestraError as err:
            raise EngineStartError(f"webhooks: {err}") from None
        self._spawn("ork-activator", self._supervise)

    @staticmethod
    def _spawn(name: str, target: Callable[[], None]) -> None:
        threading.Thread(target=target, name=name, daemon=True).start()

    # ------------------------------------------------------------------ supervisor
    def _supervise(self) -> None:
        delay = 0.5
        while not self._stop.is_set() and not self.api_reachable:
            self._heartbeat = self._clock()
            try:
                self.kube.request("GET", "/version")
                self.api_reachable = True
            except Exception as err:  # noqa: BLE001 - unreachable is not fatal: retry with backoff
                log.warning("API server not reachable, retrying", extra={"error": str(err), "retry_in": delay})
                self._stop.wait(delay)
                delay = min(delay * 2, 10.0)
        if self._stop.is_set():
            return
        self._boot()
        next_pass = 0.0
        while not self._stop.is_set():
            now = self._clock()
            self._heartbeat = now
            woken = self._wake.is_set()
            self._wake.clear()
            self._tick()
            if self.activator is not None and self._leader and (woken or now >= next_pass):
                try:
                    waiting = self.activator.run_pass()
                    next_pass = now + (1.0 if waiting else self.settings.crd_check_interval)
                except Exception as err:  # noqa: BLE001 - discovery failed: try again next beat
                    log.warning("activation pass failed", extra={"error": str(err)})
                    next_pass = now + 1.0
                self._update_readiness()
            self._wake.wait(1.0)

    def _boot(self) -> None:
        log.info("api server reachable", extra={"server": getattr(self.kube, "server", "")})
        if self.mode == "gateway":        # caches only where admission checks `unique`
            for box in self.boxes.values():
                if box.entry.has_unique_rules:
                    box.watch()
            return
        self.activator = Activator(self.boxes, self.katalog.start_order, self.discovery, clock=self._clock,
                                   prepare=self._start_child_informers)
        try:
            served = self.activator.served_now()
        except Exception as err:  # noqa: BLE001 - informers start on the first successful pass instead
            log.warning("discovery failed at startup", extra={"error": str(err)})
            served = set()
        for key in self.katalog.start_order:
            if key in served:
                self.boxes[key].watch()
        if not self.settings.leader_election:
            self._became_leader()
            return
        from orkestra.engine.leader import KubeLeaseStore, LeaseElector
        store = KubeLeaseStore(self.kube, namespace=self.settings.namespace)
        self.elector = LeaseElector(store, identity=self.identity, lease_duration=self.settings.lease_duration,
                                    renew_deadline=self.settings.renew_deadline,
                                    retry_period=self.settings.retry_period,
                                    on_started_leading=self._became_leader, on_stopped_leading=self._lost_leadership,
                                    clock=self._clock, wall=self._wall)
        self._spawn("ork-leader", lambda: self.elector.run(self._stop))
        self._spawn("ork-leader-watch", lambda: store.watch_released(self.elector, self._stop))

    def _tick(self) -> None:
        for box in self.boxes.values():
            try:
                box.tick()
            except Exception:  # noqa: BLE001 - a gauge must never stop the supervisor
                log.exception("supervisor tick failed", extra={"crd": box.key})
        if not self._leader:
            self._update_readiness()
        healthy, _ = katalog_health([b.health.state for b in self.boxes.values()])
        metrics.katalog_healthy.labels(self.katalog.name).set(1 if healthy else 0)
        if not self._frozen and self._all_synced():
            gc.freeze()
            self._frozen = True
            log.debug("gc frozen after initial sync")

    def _all_synced(self) -> bool:
        watched = [b for b in self.boxes.values() if b.informer is not None]
        return bool(watched) and all(b.synced() for b in watched) and \
            all(i.has_synced() for i in self._child_informers.values())

    def health_changed(self) -> None:
        """Called by boxes when a CRD's state changed: run the activator now."""
        self._wake.set()

    # ------------------------------------------------------------------ leadership
    def is_leader(self) -> bool:
        return self._leader

    def on_leadership(self, callback: Callable[[bool], None]) -> None:
        self._leadership_callbacks.append(callback)
        if self._leader:
            callback(True)

    @property
    def leader_identity(self) -> str:
        if self._leader:
            return self.identity
        return self.elector.holder if self.elector is not None else ""

    def _became_leader(self) -> None:
        self._leader = True
        metrics.leader_status.labels("orkestra-konductor").set(1)
        if self.elector is not None and self.recorder is not None and self.elector.lease is not None:
            self.recorder.event(self.elector.lease, "Normal", "LeaderElection", f"{self.identity} became leader")
        if self.activator is not None:
            self.activator.leadership_gained()
        for cb in self._leadership_callbacks:
            _safe_call(cb, True)
        disabled = entries_to_release(self.katalog)
        if disabled:
            self._spawn("ork-release-disabled", lambda: self._release_disabled(disabled))
        self._wake.set()

    def _release_disabled(self, entries: list[CrdEntry]) -> None:
        """Free the CRs of disabled entries from Orkestra's finalizers (docs/finalizers.md)."""
        for entry in entries:
            release_entry(entry, self.kube, self.recorder, watch_namespace=self.settings.watch_namespace)

    def _lost_leadership(self) -> None:
        """Stop handing out work at once, give in-flight calls and their Events 5 s, then end the
        worker (exit 1)."""
        self._leader = False
        for cb in self._leadership_callbacks:
            _safe_call(cb, False)
        for box in self.boxes.values():
            box.shut_down_queue()
        deadline = self._clock() + LOST_LEADERSHIP_GRACE
        for box in self.boxes.values():
            box.drain(max(0.0, deadline - self._clock()))
        if self.recorder is not None:   # their Events wait in the sink: write them in what is left
            self.recorder.close(max(0.0, deadline - self._clock()))
        for handler in logging.getLogger().handlers:
            handler.flush()             # os._exit skips the interpreter's own flush
        self._exit_process(1)

    # ------------------------------------------------------------------ children
    def _start_child_informers(self, box: OperatorBox) -> None:
        resolved = resolve_child_gvrs(box.entry, self.discovery)
        self._child_gvrs[box.key] = [gvr for gvr, _ in resolved]
        for gvr, namespaced in resolved:
            with self._lock:
                if gvr in self._child_informers:
                    continue
                informer = self.factory.informer(gvr, label_selector=filters.MANAGED_BY_SELECTOR,
                                                 indexers={"owner": filters.owner_index}, namespaced=namespaced)
                self._child_informers[gvr] = informer
            informer.add_handler(lambda obj: None, lambda old, new: self._child_event(new),
                                 self._child_event, 0)
            informer.add_status_listener(lambda condition, message, g=gvr: self._child_status(g, condition, message))
            informer.start()

    def _child_status(self, gvr: GVR, condition: str, message: str) -> None:
        """A forbidden child informer degrades every CRD that writes that resource (§4.1)."""
        if condition not in ("forbidden", "listed"):
            return
        error = message if condition == "forbidden" else ""
        for key, gvrs in list(self._child_gvrs.items()):
            if gvr in gvrs and self.boxes[key].health.set_forbidden(error):
                self._wake.set()

    def _child_event(self, child: dict) -> None:
        uid = filters.owner_uid(child)
        if not uid:
            return
        named = filters.owner_crd(child)
        boxes = [self.boxes[named]] if named in self.boxes else list(self.boxes.values())
        for box in boxes:
            informer = box.informer         # read once: the activator may unwatch meanwhile
            if not box.active or informer is None:
                continue
            for owner in informer.store.by_index("uid", uid):
                box.enqueue(object_key(owner))

    def children(self, owner_uid: str) -> list[dict]:
        out: list[dict] = []
        for informer in list(self._child_informers.values()):
            out.extend(informer.store.by_index("owner", owner_uid))
        return out

    def children_for_view(self, key: str, owner_uid: str) -> list[dict]:
        """Children of a CR for `/katalog/{crd}/cr/...`: from the child informers, and for child
        kinds without one (a follower, or before activation) a live list, cached 30 s."""
        box = self.boxes.get(key)
        out = self.children(owner_uid)
        if box is None or self.kube is None:
            return out
        now = self._clock()
        with self._live_lock:
            for stale in [k for k, (at, _) in self._live_children.items() if now - at > LIVE_CHILDREN_TTL]:
                self._live_children.pop(stale, None)
        for gvr, _ in resolve_child_gvrs(box.entry, self.discovery):
            if gvr in self._child_informers:
                continue
            with self._live_lock:
                cached = self._live_children.get((gvr, owner_uid))
            if cached is None or now - cached[0] > LIVE_CHILDREN_TTL:
                try:
                    items, _ = self.kube.list(gvr, label_selector=f"{filters.OWNER_UID_LABEL}={owner_uid}")
                except Exception as err:  # noqa: BLE001 - a view must not fail on one kind
                    log.debug("live child list failed", extra={"crd": key, "error": str(err)})
                    items = []
                cached = (now, items)           # KubeClient.list fills in each item's kind
                with self._live_lock:
                    self._live_children[(gvr, owner_uid)] = cached
            out.extend(cached[1])
        return out

    def child_gvrs_of(self, key: str) -> list[GVR]:
        """The GVRs that may hold label-tracked children of CRD `key` (resolved at activation)."""
        return list(self._child_gvrs.get(key, ()))

    # ------------------------------------------------------------------ box environment
    def make_queue(self, entry: CrdEntry, on_limit_warning: Callable[[int, int], None]) -> Any:
        from orkestra.workqueue import PrometheusQueueMetrics, RateLimitingQueue, shared_timer
        queue_metrics = self._queue_metrics[entry.key] = PrometheusQueueMetrics(entry.key, entry.api.gvk_string)
        return RateLimitingQueue(entry.key, timer=shared_timer(), max_depth=entry.box.queue.max_depth,
                                 on_limit=entry.box.queue.on_limit, metrics=queue_metrics,
                                 gvk=entry.api.gvk_string, on_limit_warning=on_limit_warning)

    def release_queue(self, key: str) -> None:
        """A box discarded its queue: drop its `workqueue_*` series."""
        queue_metrics = self._queue_metrics.pop(key, None)
        if queue_metrics is not None:
            queue_metrics.close()

    def make_reconciler(self, entry: CrdEntry, box: OperatorBox) -> Any:
        if self._reconciler_factory is not None:
            return self._reconciler_factory(entry, box)
        from orkestra.reconcile import build_reconciler
        return build_reconciler(entry, katalog=self.katalog, runtime=box)

    def box(self, key: str) -> OperatorBox | None:
        return self.boxes.get(key)

    # ------------------------------------------------------------------ probes and snapshots
    def _update_readiness(self) -> None:
        if self.shutting_down or not self.api_reachable:
            self.ready_event.clear()
            return
        if self._leader and self.mode == "runtime":
            ready = self.activator is not None and self.activator.first_pass_done
        else:
            watched = [b for b in self.boxes.values() if b.informer is not None]
            ready = all(b.synced() for b in watched)
            if self.mode == "gateway":
                ready = ready and self.webhooks is not None and self.webhooks.listening.is_set()
        if ready:
            self.ready_event.set()
        else:
            self.ready_event.clear()

    def probes(self) -> dict[str, bool]:
        return {
            "startup": self.api_reachable,
            "ready": self.api_reachable and self.ready_event.is_set() and not self.shutting_down,
            "health": self._clock() - self._heartbeat <= HEARTBEAT_LIMIT and not self.shutdown_done,
        }

    def process_snapshot(self) -> dict[str, Any]:
        return {"identity": self.identity, "isLeader": self._leader, "leader": self.leader_identity,
                "mode": self.mode, "startedAt": self.started_at, "now": self._wall(),
                "gatewayEndpoint": self.settings.gateway_endpoint, **self.probes()}

    def crd_snapshot(self, key: str) -> dict[str, Any] | None:
        box = self.boxes.get(key)
        if box is None:
            return None
        snap = box.snapshot()
        snap["dependencies"] = []
        for dep in box.entry.depends_on:
            other = self.boxes.get(dep.name)
            state = other.health.state if other is not None else "not started"
            snap["dependencies"].append({"name": dep.name, "condition": dep.condition, "state": state,
                                         "satisfied": dependency_satisfied(dep.condition, state)})
        if not self._leader and snap["health"]["state"] == PENDING:
            snap["workers"]["active"] = 0
        return snap

    def cached_crs(self, key: str) -> list[dict]:
        box = self.boxes.get(key)
        return box.cached_all() if box is not None else []

    def cached_cr(self, key: str, cr_key: str) -> dict | None:
        box = self.boxes.get(key)
        return box.cached(cr_key) if box is not None else None

    def events_for(self, obj: dict) -> list[dict]:
        """Core Events whose involvedObject is `obj` (a live list: events are not cached)."""
        meta = obj.get("metadata") or {}
        items, _ = self.kube.list(GVR("", "v1", "events"), namespace=meta.get("namespace") or "default",
                                  field_selector=f"involvedObject.uid={meta.get('uid', '')}")
        return items

    def stop_threads(self) -> None:
        """Stop the supervisor and the election loop (shutdown step 3), and write the Events
        still buffered (at most 2 s)."""
        self._stop.set()
        self._wake.set()
        if self.elector is not None:
            self.elector.wake()
        if self.recorder is not None:
            self.recorder.close(EVENT_FLUSH_TIMEOUT)

    def release_informers(self) -> None:
        """Stop every reflector (shutdown step 3)."""
        with self._lock:
            self._child_informers = {}
        for box in self.boxes.values():
            box.informer = None
        self.factory.stop_all()


def _safe_call(cb: Callable[[bool], None], value: bool) -> None:
    try:
        cb(value)
    except Exception:  # noqa: BLE001
        log.exception("leadership callback failed")
