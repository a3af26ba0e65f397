"""Control-plane faults: kube-apiserver or etcd SIGKILLed and restarted while `ork run` works
through a burst of CR creates and updates (issue 14, "Control-plane faults").

The burst is the issue's 500 CRs (500 creates, then 500 updates; about 10 s of writes here). The
fault lands when half the CRs are created, so creates, updates and reconciles are all in flight.
Each test ends with every CR converged (its ConfigMap holds the final value: nothing lost), `ork
run` alive, and `/health` never anything but 200. The figures are printed as `[faults] ...`.
"""
from __future__ import annotations

import time

import pytest

from orkestra.gvk import GVR
from orkestra.testing import LocalControlPlane
from tests.e2e.faults import CONFIGMAPS, Burst, HealthWatch, report, time_until  # noqa: F401
from tests.e2e.ork_runtime import create_cr, crd_entry, crd_manifest, katalog_doc, new_kind, ork_runtime  # noqa: F401

BURST = 500
CONVERGE_TIMEOUT = 120.0


@pytest.fixture
def local_cp(control_plane) -> LocalControlPlane:
    if not isinstance(control_plane, LocalControlPlane):
        pytest.fail("the fault tests restart control-plane processes: they need the local control plane, "
                    "not ORK_E2E_KUBECONFIG or kind", pytrace=False)
    return control_plane


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


@pytest.mark.parametrize("component", ["kube-apiserver", "etcd"])
def test_runtime_rides_out_a_restart_in_the_middle_of_a_burst(local_cp, kube, namespace, apply_crd, ork_runtime,
                                                              report, component):
    kind, plural = new_kind("Burst")
    apply_crd(crd_manifest(kind, plural))
    ork = ork_runtime(katalog_doc("burst", {"burst": crd_entry(kind, plural, workers=4)}),
                      env={"WATCH_NAMESPACE": namespace})
    burst = Burst(kube, kind, plural, namespace, BURST)
    with HealthWatch(ork) as health:
        burst.start()
        assert burst.halfway.wait(120), "the burst never got halfway"
        downtime = local_cp.restart(component)
        restarted = time.monotonic()
        # the first write after the restart: how long until the runtime has it reconciled
        create_probe = time_until(lambda: create_cr(kube, kind, plural, "probe", namespace, {"value": "p"}), 30,
                                  "creating a CR after the restart")
        reconnect = time_until(lambda: kube.get(CONFIGMAPS, "probe-config", namespace), 90,
                               "the runtime reconciling a CR created after the restart") + create_probe
        burst.join()
        converge = burst.wait_converged(CONVERGE_TIMEOUT)
        total = time.monotonic() - restarted
    assert ork.alive(), f"ork run exited with {ork.proc.returncode}\n{ork.log_tail()}"
    assert health.polls > 10 and health.bad == [], f"/health was not 200: {health.bad[:5]}"
    assert burst.not_converged() == []
    report(component=component, crs=BURST, downtime_s=downtime, reconnect_s=reconnect,
           converged_after_restart_s=total, converge_after_burst_s=converge,
           burst_s=burst.seconds, client_retries=burst.failed_tries, lost=0)
