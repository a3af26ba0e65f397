"""The webhook objects the cluster should hold, as plain dicts (docs/webhooks.md §3, §6, §7).

Pure: `desired_configurations(plan, target, ca_bundle)` gives the four configurations by name
(None = must not exist), `conversion_patch` the CRD `spec.conversion` merge patch. The
controller compares these with what the API server returns using `covers` (a subset check:
the API server adds defaults we never write, and those must not count as drift).
"""
from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from orkestra.katalog.model import CrdEntry
from orkestra.webhooks.plan import CRD_GVR, PROTECTION_LABEL, ProtectedKind, WebhookPlan

SUFFIX = "orkestra.orkspace.io"
VALIDATION = "orkestra-validation"
MUTATION = "orkestra-mutation"
DELETION = "orkestra-deletion-protection"
NAMESPACE = "orkestra-namespace-protection"
VALIDATING_KIND = "ValidatingWebhookConfiguration"
MUTATING_KIND = "MutatingWebhookConfiguration"
# configuration name -> (kind, metric label of orkestra_webhook_reconciliation_failure_total)
CONFIGURATIONS: dict[str, tuple[str, str]] = {
    VALIDATION: (VALIDATING_KIND, "validation"),
    MUTATION: (MUTATING_KIND, "mutation"),
    DELETION: (VALIDATING_KIND, "deletion-protection"),
    NAMESPACE: (VALIDATING_KIND, "namespace-protection"),
}
LABELS = {"app.kubernetes.io/name": "orkestra", "app.kubernetes.io/managed-by": "orkestra",
          PROTECTION_LABEL: "true"}
PROTECTED_SELECTOR = {"matchLabels": {PROTECTION_LABEL: "true"}}


@dataclass(frozen=True)
class ClientTarget:
    """Where the API server reaches us: a base URL, or a Service."""
    url: str = ""
    service: str = ""
    namespace: str = ""
    port: int = 8443

    def client_config(self, path: str, ca_bundle: bytes) -> dict:
        ca = base64.b64encode(ca_bundle).decode()
        if self.url:
            return {"url": self.url.rstrip("/") + path, "caBundle": ca}
        return {"service": {"name": self.service, "namespace": self.namespace, "path": path, "port": self.port},
                "caBundle": ca}


def _common(name: str, target: ClientTarget, path: str, ca: bytes, failure_policy: str) -> dict:
    return {"name": name, "clientConfig": target.client_config(path, ca), "admissionReviewVersions": ["v1"],
            "sideEffects": "None", "timeoutSeconds": 5, "matchPolicy": "Exact", "failurePolicy": failure_policy}


def _entry_rule(entry: CrdEntry, operations: list[str]) -> dict:
    return {"apiGroups": [entry.api.group], "apiVersions": [entry.api.version], "resources": [entry.api.plural],
            "operations": operations, "scope": entry.api.scope}


def _operations(entry: CrdEntry, kind: str) -> list[str]:
    """`webhooks.operations` (default CREATE, UPDATE); mutation never covers DELETE (docs/katalog.md#admission-switches)."""
    ops = list(entry.webhooks.get("operations") or ["CREATE", "UPDATE"])
    return [op for op in ops if op != "DELETE"] if kind == "mutate" else ops


def _admission_webhook(entry: CrdEntry, kind: str, target: ClientTarget, ca: bytes, plan: WebhookPlan) -> dict:
    path = "/validate" if kind == "validate" else "/mutate"
    hook = _common(f"{entry.key}.{kind}.{SUFFIX}", target, path, ca, plan.admission_failure_policy)
    ops = _operations(entry, kind)
    if kind == "mutate":
        hook["reinvocationPolicy"] = "IfNeeded"
    hook["rules"] = [_entry_rule(entry, ops)]
    hook["objectSelector"] = {"matchLabels": dict(entry.label_selector)} if entry.label_selector else {}
    hook["namespaceSelector"] = ({"matchLabels": {"kubernetes.io/metadata.name": entry.namespace}}
                                 if entry.namespace and entry.api.namespaced else {})
    return hook


def _kind_rules(kinds: list[ProtectedKind], operations: list[str]) -> list[dict]:
    """One rule per (group, version, scope), resources sorted; order follows first appearance."""
    grouped: dict[tuple[str, str, str], list[str]] = {}
    for k in kinds:
        grouped.setdefault((k.gvr.group, k.gvr.version, k.scope), []).append(k.gvr.resource)
    return [{"apiGroups": [g], "apiVersions": [v], "resources": sorted(set(res)), "operations": operations,
             "scope": scope} for (g, v, scope), res in grouped.items()]


