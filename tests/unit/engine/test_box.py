"""OperatorBox wiring with fake informer, queue and reconciler: event filter, enqueue, forget,
warnings, status listener and activation from the warm cache."""
import threading
import time

from orkestra.engine.box import OperatorBox
from orkestra.reconcile.ownwrites import OwnWrites
from orkestra.reconcile.runtime import ReconcileResult
from orkestra.workqueue import RateLimitingQueue, Timer
from tests.unit.engine.factories import make_entry, make_katalog


class FakeStore:
    def __init__(self):
        self.items = {}

    def get(self, key):
        return self.items.get(key)

    def list(self):
        return list(self.items.values())

    def __len__(self):
        return len(self.items)


class FakeInformer:
    def __init__(self):
        self.store = FakeStore()
        self.handlers = []
        self.listeners = []
        self.started = False
        self.synced = True

    def add_handler(self, on_add, on_update, on_delete, resync):
        h = (on_add, on_update, on_delete, resync)
        self.handlers.append(h)
        return h

    def remove_handler(self, h):
        self.handlers.remove(h)

    def add_status_listener(self, fn):
        self.listeners.append(fn)

    def start(self):
        self.started = True

    def has_synced(self):
        return self.synced


class FakeFactory:
    def __init__(self):
        self.informer_obj = FakeInformer()
        self.calls = []
        self.released = []

    def informer(self, gvr, **kw):
        self.calls.append((gvr, kw))
        return self.informer_obj

    def release(self, informer):
        self.released.append(informer)


class FakeReconciler:
    def __init__(self):
        self.calls, self.forgotten = [], []
        self.lock = threading.Lock()
        self.own_writes = OwnWrites()

    def reconcile(self, key, cancelled):
        with self.lock:
            self.calls.append(key)
        return ReconcileResult()

    def forget(self, key):
        self.forgotten.append(key)

    def holds_finalizers(self, obj):
        return bool(obj["metadata"].get("finalizers"))


class Env:
    kube = discovery = recorder = None
    identity = "pod-a"

    def __init__(self, entry):
        self.katalog = make_katalog(entry)
        self.factory = FakeFactory()
        self.reconciler = FakeReconciler()
        self.wakes = 0
        self.released_queues = []
        self.timer = Timer(start=False)

    def make_queue(self, entry, on_limit_warning):
        return RateLimitingQueue(entry.key, timer=self.timer, max_depth=entry.box_spec.queue.max_depth,
                                 on_limit=entry.box_spec.queue.on_limit, on_limit_warning=on_limit_warning)

    def make_reconciler(self, entry, box):
        return self.reconciler

    def release_queue(self, key):
        self.released_queues.append(key)

    def children(self, uid):
        return [{"uid": uid}]

    def child_gvrs_of(self, key):
        return ["gvr-of-" + key]

    def health_changed(self):
        self.wakes += 1


def cr(name, rv="1", gen=1, **meta):
    return {"metadata": {"name": name, "namespace": "ns", "resourceVersion": rv, "generation": gen,
                         "uid": f"uid-{name}", **meta}}


def wait_until(predicate, timeout=3.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.002)


def make_box(**kw):
    entry = make_entry("website", **kw)
    env = Env(entry)
    return OperatorBox(entry, env), env


def test_watch_shares_the_factory_informer_with_the_entry_scope():
    box, env = make_box(namespaced=False)
    box.watch()
    gvr, kw = env.factory.calls[0]
    assert str(gvr) == "demo.orkestra.io/v1alpha1/websites"
    assert kw["namespaced"] is False and "uid" in kw["indexers"]
    assert env.factory.informer_obj.started and len(env.factory.informer_obj.handlers) == 1
    box.unwatch()
    assert env.factory.released and env.factory.informer_obj.handlers == []


def test_events_before_activation_are_ignored_and_activation_queues_the_cache():
    box, env = make_box(workers=2)
    box.watch()
    on_add = env.factory.informer_obj.handlers[0][0]
    for name in ("a", "b"):
        env.factory.informer_obj.store.items[f"ns/{name}"] = cr(name)
        on_add(cr(name))                       # follower: no queue yet
    box.activate()
    wait_until(lambda: sorted(env.reconciler.calls) == ["ns/a", "ns/b"])
    assert box.health.state == "healthy"
    box.stop(timeout=2)
    assert box.queue is None and not box.active and env.released_queues == ["website"]


