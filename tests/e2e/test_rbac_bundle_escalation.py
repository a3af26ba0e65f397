"""Issue 16 item 3: the generated bundle of every example Katalog is no path to cluster-admin.

Each example's `ork generate bundle` is applied to the real API server, then `kubectl auth can-i`
asks, as the bundle's ServiceAccounts, about the known escalation paths (all must answer no) and
about what the runtime needs to work (all must answer yes). The API server's own authoriser
answers, so `resourceNames` and Role scoping are checked for real.
"""
from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml

from orkestra.katalog.loader import load_katalog
from orkestra.katalog.model import PHASES, Katalog
from orkestra.katalog.rbac import webhooks_declared

EXAMPLES = sorted(Path(__file__).resolve().parents[2].joinpath("examples").glob("*.yaml"))
RBAC_CHILDREN = {"roles", "clusterRoles", "roleBindings", "clusterRoleBindings"}
FOREIGN = "some-other-vendor-policy"


def _child_types(katalog: Katalog) -> set[str]:
    return {t for e in katalog.enabled for phase in PHASES for t in e.template_types(phase)}


def _escalations(katalog: Katalog, namespace: str) -> list[tuple[str, ...]]:
    """`can-i` arguments that must answer no for this Katalog's bundle."""
    paths = [
        ("create", "serviceaccounts/token", "-n", "kube-system"),
        ("update", "leases.coordination.k8s.io/kube-controller-manager", "-n", "kube-system"),
        ("update", "leases.coordination.k8s.io/orkestra-konductor", "-n", "kube-system"),
        ("create", "leases.coordination.k8s.io", "-n", "kube-system"),
        ("delete", f"validatingwebhookconfigurations/{FOREIGN}"),
        ("update", f"validatingwebhookconfigurations/{FOREIGN}"),
        ("patch", f"validatingwebhookconfigurations/{FOREIGN}"),
        ("delete", f"mutatingwebhookconfigurations/{FOREIGN}"),
        ("create", "pods", "-n", "default"),
        ("create", "pods", "-n", "kube-system"),
        ("create", "pods/exec", "-n", "kube-system"),
        ("get", "nodes/proxy"),
        ("create", "nodes/proxy"),
        ("impersonate", "users"),
        ("impersonate", "groups"),
        ("impersonate", "serviceaccounts", "-n", "kube-system"),
        ("create", "serviceaccounts/token", "-n", namespace),
        ("create", "customresourcedefinitions.apiextensions.k8s.io"),
        ("update", f"customresourcedefinitions.apiextensions.k8s.io/{FOREIGN}.example.io"),
        ("patch", f"customresourcedefinitions.apiextensions.k8s.io/{FOREIGN}.example.io"),
        ("delete", f"customresourcedefinitions.apiextensions.k8s.io/{FOREIGN}.example.io"),
    ]
    for resource, registered in _registers(katalog).items():   # a new configuration sees every write it selects
        if not registered:
            paths.append(("create", resource))
    types = _child_types(katalog)
    if not types & RBAC_CHILDREN:
        paths += [("bind", "clusterroles"), ("escalate", "clusterroles"), ("bind", "roles", "-n", "default"),
                  ("escalate", "roles", "-n", "default"), ("create", "clusterrolebindings")]
    if "secrets" not in types:   # a Katalog that templates Secrets needs them wherever its CRs live
        paths += [("get", "secrets", "-A"), ("list", "secrets", "-A"), ("get", "secrets", "-n", "kube-system"),
                  ("create", "secrets", "-n", "kube-system"),
                  ("get", "secrets/orkestra-webhook-tls", "-n", "kube-system"),
                  ("update", "secrets/orkestra-webhook-tls", "-n", "kube-system")]
    return paths


def _registers(katalog: Katalog) -> dict[str, bool]:
    """Which kinds of webhook configuration the Katalog makes the runtime create."""
    return {"validatingwebhookconfigurations": any((e.validation or {}).get("rules") for e in katalog.enabled)
            or bool({"deletionProtection", "namespaceProtection"} & set(katalog.security)),
            "mutatingwebhookconfigurations": any((e.mutation or {}).get("rules") for e in katalog.enabled)}


