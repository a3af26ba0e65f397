"""Resource template checks (docs/katalog.md#resource-templates, §18 step 11): required fields, default-name collisions,
reserved labels, phase-specific keys and the template warnings of step 16.

Runs per entry on schema-valid input; templates and condition lists are compiled through the
shared helpers of `orkestra.katalog.checks`.
"""
from __future__ import annotations

import re

from orkestra.katalog import builtins
from orkestra.katalog.checks import CheckContext, check_conditions, check_templates, strings
from orkestra.katalog.labels import RESERVED_LABELS
from orkestra.katalog.model import COPY_SOURCES, PHASES, TEMPLATE_TYPES, ApiTypes
from orkestra.katalog.template_kinds import TEMPLATE_KINDS

# Top-level manifest keys a custom entry builds itself; `fields` (the other top-level keys) must not set them.
CUSTOM_OWN_KEYS = frozenset({"apiVersion", "kind", "metadata"})
RANDOM_RE = re.compile(r"\b(randomAlphanumeric|randomHex|randomBase64)\b")


def check_resources(ctx: CheckContext, key: str, entry: dict, api: ApiTypes | None) -> None:
    box = entry.get("operatorBox", {})
    base = ("spec", "crds", key, "operatorBox")
    check_templates(ctx, entry.get("labels"), ("spec", "crds", key, "labels"))
    _check_label_fight(ctx, key, entry)
    # Default names used by onCreate/onReconcile entries: an onDelete entry of the same type with
    # the default name would find that child (a finished onCreate Job) instead of its own.
    normal_flow: dict[tuple[str, str], str] = {}
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
                    if phase != "onDelete":
                        normal_flow.setdefault((type_name, default), f"{phase}.{type_name}[{i}]")
                    elif (type_name, default) in normal_flow:
                        ctx.sink.error(at, f"name is required: {normal_flow[type_name, default]} already uses "
                                           f"the default {type_name} name, and onDelete must not reuse its child")
                _check_entry_fields(ctx, phase, type_name, tpl, at)
                if api is not None and not api.namespaced and "namespace" not in tpl and _namespaced_child(type_name, tpl):
                    ctx.sink.error(at, f"namespace is required for {type_name} when the CR is cluster-scoped")
    if api is not None and api.builtin and not entry.get("labelSelector"):
        for phase in ("onCreate", "onReconcile"):
            if any(box.get(phase, {}).get(t) for t in TEMPLATE_TYPES):
                ctx.sink.warn(("spec", "crds", key),
                              f"{phase} acts on every {api.kind}: set labelSelector to narrow it", with_path=False)
                break


def _literal(value) -> str | None:
    """A string that is not a template (comparable before any CR is rendered), else None."""
    return value if isinstance(value, str) and "{{" not in value else None


def _copies_onto_source(tpl: dict, copy_key: str) -> bool:
    """A copy-form Secret or ConfigMap whose target is, whatever the CR, its own source."""
    source = _literal(tpl.get(copy_key))
    if not source or ("name" in tpl and _literal(tpl["name"]) != source):
        return False
    targets = tpl.get("toNamespaces")
    if not targets:
        return "fromNamespace" not in tpl       # both default to the CR namespace
    from_ns = _literal(tpl.get("fromNamespace"))
    return from_ns is not None and from_ns in [_literal(t) for t in targets]


def _check_label_fight(ctx: CheckContext, key: str, entry: dict) -> None:
    """An entry label that a mutation rule also overrides would be rewritten by both on every reconcile."""
    labels = entry.get("labels") or {}
    rules = (entry.get("mutation") or {}).get("rules") or []
    if not isinstance(labels, dict) or not isinstance(rules, list):
        return
    from orkestra.conditions import PathError, parse_path
    for i, rule in enumerate(rules):
        if not isinstance(rule, dict) or "override" not in rule or not isinstance(rule.get("field"), str):
            continue
        try:
            segments = [s.key for s in parse_path(rule["field"])]
        except PathError:
            continue                            # reported by the mutation checks
        at = ("spec", "crds", key, "mutation", "rules", i, "field")
        if len(segments) == 3 and segments[:2] == ["metadata", "labels"] and segments[2] in labels:
            ctx.sink.error(at, f'label "{segments[2]}" is set by both the entry labels and this override: '
                               "the two would rewrite it on every reconcile; keep one")
        elif labels and segments in (["metadata"], ["metadata", "labels"]):
            names = ", ".join(f'"{k}"' for k in labels)
            ctx.sink.error(at, f"this override replaces {'.'.join(segments)}, which holds the entry labels "
                               f"({names}): the two would rewrite them on every reconcile; override single "
                               "labels (metadata.labels.<key>) that the entry does not set")


def _namespaced_child(type_name: str, tpl: dict) -> bool:
    if type_name == "custom":
        found = builtins.lookup(tpl.get("kind", "")) if isinstance(tpl.get("kind"), str) else None
        return found is not None and found.namespaced
    return TEMPLATE_KINDS[type_name].namespaced


ONDELETE_MIN_TTL = 60     # seconds; onDelete Jobs are polled every 5 s, behind a possibly busy queue


def _check_entry_fields(ctx: CheckContext, phase: str, type_name: str, tpl: dict, at: tuple) -> None:
    sink = ctx.sink
    for req in () if tpl.get("action") == "delete" else TEMPLATE_KINDS[type_name].required:
        if tpl.get(req) in (None, ""):
            sink.error(at, f'missing required field "{req}" for {type_name}')
    if type_name == "services" and "port" not in tpl and "ports" not in tpl:
        sink.error(at, 'missing required field "port" for services (or declare ports)')
    if type_name == "custom" and isinstance(tpl.get("fields"), dict):
        for key in sorted(CUSTOM_OWN_KEYS & set(tpl["fields"])):
            sink.error(at + ("fields", key), f"{key} is the entry's own (write apiVersion, kind, name, namespace, "
                       "labels and annotations on the entry): fields would replace it in the manifest")
    copy_key = COPY_SOURCES.get(type_name)
    if copy_key and "data" in tpl and copy_key in tpl:
        sink.error(at, f"set data or {copy_key}, not both")
    if copy_key and _copies_onto_source(tpl, copy_key):
        kind = TEMPLATE_KINDS[type_name].kind
        sink.error(at, f"this copy would be written onto its own source {kind} (same name and namespace): "
                       "set name, or toNamespaces without the source namespace")
    for key in ("fromNamespace", "toNamespaces") if copy_key and copy_key not in tpl else ():
        if key in tpl:
            sink.error(at + (key,), f"only used with {copy_key} (the copy form); without it nothing is copied")
    if copy_key and copy_key in tpl:
        if "{{" in str(tpl.get("fromNamespace") or ""):
            sink.warn(at + ("fromNamespace",), "a copy source built from the CR is confined to the CR's own "
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
    ttl = tpl.get("ttlSecondsAfterFinished")
    if type_name == "jobs" and phase == "onDelete" and type(ttl) is int and ttl < ONDELETE_MIN_TTL:
        # A Job removed before Orkestra saw it succeed counts as failed (docs/finalizers.md).
        sink.warn(at + ("ttlSecondsAfterFinished",),
                  f"below {ONDELETE_MIN_TTL}: the Job may be removed before Orkestra sees it succeed, "
                  "and the deletion then waits for deleteTimeout")
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
        refs = [".item", ".index"] + ([f".{each['as']}"] if each.get("as") else [])   # .index: issue 13 C11
        if not any(ref in name for ref in refs):
            sink.warn(at + ("name",), "forEach entry name does not refer to the element "
                      f"({' or '.join(refs)}): every element would get the same name")


