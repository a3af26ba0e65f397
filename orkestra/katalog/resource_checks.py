"""Resource template checks (katalog.md §7, §18 step 11): required fields, default-name collisions,
reserved labels, phase-specific keys and the template warnings of step 16.

Runs per entry on schema-valid input; templates and condition lists are compiled through the
shared helpers of `orkestra.katalog.checks`.
"""
from __future__ import annotations

import re

from orkestra.katalog import builtins
from orkestra.katalog.checks import CheckContext, check_conditions, check_templates, strings
from orkestra.katalog.model import PHASES, TEMPLATE_TYPES, ApiTypes

RESERVED_LABELS = frozenset({
    "app.kubernetes.io/managed-by", "orkestra.io/crd", "orkestra-owner", "orkestra.io/owner-namespace",
    "orkestra.io/owner-uid", "orkestra.io/template",
})
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "deployments": ("image",), "statefulSets": ("image",), "jobs": ("image",), "cronJobs": ("image", "schedule"),
    "persistentVolumeClaims": ("storage",), "roles": ("rules",), "clusterRoles": ("rules",),
    "roleBindings": ("roleRef",), "clusterRoleBindings": ("roleRef",), "custom": ("apiVersion", "kind"),
}
CLUSTER_SCOPED_TYPES = frozenset({"namespaces", "clusterRoles", "clusterRoleBindings"})
RANDOM_RE = re.compile(r"\b(randomAlphanumeric|randomHex|randomBase64)\b")

def check_resources(ctx: CheckContext, key: str, entry: dict, api: ApiTypes | None) -> None:
    box = entry.get("operatorBox", {})
    base = ("spec", "crds", key, "operatorBox")
    check_templates(ctx, entry.get("labels"), ("spec", "crds", key, "labels"))
    for phase in PHASES:
        types = box.get(phase) or {}
        for type_name in TEMPLATE_TYPES:
            unnamed: set[str] = set()   # default names in use (custom: one per kind)
            for i, tpl in enumerate(types.get(type_name) or []):
                at = base + (phase, type_name, i)
                check_templates(ctx, {k: v for k, v in tpl.items() if k not in ("when", "anyOf")}, at)
                check_conditions(ctx, tpl.get("when"), at + ("when",))
                check_conditions(ctx, tpl.get("anyOf"), at + ("anyOf",))
                if "name" not in tpl:
                    default = str(tpl.get("kind", "")).lower() if type_name == "custom" else ""
                    if default in unnamed:
                        ctx.sink.error(at, f"name is required when more than one {type_name} entry is declared")
                    unnamed.add(default)
                _check_entry_fields(ctx, phase, type_name, tpl, at)
                if api is not None and not api.namespaced and "namespace" not in tpl and _namespaced_child(type_name, tpl):
                    ctx.sink.error(at, f"namespace is required for {type_name} when the CR is cluster-scoped")
    if api is not None and api.builtin and not entry.get("labelSelector"):
        for phase in ("onCreate", "onReconcile"):
            if any(box.get(phase, {}).get(t) for t in TEMPLATE_TYPES):
                ctx.sink.warn(("spec", "crds", key),
                              f"{phase} acts on every {api.kind}: set labelSelector to narrow it", with_path=False)
                break


def _namespaced_child(type_name: str, tpl: dict) -> bool:
    if type_name == "custom":
        found = builtins.lookup(tpl.get("kind", "")) if isinstance(tpl.get("kind"), str) else None
        return found is not None and found.namespaced
    return type_name not in CLUSTER_SCOPED_TYPES


def _check_entry_fields(ctx: CheckContext, phase: str, type_name: str, tpl: dict, at: tuple) -> None:
    sink = ctx.sink
    for req in REQUIRED_FIELDS.get(type_name, ()):
        if tpl.get(req) in (None, ""):
            sink.error(at, f'missing required field "{req}" for {type_name}')
    if type_name == "services" and "port" not in tpl and "ports" not in tpl:
        sink.error(at, 'missing required field "port" for services (or declare ports)')
    if type_name == "secrets" and "data" in tpl and "fromSecret" in tpl:
        sink.error(at, "set data or fromSecret, not both")
    if type_name == "secrets" and "fromSecret" in tpl:
        from_cr = [k for k in ("fromSecret", "fromNamespace") if "{{" in str(tpl.get(k) or "")]
        if from_cr:
            sink.warn(at + (from_cr[-1],), "a copy source built from the CR is confined to the CR's own "
                      "namespace (fromNamespace and toNamespaces); name sources in other namespaces literally")
    if "reconcile" in tpl and phase != "onCreate":
        sink.error(at + ("reconcile",), "reconcile is only valid in onCreate")
    if "action" in tpl and phase != "onDelete":
        sink.error(at + ("action",), "action is only valid in onDelete")
    if tpl.get("action") == "delete" and not tpl.get("name"):
        sink.error(at, "name is required with action: delete")
    for label in tpl.get("labels") or {}:
        if label in RESERVED_LABELS:
            sink.error(at + ("labels", label), f'"{label}" is a reserved label set by Orkestra')
    if type_name == "jobs" and (phase == "onReconcile" or tpl.get("reconcile")):
        sink.warn(at, "jobs are create-only: re-applying them on reconcile has no update effect")
    if type_name == "custom" and "plural" not in tpl and isinstance(tpl.get("kind"), str):
        if builtins.plural_is_guessed(tpl.get("apiVersion") if isinstance(tpl.get("apiVersion"), str) else None,
                                      tpl["kind"]):
            sink.warn(at, f'plural not set: RBAC assumes "{tpl["kind"].lower()}s"; set plural')
    if not tpl.get("once"):
        if any(RANDOM_RE.search(text) for _, text in strings(tpl, ())):
            sink.warn(at, "uses a random function without once: true; the value changes on every reconcile")
    each = tpl.get("forEach")
    if isinstance(each, dict) and isinstance(each.get("field"), str):
        from orkestra.conditions import PathError, parse_path
        try:
            parse_path(each["field"])
        except PathError as exc:
            sink.error(at + ("forEach", "field"), str(exc))
    if isinstance(each, dict):
        name = tpl.get("name", "")
        refs = [".item"] + ([f".{each['as']}"] if each.get("as") else [])
        if not any(ref in name for ref in refs):
            sink.warn(at + ("name",), "forEach entry name does not refer to the element "
                      f"({' or '.join(refs)}): every element would get the same name")


