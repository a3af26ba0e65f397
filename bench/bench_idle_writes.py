"""Idle cost: API writes per minute and runtime CPU seconds per minute once nothing changes.

`--count` CRs (default 1000), each with the ConfigMap, headless Service and Deployment of
harness.entry and a Ready status, are reconciled by a real `ork run` at the shipped resync
period (15 s; `--resync` overrides it). Once every CR is Ready and the queue is empty, the script
waits one more resync period and then, over `--minutes` (default 1: four resync periods), counts

* the write requests the API server itself counted (`apiserver_request_total` from its
  `/metrics`; verbs POST/PUT/PATCH/APPLY/DELETE/DELETECOLLECTION on the bench CRs and their
  status, ConfigMaps, Services, Deployments without the controller-manager's `status`
  subresource, and Events), so nothing the runtime writes can hide;
* the CPU seconds of every process of `ork run` (arbiter and worker), and the reconciles it ran.

Raw-client baseline, in the same run: as many CRs with the same children in another namespace,
written once by a plain `KubeClient` loop, then re-listed every resync period by a loop that
compares the live children and status with what it would write and writes only on a difference;
its CPU is this script's own. `ork run` is stopped during the baseline's window.

    .venv/bin/python bench/bench_idle_writes.py [--count 1000] [--minutes 1] [--resync SECONDS]
"""
from __future__ import annotations

import argparse
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import harness
from harness import Kind, OrkRun

from orkestra.kube import KubeClient

DEFAULT_RESYNC = 15.0      # orkestra/katalog/defaults.py: the shipped resync period


def measure(kube: KubeClient, plurals: set[str], seconds: float) -> Counter:
    before = harness.write_counts(kube, plurals)
    time.sleep(seconds)
    return harness.counter_delta(before, harness.write_counts(kube, plurals))


def describe(counts: Counter) -> str:
    return ", ".join(f"{verb} {res}{'/' + sub if sub else ''}: {n}" for (verb, res, sub), n in sorted(counts.items())) \
        or "none"


def contains(live, want) -> bool:
    """`want` is a subset of `live` (the server adds defaults; it never removes what was written)."""
    if isinstance(want, dict):
        return isinstance(live, dict) and all(k in live and contains(live[k], v) for k, v in want.items())
    if isinstance(want, list):
        return isinstance(live, list) and len(live) == len(want) and all(map(contains, live, want))
    return live == want


def raw_sync(kube: KubeClient, kind: Kind, namespace: str) -> None:
    """One resync of the raw controller: write children and status only where they differ."""
    items, _ = kube.list(kind.gvr, namespace)
    for obj in items:
        meta = obj["metadata"]
        for child_gvr, child in harness.raw_children(meta["name"], harness.owner_of(obj), obj["spec"]):
            live = kube.get(child_gvr, child["metadata"]["name"], namespace)
            if live is None or not contains(live, {k: v for k, v in child.items() if k != "apiVersion"}):
                kube.apply(child_gvr, child, namespace, force=True)
        if not harness.is_ready(obj):
            kube.patch(kind.gvr, meta["name"], {"status": harness.ready_status(meta["generation"])}, namespace,
                       subresource="status")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    harness.add_common_args(parser)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--minutes", type=float, default=1.0, help="length of each measured window")
    parser.add_argument("--resync", type=float, default=None, help="seconds (default: the shipped 15 s)")
    args = parser.parse_args()
    resync = DEFAULT_RESYNC if args.resync is None else args.resync
    window = args.minutes * 60
    figures: dict[str, harness.Figure] = {"CRs": args.count, "resync s": resync, "window s": window}
    with harness.cluster(args) as (kube, kubeconfig), tempfile.TemporaryDirectory() as tmp:
        print(f"bench_idle_writes: {args.count} CRs, resync {resync:g}s, {window:g}s per window, "
              f"API server {kube.server}", flush=True)
        kinds = harness.create_kinds(kube, 1, "IdleSite") + harness.create_kinds(kube, 1, "IdleRaw")
        namespaces = [harness.create_namespace(kube, "idle-ork"), harness.create_namespace(kube, "idle-raw")]
        plurals = {k.plural for k in kinds}
        try:
            doc = harness.katalog(kinds[:1], 3, resync=None if args.resync is None else f"{args.resync:g}s")
            run = OrkRun(doc, kubeconfig, Path(tmp), namespace=namespaces[0])
            try:
                run.wait_up()
                first = harness.write_counts(kube, plurals)
                harness.create_crs(kube, kinds[:1], args.count, namespaces[0])
                harness.wait_converged(kube, kinds[:1], namespaces[0], args.count, 1200)
                run.wait_settled(1, args.count, 600)
                time.sleep(resync + 2)            # one full resync after the last first reconcile
                setup = sum(harness.write_counts(kube, plurals).values()) - sum(first.values())
                reconciles, cpu = run.total_reconciles(), harness.tree_cpu_seconds(run.pid)
                ork = measure(kube, plurals, window)
                reconciles, cpu = run.total_reconciles() - reconciles, harness.tree_cpu_seconds(run.pid) - cpu
            finally:
                run.stop()

            harness.create_crs(kube, kinds[1:], args.count, namespaces[1])
            raw_sync(kube, kinds[1], namespaces[1])
            time.sleep(2)
            done = threading.Event()

            def loop() -> None:
                while not done.wait(resync):
                    raw_sync(kube, kinds[1], namespaces[1])
            thread = threading.Thread(target=loop, daemon=True)
            raw_cpu = time.process_time()
            thread.start()
            raw = measure(kube, plurals, window)
            done.set()
            thread.join()
            raw_cpu = time.process_time() - raw_cpu
        finally:
            harness.delete_all(kube, kinds, namespaces)

    per_minute = 60 / window
    ork_total, raw_total = sum(ork.values()), sum(raw.values())
    figures.update({
        "orkestra writes per minute": round(ork_total * per_minute, 1),
        "raw client writes per minute": round(raw_total * per_minute, 1),
        "orkestra CPU s per minute": round(cpu * per_minute, 2),
        "raw client CPU s per minute": round(raw_cpu * per_minute, 2),
        "orkestra reconciles per minute": round(reconciles * per_minute, 1),
        "writes counted during set-up (counter check)": setup,
    })
    print(f"check: the counter saw {setup} writes while the CRs were created and first reconciled; "
          f"orkestra ran {reconciles} reconciles in the measured window")
    print(f"orkestra   {ork_total:5d} writes in {window:g}s = {ork_total * per_minute:7.1f} per minute "
          f"({describe(ork)}); CPU {cpu * per_minute:.2f} s per minute ({cpu * per_minute / 60:.1%} of one core)")
    print(f"raw client {raw_total:5d} writes in {window:g}s = {raw_total * per_minute:7.1f} per minute "
          f"({describe(raw)}); CPU {raw_cpu * per_minute:.2f} s per minute")
    harness.record(args.results, "idle", figures)


if __name__ == "__main__":
    main()