def test_update_filter_and_delete_forget():
    box, env = make_box(workers=1)
    box.watch()
    _, on_update, on_delete, resync = env.factory.informer_obj.handlers[0]
    assert resync == 15.0
    box.activate()
    status_only = cr("a", rv="2")
    on_update(cr("a", rv="1"), status_only)
    time.sleep(0.05)
    assert env.reconciler.calls == []
    on_update(cr("a", rv="1"), cr("a", rv="3", gen=2))
    wait_until(lambda: env.reconciler.calls == ["ns/a"])
    box.set_warnings("ns/a", "validation", [{"field": "spec.x", "message": "m"}])
    on_delete(cr("a"))
    assert env.reconciler.forgotten == ["ns/a"] and box.active_warnings() == []
    box.stop(timeout=2)


def test_an_object_that_leaves_the_selector_holding_finalizers_is_queued_once_more():
    """Issue 9 item 10: its DELETED event is the only chance to release Orkestra's finalizers."""
    box, env = make_box(workers=1)
    box.watch()
    _, _, on_delete, _ = env.factory.informer_obj.handlers[0]
    box.activate()
    on_delete(cr("plain"))
    on_delete(cr("held", finalizers=["orkestra.io/finalizer"]))
    wait_until(lambda: env.reconciler.calls == ["ns/held"])
    assert env.reconciler.forgotten == ["ns/plain", "ns/held"]
    box.stop(timeout=2)


def test_runtime_protocol_answers_from_memory():
    box, env = make_box()
    box.watch()
    env.factory.informer_obj.store.items["ns/a"] = cr("a")
    assert box.cached("ns/a")["metadata"]["name"] == "a" and box.cached("ns/zz") is None
    assert len(box.cached_all()) == 1 and box.resource_count() == 1
    assert box.children("u1") == [{"uid": "u1"}]
    assert box.child_informer_gvrs() == ["gvr-of-website"]
    assert box.identity == "pod-a" and box.katalog is env.katalog


def test_warnings_keep_their_first_seen_time():
    box, _ = make_box()
    box._wall = lambda: 100.0
    box.set_warnings("ns/a", "validation", [{"field": "f", "message": "m"}])
    box._wall = lambda: 200.0
    box.set_warnings("ns/a", "validation", [{"field": "f", "message": "m"}, {"field": "g", "message": "n"}])
    warnings = box.active_warnings()
    assert [(w["field"], w["since"]) for w in warnings] == [("f", 100.0), ("g", 200.0)]
    assert warnings[0]["key"] == "ns/a" and warnings[0]["source"] == "validation"
    box.set_warnings("ns/a", "validation", [])
    assert box.active_warnings() == []


def test_forbidden_informer_degrades_and_recovers_through_the_status_listener():
    box, env = make_box()
    box.watch()
    box.activate()
    box.health.record_success()
    listener = env.factory.informer_obj.listeners[0]
    listener("forbidden", "forbidden: cannot watch websites in all namespaces")
    assert box.health.state == "degraded" and env.wakes >= 1
    listener("listed", "")
    assert box.health.state == "healthy"
    box.stop(timeout=2)


def test_queue_limit_counts_and_sets_a_warning():
    box, env = make_box(workers=1, max_depth=1)
    box.watch()
    gate = threading.Event()
    env.reconciler.reconcile = lambda key, cancelled: (gate.wait(2), ReconcileResult())[1]
    box.activate()
    box.enqueue("ns/busy")
    wait_until(lambda: box.pool.counts()["processing"] == 1)
    box.enqueue("ns/one")
    box.enqueue("ns/two")                   # depth 1 >= maxDepth 1: added anyway (warn)
    assert box.limit_reached == 1
    assert box.active_warnings()[0]["source"] == "queue"
    box.tick()
    assert box.active_warnings()[0]["source"] == "queue", "still at the limit"
    gate.set()
    wait_until(lambda: len(box.queue) == 0 and box.pool.counts()["processing"] == 0)
    box.tick()
    assert box.active_warnings() == [], "the warning is active only while the limit is reached"
    box.stop(timeout=2)


