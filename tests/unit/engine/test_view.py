"""`EngineView`, what the HTTP API reads of the engine: snapshots, caches, live children and
events, and the webhook blocks, all without changing the engine."""

from orkestra.config import Settings
from orkestra.engine.engine import Engine
from orkestra.engine.view import EngineView
from tests.unit.engine.factories import Clock, make_entry, make_katalog


def settings(**kw):
    return Settings(pod_name="pod-a", **kw)


def make_engine(*entries, **kw):
    katalog = make_katalog(*(entries or (make_entry("cache"), make_entry("website"))))
    return Engine(katalog, settings(), **{"clock": Clock(), **kw})


def test_follower_snapshot_shows_no_active_workers_and_dependency_state():
    engine = make_engine(make_entry("cache"), make_entry("website", depends_on=[("cache", "healthy")]))
    for box in engine.boxes.values():
        box.health.mark_pending()
    view = EngineView(engine)
    snap = view.crd_snapshot("website")
    assert snap["health"]["state"] == "pending" and snap["workers"]["active"] == 0
    assert snap["dependencies"] == [{"name": "cache", "condition": "healthy", "state": "pending", "satisfied": False}]
    assert view.crd_snapshot("nope") is None
    proc = view.process_snapshot()
    assert proc["isLeader"] is False and proc["identity"] == "pod-a" and proc["mode"] == "runtime"


def test_process_snapshot_carries_the_probes_and_the_wall_clock():
    engine = make_engine(wall=lambda: 1_000.0)
    engine.api_reachable = True
    engine.ready_event.set()
    engine._leader = True
    proc = EngineView(engine).process_snapshot()
    assert proc == {"identity": "pod-a", "isLeader": True, "leader": "pod-a", "mode": "runtime",
                    "startedAt": 1_000.0, "now": 1_000.0, "gatewayEndpoint": "", "startup": True,
                    "ready": True, "liveness": True}


class Store:
    def __init__(self, objs):
        self.objs = {f"{o['metadata']['namespace']}/{o['metadata']['name']}": o for o in objs}

    def get(self, key):
        return self.objs.get(key)

    def list(self):
        return list(self.objs.values())


class Informer:
    def __init__(self, objs, synced=True):
        self.store, self.synced = Store(objs), synced

    def has_synced(self):
        return self.synced


def test_caches_read_the_box_informer_and_answer_empty_without_one():
    engine = make_engine()
    view = EngineView(engine)
    site = {"metadata": {"name": "shop", "namespace": "ns"}}
    assert view.cached_crs("website") == [] and view.cached_cr("website", "ns/shop") is None
    assert view.informer_cache("website") is None, "no informer: the webhooks say the cache is missing"
    engine.boxes["website"].informer = Informer([site], synced=False)
    assert view.cached_crs("website") == [site] and view.cached_cr("website", "ns/shop") == site
    assert view.informer_cache("website") == (False, [site])
    assert view.cached_crs("nope") == [] and view.cached_cr("nope", "x") is None and view.informer_cache("nope") is None


class Describer:
    def describe_katalog(self):
        return {"deletion": {"enabled": True}}

    def describe_crd(self, key):
        return {"admission": {"key": key}}


def test_webhook_blocks_come_from_the_describer_and_are_none_without_webhooks():
    engine = make_engine()
    assert EngineView(engine).webhook_katalog_block() is None
    assert EngineView(engine).webhook_crd_blocks("website") is None
    view = EngineView(engine, webhooks=Describer())
    assert view.webhook_katalog_block() == {"deletion": {"enabled": True}}
    assert view.webhook_crd_blocks("website") == {"admission": {"key": "website"}}
    assert view.katalog is engine.katalog


class EventKube:
    def __init__(self):
        self.calls = []

    def list(self, gvr, namespace=None, label_selector=None, field_selector=None):
        self.calls.append((gvr.resource, namespace, field_selector))
        return [{"reason": "Reconciled"}], "1"


