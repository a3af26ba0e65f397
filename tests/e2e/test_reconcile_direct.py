"""The reconciler on a real API server, driven directly (no engine): `reconcile(key)` per step.

`DirectRuntime` is a test-only `ReconcileRuntime`: instead of informer caches it reads the live
objects from the API server (the CR by GET, children by listing the owner-uid label), so every
write and read has real API semantics (SSA, ownerReferences and garbage collection, finalizers,
status subresource, JSON-patch tests). Events go through the real `EventRecorder`.
"""
from __future__ import annotations

import json
import threading
import time
import uuid

import pytest

from orkestra.gvk import GVR
from orkestra.kube.discovery import Discovery
from orkestra.kube.events import EventRecorder
from orkestra.reconcile import build_reconciler
from orkestra.reconcile.errors import ValidationDenied
from orkestra.reconcile.naming import cut_name
from orkestra.reconcile.render import compile_entries, tracked_gvrs
from tests.e2e.ork_runtime import crd_manifest
from tests.unit.reconcile.factory import make_entry, make_katalog

GROUP = "demo.orkestra.io"
DEPLOYMENTS = GVR("apps", "v1", "deployments")
SERVICES = GVR("", "v1", "services")
CONFIGMAPS = GVR("", "v1", "configmaps")
JOBS = GVR("batch", "v1", "jobs")
CLUSTERROLES = GVR("rbac.authorization.k8s.io", "v1", "clusterroles")
EVENTS = GVR("", "v1", "events")


class DirectRuntime:
    """`ReconcileRuntime` over the live API server (test-only; the engine's box uses informers)."""

    def __init__(self, kube, entry, katalog) -> None:
        self.kube = kube
        self.discovery = Discovery(kube)
        self.recorder = EventRecorder(kube, "e2e-direct")
        self.identity = "e2e-direct"
        self.katalog = katalog
        self.entry = entry
        self.warnings: dict[str, list[dict]] = {}
        self._gvrs = tracked_gvrs(compile_entries(entry), self.discovery.resolve)

    def cached(self, key: str) -> dict | None:
        ns, _, name = key.rpartition("/")
        return self.kube.get(self.entry.api.gvr, name, ns or None)

    def cached_all(self) -> list[dict]:
        return self.kube.list(self.entry.api.gvr)[0]

    def children(self, owner_uid: str) -> list[dict]:
        out = []
        for gvr in self._gvrs:
            out += self.kube.list(gvr, label_selector=f"orkestra.io/owner-uid={owner_uid}")[0]
        return out

    def child_informer_gvrs(self) -> list[GVR]:
        return list(self._gvrs)

    def set_warnings(self, key: str, source: str, warnings: list[dict]) -> None:
        self.warnings[key] = warnings


def website_crd(plural: str, kind: str) -> dict:
    return crd_manifest(kind, plural, group=GROUP, version="v1alpha1")


@pytest.fixture
def crd_kind(apply_crd):
    """A fresh Website-like CRD per test (unique kind, so tests never see each other's CRs)."""
    suffix = uuid.uuid4().hex[:6]
    kind, plural = f"Site{suffix}", f"site{suffix}s"
    apply_crd(website_crd(plural, kind))
    return kind, plural


@pytest.fixture
def harness(kube, crd_kind, namespace):
    kind, plural = crd_kind

    def make(**entry_kw):
        entry = make_entry("website", **entry_kw)
        entry.api = type(entry.api)(GROUP, "v1alpha1", kind, plural, True, False)
        katalog = make_katalog(entry, name="e2e-katalog")
        runtime = DirectRuntime(kube, entry, katalog)
        return Harness(kube, entry, runtime, build_reconciler(entry, katalog=katalog, runtime=runtime), namespace)

    return make


