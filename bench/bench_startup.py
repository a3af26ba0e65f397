"""Start-up time of `ork run` with many CRDs and existing CRs (not a test).

For each `--sizes` item (default 10 and 100 CRDs), on fresh CRDs holding `--total` CRs together
(default 1000, spread evenly), every CR owning a ConfigMap, a Deployment and a headless Service:

* first start: `ork run` is started while none of the CRs was ever reconciled; the clock runs
  from the process start (Popen) until `/katalog` reports every CRD `started` or `healthy`
  (polled every 100 ms), while the runtime is also busy with the first reconciles;
* restart: once all CRs are Ready the process is stopped and started again, the clock as above
  (the common case: a rollout or a crash over a converged cluster).

Peers in the same run: `ork version` (the interpreter and the CLI's imports, no cluster), and a
plain client listing every CR of every CRD one after another (the reads any start-up needs).

    .venv/bin/python bench/bench_startup.py [--sizes 10,100] [--total 1000]
"""
from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

import harness
from harness import Kind, OrkRun

from orkestra.kube import KubeClient

STARTED = ("started", "healthy")


def time_to_started(doc: dict, kubeconfig: str, namespace: str, workdir: Path, n: int) -> tuple[OrkRun, float]:
    run = OrkRun(doc, kubeconfig, workdir, namespace=namespace)

    def all_started() -> bool:
        body = run.katalog()
        return bool(body and sum(body.get("statusCounts", {}).get(s, 0) for s in STARTED) == n)
    try:
        harness.wait_for(all_started, 600, f"{n} CRDs to start (log {run.log})", 0.1)
    except BaseException:
        run.stop()
        raise
    return run, time.monotonic() - run.started


def list_all(kube: KubeClient, kinds: list[Kind], namespace: str) -> float:
    start = time.monotonic()
    for kind in kinds:
        kube.list(kind.gvr, namespace)
    return time.monotonic() - start


def ork_version() -> float:
    start = time.monotonic()
    subprocess.run([harness.ORK, "version"], check=True, capture_output=True)
    return time.monotonic() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    harness.add_common_args(parser)
    parser.add_argument("--sizes", default="10,100", help="CRD counts, comma-separated")
    parser.add_argument("--total", type=int, default=1000, help="existing CRs, spread over the CRDs")
    parser.add_argument("--timeout", type=float, default=1200)
    args = parser.parse_args()
    figures: dict[str, harness.Figure] = {"ork version s": round(ork_version(), 2)}
    workdir = Path(tempfile.mkdtemp(prefix="bench-startup-"))
    print(f"bench_startup: sizes {args.sizes}, {args.total} CRs each; ork version in {figures['ork version s']}s; "
          f"logs in {workdir}", flush=True)
    with harness.cluster(args) as (kube, kubeconfig):
        for n in (int(s) for s in args.sizes.split(",")):
            per_crd = max(1, args.total // n)
            namespace = harness.create_namespace(kube, "startup")
            kinds = harness.create_kinds(kube, n)
            try:
                harness.create_crs(kube, kinds, per_crd, namespace)
                doc = harness.katalog(kinds)
                label = f"{n} CRDs x {per_crd} CRs"
                run, first = time_to_started(doc, kubeconfig, namespace, workdir, n)
                try:
                    run.wait_settled(n, per_crd, args.timeout)
                    harness.wait_converged(kube, kinds, namespace, per_crd, args.timeout)
                finally:
                    run.stop()
                run, again = time_to_started(doc, kubeconfig, namespace, workdir, n)
                run.stop()
                listed = list_all(kube, kinds, namespace)
                figures[f"{label}: first start s"] = round(first, 2)
                figures[f"{label}: restart s"] = round(again, 2)
                figures[f"{label}: raw client lists every CR s"] = round(listed, 2)
                print(f"  {label}: every CRD started {first:.2f}s after process start (first start), "
                      f"{again:.2f}s (restart, converged); a raw client lists them all in {listed:.2f}s", flush=True)
            finally:
                harness.delete_all(kube, kinds, [namespace])
    harness.record(args.results, "startup", figures)


if __name__ == "__main__":
    main()
