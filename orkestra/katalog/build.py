"""From a checked document to the model: the enriched dict (every default filled) and `CrdEntry`.

The enriched form is what `ork template` and `/katalog/enriched` print, and the model is built
from it, so the two can never disagree about a default. Environment defaults come in through
`KatalogDefaults`; durations are printed in Go form and stored in the model as seconds.
"""
from __future__ import annotations

from typing import Any

from orkestra.durations import format_duration, parse_duration
from orkestra.katalog.defaults import KatalogDefaults
from orkestra.katalog.deps import parse_depends_on
from orkestra.katalog.hookcheck import hook_base_dir
from orkestra.katalog.model import PHASES, TEMPLATE_TYPES, ApiTypes, CrdEntry, HookSpec, OperatorBoxSpec, QueueSettings
from orkestra.katalog.source import plain


def _seconds(value: Any) -> float:
    return 0.0 if value in (0, "0") else parse_duration(value)


def enrich_security(security: dict | None) -> dict:
    """The security block with its defaults; `{}` when absent (no protection)."""
    if not security:
        return {}
    out = plain(security)
    out.setdefault("serviceName", "orkestra")
    out["admission"] = {"failurePolicy": "Ignore"} | out.get("admission", {})
    if "deletionProtection" in out:
        out["deletionProtection"] = {"enabled": True, "failurePolicy": "Fail", "strictMode": False,
                                     "cleanupOnShutdown": False} | out["deletionProtection"]
    if "namespaceProtection" in out:
        out["namespaceProtection"] = {"enabled": True, "failurePolicy": "Fail",
                                      "cleanupOnShutdown": False} | out["namespaceProtection"]
    return out


def enrich_entry(entry: dict, api: ApiTypes, security: dict, defaults: KatalogDefaults) -> dict:
    """One canonical CRD entry with every default filled in (§3, §6, §11.4, §15)."""
    e = plain(entry)
    box = e.get("operatorBox", {})
    rec = box.get("reconciler", {})
    queue = rec.get("queue", {})
    deps, _ = parse_depends_on(e.get("dependsOn"))
    global_dp = security.get("deletionProtection", {})
    own_dp = e.get("deletionProtection", {})
    ns_rules = security.get("namespaceProtection", {})
    own_ns = {k: e[k] for k in ("allowedNamespaces", "restrictedNamespaces") if k in e}
    eff_ns = own_ns or {k: ns_rules[k] for k in ("allowedNamespaces", "restrictedNamespaces") if k in ns_rules}
    out: dict[str, Any] = {
        "enabled": e.get("enabled", True),
        "description": e.get("description", ""),
        "apiTypes": {"group": api.group, "version": api.version, "kind": api.kind, "plural": api.plural},
        "namespaced": api.namespaced,
        "namespace": e.get("namespace", ""),
        "labelSelector": e.get("labelSelector", {}),
        "fieldSelector": e.get("fieldSelector", {}),
        "dependsOn": {d.name: {"condition": d.condition} for d in deps},
        "labels": e.get("labels", {}),
        "endpoints": {"enabled": True, "health": True, "info": True} | e.get("endpoints", {}),
        "allowedNamespaces": eff_ns.get("allowedNamespaces", []),
        "restrictedNamespaces": eff_ns.get("restrictedNamespaces", []),
        "webhooks": {"validation": True, "mutation": True, "operations": ["CREATE", "UPDATE"]} | e.get("webhooks", {}),
        "deletionProtection": {
            "enabled": bool(global_dp.get("enabled", False)),
            "protectCRD": own_dp.get("protectCRD", True),
            "protectCRs": own_dp.get("protectCRs", True),
            "strictMode": own_dp.get("strictMode", global_dp.get("strictMode", False)),
        },
        "forceConflict": e.get("forceConflict", True),
        "ignoreStatusPatch": e.get("ignoreStatusPatch", False),
        "ignoreObservedGeneration": e.get("ignoreObservedGeneration", False),
    }
    if "validation" in e:
        out["validation"] = {"rules": e["validation"].get("rules", [])}
    if "mutation" in e:
        out["mutation"] = {"mutateFirst": e["mutation"].get("mutateFirst", False), "rules": e["mutation"].get("rules", [])}
    if "conversion" in e:
        out["conversion"] = {"storageVersion": e["conversion"]["storageVersion"],
                             "updateCRD": e["conversion"].get("updateCRD", True),
                             "paths": e["conversion"].get("paths", [])}
    reconciler: dict[str, Any] = {
        "default": True,
        "workers": rec.get("workers", defaults.workers),
        "resync": rec.get("resync", format_duration(defaults.resync)),
        "timeout": rec.get("timeout", format_duration(defaults.reconcile_timeout)),
        "queue": {"maxDepth": queue.get("maxDepth", defaults.queue_depth), "onLimit": queue.get("onLimit", "warn"),
                  "failureThreshold": queue.get("failureThreshold", defaults.failure_threshold)},
    }
    if "hooks" in rec:
        reconciler["hooks"] = {"runHooksFirst": False, "managedResources": [], "args": {}} | rec["hooks"]
    status = box.get("status", {})
    out["operatorBox"] = {
        "reconciler": reconciler,
        "finalizers": box.get("finalizers", []),
        "deleteTimeout": box.get("deleteTimeout", ""),
        **{phase: box.get(phase, {}) for phase in PHASES},
        "status": {"conditions": status.get("conditions", not api.builtin) and not api.builtin,
                   "fields": status.get("fields", [])},
    }
    return out