class Harness:
    def __init__(self, kube, entry, runtime, reconciler, namespace) -> None:
        self.kube, self.entry, self.runtime, self.rec, self.ns = kube, entry, runtime, reconciler, namespace

    def create(self, name: str, spec: dict) -> dict:
        return self.kube.create(self.entry.api.gvr, {"apiVersion": f"{GROUP}/v1alpha1", "kind": self.entry.api.kind,
                                                     "metadata": {"name": name}, "spec": spec}, self.ns)

    def cr(self, name: str) -> dict | None:
        return self.kube.get(self.entry.api.gvr, name, self.ns)

    def patch_spec(self, name: str, spec: dict) -> None:
        self.kube.patch(self.entry.api.gvr, name, {"spec": spec}, self.ns)

    def reconcile(self, name: str):
        return self.rec.reconcile(f"{self.ns}/{name}", threading.Event())

    def events(self, name: str) -> list[dict]:
        items, _ = self.kube.list(EVENTS, self.ns, field_selector=f"involvedObject.name={name}")
        return items

    def reasons(self, name: str) -> list[str]:
        return [e["reason"] for e in self.events(name)]


def wait_until(predicate, timeout=30.0, message=""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"timed out after {timeout}s: {message}")


WEBSITE = {
    "onReconcile": {
        "configMaps": [{"data": {"title": "{{ .spec.title }}", "replicas": "{{ .spec.replicas }}"}}],
        "services": [{"port": 80, "targetPort": 8080}],
        "deployments": [{"image": "{{ .spec.image }}", "replicas": "{{ .spec.replicas }}", "port": 8080}],
    },
}
STATUS = {"conditions": True, "fields": [
    {"path": "phase", "value": "Provisioning",
     "when": [{"field": "{{ allReplicasReady .children.deployment }}", "equals": "false"}]},
    {"path": "replicas", "type": "int", "value": "{{ .children.deployment.spec.replicas }}"},
    {"path": "url", "value": "http://{{ .spec.host }}", "when": [{"field": "spec.host", "exists": True}],
     "clearOnFalse": True},
]}


def test_website_children_status_events_update_and_drift(harness, kubectl):
    h = harness(templates=WEBSITE, status=STATUS)
    cr = h.create("site", {"image": "nginx:1.27", "replicas": 2, "title": "Hello", "host": "site.example.com"})
    assert h.reconcile("site").requeue_after is None

    dep = h.kube.get(DEPLOYMENTS, "site-deployment", h.ns)
    svc = h.kube.get(SERVICES, "site-svc", h.ns)
    cm = h.kube.get(CONFIGMAPS, "site-config", h.ns)
    assert dep["spec"]["replicas"] == 2
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
    assert svc["spec"]["ports"][0]["port"] == 80 and svc["spec"]["ports"][0]["targetPort"] == 8080
    assert cm["data"] == {"title": "Hello", "replicas": "2"}
    for child, template in ((dep, "onReconcile.deployments.0"), (svc, "onReconcile.services.0"),
                            (cm, "onReconcile.configMaps.0")):
        owner = child["metadata"]["ownerReferences"][0]
        assert (owner["uid"], owner["controller"], owner["blockOwnerDeletion"]) == (cr["metadata"]["uid"], True, True)
        labels = child["metadata"]["labels"]
        assert labels["orkestra.io/template"] == template and labels["orkestra-owner"] == "site"
        assert labels["app.kubernetes.io/managed-by"] == "orkestra" and labels["orkestra.io/crd"] == "website"
    managed = json.loads(kubectl("get", "deployment", "site-deployment", "-n", h.ns, "--show-managed-fields",
                                 "-o", "json").stdout)["metadata"]["managedFields"]
    assert {(m["manager"], m["operation"]) for m in managed} >= {("orkestra", "Apply")}

    live = h.cr("site")
    assert live["metadata"]["annotations"]["orkestra.io/katalog"] == "e2e-katalog"
    status = live["status"]
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"], ready["observedGeneration"]) == ("True", "Reconciled", 1)
    assert status["observedGeneration"] == 1
    assert status["phase"] == "Provisioning" and status["replicas"] == 2 and status["url"] == "http://site.example.com"
    events = h.events("site")
    reconciled = [e for e in events if e["reason"] == "Reconciled"]
    assert reconciled and reconciled[0]["type"] == "Normal"
    assert reconciled[0]["message"].startswith("reconciled generation 1: created ")
    assert f"created Deployment {h.ns}/site-deployment" in reconciled[0]["message"]
    described = kubectl("describe", h.entry.api.plural, "site", "-n", h.ns).stdout
    assert "Reconciled" in described and "reconciled generation 1" in described

    # Nothing changed: no second Reconciled event, no status write (resourceVersion stays).
    rv = h.cr("site")["metadata"]["resourceVersion"]
    h.reconcile("site")
    assert h.cr("site")["metadata"]["resourceVersion"] == rv
    assert len([e for e in h.events("site") if e["reason"] == "Reconciled"]) == 1

    # Editing the CR updates the children; a removed host clears status.url.
    h.kube.patch(h.entry.api.gvr, "site", {"spec": {"image": "nginx:1.28", "title": "Bye", "host": None}}, h.ns)
    h.reconcile("site")
    dep = h.kube.get(DEPLOYMENTS, "site-deployment", h.ns)
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.28"
    assert h.kube.get(CONFIGMAPS, "site-config", h.ns)["data"]["title"] == "Bye"
    status = h.cr("site")["status"]
    assert status["observedGeneration"] == 2 and "url" not in status
    messages = [e["message"] for e in h.events("site") if e["reason"] == "Reconciled"]
    assert any(m.startswith("reconciled generation 2: updated ") for m in messages)

    # Drift: a hand edit of a declared field is reverted on the next reconcile.
    h.kube.patch(CONFIGMAPS, "site-config", {"data": {"title": "hacked"}}, h.ns)
    h.kube.patch(DEPLOYMENTS, "site-deployment", {"spec": {"replicas": 7}}, h.ns)
    h.reconcile("site")
    assert h.kube.get(CONFIGMAPS, "site-config", h.ns)["data"]["title"] == "Bye"
    assert h.kube.get(DEPLOYMENTS, "site-deployment", h.ns)["spec"]["replicas"] == 2


