"""The reconciler inside a real `ork run` process (engine, informers, safe_reconcile, events).

The safe-reconcile scenario: two declarative CRDs and one whose Python hook raises on every
reconcile. The first two keep reconciling; the third degrades (503 on its health endpoint) and
its CR carries `ReconcileError` events with the panic text. A deny rule shows `ValidationDenied`
as a Warning event (emitted by safe_reconcile, never together with ReconcileError), and `ork
events` lists the events of a CRD.
"""
from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import yaml

from orkestra.gvk import GVR
from tests.e2e.ork_runtime import ork_runtime  # noqa: F401
from tests.e2e.test_reconcile_direct import GROUP, website_crd

CONFIGMAPS = GVR("", "v1", "configmaps")
EVENTS = GVR("", "v1", "events")

HOOK_MODULE = '''
class Hooks:
    def on_reconcile(self, ctx, obj):
        raise RuntimeError("hook always fails for " + obj["metadata"]["name"])


def make_hooks():
    return Hooks()
'''


def _kinds(apply_crd, n: int) -> list[tuple[str, str]]:
    out = []
    for _ in range(n):
        suffix = uuid.uuid4().hex[:6]
        kind, plural = f"Site{suffix}", f"site{suffix}s"
        apply_crd(website_crd(plural, kind))
        out.append((kind, plural))
    return out


def _entry(kind: str, plural: str, **extra) -> dict:
    return {"apiTypes": {"group": GROUP, "version": "v1alpha1", "kind": kind, "plural": plural},
            "operatorBox": {"reconciler": {"workers": 2, "resync": "0s", "queue": {"failureThreshold": 2}},
                            **extra}}


def _cr(kube, kind: str, plural: str, name: str, namespace: str, spec: dict) -> dict:
    return kube.create(GVR(GROUP, "v1alpha1", plural),
                       {"apiVersion": f"{GROUP}/v1alpha1", "kind": kind, "metadata": {"name": name}, "spec": spec},
                       namespace)


def _events(kube, namespace: str, name: str) -> list[dict]:
    return kube.list(EVENTS, namespace, field_selector=f"involvedObject.name={name}")[0]


def test_safe_reconcile_isolates_a_panicking_hook_crd(ork_runtime, apply_crd, kube, namespace, tmp_path):
    (a_kind, a_plural), (b_kind, b_plural), (c_kind, c_plural) = _kinds(apply_crd, 3)
    (tmp_path / "failing_hooks.py").write_text(HOOK_MODULE)
    config_maps = {"onReconcile": {"configMaps": [{"data": {"value": "{{ .spec.value }}"}}]}}
    katalog = {"apiVersion": "orkestra.orkspace.io/v1", "kind": "Katalog", "metadata": {"name": "safe-reconcile"},
               "spec": {"crds": {
                   "alpha": _entry(a_kind, a_plural, **config_maps),
                   "beta": _entry(b_kind, b_plural, **config_maps),
                   "gamma": {**_entry(c_kind, c_plural), "operatorBox": {
                       **_entry(c_kind, c_plural)["operatorBox"],
                       "reconciler": {**_entry(c_kind, c_plural)["operatorBox"]["reconciler"],
                                      "hooks": {"module": "failing_hooks", "function": "make_hooks"}}}},
               }}}
    path = tmp_path / "katalog.yaml"
    path.write_text(yaml.safe_dump(katalog, sort_keys=False))
    ork = ork_runtime(path)

    _cr(kube, c_kind, c_plural, "broken", namespace, {})
    _cr(kube, a_kind, a_plural, "one", namespace, {"value": "a"})
    _cr(kube, b_kind, b_plural, "two", namespace, {"value": "b"})
    ork.wait_for(lambda: kube.get(CONFIGMAPS, "one-config", namespace), message="alpha's ConfigMap")
    ork.wait_for(lambda: kube.get(CONFIGMAPS, "two-config", namespace), message="beta's ConfigMap")
    ork.wait_for(lambda: ork.get("/katalog/gamma/health")[0] == 503, timeout=60, message="gamma to degrade")
    status, body = ork.get("/katalog/gamma/health")
    assert body["state"] == "degraded" and body["consecutiveFails"] >= 2
    assert "reconciler panic: RuntimeError: hook always fails for broken" in body["lastError"]
    errors = ork.wait_for(lambda: [e for e in _events(kube, namespace, "broken") if e["reason"] == "ReconcileError"],
                          message="a ReconcileError event on the broken CR")
    assert errors[0]["type"] == "Warning"
    assert errors[0]["message"] == "reconciler panic: RuntimeError: hook always fails for broken"
    for crd in ("alpha", "beta"):
        assert ork.get(f"/katalog/{crd}/health")[0] == 200

    # The healthy CRDs keep working while gamma stays degraded.
    _cr(kube, a_kind, a_plural, "three", namespace, {"value": "c"})
    kube.patch(GVR(GROUP, "v1alpha1", b_plural), "two", {"spec": {"value": "b2"}}, namespace)
    ork.wait_for(lambda: kube.get(CONFIGMAPS, "three-config", namespace), message="a new alpha CR reconciled")
    ork.wait_for(lambda: (kube.get(CONFIGMAPS, "two-config", namespace) or {}).get("data") == {"value": "b2"},
                 message="beta's ConfigMap updated")
    assert ork.get("/katalog/gamma/health")[0] == 503
    assert ork.alive()


