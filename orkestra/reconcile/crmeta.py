"""What the reconciler writes on the CR itself, as pure functions (docs/runtime.md §10.1 steps 3–5, §10.3 step 5).

Namespace rules, the finalizer JSON patches (add and remove, both sent guarded by a resourceVersion
test), the record annotations (what Orkestra added, so that it can remove it later),
and the metadata merge patch: the entry's rendered `labels`, the deletion-protection label with
its per-object opt-out (docs/webhooks.md §6.1), and the `orkestra.io/katalog` annotation on CRs of
custom kinds. Each returns None when the CR already matches, so no write is sent.
"""
from __future__ import annotations

from fnmatch import fnmatchcase

from orkestra.gvk import GVR
from orkestra.katalog.model import FINALIZER

PROTECTION_LABEL = "orkestra.io/deletion-protection"
KATALOG_ANNOTATION = "orkestra.io/katalog"
# Records Orkestra keeps on the CR itself, so that a later Katalog (or process) still knows what to undo.
FINALIZERS_ANNOTATION = "orkestra.io/finalizers"            # the declared finalizers Orkestra added
CHILD_RESOURCES_ANNOTATION = "orkestra.io/child-resources"  # GVRs of label-tracked or prunable children it wrote
DELETE_JOBS_ANNOTATION = "orkestra.io/delete-jobs"          # onDelete Jobs it created (ns/name=uid|succeeded)
RECORD_ANNOTATIONS = (FINALIZERS_ANNOTATION, CHILD_RESOURCES_ANNOTATION, DELETE_JOBS_ANNOTATION)


def namespace_allowed(namespace: str | None, allowed: list[str], restricted: list[str]) -> bool:
    """docs/katalog.md#namespace-protection: glob rules; cluster-scoped CRs are never restricted."""
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


def recorded(cr: dict, annotation: str) -> list[str]:
    """The comma-separated list Orkestra keeps in one of its record annotations."""
    text = ((cr["metadata"].get("annotations") or {}).get(annotation) or "")
    return [item for item in (part.strip() for part in text.split(",")) if item]


def parse_gvr(text: str) -> GVR | None:
    """`apps/v1/deployments` or `v1/configmaps` (the record format) to a GVR."""
    parts = text.split("/")
    if len(parts) == 2:
        return GVR("", parts[0], parts[1])
    if len(parts) == 3:
        return GVR(*parts)
    return None


def recorded_gvrs(cr: dict) -> list[GVR]:
    """The GVRs recorded in `orkestra.io/child-resources` (unreadable items skipped)."""
    return [gvr for gvr in map(parse_gvr, recorded(cr, CHILD_RESOURCES_ANNOTATION)) if gvr is not None]


def _pointer(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _unpointer(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def record_ops(cr: dict, annotation: str, items: list[str]) -> list[dict]:
    """JSON patch ops setting the record `annotation` to `items` (removing it when empty); [] when
    it already says that."""
    annotations = cr["metadata"].get("annotations")
    value = ",".join(items)
    if recorded(cr, annotation) == items and (items or annotation not in (annotations or {})):
        return []
    if not items:
        return [{"op": "remove", "path": f"/metadata/annotations/{_pointer(annotation)}"}]
    if annotations is None:
        return [{"op": "add", "path": "/metadata/annotations", "value": {annotation: value}}]
    return [{"op": "add", "path": f"/metadata/annotations/{_pointer(annotation)}", "value": value}]


def after_ops(cr: dict, ops: list[dict]) -> dict:
    """`cr` as the `add` ops of `add_finalizers_patch` leave it, as a shallow copy (`cr` itself is
    not changed), so that the ops computed next in the same patch (`metadata_ops`) add to the
    annotations map those ops may have created instead of replacing it."""
    if not ops:
        return cr
    meta = dict(cr["metadata"])
    for op in ops:
        field, _, key = op["path"].removeprefix("/metadata/").partition("/")
        meta[field] = {**meta[field], _unpointer(key): op["value"]} if key else op["value"]
    return {**cr, "metadata": meta}


def add_finalizers_patch(cr: dict, wanted: list[str]) -> tuple[list[dict], list[str]]:
    """JSON patch ops adding the missing finalizers and recording the declared ones among them in
    `FINALIZERS_ANNOTATION` (`FINALIZER` is always Orkestra's, so a CR with only that one gets no
    annotation), and the names added. The ops write the whole list, so they must be sent guarded
    by the resourceVersion of `cr` (`orkestra.reconcile.crpatch`): another controller's finalizer
    added since `cr` was read is then never overwritten."""
    present = list(cr["metadata"].get("finalizers") or [])
    missing = [f for f in wanted if f not in present]
    if not missing:
        return [], []
    mine = recorded(cr, FINALIZERS_ANNOTATION)
    new = [f for f in missing if f != FINALIZER and f not in mine]
    ops = [{"op": "add", "path": "/metadata/finalizers", "value": present + missing}]
    return ops + (record_ops(cr, FINALIZERS_ANNOTATION, mine + new) if new else []), missing


def finalizers_to_remove(cr: dict, wanted: list[str]) -> list[str]:
    """Orkestra's finalizers on `cr`: its own, the ones the current Katalog declares, and every one
    it recorded adding (a declaration dropped from the Katalog since is still Orkestra's)."""
    ours = set(wanted) | set(recorded(cr, FINALIZERS_ANNOTATION)) | {FINALIZER}
    return [f for f in cr["metadata"].get("finalizers") or [] if f in ours]


def remove_finalizers_patch(cr: dict, ours: list[str]) -> tuple[list[dict], list[str]]:
    """JSON patch ops removing `ours` (keeping the others) and every record annotation (Orkestra
    is done with the CR, so it takes back all it added), and the names removed; ([], []) when
    there is nothing of Orkestra's left. To be sent guarded by the resourceVersion of `cr`."""
    present = list(cr["metadata"].get("finalizers") or [])
    removed = [f for f in present if f in ours]
    ops = [{"op": "replace", "path": "/metadata/finalizers", "value": [f for f in present if f not in ours]}]
    return (ops if removed else []) + [op for a in RECORD_ANNOTATIONS for op in record_ops(cr, a, [])], removed


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


def metadata_ops(cr: dict, patch: dict) -> list[dict]:
    """The JSON patch ops of a `metadata_patch`-shaped merge patch (labels and annotations, a None
    value removing the key), so that it can travel in one guarded patch with record ops."""
    meta = cr["metadata"]
    ops: list[dict] = []
    for field, changes in patch["metadata"].items():
        have = meta.get(field)
        if have is None:
            added = {k: v for k, v in changes.items() if v is not None}
            ops += [{"op": "add", "path": f"/metadata/{field}", "value": added}] if added else []
            continue
        for key, value in changes.items():
            path = f"/metadata/{field}/{_pointer(key)}"
            if value is not None:
                ops.append({"op": "add", "path": path, "value": value})
            elif key in have:
                ops.append({"op": "remove", "path": path})
    return ops
