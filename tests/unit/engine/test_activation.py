import pytest

from orkestra.engine.activation import Activator, Step, decide, unmet_dependencies
from orkestra.engine.health import CrdHealth
from orkestra.katalog.model import Dependency
from tests.unit.engine.factories import make_entry


@pytest.mark.parametrize("served,active,unmet,synced,expected", [
    (True, True, [], True, Step.KEEP),
    (False, True, [], True, Step.STOP_MISSING),
    (False, False, [], False, Step.NOT_SERVED),
    (True, False, ["cache"], True, Step.PENDING),
    (True, False, [], False, Step.WAIT_SYNC),
    (True, False, [], True, Step.ACTIVATE),
])
def test_decide(served, active, unmet, synced, expected):
    assert decide(served=served, active=active, unmet=unmet, synced=synced) == expected


def test_unmet_dependencies():
    deps = [Dependency("cache", "healthy"), Dependency("db", "started")]
    assert unmet_dependencies(deps, {"cache": "started", "db": "started"}) == ["cache"]
    assert unmet_dependencies(deps, {"cache": "healthy", "db": "healthy"}) == []
    assert unmet_dependencies(deps, {}) == ["cache", "db"]


class FakeDiscovery:
    """Served plurals per (group, version); counts the fresh fetches so a pass is known to ask afresh."""

    def __init__(self, served):
        self.served_map = served
        self.fetches = []

    def served(self, gvr, *, refresh=False):
        if refresh:
            self.fetches.append((gvr.group, gvr.version))
        return gvr.resource in self.served_map.get((gvr.group, gvr.version), [])


class FakeBox:
    def __init__(self, entry):
        self.entry, self.key, self.gvk_string = entry, entry.key, entry.api.gvk_string
        self.health = CrdHealth(entry.key, 3, clock=lambda: 0.0)
        self.active = False
        self.informer = None
        self.is_synced = True
        self.log = []

    def watch(self):
        self.informer = object()

    def unwatch(self):
        self.informer = None

    def synced(self):
        return self.informer is not None and self.is_synced

    def activate(self):
        self.active = True
        self.health.mark_started()
        self.log.append("activate")

    def stop(self):
        self.active = False
        self.log.append("stop")


def setup():
    cache = make_entry("cache", kind="Cache", group="demo.io", version="v1")
    website = make_entry("website", kind="Website", group="demo.io", version="v1", depends_on=[("cache", "healthy")])
    boxes = {"cache": FakeBox(cache), "website": FakeBox(website)}
    discovery = FakeDiscovery({("demo.io", "v1"): ["caches", "websites"]})
    return Activator(boxes, ["cache", "website"], discovery, clock=lambda: 0.0), boxes, discovery


def test_pass_activates_in_order_and_holds_dependents():
    act, boxes, _ = setup()
    act.leadership_gained()
    assert act.run_pass() is False
    assert boxes["cache"].active and not boxes["website"].active
    assert boxes["website"].health.state == "pending"
    assert boxes["website"].health.snapshot()["awaiting"] == ["cache"]
    boxes["cache"].health.record_success()
    act.run_pass()
    assert boxes["website"].active and boxes["website"].health.state == "started"


def test_unsynced_informer_waits_without_blocking():
    act, boxes, _ = setup()
    boxes["cache"].is_synced = False
    assert act.run_pass() is True
    assert not boxes["cache"].active and boxes["cache"].informer is not None


def test_missing_at_start_then_appears_then_deleted_then_recreated():
    act, boxes, kube = setup()
    kube.served_map = {("demo.io", "v1"): ["websites"]}
    act.run_pass()
    assert kube.fetches == [("demo.io", "v1")], "presence is checked against fresh discovery, once per group/version"
    cache = boxes["cache"]
    assert cache.health.state == "not started" and cache.health.missing
    assert cache.health.snapshot()["lastError"] == "CustomResourceDefinition caches.demo.io not found in cluster"
    kube.served_map = {("demo.io", "v1"): ["websites", "caches"]}
    act.run_pass()
    assert cache.active and cache.health.state == "started"
    cache.health.record_success()
    act.run_pass()
    assert boxes["website"].active
    kube.served_map = {("demo.io", "v1"): ["websites"]}
    act.run_pass()
    assert not cache.active and cache.informer is None
    assert cache.health.state == "degraded" and cache.health.missing
    assert boxes["website"].active, "gating happens once: an activated dependent keeps running"
    kube.served_map = {("demo.io", "v1"): ["websites", "caches"]}
    act.run_pass()
    assert cache.active and cache.health.state == "started"
    assert cache.log == ["activate", "stop", "activate"]


def test_failed_activation_is_not_started():
    act, boxes, _ = setup()

    def boom():
        raise RuntimeError("forbidden")
    boxes["cache"].activate = boom
    act.run_pass()
    assert boxes["cache"].health.state == "not started"
    assert "activation failed: forbidden" in boxes["cache"].health.snapshot()["lastError"]


def test_a_recreated_kind_is_activated_again_without_regating_on_its_dependencies():
    """§8: a kind that (re)appeared is activated from scratch; gating happens once, so an
    activated dependent is not held `pending` because its dependency is unhealthy now."""
    act, boxes, kube = setup()
    act.leadership_gained()
    act.run_pass()
    boxes["cache"].health.record_success()
    act.run_pass()
    website = boxes["website"]
    assert website.active
    for _ in range(3):
        boxes["cache"].health.record_failure("boom")
    assert boxes["cache"].health.state == "degraded"
    kube.served_map = {("demo.io", "v1"): ["caches"]}
    act.run_pass()
    assert not website.active and website.health.state == "degraded"
    kube.served_map = {("demo.io", "v1"): ["caches", "websites"]}
    act.run_pass()
    assert website.active and website.health.state == "started"
    assert website.log == ["activate", "stop", "activate"]


def test_pass_refetches_only_the_katalog_group_versions():
    """A pass asks the CRDs' group/version afresh but keeps the child kinds' documents cached:
    dropping them made the reconcilers refetch `/apis/apps/v1` after every pass (issue 15, idle)."""
    from orkestra.kube.discovery import Discovery
    from tests.unit.kube.test_discovery import APPS, ScriptedKube
    kube = ScriptedKube({"/apis/apps/v1": APPS,
                         "/apis/demo.io/v1": {"resources": [{"name": "caches", "kind": "Cache", "namespaced": True},
                                                            {"name": "websites", "kind": "Website", "namespaced": True}]}})
    discovery = Discovery(kube)
    act, _, _ = setup()
    act.discovery = discovery
    assert discovery.resolve("apps/v1", "Deployment") is not None
    assert act.served_now() == {"cache", "website"}
    assert act.served_now() == {"cache", "website"}
    assert discovery.resolve("apps/v1", "Deployment") is not None
    assert kube.calls == ["/apis/apps/v1", "/apis/demo.io/v1", "/apis/demo.io/v1"]
