"""Benchmark: resident memory of one `ork run` serving many CRDs, against one process per CRD.

What it measures (RSS from psutil, summed over the gunicorn arbiter and its worker, PSS beside it, read once the
runtime is ready, every CRD is healthy and every queue is empty, i.e. the steady state after the
initial list, the first reconcile of every CR and `gc.freeze()`):

1. one `ork run` with 1, 10 and 100 CRDs, each holding `--crs` CRs (default 100);
2. `--singles` (default 10) separate single-CRD `ork run` processes, 100 CRs each, summed;
3. with `--kopf`, one kopf operator per CRD for the same `--singles` CRDs (a minimal handler that
   only writes the same Ready condition), summed.

Each CRD is a fresh kind in the `bench.orkestra.io` group with a status-only Katalog entry, so the
reconcile work is the same everywhere (read from the cache, patch status once). Everything it
creates is deleted at the end. It talks only to the API server of the given kubeconfig, by
default the local control plane of `ork local up`.

Run from the repository root (the local control plane must be up):
    .venv/bin/python bench/bench_memory.py
    .venv/bin/python bench/bench_memory.py --sizes 1,10 --crs 50 --kopf
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psutil
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from orkestra.gvk import GVR  # noqa: E402

GROUP = "bench.orkestra.io"
ORK = str(Path(sys.executable).with_name("ork"))
CRDS = GVR("apiextensions.k8s.io", "v1", "customresourcedefinitions")
MB = 1024 * 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss(pid: int) -> int:
    """RSS of a process and all its children (arbiter + worker), in bytes."""
    try:
        proc = psutil.Process(pid)
        return sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)])
    except psutil.NoSuchProcess:
        return 0


def pss(pid: int) -> int:
    """PSS of a process and its children: pages shared after the fork are counted once."""
    try:
        proc = psutil.Process(pid)
        return sum(p.memory_full_info().pss for p in [proc, *proc.children(recursive=True)])
    except psutil.NoSuchProcess:
        return 0


# ---------------------------------------------------------------------------- cluster fixtures
def make_kinds(kube: Any, n: int, crs: int, namespace: str) -> list[tuple[str, str]]:
    kinds = []
    for _ in range(n):
        suffix = uuid.uuid4().hex[:8]
        kind, plural = f"Bench{suffix}", f"bench{suffix}s"
        kube.create(CRDS, {
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.{GROUP}"},
            "spec": {"group": GROUP, "scope": "Namespaced",
                     "names": {"plural": plural, "singular": kind.lower(), "kind": kind},
                     "versions": [{"name": "v1", "served": True, "storage": True, "subresources": {"status": {}},
                                   "schema": {"openAPIV3Schema": {"type": "object",
                                                                  "x-kubernetes-preserve-unknown-fields": True}}}]}})
        kinds.append((kind, plural))
    deadline = time.monotonic() + 120
    for kind, plural in kinds:
        while not served(kube, plural):
            if time.monotonic() > deadline:
                raise SystemExit(f"CRD {plural}.{GROUP} not served after 120 s")
            time.sleep(0.2)

    def create(args: tuple[str, str, int]) -> None:
        kind, plural, i = args
        kube.create(GVR(GROUP, "v1", plural), {"apiVersion": f"{GROUP}/v1", "kind": kind,
                                               "metadata": {"name": f"cr-{i:04d}"},
                                               "spec": {"index": i, "payload": "x" * 200}}, namespace)
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(create, [(k, p, i) for k, p in kinds for i in range(crs)]))
    return kinds


def served(kube: Any, plural: str) -> bool:
    try:
        doc = kube.request("GET", f"/apis/{GROUP}/v1")
    except Exception:  # noqa: BLE001 - the group appears with its first CRD
        return False
    return any(r.get("name") == plural for r in doc.get("resources", []))


def delete_kinds(kube: Any, kinds: list[tuple[str, str]]) -> None:
    for _, plural in kinds:
        kube.delete(CRDS, f"{plural}.{GROUP}")


# ---------------------------------------------------------------------------- processes
def katalog_for(kinds: list[tuple[str, str]]) -> dict:
    return {"apiVersion": "orkestra.orkspace.io/v1", "kind": "Katalog", "metadata": {"name": "bench"},
            "spec": {"crds": {plural[:-1]: {"apiTypes": {"group": GROUP, "version": "v1", "kind": kind,
                                                           "plural": plural},
                                              "operatorBox": {"reconciler": {"workers": 2, "resync": "0s"}}}
                              for kind, plural in kinds}}}


def start_ork(kinds: list[tuple[str, str]], kubeconfig: str, namespace: str, workdir: Path) -> tuple[subprocess.Popen, str]:
    path = workdir / f"katalog-{uuid.uuid4().hex[:6]}.yaml"
    path.write_text(yaml.safe_dump(katalog_for(kinds)))
    port = free_port()
    env = {**os.environ, "ORK_PORT": str(port), "ORK_WEBHOOK_PORT": str(free_port()), "ORK_BIND_ADDRESS": "127.0.0.1",
           "LEADER_ELECTION": "false", "WATCH_NAMESPACE": namespace, "LOG_LEVEL": "warn"}
    log = open(workdir / f"{path.stem}.log", "wb")
    proc = subprocess.Popen([ORK, "run", "-f", str(path), "--kubeconfig", kubeconfig], stdout=log,
                            stderr=subprocess.STDOUT, env=env, start_new_session=True)
    return proc, f"http://127.0.0.1:{port}"


def get_json(url: str) -> dict | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return json.loads(resp.read())
    except Exception:  # noqa: BLE001 - not up yet
        return None


def wait_settled(url: str, n_crds: int, crs: int, timeout: float) -> float:
    """Seconds until every CRD is healthy, holds `crs` CRs, has reconciled them all and has an empty queue."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        doc = get_json(url + "/katalog")
        if doc and doc.get("statusCounts", {}).get("healthy") == n_crds and all(
                c["resourceCount"] == crs and c["queueDepth"] == 0 and c["totalReconciles"] >= crs
                for c in doc["crds"]):
            return time.monotonic() - start
        time.sleep(0.5)
    raise SystemExit(f"{url} did not settle within {timeout:.0f}s")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


