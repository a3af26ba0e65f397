"""Offline facts about an entry's `custom` child kinds, shared by RBAC derivation and the webhooks.

Both need the same answer to "which CRDs does deletion protection cover" (docs/webhooks.md §6.1,
docs/deploying.md#the-bundle-rbac-and-the-katalog-configmap): the entry's own CRD and the CRDs of its `custom` children, when `protectCRD` is on.
Kinds resolve offline: explicit `plural`, else the Katalog's own `apiTypes` for that kind
(`fill_declared_plurals`, at load time), else the built-in registry, else lowercase kind + `s`.
"""
from __future__ import annotations

from orkestra.gvk import GVR, split_api_version
from orkestra.katalog.builtins import resolve_resource
from orkestra.katalog.model import PHASES, CrdEntry


def _declared_plurals(crds: dict) -> dict[tuple[str, str], str]:
    out: dict[tuple[str, str], str] = {}
    for entry in crds.values():
        api = entry.get("apiTypes") if isinstance(entry, dict) else None
        if isinstance(api, dict) and all(isinstance(api.get(k), str) for k in ("group", "kind", "plural")):
            out[(api["group"], api["kind"])] = api["plural"]
    return out


def fill_declared_plurals(crds: dict) -> None:
    """Give custom children and hook managedResources without `plural` the plural that the
    Katalog's own entry for that group and kind declares (`searchindices`, not a guessed
    `searchindexs`), so RBAC, rendering and validation all use it (issue 13 R1)."""
    plurals = _declared_plurals(crds)
    for entry in crds.values():
        box = entry.get("operatorBox") if isinstance(entry, dict) else None
        if not isinstance(box, dict):
            continue
        refs = [c for phase in PHASES if isinstance(box.get(phase), dict)
                for c in (box[phase].get("custom") or []) if isinstance(box[phase].get("custom"), list)]
        hooks = (box.get("reconciler") or {}).get("hooks") if isinstance(box.get("reconciler"), dict) else None
        if isinstance(hooks, dict) and isinstance(hooks.get("managedResources"), list):
            refs += hooks["managedResources"]
        for ref in refs:
            if not isinstance(ref, dict) or "plural" in ref or not isinstance(ref.get("kind"), str):
                continue
            api_version = ref.get("apiVersion")
            group = split_api_version(api_version)[0] if isinstance(api_version, str) else ""
            plural = plurals.get((group, ref["kind"]))
            if plural is not None:
                ref["plural"] = plural


def is_crd_group(group: str) -> bool:
    """True for API groups served by CustomResourceDefinitions rather than Kubernetes itself."""
    return "." in group and not group.endswith("k8s.io")


def custom_children(entry: CrdEntry) -> list[tuple[GVR, str]]:
    """(GVR, kind) of the `custom` child kinds declared in any phase of the entry, de-duplicated."""
    out: list[tuple[GVR, str]] = []
    for phase in PHASES:
        for child in entry.box_spec.templates.get(phase, {}).get("custom", []) or []:
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
