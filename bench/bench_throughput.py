"""Throughput benchmark (not a test): N CRs, each -> Deployment + Service + ConfigMap + Ready status.

For each `--concurrency` value (default 3,10,30), on a fresh CRD and namespace each:

* Orkestra: a real `ork run` with that many workers reconciles the CRs this script creates with
  as many threads; the clock runs from the first create until every CR reports Ready=True with
  `observedGeneration == generation` and owns its ConfigMap, Service and Deployment. Reconciles
  per CR are read from the runtime's own count (`/katalog`, totalReconciles) once all are Ready
  and the queue drained; the shipped 15 s resync is on, so a run longer than 15 s counts the
  resync reconciles of CRs already converged too (`--resync 0` turns it off, to count only what
  the creates caused).
* Raw client: the same writes at the same concurrency from a plain `KubeClient` loop: the same
  pool creates the CRs and hands each created CR to worker threads, which server-side apply the
  three children and patch the status. No informers, no queue, no events: the floor a
  controller could reach.
* kopf (with --kopf, at the first concurrency only, 3 = Orkestra's default workers):
  bench/kopf_peer.py at kopf's own defaults, the raw loop's writes in an `on.create` handler.

Printed: the times, CRs/s, reconciles per CR, and the ratios to the raw client at the same
concurrency. Orkestra runs with its shipped resync and queue limits; only `workers` is set.

    .venv/bin/python bench/bench_throughput.py [--count 1000] [--concurrency 3,10,30] [--kopf] [--repeat N]
"""
from __future__ import annotations

import argparse
import queue
import statistics
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

import harness
import kopf_peer
from harness import Kind, OrkRun

from orkestra.kube import KubeClient


def request_counts(metrics_text: str, resources: set[str]) -> Counter:
    """(verb, resource, subresource) -> requests in the API server's `apiserver_request_total`
    for `resources`, reads included (WATCH and the controller-manager's Deployment status left
    out), so that `--count-requests` can show what one CR costs each contender."""
    counts: Counter = Counter()
    for line in metrics_text.splitlines():
        match = harness._SAMPLE.match(line)
        if not match:
            continue
        labels = dict(harness._LABEL.findall(match["labels"]))
        resource, sub, verb = labels.get("resource", ""), labels.get("subresource", ""), labels.get("verb", "")
        if resource not in resources or verb == "WATCH" or (resource == "deployments" and sub == "status"):
            continue
        counts[(verb, resource, sub)] += int(float(match["value"]))
    return counts


class Contender:
    """A fresh CRD and namespace for one timed run, deleted afterwards."""

    count_requests = False      # --count-requests: `counted` prints what each contender cost

    def __init__(self, kube: KubeClient, prefix: str):
        self.kube = kube
        self.kind: Kind = harness.create_kinds(kube, 1, prefix)[0]
        self.namespace = harness.create_namespace(kube, prefix.lower())

    def create_crs(self, count: int, concurrency: int, sink: queue.Queue | None = None) -> None:
        def create(i: int) -> None:
            obj = self.kube.create(self.kind.gvr, harness.cr(self.kind, self.kind.cr_name(i), i), self.namespace)
            if sink is not None:
                sink.put(obj)
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(create, range(count)))

    def owned_children(self) -> int:
        """The fewest children of one type (ConfigMap, Service, Deployment) owned by a CR of this kind."""
        def owned(gvr) -> int:
            items, _ = self.kube.list(gvr, self.namespace)
            return sum(1 for item in items if any(ref.get("kind") == self.kind.kind
                                                  for ref in item["metadata"].get("ownerReferences") or []))
        return min(owned(gvr) for gvr in harness.CHILDREN.values())

    def wait_ready(self, count: int, start: float, what: str) -> float:
        """Seconds since `start` until every CR is Ready and has its three children."""
        harness.wait_converged(self.kube, [self.kind], self.namespace, count, 1800)
        harness.wait_for(lambda: self.owned_children() >= count, 300, f"{what}: three children per CR", 0.5)
        elapsed = time.monotonic() - start
        print(f"  {what}: all {count} Ready in {elapsed:.1f}s", flush=True)
        return elapsed

    def counted(self, count: int, what: str, timed: Callable[[float], float]) -> float:
        """`timed(start)`, printing the API requests per CR it caused when `--count-requests` is on.
        The clock starts after the first scrape of the API server's metrics, so that the scrape
        (slow on a loaded server) is in no contender's time."""
        if not self.count_requests:
            return timed(time.monotonic())
        resources = {"configmaps", "services", "deployments", "events", self.kind.plural}
        before = request_counts(harness.apiserver_metrics(self.kube), resources)
        elapsed = timed(time.monotonic())
        delta = harness.counter_delta(before, request_counts(harness.apiserver_metrics(self.kube), resources))
        per_cr = {k: v / count for k, v in sorted(delta.items())}
        print(f"    {what}: {sum(per_cr.values()):.2f} requests per CR (the bench's own reads included): "
              + ", ".join(f"{verb} {res}{'/' + sub if sub else ''} {n:.2f}" for (verb, res, sub), n in per_cr.items()),
              flush=True)
        return elapsed

    def close(self) -> None:
        harness.delete_all(self.kube, [self.kind], [self.namespace])


