"""The `Engine`: one per process, owning every operator box and the threads around them.

`start()` does only what cannot wait (`connect()`: the API client and the informer factory; the
runnables registered with `add_runnable` that need no leader, see `orkestra.engine.runnable`) and
starts threads; it never talks to the API server, because gunicorn kills a worker whose
`post_worker_init` hangs. A bad kubeconfig raises `EngineStartError` (the worker exits 3). The
rest happens on the `ork-activator` supervisor thread, which beats once a second:

1. until the API server has answered `/version`, retry with backoff (`/startup` stays 503);
2. then start informers for every served CRD (every replica: warm caches), and leader election
   (`ork-leader`) — or become leader at once without a Lease;
3. on becoming leader: start the runnables that need a leader (each once), and release the CRs
   of disabled entries from Orkestra's finalizers (`engine.disabled`, on its own thread);
4. on every beat: the workers' watchdog, idle-healthy promotion and gauges; an activation pass
   every `CRD_CHECK_INTERVAL`, at once after a health change, and every beat while a CRD waits
   for its informer to sync; `gc.freeze()` once everything has synced.

Gateway mode (`ork gateway`) has no election and no workers: every CRD stays `pending`, and
informers run only for CRDs with `unique` rules, which the admission webhooks consult.

The HTTP views read the engine through an `EngineView` (`orkestra.engine.view`), never by reaching into
threads. `shutdown()` is the graceful shutdown of docs/runtime.md §11; `drain(budget)` is its
step 2, which losing leadership runs too.
"""
from __future__ import annotations

import gc
import logging
import os
import threading
import time
from typing import TYPE_CHECKING, Callable

from orkestra import metrics
from orkestra.config import Mode, Settings
from orkestra.engine import filters
from orkestra.engine.activation import Activator
from orkestra.engine.box import OperatorBox
from orkestra.engine.children import ChildInformers
from orkestra.engine.disabled import entries_to_release, release_entry
from orkestra.engine.health import katalog_health
from orkestra.engine.runnable import Runnable, Runnables
from orkestra.errors import OrkestraError
from orkestra.gvk import GVR
from orkestra.katalog.model import CrdEntry, Katalog

if TYPE_CHECKING:
    from orkestra.engine.leader import LeaseElector
    from orkestra.informers import SharedInformerFactory
    from orkestra.kube import AsyncEventSink, Discovery, KubeClient
    from orkestra.reconcile.runtime import Reconciler
    from orkestra.workqueue import PrometheusQueueMetrics, RateLimitingQueue

log = logging.getLogger("orkestra.engine")
HEARTBEAT_LIMIT = 60.0
LOST_LEADERSHIP_GRACE = 5.0
EVENT_FLUSH_TIMEOUT = 2.0       # shutdown: how long the Events still buffered may take


class EngineStartError(OrkestraError):
    """The engine cannot start at all (unreadable kubeconfig, unusable client): exit code 3."""