def test_timeout_records_a_failure_with_the_go_duration():
    box, env = make_box(timeout=300.0)
    box._on_timeout("ns/a", "stack")
    snap = box.health.snapshot()
    assert snap["lastError"] == "reconcile timed out after 5m0s" and snap["failedReconciles"] == 1


class _QueueClearedMidRead(OperatorBox):
    """`queue` is read once, then stop() (another thread) clears it before the next read."""
    _reads = 0

    @property
    def queue(self):
        self._reads += 1
        return self._q if self._reads == 1 else None

    @queue.setter
    def queue(self, value):
        self._q, self._reads = value, 0


def test_views_and_informer_events_tolerate_a_concurrent_stop():
    """The activator's stop() clears `queue`/`reconciler` while HTTP views, workers and the
    informer thread read them: each reader must read the attribute once."""
    entry = make_entry("website")
    env = Env(entry)
    box = _QueueClearedMidRead(entry, env)
    box.queue = RateLimitingQueue("website", timer=env.timer)
    assert box.snapshot()["queueDepth"] == 0
    box.queue = RateLimitingQueue("website", timer=env.timer)
    box.update_gauges()
    box.queue = RateLimitingQueue("website", timer=env.timer)
    box._on_delete(cr("a"))
    box.queue = RateLimitingQueue("website", timer=env.timer)
    box.shut_down_queue()


class WaitingReconciler(FakeReconciler):
    """A reconcile that polls `cancelled` the way docs/katalog.md#hooks tells hooks to."""

    def __init__(self):
        super().__init__()
        self.started = threading.Event()
        self.saw_cancel = []

    def reconcile(self, key, cancelled):
        self.started.set()
        self.saw_cancel.append(cancelled.wait(5.0))
        return ReconcileResult()


def test_shutting_down_the_queue_sets_cancelled_on_in_flight_reconciles():
    """Issue 9 item 22: shutdown (§11) and lost leadership (§9) both go through shut_down_queue;
    a hook polling ctx.cancelled must see it set instead of running past the drain budget."""
    box, env = make_box(workers=1)
    env.reconciler = WaitingReconciler()
    box.watch()
    env.factory.informer_obj.store.items["ns/a"] = cr("a")
    box.activate()
    assert env.reconciler.started.wait(3.0)
    started = time.monotonic()
    box.shut_down_queue()
    assert box.drain(3.0)
    assert env.reconciler.saw_cancel == [True] and time.monotonic() - started < 2.0


def test_tick_sets_one_crd_state_series_per_state_labelled_with_the_plain_state():
    from prometheus_client import REGISTRY
    box, env = make_box()
    box.watch()
    box.activate()
    box.health.record_success()
    box.tick()
    labels = {"crd": box.gvk_string, "controller": box.key}
    series = {state: REGISTRY.get_sample_value("controller_crd_state", {**labels, "state": state})
              for state in ("pending", "not started", "started", "healthy", "degraded")}
    assert series == {"pending": 0, "not started": 0, "started": 0, "healthy": 1, "degraded": 0}


def _flood(on_limit):
    """One worker busy on `ns/cr-0`, then 19 more informer adds into a queue of depth 3."""
    box, env = make_box(workers=1, max_depth=3, on_limit=on_limit)
    gate = threading.Event()
    lock = threading.Lock()
    reconciled = []

    def reconcile(key, cancelled):
        gate.wait(5)
        with lock:
            reconciled.append(key)
        return ReconcileResult()
    env.reconciler.reconcile = reconcile
    box.watch()
    box.activate()
    on_add, on_update, _, _ = env.factory.informer_obj.handlers[0]
    objs = [cr(f"cr-{i}") for i in range(20)]
    for obj in objs:
        env.factory.informer_obj.store.items[f"ns/{obj['metadata']['name']}"] = obj
    on_add(objs[0])
    wait_until(lambda: box.pool.counts()["processing"] == 1)
    for obj in objs[1:]:
        on_add(obj)
    return box, gate, objs, on_update, reconciled


