"""Watch expiry and stalls (issue 14): a watch that stays open but delivers nothing.

A `StallProxy` sits between an informer's API client and kube-apiserver. `freeze()` silences every
connection open at that moment without closing it (a dead NAT entry looks like this); new
connections flow. The reflector must notice within its stall timeout (`WATCH_STALL_TIMEOUT`,
90 s by default, 4 s here), re-open the watch from its last resourceVersion and deliver the CR
created while it was deaf: docs/runtime.md bounds the delay by the stall timeout plus the time to
open a new watch.

The same through `ork run`: its reconcile writes must not hang on the frozen idle connections of
its pool (after a stall the client opens fresh ones), so a CR created during the freeze is
reconciled within the same bound.

A 410 after etcd compaction: `ork run` is cut off (the proxy's `partition()`) while CRs are
created, updated and deleted, etcd is compacted and kube-apiserver restarted (so neither etcd nor
the watch cache still has the runtime's resourceVersion); when the runtime reaches the server
again its watches get 410, it relists, and every change made while it was away is reconciled.
(tests/e2e/test_informers.py::test_relist_after_410_loses_nothing covers the informer alone.)
"""
from __future__ import annotations

import logging
import time

import pytest

from orkestra.gvk import GVR
from orkestra.informers import SharedInformerFactory
from orkestra.kube import KubeClient
from orkestra.testing.files import write_private
from orkestra.testing.kubeconfig import with_server
from orkestra.testing.ports import LOOPBACK
from orkestra.testing.stall_proxy import StallProxy
from orkestra.workqueue.timer import Timer
from tests.e2e.faults import CONFIGMAPS, local_cp, report, time_until  # noqa: F401
from tests.e2e.ork_runtime import E2E_GROUP, create_cr, crd_entry, crd_manifest, katalog_doc, new_kind, ork_runtime  # noqa: F401

STALL_TIMEOUT = 4.0
# detection (the stall timeout) + re-opening the watch, with room for a loaded 2-core machine
BOUND = STALL_TIMEOUT + 3.0


@pytest.fixture
def proxied_kube(local_cp, tmp_path):
    """(a StallProxy in front of the API server, an admin kubeconfig that goes through it)"""
    with StallProxy((LOOPBACK, local_cp.layout.apiserver_port)) as proxy:
        path = write_private(tmp_path / "via-proxy.kubeconfig",
                             with_server(local_cp.kubeconfig.read_text(), proxy.url))
        yield proxy, path


def test_a_silent_watch_is_reopened_within_the_stall_bound_and_misses_nothing(kube, apply_crd, namespace,
                                                                              proxied_kube, caplog, report):
    proxy, path = proxied_kube
    client = KubeClient.from_config(str(path))
    kind, plural = new_kind("Quiet")
    apply_crd(crd_manifest(kind, plural))
    gvr = GVR(E2E_GROUP, "v1", plural)
    timer = Timer()
    factory = SharedInformerFactory(client, timer=timer, stall_timeout=STALL_TIMEOUT)
    try:
        informer = factory.informer(gvr, namespace)
        informer.start()
        assert informer.wait_for_sync(20)
        # an idle watch carries no bytes, so it is re-opened every stall timeout: freeze it right
        # after an event reset its timer, so the silence that follows is the proxy's doing
        create_cr(kube, kind, plural, "before", namespace)
        deadline = time.monotonic() + 10
        while informer.store.get(f"{namespace}/before") is None:
            assert time.monotonic() < deadline, "the watch works before the stall"
            time.sleep(0.01)

        caplog.set_level(logging.WARNING, logger="orkestra.informers")
        frozen = proxy.freeze()
        frozen_at = time.monotonic()
        create_cr(kube, kind, plural, "during", namespace)   # straight to the API server, not via the proxy
        while informer.store.get(f"{namespace}/during") is None:
            assert time.monotonic() - frozen_at < 30, "the CR created during the stall never arrived"
            time.sleep(0.05)
        delay = time.monotonic() - frozen_at
    finally:
        factory.stop_all()
        timer.stop()
    stalls = [r for r in caplog.records if r.getMessage() == "watch stalled, reconnecting"]
    assert stalls, f"the stall was detected by the inactivity timeout (frozen {frozen}, delay {delay:.1f}s)"
    assert delay >= 1.0, f"the CR arrived {delay:.1f}s after the freeze: the watch was not the frozen connection"
    assert delay <= BOUND, f"the CR arrived {delay:.1f}s after the stall; the bound is {BOUND:.0f}s"
    assert sorted(informer.store.keys()) == [f"{namespace}/before", f"{namespace}/during"], "nothing lost"
    report(stall_timeout_s=STALL_TIMEOUT, frozen_connections=frozen, stalls_logged=len(stalls),
           delivered_after_s=delay, bound_s=BOUND, lost=0)


