from orkestra.gvk import GVR
from orkestra.informers.reflector import Tombstone
from orkestra.informers.shared import SharedInformer
from orkestra.workqueue.timer import Timer
from tests.unit.workqueue.fake_clock import FakeClock


def obj(name, rv="1"):
    return {"metadata": {"name": name, "namespace": "ns", "resourceVersion": rv}}


def make():
    clock = FakeClock()
    timer = Timer(clock=clock, start=False)
    informer = SharedInformer(kube=None, gvr=GVR("demo.io", "v1", "sites"), timer=timer)
    return clock, timer, informer


def recorder(log, tag):
    return dict(on_add=lambda o: log.append((tag, "add", o["metadata"]["name"])),
                on_update=lambda a, b: log.append((tag, "update", b["metadata"]["name"])),
                on_delete=lambda o: log.append((tag, "delete", o["metadata"]["name"], isinstance(o, Tombstone))))


def list_into(informer, objs):
    added, updated, removed = informer.store.replace(objs)
    informer.deliver_replace(added, updated, [Tombstone(o) for o in removed])


def test_first_list_reaches_every_handler_then_synced():
    _, _, inf = make()
    log = []
    inf.add_handler(**recorder(log, "h1"))
    inf.add_handler(**recorder(log, "h2"))
    assert not inf.has_synced()
    list_into(inf, [obj("a")])
    assert inf.has_synced()
    assert log == [("h1", "add", "a"), ("h2", "add", "a")]


def test_relist_produces_updates_and_tombstones():
    _, _, inf = make()
    log = []
    inf.add_handler(**recorder(log, "h"))
    list_into(inf, [obj("a"), obj("b")])
    log.clear()
    list_into(inf, [obj("a", rv="2"), obj("c")])
    assert sorted(log) == [("h", "add", "c"), ("h", "delete", "b", True), ("h", "update", "a")]


def test_handler_added_after_sync_gets_the_cache_as_adds():
    _, _, inf = make()
    list_into(inf, [obj("a"), obj("b")])
    log = []
    inf.add_handler(**recorder(log, "late"))
    assert sorted(log) == [("late", "add", "a"), ("late", "add", "b")]


def test_resync_delivers_same_object_as_update_per_handler_period():
    clock, timer, inf = make()
    seen = []
    inf.add_handler(on_update=lambda old, new: seen.append(("fast", old is new)), resync_period=10)
    inf.add_handler(on_update=lambda old, new: seen.append(("slow", old is new)), resync_period=30)
    inf.add_handler(on_update=lambda old, new: seen.append(("never", old is new)), resync_period=0)
    list_into(inf, [obj("a")])
    for _ in range(3):
        clock.advance(10)
        timer.run_due()
    assert sorted(seen) == [("fast", True), ("fast", True), ("fast", True), ("slow", True)]


def test_removed_handler_gets_nothing_more_and_its_resync_stops():
    clock, timer, inf = make()
    seen = []
    h = inf.add_handler(on_add=lambda o: seen.append("add"), on_update=lambda a, b: seen.append("update"),
                        resync_period=5)
    list_into(inf, [obj("a")])
    inf.remove_handler(h)
    inf.deliver_add(obj("b"))
    clock.advance(5)
    timer.run_due()
    assert seen == ["add"]
    assert timer.pending() == 0


def test_a_failing_handler_does_not_stop_the_others():
    _, _, inf = make()
    seen = []
    inf.add_handler(on_add=lambda o: 1 / 0)
    inf.add_handler(on_add=lambda o: seen.append(o["metadata"]["name"]))
    list_into(inf, [obj("a")])
    assert seen == ["a"]


def test_resyncs_into_a_full_dropping_queue_reach_every_object():
    """Issue 14 "Queue limits": with `onLimit: drop` a resync into a nearly full queue keeps only
    the first few objects it offers. Always starting at the same place, the rest of the cache
    was refused at every resync for ever; starting at places spread around the cache reaches
    every object within a few rounds."""
    from orkestra.workqueue import RateLimitingQueue
    clock = FakeClock()
    timer = Timer(clock=clock, start=False)
    inf = SharedInformer(kube=None, gvr=GVR("demo.io", "v1", "sites"), timer=timer)
    queue = RateLimitingQueue("sites", clock=clock, timer=timer, max_depth=3, on_limit="drop")
    key = lambda o: f"ns/{o['metadata']['name']}"  # noqa: E731
    inf.add_handler(on_update=lambda old, new: queue.offer(key(new)), resync_period=10)
    list_into(inf, [obj(f"cr-{i:02d}") for i in range(30)])
    reconciled = set()
    for resyncs in range(1, 41):
        clock.advance(10)
        timer.run_due()
        while len(queue):                   # the worker drains the queue between two resyncs
            item, _ = queue.get()
            reconciled.add(item)
            queue.done(item)
        if len(reconciled) == 30:
            break
    assert reconciled == {f"ns/cr-{i:02d}" for i in range(30)}, "every CR converged, nothing lost"
    assert resyncs <= 25, f"{resyncs} resyncs for 30 objects through a depth of 3"
