"""Issue 14, "Least privilege, proven": the runtime under only the RBAC `ork generate bundle` grants.

The runtime runs as the bundle's `orkestra` ServiceAccount (a TokenRequest token in a kubeconfig),
on the local control plane, which authorizes with RBAC (`--authorization-mode=RBAC`).

* Every example Katalog of `examples/` converges under that identity with no 403 in the log
  (the starter packs are proven the same way by tests/e2e/test_packs.py, which runs each pack
  under its bundle's identity).
* The removal table: for each rule of the reference Katalog's ClusterRole and Role, the bundle
  minus that rule makes the runtime fail *clearly*: the 403, the verb and the resource are
  named in its log and in `/katalog/{crd}` (the last error or an active warning). The table in
  docs/rbac.md is checked against the generator by tests/unit/katalog/test_rbac_doc.py, and
  each row against what these cases see.
"""
from __future__ import annotations

import json
import time
from collections import defaultdict
from pathlib import Path
from typing import Iterator

import pytest
import yaml

from orkestra import packs
from orkestra.katalog.loader import load_katalog
from orkestra.katalog.model import CrdEntry, Katalog
from tests.e2e.ork_runtime import OrkProcess, ork_runtime  # noqa: F401
from tests.e2e.rbac_identity import (DOC, assert_never_refused, bundle_identity, case_id, forbidden_lines,
                                     generate_bundle, names_denial, rbac_table, release_all, remove_identity, role)

REFERENCE_DIR = Path(packs.__file__).parent / "beginner" / "hello-website"
FAIL_WITHIN = 40.0
CONVERGE_WITHIN = 60.0
EXAMPLES = sorted(Path(__file__).resolve().parents[2].joinpath("examples").glob("*.yaml"))
# One sample object per entry of each example Katalog (examples/ ships Katalogs, not CRs): the
# fields its templates and validation rules read. Built-in kinds get their labels from here too.
SAMPLES: dict[str, dict[str, dict]] = {
    "blog-platform": {"blog": {"spec": {"version": "5", "theme": "casper", "comments": True}}},
    "cache-service": {"cache-v1": {"spec": {"engine": "redis", "memory": "256mb", "evictionPolicy": "allkeys-lru"}}},
    "deployment-governance": {"deployment-governance": {
        "metadata": {"labels": {"governed": "true"}},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "governed"}},
                 "template": {"metadata": {"labels": {"app": "governed"}},
                              "spec": {"containers": [{"name": "app", "image": "nginx:1.27",
                                                       "resources": {"limits": {"memory": "64Mi"}}}]}}}}},
    "guarded-services": {"service-app": {"metadata": {"labels": {"team": "payments"}},
                                         "spec": {"image": "registry.internal/pay:1", "hostname": "pay.example.io"}}},
    "hello-website": {"website": {"spec": {"image": "nginx:1.27", "replicas": 1}}},
    "tenant-stack": {"tenant": {"spec": {"team": "acme-devs"}}, "database": {"spec": {"version": "16"}},
                     "application": {"spec": {"image": "nginx:1.27", "database": "orders"}}},
}
# What a cluster install of these examples turns on (docs/deploying.md): conversion and admission;
# a short CRD check so that tenant-stack's dependents activate soon after their dependencies.
EXAMPLE_ENV = {"ENABLE_CONVERSION": "true", "ENABLE_ADMISSION_WEBHOOK": "true", "CRD_CHECK_INTERVAL": "1s"}


def _cases() -> list[tuple[str, int, dict]]:
    docs = generate_bundle(REFERENCE_DIR / "katalog.yaml", "orkestra-system")
    return [(kind, i, rule) for kind in ("ClusterRole", "Role") for i, rule in enumerate(role(docs, kind)["rules"])]


CASES = _cases()


def _case_id(case: tuple[str, int, dict]) -> str:
    return case_id(case[0], case[2])


def _surfaced(ork: OrkProcess, rule: dict) -> tuple[str, str, str] | None:
    """(log line, where in /katalog/website, its text) naming the denial of `rule`, once both show it.

    Where: `reconcile.lastError`, or `activeWarnings[<source>]`."""
    resource, verbs = rule["resources"][0], rule["verbs"]
    in_log = [ln for ln in forbidden_lines(ork.logs()) if names_denial(ln, verbs, resource)]
    status, detail = ork.get("/katalog/website")
    if status != 200 or not in_log:
        return None
    places = [("reconcile.lastError", detail["reconcile"]["lastError"])]
    places += [(f"activeWarnings[{w['source']}]", w.get("message", "")) for w in detail["activeWarnings"]]
    return next(((in_log[0], where, text) for where, text in places if names_denial(text, verbs, resource)), None)


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_removing_a_rule_fails_clearly(case, control_plane, kubectl, apply_crd, namespace, ork_runtime,
                                       tmp_path):  # noqa: F811
    kind, index, rule = case
    apply_crd((REFERENCE_DIR / "crd.yaml").read_text())
    identity = bundle_identity(kubectl, control_plane, REFERENCE_DIR / "katalog.yaml", tmp_path, drop=(kind, index))
    try:
        ork = ork_runtime(REFERENCE_DIR / "katalog.yaml", kubeconfig=False, extra_args=identity.args(),
                          leader_election=True, env=identity.env())
        kubectl("apply", "-n", namespace, "-f", str(REFERENCE_DIR / "cr.yaml"))
        log_line, where, text = ork.wait_for(lambda: _surfaced(ork, rule), timeout=FAIL_WITHIN,
                                             message=f"the denial of {rule} in the log and in /katalog/website")
        print(f"{_case_id(case)}\n  log: {log_line[:400]}\n  {where}: {text[:400]}")
        row = rbac_table(DOC)[case_id(kind, rule)]
        assert row["katalog"] == where, f"docs/rbac.md says {row['katalog']!r}, the runtime shows {where}: {text}"
        assert ork.alive(), "a missing rule must be reported, not crash the runtime"
    finally:
        if "ork" in locals():
            ork.stop(timeout=30)
        release_all(kubectl, "websites.beginner.demo.orkestra.io", namespace)
        remove_identity(kubectl, identity)


