"""`orkestra.hooks.HookContext`: what a hook callback receives besides the CR (katalog.md §16).

One context per callback call. Writes go through the reconcile's `ChildWriter`, so objects a
hook applies get the same standard labels and ownership as template children and show up in
`ctx.children` and the `Reconciled` event. Status values and requeue requests are collected
here and read by the reconciler after the call.
"""
from __future__ import annotations

import copy
import logging
import threading
from typing import Any, Callable

from orkestra.errors import OrkestraError
from orkestra.gvk import GVK, GVR
from orkestra.kube.errors import ApiError
from orkestra.reconcile.naming import stamp_identity
from orkestra.reconcile.render import DesiredChild

ResolveKind = Callable[[str, str], "tuple[GVR, bool] | None"]


class HookRequestError(OrkestraError):
    """A `ctx` call a hook made could not be carried out (unknown kind, API failure)."""

    reason = "ReconcileError"


class HookContext:
    """The `ctx` argument of `on_create`, `on_update`, `on_reconcile` and `on_delete`."""

    def __init__(self, *, crd: str, gvk: GVK, key: str, args: dict, cancelled: threading.Event,
                 cr: dict, kube: Any, resolve_kind: ResolveKind, writer: Any,
                 ensure_finalizer: Callable[[], None], emit: Callable[[str, str, str], None]) -> None:
        self.crd = crd
        self.gvk = gvk
        self.key = key
        self.args = args
        self.cancelled = cancelled
        self.log = logging.LoggerAdapter(logging.getLogger("orkestra.hooks"), {"crd": crd, "key": key})
        self._cr = cr
        self._kube = kube
        self._resolve = resolve_kind
        self._writer = writer
        self._ensure_finalizer = ensure_finalizer
        self._emit = emit
        self._dynamic = None
        self.status: dict[str, Any] = {}
        self.requeue: float | None = None

    @property
    def api_client(self):
        """The process's `kubernetes.client.ApiClient`."""
        return self._kube.api_client

    @property
    def dynamic(self):
        """A `kubernetes.dynamic.DynamicClient` (created on first use: it runs discovery)."""
        if self._dynamic is None:
            from kubernetes.dynamic import DynamicClient
            self._dynamic = DynamicClient(self._kube.api_client)
        return self._dynamic

    @property
    def children(self) -> dict:
        """The same structure as the template `.children`."""
        return self._writer.children()

    def _kind(self, api_version: str, kind: str) -> tuple[GVR, bool]:
        resolved = self._resolve(api_version, kind)
        if resolved is None:
            raise HookRequestError(f"the API server does not serve {kind} in {api_version}")
        return resolved

    def apply(self, obj: dict) -> dict:
        """Server-side apply `obj` with standard labels and ownership; returns the live object."""
        manifest = copy.deepcopy(obj)
        gvr, namespaced = self._kind(manifest["apiVersion"], manifest["kind"])
        meta = manifest.setdefault("metadata", {})
        if namespaced:
            meta.setdefault("namespace", self._cr["metadata"].get("namespace"))
            if not meta.get("namespace"):
                raise HookRequestError(f"ctx.apply: {manifest['kind']} {meta.get('name')} needs a namespace")
        else:
            meta.pop("namespace", None)
        tracked = stamp_identity(manifest, self._cr, self.crd, None)
        if tracked:
            self._ensure_finalizer()
        child = DesiredChild(template_id="", type="hook", gvr=gvr, kind=manifest["kind"], namespaced=namespaced,
                             name=meta["name"], namespace=meta.get("namespace"), manifest=manifest, mode="apply",
                             label_tracked=tracked)
        try:
            return self._writer.apply_now(child)
        except ApiError as err:
            raise HookRequestError(f"ctx.apply: {child.ref}: {err.message or err}") from None

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict | None:
        gvr, namespaced = self._kind(api_version, kind)
        try:
            return self._kube.get(gvr, name, namespace if namespaced else None)
        except ApiError as err:
            raise HookRequestError(f"ctx.get: {err}") from None

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> bool:
        gvr, namespaced = self._kind(api_version, kind)
        try:
            return self._kube.delete(gvr, name, namespace if namespaced else None)
        except ApiError as err:
            raise HookRequestError(f"ctx.delete: {err}") from None

    def event(self, type: str, reason: str, message: str) -> None:  # noqa: A002 - the spec's name
        self._emit(type, reason, message)

    def set_status(self, path: str, value: Any) -> None:
        """Merge `value` at `path` (relative to `.status`) into this reconcile's status write."""
        self.status[path] = value

    def requeue_after(self, seconds: float) -> None:
        """Reconcile this CR again after `seconds`, without counting a failure."""
        self.requeue = seconds if self.requeue is None else min(self.requeue, seconds)
