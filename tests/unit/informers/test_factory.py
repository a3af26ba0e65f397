from orkestra.gvk import GVR
from orkestra.informers.factory import SharedInformerFactory
from orkestra.informers.store import index_owner
from orkestra.workqueue.timer import Timer
from tests.unit.workqueue.fake_clock import FakeClock

DEPLOY = GVR("apps", "v1", "deployments")
NODES = GVR("", "v1", "nodes")


def factory(**kw):
    return SharedInformerFactory(kube=None, timer=Timer(clock=FakeClock(), start=False), **kw)


def test_same_key_shares_one_informer_different_selector_does_not():
    f = factory()
    a = f.informer(DEPLOY, "ns", label_selector="app.kubernetes.io/managed-by=orkestra")
    b = f.informer(DEPLOY, "ns", label_selector="app.kubernetes.io/managed-by=orkestra")
    c = f.informer(DEPLOY, "ns")
    assert a is b and a is not c
    assert f.references(a) == 2


def test_last_release_stops_and_forgets_the_informer():
    f = factory()
    a = f.informer(DEPLOY)
    f.informer(DEPLOY)
    f.release(a)
    assert f.informers() == [a] and not a.reflector.stopped
    f.release(a)
    assert f.informers() == [] and a.reflector.stopped
    assert f.informer(DEPLOY) is not a, "a new consumer gets a fresh informer"


def test_watch_namespace_applies_to_namespaced_informers_only():
    f = factory(watch_namespace="team-a")
    assert f.informer(DEPLOY).namespace == "team-a"
    assert f.informer(DEPLOY, "other").namespace == "other"
    assert f.informer(NODES, namespaced=False).namespace == ""


def test_consumers_add_their_indexers_to_the_shared_store():
    f = factory()
    a = f.informer(DEPLOY)
    f.informer(DEPLOY, indexers={"owner": index_owner})
    assert sorted(a.store.index_names()) == ["namespace", "owner"]


def test_a_store_is_compact_only_when_its_first_consumer_asks():
    f = factory()
    assert f.informer(DEPLOY, "ns").store.compact is False
    children = f.informer(DEPLOY, label_selector="x=y", compact=True)
    assert children.store.compact is True
    assert f.informer(DEPLOY, label_selector="x=y") is children and children.store.compact is True