def _crds(katalog: Katalog) -> list[dict]:
    """A free-form CRD per custom kind of the Katalog, every version it declares (storage: the
    conversion's `storageVersion`, else the only one); conversion starts as `None`, as in the packs."""
    by_name: dict[str, list[CrdEntry]] = defaultdict(list)
    for e in katalog.enabled:
        if not e.api.builtin:
            by_name[e.api.crd_name].append(e)
    out = []
    for name, entries in by_name.items():
        api = entries[0].api
        storage = (entries[0].conversion or {}).get("storageVersion") or api.version
        schema = {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}
        out.append({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                    "metadata": {"name": name},
                    "spec": {"group": api.group, "scope": api.scope,
                             "names": {"plural": api.plural, "kind": api.kind, "singular": api.kind.lower(),
                                       "listKind": f"{api.kind}List"},
                             "versions": [{"name": e.api.version, "served": True, "storage": e.api.version == storage,
                                           "subresources": {"status": {}}, "schema": schema} for e in entries]}})
    return out


def _samples(example: str, katalog: Katalog, namespace: str) -> list[dict]:
    out = []
    for key, sample in SAMPLES[example].items():
        api = katalog.crds[key].api
        meta = {"name": "orders" if key == "database" else f"sample-{key}"[:40], **sample.get("metadata", {})}
        if api.namespaced:
            meta["namespace"] = namespace
        out.append({"apiVersion": api.api_version, "kind": api.kind, "metadata": meta, "spec": sample["spec"]})
    return out


def _converged(ork: OrkProcess, katalog: Katalog, kubectl, samples: list[dict]) -> str | None:
    """None once every entry is healthy and every sample reconciled (Ready True on custom kinds)."""
    for e in katalog.enabled:
        status, body = ork.get(f"/katalog/{e.key}/health")
        if status != 200 or body.get("state") != "healthy" or not body.get("totalReconciles"):
            return f"{e.key}: {body}"
    for obj in samples:
        if katalog.crds[_entry_of(katalog, obj)].api.builtin:
            continue
        ns = obj["metadata"].get("namespace")
        got = kubectl("get", f"{obj['kind'].lower()}.{obj['apiVersion'].split('/')[0]}", obj["metadata"]["name"],
                      *(["-n", ns] if ns else []), "-o", "json", check=False)
        conditions = (json.loads(got.stdout or "{}").get("status") or {}).get("conditions") or []
        if not any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions):
            return f"{obj['kind']} {obj['metadata']['name']}: {conditions}"
    return None


def _entry_of(katalog: Katalog, obj: dict) -> str:
    return next(e.key for e in katalog.enabled
                if (e.api.api_version, e.api.kind) == (obj["apiVersion"], obj["kind"]))


@pytest.fixture(scope="module")
def example_crds(kubectl) -> Iterator[None]:
    """The CRDs of every example, created once before the first example runs and deleted after
    the last (each test releases its own CRs). The API server's ownerReference plugin refuses
    children of a kind until it maps the kind's CRD, up to half a minute after its creation
    (docs/rbac.md): created up front, that wait is spent once, not in every example."""
    crds = [crd for example in EXAMPLES for crd in _crds(load_katalog([str(example)]))]
    kubectl("apply", "-f", "-", input=yaml.safe_dump_all(crds))
    for crd in crds:
        kubectl("wait", "--for=condition=Established", f"crd/{crd['metadata']['name']}", "--timeout=60s")
    yield
    kubectl("delete", "-f", "-", "--ignore-not-found", input=yaml.safe_dump_all(crds), check=False, timeout=180)


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_katalog_converges_under_the_bundle_identity(example, control_plane, kubectl, example_crds, namespace,
                                                             ork_runtime, tmp_path):  # noqa: F811
    katalog = load_katalog([str(example)])
    identity = bundle_identity(kubectl, control_plane, example, tmp_path)
    samples = _samples(example.stem, katalog, namespace)
    started = time.monotonic()
    try:
        ork = ork_runtime(example, kubeconfig=False, extra_args=identity.args(), leader_election=True,
                          env={**identity.env(), **EXAMPLE_ENV})
        for obj in samples:   # retried: admission webhooks register a moment after the start
            ork.wait_for(lambda: kubectl("apply", "-f", "-", input=json.dumps(obj), check=False).returncode == 0,
                         timeout=30, message=f"kubectl apply {obj['kind']}")
        problem: list[str | None] = [None]

        def converged() -> bool:
            problem[0] = _converged(ork, katalog, kubectl, samples)
            return problem[0] is None
        ork.wait_for(converged, timeout=CONVERGE_WITHIN, message=f"convergence ({problem[0]})")
        print(f"{example.stem}: converged in {time.monotonic() - started:.1f}s")
        assert_never_refused(example.stem, ork.logs())
    finally:
        if "ork" in locals():
            kubectl("delete", "-f", "-", "--wait=false", input=yaml.safe_dump_all(samples), check=False)
            time.sleep(2)
            ork.stop(timeout=30)
        for crd in _crds(katalog):
            release_all(kubectl, crd["metadata"]["name"], namespace)
        remove_identity(kubectl, identity)
