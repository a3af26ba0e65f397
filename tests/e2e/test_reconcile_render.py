"""Render/apply/prune behaviour that only a real API server can prove (issue 9): children survive a
Katalog edit that still renders them, two CRs never take one child from each other, and the
typed fields (headless Service, string args, `podSelector: {}`) are accepted as written."""
from __future__ import annotations

import pytest

from orkestra.gvk import GVR
from orkestra.reconcile.errors import ApplyFailed
from orkestra.reconcile.naming import cut_name
from tests.e2e.test_reconcile_direct import CLUSTERROLES, CONFIGMAPS, DEPLOYMENTS, SERVICES, crd_kind, harness  # noqa: F401

PVCS = GVR("", "v1", "persistentvolumeclaims")
NETPOLS = GVR("networking.k8s.io", "v1", "networkpolicies")


def test_inserting_an_entry_above_another_keeps_the_existing_children(harness):
    """Issue 9 item 2: v2 inserts `-wal` above `-data`; the PVC and ConfigMap of v1 must survive."""
    v1 = {"onReconcile": {
        "persistentVolumeClaims": [{"name": "{{ .metadata.name }}-data", "storage": "1Gi"}],
        "configMaps": [{"name": "{{ .metadata.name }}-data", "data": {"k": "data"}}]}}
    v2 = {"onReconcile": {
        "persistentVolumeClaims": [{"name": "{{ .metadata.name }}-wal", "storage": "1Gi"},
                                   {"name": "{{ .metadata.name }}-data", "storage": "1Gi"}],
        "configMaps": [{"name": "{{ .metadata.name }}-wal", "data": {"k": "wal"}},
                       {"name": "{{ .metadata.name }}-data", "data": {"k": "data"}}]}}
    h1 = harness(templates=v1)
    h1.create("site", {})
    h1.reconcile("site")
    pvc = h1.kube.get(PVCS, "site-data", h1.ns)
    cm = h1.kube.get(CONFIGMAPS, "site-data", h1.ns)
    assert pvc["metadata"]["labels"]["orkestra.io/template"] == "onReconcile.persistentVolumeClaims.0"

    h2 = harness(templates=v2)
    h2.reconcile("site")
    pvc_after = h2.kube.get(PVCS, "site-data", h2.ns)
    cm_after = h2.kube.get(CONFIGMAPS, "site-data", h2.ns)
    assert pvc_after["metadata"]["uid"] == pvc["metadata"]["uid"]
    assert "deletionTimestamp" not in pvc_after["metadata"]
    assert cm_after["metadata"]["uid"] == cm["metadata"]["uid"]
    assert pvc_after["metadata"]["labels"]["orkestra.io/template"] == "onReconcile.persistentVolumeClaims.1"
    assert h2.kube.get(PVCS, "site-wal", h2.ns) is not None
    assert h2.kube.get(CONFIGMAPS, "site-wal", h2.ns)["data"] == {"k": "wal"}
    assert not any("deleted" in e["message"] for e in h2.events("site") if e["reason"] == "Reconciled")

    # Removing the inserted entry again (v1) still keeps site-data, and only now prunes site-wal.
    h1.reconcile("site")
    assert h1.kube.get(PVCS, "site-data", h1.ns)["metadata"]["uid"] == pvc["metadata"]["uid"]
    assert h1.kube.get(CONFIGMAPS, "site-data", h1.ns)["metadata"]["uid"] == cm["metadata"]["uid"]
    assert h1.kube.get(CONFIGMAPS, "site-wal", h1.ns) is None