def test_a_flood_beyond_max_depth_warns_and_keeps_every_item_by_default():
    """Issue 14 "Queue limits": `onLimit: warn` adds anyway, so nothing is lost."""
    box, gate, objs, _, reconciled = _flood("warn")
    assert box.dropped == 0 and box.limit_reached == 16 and len(box.queue) == 19
    gate.set()
    wait_until(lambda: len(box.queue) == 0 and box.pool.counts()["processing"] == 0)
    assert sorted(reconciled) == sorted(f"ns/cr-{i}" for i in range(20)), "every CR converged, nothing lost"
    box.stop(timeout=2)


def test_a_flood_beyond_max_depth_drops_with_on_limit_drop_and_resync_reconciles_the_dropped():
    """Issue 14 "Queue limits": `onLimit: drop` refuses adds past the limit; the next resyncs
    (`on_update(obj, obj)`, same resourceVersion, each starting further round the cache as the
    informer's do) offer them again until every CR is reconciled."""
    box, gate, objs, on_update, reconciled = _flood("drop")
    assert box.dropped == 16 and len(box.queue) == 3
    gate.set()
    wait_until(lambda: len(box.queue) == 0 and box.pool.counts()["processing"] == 0)
    assert len(reconciled) == 4, "the dropped items were not reconciled by the flood itself"
    everything = {f"ns/cr-{i}" for i in range(20)}
    for resyncs in range(1, 20):
        start = 3 * resyncs % len(objs)
        for obj in objs[start:] + objs[:start]:
            on_update(obj, obj)
        wait_until(lambda: len(box.queue) == 0 and box.pool.counts()["processing"] == 0)
        if set(reconciled) == everything:
            break
    assert set(reconciled) == everything, "every CR converged, nothing lost"
    assert resyncs <= 10, resyncs
    box.stop(timeout=2)


def test_no_crd_state_series_before_the_first_tick():
    """`controller_crd_state` is 1 for the current state: a box that has not ticked yet (the API
    server not reachable) must not export a set of series where no state reads 1."""
    from prometheus_client import REGISTRY
    entry = make_entry("state-before-tick")
    box = OperatorBox(entry, Env(entry))
    labels = {"crd": box.gvk_string, "controller": box.key}
    states = ("pending", "not started", "started", "healthy", "degraded")

    def series():
        return {s: REGISTRY.get_sample_value("controller_crd_state", {**labels, "state": s}) for s in states}
    assert series() == dict.fromkeys(states)
    box.health.mark_pending()
    box.tick()
    assert series() == {"pending": 1, "not started": 0, "started": 0, "healthy": 0, "degraded": 0}


def test_tick_sets_each_gauge_of_the_box_from_its_own_figure():
    """The gauges are bound once per box: each series must still get its own figure."""
    from prometheus_client import REGISTRY
    entry = make_entry("gauges", workers=3)       # a key of its own: other tests' boxes set "website"
    env = Env(entry)
    box = OperatorBox(entry, env)
    gate = threading.Event()

    def reconcile(key, cancelled):
        gate.wait(5)
        return ReconcileResult()
    env.reconciler.reconcile = reconcile
    env.factory.informer_obj.store.items["ns/busy"] = cr("busy")
    box.watch()
    box.activate()
    wait_until(lambda: box.pool.counts()["processing"] == 1)
    for name in ("b", "c", "d"):               # cached, not queued: only the resource count sees them
        env.factory.informer_obj.store.items[f"ns/{name}"] = cr(name)
    box.health.record_failure("boom", "", 0.1)
    box.health.record_failure("boom", "", 0.1)
    box.tick()
    labels = {"crd": box.gvk_string, "controller": box.key}

    def value(name, **lab):
        return REGISTRY.get_sample_value(name, lab or labels)
    try:
        assert {n: value(f"controller_{n}") for n in ("queue_depth", "workers_active", "workers_processing",
                                                       "workers_idle", "consecutive_failures", "resource_count")} == \
            {"queue_depth": 0, "workers_active": 3, "workers_processing": 1, "workers_idle": 2,
             "consecutive_failures": 2, "resource_count": 4}
        assert value("controller_runtime_active_workers", controller=box.key) == 1
    finally:
        gate.set()
        box.stop(timeout=2)


