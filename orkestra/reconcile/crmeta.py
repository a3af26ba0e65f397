"""What the reconciler writes on the CR itself, as pure functions (runtime.md §10.1 steps 3–5, §10.3 step 5).

Namespace rules, the finalizer JSON patches (add; remove guarded by a resourceVersion test),
and the metadata merge patch: the entry's rendered `labels`, the deletion-protection label with
its per-object opt-out (webhooks.md §6.1), and the `orkestra.io/katalog` annotation on CRs of
custom kinds. Each returns None when the CR already matches, so no write is sent.
"""
from __future__ import annotations

from fnmatch import fnmatchcase

from orkestra.katalog.model import FINALIZER

PROTECTION_LABEL = "orkestra.io/deletion-protection"
KATALOG_ANNOTATION = "orkestra.io/katalog"


def namespace_allowed(namespace: str | None, allowed: list[str], restricted: list[str]) -> bool:
    """katalog.md §15.3: glob rules; cluster-scoped CRs are never restricted."""
    if not namespace:
        return True
    if allowed and not any(fnmatchcase(namespace, p) for p in allowed):
        return False
    return not any(fnmatchcase(namespace, p) for p in restricted)


def wanted_finalizers(declared: list[str]) -> list[str]:
    """Orkestra's own finalizer followed by the declared ones (no duplicates)."""
    out = [FINALIZER]
    out += [f for f in declared if f not in out]
    return out


def add_finalizers_patch(cr: dict, wanted: list[str]) -> tuple[list[dict], list[str]]:
    """JSON patch ops adding the missing finalizers, and the names added."""
    present = list(cr["metadata"].get("finalizers") or [])
    missing = [f for f in wanted if f not in present]
    if not missing:
        return [], []
    if "finalizers" not in cr["metadata"]:
        return [{"op": "add", "path": "/metadata/finalizers", "value": missing}], missing
    return [{"op": "add", "path": "/metadata/finalizers/-", "value": f} for f in missing], missing


def remove_finalizers_patch(cr: dict, ours: list[str]) -> tuple[list[dict], list[str]]:
    """JSON patch removing `ours` (keeping others), guarded by a test of the resourceVersion."""
    present = list(cr["metadata"].get("finalizers") or [])
    removed = [f for f in present if f in ours]
    if not removed:
        return [], []
    return [{"op": "test", "path": "/metadata/resourceVersion", "value": cr["metadata"]["resourceVersion"]},
            {"op": "replace", "path": "/metadata/finalizers", "value": [f for f in present if f not in ours]}], removed


def metadata_patch(cr: dict, *, labels: dict[str, str], protection: dict, katalog_name: str | None) -> dict | None:
    """Merge patch for the CR's labels/annotations, or None when nothing differs.

    `protection` is the entry's effective deletionProtection; `katalog_name` is None for built-in kinds.
    """
    meta = cr["metadata"]
    have_labels = meta.get("labels") or {}
    have_annotations = meta.get("annotations") or {}
    want_labels: dict = {k: v for k, v in labels.items() if have_labels.get(k) != v}
    if protection.get("enabled") and protection.get("protectCRs", True):
        opted_out = (have_annotations.get(PROTECTION_LABEL) == "false" and not protection.get("strictMode"))
        if opted_out and PROTECTION_LABEL in have_labels:
            want_labels[PROTECTION_LABEL] = None
        elif not opted_out and have_labels.get(PROTECTION_LABEL) != "true":
            want_labels[PROTECTION_LABEL] = "true"
    patch: dict = {}
    if want_labels:
        patch["labels"] = want_labels
    if katalog_name is not None and have_annotations.get(KATALOG_ANNOTATION) != katalog_name:
        patch["annotations"] = {KATALOG_ANNOTATION: katalog_name}
    return {"metadata": patch} if patch else None
