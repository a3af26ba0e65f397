"""JSON patches of the CR's own metadata guarded by its resourceVersion (docs/runtime.md §2, §10.3 step 5).

Finalizer lists and Orkestra's record annotations are written whole, so a write computed from a
stale copy would undo someone else's change. Every such patch therefore starts with a `test` of
`/metadata/resourceVersion`. When the API server answers 409, or 422 and a fresh read shows the
CR did change (a failed `test`), the ops are computed again from the fresh CR and sent once more;
a 422 on an unchanged CR is a refusal (a CEL rule, a ValidatingAdmissionPolicy) and is raised as
it is, so callers can count it as a failure instead of retrying at once.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from orkestra.errors import OrkestraError
from orkestra.gvk import GVR
from orkestra.kube.errors import ApiError
from orkestra.reconcile import crmeta

BuildOps = Callable[[dict], list[dict]]


class CrApi(Protocol):
    """The two calls of `orkestra.kube.KubeClient` a guarded patch needs."""

    def get(self, gvr: GVR, name: str, namespace: str | None = None) -> dict | None: ...

    def patch(self, gvr: GVR, name: str, body: object, namespace: str | None = None,
              patch_type: str = "merge", subresource: str | None = None) -> dict: ...


class CrChanged(OrkestraError):
    """The CR changed under two guarded patches in a row; the caller should try again later."""


def guard(cr: dict) -> dict:
    return {"op": "test", "path": "/metadata/resourceVersion", "value": cr["metadata"]["resourceVersion"]}


def patch_cr(kube: CrApi, gvr: GVR, cr: dict, build: BuildOps) -> dict | None:
    """Send `build(cr)` guarded by `cr`'s resourceVersion; returns the CR after the write (`cr`
    itself when `build` has nothing to do), or None when the CR is gone.

    Raises `CrChanged` when the CR changed again before the retry, and `ApiError` for a refusal
    or any other failure."""
    meta = cr["metadata"]
    name, namespace = meta["name"], meta.get("namespace")
    for _ in range(2):
        ops = build(cr)
        if not ops:
            return cr
        try:
            return kube.patch(gvr, name, [guard(cr), *ops], namespace, patch_type="json")
        except ApiError as err:
            if err.not_found:
                return None
            if err.status not in (409, 422):
                raise
            fresh = kube.get(gvr, name, namespace)
            if fresh is None:
                return None
            unchanged = fresh["metadata"].get("resourceVersion") == cr["metadata"]["resourceVersion"]
            if err.status == 422 and unchanged:
                raise
            cr = fresh
    raise CrChanged(f"{gvr.resource} {name}: changed while Orkestra was updating it; trying again")


def release(kube: CrApi, gvr: GVR, cr: dict, declared: list[str]) -> list[str]:
    """Remove Orkestra's finalizers from `cr` (its own, `declared`, and every one it recorded
    adding) and its record annotations, keeping everyone else's; returns the finalizers removed.
    Raises like `patch_cr`."""
    removed: list[str] = []

    def build(fresh: dict) -> list[dict]:
        ops, names = crmeta.remove_finalizers_patch(fresh, crmeta.finalizers_to_remove(fresh, declared))
        removed[:] = names
        return ops

    patch_cr(kube, gvr, cr, build)
    return removed
