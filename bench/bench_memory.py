"""Benchmark: resident memory of one `ork run` serving many CRDs, against one process per CRD.

Every CR owns a ConfigMap, a Deployment and a headless Service and gets a Ready status (the
entries of harness.entry). RSS is summed over every process of the contender (for `ork run` the
gunicorn arbiter and its worker; PSS beside it), read once every CRD is healthy, holds its CRs,
has reconciled them all and has an empty queue, every CR reports Ready, and `--idle` seconds
more have passed (the steady state after the initial list, the first reconciles and
`gc.freeze()`).

1. one `ork run` per `--runs` item, CRDS x CRS (default 1x100, 10x100, 100x100, as issue 15
   asks; 100 x 100 is 10 000 CRs and 30 000 children, about 4 minutes to converge on 2 loaded
   cores), each on fresh CRDs;
2. `--singles` (default 10) separate single-CRD `ork run`s over the CRDs of the run with that
   many CRDs (so they find the CRs already converged), summed;
3. with `--kopf`, one kopf operator per CRD (bench/kopf_peer.py, the same writes) for
   `--singles` fresh CRDs with as many CRs, summed.

    .venv/bin/python bench/bench_memory.py --kopf
    .venv/bin/python bench/bench_memory.py --runs 1x20,10x20 --singles 10 --kopf
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import harness
import kopf_peer
from harness import MB, Kind, OrkRun


def parse_runs(text: str) -> list[tuple[int, int]]:
    """'1x100,10x100' -> [(1, 100), (10, 100)]."""
    runs = []
    for item in text.split(","):
        crds, _, crs = item.strip().partition("x")
        if not (crds.isdigit() and crs.isdigit()) or int(crds) < 1:
            raise argparse.ArgumentTypeError(f"--runs item {item!r} is not CRDSxCRS, e.g. 10x100")
        runs.append((int(crds), int(crs)))
    return runs


def pss(pid: int) -> int:
    import psutil
    total = 0
    for proc in harness.process_tree(pid):
        try:
            total += proc.memory_full_info().pss
        except psutil.NoSuchProcess:
            continue
    return total


def describe_tree(pid: int) -> str:
    """One line per process of the tree: RSS, PSS and USS (what only that process holds), in MB,
    and its thread count: where the memory of an `ork run` sits (arbiter vs worker)."""
    import psutil
    parts = []
    for role, proc in zip(("arbiter", "worker"), harness.process_tree(pid)):
        try:
            info, threads = proc.memory_full_info(), proc.num_threads()
        except psutil.NoSuchProcess:
            continue
        parts.append(f"{role} RSS {info.rss / MB:.1f} PSS {info.pss / MB:.1f} USS {info.uss / MB:.1f}"
                     f" threads {threads}")
    return "; ".join(parts)


def measure_ork(kube, kubeconfig: str, kinds: list[Kind], crs: int, namespace: str, workdir: Path,
                args: argparse.Namespace) -> tuple[float, float, float]:
    """(RSS MB, PSS MB, seconds to settle) of one `ork run` over `kinds`."""
    run = OrkRun(harness.katalog(kinds), kubeconfig, workdir, namespace=namespace)
    try:
        run.wait_up()
        took = run.wait_settled(len(kinds), crs, args.timeout)
        harness.wait_converged(kube, kinds, namespace, crs, args.timeout)
        time.sleep(args.idle)
        print(f"  {len(kinds)} CRDs: {describe_tree(run.pid)}", flush=True)
        return harness.tree_rss(run.pid) / MB, pss(run.pid) / MB, took
    finally:
        run.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    harness.add_common_args(ap)
    ap.add_argument("--runs", type=parse_runs, default=parse_runs("1x100,10x100,100x100"),
                    help="one `ork run` per item, CRDSxCRS (default 1x100,10x100,100x100)")
    ap.add_argument("--singles", type=int, default=10,
                    help="separate single-CRD processes to compare with (0: none, and no kopf)")
    ap.add_argument("--kopf", action="store_true", help="also run one kopf operator per CRD")
    ap.add_argument("--idle", type=float, default=5, help="seconds idle after convergence before reading RSS")
    ap.add_argument("--timeout", type=float, default=900)
    args = ap.parse_args()
    figures: dict[str, harness.Figure] = {}
    kinds_made: list[Kind] = []
    namespaces: list[str] = []
    workdir = Path(tempfile.mkdtemp(prefix="bench-memory-"))
    print(f"bench_memory: runs {args.runs}, {args.singles} singles, kopf {args.kopf}; logs in {workdir}", flush=True)
    with harness.cluster(args) as (kube, kubeconfig):
        try:
            singles_kinds: tuple[list[Kind], int, str] | None = None
            for n, crs in args.runs:
                namespace = harness.create_namespace(kube, "memory")
                namespaces.append(namespace)
                kinds = harness.create_kinds(kube, n)
                kinds_made += kinds
                harness.create_crs(kube, kinds, crs, namespace)
                rss, pss_mb, took = measure_ork(kube, kubeconfig, kinds, crs, namespace, workdir, args)
                figures[f"ork run, {n} CRDs x {crs} CRs, RSS MB"] = round(rss, 1)
                figures[f"ork run, {n} CRDs x {crs} CRs, PSS MB"] = round(pss_mb, 1)
                print(f"one ork run, {n:3d} CRDs x {crs} CRs: {rss:7.1f} MB RSS ({pss_mb:.1f} MB PSS; "
                      f"settled in {took:.1f}s)", flush=True)
                if n == args.singles:
                    singles_kinds = (kinds, crs, namespace)
            if args.singles:          # 0: the one-process runs alone (e.g. --runs 100x100)
                if singles_kinds is None:
                    raise SystemExit(f"--runs needs an item with {args.singles} CRDs (the singles reuse its CRDs)")
                kinds, crs, namespace = singles_kinds
                runs = [OrkRun(harness.katalog([k]), kubeconfig, workdir, namespace=namespace) for k in kinds]
                try:
                    for run in runs:
                        run.wait_up()
                        run.wait_settled(1, crs, args.timeout)
                    time.sleep(args.idle)
                    singles = sum(harness.tree_rss(r.pid) for r in runs) / MB
                finally:
                    for run in runs:
                        run.stop()
                one = figures[f"ork run, {args.singles} CRDs x {crs} CRs, RSS MB"]
                figures[f"{args.singles} single-CRD ork runs x {crs} CRs, RSS MB"] = round(singles, 1)
                figures[f"ratio one ork run / {args.singles} single-CRD ork runs"] = harness.ratio(one, singles)
                print(f"{args.singles} separate single-CRD ork runs:      {singles:7.1f} MB RSS "
                      f"({singles / args.singles:.1f} MB each)", flush=True)
                if args.kopf:
                    kopf_mb = measure_kopf(kube, kubeconfig, crs, workdir, args, kinds_made, namespaces)
                    figures[f"{args.singles} kopf operators x {crs} CRs, RSS MB"] = round(kopf_mb, 1)
                    figures[f"ratio one ork run / {args.singles} kopf operators"] = harness.ratio(one, kopf_mb)
                    print(f"{args.singles} kopf operators (one per CRD):      {kopf_mb:7.1f} MB RSS "
                          f"({kopf_mb / args.singles:.1f} MB each)", flush=True)
        finally:
            harness.delete_all(kube, kinds_made, namespaces)
    for name, value in figures.items():
        if name.startswith("ratio"):
            print(f"{name}: {value:.2f}")
    harness.record(args.results, "memory", figures)


def measure_kopf(kube, kubeconfig: str, crs: int, workdir: Path, args: argparse.Namespace,
                 kinds_made: list[Kind], namespaces: list[str]) -> float:
    """RSS MB of `--singles` kopf operators once each converged its own fresh CRD's CRs."""
    namespace = harness.create_namespace(kube, "memory-kopf")
    namespaces.append(namespace)
    kinds = harness.create_kinds(kube, args.singles, "Kopf")
    kinds_made += kinds
    harness.create_crs(kube, kinds, crs, namespace)
    procs = [kopf_peer.start(kubeconfig, k.plural, namespace, workdir / f"kopf-{k.plural}.log") for k in kinds]
    try:
        harness.wait_converged(kube, kinds, namespace, crs, args.timeout)
        time.sleep(args.idle)
        return sum(harness.tree_rss(p.pid) for p in procs) / MB
    finally:
        for proc in procs:
            harness.stop_process(proc)


if __name__ == "__main__":
    main()
