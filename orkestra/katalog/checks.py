"""Per-entry semantic load-time checks (docs/cli.md#ork-validate steps 5–10, 12, 14–16) and the helpers
every check module shares (`CheckContext`, template and condition compilation).

The schema has already guaranteed shapes, so these checks only see entries whose types are right.
Each check appends errors and warnings to the `IssueSink` with the key path of the problem;
nothing here raises. Resolved `ApiTypes` are kept on the context so the cross-entry checks
(`cross_checks`) and the model builder do not resolve them twice. Resource templates are checked
in `resource_checks`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterator

from orkestra.durations import DurationError, parse_duration
from orkestra.katalog import builtins
from orkestra.katalog.hookcheck import check_hook
from orkestra.katalog.issues import IssueSink, format_path
from orkestra.katalog.model import ApiTypes
from orkestra.katalog.source import map_at

NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
RESERVED_KEYS = ("raw", "enriched")
OPERATIONS = ("CREATE", "UPDATE", "DELETE")
RULE_ONLY_KEYS = ("message", "action", "when", "anyOf")
_PATH_TOKEN = re.compile(r"\[(\d+)\]|([^.\[\]]+)")


def parse_path_text(text: str) -> tuple:
    """Inverse of `format_path` (for problem strings from the conditions module)."""
    return tuple(int(m.group(1)) if m.group(1) is not None else m.group(2) for m in _PATH_TOKEN.finditer(text))


@dataclass
class CheckContext:
    sink: IssueSink
    hooks_path: tuple[str, ...]                    # ORK_HOOKS_PATH
    hook_dirs: dict[str, str]                      # CRD key -> directory of its source file
    apis: dict[str, ApiTypes] = field(default_factory=dict)
    hook_callbacks: dict[str, list[str]] = field(default_factory=dict)
    exec_hooks: bool = False                        # import hook modules (ork validate --exec-hooks)


def _duration(ctx: CheckContext, at: tuple, value: Any, *, allow_zero: bool, what: str) -> float | None:
    if isinstance(value, int) and not isinstance(value, bool):
        if value == 0 and allow_zero:
            return 0.0
        ctx.sink.error(at, f'expected a duration such as "15s" or "1m30s", got the number {value}')
        return None
    try:
        seconds = parse_duration(value)
    except DurationError:
        ctx.sink.error(at, f'invalid duration "{value}": expected a Go duration such as "500ms", "15s" or "1h30m"')
        return None
    if seconds == 0 and allow_zero:
        return 0.0
    if seconds < 1:
        ctx.sink.error(at, f'{what} (got {value})')
        return None
    return seconds


def strings(value: Any, path: tuple) -> Iterator[tuple[tuple, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from strings(v, path + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from strings(v, path + (i,))


def check_templates(ctx: CheckContext, value: Any, path: tuple) -> None:
    """Compile every string leaf that contains `{{`; syntax errors name the field path."""
    from orkestra.template import TemplateSyntaxError, compile_template
    for at, text in strings(value, path):
        if "{{" in text:
            try:
                compile_template(text)
            except TemplateSyntaxError as exc:
                ctx.sink.error(at, f"invalid template: {exc}")


def report_problems(ctx: CheckContext, problems: list[str]) -> None:
    """Record `"<path>: <message>"` lines from the condition and rule checkers."""
    for problem in problems:
        where, _, message = problem.partition(": ")
        if where not in ctx.sink.unknown_paths:
            ctx.sink.error(parse_path_text(where), message)


def check_conditions(ctx: CheckContext, conds: Any, path: tuple) -> None:
    from orkestra.conditions import check_condition_list
    if conds is not None:
        report_problems(ctx, check_condition_list(conds, format_path(path)))


def check_top(doc: dict, ctx: CheckContext) -> None:
    sink = ctx.sink
    kind = doc.get("kind")
    metadata, spec, security = map_at(doc, "metadata"), map_at(doc, "spec"), map_at(doc, "security")
    if kind is not None and kind not in ("Katalog", "Komposer"):   # absent: the schema reports it
        sink.error(("kind",), f'invalid kind "{kind}" (allowed kinds: Katalog, Komposer)')
    if "imports" in doc and kind == "Katalog":
        sink.error(("imports",), "imports is only allowed in kind: Komposer")
    name = metadata.get("name")
    if isinstance(name, str) and (len(name) > 63 or not NAME_RE.match(name)):
        sink.error(("metadata", "name"), f'invalid name "{name}": must be an RFC 1123 label '
                   "(lowercase letters, digits and '-', at most 63 characters)")
    if isinstance(spec.get("crds"), dict) and not spec["crds"]:
        sink.warn(("spec", "crds"), "no CRDs declared: the runtime will idle")
    protection = security.get("namespaceProtection")
    if isinstance(protection, dict) and "allowedNamespaces" in protection and "restrictedNamespaces" in protection:
        sink.error(("security", "namespaceProtection"), "set allowedNamespaces or restrictedNamespaces, not both")


def resolve_api(ctx: CheckContext, key: str, entry: dict) -> ApiTypes | None:
    at = ("spec", "crds", key, "apiTypes")
    api = entry["apiTypes"]
    kind = api["kind"]
    group = api.get("group")
    if group == "core":
        group = ""
    found = builtins.lookup(kind, group)
    if found is None:
        if group is None or not api.get("version") or not api.get("plural"):
            ctx.sink.error(at, f'group, version and plural are required for kind "{kind}" (not a built-in kind)')
            return None
        return ApiTypes(group, api["version"], kind, api["plural"], entry.get("namespaced", True), False)
    return ApiTypes(found.group if group is None else group, api.get("version") or found.version, kind,
                    found.plural, entry.get("namespaced", found.namespaced), True)   # §4: plural from the registry


def check_names(ctx: CheckContext, key: str) -> None:
    at = ("spec", "crds", key)
    if key in RESERVED_KEYS:
        ctx.sink.error(at, f'the CRD key "{key}" is reserved (it would clash with /katalog/{key})')
    elif len(key) > 63 or not NAME_RE.match(key):
        hint = kebab_case(key)
        hint = f' (did you mean "{hint}"?)' if NAME_RE.match(hint) and len(hint) <= 63 else ""
        ctx.sink.error(at, f'invalid CRD key "{key}": must be an RFC 1123 label '
                       f"(lowercase letters, digits and '-', at most 63 characters){hint}")


def kebab_case(key: str) -> str:
    """`platformResource` / `platform_resource` -> `platform-resource` (the did-you-mean for a
    Go-format camelCase CRD key: the key is a URL segment and a metric label, issue 13 C15)."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", key).replace("_", "-").lower()


