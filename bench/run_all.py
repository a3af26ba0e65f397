"""`make bench`: every issue-15 bench at its default settings against one local control plane,
their figures collected into bench/results.json, then one table (bench/report.py).

    .venv/bin/python bench/run_all.py            # full size (about 20 minutes on 2 loaded cores)
    .venv/bin/python bench/run_all.py --quick    # small counts: proves every bench runs end to end
    .venv/bin/python bench/run_all.py --only latency,startup

BENCH_QUICK=1 is the same as --quick. Without --kubeconfig a fresh local control plane is started
for the run and stopped afterwards, so no other client of a shared cluster skews the figures. A
bench that fails is recorded as {"error": ...} and the others still run; the exit status is then 1.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import harness
import report

HERE = Path(__file__).resolve().parent

# name -> (script, full-size arguments, quick arguments)
BENCHES: dict[str, tuple[str, list[str], list[str]]] = {
    "memory": ("bench_memory.py", ["--kopf"],
               ["--kopf", "--runs", "1x5,3x5", "--singles", "3", "--idle", "1"]),
    "throughput": ("bench_throughput.py", ["--kopf"],
                   ["--kopf", "--count", "20", "--concurrency", "3,10"]),
    "latency": ("bench_latency.py", [], ["--crds", "2", "--crs", "3", "--rate", "20", "--seconds", "3"]),
    "webhooks": ("bench_webhooks.py", [], ["--convert-requests", "300", "--admission-requests", "30"]),
    "idle": ("bench_idle_writes.py", [], ["--count", "20", "--minutes", "0.5"]),
    "failover": ("bench_failover.py", [], ["--rounds", "1", "--timings", "4,3,1"]),
    "startup": ("bench_startup.py", [], ["--sizes", "2,5", "--total", "20"]),
}


def command(name: str, quick: bool, kubeconfig: str, results: Path) -> list[str]:
    script, full, small = BENCHES[name]
    return [sys.executable, str(HERE / script), *(small if quick else full),
            "--kubeconfig", kubeconfig, "--results", str(results)]


def run(names: list[str], quick: bool, kubeconfig: str, results: Path) -> bool:
    ok = True
    for name in names:
        cmd = command(name, quick, kubeconfig, results)
        print(f"== {name}: {' '.join(cmd[1:])}", flush=True)
        start = time.monotonic()
        code = run_one(cmd)
        took = time.monotonic() - start
        if code != 0:
            ok = False
            harness.record(results, name, {"error": f"exited with {code} after {took:.0f}s"})
        harness.record(results, name, {"bench wall time s": round(took, 1)})
    return ok


def run_one(cmd: list[str]) -> int:
    """The bench's exit status. When this script is stopped, the bench gets two minutes to stop its
    `ork run`s and delete what it made (SIGTERM passed on; Ctrl-C reached it already) before a
    SIGKILL: killed at once (subprocess.call's way) it would orphan them, as they run in sessions
    of their own."""
    proc = subprocess.Popen(cmd)
    try:
        return proc.wait()
    except BaseException as stopped:
        if not isinstance(stopped, KeyboardInterrupt):   # Ctrl-C reached the bench's group already
            proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=120)
        if proc.poll() is None:
            proc.kill()
        raise


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", default=os.environ.get("BENCH_QUICK") == "1")
    parser.add_argument("--only", default=",".join(BENCHES), help="comma-separated subset of " + ",".join(BENCHES))
    parser.add_argument("--kubeconfig", default=None, help="use this API server instead of a fresh local one")
    parser.add_argument("--results", type=Path, default=harness.RESULTS)
    args = parser.parse_args()
    names = args.only.split(",")
    unknown = [n for n in names if n not in BENCHES]
    if unknown:
        parser.error(f"unknown bench {', '.join(unknown)}; choose from {', '.join(BENCHES)}")
    harness.exit_on_sigterm()
    args.results.write_text("{}\n")
    harness.record(args.results, "run", {"mode": "quick" if args.quick else "full", "commit": commit(),
                                         "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                         "machine": machine()})
    loads: list[float] = []
    stop = threading.Event()
    sampler = threading.Thread(target=sample_load, args=(loads, stop), daemon=True)
    sampler.start()
    try:
        if args.kubeconfig:
            ok = run(names, args.quick, args.kubeconfig, args.results)
        else:
            with harness.cluster(argparse.Namespace(own_control_plane=True)) as (_, kubeconfig):
                ok = run(names, args.quick, kubeconfig, args.results)
    finally:
        stop.set()
        harness.record(args.results, "run", {"finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                             "load average during the run": load_summary(loads)})
    print()
    print(report.render_table(json.loads(args.results.read_text())))
    return 0 if ok else 1


def commit() -> str:
    """The checked-out commit the figures belong to ("+ changes" when the tree is not clean)."""
    def git(*argv: str) -> str:
        return subprocess.run(["git", *argv], cwd=HERE, capture_output=True, text=True).stdout.strip()
    sha = git("rev-parse", "--short=12", "HEAD") or "unknown"
    return sha + (" + changes" if git("status", "--porcelain", "--untracked-files=no") else "")


def sample_load(samples: list[float], stop: threading.Event, every: float = 10) -> None:
    """The 1-minute load average every `every` seconds until `stop`: the machine is shared, and
    the load says how far absolute timings of this run can be trusted."""
    while True:
        samples.append(os.getloadavg()[0])
        if stop.wait(every):
            return


def load_summary(samples: list[float]) -> str:
    if not samples:
        return "not sampled"
    ordered = sorted(samples)
    return (f"min {ordered[0]:.1f}, median {harness.percentile(ordered, 50):.1f}, max {ordered[-1]:.1f} "
            f"({len(samples)} samples)")


def machine() -> str:
    """Cores, memory and load: timings are comparable only as ratios within one run."""
    cores = os.cpu_count()
    mem = next((int(line.split()[1]) // (1024 * 1024) for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal")), 0) if Path("/proc/meminfo").exists() else 0
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    return f"{cores} cores, {mem} GiB, load {load:.1f} at start"


if __name__ == "__main__":
    sys.exit(main())
