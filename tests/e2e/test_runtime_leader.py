"""Leader election between two real `ork run` replicas (docs/runtime.md §9).

Only the leader reconciles; followers keep warm caches, report `pending` and are ready. SIGKILL of
the leader hands over once the lease runs out (bounded by lease + retry); SIGTERM releases the
Lease, so the follower takes over well before the lease would have expired. Timings are checked
only against those bounds, never tightly: speed is for `bench/bench_failover.py`.
"""
from __future__ import annotations

import signal
import time

import yaml

from orkestra.gvk import GVR
from tests.e2e.ork_runtime import create_cr, crd_entry, crd_manifest, katalog_doc, new_kind, ork_runtime  # noqa: F401

CONFIGMAPS = GVR("", "v1", "configmaps")
LEASES = GVR("coordination.k8s.io", "v1", "leases")


def _pair(ork_runtime, apply_crd, namespace, tmp_path, timings: dict[str, str]):
    kind, plural = new_kind("Elected")
    apply_crd(crd_manifest(kind, plural))
    path = tmp_path / "katalog.yaml"
    path.write_text(yaml.safe_dump(katalog_doc("elected", {"elected": crd_entry(kind, plural)})))
    env = {"NAMESPACE": namespace, "WATCH_NAMESPACE": namespace, **timings}
    first = ork_runtime(path, env=env, leader_election=True)
    first.wait_for(lambda: first.get("/katalog")[1].get("isKonductor"), timeout=30, message="a leader")
    second = ork_runtime(path, env=env, leader_election=True)
    second.wait_for(lambda: second.get("/ready")[0] == 200, timeout=30, message="the follower ready")
    return first, second, kind, plural


def _is_leader(ork) -> bool:
    status, body = ork.get("/katalog")
    return status == 200 and body.get("isKonductor") is True


def test_only_the_leader_reconciles_and_sigkill_hands_over(ork_runtime, apply_crd, kube, namespace, tmp_path):
    leader, follower, kind, plural = _pair(ork_runtime, apply_crd, namespace, tmp_path,
                                           {"LEASE_DURATION": "6", "RENEW_DEADLINE": "4", "RETRY_PERIOD": "2"})
    lease = kube.get(LEASES, "orkestra-konductor", namespace)
    assert lease["spec"]["holderIdentity"] == leader.get("/katalog")[1]["identity"]

    for i in range(3):
        create_cr(kube, kind, plural, f"cr-{i}", namespace, {"value": str(i)})
    for i in range(3):
        leader.wait_for(lambda n=i: kube.get(CONFIGMAPS, f"cr-{n}-config", namespace), message=f"cr-{i} reconciled")

    status, body = follower.get("/katalog")
    assert body["isKonductor"] is False and body["leader"] == lease["spec"]["holderIdentity"]
    crd = body["crds"][0]
    assert crd["state"] == "pending" and crd["workersActive"] == 0 and crd["totalReconciles"] == 0
    follower.wait_for(lambda: follower.get("/katalog/elected")[1]["resourceCount"] == 3,
                      message="the follower's cache is warm")
    assert follower.get("/ready")[0] == 200
    assert follower.get("/katalog/elected/health")[0] == 200

    killed_at = time.monotonic()
    leader.kill()
    follower.wait_for(lambda: _is_leader(follower), timeout=6 + 2 + 15, message="takeover after SIGKILL")
    takeover = time.monotonic() - killed_at
    assert takeover <= 6 + 2 + 15
    create_cr(kube, kind, plural, "after", namespace, {"value": "new leader"})
    follower.wait_for(lambda: (kube.get(CONFIGMAPS, "after-config", namespace) or {}).get("data", {}).get("value")
                      == "new leader", message="the new leader reconciles")
    assert follower.get("/katalog")[1]["crds"][0]["state"] in ("started", "healthy")


def test_sigterm_releases_the_lease_for_a_fast_handover(ork_runtime, apply_crd, kube, namespace, tmp_path):
    # default-like timings: a handover that waited for expiry would take at least 15 s
    leader, follower, kind, plural = _pair(ork_runtime, apply_crd, namespace, tmp_path,
                                           {"LEASE_DURATION": "15", "RENEW_DEADLINE": "10", "RETRY_PERIOD": "5"})
    stopped_at = time.monotonic()
    code = leader.stop(signal.SIGTERM)
    assert code == 0, leader.log_tail()
    follower.wait_for(lambda: _is_leader(follower), timeout=12, interval=0.1, message="takeover after SIGTERM")
    assert time.monotonic() - stopped_at < 12, "took over before the 15 s lease could expire"
    messages = [line.get("message") for line in leader.log_lines()]
    assert "lease released" in messages and "shutdown complete" in messages
    create_cr(kube, kind, plural, "handed-over", namespace, {"value": "ok"})
    follower.wait_for(lambda: kube.get(CONFIGMAPS, "handed-over-config", namespace), message="the new leader works")


def test_a_leader_that_loses_its_lease_stops_and_its_worker_restarts_as_follower(ork_runtime, apply_crd, kube,
                                                                                 namespace, tmp_path):
    kind, plural = new_kind("Deposed")
    apply_crd(crd_manifest(kind, plural))
    path = tmp_path / "katalog.yaml"
    path.write_text(yaml.safe_dump(katalog_doc("deposed", {"deposed": crd_entry(kind, plural)})))
    ork = ork_runtime(path, env={"NAMESPACE": namespace, "WATCH_NAMESPACE": namespace, "LEASE_DURATION": "6",
                                 "RENEW_DEADLINE": "4", "RETRY_PERIOD": "2"}, leader_election=True)
    ork.wait_for(lambda: _is_leader(ork), timeout=30, message="leadership")
    # another replica (not an Orkestra process) takes the Lease over through the API
    lease = kube.get(LEASES, "orkestra-konductor", namespace)
    lease["spec"].update(holderIdentity="intruder", leaseDurationSeconds=30)
    kube.request("PUT", f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/orkestra-konductor", body=lease)
    ork.wait_for(lambda: any(line.get("message") == "lost leadership" for line in ork.log_lines()), timeout=30,
                 message="the leader notices it lost the Lease")
    # the worker exits with code 1 and gunicorn boots a fresh one, a follower under the intruder's Lease
    ork.wait_for(lambda: any(line.get("logger") == "gunicorn.error" and "exited with code 1" in line.get("message", "")
                             for line in ork.log_lines()), timeout=30, message="the worker exiting with code 1")
    body = ork.wait_for(lambda: (lambda r: r[0] == 200 and r[1].get("leader") == "intruder" and r[1])(ork.get("/katalog")),
                        timeout=20, message="the fresh worker following the intruder")
    assert body["isKonductor"] is False
    assert body["crds"][0]["state"] == "pending" and body["crds"][0]["workersActive"] == 0
    assert ork.alive(), "the arbiter survives; only the worker exited"