def check_ranges(ctx: CheckContext, key: str, entry: dict) -> None:
    box = entry.get("operatorBox", {})
    rec = box.get("reconciler", {})
    at = ("spec", "crds", key, "operatorBox", "reconciler")
    if rec.get("default") is False:
        ctx.sink.error(at + ("default",), "custom reconcilers (default: false) are not supported in this version; use hooks")
    workers = rec.get("workers")
    if workers is not None and not 1 <= workers <= 50:
        ctx.sink.error(at + ("workers",), f"must be between 1 and 50 (got {workers})")
    if "resync" in rec:
        _duration(ctx, at + ("resync",), rec["resync"], allow_zero=True,
                  what="must be 0s (disabled) or at least 1s")
    if "timeout" in rec:
        _duration(ctx, at + ("timeout",), rec["timeout"], allow_zero=False, what="must be at least 1s")
    queue = rec.get("queue", {})
    if queue.get("maxDepth") is not None and queue["maxDepth"] < 0:
        ctx.sink.error(at + ("queue", "maxDepth"), f"must be 0 (unlimited) or more (got {queue['maxDepth']})")
    if queue.get("failureThreshold") is not None and queue["failureThreshold"] < 1:
        ctx.sink.error(at + ("queue", "failureThreshold"), f"must be at least 1 (got {queue['failureThreshold']})")
    if queue.get("onLimit") == "drop":
        ctx.sink.warn(at + ("queue", "onLimit"), "drop discards new keys while the queue is full")
    if box.get("deleteTimeout") not in (None, ""):
        _duration(ctx, ("spec", "crds", key, "operatorBox", "deleteTimeout"), box["deleteTimeout"],
                  allow_zero=False, what="must be at least 1s")


