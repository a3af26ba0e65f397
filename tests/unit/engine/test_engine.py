"""Engine behaviour that needs no API server: fatal start errors, lost leadership, probes,
snapshots, gateway selection and the graceful shutdown sequence."""
import time

import pytest

from orkestra.config import Settings
from orkestra.engine.engine import Engine, EngineStartError
from orkestra.engine.shutdown import graceful_shutdown
from orkestra.kube import KubeConfigError
from tests.unit.engine.factories import make_entry, make_katalog


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def settings(**kw):
    return Settings(pod_name="pod-a", drain_timeout=kw.pop("drain_timeout", 30.0), **kw)


def make_engine(*entries, **kw):
    katalog = make_katalog(*(entries or (make_entry("cache"), make_entry("website"))))
    return Engine(katalog, settings(), **kw)


def test_unreadable_kubeconfig_is_a_fatal_start_error():
    def broken():
        raise KubeConfigError("cannot load kubeconfig /nope: no such file")
    engine = make_engine(kube_factory=broken)
    with pytest.raises(EngineStartError, match="cannot load kubeconfig /nope"):
        engine.start()


class RecordingBox:
    def __init__(self, key, log, drains=True):
        self.key, self.log, self.drains = key, log, drains

    def shut_down_queue(self):
        self.log.append(("shut", self.key))

    def drain(self, timeout):
        self.log.append(("drain", self.key, round(timeout, 1)))
        return self.drains


def test_lost_leadership_stops_every_queue_and_exits_1():
    codes, log = [], []
    engine = make_engine(exit_process=codes.append)
    engine.boxes = {k: RecordingBox(k, log) for k in ("cache", "website")}
    seen = []
    engine.on_leadership(seen.append)
    engine._leader = True
    engine._lost_leadership()
    assert codes == [1] and seen == [False] and not engine.is_leader()
    assert [e for e in log if e[0] == "shut"] == [("shut", "cache"), ("shut", "website")]
    assert all(e[2] <= 5.0 for e in log if e[0] == "drain"), "in-flight reconciles get at most 5 s"


class ClosingSink:
    def __init__(self, log):
        self.log = log

    def close(self, timeout):
        self.log.append(("close events", round(timeout, 1)))
        return True


def test_lost_leadership_writes_the_buffered_events_within_the_grace_before_exiting():
    """The drained reconciles' Events wait in the sink (issue 15): they are written, or counted and
    warned about, before the process ends, and the grace of 5 s bounds it all."""
    clock, log = Clock(), []
    engine = make_engine(clock=clock, exit_process=lambda code: log.append(("exit", code)))
    engine.boxes = {"cache": RecordingBox("cache", log)}
    engine.recorder = ClosingSink(log)
    clock.t = 0.0
    engine._lost_leadership()
    assert log[-2:] == [("close events", 5.0), ("exit", 1)]


def test_probes_follow_startup_readiness_heartbeat_and_shutdown():
    clock = Clock()
    engine = make_engine(clock=clock, wall=lambda: 1_000.0)
    assert engine.probes() == {"startup": False, "ready": False, "health": True}
    engine.api_reachable = True
    engine.ready_event.set()
    assert engine.probes() == {"startup": True, "ready": True, "health": True}
    clock.t = 61
    assert engine.probes()["health"] is False, "no supervisor heartbeat for 60 s"
    engine._heartbeat = 61
    engine.shutting_down = True
    assert engine.probes()["ready"] is False
    engine.shutdown_done = True
    assert engine.probes()["health"] is False


def test_follower_snapshot_shows_no_active_workers_and_dependency_state():
    engine = make_engine(make_entry("cache"), make_entry("website", depends_on=[("cache", "healthy")]))
    for box in engine.boxes.values():
        box.health.mark_pending()
    snap = engine.crd_snapshot("website")
    assert snap["health"]["state"] == "pending" and snap["workers"]["active"] == 0
    assert snap["dependencies"] == [{"name": "cache", "condition": "healthy", "state": "pending", "satisfied": False}]
    assert engine.crd_snapshot("nope") is None
    proc = engine.process_snapshot()
    assert proc["isLeader"] is False and proc["identity"] == "pod-a" and proc["mode"] == "runtime"


class WatchFactory:
    def __init__(self):
        self.watched = []

    def informer(self, gvr, **kw):
        self.watched.append(gvr.resource)
        return type("Informer", (), {"add_handler": lambda *a: None, "add_status_listener": lambda *a: None,
                                     "start": lambda self: None, "has_synced": lambda self: True})()


