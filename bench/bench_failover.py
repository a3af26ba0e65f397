"""Benchmark: how long leadership and reconciling take to move between two `ork run` replicas
(docs/runtime.md §9).

For each round, replica A becomes leader, replica B joins as a follower, then A is stopped and a
new CR is created at once:

* SIGKILL: nothing is released, so B must wait until the lease it observed runs out. The bound
  is LEASE_DURATION + RETRY_PERIOD (20 s at the defaults 15/10/5).
* SIGTERM: A drains and releases the Lease; B sees the release on its Lease watch and acquires at
  once, so the handover should take about a second regardless of the lease duration.

Two times from the signal: until B's `/katalog` says `isKonductor: true` (polled every 50 ms),
and until the new CR reports Ready for its generation (B reconciled it: A is gone, or draining,
and a draining replica shuts its queues first, so once it has handled the signal it takes no new
work). Prints each round and the median per signal.

    .venv/bin/python bench/bench_failover.py                    # default timings 15/10/5, 3 rounds
    .venv/bin/python bench/bench_failover.py --timings 6,4,2 --rounds 5
"""
from __future__ import annotations

import argparse
import os
import signal
import statistics
import tempfile
import time
from pathlib import Path

import harness
from harness import Kind, OrkRun

from orkestra.kube import KubeClient


def leads(run: OrkRun) -> bool:
    doc = harness.get_json(run.url + "/katalog", timeout=2)
    return bool(doc and doc.get("isKonductor"))


def one_round(sig: signal.Signals, kube: KubeClient, kind: Kind, doc: dict, kubeconfig: str, namespace: str,
              env: dict[str, str], workdir: Path, n: int) -> tuple[float, float]:
    """(seconds to leadership, seconds to the new CR's Ready) after `sig` to the leader."""
    a = OrkRun(doc, kubeconfig, workdir, namespace=namespace, leader_election=True, env=env, log_level="info")
    b = None
    try:
        harness.wait_for(lambda: leads(a), 60, "replica A to lead")
        b = OrkRun(doc, kubeconfig, workdir, namespace=namespace, leader_election=True, env=env, log_level="info")
        harness.wait_for(lambda: harness.http_ok(b.url + "/ready"), 60, "replica B to be ready")
        probe = f"probe-{sig.name.lower()}-{n}"
        t0 = time.monotonic()
        if sig == signal.SIGKILL:
            os.killpg(a.pid, signal.SIGKILL)
        else:
            a.proc.send_signal(sig)
        kube.create(kind.gvr, harness.cr(kind, probe, n), namespace)
        harness.wait_for(lambda: leads(b), 120, "replica B to take over")
        took_lead = time.monotonic() - t0
        harness.wait_for(lambda: harness.is_ready(kube.get(kind.gvr, probe, namespace) or {"metadata": {}}),
                         120, f"replica B to reconcile {probe}")
        return took_lead, time.monotonic() - t0
    finally:
        harness.stop_process(a.proc, timeout=0)
        if b is not None:
            b.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    harness.add_common_args(ap)
    ap.add_argument("--timings", default="15,10,5", help="LEASE_DURATION,RENEW_DEADLINE,RETRY_PERIOD")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    timings = args.timings.split(",")
    if len(timings) != 3:
        raise SystemExit("--timings needs three values")
    env = {"LEASE_DURATION": timings[0], "RENEW_DEADLINE": timings[1], "RETRY_PERIOD": timings[2]}
    bound = float(timings[0]) + float(timings[2])
    figures: dict[str, harness.Figure] = {"timings lease/renew/retry s": "/".join(timings), "rounds": args.rounds}
    workdir = Path(tempfile.mkdtemp(prefix="bench-failover-"))
    with harness.cluster(args) as (kube, kubeconfig):
        namespace = harness.create_namespace(kube, "failover")
        kinds = harness.create_kinds(kube, 1)
        try:
            harness.create_crs(kube, kinds, 10, namespace)
            doc = harness.katalog(kinds, children=False)
            print(f"timings lease/renew/retry = {'/'.join(timings)} s; {args.rounds} rounds; logs in {workdir}")
            for sig in (signal.SIGKILL, signal.SIGTERM):
                lead_times, reconcile_times = [], []
                for n in range(args.rounds):
                    lead, reconciled = one_round(sig, kube, kinds[0], doc, kubeconfig, namespace, env, workdir, n)
                    lead_times.append(lead)
                    reconcile_times.append(reconciled)
                    print(f"  {sig.name:7s} round {n + 1}: leader in {lead:6.2f} s, new CR Ready in "
                          f"{reconciled:6.2f} s", flush=True)
                figures[f"{sig.name} to new leader, median s"] = round(statistics.median(lead_times), 2)
                figures[f"{sig.name} to new CR reconciled, median s"] = round(statistics.median(reconcile_times), 2)
                figures[f"{sig.name} to new CR reconciled, max s"] = round(max(reconcile_times), 2)
                limit = f" (bound lease + retry = {bound:.0f} s)" if sig == signal.SIGKILL else " (goal 2 s)"
                print(f"{sig.name:7s} new CR reconciled: median {statistics.median(reconcile_times):6.2f} s, "
                      f"max {max(reconcile_times):6.2f} s{limit}", flush=True)
            figures["SIGKILL bound lease + retry s"] = bound
        finally:
            harness.delete_all(kube, kinds, [namespace])
    harness.record(args.results, "failover", figures)


if __name__ == "__main__":
    main()