class Engine:
    def __init__(self, katalog: Katalog, settings: Settings, *, mode: Mode = Mode.RUNTIME,
                 kube_factory: Callable[[], KubeClient] | None = None,
                 reconciler_factory: Callable[[CrdEntry, OperatorBox], Reconciler] | None = None,
                 exit_process: Callable[[int], None] = os._exit,
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time):
        if mode not in tuple(Mode):
            raise ValueError(f"unknown engine mode {mode!r}")
        self.katalog = katalog
        self.settings = settings
        self.mode = mode
        self.identity = settings.pod_name
        self.kube: KubeClient | None = None
        self.discovery: Discovery | None = None
        self.recorder: AsyncEventSink | None = None
        self.factory: SharedInformerFactory | None = None
        self.elector: LeaseElector | None = None
        self._runnables = Runnables()
        self._ready_checks: list[Callable[[], bool]] = []
        self.ready_event = threading.Event()
        self.started_at = wall()
        self.clock, self.wall = clock, wall
        self._kube_factory = kube_factory or self._default_kube
        self._reconciler_factory = reconciler_factory
        self._exit_process = exit_process
        self.boxes: dict[str, OperatorBox] = {e.key: OperatorBox(e, self, wall=wall, clock=clock)
                                              for e in katalog.enabled}
        self.activator: Activator | None = None
        self._leader = False
        self.child_informers = ChildInformers(self.boxes, on_health_change=self.health_changed)
        self._queue_metrics: dict[str, PrometheusQueueMetrics] = {}
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._heartbeat = clock()
        self.api_reachable = False
        self.shutting_down = False
        self.shutdown_done = False
        self._frozen = False

    # ------------------------------------------------------------------ start
    def _default_kube(self) -> KubeClient:
        from orkestra.kube import KubeClient
        return KubeClient.from_config(self.settings.kubeconfig or None, self.settings.context or None,
                                      account_dir=self.settings.service_account_dir,
                                      service_host=self.settings.service_host,
                                      service_port=self.settings.service_port)

    def connect(self) -> None:
        """Build the API client, discovery, the event recorder and the informer factory (no
        request is sent). Raises EngineStartError; a second call does nothing."""
        if self.kube is not None:
            return
        try:
            self.kube = self._kube_factory()
            from orkestra.informers import SharedInformerFactory
            from orkestra.kube import AsyncEventSink, Discovery, EventRecorder
            from orkestra.workqueue import shared_timer
            self.discovery = Discovery(self.kube)
            self.recorder = AsyncEventSink(EventRecorder(self.kube, self.identity))   # off the workers' time
            self.factory = SharedInformerFactory(self.kube, timer=shared_timer(),
                                                 watch_namespace=self.settings.watch_namespace,
                                                 stall_timeout=self.settings.watch_stall_timeout)
        except OrkestraError as err:
            raise EngineStartError(str(err)) from None

    def add_runnable(self, runnable: Runnable) -> None:
        """Run `runnable` with the engine (before `start`): see `orkestra.engine.runnable`."""
        self._runnables.add(runnable)

    def add_ready_check(self, check: Callable[[], bool]) -> None:
        """One more condition for `/ready` (the gateway's: its webhook listener is up)."""
        self._ready_checks.append(check)

    def start(self) -> None:
        """Connect, start the runnables that need no leader and the supervisor; returns at once.
        Raises EngineStartError."""
        self.connect()
        for box in self.boxes.values():
            box.health.mark_pending()
        try:
            self._runnables.start(leading=False)
        except OrkestraError as err:
            raise EngineStartError(str(err)) from None
        self._spawn("ork-activator", self._supervise)

    @staticmethod
    def _spawn(name: str, target: Callable[[], None]) -> None:
        threading.Thread(target=target, name=name, daemon=True).start()

    # ------------------------------------------------------------------ supervisor
    def _supervise(self) -> None:
        kube = self.kube
        assert kube is not None, "start() connects first"
        delay = 0.5
        while not self._stop.is_set() and not self.api_reachable:
            self._heartbeat = self.clock()
            try:
                kube.request("GET", "/version")
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
            now = self.clock()
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
        if self.mode == Mode.GATEWAY:     # caches only where admission checks `unique`
            for box in self.boxes.values():
                if box.entry.has_unique_rules:
                    box.watch()
            return
        factory, discovery, kube = self.factory, self.discovery, self.kube
        assert factory is not None and discovery is not None and kube is not None, "start() connects first"
        self.activator = Activator(self.boxes, self.katalog.start_order, discovery, clock=self.clock,
                                   prepare=lambda box: self.child_informers.watch_for(box, factory, discovery))
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
        store = KubeLeaseStore(kube, namespace=self.settings.namespace)
        elector = self.elector = LeaseElector(
            store, identity=self.identity, lease_duration=self.settings.lease_duration,
            renew_deadline=self.settings.renew_deadline, retry_period=self.settings.retry_period,
            on_started_leading=self._became_leader, on_stopped_leading=self._lost_leadership,
            on_failure=self._lease_failure, clock=self.clock, wall=self.wall)
        self._spawn("ork-leader", lambda: elector.run(self._stop))
        self._spawn("ork-leader-watch", lambda: store.watch_released(elector, self._stop))

    def _lease_failure(self, message: str) -> None:
        """Every CRD waits on the Lease: a failing Lease request is an active warning of each."""
        for box in self.boxes.values():
            box.set_warnings("", "leaderElection", [{"message": message}] if message else [])

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
        return bool(watched) and all(b.synced() for b in watched) and self.child_informers.synced()

    def health_changed(self) -> None:
        """Called by boxes when a CRD's state changed: run the activator now."""
        self._wake.set()

    # ------------------------------------------------------------------ leadership
    def is_leader(self) -> bool:
        return self._leader

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
        try:
            self._runnables.start(leading=True)
        except Exception:  # noqa: BLE001 - the supervisor goes on; the runnable said why
            log.exception("starting a leader runnable failed")
        disabled = entries_to_release(self.katalog)
        if disabled:
            self._spawn("ork-release-disabled", lambda: self._release_disabled(disabled))
        self._wake.set()

    def _release_disabled(self, entries: list[CrdEntry]) -> None:
        """Free the CRs of disabled entries from Orkestra's finalizers (docs/finalizers.md)."""
        kube, recorder = self.kube, self.recorder
        assert kube is not None and recorder is not None, "start() connects first"
        for entry in entries:
            release_entry(entry, kube, recorder, watch_namespace=self.settings.watch_namespace)

    def _lost_leadership(self) -> None:
        """Stop handing out work at once, give in-flight calls and their Events 5 s, then end the
        worker (exit 1)."""
        self._leader = False
        for box in self.boxes.values():
            box.shut_down_queue()       # every queue at once (§9), then the one drain loop
        deadline = self.clock() + LOST_LEADERSHIP_GRACE
        self.drain(LOST_LEADERSHIP_GRACE)
        if self.recorder is not None:   # their Events wait in the sink: write them in what is left
            self.recorder.close(max(0.0, deadline - self.clock()))
        for handler in logging.getLogger().handlers:
            handler.flush()             # os._exit skips the interpreter's own flush
        self._exit_process(1)

    # ------------------------------------------------------------------ children
    def children(self, owner_uid: str) -> list[dict]:
        return self.child_informers.children(owner_uid)

    def child_gvrs_of(self, key: str) -> list[GVR]:
        return self.child_informers.gvrs_of(key)

    # ------------------------------------------------------------------ box environment
    def make_queue(self, entry: CrdEntry, on_limit_warning: Callable[[int, int], None]) -> RateLimitingQueue:
        from orkestra.workqueue import PrometheusQueueMetrics, RateLimitingQueue, shared_timer
        queue_metrics = self._queue_metrics[entry.key] = PrometheusQueueMetrics(entry.key, entry.api.gvk_string)
        return RateLimitingQueue(entry.key, timer=shared_timer(), max_depth=entry.box_spec.queue.max_depth,
                                 on_limit=entry.box_spec.queue.on_limit, metrics=queue_metrics,
                                 gvk=entry.api.gvk_string, on_limit_warning=on_limit_warning)

    def release_queue(self, key: str) -> None:
        """A box discarded its queue: drop its `workqueue_*` series."""
        queue_metrics = self._queue_metrics.pop(key, None)
        if queue_metrics is not None:
            queue_metrics.close()

    def make_reconciler(self, entry: CrdEntry, box: OperatorBox) -> Reconciler:
        if self._reconciler_factory is not None:
            return self._reconciler_factory(entry, box)
        from orkestra.reconcile import build_reconciler
        return build_reconciler(entry, katalog=self.katalog, runtime=box,
                                hooks_path=self.settings.katalog.hooks_path)

    # ------------------------------------------------------------------ probes and snapshots
    def _update_readiness(self) -> None:
        if self.shutting_down or not self.api_reachable:
            self.ready_event.clear()
            return
        if self._leader and self.mode == Mode.RUNTIME:
            ready = self.activator is not None and self.activator.first_pass_done
        else:
            watched = [b for b in self.boxes.values() if b.informer is not None]
            ready = all(b.synced() for b in watched)
        ready = ready and all(check() for check in self._ready_checks)
        if ready:
            self.ready_event.set()
        else:
            self.ready_event.clear()

    def probes(self) -> dict[str, bool]:
        """The process probes. `liveness` is what `/health` answers: the supervisor's heartbeat,
        never a CRD's health (docs/runtime.md §12.1)."""
        return {
            "startup": self.api_reachable,
            "ready": self.api_reachable and self.ready_event.is_set() and not self.shutting_down,
            "liveness": self.clock() - self._heartbeat <= HEARTBEAT_LIMIT and not self.shutdown_done,
        }

    # ------------------------------------------------------------------ shutdown
    def drain(self, budget: float) -> bool:
        """Shut each CRD's queue and wait for its in-flight reconciles, in reverse start order,
        all of them within `budget` seconds from now. When it runs out, say so once (with the
        budget) and shut the remaining queues without waiting; False then."""
        exceeded, deadline = False, self.clock() + budget
        for key in reversed(self.katalog.start_order):
            box = self.boxes.get(key)
            if box is None:
                continue
            box.shut_down_queue()
            if not exceeded and not box.drain(max(0.0, deadline - self.clock())):
                exceeded = True
                log.warning("drain timeout exceeded — workers may still be running",
                            extra={"crd": key, "budget": budget})
        return not exceeded

    def shutdown(self) -> None:
        """Graceful shutdown (docs/runtime.md §11), run by gunicorn's `worker_exit` or on SIGTERM.

        The order matters: `/ready` drops first so load balancers stop sending traffic; then the
        queues drain, all CRDs sharing one `DRAIN_TIMEOUT` budget; only then are informers, the
        activator and the Lease let go, so a follower never takes over while this process still
        writes. Webhooks stop last because the API server may still call them while we drain."""
        if self.shutdown_done:
            return
        self.shutting_down = True                                       # 1. /ready -> 503
        self.ready_event.clear()
        log.info("shutting down", extra={"identity": self.identity})
        self.drain(self.settings.drain_timeout)                         # 2.
        self._stop.set()                                                # 3. supervisor, election,
        self._wake.set()                                                #    informers, Lease
        if self.elector is not None:
            self.elector.wake()
        if self.recorder is not None:                                   #    the Events still
            self.recorder.close(EVENT_FLUSH_TIMEOUT)                    #    buffered (at most 2 s)
        if self.factory is not None:
            self.child_informers.forget()
            for box in self.boxes.values():
                box.informer = None
            self.factory.stop_all()
        if self.elector is not None:
            self.elector.release()
        self._runnables.stop()                                          # 4. webhooks
        self.shutdown_done = True                                       # 5. /health (liveness) -> 500
        log.info("shutdown complete", extra={"identity": self.identity})