def test_when_toggle_adds_then_removes_the_conditional_child(harness):
    h = harness(templates={"onReconcile": {"configMaps": [
        {"name": "{{ .metadata.name }}-base", "data": {"a": "b"}},
        {"name": "{{ .metadata.name }}-extra", "data": {"x": "y"},
         "when": [{"field": "spec.extra", "equals": "true"}]}]}})
    h.create("toggle", {"extra": False})
    h.reconcile("toggle")
    assert h.kube.get(CONFIGMAPS, "toggle-base", h.ns) is not None
    assert h.kube.get(CONFIGMAPS, "toggle-extra", h.ns) is None
    h.patch_spec("toggle", {"extra": True})
    h.reconcile("toggle")
    assert h.kube.get(CONFIGMAPS, "toggle-extra", h.ns)["data"] == {"x": "y"}
    h.patch_spec("toggle", {"extra": False})
    h.reconcile("toggle")
    assert h.kube.get(CONFIGMAPS, "toggle-extra", h.ns) is None
    assert h.kube.get(CONFIGMAPS, "toggle-base", h.ns) is not None
    assert any("deleted ConfigMap" in e["message"] for e in h.events("toggle") if e["reason"] == "Reconciled")


def test_for_each_creates_one_child_per_item_and_prunes_removed_items(harness):
    h = harness(templates={"onReconcile": {"configMaps": [
        {"forEach": {"field": "spec.regions", "as": "region"}, "name": "{{ .metadata.name }}-{{ .region.name }}",
         "data": {"endpoint": "{{ .region.endpoint }}"}}]}})
    h.create("multi", {"regions": [{"name": "eu", "endpoint": "e1"}, {"name": "us", "endpoint": "e2"}]})
    h.reconcile("multi")
    assert h.kube.get(CONFIGMAPS, "multi-eu", h.ns)["data"] == {"endpoint": "e1"}
    assert h.kube.get(CONFIGMAPS, "multi-us", h.ns)["data"] == {"endpoint": "e2"}
    h.patch_spec("multi", {"regions": [{"name": "us", "endpoint": "e3"}]})
    h.reconcile("multi")
    assert h.kube.get(CONFIGMAPS, "multi-eu", h.ns) is None
    assert h.kube.get(CONFIGMAPS, "multi-us", h.ns)["data"] == {"endpoint": "e3"}


