"""The reconcile side of a hook call (docs/katalog.md#hooks): the `HookHost` a `HookContext` writes
through, and the hook `args` rendered for one CR.

`orkestra.hooks` defines the context and the `HookHost` protocol and imports nothing from here;
this module supplies the implementation, so the dependency between the two packages points one
way: reconcile → hooks.
"""
from __future__ import annotations

import copy
from typing import Any, Callable, Mapping

from orkestra.gvk import GVR
from orkestra.reconcile.errors import RenderError
from orkestra.reconcile.naming import stamp_identity
from orkestra.reconcile.render import DesiredChild
from orkestra.reconcile.writer import ChildWriter
from orkestra.template import TemplateEvalError, compile_template, is_template

ResolveKind = Callable[[str, str], "tuple[GVR, bool] | None"]


def render_hook_args(args: Mapping[str, Any], cr: dict, path: str) -> dict:
    """§16: "string values are templates, rendered per CR before each call; other values are
    passed as they are". A string renders to a string (an empty one is kept); maps, lists and
    numbers are copied untouched, so a hook cannot change the Katalog's own values."""
    out: dict[str, Any] = {}
    for name, value in args.items():
        if isinstance(value, str) and is_template(value):
            try:
                out[name] = compile_template(value).render(cr)
            except TemplateEvalError as err:
                raise RenderError(f"template error at {path}.{name}: {err}") from None
        else:
            out[name] = copy.deepcopy(value)
    return out


class ReconcileHookHost:
    """`HookHost` for one hook call: writes go through this reconcile's `ChildWriter`."""

    def __init__(self, *, cr: dict, crd: str, writer: ChildWriter, resolve_kind: ResolveKind,
                 ensure_finalizer: Callable[[], None], emit: Callable[[str, str, str], None]) -> None:
        self._cr = cr
        self._crd = crd
        self._writer = writer
        self._resolve = resolve_kind
        self._ensure_finalizer = ensure_finalizer
        self._emit = emit

    def resolve_kind(self, api_version: str, kind: str) -> tuple[GVR, bool] | None:
        return self._resolve(api_version, kind)

    def apply(self, manifest: dict, gvr: GVR, namespaced: bool) -> dict:
        """Standard labels and ownership (§7.5); a label-tracked object gets the CR's finalizer
        first, so the deletion flow is sure to run for it."""
        tracked = stamp_identity(manifest, self._cr, self._crd, None)
        if tracked:
            self._ensure_finalizer()
        meta = manifest["metadata"]
        child = DesiredChild(template_id="", type="hook", gvr=gvr, kind=manifest["kind"], namespaced=namespaced,
                             name=meta["name"], namespace=meta.get("namespace"), manifest=manifest, mode="apply",
                             label_tracked=tracked)
        return self._writer.apply_now(child)

    def children(self) -> dict:
        return self._writer.children()

    def event(self, type_: str, reason: str, message: str) -> None:
        self._emit(type_, reason, message)