def build_entry(key: str, enriched: dict, api: ApiTypes, *, configured_workers: bool, spec_finalizers: list[str],
                source: str, crd_file: str = "") -> CrdEntry:
    """The model of one entry, read from its enriched form."""
    box = enriched["operatorBox"]
    rec = box["reconciler"]
    hooks = None
    if "hooks" in rec:
        h = rec["hooks"]
        hooks = HookSpec(h["module"], h["function"], h["runHooksFirst"], tuple(h["managedResources"]), h["args"],
                         hook_base_dir(source))
    deps = parse_depends_on(enriched["dependsOn"])[0]
    finalizers = list(spec_finalizers) + [f for f in box["finalizers"] if f not in spec_finalizers]
    templates = {phase: {t: box[phase][t] for t in TEMPLATE_TYPES if box[phase].get(t)} for phase in PHASES}
    return CrdEntry(
        key=key, enabled=enriched["enabled"], description=enriched["description"], api=api,
        namespace=enriched["namespace"], label_selector=enriched["labelSelector"],
        field_selector=enriched["fieldSelector"], depends_on=deps, labels=enriched["labels"],
        endpoints=enriched["endpoints"], allowed_namespaces=enriched["allowedNamespaces"],
        restricted_namespaces=enriched["restrictedNamespaces"], validation=enriched.get("validation"),
        mutation=enriched.get("mutation"), conversion=enriched.get("conversion"), webhooks=enriched["webhooks"],
        deletion_protection=enriched["deletionProtection"], force_conflict=enriched["forceConflict"],
        ignore_status_patch=enriched["ignoreStatusPatch"],
        ignore_observed_generation=enriched["ignoreObservedGeneration"],
        box_spec=OperatorBoxSpec(
            workers=rec["workers"], workers_source="configured" if configured_workers else "default",
            resync=_seconds(rec["resync"]), timeout=_seconds(rec["timeout"]),
            queue=QueueSettings(rec["queue"]["maxDepth"], rec["queue"]["onLimit"], rec["queue"]["failureThreshold"]),
            hooks=hooks, finalizers=finalizers,
            delete_timeout=_seconds(box["deleteTimeout"]) if box["deleteTimeout"] else None,
            templates=templates, status=box["status"],
        ),
        source=source, crd_file=crd_file,
    )