def test_events_are_listed_live_by_involved_object_uid():
    engine = make_engine()
    engine.kube = EventKube()
    view = EngineView(engine)
    assert view.events_for({"metadata": {"uid": "u1", "namespace": "shop"}}) == [{"reason": "Reconciled"}]
    view.events_for({"metadata": {"uid": "u2"}})            # cluster-scoped: events land in default
    assert engine.kube.calls == [("events", "shop", "involvedObject.uid=u1"),
                                 ("events", "default", "involvedObject.uid=u2")]


class NoDiscovery:
    """Template kinds resolve without discovery; nothing here asks it."""


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
    engine.kube, engine.discovery = ListingKube(), NoDiscovery()
    view = EngineView(engine)
    first = view.children_for_view("website", "u1")
    assert first == [{"kind": "Service", "metadata": {"name": "svc"}}]
    assert engine.kube.calls == [("services", "orkestra.io/owner-uid=u1")]
    clock.t = 29
    view.children_for_view("website", "u1")
    assert len(engine.kube.calls) == 1, "cached for 30 s"
    clock.t = 31
    view.children_for_view("website", "u1")
    assert len(engine.kube.calls) == 2


def test_the_live_children_cache_is_bounded(monkeypatch):
    """Review: a crawler reading every CR page within 30 s kept one live list per CR and child
    kind; now at most LIVE_CHILDREN_MAX lists, the least recently read dropped first."""
    from orkestra.engine import view as view_module
    monkeypatch.setattr(view_module, "LIVE_CHILDREN_MAX", 8, raising=False)
    entry = make_entry("website", templates={"onReconcile": {"services": [{}]}})
    engine = Engine(make_katalog(entry), settings(), clock=Clock())
    engine.kube, engine.discovery = ListingKube(), NoDiscovery()
    view = EngineView(engine)
    for i in range(20):
        view.children_for_view("website", f"u{i}")
    assert len(view._live_children) == 8
    view.children_for_view("website", "u19")
    assert len(engine.kube.calls) == 20, "the most recent lists are still kept"
    view.children_for_view("website", "u0")
    assert len(engine.kube.calls) == 21, "the oldest went first"


class FailingKube:
    def __init__(self):
        self.calls = 0

    def list(self, gvr, namespace=None, label_selector=None, field_selector=None):
        self.calls += 1
        raise OSError("connection reset")


def test_a_failed_live_list_answers_no_children_and_is_kept_like_any_other():
    entry = make_entry("website", templates={"onReconcile": {"services": [{}]}})
    engine = Engine(make_katalog(entry), settings(), clock=Clock())
    engine.kube, engine.discovery = FailingKube(), NoDiscovery()
    view = EngineView(engine)
    assert view.children_for_view("website", "u1") == []
    assert view.children_for_view("website", "u1") == [] and engine.kube.calls == 1


def test_concurrent_cr_views_share_the_live_children_cache_safely():
    """Many /katalog/{crd}/cr/... views at once, expiring and storing into the one cache (a
    plain dict here once answered 500: 'dictionary changed size during iteration')."""
    import threading
    from orkestra.engine import view as view_module
    entry = make_entry("website", templates={"onReconcile": {"services": [{}]}})
    clock = Clock()
    engine = Engine(make_katalog(entry), settings(), clock=clock)
    engine.kube, engine.discovery = ListingKube(), NoDiscovery()
    engine_view = EngineView(engine)
    errors = []

    def views(worker):
        try:
            for i in range(200):
                clock.t = i * 0.5               # entries keep expiring while others are stored
                engine_view.children_for_view("website", f"u{worker}-{i % 50}")
        except Exception as err:  # noqa: BLE001
            errors.append(err)
    threads = [threading.Thread(target=views, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert errors == [] and len(engine_view._live_children) <= view_module.LIVE_CHILDREN_MAX
