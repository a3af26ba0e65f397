"""Reflector logic driven by a scripted client: each list/watch call takes the next step of a
script (a result, or an exception to raise), so every transition is deterministic."""
import logging

from orkestra.gvk import GVR
from orkestra.informers.backoff import Backoff
from orkestra.informers.reflector import InformerStatus, Reflector, Tombstone
from orkestra.informers.store import Store
from orkestra.kube.client import WatchStalled
from orkestra.kube.errors import ApiError

SITES = GVR("demo.io", "v1", "sites")


def obj(name, rv, **meta):
    return {"metadata": {"name": name, "namespace": "ns", "resourceVersion": rv,
                         "managedFields": [{"manager": "kubectl"}], **meta}}


def ev(kind, o):
    return {"type": kind, "object": o}


def api_error(status, reason="Err"):
    return ApiError(status=status, reason=reason, message="m", verb="list", resource="sites")


class Stream:
    def __init__(self, events, then=None):
        self.events, self.then, self.closed = events, then, False

    def __iter__(self):
        yield from self.events
        if self.then:
            raise self.then

    def close(self):
        self.closed = True

    def sever(self):
        self.closed = True


class ScriptedKube:
    def __init__(self, lists, watches):
        self.lists, self.watches = list(lists), list(watches)
        self.list_calls, self.watch_queries = 0, []
        self.reflector = None

    def list(self, gvr, namespace=None, label_selector=None, field_selector=None):
        self.list_calls += 1
        step = self.lists.pop(0)
        if isinstance(step, Exception):
            raise step
        return [dict(o, metadata=dict(o["metadata"])) for o in step[0]], step[1]

    def watch(self, path, query, timeout):
        self.watch_queries.append(dict(query))
        if not self.watches:
            self.reflector._stop.set()
            return Stream([])
        step = self.watches.pop(0)
        if isinstance(step, Exception):
            raise step
        return step


class Sink:
    def __init__(self):
        self.log = []

    def deliver_add(self, o):
        self.log.append(("add", o["metadata"]["name"]))

    def deliver_update(self, old, new):
        self.log.append(("update", new["metadata"]["name"]))

    def deliver_delete(self, o):
        self.log.append(("delete", o["metadata"]["name"], isinstance(o, Tombstone)))

    def deliver_replace(self, added, updated, removed):
        for o in added:
            self.deliver_add(o)
        for old, new in updated:
            self.deliver_update(old, new)
        for o in removed:
            self.deliver_delete(o)
        self.log.append(("listed",))


def run(lists, watches, namespace="ns"):
    kube, store, sink, statuses = ScriptedKube(lists, watches), Store(), Sink(), []
    r = Reflector(kube, SITES, store=store, sink=sink, namespace=namespace,
                  on_status=lambda c, m: statuses.append((c, m)), backoff=Backoff(initial=0.001, cap=0.002))
    kube.reflector = r
    r.run()
    return kube, store, sink, statuses, r


def test_list_then_watch_keeps_store_and_resource_version():
    kube, store, sink, _, r = run(
        [([obj("a", "1")], "10")],
        [Stream([ev("ADDED", obj("b", "11")), ev("MODIFIED", obj("a", "12")),
                 ev("DELETED", obj("b", "13")), ev("BOOKMARK", {"metadata": {"resourceVersion": "20"}})])])
    assert sink.log == [("add", "a"), ("listed",), ("add", "b"), ("update", "a"), ("delete", "b", False)]
    assert store.keys() == ["ns/a"]
    assert "managedFields" not in store.get("ns/a")["metadata"]
    first, second = kube.watch_queries
    assert first["resourceVersion"] == "10" and second["resourceVersion"] == "20"
    assert first["allowWatchBookmarks"] == "true"
    assert 300 <= first["timeoutSeconds"] <= 599
    assert kube.list_calls == 1, "a watch that ends normally is re-opened without a relist"


def test_410_error_event_relists_with_tombstones():
    gone = ev("ERROR", {"kind": "Status", "code": 410, "reason": "Expired", "message": "too old"})
    kube, store, sink, _, _ = run(
        [([obj("a", "1"), obj("b", "1")], "10"), ([obj("a", "5"), obj("c", "6")], "30")],
        [Stream([gone])])
    assert sink.log[3:] == [("add", "c"), ("update", "a"), ("delete", "b", True), ("listed",)]
    assert sorted(store.keys()) == ["ns/a", "ns/c"]
    assert kube.watch_queries[-1]["resourceVersion"] == "30"


def test_410_status_on_watch_open_relists():
    kube, _, _, _, _ = run([([], "10"), ([], "40")], [api_error(410, "Expired")])
    assert kube.list_calls == 2
    assert kube.watch_queries[-1]["resourceVersion"] == "40"


def test_stalled_watch_reconnects_from_last_resource_version(caplog):
    with caplog.at_level(logging.WARNING, logger="orkestra.informers"):
        kube, _, _, _, _ = run([([], "10")],
                               [Stream([ev("ADDED", obj("a", "11"))], then=WatchStalled("no data"))])
    assert "watch stalled, reconnecting" in [r.getMessage() for r in caplog.records]
    assert kube.list_calls == 1
    assert kube.watch_queries[-1]["resourceVersion"] == "11"


def test_dropped_connection_backs_off_and_rewatches():
    dropped = ApiError(status=0, reason="ConnectionError", message="reset", verb="watch", resource="sites")
    kube, _, _, statuses, _ = run([([], "10")], [Stream([ev("ADDED", obj("a", "12"))], then=dropped)])
    assert kube.list_calls == 1
    assert kube.watch_queries[-1]["resourceVersion"] == "12"
    assert statuses[-1][0] == "failing"


def test_forbidden_reports_scope_and_recovers_on_list(caplog):
    with caplog.at_level(logging.ERROR, logger="orkestra.informers"):
        _, _, _, statuses, _ = run([api_error(403, "Forbidden"), ([], "10")], [])
    assert statuses == [(InformerStatus.FORBIDDEN, "forbidden: cannot watch sites in namespace ns"), (InformerStatus.LISTED, "")]
    assert any(r.levelname == "ERROR" for r in caplog.records)


def test_forbidden_cluster_wide_names_all_namespaces():
    _, _, _, statuses, _ = run([api_error(401, "Unauthorized"), ([], "1")], [], namespace="")
    assert statuses[0] == (InformerStatus.FORBIDDEN, "forbidden: cannot watch sites in all namespaces")


def test_not_found_reports_kind_gone_and_relists():
    kube, _, _, statuses, _ = run([([], "10"), ([], "11")], [api_error(404, "NotFound")])
    assert statuses[1][0] == InformerStatus.GONE
    assert kube.list_calls == 2


def test_backoff_doubles_with_jitter_and_caps():
    class Fixed:
        def random(self):
            return 1.0

    b = Backoff(initial=0.8, cap=30, jitter=0.2, rand=Fixed())
    delays = [b.next() for _ in range(8)]
    assert delays[:3] == [0.8 * 1.2, 1.6 * 1.2, 3.2 * 1.2]
    assert delays[-1] == 30
    b.reset()
    assert b.next() == 0.8 * 1.2


def test_watch_that_ends_at_once_without_events_backs_off():
    kube, _, _, _, r = run([([], "10")], [Stream([]), Stream([])])
    assert r._backoff._failures == 2, "two empty, instant watches count two backoff steps"
    assert kube.list_calls == 1
