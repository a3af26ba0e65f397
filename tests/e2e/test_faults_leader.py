"""Never two writers (issue 14): two `ork run` replicas, each with its own user, so kube-apiserver's
audit log (the local control plane runs with `audit=True`) says which replica wrote what and when.

* the leader SIGKILLed in the middle of a burst: the writes of the two identities in the test's
  namespace (CRs and their status, children, Events, the Lease) never interleave, and every CR
  converges;
* the leader partitioned from the API server (a `StallProxy` between it and the API server stops
  forwarding): it gives up leadership after RENEW_DEADLINE, before its Lease can be taken
  (LEASE_DURATION after its last renewal in the audit log), and its worker exits with code 1 as
  docs/runtime.md says;
* SIGTERM in the middle of a burst: in-flight reconciles complete, the Lease is released and the
  follower writes within 2 s.

The burst is 300 CRs (300 creates, 300 updates): enough for the fault to land while the leader
has a full queue, at about 20 s a test on the shared 2-core machine.
"""
from __future__ import annotations

import datetime
import signal
import time
import uuid

from orkestra.testing.files import write_private
from orkestra.testing.kubeconfig import with_server
from orkestra.testing.ports import LOOPBACK
from orkestra.testing.stall_proxy import StallProxy
from tests.e2e.faults import (Burst, audited_writes, local_cp, log_time, report,  # noqa: F401
                              runtime_user, time_until)
from tests.e2e.ork_runtime import crd_entry, crd_manifest, katalog_doc, new_kind, ork_runtime  # noqa: F401

BURST = 300
FAST = {"LEASE_DURATION": "6", "RENEW_DEADLINE": "4", "RETRY_PERIOD": "2"}


def _is_leader(ork) -> bool:
    status, body = ork.get("/katalog")
    return status == 200 and body.get("isKonductor") is True


class Pair:
    """A leader and a follower on one Katalog, each with its own user."""

    def __init__(self, cp, ork_runtime, apply_crd, namespace, timings, *, leader_kubeconfig=None):
        self.kind, self.plural = new_kind("Elect")
        apply_crd(crd_manifest(self.kind, self.plural))
        tag = uuid.uuid4().hex[:6]
        self.users = {"leader": f"ork-leader-{tag}", "follower": f"ork-follower-{tag}"}
        katalog = katalog_doc("elect", {"elect": crd_entry(self.kind, self.plural, workers=4)})
        env = {"NAMESPACE": namespace, "WATCH_NAMESPACE": namespace, **timings}
        self.leader = ork_runtime(katalog, env=env, leader_election=True,
                                  kubeconfig=leader_kubeconfig or runtime_user(cp, self.users["leader"]))
        self.leader.wait_for(lambda: _is_leader(self.leader), timeout=30, message="a leader")
        self.follower = ork_runtime(katalog, env=env, leader_election=True,
                                    kubeconfig=runtime_user(cp, self.users["follower"]))
        self.follower.wait_for(lambda: self.follower.get("/ready")[0] == 200, timeout=30,
                               message="the follower ready")
        assert not _is_leader(self.follower)

    def writes(self, cp, namespace, resources=None):
        """{"leader": [...], "follower": [...]}: each identity's audited writes to `resources`
        (default: everything in the namespace: CRs and their status, children, Events, the Lease)."""
        events = audited_writes(cp, namespace, resources)
        return {role: [e for e in events if e.user == user] for role, user in self.users.items()}


def test_sigkill_of_the_leader_mid_burst_never_two_writers(local_cp, kube, namespace, apply_crd, ork_runtime,
                                                           report):
    pair = Pair(local_cp, ork_runtime, apply_crd, namespace, FAST)
    burst = Burst(kube, pair.kind, pair.plural, namespace, BURST).start()
    assert burst.halfway.wait(120)
    # the leader must be reconciling when it dies, or the check below only compares Lease writes
    time_until(lambda: pair.writes(local_cp, namespace, {"configmaps"})["leader"], 30, "the leader reconciling")
    killed = time.monotonic()
    pair.leader.kill()
    takeover = time_until(lambda: _is_leader(pair.follower), 6 + 2 + 15, "the follower taking over")
    burst.join()
    converge = burst.wait_converged(120)

    work = pair.writes(local_cp, namespace, {pair.plural, "configmaps"})
    assert work["leader"] and work["follower"], "both replicas reconciled, one after the other"
    writes = pair.writes(local_cp, namespace)
    last_leader = max(e.completed for e in writes["leader"])
    first_follower = min(e.received for e in writes["follower"])
    gap = (first_follower - last_leader).total_seconds()
    assert gap > 0, (f"the follower wrote at {first_follower} before the killed leader's last write "
                     f"completed at {last_leader}")
    assert burst.not_converged() == []
    report(crs=BURST, takeover_s=takeover, write_gap_s=gap, leader_writes=len(writes["leader"]),
           follower_writes=len(writes["follower"]), kill_to_converged_s=time.monotonic() - killed,
           converge_after_burst_s=converge, lost=0)


