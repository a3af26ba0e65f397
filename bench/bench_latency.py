"""Event -> reconcile-start latency at a steady event rate across many CRDs (not a test).

`--crds` CRDs (default 10) x `--crs` CRs (default 10), every CR owning a ConfigMap, a Deployment
and a headless Service, are reconciled by one `ork run` until idle. Then this script changes the
spec of one CR after another, round robin, at `--rate` events per second (default 100) for
`--seconds` (default 30), from `--senders` threads (default 32) on a fixed schedule (open loop: a
slow answer does not slow the schedule down while a sender is free). Each write's time is taken
when the API server acknowledges it; the rate achieved is printed beside the target.

Reconcile start is observed with a Python hook of the bench entry (`runHooksFirst: true`, so it
runs before the templates): its `on_reconcile` appends (CRD, name, generation, time.time()) to a
file. No runtime change is needed; the hook itself adds one file append per reconcile. A write's
latency is the time until a reconcile first starts with that generation or a newer one (the queue
folds a second change of a CR that is still waiting into one reconcile, as it should).

Peer, in the same run: one plain watch per CRD from this script (`KubeClient.watch`) recording
when each generation arrives, the floor any controller's event path has on this machine.

    .venv/bin/python bench/bench_latency.py [--crds 10] [--crs 10] [--rate 100] [--seconds 30]
"""
from __future__ import annotations

import argparse
import contextlib
import re
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import harness
from harness import Kind, OrkRun, Sighting

from orkestra.kube import KubeClient
from orkestra.kube.paths import resource_path

WORKERS = 3        # the entries set no `workers`: the shipped default

HOOK = '''"""Bench hook: record when each reconcile starts (bench/bench_latency.py)."""
import os
import threading
import time

_lock = threading.Lock()
_out = open(os.environ["BENCH_LATENCY_LOG"], "a", buffering=1)


def recorder():
    def on_reconcile(ctx, obj):
        meta = obj["metadata"]
        line = f"{obj['kind']}/{meta['name']} {meta.get('generation', 0)} {time.time():.6f}\\n"
        with _lock:
            _out.write(line)
    return {"on_reconcile": on_reconcile}
'''


def read_sightings(path: Path) -> list[Sighting]:
    out = []
    for line in path.read_text().splitlines():
        key, generation, when = line.split()
        out.append((key, int(generation), float(when)))
    return out


class Watchers:
    """One raw watch per kind, recording (kind/name, generation, time) of every event."""

    def __init__(self, kube: KubeClient, kinds: list[Kind], namespace: str):
        self.seen: list[Sighting] = []
        self._streams: list = []
        self._threads = []
        for kind in kinds:
            _, rv = kube.list(kind.gvr, namespace)
            stream = kube.watch(resource_path(kind.gvr, namespace), {"resourceVersion": rv}, timeout=600)
            self._streams.append(stream)
            self._threads.append(threading.Thread(target=self._read, args=(stream,), daemon=True))
        for thread in self._threads:
            thread.start()

    def _read(self, stream) -> None:
        with contextlib.suppress(Exception):      # ends when severed
            for event in stream:
                obj = event.get("object") or {}
                meta = obj.get("metadata") or {}
                if "name" in meta:
                    self.seen.append((f"{obj['kind']}/{meta['name']}", int(meta.get("generation", 0)), time.time()))

    def close(self) -> None:
        for stream in self._streams:
            stream.sever()
        for thread in self._threads:
            thread.join(timeout=5)


def drive(kube: KubeClient, kinds: list[Kind], crs: int, namespace: str, rate: float, seconds: float,
          senders: int) -> tuple[list[Sighting], float]:
    """Spec changes at `rate`/s for `seconds`: (events as (kind/name, generation, ack time), achieved rate)."""
    targets = [(k, k.cr_name(i)) for i in range(crs) for k in kinds]
    total = int(rate * seconds)
    start = time.monotonic() + 0.5
    events: list[Sighting] = []

    def one(i: int) -> None:
        kind, name = targets[i % len(targets)]
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        obj = kube.patch(kind.gvr, name, {"spec": {"tick": i}}, namespace)
        events.append((f"{kind.kind}/{name}", obj["metadata"]["generation"], time.time()))
    with ThreadPoolExecutor(senders) as pool:
        list(pool.map(one, range(total)))
    return events, total / (time.monotonic() - start)


_HISTOGRAM = re.compile(r'^(?P<name>\w+)_(?P<part>bucket|sum|count)\{(?P<labels>[^}]*)\} (?P<value>\S+)$')


def histograms(metrics_text: str, names: set[str]) -> dict[str, dict[str, float]]:
    """The `names` histograms of a Prometheus text page, summed over every label set but `le`:
    name -> {"sum", "count", "le=<bound>"...}."""
    out: dict[str, dict[str, float]] = {name: {} for name in names}
    for line in metrics_text.splitlines():
        match = _HISTOGRAM.match(line)
        if not match or match["name"] not in names:
            continue
        le = re.search(r'le="([^"]*)"', match["labels"])
        part = f"le={le[1]}" if match["part"] == "bucket" and le else match["part"]
        series = out[match["name"]]
        series[part] = series.get(part, 0.0) + float(match["value"])
    return out