def test_a_410_after_etcd_compaction_relists_and_misses_no_cr(local_cp, kube, apply_crd, namespace,
                                                             proxied_kube, ork_runtime, report):
    proxy, path = proxied_kube
    kind, plural = new_kind("Compact")
    apply_crd(crd_manifest(kind, plural))
    gvr = GVR(E2E_GROUP, "v1", plural)
    ork = ork_runtime(katalog_doc("compact", {"compact": crd_entry(kind, plural, workers=4)}),
                      env={"WATCH_NAMESPACE": namespace}, kubeconfig=path)
    for name in ("keep", "change", "remove"):
        create_cr(kube, kind, plural, name, namespace, {"value": "v1"})
    for name in ("keep", "change", "remove"):
        time_until(lambda n=name: kube.get(CONFIGMAPS, f"{n}-config", namespace), 30, f"{name} reconciled")

    proxy.partition()
    # the first restart ends the runtime's watches with nothing in flight, so all it can learn of
    # the changes below is what a new watch or list tells it
    local_cp.restart("kube-apiserver")
    create_cr(kube, kind, plural, "new", namespace, {"value": "v1"})
    kube.patch(gvr, "change", {"spec": {"value": "v2"}}, namespace)
    kube.delete(gvr, "remove", namespace)
    revision = local_cp.compact_etcd()
    local_cp.restart("kube-apiserver")   # a fresh watch cache: it starts after the changes
    proxy.resume()

    def caught_up():
        changed = (kube.get(CONFIGMAPS, "change-config", namespace) or {}).get("data", {}).get("value") == "v2"
        status, body = ork.get("/katalog/compact")
        return (changed and kube.get(CONFIGMAPS, "new-config", namespace) is not None
                and status == 200 and body.get("resourceCount") == 3)

    caught = time_until(caught_up, 90, "the runtime catching up after the 410")
    assert ork.alive()
    relists = [line for line in ork.log_lines() if line.get("message") == "watch expired, relisting"
               and plural in line.get("resource", "")]
    assert relists and "too old resource version" in relists[0]["error"], "the CR watch got 410 and relisted"
    not_found = [line["message"] for line in ork.log_lines() if line.get("level") == "error" and "404" in line["message"]]
    assert not_found == [], "reconciles of the CR deleted while the cache was stale are not failures"
    report(compacted_to=revision, caught_up_after_resume_s=caught, lost=0)


def test_ork_run_with_silent_connections_reconciles_within_the_stall_bound(kube, apply_crd, namespace, proxied_kube,
                                                                          ork_runtime, report):
    proxy, path = proxied_kube
    kind, plural = new_kind("Hushed")
    apply_crd(crd_manifest(kind, plural))
    ork = ork_runtime(katalog_doc("hushed", {"hushed": crd_entry(kind, plural)}), kubeconfig=path,
                      env={"WATCH_NAMESPACE": namespace, "WATCH_STALL_TIMEOUT": f"{STALL_TIMEOUT:.0f}s"})
    create_cr(kube, kind, plural, "before", namespace, {"value": "v"})
    time_until(lambda: kube.get(CONFIGMAPS, "before-config", namespace), 30, "before reconciled")
    frozen = proxy.freeze()
    create_cr(kube, kind, plural, "during", namespace, {"value": "v"})
    delay = time_until(lambda: kube.get(CONFIGMAPS, "during-config", namespace), 90, "during reconciled")
    proxy.resume()       # let the frozen requests end, so shutdown does not wait for their timeouts
    stalls = [line for line in ork.log_lines() if line.get("message") == "watch stalled, reconnecting"]
    assert stalls, "the silent watch was noticed"
    report(stall_timeout_s=STALL_TIMEOUT, frozen_connections=frozen, reconciled_after_s=delay, lost=0)
    assert delay <= BOUND, f"reconciled {delay:.1f}s after the freeze; the bound is {BOUND:.0f}s"
