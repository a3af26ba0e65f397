"""HookContext without a cluster: identity stamping, finalizer-first, status and requeue collection."""
import socket
import threading

import pytest

from orkestra.gvk import GVK, GVR
from orkestra.hooks.context import HookContext, HookRequestError
from orkestra.reconcile.hookhost import ReconcileHookHost
from orkestra.reconcile.writer import ChildWriter
from tests.unit.reconcile.factory import make_cr

KINDS = {("v1", "ConfigMap"): (GVR("", "v1", "configmaps"), True),
         ("rbac.authorization.k8s.io/v1", "ClusterRole"): (GVR("rbac.authorization.k8s.io", "v1", "clusterroles"), False)}


class ApplyingKube:
    api_client = object()

    def __init__(self):
        self.applied = []

    def apply(self, gvr, obj, namespace=None, force=True):
        self.applied.append((gvr.resource, namespace, obj))
        return {**obj, "metadata": {**obj["metadata"], "resourceVersion": "1"}}

    def get(self, gvr, name, namespace=None):
        return None        # the writer reads an uncached child before applying it (owner check)


def context(kube, order):
    cr = make_cr("web", "shop", uid="u7")
    host = ReconcileHookHost(cr=cr, crd="website", writer=ChildWriter(kube, force=True, cached_children=[]),
                             resolve_kind=lambda av, k: KINDS.get((av, k)),
                             ensure_finalizer=lambda: order.append("finalizer"),
                             emit=lambda t, r, m: order.append((t, r, m)))
    return HookContext(crd="website", gvk=GVK("demo.orkestra.io", "v1alpha1", "Website"), key="shop/web",
                       args={"region": "eu"}, cancelled=threading.Event(), cr=cr, kube=kube, host=host)


def test_apply_defaults_namespace_and_stamps_ownership():
    kube, order = ApplyingKube(), []
    ctx = context(kube, order)
    live = ctx.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}, "data": {}})
    resource, namespace, body = kube.applied[0]
    assert (resource, namespace) == ("configmaps", "shop")
    assert body["metadata"]["ownerReferences"][0]["uid"] == "u7"
    assert body["metadata"]["labels"]["orkestra.io/owner-uid"] == "u7"
    assert "orkestra.io/template" not in body["metadata"]["labels"]
    assert order == [] and live["metadata"]["resourceVersion"] == "1"
    assert ctx.children["configmap"]["metadata"]["name"] == "cm"


def test_label_tracked_apply_puts_the_finalizer_first():
    kube, order = ApplyingKube(), []
    ctx = context(kube, order)
    original = ApplyingKube.apply

    def apply(self, gvr, obj, namespace=None, force=True):
        order.append("apply")
        return original(self, gvr, obj, namespace, force)

    kube.apply = apply.__get__(kube)
    ctx.apply({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
               "metadata": {"name": "r", "namespace": "ignored"}, "rules": []})
    assert order == ["finalizer", "apply"]
    assert "namespace" not in kube.applied[0][2]["metadata"] and kube.applied[0][1] is None


def test_unknown_kind_status_requeue_and_events():
    kube, order = ApplyingKube(), []
    ctx = context(kube, order)
    with pytest.raises(HookRequestError, match="does not serve Widget in x.io/v1"):
        ctx.apply({"apiVersion": "x.io/v1", "kind": "Widget", "metadata": {"name": "w"}})
    ctx.set_status("phase", "Ready")
    ctx.set_status("phase", "Done")
    ctx.requeue_after(30)
    ctx.requeue_after(10)
    ctx.requeue_after(20)
    ctx.event("Normal", "Hooked", "hello")
    assert ctx.status == {"phase": "Done"} and ctx.requeue == 10
    assert order == [("Normal", "Hooked", "hello")]
    assert ctx.args == {"region": "eu"} and ctx.api_client is kube.api_client
    assert ctx.log.extra == {"crd": "website", "key": "shop/web"}


