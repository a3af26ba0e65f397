"""A reconcile from a cache that has not yet seen its CR's delete (issue 14, the soak's leftovers).

Under churn, kube-controller-manager's garbage collector deletes the ConfigMap of a deleted CR;
that delete queues the CR again, and a cache that still holds the CR has the ConfigMap applied
anew: an object whose owner no longer exists, written by Orkestra. The reconciler then reads the
CR, finds it gone and deletes what it created. The test drives the reconciler directly with a
runtime that serves the CR as it was before the delete, and reads from the audit log who wrote
the ConfigMap: the garbage collector deletes such objects too, so only the audit log tells
Orkestra's own delete from the collector's. The test removes the ConfigMap itself, as the
collector would: the collector learns a CRD created moments before only at its next discovery
resync (up to 30 s), and waiting for it cost this test 40 s.
"""
from __future__ import annotations

import threading
import uuid

from orkestra.kube import KubeClient
from orkestra.reconcile import build_reconciler
from orkestra.testing.audit import read_audit_log
from tests.e2e.faults import CONFIGMAPS, local_cp, runtime_user  # noqa: F401
from tests.e2e.test_reconcile_direct import GROUP, DirectRuntime, website_crd
from tests.unit.reconcile.factory import make_entry, make_katalog


class StaleRuntime(DirectRuntime):
    """Reads the live API server, except for the CRs `freeze` pinned as they were then."""

    def __init__(self, *args) -> None:
        super().__init__(*args)
        self.frozen: dict[str, dict] = {}

    def freeze(self, key: str) -> None:
        self.frozen[key] = super().cached(key)

    def cached(self, key: str) -> dict | None:
        return self.frozen[key] if key in self.frozen else super().cached(key)


def test_a_child_recreated_for_a_cr_deleted_behind_a_stale_cache_is_deleted_by_orkestra(local_cp, namespace,
                                                                                          apply_crd, kube):
    suffix = uuid.uuid4().hex[:6]
    kind, plural = f"Stale{suffix}", f"stale{suffix}s"
    apply_crd(website_crd(plural, kind))
    user = f"ork-stale-{suffix}"
    ork_kube = KubeClient.from_config(str(runtime_user(local_cp, user)))
    entry = make_entry("website", templates={"onReconcile": {"configMaps": [{"data": {"a": "b"}}]}})
    entry.api = type(entry.api)(GROUP, "v1alpha1", kind, plural, True, False)
    katalog = make_katalog(entry, name="e2e-katalog")
    runtime = StaleRuntime(ork_kube, entry, katalog)
    reconciler = build_reconciler(entry, katalog=katalog, runtime=runtime)
    key = f"{namespace}/site"
    kube.create(entry.api.gvr, {"apiVersion": f"{GROUP}/v1alpha1", "kind": kind, "metadata": {"name": "site"},
                                "spec": {}}, namespace)
    for _ in range(2):          # converged: Ready written, nothing left to write to the CR
        reconciler.reconcile(key, threading.Event())
    assert kube.get(CONFIGMAPS, "site-config", namespace) is not None

    runtime.freeze(key)
    kube.delete(entry.api.gvr, "site", namespace)
    assert kube.delete(CONFIGMAPS, "site-config", namespace)         # the garbage collector's work
    assert reconciler.reconcile(key, threading.Event()).requeue_after is None

    assert kube.get(CONFIGMAPS, "site-config", namespace) is None
    ours = [(e.verb, e.code) for e in read_audit_log(local_cp.audit_log)
            if e.user == user and e.resource == "configmaps" and e.name == "site-config"]
    # the first apply created it, the reconcile from the stale CR created it again (201), then
    # deleted it: 200, or 404 when the garbage collector was quicker
    assert ours[:2] == [("patch", 201), ("patch", 201)] and len(ours) == 3, ours
    assert ours[2][0] == "delete" and ours[2][1] in (200, 404), ours
