"""The `.children` template context (docs/katalog.md#templates), built from the objects a reconcile knows.

`.children.<lowercase kind>` is the first child of that kind in declaration order,
`.children.all.<lowercase kind>` every child of that kind, `.children.byName.<name>` one child
by name, `.children.customs.<name>` one `custom` child by name (the Go Orkestra's name for it,
issue 13 C9). Objects produced in this reconcile come first and replace their cached copies.
"""
from __future__ import annotations

from orkestra.reconcile.naming import LABEL_TEMPLATE


def _identity(obj: dict) -> tuple:
    meta = obj.get("metadata") or {}
    return obj.get("apiVersion"), obj.get("kind"), meta.get("namespace"), meta.get("name")


def _is_custom(template_id: str) -> bool:
    """Template ids are `<phase>.<type>.<index>`."""
    return template_id.split(".")[1:2] == ["custom"]


def children_context(produced: list[dict], cached: list[dict]) -> dict:
    """Merge this reconcile's objects (first, authoritative) with the cached children."""
    seen = {_identity(o) for o in produced}
    ordered = list(produced) + [o for o in cached if _identity(o) not in seen]
    ctx: dict = {"all": {}, "byName": {}, "customs": {}}
    for obj in ordered:
        kind = str(obj.get("kind", "")).lower()
        meta = obj.get("metadata") or {}
        ctx.setdefault(kind, obj)
        ctx["all"].setdefault(kind, []).append(obj)
        ctx["byName"].setdefault(meta.get("name"), obj)
        if _is_custom((meta.get("labels") or {}).get(LABEL_TEMPLATE, "")):
            ctx["customs"].setdefault(meta.get("name"), obj)
    return ctx
