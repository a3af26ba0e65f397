"""Every example Katalog (docs/packs.md) renders its children and status fields for a sample CR."""
from pathlib import Path

import pytest

from orkestra.gvk import GVR, split_api_version
from orkestra.katalog import builtins, load_katalog
from orkestra.reconcile.children import children_context
from orkestra.reconcile.render import compile_entries, render_entry
from orkestra.reconcile.status import StatusField, evaluate_fields

EXAMPLES = sorted((Path(__file__).resolve().parents[3] / "examples").glob("*.yaml"))
SPEC = {"image": "registry.internal/app:1", "replicas": 2, "version": "1", "host": "a.example.com", "public": True,
        "team": "t", "engine": "redis", "memory": "1gb", "evictionPolicy": "lru", "database": "db"}


def resolve(api_version, kind):
    group, version = split_api_version(api_version)
    known = builtins.lookup(kind)
    return (GVR(known.group, version, known.plural), known.namespaced) if known else None


def sample_cr(entry) -> dict:
    meta = {"name": "demo", "uid": "u1", "generation": 1}
    if entry.api.namespaced:
        meta["namespace"] = "default"
    return {"apiVersion": entry.api.api_version, "kind": entry.api.kind, "metadata": meta, "spec": dict(SPEC)}


def render_all(entry):
    cr, ctx = sample_cr(entry), children_context([], [])
    children = [c for tpl in compile_entries(entry)
                for c in render_entry(tpl, cr, children=ctx, resolve_kind=resolve, read_source=lambda gvr, ns, n: None)]
    ops = evaluate_fields([StatusField.compile(f) for f in entry.box_spec.status.get("fields") or []], cr,
                          extra={"children": ctx}, ok=True)
    return children, ops


def test_examples_exist():
    assert len(EXAMPLES) >= 6


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_renders(path):
    katalog = load_katalog([str(path)])
    for entry in katalog.crds.values():
        children, _ = render_all(entry)
        declared = sum(len(v) for phase in ("onCreate", "onReconcile") for v in entry.box_spec.templates.get(phase, {}).values())
        assert len(children) == declared       # the sample spec satisfies every condition of the examples
        for child in children:
            assert child.manifest["metadata"]["labels"]["orkestra.io/owner-uid"] == "u1"


def test_blog_platform_children_and_status():
    katalog = load_katalog([str(next(p for p in EXAMPLES if p.stem == "blog-platform"))])
    children, ops = render_all(katalog.crds["blog"])
    assert [c.ref for c in children] == ["Secret default/demo-admin", "ConfigMap default/demo-config",
                                         "Service default/demo-svc", "Deployment default/demo-deployment",
                                         "Ingress default/demo-ingress"]
    assert [c.mode for c in children] == ["create", "apply", "apply", "apply", "apply"]
    assert len(children[0].manifest["data"]["password"]) == 32        # base64 of 24 random characters
    assert ops == [("set", "phase", "Provisioning"), ("set", "readyReplicas", 0), ("set", "url", "https://a.example.com")]


def test_tenant_stack_cluster_scoped_cr():
    katalog = load_katalog([str(next(p for p in EXAMPLES if p.stem == "tenant-stack"))])
    children, _ = render_all(katalog.crds["tenant"])
    ns, binding = children
    assert ns.ref == "Namespace tenant-demo" and not ns.label_tracked
    assert binding.ref == "RoleBinding tenant-demo/demo-rolebinding"
    assert binding.manifest["metadata"]["ownerReferences"][0]["name"] == "demo"
    assert binding.manifest["subjects"] == [{"kind": "Group", "name": "t", "apiGroup": "rbac.authorization.k8s.io"}]