KOPF_OPERATOR = '''
import kopf

@kopf.on.resume("{group}", "v1", "{plural}")
@kopf.on.create("{group}", "v1", "{plural}")
@kopf.on.update("{group}", "v1", "{plural}")
def reconcile(patch, meta, **_):
    patch.status["conditions"] = [{{"type": "Ready", "status": "True", "reason": "Reconciled"}}]
    patch.status["observedGeneration"] = meta.get("generation")
'''


def start_kopf(kind_plural: tuple[str, str], kubeconfig: str, namespace: str, workdir: Path) -> subprocess.Popen:
    path = workdir / f"kopf_{kind_plural[1]}.py"
    path.write_text(KOPF_OPERATOR.format(group=GROUP, plural=kind_plural[1]))
    env = {**os.environ, "KUBECONFIG": kubeconfig}
    log = open(workdir / f"kopf_{kind_plural[1]}.log", "wb")
    return subprocess.Popen([str(Path(sys.executable).with_name("kopf")), "run", "--standalone", "-n", namespace,
                             "--liveness", f"http://127.0.0.1:{free_port()}/healthz", str(path)],
                            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)


def count_ready(kube: Any, plural: str, namespace: str) -> int:
    items, _ = kube.list(GVR(GROUP, "v1", plural), namespace)
    return sum(1 for o in items if any(c.get("type") == "Ready" for c in (o.get("status") or {}).get("conditions", [])))