def test_gateway_mode_caches_only_entries_with_unique_rules():
    plain = make_entry("plain")
    unique = make_entry("unique", kind="Unique")
    unique.validation = {"rules": [{"field": "spec.host", "unique": True, "message": "taken"}]}
    assert unique.has_unique_rules and not plain.has_unique_rules
    engine = Engine(make_katalog(plain, unique), settings(), mode="gateway")
    engine.factory = WatchFactory()
    engine._boot()
    assert engine.factory.watched == ["uniques"] and engine.elector is None and engine.activator is None
    with pytest.raises(ValueError):
        Engine(make_katalog(plain), settings(), mode="sideways")


class FakeElector:
    def __init__(self, log):
        self.log = log

    def release(self):
        self.log.append(("release",))
        return True

    def wake(self):
        pass


class FakeWebhooks:
    def __init__(self, log):
        self.log = log

    def stop(self):
        self.log.append(("webhooks",))


class FakeFactory:
    def __init__(self, log):
        self.log = log

    def stop_all(self):
        self.log.append(("informers",))


def test_graceful_shutdown_order_and_shared_budget():
    log = []
    engine = make_engine(make_entry("cache"), make_entry("website"), make_entry("app"))
    engine.katalog.start_order[:] = ["cache", "website", "app"]
    engine.boxes = {"cache": RecordingBox("cache", log), "website": RecordingBox("website", log),
                    "app": RecordingBox("app", log)}
    engine.elector, engine.webhooks, engine.factory = FakeElector(log), FakeWebhooks(log), FakeFactory(log)
    engine.ready_event.set()
    clock = Clock()
    graceful_shutdown(engine, clock=clock)
    assert [e[:2] for e in log] == [("shut", "app"), ("drain", "app"), ("shut", "website"), ("drain", "website"),
                                    ("shut", "cache"), ("drain", "cache"), ("informers",), ("release",),
                                    ("webhooks",)]
    assert engine.shutting_down and engine.shutdown_done and not engine.ready_event.is_set()


def test_drain_timeout_is_logged_once_and_shutdown_goes_on(caplog):
    log = []
    engine = make_engine(make_entry("cache"), make_entry("website"))
    engine.boxes = {"cache": RecordingBox("cache", log), "website": RecordingBox("website", log, drains=False)}
    graceful_shutdown(engine, clock=Clock())
    assert ("shut", "cache") in log, "every queue is still shut down"
    assert [r.getMessage() for r in caplog.records].count("drain timeout exceeded — workers may still be running") == 1
    assert ("drain", "cache", 30.0) not in log, "once the budget ran out, no more waiting"
    assert engine.shutdown_done


class IndexedStore:
    def __init__(self, owners):
        self.owners = owners          # uid -> owner object

    def by_index(self, name, value):
        assert name == "uid"
        return [self.owners[value]] if value in self.owners else []


class OfferQueue:
    def __init__(self):
        self.offered = []

    def offer(self, key):
        self.offered.append(key)
        return "added"


def _with_owner(engine, key, uid, name):
    box = engine.boxes[key]
    box.informer = type("I", (), {"store": IndexedStore({uid: {"metadata": {"name": name, "namespace": "ns"}}})})()
    box.queue, box.pool = OfferQueue(), object()      # active
    return box


def test_child_events_requeue_their_owner_by_uid():
    engine = make_engine(make_entry("cache"), make_entry("website"))
    cache = _with_owner(engine, "cache", "u-cache", "redis")
    website = _with_owner(engine, "website", "u-site", "shop")
    labelled = {"metadata": {"labels": {"orkestra.io/owner-uid": "u-site", "orkestra.io/crd": "website"}}}
    engine._child_event(labelled)
    assert website.queue.offered == ["ns/shop"] and cache.queue.offered == []
    by_reference = {"metadata": {"ownerReferences": [{"uid": "u-cache", "controller": True}]}}
    engine._child_event(by_reference)            # no crd label: every active CRD is asked
    assert cache.queue.offered == ["ns/redis"] and website.queue.offered == ["ns/shop"]
    engine._child_event({"metadata": {"name": "orphan"}})
    assert len(cache.queue.offered) + len(website.queue.offered) == 2


def test_a_forbidden_child_informer_degrades_the_crds_that_write_it():
    from orkestra.gvk import GVR
    engine = make_engine(make_entry("cache"), make_entry("website"))
    deployments = GVR("apps", "v1", "deployments")
    engine._child_gvrs = {"website": [deployments], "cache": []}
    for box in engine.boxes.values():
        box.health.mark_started()
        box.health.record_success()
    engine._child_status(deployments, "forbidden", "forbidden: cannot watch deployments in all namespaces")
    assert engine.boxes["website"].health.state == "degraded"
    assert engine.boxes["cache"].health.state == "healthy"
    engine._child_status(deployments, "listed", "")
    assert engine.boxes["website"].health.state == "healthy"


