"""KubeClient, Discovery and EventRecorder against the real API server."""
from __future__ import annotations

import pytest

from orkestra.gvk import GVR
from orkestra.kube import ApiError, Discovery, EventRecorder
from tests.e2e.ork_runtime import crd_manifest

CONFIGMAPS = GVR("", "v1", "configmaps")
EVENTS = GVR("", "v1", "events")
GROUP = "client.e2e.orkestra.io"
GADGETS = GVR(GROUP, "v1", "gadgets")
CRD = crd_manifest("Gadget", "gadgets", group=GROUP)


def configmap(name, ns, **data):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns}, "data": data}


def test_server_side_apply_twice_is_idempotent_and_owned_by_orkestra(kube, namespace):
    first = kube.apply(CONFIGMAPS, configmap("ssa", namespace, a="1"))
    second = kube.apply(CONFIGMAPS, configmap("ssa", namespace, a="1"))
    assert second["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    managers = {(m["manager"], m["operation"]) for m in second["metadata"]["managedFields"]}
    assert ("orkestra", "Apply") in managers
    assert kube.get(CONFIGMAPS, "ssa", namespace)["data"] == {"a": "1"}


def test_create_conflict_patch_and_delete(kube, namespace):
    kube.create(CONFIGMAPS, configmap("c", namespace, a="1"))
    with pytest.raises(ApiError) as err:
        kube.create(CONFIGMAPS, configmap("c", namespace))
    assert err.value.status == 409 and err.value.reason == "AlreadyExists"
    assert err.value.verb == "post" and 'configmaps "c"' in err.value.resource

    kube.patch(CONFIGMAPS, "c", {"data": {"b": "2"}}, namespace)
    kube.patch(CONFIGMAPS, "c", [{"op": "remove", "path": "/data/a"}], namespace, patch_type="json")
    assert kube.get(CONFIGMAPS, "c", namespace)["data"] == {"b": "2"}

    assert kube.delete(CONFIGMAPS, "c", namespace) is True
    assert kube.delete(CONFIGMAPS, "c", namespace) is False
    assert kube.get(CONFIGMAPS, "c", namespace) is None


def test_optimistic_replace_conflicts_on_stale_resource_version(kube, namespace):
    obj = kube.create(CONFIGMAPS, configmap("lease-like", namespace, holder="a"))
    kube.patch(CONFIGMAPS, "lease-like", {"data": {"holder": "b"}}, namespace)
    obj["data"]["holder"] = "c"
    with pytest.raises(ApiError) as err:
        kube.replace(CONFIGMAPS, obj)
    assert err.value.conflict


def test_list_paginates_past_500(kube, namespace):
    for i in range(510):
        kube.create(CONFIGMAPS, configmap(f"cm-{i:03d}", namespace))
    items, rv = kube.list(CONFIGMAPS, namespace)
    names = {o["metadata"]["name"] for o in items}
    assert {f"cm-{i:03d}" for i in range(510)} <= names
    assert len(items) == len(names), "no object is listed twice across pages"
    assert rv.isdigit()
    assert all(o["kind"] == "ConfigMap" for o in items)


def test_status_subresource_patch_and_discovery(kube, apply_crd, namespace):
    discovery = Discovery(kube)
    assert discovery.resolve(f"{GROUP}/v1", "Gadget") is None
    apply_crd(CRD)
    assert discovery.resolve(f"{GROUP}/v1", "Gadget") == (GADGETS, True), "a miss refreshes the cache"
    assert discovery.has_status(GADGETS) and discovery.served(GADGETS)
    assert discovery.resolve("v1", "Namespace") == (GVR("", "v1", "namespaces"), False)

    kube.create(GADGETS, {"apiVersion": f"{GROUP}/v1", "kind": "Gadget",
                          "metadata": {"name": "g", "namespace": namespace}, "spec": {"x": 1}})
    kube.patch(GADGETS, "g", {"status": {"phase": "Ready"}, "spec": {"x": 99}}, namespace, subresource="status")
    got = kube.get(GADGETS, "g", namespace)
    assert got["status"] == {"phase": "Ready"}
    assert got["spec"] == {"x": 1}, "a status patch does not change spec"


def test_event_recorder_aggregates_into_one_event(kube, namespace):
    obj = kube.create(CONFIGMAPS, configmap("evented", namespace))
    recorder = EventRecorder(kube, "e2e-host_1234abcd")
    for _ in range(3):
        recorder.event(obj, "Normal", "Reconciled", "all children applied")
    recorder.event(obj, "Warning", "ReconcileError", "boom")
    items, _ = kube.list(EVENTS, namespace, field_selector="involvedObject.name=evented")
    by_reason = {e["reason"]: e for e in items}
    assert sorted(by_reason) == ["ReconcileError", "Reconciled"]
    reconciled = by_reason["Reconciled"]
    assert reconciled["count"] == 3
    assert reconciled["involvedObject"]["uid"] == obj["metadata"]["uid"]
    assert reconciled["source"]["component"] == "orkestra"
    assert reconciled["reportingInstance"] == "e2e-host_1234abcd"