def test_two_crs_rendering_one_child_name_never_take_it_from_each_other(harness):
    """Issue 9 item 23: the second CR gets an OwnerConflict Warning and a reconcile error."""
    h = harness(templates={"onReconcile": {"configMaps": [{"name": "shared-config",
                                                            "data": {"owner": "{{ .metadata.name }}"}}]}})
    first = h.create("first", {})
    h.create("second", {})
    h.reconcile("first")
    with pytest.raises(ApplyFailed) as failed:
        h.reconcile("second")
    assert f"ConfigMap {h.ns}/shared-config: already controlled by {h.entry.api.kind} first" in str(failed.value)
    h.reconcile("first")
    with pytest.raises(ApplyFailed):
        h.reconcile("second")
    live = h.kube.get(CONFIGMAPS, "shared-config", h.ns)
    owners = live["metadata"]["ownerReferences"]
    assert [(o["uid"], o["controller"]) for o in owners] == [(first["metadata"]["uid"], True)]
    assert live["data"] == {"owner": "first"}
    assert live["metadata"]["labels"]["orkestra.io/owner-uid"] == first["metadata"]["uid"]
    conflicts = [e for e in h.events("second") if e["reason"] == "OwnerConflict"]
    assert len(conflicts) == 1 and conflicts[0]["type"] == "Warning"
    assert "shared-config" in conflicts[0]["message"] and "not taken over" in conflicts[0]["message"]


def test_typed_fields_are_accepted_by_the_api_server(harness):
    """Items 9, 15, 25: headless Service, string args/nodeSelector from native values, deny-all policy."""
    h = harness(templates={"onReconcile": {
        "services": [{"port": "{{ .spec.port }}", "clusterIP": "None", "publishNotReadyAddresses": True}],
        "deployments": [{"image": "redis", "args": ["--maxmemory", "{{ .spec.memory }}"],
                         "nodeSelector": {"gpu": "{{ .spec.gpu }}"}, "env": {"SETTINGS": "{{ .spec.settings }}"}}],
        "networkPolicies": [{"name": "deny-all", "podSelector": {}, "policyTypes": ["Ingress", "Egress"]}]}})
    h.create("typed", {"port": 6379, "memory": 512, "gpu": True, "settings": {"a": 1, "b": True}})
    h.reconcile("typed")
    svc = h.kube.get(SERVICES, "typed-svc", h.ns)
    assert svc["spec"]["clusterIP"] == "None" and svc["spec"]["publishNotReadyAddresses"] is True
    pod = h.kube.get(DEPLOYMENTS, "typed-deployment", h.ns)["spec"]["template"]["spec"]
    assert pod["containers"][0]["args"] == ["--maxmemory", "512"]
    assert pod["containers"][0]["env"] == [{"name": "SETTINGS", "value": '{"a":1,"b":true}'}]
    assert pod["nodeSelector"] == {"gpu": "true"}
    assert h.kube.get(NETPOLS, "deny-all", h.ns)["spec"]["podSelector"] == {}


