"""`orkestra.hooks.HookContext`: what a hook callback receives besides the CR (docs/katalog.md#hooks).

One context per callback call. The context resolves kinds, defaults namespaces and words errors
for the hook author; the writing itself is done by a `HookHost` that the reconciler supplies, so
objects a hook applies get the same standard labels and ownership as template children and show
up in `ctx.children` and the `Reconciled` event. This module imports nothing from
`orkestra.reconcile`: the reconciler depends on hooks, never the other way round. Status values
and requeue requests are collected here and read by the reconciler after the call.
"""
from __future__ import annotations

import copy
import logging
import threading
from typing import TYPE_CHECKING, Any, Protocol

from orkestra.errors import OrkestraError
from orkestra.gvk import GVK, GVR
from orkestra.kube.errors import ApiError

if TYPE_CHECKING:     # imported on first use below: kubernetes.dynamic is slow to import
    from kubernetes.client import ApiClient

    from orkestra.kube.dynamic import TimedDynamicClient


class HookRequestError(OrkestraError):
    """A `ctx` call a hook made could not be carried out (unknown kind, API failure)."""

    reason = "ReconcileError"


class HookKube(Protocol):
    """The part of `orkestra.kube.KubeClient` a hook reaches through its context."""

    @property
    def api_client(self) -> ApiClient: ...

    def get(self, gvr: GVR, name: str, namespace: str | None = None) -> dict | None: ...

    def delete(self, gvr: GVR, name: str, namespace: str | None = None) -> bool: ...


class HookHost(Protocol):
    """The reconcile a hook runs in (implemented by `orkestra.reconcile.hookhost`)."""

    def resolve_kind(self, api_version: str, kind: str) -> tuple[GVR, bool] | None: ...

    def apply(self, manifest: dict, gvr: GVR, namespaced: bool) -> dict:
        """Stamp identity (finalizer first when label-tracked), write, return the live object.
        Raises `ApiError` when the API server refuses the write."""
        ...

    def children(self) -> dict: ...

    def event(self, type_: str, reason: str, message: str) -> None: ...


class HookContext:
    """The `ctx` argument of `on_create`, `on_update`, `on_reconcile` and `on_delete`."""

    def __init__(self, *, crd: str, gvk: GVK, key: str, args: dict, cancelled: threading.Event,
                 cr: dict, kube: HookKube, host: HookHost) -> None:
        self.crd = crd
        self.gvk = gvk
        self.key = key
        self.args = args
        self.cancelled = cancelled
        self.log = logging.LoggerAdapter(logging.getLogger("orkestra.hooks"), {"crd": crd, "key": key})
        self._namespace: str | None = cr["metadata"].get("namespace")
        self._kube = kube
        self._host = host
        self._dynamic: TimedDynamicClient | None = None
        self.status: dict[str, Any] = {}
        self.requeue: float | None = None

    @property
    def api_client(self) -> ApiClient:
        """The process's `kubernetes.client.ApiClient`."""
        return self._kube.api_client

    @property
    def dynamic(self) -> TimedDynamicClient:
        """A `kubernetes.dynamic.DynamicClient` with Orkestra's request timeouts (created on first
        use: it runs discovery)."""
        if self._dynamic is None:
            from orkestra.kube.dynamic import TimedDynamicClient
            self._dynamic = TimedDynamicClient(self._kube.api_client)
        return self._dynamic

    @property
    def children(self) -> dict:
        """The same structure as the template `.children`."""
        return self._host.children()

    def _kind(self, call: str, api_version: str, kind: str, name: str,
              namespace: str | None) -> tuple[GVR, str | None]:
        """(resource, namespace to use): namespaced kinds default to the CR's namespace, like
        `apply`; cluster-scoped kinds never get one."""
        resolved = self._host.resolve_kind(api_version, kind)
        if resolved is None:
            raise HookRequestError(f"the API server does not serve {kind} in {api_version}")
        gvr, namespaced = resolved
        if not namespaced:
            return gvr, None
        namespace = namespace or self._namespace
        if not namespace:
            raise HookRequestError(f"ctx.{call}: {kind} {name} needs a namespace")
        return gvr, namespace

    def apply(self, obj: dict) -> dict:
        """Server-side apply `obj` with standard labels and ownership; returns the live object.

        An incomplete object is the hook author's mistake: it fails the reconcile with a message
        saying what is missing, not with a `KeyError` panic from deep inside the write."""
        if not isinstance(obj, dict):
            raise HookRequestError(f"ctx.apply: the object must be a map, not {type(obj).__name__}")
        manifest = copy.deepcopy(obj)
        meta = manifest.setdefault("metadata", {})
        missing = [field for field, value in (("apiVersion", manifest.get("apiVersion")),
                                              ("kind", manifest.get("kind")),
                                              ("metadata.name", meta.get("name") if isinstance(meta, dict) else None))
                   if not isinstance(value, str) or not value]
        if missing:
            raise HookRequestError(f"ctx.apply: the object needs {', '.join(missing)}")
        gvr, namespace = self._kind("apply", manifest["apiVersion"], manifest["kind"], meta.get("name"),
                                    meta.get("namespace"))
        if namespace is None:
            meta.pop("namespace", None)
        else:
            meta["namespace"] = namespace
        try:
            return self._host.apply(manifest, gvr, namespace is not None)
        except ApiError as err:
            where = f"{namespace}/{meta.get('name')}" if namespace else meta.get("name")
            raise HookRequestError(f"ctx.apply: {manifest['kind']} {where}: {err.message or err}") from None

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict | None:
        gvr, namespace = self._kind("get", api_version, kind, name, namespace)
        try:
            return self._kube.get(gvr, name, namespace)
        except ApiError as err:
            raise HookRequestError(f"ctx.get: {err}") from None

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> bool:
        gvr, namespace = self._kind("delete", api_version, kind, name, namespace)
        try:
            return self._kube.delete(gvr, name, namespace)
        except ApiError as err:
            raise HookRequestError(f"ctx.delete: {err}") from None

    def event(self, type: str, reason: str, message: str) -> None:  # noqa: A002 - the spec's name
        self._host.event(type, reason, message)

    def set_status(self, path: str, value: Any) -> None:
        """Merge `value` at `path` (relative to `.status`) into this reconcile's status write."""
        self.status[path] = value

    def requeue_after(self, seconds: float) -> None:
        """Reconcile this CR again after `seconds`, without counting a failure."""
        self.requeue = seconds if self.requeue is None else min(self.requeue, seconds)