def test_a_partitioned_leader_stops_before_its_lease_can_be_taken(local_cp, kube, namespace, apply_crd,
                                                                  ork_runtime, tmp_path, report):
    with StallProxy((LOOPBACK, local_cp.layout.apiserver_port)) as proxy:
        tag = uuid.uuid4().hex[:6]
        direct = runtime_user(local_cp, f"ork-leader-{tag}")
        via_proxy = write_private(tmp_path / "leader-via-proxy.kubeconfig", with_server(direct.read_text(), proxy.url))
        pair = Pair(local_cp, ork_runtime, apply_crd, namespace, FAST, leader_kubeconfig=via_proxy)
        pair.users["leader"] = f"ork-leader-{tag}"
        burst = Burst(kube, pair.kind, pair.plural, namespace, 100).start()
        assert burst.halfway.wait(60)
        proxy.partition()
        partitioned = datetime.datetime.now(datetime.timezone.utc)
        time_until(lambda: _is_leader(pair.follower), 6 + 2 + 15, "the follower taking over")
        time_until(lambda: log_time(pair.leader, "lost leadership"), 30, "the leader giving up")
        pair.leader.wait_for(lambda: any(line.get("logger") == "gunicorn.error"
                                         and "exited with code 1" in line.get("message", "")
                                         for line in pair.leader.log_lines()),
                             timeout=30, message="the partitioned worker exiting with code 1")
        burst.join()
        converge = burst.wait_converged(120)

        gave_up = log_time(pair.leader, "lost leadership")
        became = log_time(pair.follower, f"{pair.follower.get('/katalog')[1]['identity']} became konductor")
        assert gave_up is not None and became is not None
        assert gave_up < became, (f"the partitioned leader still believed it led at {became}, when the follower "
                                  f"took over; it gave up only at {gave_up}")
        # not only before this follower happened to take over: before the Lease could be taken at
        # all, LEASE_DURATION after the leader's last renewal in the audit log (a follower times
        # the lease from when it read that renewal, give or take the few ms of its read)
        renewed = max(e.completed for e in pair.writes(local_cp, namespace, {"leases"})["leader"])
        takeable = renewed + datetime.timedelta(seconds=float(FAST["LEASE_DURATION"]))
        assert gave_up < takeable, (f"the partitioned leader gave up at {gave_up}, after its Lease (last renewed "
                                    f"{renewed}) could be taken at {takeable}")
        writes = pair.writes(local_cp, namespace)
        assert writes["follower"], "the new leader reconciled"
        taken = min(e.received for e in writes["follower"])
        assert not [e for e in writes["leader"] if e.completed >= taken], "never two writers"
        assert pair.leader.alive(), "the arbiter stays; only the worker exits"
        report(crs=100, partition_to_giving_up_s=(gave_up - partitioned).total_seconds(),
               renewal_to_giving_up_s=(gave_up - renewed).total_seconds(),
               partition_to_takeover_s=(became - partitioned).total_seconds(),
               margin_to_takeable_s=(takeable - gave_up).total_seconds(), converge_after_burst_s=converge, lost=0)


def test_sigterm_mid_burst_drains_releases_and_the_follower_writes_within_2s(local_cp, kube, namespace, apply_crd,
                                                                              ork_runtime, report):
    # default timings: a handover that waited for the lease to run out would take 15 s
    pair = Pair(local_cp, ork_runtime, apply_crd, namespace,
                {"LEASE_DURATION": "15", "RENEW_DEADLINE": "10", "RETRY_PERIOD": "5"})
    burst = Burst(kube, pair.kind, pair.plural, namespace, BURST).start()
    assert burst.halfway.wait(120)
    terminated = datetime.datetime.now(datetime.timezone.utc)
    code = pair.leader.stop(signal.SIGTERM)
    assert code == 0, pair.leader.log_tail()
    burst.join()
    converge = burst.wait_converged(120)

    messages = [line.get("message") for line in pair.leader.log_lines()]
    assert "lease released" in messages and "shutdown complete" in messages
    assert not [m for m in messages if m and m.startswith("drain timeout exceeded")], "in-flight reconciles completed"
    leases = pair.writes(local_cp, namespace, {"leases"})
    released = max(e.received for e in leases["leader"])   # its release, the last Lease write it sent
    resumed = min(e.received for e in leases["follower"])
    handover = (resumed - released).total_seconds()
    assert 0 < handover < 2, f"the follower took the Lease {handover:.2f}s after the release"
    # everything but the Lease, whose handover is checked above: the follower may send its
    # acquisition as soon as the release is committed, a moment before the release's audit
    # event is stamped complete
    writes = {role: [e for e in events if e.resource != "leases"]
              for role, events in pair.writes(local_cp, namespace).items()}
    last_leader = max(e.completed for e in writes["leader"])
    first_follower = min(e.received for e in writes["follower"])
    assert last_leader < first_follower, "never two writers"
    gap = (first_follower - last_leader).total_seconds()
    work = pair.writes(local_cp, namespace, {pair.plural, "configmaps"})
    continued = (min(e.received for e in work["follower"]) - released).total_seconds()
    assert continued < 2, f"the follower reconciled {continued:.1f}s after the Lease was released"
    assert burst.not_converged() == []
    report(crs=BURST, lease_handover_s=handover, write_gap_s=gap, release_to_follower_work_s=continued,
           leader_writes_after_sigterm=len([e for e in writes["leader"] if e.received >= terminated]),
           converge_after_burst_s=converge, lost=0)
