"""What every bench in this directory shares: the cluster, the bench CRDs and CRs, `ork run` as a
subprocess, convergence checks, process-tree RSS and CPU, the API server's own request counters,
percentiles, and the figures each bench records into `bench/results.json`.

Run as scripts, the benches find this module because Python puts `bench/` on `sys.path`; the
unit tests (tests/unit/bench) import it the same way. Nothing here runs at import.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Protocol

import yaml

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from orkestra.gvk import GVR  # noqa: E402
from orkestra.kube import KubeClient  # noqa: E402

GROUP = "bench.orkestra.io"
ORK = str(Path(sys.executable).with_name("ork"))
CRDS = GVR("apiextensions.k8s.io", "v1", "customresourcedefinitions")
NAMESPACES = GVR("", "v1", "namespaces")
CHILDREN = {"deployments": GVR("apps", "v1", "deployments"), "services": GVR("", "v1", "services"),
            "configmaps": GVR("", "v1", "configmaps")}
MB = 1024 * 1024
RESULTS = ROOT / "bench" / "results.json"
LOCAL_KUBECONFIG = Path.home() / ".cache/orkestra/local/kubeconfig"


# ---------------------------------------------------------------------------- pure helpers
def percentile(samples: Iterable[float], p: float) -> float:
    """Nearest-rank percentile (`p` in 0..100): the smallest sample with at least p % of the
    samples at or below it. Raises ValueError on no samples rather than inventing a figure."""
    ordered = sorted(samples)
    if not ordered:
        raise ValueError("percentile of no samples")
    if not 0 <= p <= 100:
        raise ValueError(f"percentile {p} is outside 0..100")
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


class _MemoryInfo(Protocol):
    rss: int


class _Process(Protocol):
    def memory_info(self) -> _MemoryInfo: ...


def sum_rss(processes: Iterable[_Process]) -> int:
    """Bytes of RSS over `processes`; a process that exited meanwhile counts 0."""
    total = 0
    for proc in processes:
        try:
            total += proc.memory_info().rss
        except (ProcessLookupError, OSError, _no_such_process()):
            continue
    return total


def _no_such_process() -> type[BaseException]:
    try:
        import psutil
    except ImportError:          # unit tests without the bench extra
        return ProcessLookupError
    return psutil.NoSuchProcess


def process_tree(pid: int) -> list:
    """`pid` and every descendant (gunicorn arbiter and worker for `ork run`) as psutil processes."""
    import psutil
    try:
        proc = psutil.Process(pid)
        return [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def tree_rss(pid: int) -> int:
    return sum_rss(process_tree(pid))


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by `pid` and its live descendants."""
    import psutil
    total = 0.0
    for proc in process_tree(pid):
        try:
            times = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


_SAMPLE = re.compile(r'^apiserver_request_total\{(?P<labels>[^}]*)\} (?P<value>\S+)$')
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')
WRITE_VERBS = frozenset({"POST", "PUT", "PATCH", "APPLY", "DELETE", "DELETECOLLECTION"})


def parse_write_counts(metrics_text: str, resources: set[str]) -> Counter:
    """(verb, resource, subresource) -> count of write requests in the API server's
    `apiserver_request_total`, for `resources` only; the controller-manager's Deployment status
    writes are left out (they are not the runtime's)."""
    counts: Counter = Counter()
    for line in metrics_text.splitlines():
        match = _SAMPLE.match(line)
        if not match:
            continue
        labels = dict(_LABEL.findall(match["labels"]))
        resource, sub, verb = labels.get("resource", ""), labels.get("subresource", ""), labels.get("verb", "")
        if verb not in WRITE_VERBS or resource not in resources:
            continue
        if resource == "deployments" and sub == "status":
            continue
        counts[(verb, resource, sub)] += int(float(match["value"]))
    return counts


def counter_delta(before: Counter, after: Counter) -> Counter:
    return Counter({k: after[k] - before.get(k, 0) for k in after if after[k] - before.get(k, 0)})


Sighting = tuple[str, int, float]          # (object key, generation, wall-clock seconds)


def first_sighting_latencies(events: Iterable[Sighting], seen: Iterable[Sighting]) -> tuple[list[float], int]:
    """For each event (a write of generation g to an object, at time t), the delay until the object
    was first seen at generation g or newer (a newer one covers an event the queue folded into the
    next), as (delays in seconds, events never seen). Both lists use one clock (time.time())."""
    by_key: dict[str, list[tuple[float, int]]] = {}
    for key, generation, when in seen:
        by_key.setdefault(key, []).append((when, generation))
    for sightings in by_key.values():
        sightings.sort()
    delays, missed = [], 0
    for key, generation, when in events:
        first = next((t for t, g in by_key.get(key, []) if g >= generation), None)
        if first is None:
            missed += 1
        else:
            delays.append(first - when)
    return delays, missed