def _crd_rule(operations: list[str]) -> dict:
    return {"apiGroups": [CRD_GVR.group], "apiVersions": [CRD_GVR.version], "resources": [CRD_GVR.resource],
            "operations": operations, "scope": "Cluster"}


def _configuration(kind: str, name: str, webhooks: list[dict]) -> dict:
    return {"apiVersion": "admissionregistration.k8s.io/v1", "kind": kind,
            "metadata": {"name": name, "labels": dict(LABELS)}, "webhooks": webhooks}


def desired_configurations(plan: WebhookPlan, target: ClientTarget, ca: bytes) -> dict[str, dict | None]:
    """Every Orkestra configuration by name: the object it must be, or None (must not exist)."""
    paths = plan.paths
    out: dict[str, dict | None] = {name: None for name in CONFIGURATIONS}
    if "/validate" in paths:
        out[VALIDATION] = _configuration(VALIDATING_KIND, VALIDATION, [
            _admission_webhook(e, "validate", target, ca, plan) for e in plan.validate_entries])
    mutating = [e for e in plan.mutate_entries if _operations(e, "mutate")]   # a DELETE-only entry: none
    if "/mutate" in paths and mutating:
        out[MUTATION] = _configuration(MUTATING_KIND, MUTATION, [
            _admission_webhook(e, "mutate", target, ca, plan) for e in mutating])
    dp = plan.deletion
    if dp is not None:
        hooks = []
        crds = _common(f"protect.crds.{SUFFIX}", target, "/deletion-protection", ca, dp.failure_policy)
        hooks.append({**crds, "rules": [_crd_rule(["DELETE"])], "objectSelector": PROTECTED_SELECTOR,
                      "namespaceSelector": {}})
        res = _common(f"protect.resources.{SUFFIX}", target, "/deletion-protection", ca, dp.failure_policy)
        hooks.append({**res, "rules": _kind_rules(dp.resources, ["DELETE"]), "objectSelector": PROTECTED_SELECTOR,
                      "namespaceSelector": {}})
        if dp.strict:
            strict = _common(f"strict-mode.{SUFFIX}", target, "/deletion-protection", ca, dp.failure_policy)
            rules = _kind_rules(dp.strict_resources, ["UPDATE"])
            if dp.strict_crds or dp.strict_global:
                rules.append(_crd_rule(["UPDATE"]))
            hooks.append({**strict, "rules": rules, "objectSelector": PROTECTED_SELECTOR, "namespaceSelector": {}})
        out[DELETION] = _configuration(VALIDATING_KIND, DELETION, hooks)
    np = plan.namespace
    if np is not None:
        hook = _common(f"namespace-protect.{SUFFIX}", target, "/namespace-protection", ca, np.failure_policy)
        seen: list[dict] = []
        for e in np.entries:
            rule = _entry_rule(e, ["CREATE", "UPDATE"])
            if rule not in seen:
                seen.append(rule)
        out[NAMESPACE] = _configuration(VALIDATING_KIND, NAMESPACE, [
            {**hook, "rules": seen, "objectSelector": {}, "namespaceSelector": {}}])
    return out


def conversion_patch(target: ClientTarget, ca: bytes) -> dict:
    """The `spec.conversion` of a conversion CRD (merge patch; the unused clientConfig form is nulled)."""
    cc: dict[str, Any] = target.client_config("/convert", ca)
    if "url" in cc:
        cc["service"] = None
    else:
        cc["url"] = None
    return {"spec": {"conversion": {"strategy": "Webhook",
                                    "webhook": {"clientConfig": cc, "conversionReviewVersions": ["v1"]}}}}


def covers(actual: Any, wanted: Any) -> bool:
    """True when `actual` holds everything in `wanted` (dicts: subset; lists: same length, item-wise;
    a wanted None means the key must be absent or null)."""
    if isinstance(wanted, dict):
        if not isinstance(actual, dict):
            return False
        return all(actual.get(k) is None if v is None else (k in actual and covers(actual[k], v))
                   for k, v in wanted.items())
    if isinstance(wanted, list):
        return isinstance(actual, list) and len(actual) == len(wanted) and all(
            covers(a, w) for a, w in zip(actual, wanted))
    return actual == wanted