def test_deny_rule_event_and_ork_events(ork_runtime, apply_crd, kube, namespace, tmp_path, control_plane):
    [(kind, plural)] = _kinds(apply_crd, 1)
    katalog = {"apiVersion": "orkestra.orkspace.io/v1", "kind": "Katalog", "metadata": {"name": "guarded"},
               "spec": {"crds": {"guarded": {
                   **_entry(kind, plural, onReconcile={"configMaps": [{"data": {"image": "{{ .spec.image }}"}}]}),
                   "validation": {"rules": [{"field": "spec.image", "prefix": "registry.internal/",
                                             "message": "images must come from registry.internal/"}]}}}}}
    path = tmp_path / "katalog.yaml"
    path.write_text(yaml.safe_dump(katalog, sort_keys=False))
    ork = ork_runtime(path)
    gvr = GVR(GROUP, "v1alpha1", plural)
    _cr(kube, kind, plural, "app", namespace, {"image": "docker.io/nginx"})
    denied = ork.wait_for(lambda: [e for e in _events(kube, namespace, "app") if e["reason"] == "ValidationDenied"],
                          message="a ValidationDenied event")
    assert denied[0]["type"] == "Warning"
    assert denied[0]["message"] == ('validation denied: field "spec.image": images must come from '
                                    'registry.internal/ (got: "docker.io/nginx")')
    assert not [e for e in _events(kube, namespace, "app") if e["reason"] == "ReconcileError"]
    assert kube.get(CONFIGMAPS, "app-config", namespace) is None
    ready = ork.wait_for(lambda: next((c for c in ((kube.get(gvr, "app", namespace) or {}).get("status") or {})
                                       .get("conditions", []) if c["type"] == "Ready"), None),
                         message="Ready False")
    assert (ready["status"], ready["reason"]) == ("False", "ValidationDenied")

    kube.patch(gvr, "app", {"spec": {"image": "registry.internal/nginx"}}, namespace)
    ork.wait_for(lambda: kube.get(CONFIGMAPS, "app-config", namespace), message="the ConfigMap after the fix")
    ork.wait_for(lambda: any(c["type"] == "Ready" and c["status"] == "True"
                             for c in (kube.get(gvr, "app", namespace).get("status") or {}).get("conditions", [])),
                 message="Ready True after the fix")

    out = subprocess.run([str(Path(sys.executable).with_name("ork")), "events", "guarded", "app", "-f", str(path),
                          "-n", namespace, "--kubeconfig", str(control_plane.kubeconfig)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split() == ["TYPE", "REASON", "OBJECT", "MESSAGE", "AGE"]
    assert any(line.startswith("Warning  ValidationDenied") and f"{namespace}/{kind}/app" in line for line in lines)
    assert any("Reconciled" in line for line in lines)


def test_website_lifecycle_under_ork_run(ork_runtime, apply_crd, kube, namespace, tmp_path):
    """Children, status, drift reverted through the child informers, and the deletion flow, all
    driven by the engine's own watches (no explicit reconcile calls)."""
    from tests.e2e.test_reconcile_direct import JOBS, complete_job
    [(kind, plural)] = _kinds(apply_crd, 1)
    katalog = {"apiVersion": "orkestra.orkspace.io/v1", "kind": "Katalog", "metadata": {"name": "hello-website"},
               "spec": {"crds": {"website": _entry(kind, plural,
                   onReconcile={"configMaps": [{"data": {"title": "{{ .spec.title }}"}}],
                                "services": [{"port": 80}],
                                "deployments": [{"image": "{{ .spec.image }}", "replicas": "{{ .spec.replicas }}",
                                                 "port": 80}]},
                   onDelete={"jobs": [{"name": "{{ .metadata.name }}-cleanup", "image": "busybox"}]},
                   status={"fields": [{"path": "replicas", "type": "int",
                                       "value": "{{ .children.deployment.spec.replicas }}"}]})}}}
    path = tmp_path / "katalog.yaml"
    path.write_text(yaml.safe_dump(katalog, sort_keys=False))
    ork = ork_runtime(path)
    gvr = GVR(GROUP, "v1alpha1", plural)
    _cr(kube, kind, plural, "web", namespace, {"image": "nginx:1.27", "replicas": 2, "title": "Hello"})

    def status():
        return (kube.get(gvr, "web", namespace) or {}).get("status") or {}

    ork.wait_for(lambda: status().get("observedGeneration") == 1 and status().get("replicas") == 2,
                 message="observedGeneration and status.replicas")
    assert next(c for c in status()["conditions"] if c["type"] == "Ready")["status"] == "True"
    assert kube.get(GVR("apps", "v1", "deployments"), "web-deployment", namespace)["spec"]["replicas"] == 2
    assert kube.get(GVR("", "v1", "services"), "web-svc", namespace) is not None
    assert kube.get(gvr, "web", namespace)["metadata"]["finalizers"] == ["orkestra.io/finalizer"]

    kube.patch(CONFIGMAPS, "web-config", {"data": {"title": "hacked"}}, namespace)
    ork.wait_for(lambda: kube.get(CONFIGMAPS, "web-config", namespace)["data"]["title"] == "Hello",
                 message="the hand edit to be reverted by the child watch")

    kube.delete(gvr, "web", namespace)
    ork.wait_for(lambda: kube.get(JOBS, "web-cleanup", namespace), message="the onDelete Job")
    assert kube.get(gvr, "web", namespace) is not None          # waiting for the Job
    complete_job(kube, "web-cleanup", namespace)
    ork.wait_for(lambda: kube.get(gvr, "web", namespace) is None, timeout=30, message="the CR to be removed")
    reasons = [e["reason"] for e in _events(kube, namespace, "web")]
    assert {"FinalizerAdded", "Reconciled", "Deleting", "FinalizerRemoved"} <= set(reasons)
    ork.wait_for(lambda: kube.get(CONFIGMAPS, "web-config", namespace) is None, timeout=60,
                 message="garbage collection of the owned children")
