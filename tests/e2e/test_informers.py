"""Informers against the real API server: list+watch through the factory, a relist after a real
410 (a watch from a resourceVersion older than the watch cache), and a killed watch connection.
"""
from __future__ import annotations

import threading
import time

import pytest

from orkestra.gvk import GVR
from orkestra.informers import SharedInformerFactory, Tombstone, index_uid
from orkestra.workqueue.timer import Timer
from tests.e2e.ork_runtime import crd_manifest

GROUP = "informers.e2e.orkestra.io"
WIDGETS = GVR(GROUP, "v1", "widgets")
CRD = crd_manifest("Widget", "widgets", group=GROUP)


def widget(name, ns, **spec):
    return {"apiVersion": f"{GROUP}/v1", "kind": "Widget", "metadata": {"name": name, "namespace": ns},
            "spec": spec}


class Recorder:
    """Collects handler calls (they run on the reflector thread) and waits for conditions."""

    def __init__(self):
        self.events = []
        self.cond = threading.Condition()

    def handlers(self):
        return dict(on_add=lambda o: self._log("add", o), on_update=lambda a, b: self._log("update", b),
                    on_delete=lambda o: self._log("delete", o))

    def _log(self, kind, obj):
        with self.cond:
            self.events.append((kind, obj["metadata"]["name"], obj))
            self.cond.notify_all()

    def wait_for(self, predicate, timeout=20.0):
        deadline = time.monotonic() + timeout
        with self.cond:
            while not predicate(self.events):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    pytest.fail(f"condition not met within {timeout}s; events: "
                                f"{[(k, n) for k, n, _ in self.events]}")
                self.cond.wait(remaining)

    def seen(self, kind, name):
        return lambda events: any(k == kind and n == name for k, n, _ in events)


@pytest.fixture
def factory(kube):
    timer = Timer()
    f = SharedInformerFactory(kube, timer=timer)
    yield f
    f.stop_all()
    timer.stop()


@pytest.fixture
def widgets(apply_crd):
    apply_crd(CRD)
    return WIDGETS


def start(factory, gvr, namespace, **kw):
    inf = factory.informer(gvr, namespace, indexers={"uid": index_uid}, **kw)
    rec = Recorder()
    inf.add_handler(**rec.handlers())
    inf.start()
    assert inf.wait_for_sync(20), "informer did not sync"
    return inf, rec


def open_watch(inf):
    """The reflector's current watch stream, once it is open (it opens just after the list)."""
    deadline = time.monotonic() + 10
    while inf.reflector._stream is None:
        if time.monotonic() > deadline:
            pytest.fail("the watch never opened")
        time.sleep(0.01)
    return inf.reflector._stream


def test_list_and_watch_see_add_update_delete(kube, factory, widgets, namespace):
    kube.create(widgets, widget("pre", namespace, size=1))
    inf, rec = start(factory, widgets, namespace)
    assert rec.seen("add", "pre")(rec.events), "the initial list is delivered as adds"

    created = kube.create(widgets, widget("live", namespace, size=1))
    rec.wait_for(rec.seen("add", "live"))
    kube.patch(widgets, "live", {"spec": {"size": 2}}, namespace)
    rec.wait_for(lambda ev: any(k == "update" and n == "live" and o["spec"]["size"] == 2 for k, n, o in ev))
    assert kube.delete(widgets, "live", namespace)
    rec.wait_for(rec.seen("delete", "live"))

    assert inf.store.keys() == [f"{namespace}/pre"]
    assert inf.store.by_index("uid", created["metadata"]["uid"]) == []
    assert all("managedFields" not in o["metadata"] for o in inf.store.list())
    assert "ork-informer-widgets" in {t.name for t in threading.enumerate()}


def test_stop_ends_the_reflector_thread_promptly(kube, factory, widgets, namespace):
    inf, _ = start(factory, widgets, namespace)
    open_watch(inf)
    started = time.monotonic()
    factory.release(inf)
    assert time.monotonic() - started < 2, "stopping must not wait for the watch to time out"
    assert inf.reflector._thread is not None and not inf.reflector._thread.is_alive()


def test_label_selector_and_sharing(kube, factory, widgets, namespace):
    selected = widget("selected", namespace)
    selected["metadata"]["labels"] = {"tier": "gold"}
    kube.create(widgets, selected)
    kube.create(widgets, widget("other", namespace))
    inf, _ = start(factory, widgets, namespace, label_selector="tier=gold")
    assert factory.informer(widgets, namespace, label_selector="tier=gold") is inf
    assert inf.store.keys() == [f"{namespace}/selected"]


def test_relist_after_410_loses_nothing(kube, factory, widgets, namespace):
    for name in ("keep", "change", "remove"):
        kube.create(widgets, widget(name, namespace, v=1))
    inf, rec = start(factory, widgets, namespace)
    rec.events.clear()

    # Make the next watch start from a resourceVersion older than the API server's watch cache:
    # the server answers with a real 410 "too old resource version", which forces a relist.
    open_watch(inf)
    inf.reflector.last_resource_version = "1"
    inf.reflector.interrupt()
    kube.create(widgets, widget("new", namespace, v=1))
    kube.patch(widgets, "change", {"spec": {"v": 2}}, namespace)
    kube.delete(widgets, "remove", namespace)

    rec.wait_for(lambda ev: {("add", "new"), ("delete", "remove")} <= {(k, n) for k, n, _ in ev}
                 and any(k == "update" and n == "change" and o["spec"]["v"] == 2 for k, n, o in ev))
    deletes = [o for k, n, o in rec.events if k == "delete"]
    assert isinstance(deletes[0], Tombstone), "a delete found on relist arrives as a tombstone"
    items, _ = kube.list(widgets, namespace)
    assert sorted(inf.store.keys()) == sorted(f"{namespace}/{o['metadata']['name']}" for o in items)


def test_killed_watch_connection_loses_no_cr(kube, factory, widgets, namespace):
    inf, rec = start(factory, widgets, namespace)
    stream = open_watch(inf)
    stream.response.connection.sock.shutdown(2)  # kill the TCP connection under the reflector
    names = [f"w{i}" for i in range(5)]
    for name in names:
        kube.create(widgets, widget(name, namespace))

    rec.wait_for(lambda ev: set(names) <= {n for k, n, _ in ev if k == "add"})
    assert sorted(inf.store.keys()) == sorted(f"{namespace}/{n}" for n in names)
    assert inf.reflector._stream is not stream, "the reflector opened a new watch"
