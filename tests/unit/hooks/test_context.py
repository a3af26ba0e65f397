"""HookContext without a cluster: identity stamping, finalizer-first, status and requeue collection."""
import threading

import pytest

from orkestra.gvk import GVK, GVR
from orkestra.hooks.context import HookContext, HookRequestError
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
    return HookContext(crd="website", gvk=GVK("demo.orkestra.io", "v1alpha1", "Website"), key="shop/web",
                       args={"region": "eu"}, cancelled=threading.Event(), cr=cr, kube=kube,
                       resolve_kind=lambda av, k: KINDS.get((av, k)),
                       writer=ChildWriter(kube, force=True, cached_children=[]),
                       ensure_finalizer=lambda: order.append("finalizer"),
                       emit=lambda t, r, m: order.append((t, r, m)))


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
