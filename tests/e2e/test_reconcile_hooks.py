"""Python hooks on a real API server, driven directly (docs/katalog.md#hooks).

A hook module written next to the test's Katalog directory records its calls; the test checks
the call rules (on_create, then on_update on a new generation, on_reconcile every time, on_delete
during deletion), the rendered args, and what `ctx` does: apply with standard labels/ownership
(a cluster-scoped object first puts the finalizer on the CR), get, the dynamic client, event,
set_status, requeue_after, children, cancelled, and delete.
"""
from __future__ import annotations

import sys
import threading

from orkestra.gvk import GVR
from orkestra.katalog.model import HookSpec
from tests.e2e.test_reconcile_direct import CONFIGMAPS, harness, crd_kind, wait_until  # noqa: F401

CLUSTERROLES = GVR("rbac.authorization.k8s.io", "v1", "clusterroles")

HOOKS = '''
CALLS = []


def _role_name(ctx):
    return ctx.key.replace("/", "-") + "-hooked"


class Hooks:
    def on_create(self, ctx, obj):
        CALLS.append(("on_create", obj["metadata"]["generation"], dict(ctx.args)))

    def on_update(self, ctx, obj):
        CALLS.append(("on_update", obj["metadata"]["generation"], dict(ctx.args)))

    def on_reconcile(self, ctx, obj):
        CALLS.append(("on_reconcile", obj["metadata"]["generation"], dict(ctx.args)))
        obj["spec"]["mutated"] = True          # a deep copy: has no effect
        ns = obj["metadata"]["namespace"]
        cm = ctx.apply({"apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {"name": obj["metadata"]["name"] + "-hooked"},
                        "data": {"region": ctx.args["region"]}})
        ctx.apply({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                   "metadata": {"name": _role_name(ctx)}, "rules": []})
        seen = ctx.get("v1", "ConfigMap", cm["metadata"]["name"], ns)
        ctx.set_status("hook.configMap", seen["metadata"]["name"])
        api = ctx.dynamic.resources.get(api_version="v1", kind="ConfigMap")
        ctx.set_status("hook.viaDynamic", api.get(name=cm["metadata"]["name"], namespace=ns).data["region"])
        ctx.set_status("hook.cancelled", ctx.cancelled.is_set())
        ctx.set_status("hook.children", sorted(ctx.children["all"]))
        ctx.event("Normal", "HookRan", "on_reconcile ran for " + ctx.key)
        ctx.requeue_after(30)

    def on_delete(self, ctx, obj):
        CALLS.append(("on_delete", obj["metadata"]["generation"], dict(ctx.args)))
        ctx.delete("v1", "ConfigMap", obj["metadata"]["name"] + "-hooked", obj["metadata"]["namespace"])


def make_hooks():
    return Hooks()
'''


def test_hook_call_rules_and_context(harness, tmp_path):
    module = f"e2e_hooks_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{module}.py").write_text(HOOKS)
    spec = HookSpec(module=module, function="make_hooks", run_hooks_first=False,
                    managed_resources=({"kind": "ClusterRole"},),
                    args={"region": '{{ .spec.region | default "eu-west-1" }}', "replicas": 2},
                    base_dir=str(tmp_path))
    h = harness(templates={"onReconcile": {"configMaps": [{"data": {"a": "b"}}]}}, hooks=spec)
    hooks_object = h.rec.hooks.callbacks["on_create"].__self__    # imported under a name of its own
    calls = sys.modules[type(hooks_object).__module__].CALLS

    cr = h.create("hooked", {})
    result = h.reconcile("hooked")
    assert result.requeue_after == 30
    assert calls == [("on_create", 1, {"region": "eu-west-1", "replicas": 2}),
                     ("on_reconcile", 1, {"region": "eu-west-1", "replicas": 2})]
    cm = h.kube.get(CONFIGMAPS, "hooked-hooked", h.ns)
    assert cm["data"] == {"region": "eu-west-1"}
    assert cm["metadata"]["ownerReferences"][0]["uid"] == cr["metadata"]["uid"]
    assert cm["metadata"]["labels"]["orkestra.io/owner-uid"] == cr["metadata"]["uid"]
    assert "orkestra.io/template" not in cm["metadata"]["labels"]
    role = h.kube.get(CLUSTERROLES, f"{h.ns}-hooked-hooked")
    assert role["metadata"]["labels"]["orkestra.io/owner-uid"] == cr["metadata"]["uid"]
    assert "ownerReferences" not in role["metadata"]
    live = h.cr("hooked")
    assert "orkestra.io/finalizer" in live["metadata"]["finalizers"]   # put there by ctx.apply first
    assert live["spec"] == {}
    assert live["status"]["hook"] == {"configMap": "hooked-hooked", "children": ["clusterrole", "configmap"],
                                      "viaDynamic": "eu-west-1", "cancelled": False}
    assert "HookRan" in h.reasons("hooked")

    calls.clear()
    h.reconcile("hooked")
    assert [c[0] for c in calls] == ["on_reconcile"]
    calls.clear()
    h.patch_spec("hooked", {"region": "us-east-2"})
    h.reconcile("hooked")
    assert calls == [("on_update", 2, {"region": "us-east-2", "replicas": 2}),
                     ("on_reconcile", 2, {"region": "us-east-2", "replicas": 2})]

    calls.clear()
    h.kube.delete(h.entry.api.gvr, "hooked", h.ns)
    assert h.rec.reconcile(f"{h.ns}/hooked", threading.Event()).requeue_after is None
    assert [c[0] for c in calls] == ["on_delete"]
    assert h.kube.get(CONFIGMAPS, "hooked-hooked", h.ns) is None
    assert h.kube.get(CLUSTERROLES, f"{h.ns}-hooked-hooked") is None    # label-tracked: deletion flow
    wait_until(lambda: h.cr("hooked") is None, message="the CR to be removed")
