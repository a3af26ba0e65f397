"""The deletion flow and finalizers where the API server, the namespace controller or admission
take part (issue 9 items 6, 11, 12, 21), driven directly like test_reconcile_direct."""
from __future__ import annotations

import time
import uuid

import pytest
import yaml

from orkestra.gvk import GVR
from orkestra.kube.errors import ApiError
from orkestra.reconcile import crmeta
from orkestra.reconcile.errors import ReconcileError
from orkestra.reconcile.naming import cut_name
from tests.e2e.ork_runtime import E2E_GROUP, crd_entry, crd_manifest, katalog_doc, new_kind, ork_runtime  # noqa: F401
from tests.e2e.test_reconcile_direct import CLUSTERROLES, GROUP, crd_kind, harness, wait_until  # noqa: F401

NAMESPACES = GVR("", "v1", "namespaces")
CONFIGMAPS = GVR("", "v1", "configmaps")
POLICIES = GVR("admissionregistration.k8s.io", "v1", "validatingadmissionpolicies")
BINDINGS = GVR("admissionregistration.k8s.io", "v1", "validatingadmissionpolicybindings")
FINALIZER = "orkestra.io/finalizer"


def test_delete_timeout_frees_a_cr_in_a_terminating_namespace(harness):
    """Item 6: the onDelete Job cannot be created in a terminating namespace (403); after
    deleteTimeout the flow goes on, so the CR and then the namespace go away."""
    h = harness(templates={"onDelete": {"jobs": [{"image": "busybox", "command": ["true"]}]}}, delete_timeout=4.0)
    h.create("doomed", {})
    h.reconcile("doomed")
    assert FINALIZER in h.cr("doomed")["metadata"]["finalizers"]
    h.kube.delete(NAMESPACES, h.ns)
    wait_until(lambda: (h.cr("doomed") or {}).get("metadata", {}).get("deletionTimestamp"),
               message="the namespace controller to delete the CR")
    errors: list[str] = []
    deadline = time.monotonic() + 30
    while h.cr("doomed") is not None and time.monotonic() < deadline:
        try:
            h.reconcile("doomed")
        except ReconcileError as err:
            errors.append(str(err))
        time.sleep(0.5)
    assert h.cr("doomed") is None, errors[-3:]
    assert any("forbidden" in e.lower() or "terminat" in e for e in errors), errors
    wait_until(lambda: h.kube.get(NAMESPACES, h.ns) is None, timeout=60, message="the namespace to go")