def check_rules(ctx: CheckContext, key: str, entry: dict) -> None:
    from orkestra.conditions.rules import check_mutation_rules, check_validation_rules
    base = ("spec", "crds", key)
    rules = (entry.get("validation") or {}).get("rules")
    if rules is not None:
        report_problems(ctx, check_validation_rules(rules, format_path(base + ("validation", "rules"))))
    rules = (entry.get("mutation") or {}).get("rules")
    if rules is not None:
        report_problems(ctx, check_mutation_rules(rules, format_path(base + ("mutation", "rules"))))
    ops = (entry.get("webhooks") or {}).get("operations") or []
    for i, op in enumerate(ops):
        if op == "CONNECT":
            ctx.sink.error(base + ("webhooks", "operations", i),
                           "CONNECT is not supported: it only occurs on subresources, which the rules never cover")
        elif op not in OPERATIONS:
            ctx.sink.error(base + ("webhooks", "operations", i), f'invalid operation "{op}" (allowed: CREATE, UPDATE, DELETE)')
    if "allowedNamespaces" in entry and "restrictedNamespaces" in entry:
        ctx.sink.error(base, "set allowedNamespaces or restrictedNamespaces, not both")
    conversion = entry.get("conversion")
    if conversion:
        for i, path in enumerate(conversion.get("paths") or []):
            check_templates(ctx, path.get("spec"), base + ("conversion", "paths", i, "spec"))


def check_status(ctx: CheckContext, key: str, entry: dict, api: ApiTypes | None) -> None:
    status = entry.get("operatorBox", {}).get("status") or {}
    at = ("spec", "crds", key, "operatorBox", "status")
    fields = status.get("fields") or []
    if api is not None and api.builtin and fields:
        ctx.sink.error(at + ("fields",), f"Orkestra never writes status on a built-in kind ({api.kind})")
        return
    for i, fld in enumerate(fields):
        if status.get("conditions", True) and fld["path"].split(".")[0] in ("conditions", "observedGeneration"):
            ctx.sink.error(at + ("fields", i, "path"), f'"{fld["path"]}" is reserved while conditions: true')
        check_templates(ctx, fld.get("value"), at + ("fields", i, "value"))
        check_conditions(ctx, fld.get("when"), at + ("fields", i, "when"))
        check_conditions(ctx, fld.get("anyOf"), at + ("fields", i, "anyOf"))


def check_hooks(ctx: CheckContext, key: str, entry: dict) -> None:
    hooks = entry.get("operatorBox", {}).get("reconciler", {}).get("hooks")
    if not hooks:
        return
    at = ("spec", "crds", key, "operatorBox", "reconciler", "hooks")
    check_templates(ctx, hooks.get("args"), at + ("args",))
    for i, res in enumerate(hooks.get("managedResources") or []):
        if "plural" not in res and builtins.plural_is_guessed(res.get("apiVersion"), res["kind"]):
            ctx.sink.warn(at + ("managedResources", i), f'plural not set: RBAC assumes "{res["kind"].lower()}s"; set plural')
    module = hooks["module"]
    if "/" in module or not re.fullmatch(r"[A-Za-z_][\w]*(\.[A-Za-z_]\w*)*", module):
        ctx.sink.error(at + ("module",), 'hooks.module must be a Python module path like "pkg.mod"', with_path=False)
        return
    problem, found = check_hook(module, hooks["function"], base_dir=ctx.hook_dirs.get(key, ""), hooks_path=ctx.hooks_path,
                                execute=ctx.exec_hooks)
    if problem:
        ctx.sink.error(at + (problem[0],), problem[1])
    ctx.hook_callbacks[key] = found


