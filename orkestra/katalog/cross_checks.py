"""Checks across CRD entries (docs/katalog.md#apitypes, §5, §13): duplicate watches, dependsOn names and
cycles, conversion groups. They read the `ApiTypes` resolved by the per-entry checks.
"""
from __future__ import annotations

from typing import Any

from orkestra.katalog.checks import CheckContext
from orkestra.katalog.deps import find_cycles, parse_depends_on


def check_dependencies(ctx: CheckContext, crds: dict) -> None:
    enabled = {k for k, e in crds.items() if isinstance(e, dict) and e.get("enabled", True) is not False}
    graph: dict[str, list[str]] = {}
    for key in sorted(enabled):
        at = ("spec", "crds", key, "dependsOn")
        deps, problems = parse_depends_on(crds[key].get("dependsOn"))
        if key not in ctx.apis:
            problems = []  # the schema already reported this entry
        for rel, message in problems:
            ctx.sink.error(at + rel, message)
        graph[key] = []
        for dep in deps:
            if dep.name not in enabled:
                ctx.sink.error(at, f'"{dep.name}" is not an enabled CRD in this Katalog')
            else:
                graph[key].append(dep.name)
    for key, message in find_cycles(graph).items():
        ctx.sink.error(("spec", "crds", key), message, with_path=False)


def check_duplicate_watches(ctx: CheckContext, crds: dict) -> None:
    seen: dict[tuple, str] = {}
    for key in sorted(ctx.apis):
        entry = crds[key]
        if not entry.get("enabled", True):
            continue
        api = ctx.apis[key]
        ident = (api.gvk, entry.get("namespace", ""), tuple(sorted((entry.get("labelSelector") or {}).items())),
                 tuple(sorted((entry.get("fieldSelector") or {}).items())))
        if ident in seen:
            ctx.sink.error(("spec", "crds", key), f'watches the same kind and selectors as "{seen[ident]}"')
        else:
            seen[ident] = key


def _declared_versions(crds: dict) -> dict[tuple[str, str], set[str]]:
    """Versions written in every entry's apiTypes, invalid entries included: an error in one
    member of a conversion group must not make its version look undeclared to the others."""
    out: dict[tuple[str, str], set[str]] = {}
    for entry in crds.values():
        api = entry.get("apiTypes") if isinstance(entry, dict) else None
        if isinstance(api, dict) and all(isinstance(api.get(k), str) for k in ("group", "kind", "version")):
            out.setdefault((api["group"], api["kind"]), set()).add(api["version"])
    return out


def check_conversion_groups(ctx: CheckContext, crds: dict) -> None:
    groups: dict[tuple[str, str], list[str]] = {}
    for key in sorted(ctx.apis):
        api = ctx.apis[key]
        groups.setdefault((api.group, api.kind), []).append(key)
    declared = _declared_versions(crds)
    for (group, kind), members in groups.items():
        versions = {ctx.apis[k].version for k in members} | declared.get((group, kind), set())
        storage: tuple[str, str] | None = None
        paths: dict[tuple[str, str], tuple[str, Any]] = {}
        for key in members:
            conv = crds[key].get("conversion")
            if not conv:
                continue
            at = ("spec", "crds", key, "conversion")
            sv = conv["storageVersion"]
            if sv not in versions:
                ctx.sink.error(at + ("storageVersion",), f'"{sv}" is not a version of any entry for kind {ctx.apis[key].kind} '
                               f"(declared: {', '.join(sorted(versions))})")
            if storage is None:
                storage = (key, sv)
            elif storage[1] != sv:
                ctx.sink.error(at + ("storageVersion",), f'"{sv}" differs from "{storage[1]}" declared by "{storage[0]}"')
            for i, path in enumerate(conv.get("paths") or []):
                for end in ("from", "to"):
                    if path[end] not in versions:
                        ctx.sink.error(at + ("paths", i, end), f'"{path[end]}" is not a version of any entry for kind '
                                       f"{ctx.apis[key].kind} (declared: {', '.join(sorted(versions))})")
                ident = (path["from"], path["to"])
                spec = path.get("spec")
                if ident in paths and paths[ident][1] != spec:
                    ctx.sink.error(at + ("paths", i), f'conflicting conversion paths from {ident[0]} to {ident[1]} '
                                   f'in "{paths[ident][0]}" and "{key}"')
                paths.setdefault(ident, (key, spec))
