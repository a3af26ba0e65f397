"""The `.children` template context (katalog.md §9.2), built from the objects a reconcile knows.

`.children.<lowercase kind>` is the first child of that kind in declaration order,
`.children.all.<lowercase kind>` every child of that kind, `.children.byName.<name>` one child
by name. Objects produced in this reconcile come first and replace their cached copies.
"""
from __future__ import annotations


def _identity(obj: dict) -> tuple:
    meta = obj.get("metadata") or {}
    return obj.get("apiVersion"), obj.get("kind"), meta.get("namespace"), meta.get("name")


def children_context(produced: list[dict], cached: list[dict]) -> dict:
    """Merge this reconcile's objects (first, authoritative) with the cached children."""
    seen = {_identity(o) for o in produced}
    ordered = list(produced) + [o for o in cached if _identity(o) not in seen]
    ctx: dict = {"all": {}, "byName": {}}
    for obj in ordered:
        kind = str(obj.get("kind", "")).lower()
        ctx.setdefault(kind, obj)
        ctx["all"].setdefault(kind, []).append(obj)
        ctx["byName"].setdefault((obj.get("metadata") or {}).get("name"), obj)
    return ctx
