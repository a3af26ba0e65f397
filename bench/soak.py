"""Soak (issue 14, not run in CI): churn across 10 CRDs for a long time, with leader kills.

Two `ork run` replicas with leader election serve one Katalog of `--crds` CRDs (each CR renders a
ConfigMap holding its `.spec.value`). For `--minutes`, a churn thread creates, updates and
deletes CRs across every CRD at `--rate` operations a second; every `--kill-every` minutes the
current leader is SIGKILLed and restarted as a follower, so leadership moves. Every `--sample`
seconds the RSS of each replica (the gunicorn arbiter and its worker, summed) is recorded with
its thread and open-file counts and whether it leads (per process, in `samples.csv` of the logs
directory).

At the end, per leader term (and per follower wait) of each replica, split where its role or
its worker process changes (a lost leadership restarts the worker): the RSS slope (least
squares, MiB per hour) over its samples from `--warmup` minutes after the term began, and its
threads and fds at the first of those samples and at its end. Then the convergence check: every
CR that exists has a ConfigMap with its last value and every deleted CR's ConfigMap is gone
(exit 1 if not, listing what is missing, and writing the ConfigMaps of deleted CRs still there
to `leftovers.yaml`). A control plane the soak started leaves its logs in the logs directory
(with `--audit`, kube-apiserver's audit log of every write too).

The machine is shared: absolute RSS figures move with load, the slope and the counts are what
matter. Run from the repository root; without `--kubeconfig` (or KUBECONFIG) a local control
plane is started for the run and stopped after it:
    .venv/bin/python bench/soak.py                     # 30 minutes, 10 CRDs, a kill every 5 minutes
    .venv/bin/python bench/soak.py --minutes 4 --kill-every 2 --initial 50 --audit
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import CRDS, GROUP, MB, ORK, create_kinds, free_port, get_json, process_tree  # noqa: E402
from harness import wait_for as wait  # noqa: E402

from orkestra.gvk import GVR  # noqa: E402
from orkestra.kube import KubeClient  # noqa: E402
from orkestra.testing.controlplane import LocalControlPlane  # noqa: E402

CONFIGMAPS = GVR("", "v1", "configmaps")
NAMESPACES = GVR("", "v1", "namespaces")


# ---------------------------------------------------------------------------- replicas
class Sample(NamedTuple):
    t: float                  # seconds since the soak began
    rss: int                  # bytes, summed over the gunicorn arbiter and its worker
    threads: int
    fds: int
    leads: bool
    pids: tuple[int, ...]     # the processes sampled: a new worker (after a lost leadership) is a new run


@dataclass
class Replica:
    name: str
    proc: subprocess.Popen
    url: str
    samples: list[Sample] = field(default_factory=list)
    series: Path | None = None     # one CSV row per process and sample (t, replica, leads, pid, rss, threads, fds)

    def leads(self) -> bool:
        doc = get_json(self.url + "/katalog")
        return bool(doc and doc.get("isKonductor"))

    def sample(self, t: float) -> None:
        import psutil          # the bench extra; imported here so that the unit tests import this file
        try:
            procs = process_tree(self.proc.pid)
            # one reading per process, so that samples.csv's rows add up to the summed Sample
            readings = [(p.pid, p.memory_info().rss, p.num_threads(), p.num_fds()) for p in procs]
        except psutil.NoSuchProcess:
            return
        if not readings:
            return
        leads = self.leads()
        self.samples.append(Sample(t, sum(r[1] for r in readings), sum(r[2] for r in readings),
                                   sum(r[3] for r in readings), leads, tuple(sorted(r[0] for r in readings))))
        if self.series is not None:
            with self.series.open("a") as out:
                out.writelines(f"{t:.1f},{self.name},{int(leads)},{pid},{rss},{threads},{fds}\n"
                               for pid, rss, threads, fds in readings)


def start_replica(name: str, katalog: Path, kubeconfig: str, namespace: str, workdir: Path) -> Replica:
    port = free_port()
    env = {**os.environ, "ORK_PORT": str(port), "ORK_WEBHOOK_PORT": str(free_port()), "ORK_BIND_ADDRESS": "127.0.0.1",
           "NAMESPACE": namespace, "WATCH_NAMESPACE": namespace, "LOG_LEVEL": "warn", "LEADER_ELECTION": "true",
           "LEASE_DURATION": "6s", "RENEW_DEADLINE": "4s", "RETRY_PERIOD": "2s"}
    log = open(workdir / f"{name}.log", "ab")
    proc = subprocess.Popen([ORK, "run", "-f", str(katalog), "--kubeconfig", kubeconfig], stdout=log,
                            stderr=subprocess.STDOUT, env=env, start_new_session=True)
    return Replica(name, proc, f"http://127.0.0.1:{port}", series=workdir / "samples.csv")


def stop_replica(replica: Replica, sig: int = signal.SIGTERM) -> None:
    if replica.proc.poll() is None:
        try:
            os.killpg(replica.proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            replica.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(replica.proc.pid, signal.SIGKILL)
            replica.proc.wait()


# ---------------------------------------------------------------------------- churn
class Churn:
    """Creates, updates and deletes CRs; remembers what each CR should look like at the end."""

    def __init__(self, kube, kinds: list[tuple[str, str]], namespace: str, rate: float, seed: int,
                 target: int) -> None:
        self.kube, self.kinds, self.namespace, self.rate, self.target = kube, kinds, namespace, rate, target
        self.rng = random.Random(seed)
        self.live: dict[tuple[str, str], str] = {}        # (plural, name) → last value written
        self.deleted: set[tuple[str, str]] = set()
        self.ops = {"create": 0, "update": 0, "delete": 0, "failed": 0}
        self._stop = threading.Event()
        self._serial = 0

    def run(self) -> None:
        while not self._stop.wait(1.0 / self.rate):
            try:
                self.step()
            except Exception as err:  # noqa: BLE001 - a refused write is counted, the soak goes on
                self.ops["failed"] += 1
                print(f"  churn: {err}", flush=True)

    def seed(self, per_kind: int) -> None:
        """`per_kind` CRs of every kind before the churn starts: the level it then holds."""
        for kind, plural in self.kinds:
            for _ in range(per_kind):
                self._create(kind, plural)

    def _create(self, kind: str, plural: str) -> None:
        self._serial += 1
        name, value = f"soak-{self._serial:06d}", f"v{self._serial}"
        self.kube.create(GVR(GROUP, "v1", plural), {"apiVersion": f"{GROUP}/v1", "kind": kind,
                                                     "metadata": {"name": name}, "spec": {"value": value}},
                         self.namespace)
        self.live[(plural, name)] = value
        self.ops["create"] += 1

    def step(self) -> None:
        kind, plural = self.rng.choice(self.kinds)
        gvr = GVR(GROUP, "v1", plural)
        mine = [name for (p, name) in self.live if p == plural]
        # Creates and deletes pull each kind back to its initial CRs (an even split above it
        # would be a random walk, drifting up), so the live set (and with it the caches) stays
        # level and the RSS slope speaks of leaks, not of more data.
        roll = self.rng.random()
        create, update = (0.2, 0.6) if len(mine) > self.target else (0.4, 0.8)
        if not mine or roll < create:
            self._create(kind, plural)
        elif roll < update:
            name = self.rng.choice(mine)
            value = f"u{self.rng.randrange(10**9)}"
            self.kube.patch(gvr, name, {"spec": {"value": value}}, self.namespace)
            self.live[(plural, name)] = value
            self.ops["update"] += 1
        else:
            name = self.rng.choice(mine)
            self.kube.delete(gvr, name, self.namespace)
            del self.live[(plural, name)]
            self.deleted.add((plural, name))
            self.ops["delete"] += 1

    def stop(self) -> None:
        self._stop.set()

    def unconverged(self) -> list[str]:
        items, _ = self.kube.list(CONFIGMAPS, self.namespace)
        values = {cm["metadata"]["name"]: (cm.get("data") or {}).get("value") for cm in items}
        wrong = [f"{p}/{n}: want {v!r}, ConfigMap has {values.get(f'{n}-config')!r}"
                 for (p, n), v in self.live.items() if values.get(f"{n}-config") != v]
        wrong += [f"{p}/{n}: deleted, ConfigMap still there" for (p, n) in self.deleted if f"{n}-config" in values]
        return wrong

    def leftovers(self) -> list[dict]:
        """The ConfigMaps of deleted CRs still present: kept as evidence when the check fails."""
        items, _ = self.kube.list(CONFIGMAPS, self.namespace)
        gone = {f"{n}-config" for (_, n) in self.deleted}
        return [cm for cm in items if cm["metadata"]["name"] in gone]


# ---------------------------------------------------------------------------- report
def slope_mib_per_hour(samples: list) -> float | None:
    if len(samples) < 3:
        return None
    ts = [s[0] for s in samples]
    rss = [s[1] / MB for s in samples]
    return statistics.linear_regression(ts, rss).slope * 3600


def runs(samples: list[Sample]) -> list[list[Sample]]:
    """Consecutive samples in one role with the same processes: a leader term, or a follower's
    wait. Leadership starts the informers and workers, and a lost leadership restarts the worker,
    so memory is only comparable within a run."""
    out: list[list[Sample]] = []
    for s in samples:
        if out and (out[-1][-1].leads, out[-1][-1].pids) == (s.leads, s.pids):
            out[-1].append(s)
        else:
            out.append([s])
    return out


def describe(name: str, run: list[Sample], warmup: float) -> str:
    """One line per run: its RSS slope over the samples `warmup` seconds after its start, and its
    threads and fds at the first of those samples and at its end."""
    role = "leader term" if run[0].leads else "follower"
    head = f"{name} {role} {run[0].t / 60:5.1f}-{run[-1].t / 60:5.1f} min"
    after = [s for s in run if s.t >= run[0].t + warmup]
    if len(after) < 3:
        return f"{head}: {len(after)} samples after the {warmup / 60:.1f}-min warm-up, no slope"
    first, last = after[0], after[-1]
    slope = slope_mib_per_hour(after)
    return (f"{head}: {len(after)} samples after warm-up; RSS {first.rss / MB:.1f} → {last.rss / MB:.1f} MiB "
            f"(min {min(s.rss for s in after) / MB:.1f}, max {max(s.rss for s in after) / MB:.1f}); "
            f"slope {slope:+.1f} MiB/h; threads {first.threads} → {last.threads}; fds {first.fds} → {last.fds}")


def report(replicas: list[Replica], warmup: float) -> None:
    for r in replicas:
        for run in runs(r.samples):
            print(describe(r.name, run, warmup))


# ---------------------------------------------------------------------------- main
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kubeconfig", default=os.environ.get("KUBECONFIG"),
                    help="an existing cluster (default $KUBECONFIG); without one a local control plane is started")
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--crds", type=int, default=10)
    ap.add_argument("--initial", type=int, default=10, help="CRs per CRD before the churn starts")
    ap.add_argument("--rate", type=float, default=10.0, help="churn operations per second")
    ap.add_argument("--kill-every", type=float, default=5.0, help="minutes between leader kills")
    ap.add_argument("--sample", type=float, default=10.0, help="seconds between RSS samples")
    ap.add_argument("--warmup", type=float, default=1.0,
                    help="minutes at the start of each leader term (or follower wait) excluded from its slope")
    ap.add_argument("--converge-timeout", type=float, default=180.0)
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("--audit", action="store_true",
                    help="start the local control plane with kube-apiserver's audit log, kept in the logs directory")
    args = ap.parse_args()

    control_plane = None
    kubeconfig = args.kubeconfig
    if kubeconfig is None:
        control_plane = LocalControlPlane(audit=args.audit).start()
        kubeconfig = str(control_plane.kubeconfig)
    kube = KubeClient.from_config(kubeconfig)
    namespace = f"soak-{uuid.uuid4().hex[:6]}"
    kube.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    workdir = Path(tempfile.mkdtemp(prefix="soak-"))
    kinds = [(k.kind, k.plural) for k in create_kinds(kube, args.crds)]
    katalog = workdir / "katalog.yaml"
    katalog.write_text(yaml.safe_dump({
        "apiVersion": "orkestra.orkspace.io/v1", "kind": "Katalog", "metadata": {"name": "soak"},
        "spec": {"crds": {plural[:-1]: {
            "apiTypes": {"group": GROUP, "version": "v1", "kind": kind, "plural": plural},
            "operatorBox": {"reconciler": {"workers": 2},
                            "onReconcile": {"configMaps": [{"data": {"value": "{{ .spec.value }}"}}]}}}
            for kind, plural in kinds}}}))
    churn = Churn(kube, kinds, namespace, args.rate, args.seed, args.initial)
    churn.seed(args.initial)
    replicas = [start_replica("replica-0", katalog, kubeconfig, namespace, workdir),
                start_replica("replica-1", katalog, kubeconfig, namespace, workdir)]
    print(f"soak: {args.minutes} min, {args.crds} CRDs, {args.rate}/s churn, a leader kill every "
          f"{args.kill_every} min, RSS every {args.sample}s; logs in {workdir}", flush=True)
    failed, retired = True, []
    try:
        wait(lambda: any(r.leads() for r in replicas), 120, "a leader")
        t0 = time.monotonic()
        runner = threading.Thread(target=churn.run, name="churn", daemon=True)
        runner.start()
        next_kill, kills, takeovers = t0 + args.kill_every * 60, 0, []
        end = t0 + args.minutes * 60
        while time.monotonic() < end:
            now = time.monotonic()
            for r in replicas:
                r.sample(now - t0)
            if now >= next_kill:
                leader = next((r for r in replicas if r.leads()), None)
                if leader is not None:
                    killed_at = time.monotonic()
                    stop_replica(leader, signal.SIGKILL)
                    others = [r for r in replicas if r is not leader]
                    wait(lambda: any(r.leads() for r in others), 120, "a new leader")
                    takeovers.append(time.monotonic() - killed_at)
                    kills += 1
                    fresh = start_replica(f"{leader.name}.{kills}", katalog, kubeconfig, namespace, workdir)
                    replicas[replicas.index(leader)] = fresh
                    print(f"  {(now - t0) / 60:5.1f} min: killed {leader.name}, new leader in "
                          f"{takeovers[-1]:.1f}s; {churn.ops}", flush=True)
                    retired.append(leader)
                next_kill += args.kill_every * 60
            time.sleep(max(0.0, args.sample - (time.monotonic() - now)))
        churn.stop()
        runner.join(30)
        started = time.monotonic()
        wrong: list[str] = churn.unconverged()
        while wrong and time.monotonic() - started < args.converge_timeout:
            time.sleep(2)
            wrong = churn.unconverged()
        now = time.monotonic()
        for r in replicas:
            r.sample(now - t0)
        print(f"churn: {churn.ops}; leader kills: {kills}, takeovers "
              f"{', '.join(f'{t:.1f}s' for t in takeovers) or 'none'}")
        report(retired + replicas, args.warmup * 60)
        if wrong:
            (workdir / "leftovers.yaml").write_text(yaml.safe_dump_all(churn.leftovers()))
            print(f"NOT CONVERGED after {args.converge_timeout:.0f}s: {len(wrong)} CRs, e.g. {wrong[:5]}")
        else:
            print(f"every CR converged, nothing lost: {len(churn.live)} live CRs with their last value, "
                  f"{len(churn.deleted)} deleted CRs without a ConfigMap, in {now - started:.1f}s after the churn")
            failed = False
    finally:
        churn.stop()
        for r in replicas:
            stop_replica(r)
        for _, plural in kinds:
            kube.delete(CRDS, f"{plural}.{GROUP}")
        kube.delete(NAMESPACES, namespace)
        if control_plane is not None:
            shutil.copytree(control_plane.layout.logs, workdir / "controlplane")   # audit log, component logs
            control_plane.stop()
    return 1 if failed else 0

if __name__ == "__main__":
    sys.exit(main())
