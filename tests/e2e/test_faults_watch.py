"""Watch expiry and stalls (issue 14): a watch that stays open but delivers nothing.

A `StallProxy` sits between an informer's API client and kube-apiserver. `freeze()` silences every
connection open at that moment without closing it (a dead NAT entry looks like this); new
connections flow. The reflector must notice within its stall timeout (`WATCH_STALL_TIMEOUT`,
90 s by default, 4 s here), re-open the watch from its last resourceVersion and deliver the CR
created while it was deaf: docs/runtime.md bounds the delay by the stall timeout plus the time to
open a new watch.

The 410-after-compaction case is tests/e2e/test_informers.py::test_relist_after_410_loses_nothing
(a watch from a resourceVersion the API server no longer has answers 410; the reflector relists,
and the add, update and delete made meanwhile all arrive).
"""
from __future__ import annotations

import logging
import time

import pytest

from orkestra.gvk import GVR
from orkestra.informers import SharedInformerFactory
from orkestra.kube import KubeClient
from orkestra.testing import LocalControlPlane
from orkestra.testing.files import write_private
from orkestra.testing.kubeconfig import with_server
from orkestra.testing.ports import LOOPBACK
from orkestra.testing.stall_proxy import StallProxy
from orkestra.workqueue.timer import Timer
from tests.e2e.faults import report  # noqa: F401
from tests.e2e.ork_runtime import E2E_GROUP, create_cr, crd_manifest, new_kind

STALL_TIMEOUT = 4.0
# detection (the stall timeout) + re-opening the watch, with room for a loaded 2-core machine
BOUND = STALL_TIMEOUT + 3.0


@pytest.fixture
def proxied_kube(control_plane, tmp_path):
    if not isinstance(control_plane, LocalControlPlane):
        pytest.fail("the stall tests put a proxy in front of the local control plane's API server", pytrace=False)
    with StallProxy((LOOPBACK, control_plane.layout.apiserver_port)) as proxy:
        path = write_private(tmp_path / "via-proxy.kubeconfig",
                             with_server(control_plane.kubeconfig.read_text(), proxy.url))
        yield proxy, KubeClient.from_config(str(path))


def test_a_silent_watch_is_reopened_within_the_stall_bound_and_misses_nothing(kube, apply_crd, namespace,
                                                                              proxied_kube, caplog, report):
    proxy, client = proxied_kube
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
    assert stalls, "the stall was detected by the inactivity timeout"
    assert delay >= 1.0, f"the CR arrived {delay:.1f}s after the freeze: the watch was not the frozen connection"
    assert delay <= BOUND, f"the CR arrived {delay:.1f}s after the stall; the bound is {BOUND:.0f}s"
    assert sorted(informer.store.keys()) == [f"{namespace}/before", f"{namespace}/during"], "nothing lost"
    report(stall_timeout_s=STALL_TIMEOUT, frozen_connections=frozen, stalls_logged=len(stalls),
           delivered_after_s=delay, bound_s=BOUND, lost=0)
