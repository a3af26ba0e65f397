"""Pure decisions on informer events (docs/runtime.md §4.4, §4.5): which CR updates need a reconcile,
and which owner a child belongs to. No state, no I/O. (Object keys and the `uid` index are the
informer store's: `orkestra.informers.store`.)"""
from __future__ import annotations

from orkestra.katalog.labels import LABEL_CRD as CRD_LABEL
from orkestra.katalog.labels import LABEL_MANAGED_BY
from orkestra.katalog.labels import LABEL_OWNER_UID as OWNER_UID_LABEL

MANAGED_BY_SELECTOR = f"{LABEL_MANAGED_BY}=orkestra"


def update_needs_reconcile(old: dict, new: dict, *, ignore_observed_generation: bool = False) -> bool:
    """False only for a real (non-resync) update that leaves generation, labels, annotations,
    finalizers and deletionTimestamp alone: status-only changes, Orkestra's own included."""
    if ignore_observed_generation:
        return True
    om, nm = old.get("metadata") or {}, new.get("metadata") or {}
    if om.get("resourceVersion") == nm.get("resourceVersion"):
        return True   # resync
    if nm.get("generation") is None:
        return True
    return any(om.get(f) != nm.get(f) for f in
               ("generation", "labels", "annotations", "finalizers", "deletionTimestamp"))


def owner_uid(child: dict) -> str | None:
    """The owner's uid: the `orkestra.io/owner-uid` label, else the controller ownerReference."""
    meta = child.get("metadata") or {}
    uid = (meta.get("labels") or {}).get(OWNER_UID_LABEL)
    if uid:
        return uid
    for ref in meta.get("ownerReferences") or ():
        if ref.get("controller"):
            return ref.get("uid")
    return None


def owner_crd(child: dict) -> str | None:
    """The CRD key named by the child's `orkestra.io/crd` label, if any."""
    return ((child.get("metadata") or {}).get("labels") or {}).get(CRD_LABEL)


def owner_index(obj: dict) -> list[str]:
    """Index a child under its owner's uid (label, else controller ownerReference)."""
    uid = owner_uid(obj)
    return [uid] if uid else []


def selector_string(selector: dict[str, str]) -> str | None:
    """`{"a": "b"}` -> `a=b` (None when empty), as the API's labelSelector/fieldSelector."""
    return ",".join(f"{k}={v}" for k, v in selector.items()) or None
