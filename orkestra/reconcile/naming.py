"""Child identity: default names, the 63-character cut, standard labels and ownership (docs/katalog.md#keys-per-type, §7.5).

Pure functions of the CR and the CRD key, shared by the template renderer and by hook
`ctx.apply`, so that a child has the same labels and owner whichever path wrote it.
"""
from __future__ import annotations

from orkestra.katalog.labels import (LABEL_APP_INSTANCE, LABEL_APP_NAME, LABEL_CRD,  # noqa: F401 - re-exported
                                     LABEL_MANAGED_BY, LABEL_OWNER, LABEL_OWNER_NAMESPACE, LABEL_OWNER_UID,
                                     LABEL_TEMPLATE)
from orkestra.template.library.names import truncate_name

MAX_NAME = 63
MANAGER = "orkestra"


def cut_name(name: str) -> str:
    """Names over 63 characters: the first 57, `-`, and 5 hex digits of the full name's SHA-256."""
    return truncate_name(name, MAX_NAME)


def owner_prefix(cr: dict) -> str:
    """`<p>` of §7.2: `<namespace>-<name>` for a namespaced CR, `<name>` for a cluster-scoped one."""
    meta = cr["metadata"]
    ns = meta.get("namespace")
    return f"{ns}-{meta['name']}" if ns else meta["name"]


def default_name(cr: dict, suffix: str, *, cluster_scoped: bool) -> str:
    """`<cr><suffix>`, or `<p><suffix>` for a cluster-scoped child, cut to 63 characters."""
    base = owner_prefix(cr) if cluster_scoped else cr["metadata"]["name"]
    return cut_name(base + suffix)


def standard_labels(cr: dict, crd_key: str, template_id: str | None) -> dict[str, str]:
    """The reserved labels every child carries; `template_id` is None for objects written by hooks."""
    meta = cr["metadata"]
    labels = {
        LABEL_MANAGED_BY: MANAGER,
        LABEL_CRD: crd_key,
        LABEL_OWNER: cut_name(meta["name"]),
        LABEL_OWNER_UID: meta["uid"],
    }
    if meta.get("namespace"):
        labels[LABEL_OWNER_NAMESPACE] = meta["namespace"]
    if template_id:
        labels[LABEL_TEMPLATE] = template_id
    return labels


def can_own(cr: dict, child_namespace: str | None) -> bool:
    """Kubernetes allows an ownerReference when the CR is cluster-scoped or both share a namespace."""
    cr_ns = cr["metadata"].get("namespace")
    return not cr_ns or child_namespace == cr_ns


def owner_reference(cr: dict) -> dict:
    return {
        "apiVersion": cr["apiVersion"],
        "kind": cr["kind"],
        "name": cr["metadata"]["name"],
        "uid": cr["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def stamp_identity(manifest: dict, cr: dict, crd_key: str, template_id: str | None) -> bool:
    """Add standard labels and, when allowed, the ownerReference. Returns True when label-tracked."""
    meta = manifest.setdefault("metadata", {})
    labels = dict(meta.get("labels") or {})
    labels.update(standard_labels(cr, crd_key, template_id))
    meta["labels"] = labels
    if can_own(cr, meta.get("namespace")):
        meta["ownerReferences"] = [owner_reference(cr)]
        return False
    return True
