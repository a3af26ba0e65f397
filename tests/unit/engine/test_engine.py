"""Engine behaviour that needs no API server: fatal start errors, lost leadership, probes,
gateway selection, the graceful shutdown sequence and the child informers."""
import time

import pytest

from orkestra.config import Settings
from orkestra.engine.engine import Engine, EngineStartError
from orkestra.kube import KubeConfigError
from tests.unit.engine.factories import Clock, make_entry, make_katalog


def settings(**kw):
    return Settings(pod_name="pod-a", drain_timeout=kw.pop("drain_timeout", 30.0), **kw)


def make_engine(*entries, **kw):
    katalog = make_katalog(*(entries or (make_entry("cache"), make_entry("website"))))
    return Engine(katalog, settings(), **{"clock": Clock(), **kw})


def test_unreadable_kubeconfig_is_a_fatal_start_error():
    def broken():
        raise KubeConfigError("cannot load kubeconfig /nope: no such file")
    engine = make_engine(kube_factory=broken)
    with pytest.raises(EngineStartError, match="cannot load kubeconfig /nope"):
        engine.start()


class RecordingBox:
    def __init__(self, key, log, drains=True):
        self.key, self.log, self.drains = key, log, drains
        self.shut = False

    def shut_down_queue(self):
        if not self.shut:           # like OperatorBox: a shut queue stays shut
            self.log.append(("shut", self.key))
        self.shut = True

    def drain(self, timeout):
        self.log.append(("drain", self.key, round(timeout, 1)))
        return self.drains


class LeaderRunnable:
    name, needs_leader = "webhook controller", True

    def __init__(self, log):
        self.log = log

    def start(self):
        self.log.append(("start", self.name))

    def stop(self):
        self.log.append(("stop", self.name))


def test_lost_leadership_stops_every_queue_and_exits_1():
    codes, log = [], []
    engine = make_engine(exit_process=codes.append)
    engine.add_runnable(LeaderRunnable(log))
    engine._became_leader()
    engine.boxes = {k: RecordingBox(k, log) for k in ("cache", "website")}
    engine._lost_leadership()
    assert codes == [1] and not engine.is_leader()
    assert ("stop", "webhook controller") not in log, "no cleanupOnShutdown: the next leader owns them"
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
    assert engine.probes() == {"startup": False, "ready": False, "liveness": True}
    engine.api_reachable = True
    engine.ready_event.set()
    assert engine.probes() == {"startup": True, "ready": True, "liveness": True}
    clock.t = 61
    assert engine.probes()["liveness"] is False, "no supervisor heartbeat for 60 s"
    engine._heartbeat = 61
    engine.shutting_down = True
    assert engine.probes()["ready"] is False
    engine.shutdown_done = True
    assert engine.probes()["liveness"] is False


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
    name, needs_leader = "webhooks", False

    def __init__(self, log):
        self.log = log

    def start(self):
        pass

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
    engine.elector, engine.factory = FakeElector(log), FakeFactory(log)
    engine.add_runnable(FakeWebhooks(log))
    engine._runnables.start(leading=False)
    engine.ready_event.set()
    engine.shutdown()
    assert [e[:2] for e in log] == [("shut", "app"), ("drain", "app"), ("shut", "website"), ("drain", "website"),
                                    ("shut", "cache"), ("drain", "cache"), ("informers",), ("release",),
                                    ("webhooks",)]
    assert engine.shutting_down and engine.shutdown_done and not engine.ready_event.is_set()


def test_drain_timeout_is_logged_once_and_shutdown_goes_on(caplog):
    log = []
    engine = make_engine(make_entry("cache"), make_entry("website"))
    engine.boxes = {"cache": RecordingBox("cache", log), "website": RecordingBox("website", log, drains=False)}
    engine.shutdown()
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
    engine.child_informers._event(labelled)
    assert website.queue.offered == ["ns/shop"] and cache.queue.offered == []
    by_reference = {"metadata": {"ownerReferences": [{"uid": "u-cache", "controller": True}]}}
    engine.child_informers._event(by_reference)            # no crd label: every active CRD is asked
    assert cache.queue.offered == ["ns/redis"] and website.queue.offered == ["ns/shop"]
    engine.child_informers._event({"metadata": {"name": "orphan"}})
    assert len(cache.queue.offered) + len(website.queue.offered) == 2


