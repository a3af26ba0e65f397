"""Issue 14 "Bad input, everywhere": CRs with hostile fields, in a real `ork run`.

The CRD's schema keeps unknown fields (`x-kubernetes-preserve-unknown-fields`), so the API
server stores whatever a client sends: a 1 MiB string, objects nested 120 and 5000 levels deep
(past what Python's json can parse), a list where a template expects a string and an object
where it expects a number. None of them crashes a reconcile or stops the informer: the 1 MiB
value (the child the API server refused, and the CR field), the object and the 5000 levels each
get a Warning Event naming the field, the list and the 120 levels render as JSON text,
the CRD's other CRs keep reconciling, and the process stays up. Every good CR converged,
nothing lost. Before `orkestra.kube.decode`, the 5000-level CR stopped the CRD's informer and no
CR created after it was ever reconciled.
"""
from __future__ import annotations

from pathlib import Path

import yaml

from orkestra.gvk import GVR
from tests.e2e.ork_runtime import (E2E_GROUP, create_cr, crd_manifest, katalog_doc, new_kind,
                                   ork_runtime)  # noqa: F401

CONFIGMAPS = GVR("", "v1", "configmaps")
EVENTS = GVR("", "v1", "events")


def _nested(depth: int) -> dict:
    value: dict = {"leaf": "x"}
    for _ in range(depth):
        value = {"n": value}
    return value


BAD_SPECS = {
    "huge": {"value": "x" * (1024 * 1024), "size": 1},
    "deep": {"value": _nested(120), "size": 1},
    "listed": {"value": ["a", "b"], "size": 1},
    "numeric": {"value": "ok", "size": {"not": "a number"}},
}


def _entry(kind: str, plural: str) -> dict:
    return {"apiTypes": {"group": E2E_GROUP, "version": "v1", "kind": kind, "plural": plural},
            "operatorBox": {"reconciler": {"workers": 2, "queue": {"failureThreshold": 50}},
                            "onReconcile": {"configMaps": [{"data": {
                                "value": "{{ .spec.value | upper }}",
                                "size": "{{ add .spec.size 1 }}"}}]}}}


def _value(kube, namespace: str, name: str) -> str | None:
    return ((kube.get(CONFIGMAPS, f"{name}-config", namespace) or {}).get("data") or {}).get("value")


def _events_for(kube, namespace: str, name: str) -> list[dict]:
    items, _ = kube.list(EVENTS, namespace)
    return [e for e in items if e["involvedObject"].get("name") == name]


def _deep_cr_json(kind: str, name: str, depth: int) -> str:
    """A CR whose `.spec.value` nests `depth` objects: written by hand, since Python's own json
    module refuses to encode (or decode) past its recursion limit."""
    value = '{"n":' * depth + '"leaf"' + "}" * depth
    return (f'{{"apiVersion": "{E2E_GROUP}/v1", "kind": "{kind}", "metadata": {{"name": "{name}"}}, '
            f'"spec": {{"size": 1, "value": {value}}}}}')


def test_hostile_cr_fields_never_crash_a_reconcile(ork_runtime, apply_crd, kube, kubectl, namespace,
                                                   tmp_path: Path):
    kind, plural = new_kind("Hostile")
    apply_crd(crd_manifest(kind, plural))
    path = tmp_path / "katalog.yaml"
    path.write_text(yaml.safe_dump(katalog_doc("bad-input", {"hostile": _entry(kind, plural)}), sort_keys=False))
    ork = ork_runtime(path, env={"WATCH_NAMESPACE": namespace})
    for name, spec in BAD_SPECS.items():
        create_cr(kube, kind, plural, name, namespace, spec)
    deep = tmp_path / "deeper.json"
    deep.write_text(_deep_cr_json(kind, "deeper", 5000))
    kubectl("create", "-n", namespace, "-f", str(deep))
    for i in range(5):
        create_cr(kube, kind, plural, f"good-{i}", namespace, {"value": f"v{i}", "size": i})
    for i in range(5):
        ork.wait_for(lambda i=i: (kube.get(CONFIGMAPS, f"good-{i}-config", namespace) or {}).get("data")
                     == {"value": f"V{i}", "size": str(i + 1)}, timeout=30, message=f"good-{i} converged")
    warnings = {name: ork.wait_for(lambda n=name: [e["message"] for e in _events_for(kube, namespace, n)
                                                   if e["type"] == "Warning" and e["reason"] == "ReconcileError"],
                                   timeout=30, message=f"a Warning event on {name}")
                for name in ("huge", "numeric", "deeper")}
    assert "huge-config" in warnings["huge"][0] and "Too long" in warnings["huge"][0], warnings["huge"]
    assert warnings["huge"][0].endswith("(CR field spec.value holds 1048576 characters)"), warnings["huge"]
    assert "{{ add .spec.size 1 }}" in warnings["numeric"][0] and "cannot convert map to a number" in \
        warnings["numeric"][0], warnings["numeric"]
    assert warnings["deeper"][0].startswith('field "spec.value.n.n.n.n… (') and \
        "nested deeper than 100 levels" in warnings["deeper"][0], warnings["deeper"]
    # shapes a template can print (as JSON, docs/katalog.md §9.3) are not errors: those CRs converge
    ork.wait_for(lambda: _value(kube, namespace, "listed") == '["A","B"]', timeout=10, message="listed")
    assert _value(kube, namespace, "deep").startswith('{"N":{"N":')
    # the CRD keeps reconciling after all of them: a CR created last converges too
    create_cr(kube, kind, plural, "late", namespace, {"value": "late", "size": 41})
    ork.wait_for(lambda: (kube.get(CONFIGMAPS, "late-config", namespace) or {}).get("data")
                 == {"value": "LATE", "size": "42"}, timeout=30, message="late converged")
    for i in range(5):
        assert _value(kube, namespace, f"good-{i}") == f"V{i}", "every good CR converged, nothing lost"
    for name in ("huge", "numeric", "deeper"):
        assert kube.get(CONFIGMAPS, f"{name}-config", namespace) is None
    assert ork.alive() and ork.get("/health")[0] == 200