class RecordingKube(ApplyingKube):
    def __init__(self):
        super().__init__()
        self.calls = []

    def get(self, gvr, name, namespace=None):
        self.calls.append(("get", gvr.resource, name, namespace))
        return {"metadata": {"name": name}}

    def delete(self, gvr, name, namespace=None):
        self.calls.append(("delete", gvr.resource, name, namespace))
        return True


def test_get_and_delete_default_to_the_cr_namespace_for_namespaced_kinds():
    """Issue 9 item 22: without a namespace they hit the cluster-wide path (always 404)."""
    kube, order = RecordingKube(), []
    ctx = context(kube, order)
    ctx.get("v1", "ConfigMap", "cm")
    ctx.delete("v1", "ConfigMap", "cm")
    ctx.get("v1", "ConfigMap", "cm", namespace="other")
    ctx.delete("rbac.authorization.k8s.io/v1", "ClusterRole", "r", namespace="ignored")
    assert kube.calls == [("get", "configmaps", "cm", "shop"), ("delete", "configmaps", "cm", "shop"),
                          ("get", "configmaps", "cm", "other"), ("delete", "clusterroles", "r", None)]


def test_a_cluster_scoped_cr_must_name_the_namespace_of_a_namespaced_kind():
    kube = RecordingKube()
    host = ReconcileHookHost(cr=make_cr("web", None, uid="u7"), crd="website",
                             writer=ChildWriter(kube, force=True, cached_children=[]),
                             resolve_kind=lambda av, k: KINDS.get((av, k)), ensure_finalizer=lambda: None,
                             emit=lambda t, r, m: None)
    ctx = HookContext(crd="website", gvk=GVK("demo.orkestra.io", "v1alpha1", "Website"), key="web", args={},
                      cancelled=threading.Event(), cr=make_cr("web", None, uid="u7"), kube=kube, host=host)
    with pytest.raises(HookRequestError, match="ctx.get: ConfigMap cm needs a namespace"):
        ctx.get("v1", "ConfigMap", "cm")
    assert ctx.delete("v1", "ConfigMap", "cm", "shop") and kube.calls == [("delete", "configmaps", "cm", "shop")]


def test_dynamic_client_requests_time_out(monkeypatch):
    """Issue 9 item 22: `ctx.dynamic` had no request timeout, so a silent API server held the
    worker until the watchdog. Its first request (discovery) must now fail within the timeout."""
    from kubernetes import client as k8s

    import orkestra.kube.client
    monkeypatch.setattr(orkestra.kube.client, "READ_TIMEOUT", 0.5)
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(4)                       # accepts connections, never answers
    config = k8s.Configuration()
    config.host = f"http://127.0.0.1:{silent.getsockname()[1]}"
    kube = ApplyingKube()
    kube.api_client = k8s.ApiClient(config)
    ctx = context(kube, [])
    outcome = []
    thread = threading.Thread(target=lambda: outcome.append(_attempt(lambda: ctx.dynamic)), daemon=True)
    thread.start()
    thread.join(5.0)
    silent.close()
    assert not thread.is_alive(), "ctx.dynamic blocked on a silent server"
    assert outcome and isinstance(outcome[0], Exception) and "timed out" in str(outcome[0]).lower()


def _attempt(fn):
    try:
        return fn()
    except Exception as err:  # noqa: BLE001 - the test inspects it
        return err


@pytest.mark.parametrize("obj, problem", [
    ({"kind": "ConfigMap", "metadata": {"name": "cm"}}, "apiVersion"),
    ({"apiVersion": "v1", "metadata": {"name": "cm"}}, "kind"),
    ({"apiVersion": "v1", "kind": "ConfigMap", "data": {}}, "metadata.name"),
    ({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": ""}}, "metadata.name"),
    ("not a map", "a map"),
])
def test_apply_of_an_incomplete_object_is_a_request_error_not_a_panic(obj, problem):
    kube = ApplyingKube()
    ctx = context(kube, [])
    with pytest.raises(HookRequestError, match=problem):
        ctx.apply(obj)
    assert kube.applied == []