# ---------------------------------------------------------------------------- results.json and the table
Figure = float | int | str


def record(path: Path | None, bench: str, figures: dict[str, Figure]) -> None:
    """Merge `{bench: figures}` into the results file (created when missing); no-op without a path.
    Figures are numbers (units in the name) or short strings (settings, notes)."""
    if path is None:
        return
    for name, value in figures.items():
        if not isinstance(value, (int, float, str)) or isinstance(value, bool):
            raise TypeError(f"{bench}: figure {name!r} is {type(value).__name__}, not a number or string")
    doc = json.loads(path.read_text()) if path.exists() else {}
    doc[bench] = {**doc.get(bench, {}), **figures}
    path.write_text(json.dumps(doc, indent=2) + "\n")


def ratio(a: float, b: float) -> float:
    """a / b rounded for the table; 0 when the peer measured 0 (a ratio to nothing is no figure)."""
    return round(a / b, 2) if b else 0.0


# ---------------------------------------------------------------------------- command line and cluster
def add_common_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kubeconfig", default=os.environ.get("KUBECONFIG") or str(LOCAL_KUBECONFIG),
                        help="API server to use (default: $KUBECONFIG, else the one of `ork local up`)")
    parser.add_argument("--own-control-plane", action="store_true",
                        help="start a fresh local control plane for this run and stop it afterwards")
    parser.add_argument("--results", type=Path, default=None,
                        help="merge this bench's figures into this JSON file (make bench: bench/results.json)")


@contextlib.contextmanager
def cluster(args: argparse.Namespace) -> Iterator[tuple[KubeClient, str]]:
    """(client, kubeconfig path) for the run; a fresh control plane with --own-control-plane.
    SIGTERM raises SystemExit inside, so the benches' `finally` blocks stop the `ork run`s they
    started in their own sessions (and this control plane) instead of leaving them behind."""
    exit_on_sigterm()
    if not args.own_control_plane:
        yield KubeClient.from_config(args.kubeconfig), args.kubeconfig
        return
    from orkestra.testing import LocalControlPlane
    plane = LocalControlPlane().start()
    try:
        yield KubeClient.from_config(str(plane.kubeconfig)), str(plane.kubeconfig)
    finally:
        plane.stop()


def exit_on_sigterm() -> None:
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url: str, timeout: float = 5) -> dict | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return json.loads(resp.read())
    except Exception:  # noqa: BLE001 - not up yet, or restarting
        return None