def test_a_cluster_scoped_child_of_a_removed_entry_is_deleted_with_the_cr(harness):
    """Item 12: the ClusterRole's GVR is recorded on the CR, so Katalog v2 (without the
    clusterRoles entry) still finds it in step 4 (here v2's first reconcile is the deletion; a
    normal reconcile would already prune it, tests/e2e/test_reconcile_render.py)."""
    v1 = harness(templates={"onReconcile": {"configMaps": [{"data": {"a": "b"}}], "clusterRoles": [
        {"rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}]}]}})
    v1.create("web", {})
    v1.reconcile("web")
    role = cut_name(f"{v1.ns}-web-clusterrole")
    assert v1.kube.get(CLUSTERROLES, role) is not None
    recorded = crmeta.recorded(v1.cr("web"), crmeta.CHILD_RESOURCES_ANNOTATION)
    assert sorted(recorded) == ["rbac.authorization.k8s.io/v1/clusterroles", "v1/configmaps"]
    v2 = harness(templates={"onReconcile": {"configMaps": [{"data": {"a": "b"}}]}})
    v2.kube.delete(v2.entry.api.gvr, "web", v2.ns)
    v2.reconcile("web")
    assert v2.kube.get(CLUSTERROLES, role) is None
    wait_until(lambda: v2.cr("web") is None, message="the CR to be removed")


def test_a_guarded_patch_from_a_stale_copy_keeps_another_controllers_finalizer(harness):
    """Item 11 on the real server: the failed `test` is a 422 there; a re-read tells it from a refusal."""
    h = harness(finalizers=["example.io/cleanup"])
    stale = h.create("shared", {})        # what a lagging informer still holds
    h.kube.patch(h.entry.api.gvr, "shared", {"metadata": {"finalizers": ["other.io/protect"]}}, h.ns)
    h.rec.add_finalizers(stale, [FINALIZER, "example.io/cleanup"])
    assert h.cr("shared")["metadata"]["finalizers"] == ["other.io/protect", FINALIZER, "example.io/cleanup"]
    h.kube.patch(h.entry.api.gvr, "shared", {"metadata": {"finalizers": None}}, h.ns)


def _policy(kube, plural: str, expression: str, message: str):
    """A ValidatingAdmissionPolicy on UPDATEs of the test's CRs; yields its name, then removes it."""
    name = f"policy-{uuid.uuid4().hex[:6]}"
    kube.create(POLICIES, {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
                           "metadata": {"name": name}, "spec": {
                               "failurePolicy": "Fail",
                               "matchConstraints": {"resourceRules": [{
                                   "apiGroups": [GROUP], "apiVersions": ["*"], "operations": ["UPDATE"],
                                   "resources": [plural]}]},
                               "validations": [{"expression": expression, "message": message}]}})
    kube.create(BINDINGS, {"apiVersion": "admissionregistration.k8s.io/v1",
                           "kind": "ValidatingAdmissionPolicyBinding", "metadata": {"name": name},
                           "spec": {"policyName": name, "validationActions": ["Deny"]}})
    yield name
    kube.delete(BINDINGS, name)
    kube.delete(POLICIES, name)


@pytest.fixture
def keep_finalizer_policy(kube, crd_kind):
    """A ValidatingAdmissionPolicy that refuses removing Orkestra's finalizer from the test's CRs."""
    yield from _policy(kube, crd_kind[1],
                       "!has(oldObject.metadata.finalizers) || "
                       f"!('{FINALIZER}' in oldObject.metadata.finalizers) || "
                       "(has(object.metadata.finalizers) && "
                       f"'{FINALIZER}' in object.metadata.finalizers)",
                       "the finalizer must stay")


@pytest.fixture
def no_tier_label_policy(kube, crd_kind):
    """A ValidatingAdmissionPolicy that refuses the label `tier` on the test's CRs."""
    yield from _policy(kube, crd_kind[1],
                       "!has(object.metadata.labels) || !('tier' in object.metadata.labels)",
                       "no tier label here")


def test_a_refused_label_write_still_leaves_the_finalizers(harness, no_tier_label_policy):
    """Issue 15 review: steps 4 and 5 of docs/runtime.md §10.1 share one guarded write; when the
    API server refuses it for the labels of step 5, the finalizers of step 4 still go on (alone),
    so a CR deleted before the refusal is lifted still runs its deletion flow. No child is written."""
    h = harness(templates={"onReconcile": {"configMaps": [{"data": {"a": "b"}}]}}, finalizers=["example.io/x"],
                labels={"tier": "web"})
    gvr = h.entry.api.gvr
    h.create("probe", {})

    def policy_active() -> bool:       # a policy takes a moment to load
        try:
            h.kube.patch(gvr, "probe", {"metadata": {"labels": {"tier": "x"}}}, h.ns)
        except ApiError as err:
            return "no tier label here" in str(err)
        h.kube.patch(gvr, "probe", {"metadata": {"labels": {"tier": None}}}, h.ns)
        return False

    wait_until(policy_active, timeout=30, message="the ValidatingAdmissionPolicy to take effect")
    h.create("web", {})
    with pytest.raises(ApiError, match="no tier label here"):
        h.reconcile("web")
    meta = h.cr("web")["metadata"]
    assert meta["finalizers"] == [FINALIZER, "example.io/x"]
    assert "tier" not in (meta.get("labels") or {})
    assert h.kube.get(CONFIGMAPS, "web-config", h.ns) is None
    h.kube.patch(gvr, "web", {"metadata": {"finalizers": None}}, h.ns)


def test_an_admission_refusal_of_the_finalizer_removal_is_a_failure_not_a_race(harness, keep_finalizer_policy):
    """Item 21: the policy's 422 is raised as a ReconcileError (counted, backed off by the queue);
    once the policy is gone the same flow completes."""
    h = harness(finalizers=["example.io/x"])
    h.create("probe", {})
    h.reconcile("probe")
    gvr = h.entry.api.gvr

    def policy_active() -> bool:       # a policy takes a moment to load; probe on a CR of our own
        try:
            h.kube.patch(gvr, "probe", [{"op": "remove", "path": "/metadata/finalizers/0"}], h.ns, patch_type="json")
        except Exception as err:  # noqa: BLE001 - the refusal is what we wait for
            return "the finalizer must stay" in str(err)
        h.kube.patch(gvr, "probe", [{"op": "add", "path": "/metadata/finalizers/0", "value": FINALIZER}], h.ns,
                     patch_type="json")
        return False

    wait_until(policy_active, timeout=30, message="the ValidatingAdmissionPolicy to take effect")
    h.kube.delete(gvr, "probe", h.ns)
    with pytest.raises(ReconcileError, match="the finalizer must stay"):
        h.reconcile("probe")
    assert FINALIZER in h.cr("probe")["metadata"]["finalizers"]
    h.kube.delete(BINDINGS, keep_finalizer_policy)
    wait_until(lambda: _reconciles(h, "probe"), timeout=30, message="the flow to complete without the policy")
    wait_until(lambda: h.cr("probe") is None, message="the CR to be removed")


def _reconciles(h, name: str) -> bool:
    try:
        h.reconcile(name)
    except ReconcileError:
        return False
    return True


def test_a_cr_that_leaves_the_selector_in_ork_run_is_released_and_deletes(ork_runtime, apply_crd, kube, namespace,
                                                                           tmp_path):
    """Item 10 in a real `ork run`: the informer sees DELETED when the label no longer matches;
    Orkestra then removes its finalizers, so deleting the CR later does not hang."""
    kind, plural = new_kind("Governed")
    apply_crd(crd_manifest(kind, plural))
    entry = crd_entry(kind, plural)
    entry["operatorBox"]["finalizers"] = ["example.io/cleanup"]
    entry["labelSelector"] = {"governed": "true"}
    path = tmp_path / "katalog.yaml"
    path.write_text(yaml.safe_dump(katalog_doc("release", {"governed": entry}), sort_keys=False))
    ork_runtime(path)
    gvr = GVR(E2E_GROUP, "v1", plural)
    kube.create(gvr, {"apiVersion": f"{E2E_GROUP}/v1", "kind": kind,
                      "metadata": {"name": "web", "labels": {"governed": "true"}, "finalizers": ["other.io/keep"]},
                      "spec": {}}, namespace)
    wait_until(lambda: FINALIZER in (kube.get(gvr, "web", namespace)["metadata"].get("finalizers") or []),
               message="Orkestra to add its finalizer")
    kube.patch(gvr, "web", {"metadata": {"labels": {"governed": None}}}, namespace)
    wait_until(lambda: kube.get(gvr, "web", namespace)["metadata"].get("finalizers") == ["other.io/keep"],
               message="Orkestra to release its finalizers")
    kube.delete(gvr, "web", namespace)
    kube.patch(gvr, "web", {"metadata": {"finalizers": None}}, namespace)     # the other controller's turn
    wait_until(lambda: kube.get(gvr, "web", namespace) is None, message="the CR to go")


def test_the_crs_of_an_entry_disabled_in_ork_run_are_released_and_delete(ork_runtime, apply_crd, kube, namespace,
                                                                          tmp_path):
    """Item 10, disabled entry: a CR that got Orkestra's finalizers while its entry was enabled
    and is then deleted would stay Terminating for ever once the entry is disabled; the next
    leader releases it, keeping another controller's finalizer."""
    kind, plural = new_kind("Retired")
    apply_crd(crd_manifest(kind, plural))
    entry = crd_entry(kind, plural)
    entry["operatorBox"]["finalizers"] = ["example.io/cleanup"]
    path = tmp_path / "katalog.yaml"
    path.write_text(yaml.safe_dump(katalog_doc("retire", {"retired": entry}), sort_keys=False))
    first = ork_runtime(path)
    gvr = GVR(E2E_GROUP, "v1", plural)
    kube.create(gvr, {"apiVersion": f"{E2E_GROUP}/v1", "kind": kind,
                      "metadata": {"name": "old", "finalizers": ["other.io/keep"]}, "spec": {}}, namespace)
    wait_until(lambda: "example.io/cleanup" in (kube.get(gvr, "old", namespace)["metadata"].get("finalizers") or []),
               message="Orkestra to add its finalizers")
    first.stop()
    kube.delete(gvr, "old", namespace)                  # nobody runs its deletion flow any more
    entry["enabled"] = False
    path.write_text(yaml.safe_dump(katalog_doc("retire", {"retired": entry}), sort_keys=False))
    ork_runtime(path)
    wait_until(lambda: kube.get(gvr, "old", namespace)["metadata"].get("finalizers") == ["other.io/keep"],
               message="the leader to release Orkestra's finalizers")
    meta = kube.get(gvr, "old", namespace)["metadata"]
    assert not any(k.startswith("orkestra.io/") and k != crmeta.KATALOG_ANNOTATION
                   for k in meta.get("annotations") or {})
    kube.patch(gvr, "old", {"metadata": {"finalizers": None}}, namespace)     # the other controller's turn
    wait_until(lambda: kube.get(gvr, "old", namespace) is None, message="the CR to go")