def bucket_percentile(before: dict[str, float], after: dict[str, float], p: float) -> float:
    """The upper bound of the bucket holding the `p`th percentile of what was observed between
    two scrapes of one histogram (inf when past the last finite bucket)."""
    total = after.get("count", 0.0) - before.get("count", 0.0)
    bounds = sorted((float(k[3:]), after[k] - before.get(k, 0.0)) for k in after if k.startswith("le="))
    for bound, cumulative in bounds:
        if total and cumulative >= total * p / 100:
            return bound
    return float("inf")


def scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.read().decode()


SPLIT = {"workqueue_queue_duration_seconds": "queue wait",
         "controller_runtime_reconcile_time_seconds": "reconcile duration"}


def split_figures(before: str, after: str, workers: int, rate: float) -> dict[str, harness.Figure]:
    """Where the time goes, from the runtime's own histograms over the driven window: mean queue
    wait, reconcile duration (mean, and the bucket bounds of p50/p99), and the share of the
    workers' capacity the event rate needs (rate x mean reconcile / workers; near 1 = throughput-bound)."""
    old, new = histograms(before, set(SPLIT)), histograms(after, set(SPLIT))
    figures: dict[str, harness.Figure] = {}
    for name, label in SPLIT.items():
        count = new[name].get("count", 0.0) - old[name].get("count", 0.0)
        mean = (new[name].get("sum", 0.0) - old[name].get("sum", 0.0)) / count if count else 0.0
        figures[f"{label} mean ms"] = round(mean * 1000, 2)
        if name == "controller_runtime_reconcile_time_seconds":
            figures[f"{label} p50 bucket ms"] = bucket_percentile(old[name], new[name], 50) * 1000
            figures[f"{label} p99 bucket ms"] = bucket_percentile(old[name], new[name], 99) * 1000
            figures["worker utilisation (rate x mean reconcile / workers)"] = round(rate * mean / workers, 2)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    harness.add_common_args(parser)
    parser.add_argument("--crds", type=int, default=10)
    parser.add_argument("--crs", type=int, default=10, help="CRs per CRD")
    parser.add_argument("--rate", type=float, default=100.0, help="events per second, all CRDs together")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--senders", type=int, default=32, help="threads writing the events")
    args = parser.parse_args()
    figures: dict[str, harness.Figure] = {"CRDs x CRs": f"{args.crds} x {args.crs}", "target events/s": args.rate}
    workdir = Path(tempfile.mkdtemp(prefix="bench-latency-"))
    (workdir / "latency_hook.py").write_text(HOOK)
    record = workdir / "reconcile-starts.txt"
    with harness.cluster(args) as (kube, kubeconfig):
        namespace = harness.create_namespace(kube, "latency")
        kinds = harness.create_kinds(kube, args.crds)
        try:
            harness.create_crs(kube, kinds, args.crs, namespace)
            doc = harness.katalog(kinds)
            for entry in doc["spec"]["crds"].values():
                entry["operatorBox"]["reconciler"]["hooks"] = {"module": "latency_hook", "function": "recorder",
                                                               "runHooksFirst": True}
            run = OrkRun(doc, kubeconfig, workdir, namespace=namespace, env={"BENCH_LATENCY_LOG": str(record)})
            try:
                run.wait_up()
                run.wait_settled(args.crds, args.crs, 900)
                harness.wait_converged(kube, kinds, namespace, args.crs, 900)
                time.sleep(2)
                watchers = Watchers(kube, kinds, namespace)
                print(f"bench_latency: {args.crds} CRDs x {args.crs} CRs converged; {args.rate:g} events/s for "
                      f"{args.seconds:g}s; logs in {workdir}", flush=True)
                before = scrape(run.url + "/metrics")
                events, achieved = drive(kube, kinds, args.crs, namespace, args.rate, args.seconds, args.senders)
                split = split_figures(before, scrape(run.url + "/metrics"), args.crds * WORKERS, achieved)
                harness.wait_converged(kube, kinds, namespace, args.crs, 300)
                time.sleep(1)
                watchers.close()
            finally:
                run.stop()
        finally:
            harness.delete_all(kube, kinds, [namespace])
    ork, ork_missed = harness.first_sighting_latencies(events, read_sightings(record))
    raw, raw_missed = harness.first_sighting_latencies(events, watchers.seen)
    figures["achieved events/s"] = round(achieved, 1)
    figures["events"] = len(events)
    for label, delays, missed in (("orkestra reconcile start", ork, ork_missed), ("raw watch event", raw, raw_missed)):
        p50, p99 = harness.percentile(delays, 50) * 1000, harness.percentile(delays, 99) * 1000
        figures[f"{label} p50 ms"] = round(p50, 2)
        figures[f"{label} p99 ms"] = round(p99, 2)
        if missed:
            figures[f"{label} events never seen"] = missed
        print(f"  {label:26s} p50 {p50:8.2f} ms  p99 {p99:8.2f} ms  ({len(delays)} events, {missed} never seen)")
    figures["ratio p99 orkestra/raw watch"] = harness.ratio(figures["orkestra reconcile start p99 ms"],
                                                             figures["raw watch event p99 ms"])
    for label, value in split.items():
        print(f"  {label:50s} {value}")
    figures.update(split)
    print(f"  achieved {achieved:.1f} events/s; ratio p99 orkestra/raw watch "
          f"{figures['ratio p99 orkestra/raw watch']:.2f}x (goal: orkestra p99 <= 20 ms)")
    harness.record(args.results, "latency", figures)


if __name__ == "__main__":
    main()
