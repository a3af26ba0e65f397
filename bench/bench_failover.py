"""Benchmark: how long leadership takes to move between two `ork run` replicas (docs/runtime.md §9).

For each round, replica A becomes leader, replica B joins as a follower, then A is stopped:

* SIGKILL: nothing is released, so B must wait until the lease it observed runs out. The bound
  is LEASE_DURATION + RETRY_PERIOD (20 s at the defaults 15/10/5).
* SIGTERM: A drains and releases the Lease; B sees the release on its Lease watch and acquires at
  once, so the handover should take about a second regardless of the lease duration.

The time is measured from the signal to the first `/katalog` answer of B with `isKonductor: true`
(polled every 50 ms). Prints each round and the median per signal.

Run from the repository root (the local control plane must be up):
    .venv/bin/python bench/bench_failover.py                    # default timings 15/10/5, 3 rounds
    .venv/bin/python bench/bench_failover.py --timings 6,4,2 --rounds 5
"""
from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_memory import ORK, free_port, get_json, katalog_for, make_kinds, delete_kinds  # noqa: E402

from orkestra.gvk import GVR  # noqa: E402


def start(path: Path, kubeconfig: str, namespace: str, timings: tuple[str, str, str], log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "ORK_PORT": str(port), "ORK_WEBHOOK_PORT": str(free_port()), "ORK_BIND_ADDRESS": "127.0.0.1",
           "NAMESPACE": namespace, "WATCH_NAMESPACE": namespace, "LOG_LEVEL": "info",
           "LEASE_DURATION": timings[0], "RENEW_DEADLINE": timings[1], "RETRY_PERIOD": timings[2]}
    proc = subprocess.Popen([ORK, "run", "-f", str(path), "--kubeconfig", kubeconfig], env=env,
                            stdout=open(log, "wb"), stderr=subprocess.STDOUT, start_new_session=True)
    return proc, f"http://127.0.0.1:{port}"


def wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.05)


def leads(url: str) -> bool:
    doc = get_json(url + "/katalog")
    return bool(doc and doc.get("isKonductor"))


def ready(url: str) -> bool:
    try:
        import urllib.request
        with urllib.request.urlopen(url + "/ready", timeout=2) as resp:
            return resp.status == 200
    except Exception:  # noqa: BLE001
        return False


def end(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def one_round(sig: signal.Signals, path: Path, kubeconfig: str, namespace: str, timings: tuple[str, str, str],
              workdir: Path, n: int) -> float:
    a, a_url = start(path, kubeconfig, namespace, timings, workdir / f"{sig.name}-{n}-a.log")
    b = None
    try:
        wait(lambda: leads(a_url), 60, "replica A to lead")
        b, b_url = start(path, kubeconfig, namespace, timings, workdir / f"{sig.name}-{n}-b.log")
        wait(lambda: ready(b_url), 60, "replica B to be ready")
        t0 = time.monotonic()
        if sig == signal.SIGKILL:
            os.killpg(a.pid, signal.SIGKILL)
        else:
            a.send_signal(sig)
        wait(lambda: leads(b_url), 120, "replica B to take over")
        return time.monotonic() - t0
    finally:
        end(a)
        if b is not None:
            b.send_signal(signal.SIGTERM)
            try:
                b.wait(timeout=60)
            except subprocess.TimeoutExpired:
                end(b)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kubeconfig", default=str(Path.home() / ".cache/orkestra/local/kubeconfig"))
    ap.add_argument("--timings", default="15,10,5", help="LEASE_DURATION,RENEW_DEADLINE,RETRY_PERIOD")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    timings = tuple(args.timings.split(","))
    assert len(timings) == 3, "--timings needs three values"

    from orkestra.kube import KubeClient
    kube = KubeClient.from_config(args.kubeconfig)
    namespace = f"bench-failover-{uuid.uuid4().hex[:6]}"
    kube.create(GVR("", "v1", "namespaces"), {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    workdir = Path(tempfile.mkdtemp(prefix="bench-failover-"))
    kinds = make_kinds(kube, 1, 10, namespace)
    path = workdir / "katalog.yaml"
    path.write_text(yaml.safe_dump(katalog_for(kinds)))
    print(f"timings lease/renew/retry = {'/'.join(timings)} s; {args.rounds} rounds; logs in {workdir}")
    try:
        for sig in (signal.SIGKILL, signal.SIGTERM):
            times = []
            for n in range(args.rounds):
                took = one_round(sig, path, args.kubeconfig, namespace, timings, workdir, n)
                times.append(took)
                print(f"  {sig.name:7s} round {n + 1}: takeover in {took:6.2f} s", flush=True)
            bound = f" (bound lease + retry = {float(timings[0]) + float(timings[2]):.0f} s)" if sig == signal.SIGKILL else ""
            print(f"{sig.name:7s} median {statistics.median(times):6.2f} s, max {max(times):6.2f} s{bound}", flush=True)
    finally:
        delete_kinds(kube, kinds)
        kube.delete(GVR("", "v1", "namespaces"), namespace)


if __name__ == "__main__":
    main()
