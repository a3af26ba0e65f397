"""Control-plane faults: kube-apiserver or etcd SIGKILLed and restarted while `ork run` works
through a burst of CR creates and updates (issue 14, "Control-plane faults").

The burst is the issue's 500 CRs (500 creates, then 500 updates; about 10 s of writes here). The
fault lands when half the CRs are created, so creates, updates and reconciles are all in flight.
Each test ends with every CR converged (its ConfigMap holds the final value: nothing lost), `ork
run` alive, and `/health` never anything but 200. The figures are printed as `[faults] ...`.
"""
from __future__ import annotations

import datetime
import os
import signal
import time
import uuid

import pytest

from orkestra.testing.errors import ControlPlaneError
from tests.e2e.faults import (CONFIGMAPS, Burst, HealthWatch, audited_writes, local_cp, report,  # noqa: F401
                              runtime_user, time_until)
from tests.e2e.ork_runtime import crd_entry, crd_manifest, katalog_doc, new_kind, ork_runtime  # noqa: F401

BURST = 500
CONVERGE_TIMEOUT = 120.0


@pytest.mark.parametrize("component", ["kube-apiserver", "etcd"])
def test_restart_keeps_the_data_and_serves_again(local_cp, kube, namespace, component):
    configmap = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "before"}, "data": {"k": "v"}}
    kube.create(CONFIGMAPS, configmap, namespace)
    before = {c.name: c.pid for c in local_cp.components}

    downtime = local_cp.restart(component)

    after = {c.name: c.pid for c in local_cp.components}
    assert after[component] != before[component], "a new process"
    assert {n: p for n, p in after.items() if n != component} == \
        {n: p for n, p in before.items() if n != component}, "the others were left alone"
    assert [c.name for c in local_cp.components] == ["etcd", "kube-apiserver", "kube-controller-manager"]
    local_cp.check()
    time_until(lambda: kube.get(CONFIGMAPS, "before", namespace), 30, "the API server answering again")
    assert kube.get(CONFIGMAPS, "before", namespace)["data"] == {"k": "v"}
    assert downtime < 90


def _broken(cp) -> bool:
    try:
        cp.check()
    except ControlPlaneError:
        return True
    return False


def test_recover_starts_again_what_a_failed_fault_test_left_stopped(local_cp, kube, namespace):
    """What the local_cp fixture's teardown relies on: a test that fails between a kill and its
    restart must not leave the session's control plane broken for the tests after it."""
    assert local_cp.recover() == [], "nothing to do when all runs"
    etcd = next(c for c in local_cp.components if c.name == "etcd")
    os.kill(etcd.pid, signal.SIGKILL)
    time_until(lambda: _broken(local_cp), 10, "etcd seen as dead")
    assert local_cp.recover() == ["etcd"]
    local_cp.check()
    kube.create(CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "after"}}, namespace)
    assert kube.get(CONFIGMAPS, "after", namespace) is not None


@pytest.mark.parametrize("component", ["kube-apiserver", "etcd"])
def test_runtime_rides_out_a_restart_in_the_middle_of_a_burst(local_cp, kube, namespace, apply_crd, ork_runtime,
                                                              report, component):
    kind, plural = new_kind("Burst")
    apply_crd(crd_manifest(kind, plural))
    user = f"ork-burst-{uuid.uuid4().hex[:6]}"     # its own user: the audit log shows when it writes again
    ork = ork_runtime(katalog_doc("burst", {"burst": crd_entry(kind, plural, workers=4)}),
                      env={"WATCH_NAMESPACE": namespace}, kubeconfig=runtime_user(local_cp, user))
    burst = Burst(kube, kind, plural, namespace, BURST)
    with HealthWatch(ork) as health:
        burst.start()
        assert burst.halfway.wait(120), "the burst never got halfway"
        downtime = local_cp.restart(component)
        restarted, back = time.monotonic(), datetime.datetime.now(datetime.timezone.utc)
        burst.join()
        converge = burst.wait_converged(CONVERGE_TIMEOUT)
        total = time.monotonic() - restarted
    assert ork.alive(), f"ork run exited with {ork.proc.returncode}\n{ork.log_tail()}"
    assert health.polls > 10 and health.bad == [], f"/health was not 200: {health.bad[:5]}"
    assert burst.not_converged() == []
    # reconnect: from the API server answering /readyz again to the runtime's first write after it
    first = min(e.received for e in audited_writes(local_cp, namespace, {plural, "configmaps"})
                if e.user == user and e.received >= back)
    reconnect = (first - back).total_seconds()
    report(component=component, crs=BURST, downtime_s=downtime, reconnect_s=reconnect,
           converged_after_restart_s=total, converge_after_burst_s=converge,
           burst_s=burst.seconds, client_retries=burst.failed_tries, lost=0)
