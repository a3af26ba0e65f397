"""Which child kinds a CRD entry can produce (docs/runtime.md §4.4): one child informer per GVR.

Template types map to fixed kinds through the Katalog's per-type table; `custom` templates and
hook `managedResources` name their kinds and are resolved through discovery (or the built-in
registry when only a kind is given), so the engine watches exactly what the reconciler writes.
"""
from __future__ import annotations

import logging
from typing import Any

from orkestra.gvk import GVR, split_api_version
from orkestra.katalog.model import PHASES, CrdEntry
from orkestra.katalog.template_kinds import TEMPLATE_KINDS

log = logging.getLogger("orkestra.engine")


def child_kinds(entry: CrdEntry) -> list[tuple[str, str]]:
    """(apiVersion or "", kind) of every child kind, de-duplicated, in declaration order."""
    out: list[tuple[str, str]] = []
    for phase in PHASES:
        for type_, items in (entry.box.templates.get(phase) or {}).items():
            if type_ != "custom":
                facts = TEMPLATE_KINDS[type_]
                out.append((facts.api_version, facts.kind))
                continue
            for item in items:
                if item.get("kind"):
                    out.append((item.get("apiVersion") or "", item["kind"]))
    for res in entry.box.hooks.managed_resources if entry.box.hooks else ():
        if res.get("kind"):
            out.append((res.get("apiVersion") or "", res["kind"]))
    return list(dict.fromkeys(out))


def resolve_child_gvrs(entry: CrdEntry, discovery: Any) -> list[tuple[GVR, bool]]:
    """(GVR, namespaced) of the entry's child kinds that the cluster serves; unknown kinds are
    logged and skipped (the reconciler reports them when it tries to write one)."""
    from orkestra.katalog.builtins import lookup
    gvrs: list[tuple[GVR, bool]] = []
    for api_version, kind in child_kinds(entry):
        group, version = split_api_version(api_version) if api_version else ("", "")
        builtin = lookup(kind) if not api_version else lookup(kind, group or "core")
        if builtin is not None and (not api_version or builtin.version == version):
            gvrs.append((GVR(builtin.group, builtin.version, builtin.plural), builtin.namespaced))
            continue
        if not api_version:
            continue
        try:
            found = discovery.resolve(api_version, kind)
        except Exception as err:  # noqa: BLE001 - discovery failure: no informer for now
            log.warning("cannot resolve child kind", extra={"crd": entry.key, "kind": kind, "error": str(err)})
            continue
        if found is not None:
            gvrs.append(found)
    return list(dict.fromkeys(gvrs))