def _needs(katalog: Katalog, namespace: str) -> list[tuple[str, ...]]:
    """`can-i` arguments the runtime ServiceAccount must be granted."""
    needed = [("create", "leases.coordination.k8s.io", "-n", namespace),
              ("get", "leases.coordination.k8s.io/orkestra-konductor", "-n", namespace),
              ("update", "leases.coordination.k8s.io/orkestra-konductor", "-n", namespace),
              ("watch", "leases.coordination.k8s.io/orkestra-konductor", "-n", namespace),
              ("create", "events", "-n", "default")]
    for t in sorted(_child_types(katalog) - RBAC_CHILDREN):
        plural = {"configMaps": "configmaps", "deployments": "deployments.apps", "statefulSets": "statefulsets.apps",
                  "services": "services", "secrets": "secrets", "namespaces": "namespaces"}.get(t)
        if plural:
            needed.append(("create", plural, "-A"))
    if webhooks_declared(katalog):
        needed += [("create", r) for r, registered in _registers(katalog).items() if registered]
        needed += [("update", "validatingwebhookconfigurations/orkestra-validation"),
                   ("delete", "mutatingwebhookconfigurations/orkestra-mutation"),
                   ("create", "secrets", "-n", namespace),
                   ("get", "secrets/orkestra-webhook-tls", "-n", namespace),
                   ("update", "secrets/orkestra-webhook-tls", "-n", namespace)]
    return needed


@pytest.fixture
def applied_bundle(kubectl):
    """Apply `ork generate bundle` of one example in a fresh namespace; delete it afterwards."""
    applied: list[str] = []

    def apply(example: Path) -> str:
        ns = f"e2e-bundle-{uuid.uuid4().hex[:6]}"
        ork = Path(sys.executable).with_name("ork")
        out = subprocess.run([str(ork), "generate", "bundle", "-f", str(example), "-n", ns],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert list(yaml.safe_load_all(out.stdout)), "empty bundle"
        kubectl("apply", "-f", "-", input=out.stdout)
        applied.append(out.stdout)
        return ns

    yield apply
    for text in applied:
        kubectl("delete", "--ignore-not-found", "--wait=false", "-f", "-", input=text, check=False)


def _can_i(kubectl, sa: str, args: tuple[str, ...]) -> str:
    proc = kubectl("auth", "can-i", *args, f"--as={sa}", check=False)
    return proc.stdout.strip()


def _custom_allowed(kubectl, sa: str, verb: str, group: str, resource: str) -> bool:
    """A SubjectAccessReview for a Katalog kind (`can-i` needs the CRD in discovery; these are not installed)."""
    review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
              "spec": {"user": sa, "groups": ["system:serviceaccounts", "system:authenticated"],
                       "resourceAttributes": {"verb": verb, "group": group, "resource": resource}}}
    out = kubectl("create", "-f", "-", "-o", "jsonpath={.status.allowed}", input=json.dumps(review))
    return out.stdout.strip() == "true"


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_bundle_grants_no_escalation_path(example: Path, kubectl, applied_bundle):
    katalog = load_katalog([str(example)])
    ns = applied_bundle(example)
    runtime, gateway = (f"system:serviceaccount:{ns}:orkestra", f"system:serviceaccount:{ns}:orkestra-gateway")
    granted = [(sa.rsplit(":", 1)[1], " ".join(args)) for sa in (runtime, gateway) for args in _escalations(katalog, ns)
               if _can_i(kubectl, sa, args) != "no"]
    assert granted == [], f"{example.name}: escalation paths answered yes: {granted}"
    missing = [" ".join(args) for args in _needs(katalog, ns) if _can_i(kubectl, runtime, args) != "yes"]
    assert missing == [], f"{example.name}: the runtime lacks {missing}"
    kinds = [(verb, e.api.group, e.api.plural) for e in katalog.enabled for verb in ("list", "watch", "patch")]
    missing_kinds = [k for k in kinds if not _custom_allowed(kubectl, runtime, *k)]
    assert missing_kinds == [], f"{example.name}: the runtime lacks {missing_kinds}"
    # the requests the runtime really sends: single-object lists/watches by field selector
    lease = kubectl("get", "leases", "-n", ns, "--field-selector=metadata.name=orkestra-konductor",
                    f"--as={runtime}", check=False)
    assert lease.returncode == 0, lease.stderr
    assert "forbidden" in kubectl("get", "leases", "-n", "kube-system", f"--as={runtime}", check=False).stderr.lower()
    if webhooks_declared(katalog):
        own = kubectl("get", "validatingwebhookconfigurations", "--field-selector=metadata.name=orkestra-validation",
                      f"--as={runtime}", check=False)
        assert own.returncode == 0, own.stderr
        every = kubectl("get", "validatingwebhookconfigurations", f"--as={runtime}", check=False)
        assert "forbidden" in every.stderr.lower()
        gateway_needs = [("get", "secrets/orkestra-webhook-tls", "-n", ns)]
        gateway_needs += [("create", r) for r, registered in _registers(katalog).items() if registered]
        gateway_missing = [" ".join(a) for a in gateway_needs if _can_i(kubectl, gateway, a) != "yes"]
        assert gateway_missing == [], gateway_missing
