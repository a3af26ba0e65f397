"""`/deletion-protection` and `/namespace-protection` decisions (docs/webhooks.md §6 and §7).

Pure functions of the plan and the validated AdmissionReview request. The API server's
`objectSelector` already narrows what reaches these paths; the handlers still check the
protected CRD set, the label and the strict-mode scope themselves, so a stale configuration can
never deny more than the Katalog protects. Messages are the exact two-line texts of §6.3/§7.
"""
from __future__ import annotations

from fnmatch import fnmatchcase

from orkestra import metrics
from orkestra.katalog.model import CrdEntry
from orkestra.webhooks.admission import being_deleted, request_gvk
from orkestra.webhooks.plan import CRD_GVR, PROTECTION_LABEL, DeletionPlan, NamespacePlan, WebhookPlan
from orkestra.webhooks.stats import WebhookStats

_CRD_HOW = ("To delete it: set security.deletionProtection.enabled: false (or deletionProtection.protectCRD: "
            "false on its entry), redeploy Orkestra, then retry.")
_CR_HOW = ("To delete it: annotate it orkestra.io/deletion-protection=false (Orkestra then removes the label), "
           "or disable protection in the Katalog and redeploy Orkestra, then retry.")
_OTHER_HOW = ("To delete it: remove the label, or set security.deletionProtection.enabled: false and redeploy "
              "Orkestra, then retry.")
_STRICT_HOW = "To unprotect it: set deletionProtection.strictMode: false in the Katalog and redeploy Orkestra, then retry."
_NS_HOW = ("To allow it: update allowedNamespaces or restrictedNamespaces for this CRD in the Katalog and "
           "redeploy Orkestra.")


def _labelled(obj: dict | None) -> bool:
    return (((obj or {}).get("metadata") or {}).get("labels") or {}).get(PROTECTION_LABEL) == "true"


def _subject(kind: str, name: str, namespace: str) -> str:
    where = f' in namespace "{namespace}"' if namespace else ""
    return f'{kind} "{name}"{where}'


def _deny(uid: str, message: str) -> dict:
    return {"uid": uid, "allowed": False, "status": {"code": 403, "reason": "Forbidden", "message": message}}


def resource_label(request: dict) -> str:
    """`plural.group` (or `plural` for the core group) of the request, for metrics."""
    res = request.get("resource") or {}
    plural = res.get("resource") or request["kind"]["kind"].lower()
    group = res.get("group", request["kind"]["group"])
    return f"{plural}.{group}" if group else plural


def _is_crd(request: dict) -> bool:
    res = request.get("resource") or {}
    return res.get("group") == CRD_GVR.group and res.get("resource") == CRD_GVR.resource or (
        not res and request["kind"]["group"] == CRD_GVR.group and request["kind"]["kind"] == "CustomResourceDefinition")


def _name(request: dict) -> str:
    obj = request.get("oldObject") or request.get("object") or {}
    return request.get("name") or (obj.get("metadata") or {}).get("name") or ""


def _object_namespace(request: dict) -> str:
    """The namespace the object lives in, "" for cluster-scoped objects.

    Read from the object's metadata: for a Namespace object the API server sets
    `request.namespace` to the Namespace's own name, yet a Namespace is cluster-scoped."""
    obj = request.get("oldObject") or request.get("object")
    if isinstance(obj, dict) and isinstance(obj.get("metadata"), dict):
        return obj["metadata"].get("namespace") or ""
    return request.get("namespace") or ""


def _strict_target(dp: DeletionPlan, request: dict) -> bool:
    if _is_crd(request):   # like DELETE: only the protected CRDs (their entries' effective strictMode)
        return _name(request) in dp.strict_crds
    if dp.strict_global:
        return True
    gvk = request_gvk(request)
    if (gvk.group, gvk.kind) in dp.strict_cr_kinds:
        return True
    res = request.get("resource") or {}
    return any(k.gvr.group == res.get("group") and k.gvr.resource == res.get("resource") for k in dp.strict_resources)


def deletion_decision(request: dict, plan: WebhookPlan) -> tuple[dict, str | None]:
    """(response, entry key the request belongs to) for `/deletion-protection`."""
    dp = plan.deletion
    uid, op = request["uid"], request["operation"]
    if dp is None:
        return {"uid": uid, "allowed": True}, None
    gvk = request_gvk(request)
    name, namespace = _name(request), _object_namespace(request)
    if _is_crd(request):
        owner = dp.protected_crds.get(name)
    else:
        owner = dp.cr_kinds.get((gvk.group, gvk.kind))
    if op == "DELETE":
        if _is_crd(request):
            if owner is None:
                return {"uid": uid, "allowed": True}, None
            return _deny(uid, f'[Orkestra Security] CRD "{name}" is protected from deletion by Katalog '
                              f'"{plan.katalog_name}".\n{_CRD_HOW}'), owner
        if not _labelled(request.get("oldObject")):
            return {"uid": uid, "allowed": True}, owner
        how = _CR_HOW if owner is not None else _OTHER_HOW
        return _deny(uid, f"[Orkestra Security] {_subject(gvk.kind, name, namespace)} is protected from deletion "
                          f"(label {PROTECTION_LABEL}=true).\n{how}"), owner
    if op == "UPDATE" and _labelled(request.get("oldObject")) and not _labelled(request.get("object")) \
            and _strict_target(dp, request):
        return _deny(uid, f"[Orkestra Security] {_subject(gvk.kind, name, namespace)} carries the "
                          f"deletion-protection label and strictMode is on: the label cannot be removed."
                          f"\n{_STRICT_HOW}"), owner
    return {"uid": uid, "allowed": True}, owner


def namespace_allowed(entry: CrdEntry, namespace: str) -> bool:
    if any(fnmatchcase(namespace, p) for p in entry.restricted_namespaces):
        return False
    if entry.allowed_namespaces:
        return any(fnmatchcase(namespace, p) for p in entry.allowed_namespaces)
    return True


def namespace_decision(request: dict, plan: WebhookPlan) -> tuple[dict, str | None]:
    """(response, entry key) for `/namespace-protection`."""
    uid = request["uid"]
    np: NamespacePlan | None = plan.namespace
    if np is None or request["operation"] not in ("CREATE", "UPDATE") or being_deleted(request):
        return {"uid": uid, "allowed": True}, None
    gvk = request_gvk(request)
    obj = request.get("object")
    namespace = request.get("namespace") or ((obj or {}).get("metadata") or {}).get("namespace") or ""
    candidates = [e for e in np.entries if e.api.gvk == gvk]
    matching = [e for e in candidates if e.selects(namespace, obj)] or candidates
    if not matching:
        return {"uid": uid, "allowed": True}, None
    entry = matching[0]
    if namespace_allowed(entry, namespace):
        return {"uid": uid, "allowed": True}, entry.key
    return _deny(uid, f'[Orkestra Security] Namespace "{namespace}" is not permitted for {entry.api.kind} '
                      f"({entry.api.crd_name}).\n{_NS_HOW}"), entry.key


def record(stats: WebhookStats, feature: str, request: dict, response: dict, owner: str | None) -> None:
    """Count one protection request globally and for the entry it belongs to; denials in metrics."""
    outcome = "allowed" if response.get("allowed") else "blocked"
    stats.count(f"protection:{feature}", "total", outcome)
    if owner is not None:
        stats.count(f"{feature}:{owner}", "total", outcome)
    if outcome == "blocked":
        family = metrics.deletion_blocked if feature == "deletion" else metrics.namespace_blocked
        family.labels(resource_label(request)).inc()