def run_orkestra(kube: KubeClient, kubeconfig: str, count: int, concurrency: int, workdir: Path,
                 resync: str | None) -> tuple[float, float]:
    """(seconds, reconciles per CR); `resync` None keeps the shipped period."""
    c = Contender(kube, "BenchSite")
    run = OrkRun(harness.katalog([c.kind], concurrency, resync=resync), kubeconfig, workdir, namespace=c.namespace)
    try:
        run.wait_up()

        def timed(start: float) -> float:
            c.create_crs(count, concurrency)
            return c.wait_ready(count, start, f"orkestra x{concurrency}")
        elapsed = c.counted(count, "orkestra", timed)
        # Every reconcile the creates caused is counted once the queue drained; with resync on
        # the queue may refill before it empties, so give up waiting after 60 s and count then.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and run.queue_depth():
            time.sleep(0.5)
        per_cr = run.total_reconciles() / count
        print(f"    {per_cr:.2f} reconciles per CR", flush=True)
        return elapsed, per_cr
    finally:
        run.stop()
        c.close()


def run_raw(kube: KubeClient, count: int, concurrency: int, *, required: bool = False) -> float:
    """The raw loop; with `required`, each CR also gets the requests the spec and docs/ownership.md
    require of Orkestra for a new CR (the metadata write of docs/runtime.md §10.1 step 5, and
    an ownership GET before the first apply of each child), sent the same way, so that the gap
    between this and Orkestra is the runtime's own cost and the gap to the plain loop is theirs."""
    c = Contender(kube, "RawReqSite" if required else "RawSite")
    created: queue.Queue = queue.Queue()

    def work() -> None:
        while (obj := created.get()) is not None:
            meta = obj["metadata"]
            if required:
                kube.patch(c.kind.gvr, meta["name"], [
                    {"op": "test", "path": "/metadata/resourceVersion", "value": meta["resourceVersion"]},
                    {"op": "add", "path": "/metadata/annotations",
                     "value": {"orkestra.io/katalog": "bench", "orkestra.io/child-resources": "v1/configmaps"}}],
                    c.namespace, patch_type="json")
            for child_gvr, child in harness.raw_children(meta["name"], harness.owner_of(obj), obj["spec"]):
                if required:
                    kube.get(child_gvr, child["metadata"]["name"], c.namespace)
                kube.apply(child_gvr, child, c.namespace, force=True)
            kube.patch(c.kind.gvr, meta["name"], {"status": harness.ready_status(meta["generation"])},
                       c.namespace, subresource="status")
    def timed(start: float) -> float:
        workers = [threading.Thread(target=work) for _ in range(concurrency)]
        for t in workers:
            t.start()
        c.create_crs(count, concurrency, created)
        for _ in workers:
            created.put(None)
        for t in workers:
            t.join()
        return c.wait_ready(count, start, f"{what} x{concurrency}")
    what = "raw + required" if required else "raw client"
    try:
        return c.counted(count, what, timed)
    finally:
        c.close()