class ListingKube:
    def __init__(self):
        self.calls = []

    def list(self, gvr, namespace=None, label_selector=None, field_selector=None):
        self.calls.append((gvr.resource, label_selector))
        return [{"kind": "Service", "metadata": {"name": "svc"}}], "1"


def test_view_children_read_kinds_without_informer_live_and_cache_them():
    clock = Clock()
    entry = make_entry("website", templates={"onReconcile": {"services": [{}]}})
    engine = Engine(make_katalog(entry), settings(), clock=clock)
    engine.kube = ListingKube()
    first = engine.children_for_view("website", "u1")
    assert first == [{"kind": "Service", "metadata": {"name": "svc"}}]
    assert engine.kube.calls == [("services", "orkestra.io/owner-uid=u1")]
    clock.t = 29
    engine.children_for_view("website", "u1")
    assert len(engine.kube.calls) == 1, "cached for 30 s"
    clock.t = 31
    engine.children_for_view("website", "u1")
    assert len(engine.kube.calls) == 2


class _SlowItemsDict(dict):
    """A dict whose iteration takes a while (as when another HTTP thread gets the GIL) and that
    fails like a real dict when it is written to while being iterated."""
    iterations = 0

    def items(self):
        self.iterations += 1
        try:
            for key in list(super().keys()):
                time.sleep(0.01)
                yield key, self[key]
        finally:
            self.iterations -= 1

    def __setitem__(self, key, value):
        if self.iterations:
            raise RuntimeError("dictionary changed size during iteration")
        super().__setitem__(key, value)


def test_concurrent_cr_views_share_the_live_children_cache_safely():
    """Two /katalog/{crd}/cr/... views at once: one expiring the live cache while the other
    stores into it ('dictionary changed size during iteration' answered 500)."""
    import threading
    entry = make_entry("website", templates={"onReconcile": {"services": [{}]}})
    engine = Engine(make_katalog(entry), settings(), clock=Clock())
    engine.kube = ListingKube()
    engine._live_children = _SlowItemsDict({(object(), f"u{i}"): (0.0, []) for i in range(10)})
    errors = []

    def view(uid):
        try:
            engine.children_for_view("website", uid)
        except Exception as err:  # noqa: BLE001
            errors.append(err)
    slow = threading.Thread(target=view, args=("a",))
    slow.start()
    time.sleep(0.03)                 # "a" is iterating the cache now
    view("b")
    slow.join(2)
    assert errors == []


def test_a_child_event_racing_an_unwatch_does_not_fail_the_informer_handler():
    """Child informer threads call _child_event while the activator unwatches a box
    (informer -> None): the handler reads the box's informer once."""
    class Store:
        def by_index(self, name, value):
            return [{"metadata": {"name": "site-a", "namespace": "ns"}}]

    class Informer:
        store = Store()

    class Box:
        active = True
        reads = 0
        enqueued = []

        @property
        def informer(self):
            self.reads += 1
            return Informer() if self.reads == 1 else None

        def enqueue(self, key):
            self.enqueued.append(key)
    engine = make_engine()
    box = Box()
    engine.boxes = {"website": box}
    engine._child_event({"metadata": {"labels": {"orkestra.io/owner-uid": "u1", "orkestra.io/crd": "website"}}})
    assert box.enqueued == ["ns/site-a"]


def test_becoming_leader_releases_the_crs_of_disabled_entries_once():
    import dataclasses
    import threading

    from tests.unit.reconcile.api_double import ApiDouble
    old = dataclasses.replace(make_entry("old", kind="Old", group="old.io"), enabled=False)
    engine = make_engine(make_entry("website"), old)
    assert list(engine.boxes) == ["website"]
    api = ApiDouble()
    api.seed(old.api.gvr, {"apiVersion": "old.io/v1", "kind": "Old",
                           "metadata": {"name": "o", "namespace": "ns", "finalizers": ["orkestra.io/finalizer"]}})
    done = threading.Event()
    engine.kube, engine.recorder = api, type("R", (), {"event": lambda self, *a: done.set()})()
    engine._became_leader()
    assert done.wait(5)
    assert not api.object(old.api.gvr, "o", "ns")["metadata"].get("finalizers")
