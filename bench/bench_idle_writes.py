"""Idle write rate (issue 9, "Must show"): API writes per resync period when nothing changes.

100 CRs (`--count`), each with the ConfigMap, headless Service and Deployment of
bench_throughput's Katalog and a Ready status, are reconciled by a real `ork run` with a short
resync period (`--resync`, default 10 s). Once every CR is Ready and the queue is empty, the
script waits one more resync period and then counts, over `--periods` resync periods, the write
requests the API server itself counted: `apiserver_request_total` from its `/metrics`, verbs
POST/PUT/PATCH/APPLY/DELETE/DELETECOLLECTION, on the resources Orkestra writes (the CRs and
their status, ConfigMaps, Services, Deployments without the controller-manager's `status`
subresource, Events).

Raw-client baseline, in the same run: the same number of CRs with the same children in another
namespace, written once by a plain `KubeClient` loop, then re-listed every resync period by a
loop that compares the live children and status with what it would write and writes only on a
difference. Both windows are measured the same way; `ork run` is stopped during the baseline's.

Usage:
  .venv/bin/python bench/bench_idle_writes.py [--count 100] [--resync 10] [--periods 3] [--kubeconfig PATH]
Without --kubeconfig it starts its own local control plane (orkestra.testing) and stops it
afterwards, so no other client of a shared cluster adds writes to the count.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path

import yaml

from bench_memory import stop  # noqa: E402  (bench/ is on sys.path when run as a script)
from bench_throughput import (NAMESPACES, CRDS, GROUP, converged, cr, fresh_kind, katalog, raw_children,  # noqa: E402
                              start_ork)

from orkestra.gvk import GVR  # noqa: E402
from orkestra.kube import KubeClient  # noqa: E402

WRITE_VERBS = {"POST", "PUT", "PATCH", "APPLY", "DELETE", "DELETECOLLECTION"}
COUNTED = {"configmaps", "services", "deployments", "events"}
_SAMPLE = re.compile(r'^apiserver_request_total\{(?P<labels>[^}]*)\} (?P<value>\S+)$')
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def write_counts(kube: KubeClient, plurals: set[str]) -> Counter:
    """(verb, resource, subresource) -> requests so far, for the counted write requests."""
    counts: Counter = Counter()
    for line in kube.get_raw("/metrics").decode().splitlines():
        match = _SAMPLE.match(line)
        if not match:
            continue
        labels = dict(_LABEL.findall(match["labels"]))
        resource, sub, verb = labels.get("resource", ""), labels.get("subresource", ""), labels.get("verb", "")
        if verb not in WRITE_VERBS or resource not in COUNTED | plurals:
            continue
        if resource == "deployments" and sub == "status":      # the controller-manager's, not ours
            continue
        counts[(verb, resource, sub)] += int(float(match["value"]))
    return counts


def measure(kube: KubeClient, plurals: set[str], seconds: float) -> Counter:
    before = write_counts(kube, plurals)
    time.sleep(seconds)
    after = write_counts(kube, plurals)
    return Counter({k: after[k] - before.get(k, 0) for k in after if after[k] - before.get(k, 0)})


def reconcile_count(url: str) -> int:
    with urllib.request.urlopen(url + "/katalog/site/health", timeout=10) as resp:
        return int(json.loads(resp.read())["totalReconciles"])


def describe(counts: Counter) -> str:
    return ", ".join(f"{verb} {res}{'/' + sub if sub else ''}: {n}" for (verb, res, sub), n in sorted(counts.items())) \
        or "none"


# --- the raw-client baseline ------------------------------------------------------------------------
def contains(live, want) -> bool:
    """`want` is a subset of `live` (the server adds defaults; it never removes what was written)."""
    if isinstance(want, dict):
        return isinstance(live, dict) and all(k in live and contains(live[k], v) for k, v in want.items())
    if isinstance(want, list):
        return isinstance(live, list) and len(live) == len(want) and all(map(contains, live, want))
    return live == want


def raw_status(generation: int) -> dict:
    return {"observedGeneration": generation,
            "conditions": [{"type": "Ready", "status": "True", "reason": "Reconciled", "message": "ok",
                            "lastTransitionTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}]}


def raw_sync(kube: KubeClient, gvr: GVR, kind: str, namespace: str) -> None:
    """One resync of the raw controller: write children and status only where they differ."""
    items, _ = kube.list(gvr, namespace)
    for obj in items:
        meta = obj["metadata"]
        owner = {"apiVersion": obj["apiVersion"], "kind": kind, "name": meta["name"], "uid": meta["uid"],
                 "controller": True, "blockOwnerDeletion": True}
        for child_gvr, child in raw_children(meta["name"], owner, obj["spec"]):
            live = kube.get(child_gvr, child["metadata"]["name"], namespace)
            if live is None or not contains(live, {k: v for k, v in child.items() if k != "apiVersion"}):
                kube.apply(child_gvr, child, namespace, force=True)
        status = obj.get("status") or {}
        ready = [c for c in status.get("conditions") or [] if c.get("type") == "Ready" and c.get("status") == "True"]
        if not ready or status.get("observedGeneration") != meta["generation"]:
            kube.patch(gvr, meta["name"], {"status": raw_status(meta["generation"])}, namespace, subresource="status")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--resync", type=float, default=10.0, help="seconds")
    parser.add_argument("--periods", type=int, default=3, help="resync periods measured")
    parser.add_argument("--kubeconfig", default=None)
    args = parser.parse_args()
    control_plane = None
    kubeconfig = args.kubeconfig
    if not kubeconfig:
        from orkestra.testing import LocalControlPlane
        control_plane = LocalControlPlane().start()
        kubeconfig = str(control_plane.kubeconfig)
    cleanup: list = []
    kube = None
    try:
        kube = KubeClient.from_config(kubeconfig)
        window = args.resync * args.periods
        print(f"bench_idle_writes: {args.count} CRs, resync {args.resync:g}s, {args.periods} periods "
              f"({window:g}s) per window, API server {kube.server}", flush=True)
        kind, plural, gvr, namespace = fresh_kind(kube, "IdleSite", "ork")
        raw_kind, raw_plural, raw_gvr, raw_namespace = fresh_kind(kube, "IdleRaw", "raw")
        cleanup += [(NAMESPACES, namespace), (NAMESPACES, raw_namespace),
                    (CRDS, f"{plural}.{GROUP}"), (CRDS, f"{raw_plural}.{GROUP}")]
        plurals = {plural, raw_plural}

        # Orkestra: reconcile everything, then count a quiet window.
        with tempfile.TemporaryDirectory() as tmp:
            doc = katalog(kind, plural, 3)
            doc["spec"]["crds"]["site"]["operatorBox"]["reconciler"]["resync"] = f"{args.resync:g}s"
            path = Path(tmp) / "katalog.yaml"
            path.write_text(yaml.safe_dump(doc, sort_keys=False))
            proc, url = start_ork(path, kubeconfig, Path(tmp) / "ork-run.log")
            try:
                first = write_counts(kube, plurals)
                for i in range(args.count):
                    kube.create(gvr, cr(kind, f"site-{i}", i), namespace)
                deadline = time.monotonic() + 600
                while converged(kube, gvr, namespace, args.count) < args.count:
                    if time.monotonic() > deadline:
                        raise SystemExit("the CRs did not become Ready within 10 minutes")
                    time.sleep(0.5)
                time.sleep(args.resync + 2)        # one full resync after the last first reconcile
                setup = sum(write_counts(kube, plurals).values()) - sum(first.values())
                reconciles = reconcile_count(url)
                ork = measure(kube, plurals, window)
                reconciles = reconcile_count(url) - reconciles
            finally:
                stop(proc)

        # Raw client: write once, then resync loops that write only on a difference.
        for i in range(args.count):
            kube.create(raw_gvr, cr(raw_kind, f"site-{i}", i), raw_namespace)
        raw_sync(kube, raw_gvr, raw_kind, raw_namespace)
        time.sleep(2)
        done = threading.Event()

        def loop() -> None:
            while not done.wait(args.resync):
                raw_sync(kube, raw_gvr, raw_kind, raw_namespace)
        thread = threading.Thread(target=loop, daemon=True)
        thread.start()
        raw = measure(kube, plurals, window)
        done.set()
        thread.join()

        ork_total, raw_total = sum(ork.values()), sum(raw.values())
        print(f"check: the counter saw {setup} writes while the CRs were created and first reconciled; "
              f"orkestra ran {reconciles} reconciles in the measured window")
        print(f"orkestra   {ork_total:5d} writes in {window:g}s = {ork_total / args.periods:7.1f} per resync period "
              f"({describe(ork)})")
        print(f"raw client {raw_total:5d} writes in {window:g}s = {raw_total / args.periods:7.1f} per resync period "
              f"({describe(raw)})")
    finally:
        for gvr_, name in cleanup if kube is not None else []:
            try:
                kube.delete(gvr_, name)
            except Exception:  # noqa: BLE001 - best-effort cleanup
                pass
        if control_plane is not None:
            control_plane.stop()


if __name__ == "__main__":
    sys.exit(main())