def http_ok(url: str, timeout: float = 2) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status == 200
    except OSError:
        return False


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, interval: float = 0.05) -> float:
    """Seconds until `predicate()` held; SystemExit naming `what` after `timeout`."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise SystemExit(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)
    return time.monotonic() - start


# ---------------------------------------------------------------------------- bench kinds, CRs, Katalogs
@dataclass(frozen=True)
class Kind:
    kind: str
    plural: str

    @property
    def gvr(self) -> GVR:
        return GVR(GROUP, "v1", self.plural)

    @property
    def crd_name(self) -> str:
        return f"{self.plural}.{GROUP}"

    def cr_name(self, i: int) -> str:
        """CR names unique across kinds: the children are named after their CR, and many kinds
        share one namespace."""
        return f"{self.kind.lower()}-{i:04d}"


def crd_body(kind: Kind) -> dict:
    schema = {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": kind.crd_name},
            "spec": {"group": GROUP, "scope": "Namespaced",
                     "names": {"plural": kind.plural, "singular": kind.kind.lower(), "kind": kind.kind},
                     "versions": [{"name": "v1", "served": True, "storage": True,
                                   "subresources": {"status": {}}, "schema": schema}]}}


def create_kinds(kube: KubeClient, n: int, prefix: str = "Bench", timeout: float = 120) -> list[Kind]:
    """`n` fresh CRDs, each served and warmed up (the first write to a new CRD costs the API server
    about 2 s of storage set-up, which no timing should include)."""
    kinds = []
    for _ in range(n):
        suffix = uuid.uuid4().hex[:8]
        kinds.append(Kind(f"{prefix}{suffix}", f"{prefix.lower()}{suffix}s"))
        kube.create(CRDS, crd_body(kinds[-1]))

    def warm(kind: Kind) -> None:
        def served() -> bool:
            try:
                kube.list(kind.gvr, "default")
                return True
            except Exception:  # noqa: BLE001 - not served yet
                return False
        wait_for(served, timeout, f"CRD {kind.crd_name} to be served", 0.2)
        kube.create(kind.gvr, {"apiVersion": f"{GROUP}/v1", "kind": kind.kind, "metadata": {"name": "warm-up"}},
                    "default")
        kube.delete(kind.gvr, "warm-up", "default")
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(warm, kinds))
    return kinds


def create_namespace(kube: KubeClient, tag: str) -> str:
    name = f"bench-{tag}-{uuid.uuid4().hex[:6]}"
    kube.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    return name


def cr(kind: Kind, name: str, i: int) -> dict:
    return {"apiVersion": f"{GROUP}/v1", "kind": kind.kind, "metadata": {"name": name},
            "spec": {"image": "nginx:1.27", "title": f"site {i}"}}


def create_crs(kube: KubeClient, kinds: list[Kind], count: int, namespace: str, concurrency: int = 8) -> None:
    """`count` CRs of every kind in `kinds`, named by Kind.cr_name."""
    jobs = [(k, i) for k in kinds for i in range(count)]
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(lambda job: kube.create(job[0].gvr, cr(job[0], job[0].cr_name(job[1]), job[1]), namespace),
                      jobs))


def delete_all(kube: KubeClient, kinds: Iterable[Kind], namespaces: Iterable[str]) -> None:
    """Best-effort cleanup: the namespaces (children go with them) and the CRDs."""
    for namespace in namespaces:
        with contextlib.suppress(Exception):
            kube.delete(NAMESPACES, namespace)
    for kind in kinds:
        with contextlib.suppress(Exception):
            kube.delete(CRDS, kind.crd_name)


def entry(kind: Kind, workers: int | None = None, *, resync: str | None = None, children: bool = True) -> dict:
    """A Katalog entry for `kind`: with `children`, each CR owns a ConfigMap, a Deployment and a
    headless Service (the local control plane's /24 service range holds only ~250 ClusterIPs);
    status always. Workers, resync and queue limits stay as shipped unless `workers` or `resync`
    is given (issue 15: every contender at its default settings)."""
    reconciler: dict[str, Any] = {}
    if workers is not None:
        reconciler["workers"] = workers
    if resync is not None:
        reconciler["resync"] = resync
    box: dict[str, Any] = {"reconciler": reconciler}
    if children:
        box["onReconcile"] = {
            "configMaps": [{"data": {"title": "{{ .spec.title }}"}}],
            "custom": [{"apiVersion": "v1", "kind": "Service", "name": "{{ .metadata.name }}-svc",
                        "spec": {"clusterIP": "None", "ports": [{"port": 80, "targetPort": 8080}],
                                 "selector": {"app.kubernetes.io/instance": "{{ .metadata.name }}"}}}],
            "deployments": [{"image": "{{ .spec.image }}", "replicas": 1, "port": 8080}]}
    return {"apiTypes": {"group": GROUP, "version": "v1", "kind": kind.kind, "plural": kind.plural},
            "operatorBox": box}


def katalog(kinds: list[Kind], workers: int | None = None, **entry_options: Any) -> dict:
    """A Katalog with one entry per kind, keyed by plural."""
    return {"apiVersion": "orkestra.orkspace.io/v1", "kind": "Katalog", "metadata": {"name": "bench"},
            "spec": {"crds": {k.plural: entry(k, workers, **entry_options) for k in kinds}}}


def raw_children(name: str, owner: dict, spec: dict) -> list[tuple[GVR, dict]]:
    """The three children of a bench CR written by hand (the raw-client and kopf peers)."""
    def meta(suffix: str) -> dict:
        return {"name": f"{name}-{suffix}", "ownerReferences": [owner],
                "labels": {"app.kubernetes.io/managed-by": "raw-bench"}}
    selector = {"app.kubernetes.io/name": f"{name}-deployment", "app.kubernetes.io/instance": name}
    return [
        (CHILDREN["configmaps"], {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("config"),
                                  "data": {"title": spec["title"]}}),
        (CHILDREN["services"], {"apiVersion": "v1", "kind": "Service", "metadata": meta("svc"),
                                "spec": {"clusterIP": "None", "selector": selector,
                                         "ports": [{"port": 80, "targetPort": 8080}]}}),
        (CHILDREN["deployments"], {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta("deployment"),
                                   "spec": {"replicas": 1, "selector": {"matchLabels": selector},
                                            "template": {"metadata": {"labels": selector}, "spec": {"containers": [
                                                {"name": "web", "image": spec["image"],
                                                 "ports": [{"containerPort": 8080}]}]}}}}),
    ]


def owner_of(obj: dict) -> dict:
    meta = obj["metadata"]
    return {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "name": meta["name"], "uid": meta["uid"],
            "controller": True, "blockOwnerDeletion": True}


def ready_status(generation: int, message: str = "") -> dict:
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return {"observedGeneration": generation, "conditions": [
        {"type": "Ready", "status": "True", "reason": "Reconciled", "message": message,
         "observedGeneration": generation, "lastTransitionTime": now}]}


def is_ready(obj: dict) -> bool:
    status = obj.get("status") or {}
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
    return ready and status.get("observedGeneration") == obj["metadata"].get("generation")


def converged(kube: KubeClient, gvr: GVR, namespace: str) -> int:
    """CRs of `gvr` in `namespace` that report Ready=True for their current generation."""
    items, _ = kube.list(gvr, namespace)
    return sum(1 for item in items if is_ready(item))


def wait_converged(kube: KubeClient, kinds: list[Kind], namespace: str, count: int, timeout: float) -> float:
    pending = list(kinds)

    def done() -> bool:
        while pending and converged(kube, pending[0].gvr, namespace) >= count:
            pending.pop(0)
        return not pending
    return wait_for(done, timeout, f"{count} Ready CRs of each of {len(kinds)} kinds", 0.25)


# ---------------------------------------------------------------------------- `ork run` as a subprocess
class OrkRun:
    """One `ork run` process group, its API at `url`, its output in `log`."""

    def __init__(self, katalog_doc: dict, kubeconfig: str, workdir: Path, *, namespace: str | None = None,
                 leader_election: bool = False, env: dict[str, str] | None = None, log_level: str = "warn"):
        tag = uuid.uuid4().hex[:6]
        path = workdir / f"katalog-{tag}.yaml"
        path.write_text(yaml.safe_dump(katalog_doc, sort_keys=False))
        self.log = workdir / f"ork-{tag}.log"
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("ORK_")}
        full_env.update({"ORK_PORT": str(port), "ORK_WEBHOOK_PORT": str(free_port()),
                         "ORK_BIND_ADDRESS": "127.0.0.1", "LOG_LEVEL": log_level,
                         "LEADER_ELECTION": "true" if leader_election else "false"})
        if namespace:
            full_env.update({"WATCH_NAMESPACE": namespace, "NAMESPACE": namespace})
        full_env.update(env or {})
        self.started = time.monotonic()
        self.proc = subprocess.Popen([ORK, "run", "-f", str(path), "--kubeconfig", kubeconfig],
                                     stdout=open(self.log, "wb"), stderr=subprocess.STDOUT, env=full_env,
                                     start_new_session=True)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def katalog(self) -> dict | None:
        self.check_alive()
        return get_json(self.url + "/katalog")

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            raise SystemExit(f"ork run exited with {self.proc.returncode}; see {self.log}")

    def wait_up(self, timeout: float = 120) -> float:
        """Seconds from process start until /startup answers 200."""
        def up() -> bool:
            self.check_alive()
            return http_ok(self.url + "/startup")
        wait_for(up, timeout, f"ork run to start (log {self.log})", 0.05)
        return time.monotonic() - self.started

    def wait_settled(self, n_crds: int, crs: int, timeout: float) -> float:
        """Seconds until every CRD is healthy, holds `crs` CRs, reconciled them all and has an empty queue."""
        def settled() -> bool:
            doc = self.katalog()
            return bool(doc and doc.get("statusCounts", {}).get("healthy") == n_crds and all(
                c["resourceCount"] == crs and c["queueDepth"] == 0 and c["totalReconciles"] >= crs
                for c in doc["crds"]))
        return wait_for(settled, timeout, f"{self.url} to settle ({n_crds} CRDs x {crs} CRs)", 0.5)

    def total_reconciles(self) -> int:
        doc = self.katalog() or {}
        return sum(c["totalReconciles"] for c in doc.get("crds", []))

    def queue_depth(self) -> int:
        doc = self.katalog() or {}
        return sum(c["queueDepth"] for c in doc.get("crds", []))

    def stop(self, timeout: float = 60) -> None:
        stop_process(self.proc, timeout)


def stop_process(proc: subprocess.Popen, timeout: float = 60) -> None:
    """SIGTERM (a graceful drain), then SIGKILL to whatever is left of the process group (the
    session `proc` leads): a worker whose arbiter was killed, or a drain that outlived `timeout`."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=timeout)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


# ---------------------------------------------------------------------------- the API server's own counters
def apiserver_metrics(kube: KubeClient) -> str:
    """The API server's /metrics text (`KubeClient.get_raw`: the body is not JSON)."""
    return kube.get_raw("/metrics", timeout=30.0).decode()


def write_counts(kube: KubeClient, plurals: set[str]) -> Counter:
    """Write requests so far on the bench CRs and the children and Events the runtime writes."""
    return parse_write_counts(apiserver_metrics(kube), {"configmaps", "services", "deployments", "events"} | plurals)