class RecordingReconciler(FakeReconciler):
    """Remembers something per key at the end of each reconcile, as the real one does (applied
    digests, last success, validation warnings), and drops it in `forget`. `gate` holds each
    reconcile until the test let it finish."""

    def __init__(self, box_ref):
        super().__init__()
        self.box_ref = box_ref
        self.records = {}
        self.started = threading.Semaphore(0)
        self.gate = threading.Semaphore(0)

    def reconcile(self, key, cancelled):
        self.started.release()
        assert self.gate.acquire(timeout=3.0)
        with self.lock:
            self.calls.append(key)
            self.records[key] = "digest"
        self.box_ref[0].set_warnings(key, "validation", [{"message": "spec.x is deprecated"}])
        return ReconcileResult()

    def forget(self, key):
        super().forget(key)
        with self.lock:
            self.records.pop(key, None)


def _box_with_recording_reconciler():
    box_ref = []
    box, env = make_box(workers=1)
    box_ref.append(box)
    env.reconciler = RecordingReconciler(box_ref)
    box.watch()
    box.activate()
    return box, env


def test_a_cr_deleted_while_its_reconcile_runs_leaves_nothing_behind_in_the_box_or_reconciler():
    """Issue 14 soak: the delete event's forget can come before the reconcile in flight records
    its key; nothing forgets it after that, so under churn every such CR stays in memory."""
    box, env = _box_with_recording_reconciler()
    informer, reconciler = env.factory.informer_obj, env.reconciler
    on_add, _, on_delete, _ = informer.handlers[0]
    for i in range(50):
        name = f"cr-{i}"
        informer.store.items[f"ns/{name}"] = cr(name)
        on_add(cr(name))
        assert reconciler.started.acquire(timeout=3.0)
        del informer.store.items[f"ns/{name}"]       # the delete lands in the cache ...
        on_delete(cr(name))                           # ... and its event is handled, mid-reconcile
        reconciler.gate.release()
    wait_until(lambda: len(reconciler.calls) == 50 and box.queue_depth() == 0 and not box.queue.processing())
    assert reconciler.records == {} and box.active_warnings() == []
    box.stop(timeout=2)


def test_a_cr_still_cached_after_its_reconcile_keeps_its_records():
    box, env = _box_with_recording_reconciler()
    informer, reconciler = env.factory.informer_obj, env.reconciler
    informer.store.items["ns/kept"] = cr("kept")
    informer.handlers[0][0](cr("kept"))
    reconciler.gate.release()
    wait_until(lambda: "ns/kept" in reconciler.records and not box.queue.processing())
    assert reconciler.forgotten == [] and [w["key"] for w in box.active_warnings()] == ["ns/kept"]
    box.stop(timeout=2)


def test_a_cr_deleted_and_recreated_under_its_key_while_its_reconcile_runs_is_not_forgotten():
    """The after-reconcile forget asks whether the key is cached, not the uid: a CR re-created
    under the same key during the reconcile is live, and its key's records must survive."""
    box, env = _box_with_recording_reconciler()
    informer, reconciler = env.factory.informer_obj, env.reconciler
    on_add, _, on_delete, _ = informer.handlers[0]
    informer.store.items["ns/again"] = cr("again")
    on_add(cr("again"))
    assert reconciler.started.acquire(timeout=3.0)
    del informer.store.items["ns/again"]
    on_delete(cr("again"))
    reborn = cr("again", uid="uid-again-2")
    informer.store.items["ns/again"] = reborn
    on_add(reborn)
    forgotten_by_delete = list(reconciler.forgotten)
    reconciler.gate.release()
    assert reconciler.started.acquire(timeout=3.0)     # the re-created CR's own reconcile
    assert reconciler.forgotten == forgotten_by_delete, "only the delete event forgot the key"
    reconciler.gate.release()
    wait_until(lambda: len(reconciler.calls) == 2 and not box.queue.processing())
    assert reconciler.records == {"ns/again": "digest"}
    assert [w["key"] for w in box.active_warnings()] == ["ns/again"]
    box.stop(timeout=2)