def test_a_forbidden_child_informer_degrades_the_crds_that_write_it():
    from orkestra.gvk import GVR
    engine = make_engine(make_entry("cache"), make_entry("website"))
    deployments = GVR("apps", "v1", "deployments")
    engine.child_informers._gvrs = {"website": [deployments], "cache": []}
    for box in engine.boxes.values():
        box.health.mark_started()
        box.health.record_success()
    engine.child_informers._status(deployments, "forbidden", "forbidden: cannot watch deployments in all namespaces")
    assert engine.boxes["website"].health.state == "degraded"
    assert engine.boxes["cache"].health.state == "healthy"
    engine.child_informers._status(deployments, "listed", "")
    assert engine.boxes["website"].health.state == "healthy"


def test_a_child_event_racing_an_unwatch_does_not_fail_the_informer_handler():
    """Child informer threads call ChildInformers._event while the activator unwatches a box
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
    from orkestra.engine.children import ChildInformers
    box = Box()
    children = ChildInformers({"website": box}, on_health_change=lambda: None)
    children._event({"metadata": {"labels": {"orkestra.io/owner-uid": "u1", "orkestra.io/crd": "website"}}})
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


class WiredInformer:
    """Keeps what `ChildInformers.watch_for` registers, so a test can fire it."""

    def __init__(self):
        self.handler = self.listener = None
        self.started = False

    def add_handler(self, on_add, on_update, on_delete, resync):
        self.handler = (on_add, on_update, on_delete, resync)

    def add_status_listener(self, fn):
        self.listener = fn

    def start(self):
        self.started = True


class WiredFactory:
    def __init__(self):
        self.informers = {}

    def informer(self, gvr, **kw):
        self.kw = kw
        return self.informers.setdefault(gvr.resource, WiredInformer())


def test_child_informers_are_shared_and_wired_to_owner_requeue_and_forbidden():
    """Review: what `watch_for` registers — one informer per child kind whatever the number of
    CRDs writing it, no add handler, update/delete requeue the owner, and its status listener
    degrades exactly the CRDs that write that kind."""
    services = {"onReconcile": {"services": [{}]}}
    engine = make_engine(make_entry("cache", templates=services), make_entry("website", templates=services),
                         make_entry("plain"))
    factory, discovery = WiredFactory(), object()
    for key in ("cache", "website", "plain"):
        engine.child_informers.watch_for(engine.boxes[key], factory, discovery)
    informer = factory.informers["services"]
    assert list(factory.informers) == ["services"] and informer.started
    assert factory.kw["compact"] is True      # JSON-text store: children are many and read rarely
    on_add, on_update, on_delete, resync = informer.handler
    assert on_add is None and resync == 0
    website = _with_owner(engine, "website", "u-site", "shop")
    labelled = {"metadata": {"labels": {"orkestra.io/owner-uid": "u-site", "orkestra.io/crd": "website"}}}
    on_update({}, labelled)
    on_delete(labelled)
    assert website.queue.offered == ["ns/shop", "ns/shop"]
    for box in engine.boxes.values():
        box.health.mark_started()
        box.health.record_success()
    informer.listener("forbidden", "forbidden: cannot watch services")
    assert {k: b.health.state for k, b in engine.boxes.items()} == {
        "cache": "degraded", "website": "degraded", "plain": "healthy"}


def test_a_failing_lease_request_is_an_active_warning_of_every_crd_until_one_works():
    """Issue 14 (docs/rbac.md): with a Lease rule missing no replica leads and every CRD stays
    pending; `/katalog/{crd}` says why through its active warnings."""
    engine = make_engine()
    denied = 'leader election: create lease ns/orkestra-konductor failed: 403 Forbidden: cannot create resource "leases"'
    engine._lease_failure(denied)
    for box in engine.boxes.values():
        assert [(w["key"], w["source"], w["message"]) for w in box.active_warnings()] == [("", "leaderElection", denied)]
    engine._lease_failure("")
    assert all(box.active_warnings() == [] for box in engine.boxes.values())