def test_a_users_own_configmap_with_the_rendered_name_is_never_adopted(harness):
    """docs/ownership.md: neither server-side apply (onReconcile) nor create-only (onCreate) takes an
    object Orkestra did not create; it stays byte-identical, with an OwnerConflict Warning."""
    h = harness(templates={
        "onCreate": {"configMaps": [{"name": "{{ .metadata.name }}-seed", "data": {"from": "orkestra"}}]},
        "onReconcile": {"configMaps": [{"data": {"from": "orkestra"}}], "services": [{"port": 80}]}})
    users = {name: h.kube.create(CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap",
                                              "metadata": {"name": name}, "data": {"mine": "yes"}}, h.ns)
             for name in ("site-config", "site-seed")}
    h.create("site", {})
    with pytest.raises(ApplyFailed) as failed:
        h.reconcile("site")
    for name in ("site-config", "site-seed"):
        assert f"ConfigMap {h.ns}/{name}: exists but was not created by Orkestra for this CR" in str(failed.value)
    with pytest.raises(ApplyFailed):
        h.reconcile("site")
    for name, before in users.items():
        live = h.kube.get(CONFIGMAPS, name, h.ns)
        assert live["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
        assert "ownerReferences" not in live["metadata"] and "labels" not in live["metadata"]
        assert live["data"] == {"mine": "yes"}
        assert {m["manager"] for m in live["metadata"].get("managedFields") or []} <= \
            {m["manager"] for m in before["metadata"].get("managedFields") or []}
    assert h.kube.get(SERVICES, "site-svc", h.ns) is not None          # the other children are still written
    conflicts = [e for e in h.events("site") if e["reason"] == "OwnerConflict"]
    assert sorted(e["message"].split(":")[0] for e in conflicts) == [f"ConfigMap {h.ns}/site-config",
                                                                     f"ConfigMap {h.ns}/site-seed"]
    assert all(e["type"] == "Warning" and e.get("count", 1) == 1 for e in conflicts)


def test_the_children_of_removed_entries_are_pruned_and_nothing_else(harness):
    """Issue 9 item 12: while the CR lives, removing entries prunes their children, found through the
    cache (a ConfigMap entry left) and through the GVRs recorded on the CR (no entry of the kind left:
    the owned ConfigMap, the label-tracked ClusterRole). A user's ConfigMaps with similar names, one
    labelled for another owner and an object a hook wrote (no template label) stay untouched."""
    v1 = harness(templates={"onReconcile": {
        "configMaps": [{"name": "{{ .metadata.name }}-a", "data": {"k": "a"}},
                       {"name": "{{ .metadata.name }}-b", "data": {"k": "b"}}],
        "clusterRoles": [{"rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}]}],
        "services": [{"port": 80}]}})
    cr = v1.create("site", {})
    uid = cr["metadata"]["uid"]

    def configmap(name: str, labels: dict | None) -> dict:
        meta = {"name": name, **({"labels": labels} if labels else {})}
        return v1.kube.create(CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta,
                                           "data": {"mine": "yes"}}, v1.ns)

    kept = [configmap("site-b-user", None), configmap("site-b2", None),
            configmap("site-other", {"orkestra.io/owner-uid": "another-uid", "orkestra.io/template": "onReconcile.configMaps.1"}),
            configmap("site-from-hook", {"orkestra.io/owner-uid": uid, "app.kubernetes.io/managed-by": "orkestra"})]
    v1.reconcile("site")
    role = cut_name(f"{v1.ns}-site-clusterrole")
    assert v1.kube.get(CLUSTERROLES, role) is not None
    site_a = v1.kube.get(CONFIGMAPS, "site-a", v1.ns)
    assert v1.kube.get(CONFIGMAPS, "site-b", v1.ns)["metadata"]["labels"]["orkestra.io/template"] == \
        "onReconcile.configMaps.1"

    v2 = harness(templates={"onReconcile": {"configMaps": [{"name": "{{ .metadata.name }}-a", "data": {"k": "a"}}],
                                            "services": [{"port": 80}]}})
    v2.reconcile("site")
    assert v2.kube.get(CONFIGMAPS, "site-b", v2.ns) is None
    assert v2.kube.get(CLUSTERROLES, role) is None
    assert v2.kube.get(CONFIGMAPS, "site-a", v2.ns)["metadata"]["uid"] == site_a["metadata"]["uid"]
    reconciled = [e["message"] for e in v2.events("site") if e["reason"] == "Reconciled"]
    assert any(f"ConfigMap {v2.ns}/site-b" in m and "ClusterRole" in m for m in reconciled), reconciled

    v3 = harness(templates={"onReconcile": {"services": [{"port": 80}]}})
    v3.reconcile("site")
    assert v3.kube.get(CONFIGMAPS, "site-a", v3.ns) is None
    assert v3.kube.get(SERVICES, "site-svc", v3.ns) is not None
    for before in kept:
        live = v3.kube.get(CONFIGMAPS, before["metadata"]["name"], v3.ns)
        assert live["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    v3.reconcile("site")            # settled: nothing left to prune, no error
    assert v3.kube.get(CONFIGMAPS, "site-from-hook", v3.ns) is not None
    v3.kube.delete(v3.entry.api.gvr, "site", v3.ns)       # v1 added the finalizer: let the deletion flow end it
    v3.reconcile("site")
    assert v3.cr("site") is None