# ---------------------------------------------------------------------------- main
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kubeconfig", default=str(Path.home() / ".cache/orkestra/local/kubeconfig"))
    ap.add_argument("--sizes", default="1,10,100", help="CRD counts for the single-process runs")
    ap.add_argument("--crs", type=int, default=100, help="CRs per CRD")
    ap.add_argument("--singles", type=int, default=10, help="separate single-CRD processes to compare with")
    ap.add_argument("--kopf", action="store_true", help="also run one kopf operator per CRD for the singles")
    ap.add_argument("--timeout", type=float, default=900)
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    from orkestra.kube import KubeClient
    kube = KubeClient.from_config(args.kubeconfig)
    namespace = f"bench-memory-{uuid.uuid4().hex[:6]}"
    kube.create(GVR("", "v1", "namespaces"), {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    workdir = Path(tempfile.mkdtemp(prefix="bench-memory-"))
    kinds = make_kinds(kube, max(sizes + [args.singles]), args.crs, namespace)
    print(f"cluster: {len(kinds)} CRDs x {args.crs} CRs in {namespace}; logs in {workdir}")
    results: dict[str, float] = {}
    try:
        for n in sizes:
            proc, url = start_ork(kinds[:n], args.kubeconfig, namespace, workdir)
            try:
                took = wait_settled(url, n, args.crs, args.timeout)
                time.sleep(2)
                results[f"ork x{n}"] = rss(proc.pid) / MB
                print(f"one ork run, {n:3d} CRDs x {args.crs} CRs: {results[f'ork x{n}']:7.1f} MB RSS "
                      f"({pss(proc.pid) / MB:.1f} MB PSS; settled in {took:.1f}s)", flush=True)
            finally:
                stop(proc)
        procs = [start_ork([k], args.kubeconfig, namespace, workdir) for k in kinds[:args.singles]]
        try:
            for proc, url in procs:
                wait_settled(url, 1, args.crs, args.timeout)
            time.sleep(2)
            results["ork singles"] = sum(rss(p.pid) for p, _ in procs) / MB
            print(f"{args.singles} separate single-CRD ork runs:      {results['ork singles']:7.1f} MB RSS "
                  f"({results['ork singles'] / args.singles:.1f} MB each; "
                  f"{sum(pss(p.pid) for p, _ in procs) / MB:.1f} MB PSS)", flush=True)
        finally:
            for proc, _ in procs:
                stop(proc)
        if args.kopf:
            kopfs = [start_kopf(k, args.kubeconfig, namespace, workdir) for k in kinds[:args.singles]]
            try:
                deadline = time.monotonic() + args.timeout
                while any(count_ready(kube, p, namespace) < args.crs for _, p in kinds[:args.singles]):
                    if time.monotonic() > deadline:
                        raise SystemExit("kopf operators did not settle")
                    time.sleep(1)
                time.sleep(2)
                results["kopf singles"] = sum(rss(p.pid) for p in kopfs) / MB
                print(f"{args.singles} kopf operators (one per CRD):      {results['kopf singles']:7.1f} MB RSS "
                      f"({results['kopf singles'] / args.singles:.1f} MB each)", flush=True)
            finally:
                for proc in kopfs:
                    stop(proc)
    finally:
        delete_kinds(kube, kinds)
        kube.delete(GVR("", "v1", "namespaces"), namespace)

    print("\nratios (lower is better for the first column)")
    if f"ork x{args.singles}" in results:
        one = results[f"ork x{args.singles}"]
        print(f"  one ork run with {args.singles} CRDs / {args.singles} single-CRD ork runs: "
              f"{one / results['ork singles']:.2f}")
        if "kopf singles" in results:
            print(f"  one ork run with {args.singles} CRDs / {args.singles} kopf operators:     "
                  f"{one / results['kopf singles']:.2f}")
    base = results.get("ork x1")
    for n in sizes:
        if base and n != 1:
            print(f"  ork x{n} / ork x1: {results[f'ork x{n}'] / base:.2f}  "
                  f"(+{(results[f'ork x{n}'] - base) / (n - 1):.2f} MB per extra CRD)")


if __name__ == "__main__":
    main()