def run_kopf(kube: KubeClient, kubeconfig: str, count: int, concurrency: int, workdir: Path) -> float:
    c = Contender(kube, "KopfSite")
    proc = kopf_peer.start(kubeconfig, c.kind.plural, c.namespace, workdir / "kopf.log")
    try:
        time.sleep(5)   # kopf has no readiness endpoint here; give it time to start watching
        if proc.poll() is not None:
            raise SystemExit(f"the kopf operator exited with {proc.returncode}; see {workdir / 'kopf.log'}")

        def timed(start: float) -> float:
            c.create_crs(count, concurrency)
            return c.wait_ready(count, start, f"kopf x{concurrency}")
        return c.counted(count, "kopf", timed)
    finally:
        harness.stop_process(proc)
        c.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    harness.add_common_args(parser)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--concurrency", default="3,10,30", help="ork workers = raw-loop threads, comma-separated")
    parser.add_argument("--kopf", action="store_true", help="also run the kopf peer at the first concurrency")
    parser.add_argument("--repeat", type=int, default=1, help="rounds, alternating the order; medians printed")
    parser.add_argument("--resync", type=float, default=None,
                        help="Orkestra's resync in seconds, 0 = off (default: the shipped 15 s)")
    parser.add_argument("--required", action="store_true",
                        help="also run the raw loop with the requests Orkestra must make per new CR "
                             "(metadata write, ownership GET before each child's first apply)")
    parser.add_argument("--count-requests", action="store_true",
                        help="print each contender's API requests per CR by verb and resource "
                             "(apiserver_request_total; the bench's own LISTs included)")
    args = parser.parse_args()
    Contender.count_requests = args.count_requests
    levels = [int(c) for c in args.concurrency.split(",")]
    resync = None if args.resync is None else f"{args.resync:g}s"
    counted = " (resyncs included)" if args.resync != 0 else ""
    figures: dict[str, harness.Figure] = {
        "CRs": args.count,
        "orkestra settings": ("shipped (resync 15 s, queue limits)" if args.resync is None else
                              f"resync {args.resync:g} s (0 = off), queue limits as shipped") + ", workers = concurrency",
        "raw client": "creates + 3 server-side applies + status patch per CR, threads = concurrency"}
    if args.kopf:
        figures["kopf settings"] = kopf_peer.SETTINGS
    with harness.cluster(args) as (kube, kubeconfig), tempfile.TemporaryDirectory() as tmp:
        print(f"bench_throughput: {args.count} CRs, concurrency {levels}, API server {kube.server}", flush=True)
        for level in levels:
            times: dict[str, list[float]] = {"orkestra": [], "raw client": []}
            if args.kopf and level == levels[0]:
                times["kopf"] = []
            if args.required:
                times["raw + required"] = []
            per_cr: list[float] = []

            def orkestra(level: int = level) -> float:
                elapsed, reconciles = run_orkestra(kube, kubeconfig, args.count, level, Path(tmp), resync)
                per_cr.append(reconciles)
                return elapsed
            runners = {"orkestra": orkestra,
                       "raw client": lambda level=level: run_raw(kube, args.count, level),
                       "kopf": lambda level=level: run_kopf(kube, kubeconfig, args.count, level, Path(tmp)),
                       "raw + required": lambda level=level: run_raw(kube, args.count, level, required=True)}
            for round_ in range(args.repeat):
                order = list(times) if round_ % 2 == 0 else list(reversed(times))   # load spikes hit all
                for name in order:
                    times[name].append(runners[name]())
            med = {name: statistics.median(values) for name, values in times.items()}
            print(f"concurrency {level}, median of {args.repeat} run(s):")
            for name, value in med.items():
                print(f"  {name:<10} {value:8.1f}s  {args.count / value:7.1f} CRs/s")
                figures[f"x{level} {name} s"] = round(value, 2)
            figures[f"x{level} orkestra reconciles per CR{counted}"] = round(statistics.median(per_cr), 2)
            figures[f"x{level} ratio orkestra/raw"] = harness.ratio(med["orkestra"], med["raw client"])
            print(f"  ratio orkestra/raw: {figures[f'x{level} ratio orkestra/raw']:.2f}x; "
                  f"orkestra reconciles per CR {statistics.median(per_cr):.2f}")
            if "raw + required" in med:
                figures[f"x{level} ratio raw + required/raw"] = harness.ratio(med["raw + required"], med["raw client"])
                figures[f"x{level} ratio orkestra/raw + required"] = harness.ratio(med["orkestra"], med["raw + required"])
                print(f"  ratio raw + required/raw: {figures[f'x{level} ratio raw + required/raw']:.2f}x   "
                      f"ratio orkestra/raw + required: {figures[f'x{level} ratio orkestra/raw + required']:.2f}x")
            if "kopf" in med:
                figures[f"x{level} ratio kopf/raw"] = harness.ratio(med["kopf"], med["raw client"])
                figures[f"x{level} ratio orkestra/kopf"] = harness.ratio(med["orkestra"], med["kopf"])
                print(f"  ratio kopf/raw: {figures[f'x{level} ratio kopf/raw']:.2f}x   "
                      f"ratio orkestra/kopf: {figures[f'x{level} ratio orkestra/kopf']:.2f}x")
    harness.record(args.results, "throughput", figures)


if __name__ == "__main__":
    main()