def complete_job(kube, name: str, namespace: str) -> None:
    """What the job controller would write for a Job that succeeded (pods never run here)."""
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    status = {"startTime": now, "completionTime": now, "succeeded": 1,
              "conditions": [{"type": "SuccessCriteriaMet", "status": "True", "lastProbeTime": now,
                              "lastTransitionTime": now},
                             {"type": "Complete", "status": "True", "lastProbeTime": now,
                              "lastTransitionTime": now}]}
    kube.patch(JOBS, name, {"status": status}, namespace, subresource="status")


ON_DELETE = {
    "onReconcile": {"deployments": [{"image": "nginx"}]},
    "onDelete": {"jobs": [{"name": "{{ .metadata.name }}-cleanup", "image": "busybox", "command": ["true"]}]},
}


def test_deletion_runs_the_on_delete_job_then_removes_the_finalizer(harness):
    h = harness(templates=ON_DELETE)
    h.create("gone", {})
    h.reconcile("gone")
    assert h.cr("gone")["metadata"]["finalizers"] == ["orkestra.io/finalizer"]
    assert "FinalizerAdded" in h.reasons("gone")
    assert h.kube.get(DEPLOYMENTS, "gone-deployment", h.ns) is not None

    h.kube.delete(h.entry.api.gvr, "gone", h.ns)
    assert h.reconcile("gone").requeue_after == 5.0
    job = h.kube.get(JOBS, "gone-cleanup", h.ns)
    assert job is not None and job["metadata"]["labels"]["orkestra.io/template"] == "onDelete.jobs.0"
    ready = next(c for c in h.cr("gone")["status"]["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "Deleting")
    assert h.reconcile("gone").requeue_after == 5.0          # still waiting, idempotent
    assert h.cr("gone") is not None

    complete_job(h.kube, "gone-cleanup", h.ns)
    assert h.reconcile("gone").requeue_after is None
    wait_until(lambda: h.cr("gone") is None, message="the CR to be removed after its finalizer")
    reasons = h.reasons("gone")
    assert "Deleting" in reasons and "FinalizerRemoved" in reasons
    wait_until(lambda: h.kube.get(DEPLOYMENTS, "gone-deployment", h.ns) is None, timeout=60,
               message="the garbage collector to delete the owned Deployment")


def test_delete_timeout_ends_the_wait(harness):
    h = harness(templates={"onDelete": {"jobs": [{"image": "busybox"}]}}, delete_timeout=3.0)
    h.create("slow", {})
    h.reconcile("slow")
    h.kube.delete(h.entry.api.gvr, "slow", h.ns)
    assert h.reconcile("slow").requeue_after == 5.0       # deletionTimestamp has 1 s resolution
    time.sleep(3.2)
    assert h.reconcile("slow").requeue_after is None
    wait_until(lambda: h.cr("slow") is None, message="the CR to go after deleteTimeout")
    timeout_events = [e for e in h.events("slow") if e["reason"] == "DeleteTimeout"]
    assert timeout_events and timeout_events[0]["type"] == "Warning"
    assert f"Job {h.ns}/slow-job" in timeout_events[0]["message"]


def test_deny_rule_stops_the_reconcile_and_fixing_recovers(harness):
    h = harness(templates={"onReconcile": {"configMaps": [{"data": {"image": "{{ .spec.image }}"}}]}},
                validation={"rules": [{"field": "spec.image", "prefix": "registry.internal/",
                                       "message": "images must come from registry.internal/"}]})
    h.create("bad", {"image": "docker.io/nginx"})
    with pytest.raises(ValidationDenied) as denied:
        h.reconcile("bad")
    assert str(denied.value) == ('validation denied: field "spec.image": images must come from '
                                 'registry.internal/ (got: "docker.io/nginx")')
    assert denied.value.reason == "ValidationDenied"
    h.rec.report_failure(f"{h.ns}/bad", denied.value, denied.value.reason)
    ready = next(c for c in h.cr("bad")["status"]["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"], ready["message"]) == ("False", "ValidationDenied", str(denied.value))
    assert h.kube.get(CONFIGMAPS, "bad-config", h.ns) is None

    h.patch_spec("bad", {"image": "registry.internal/nginx"})
    h.reconcile("bad")
    assert h.kube.get(CONFIGMAPS, "bad-config", h.ns)["data"] == {"image": "registry.internal/nginx"}
    ready = next(c for c in h.cr("bad")["status"]["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("True", "Reconciled")


def test_cluster_scoped_child_is_label_tracked_and_removed_by_the_deletion_flow(harness):
    h = harness(templates={"onReconcile": {"clusterRoles": [
        {"rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}]}]}})
    cr = h.create("rbac", {})
    h.reconcile("rbac")
    name = cut_name(f"{h.ns}-rbac-clusterrole")      # `<p>-clusterrole`, with the 63-character rule
    role = h.kube.get(CLUSTERROLES, name)
    assert role is not None and "ownerReferences" not in role["metadata"]
    assert role["metadata"]["labels"]["orkestra.io/owner-uid"] == cr["metadata"]["uid"]
    assert role["metadata"]["labels"]["orkestra.io/owner-namespace"] == h.ns
    assert "orkestra.io/finalizer" in h.cr("rbac")["metadata"]["finalizers"]
    h.kube.delete(h.entry.api.gvr, "rbac", h.ns)
    h.reconcile("rbac")
    assert h.kube.get(CLUSTERROLES, name) is None
    wait_until(lambda: h.cr("rbac") is None, message="the CR to be removed")


def test_restricted_namespace_is_not_reconciled_and_reported_once_per_generation(harness):
    h = harness(templates={"onReconcile": {"configMaps": [{"data": {"a": "b"}}]}}, restricted=["e2e-*"])
    h.create("fenced", {})
    assert h.reconcile("fenced").requeue_after is None
    h.reconcile("fenced")
    assert h.kube.get(CONFIGMAPS, "fenced-config", h.ns) is None
    restricted = [e for e in h.events("fenced") if e["reason"] == "NamespaceRestricted"]
    assert len(restricted) == 1 and restricted[0]["type"] == "Warning" and restricted[0].get("count", 1) == 1
    assert "finalizers" not in h.cr("fenced")["metadata"]


def test_mutation_warning_and_deletion_protection_label(harness):
    h = harness(templates={"onReconcile": {"configMaps": [{"data": {"replicas": "{{ .spec.replicas }}"}}]}},
                mutation={"mutateFirst": True, "rules": [{"field": "spec.replicas", "default": 2}]},
                validation={"rules": [{"field": "metadata.labels.team", "exists": True, "action": "warn",
                                       "message": "declare a team owner label"}]},
                protection={"enabled": True, "protectCRD": True, "protectCRs": True, "strictMode": False})
    h.create("mut", {})
    h.reconcile("mut")
    live = h.cr("mut")
    assert live["spec"]["replicas"] == 2
    assert live["metadata"]["labels"]["orkestra.io/deletion-protection"] == "true"
    assert h.kube.get(CONFIGMAPS, "mut-config", h.ns)["data"] == {"replicas": "2"}
    events = {e["reason"]: e for e in h.events("mut")}
    assert events["MutationApplied"]["message"] == "defaults applied: spec.replicas=2"
    assert events["ValidationWarning"]["type"] == "Warning"
    assert "declare a team owner label" in events["ValidationWarning"]["message"]
    assert [w["message"] for w in h.runtime.warnings[f"{h.ns}/mut"]] == [
        'field "metadata.labels.team": declare a team owner label']

    h.kube.patch(h.entry.api.gvr, "mut", {"metadata": {"labels": {"team": "web"},
                                                       "annotations": {"orkestra.io/deletion-protection": "false"}}},
                 h.ns)
    h.reconcile("mut")
    labels = h.cr("mut")["metadata"]["labels"]
    assert "orkestra.io/deletion-protection" not in labels and labels["team"] == "web"
    assert h.runtime.warnings[f"{h.ns}/mut"] == []
