"""Offline facts about an entry's `custom` child kinds, shared by RBAC derivation and the webhooks.

Both need the same answer to "which CRDs does deletion protection cover" (webhooks.md §6.1,
cli.md §6): the entry's own CRD and the CRDs of its `custom` children, when `protectCRD` is on.
Kinds resolve offline: explicit `plural`, else the built-in registry, else lowercase kind + `s`.
"""
from __future__ import annotations

from orkestra.gvk import GVR, split_api_version
from orkestra.katalog.builtins import resolve_resource
from orkestra.katalog.model import PHASES, CrdEntry


def is_crd_group(group: str) -> bool:
    """True for API groups served by CustomResourceDefinitions rather than Kubernetes itself."""
    return "." in group and not group.endswith("k8s.io")


def custom_children(entry: CrdEntry) -> list[tuple[GVR, str]]:
    """(GVR, kind) of the `custom` child kinds declared in any phase of the entry, de-duplicated."""
    out: list[tuple[GVR, str]] = []
    for phase in PHASES:
        for child in entry.box.templates.get(phase, {}).get("custom", []) or []:
            kind = str(child.get("kind", ""))
            if not kind:
                continue
            api_version = str(child.get("apiVersion", ""))
            group, plural, _ = resolve_resource(api_version, kind)
            gvr = GVR(group, split_api_version(api_version)[1], str(child.get("plural") or plural))
            if (gvr, kind) not in out:
                out.append((gvr, kind))
    return out


def protected_crd_names(entry: CrdEntry) -> list[str]:
    """CRD names deletion protection covers through this entry (empty unless `protectCRD`)."""
    dp = entry.deletion_protection or {}
    if not dp.get("enabled", True) or not dp.get("protectCRD", True):
        return []
    names = [] if entry.api.builtin else [entry.api.crd_name]
    names += [f"{gvr.resource}.{gvr.group}" for gvr, _ in custom_children(entry) if is_crd_group(gvr.group)]
    return list(dict.fromkeys(names))
