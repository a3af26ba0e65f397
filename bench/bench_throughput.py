"""Throughput benchmark (not a test): N CRs, each -> Deployment + Service + ConfigMap + Ready status.

Orkestra: the CRs are created by this script (with `--concurrency` threads) while a real
`ork run` reconciles them; the clock runs from the first create until every CR reports
Ready=True with `observedGeneration == generation`.

Raw client: the same writes with the same concurrency from a plain loop over
`orkestra.kube.KubeClient`: the same pool creates the CRs and hands each created CR to
`--concurrency` worker threads, which server-side apply the three children and patch the status.
No informers, no queue, no events: the floor a controller could reach.

kopf (with --kopf): a kopf operator, run by this script in a subprocess (`--kopf-operator`), with
an `on.create` handler doing the raw loop's writes (children by server-side apply, Ready status
through kopf's status patch) and `max_workers` = `--concurrency`. kopf adds its own bookkeeping
writes (the last-handled-configuration annotation) and a Normal Event per handler.

Printed: the times, CRs/s, and the ratios to the raw client. Orkestra also writes one metadata patch (the
`orkestra.io/katalog` annotation) and one `Reconciled` Event per CR, which the raw loop does not.

The Services are headless (`clusterIP: None`, declared as a `custom` entry): the local control
plane's service range is a /24, which holds about 250 ClusterIPs, far fewer than 1000.

Usage:
  .venv/bin/python bench/bench_throughput.py [--count 1000] [--concurrency 3] [--kopf] [--repeat N]
                                             [--kubeconfig PATH]
Without --kubeconfig it starts its own local control plane (orkestra.testing) for the run and
stops it afterwards, so no other user of a shared cluster skews the figures.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import queue
import tempfile
import threading
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

from bench_memory import free_port, stop  # noqa: E402  (bench/ is on sys.path when run as a script)

from orkestra.gvk import GVR  # noqa: E402
from orkestra.kube import KubeClient  # noqa: E402

GROUP = "bench.orkestra.io"
CRDS = GVR("apiextensions.k8s.io", "v1", "customresourcedefinitions")
NAMESPACES = GVR("", "v1", "namespaces")
CHILDREN = {"deployments": GVR("apps", "v1", "deployments"), "services": GVR("", "v1", "services"),
            "configmaps": GVR("", "v1", "configmaps")}


def crd(kind: str, plural: str) -> dict:
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.{GROUP}"},
            "spec": {"group": GROUP, "scope": "Namespaced",
                     "names": {"plural": plural, "singular": kind.lower(), "kind": kind},
                     "versions": [{"name": "v1", "served": True, "storage": True, "subresources": {"status": {}},
                                   "schema": {"openAPIV3Schema": {"type": "object",
                                                                  "x-kubernetes-preserve-unknown-fields": True}}}]}}


def katalog(kind: str, plural: str, workers: int) -> dict:
    return {"apiVersion": "orkestra.orkspace.io/v1", "kind": "Katalog", "metadata": {"name": "bench"},
            "spec": {"crds": {"site": {
                "apiTypes": {"group": GROUP, "version": "v1", "kind": kind, "plural": plural},
                "operatorBox": {
                    "reconciler": {"workers": workers, "resync": "0s", "queue": {"maxDepth": 0}},
                    "onReconcile": {
                        "configMaps": [{"data": {"title": "{{ .spec.title }}"}}],
                        "custom": [{"apiVersion": "v1", "kind": "Service", "name": "{{ .metadata.name }}-svc",
                                    "spec": {"clusterIP": "None", "ports": [{"port": 80, "targetPort": 8080}],
                                             "selector": {"orkestra.io/crd": "site",
                                                          "app.kubernetes.io/instance": "{{ .metadata.name }}"}}}],
                        "deployments": [{"image": "{{ .spec.image }}", "replicas": 1, "port": 8080}]}}}}}}


def cr(kind: str, name: str, i: int) -> dict:
    return {"apiVersion": f"{GROUP}/v1", "kind": kind, "metadata": {"name": name},
            "spec": {"image": "nginx:1.27", "title": f"site {i}"}}


def raw_children(name: str, owner: dict, spec: dict) -> list[tuple[GVR, dict]]:
    """The same three objects Orkestra renders, written by hand."""
    meta = lambda suffix: {"name": f"{name}-{suffix}", "ownerReferences": [owner],  # noqa: E731
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


def create_crd(kube: KubeClient, body: dict) -> GVR:
    kube.create(CRDS, body)
    gvr = GVR(GROUP, "v1", body["spec"]["names"]["plural"])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            kube.list(gvr, "default")
        except Exception:  # noqa: BLE001 - not served yet
            time.sleep(0.2)
            continue
        # The first write to a new CRD takes the API server ~2 s (storage set-up): keep it out of the timings.
        warm = {"apiVersion": f"{GROUP}/v1", "kind": body["spec"]["names"]["kind"], "metadata": {"name": "warm-up"}}
        kube.create(gvr, warm, "default")
        kube.delete(gvr, "warm-up", "default")
        return gvr
    raise SystemExit(f"CRD {body['metadata']['name']} was not served within 60s")


def fresh_kind(kube: KubeClient, kind_prefix: str, tag: str) -> tuple[str, str, GVR, str]:
    """A new CRD and namespace for one contender, so runs never see each other's objects."""
    suffix = uuid.uuid4().hex[:6]
    kind, plural = f"{kind_prefix}{suffix}", f"{kind_prefix.lower()}{suffix}s"
    gvr = create_crd(kube, crd(kind, plural))
    namespace = f"bench-{tag}-{suffix}"
    kube.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    return kind, plural, gvr, namespace


def converged(kube: KubeClient, gvr: GVR, namespace: str, count: int) -> int:
    items, _ = kube.list(gvr, namespace)
    done = 0
    for item in items:
        status = item.get("status") or {}
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
        if ready and status.get("observedGeneration") == item["metadata"].get("generation"):
            done += 1
    return done


def start_ork(katalog_path: Path, kubeconfig: str, log_path: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORK_")}
    env.update({"ORK_PORT": str(port), "ORK_WEBHOOK_PORT": str(free_port()), "ORK_BIND_ADDRESS": "127.0.0.1",
                "LEADER_ELECTION": "false", "LOG_LEVEL": "warn"})
    ork = str(Path(sys.executable).with_name("ork"))
    log = open(log_path, "wb")
    proc = subprocess.Popen([ork, "run", "-f", str(katalog_path), "--kubeconfig", kubeconfig],
                            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"ork run exited with {proc.returncode}; see {log_path}")
        try:
            with urllib.request.urlopen(url + "/startup", timeout=2) as resp:
                if resp.status == 200:
                    return proc, url
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"ork run did not start within 90s; see {log_path}")


def run_orkestra(kube: KubeClient, kubeconfig: str, count: int, concurrency: int, workdir: Path) -> float:
    kind, plural, gvr, namespace = fresh_kind(kube, "BenchSite", "ork")
    path = workdir / "katalog.yaml"
    path.write_text(yaml.safe_dump(katalog(kind, plural, concurrency), sort_keys=False))
    proc, url = start_ork(path, kubeconfig, workdir / "ork-run.log")
    try:
        start = time.monotonic()
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(lambda i: kube.create(gvr, cr(kind, f"site-{i}", i), namespace), range(count)))
        created = time.monotonic() - start
        deadline = start + 1800
        while (done := converged(kube, gvr, namespace, count)) < count:
            if time.monotonic() > deadline:
                raise SystemExit(f"only {done}/{count} CRs converged in 30 minutes")
            time.sleep(0.25)
        elapsed = time.monotonic() - start
        with urllib.request.urlopen(url + "/katalog/site/health", timeout=10) as resp:
            health = json.loads(resp.read())
        print(f"  orkestra: CRs created in {created:.1f}s, all {count} Ready in {elapsed:.1f}s "
              f"({health.get('totalReconciles')} reconciles, {health.get('errorRate')} error rate)", flush=True)
        return elapsed
    finally:
        stop(proc)
        kube.delete(NAMESPACES, namespace)
        kube.delete(CRDS, f"{plural}.{GROUP}")


def run_raw(kube: KubeClient, count: int, concurrency: int) -> float:
    kind, plural, gvr, namespace = fresh_kind(kube, "RawSite", "raw")

    created: queue.Queue = queue.Queue()

    def create(i: int) -> None:
        created.put(kube.create(gvr, cr(kind, f"site-{i}", i), namespace))

    def work() -> None:
        while (obj := created.get()) is not None:
            meta = obj["metadata"]
            owner = {"apiVersion": obj["apiVersion"], "kind": kind, "name": meta["name"], "uid": meta["uid"],
                     "controller": True, "blockOwnerDeletion": True}
            for child_gvr, child in raw_children(meta["name"], owner, obj["spec"]):
                kube.apply(child_gvr, child, namespace, force=True)
            now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            kube.patch(gvr, meta["name"], {"status": {"observedGeneration": meta["generation"], "conditions": [
                {"type": "Ready", "status": "True", "reason": "Reconciled", "message": "",
                 "observedGeneration": meta["generation"], "lastTransitionTime": now}]}},
                       namespace, subresource="status")

    try:
        start = time.monotonic()
        workers = [threading.Thread(target=work) for _ in range(concurrency)]
        for t in workers:
            t.start()
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(create, range(count)))
        for _ in workers:
            created.put(None)
        for t in workers:
            t.join()
        elapsed = time.monotonic() - start
        assert converged(kube, gvr, namespace, count) == count
        print(f"  raw client: all {count} written and Ready in {elapsed:.1f}s", flush=True)
        return elapsed
    finally:
        kube.delete(NAMESPACES, namespace)
        kube.delete(CRDS, f"{plural}.{GROUP}")


def kopf_operator(kubeconfig: str, kind: str, plural: str, namespace: str, concurrency: int) -> None:
    """The kopf peer (runs in its own process): the raw loop's writes as an on.create handler."""
    import kopf

    kube = KubeClient.from_config(kubeconfig)

    @kopf.on.startup()
    def configure(settings: kopf.OperatorSettings, **_) -> None:
        settings.execution.max_workers = concurrency
        settings.posting.level = 20  # INFO: kopf's own "Handler succeeded" events, as by default

    @kopf.on.create(GROUP, "v1", plural)
    def create(body, spec, name, patch, **_) -> None:
        meta = body["metadata"]
        owner = {"apiVersion": f"{GROUP}/v1", "kind": kind, "name": name, "uid": meta["uid"],
                 "controller": True, "blockOwnerDeletion": True}
        for child_gvr, child in raw_children(name, owner, spec):
            kube.apply(child_gvr, child, namespace, force=True)
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        patch.status["observedGeneration"] = meta["generation"]
        patch.status["conditions"] = [{"type": "Ready", "status": "True", "reason": "Reconciled", "message": "",
                                       "observedGeneration": meta["generation"], "lastTransitionTime": now}]

    kopf.run(standalone=True, namespaces=[namespace])


def run_kopf(kube: KubeClient, kubeconfig: str, count: int, concurrency: int, workdir: Path) -> float:
    kind, plural, gvr, namespace = fresh_kind(kube, "KopfSite", "kopf")
    env = {**os.environ, "KUBECONFIG": kubeconfig}
    log = open(workdir / "kopf.log", "wb")
    proc = subprocess.Popen([sys.executable, __file__, "--kopf-operator", kubeconfig, kind, plural, namespace,
                             str(concurrency)], stdout=log, stderr=subprocess.STDOUT, env=env,
                            start_new_session=True)
    try:
        time.sleep(5)   # kopf has no readiness endpoint here; give it time to start watching
        if proc.poll() is not None:
            raise SystemExit(f"the kopf operator exited with {proc.returncode}; see {workdir / 'kopf.log'}")
        start = time.monotonic()
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(lambda i: kube.create(gvr, cr(kind, f"site-{i}", i), namespace), range(count)))
        deadline = start + 1800
        while (done := converged(kube, gvr, namespace, count)) < count:
            if time.monotonic() > deadline:
                raise SystemExit(f"kopf: only {done}/{count} CRs converged in 30 minutes")
            time.sleep(0.25)
        elapsed = time.monotonic() - start
        print(f"  kopf: all {count} Ready in {elapsed:.1f}s", flush=True)
        return elapsed
    finally:
        stop(proc)
        kube.delete(NAMESPACES, namespace)
        kube.delete(CRDS, f"{plural}.{GROUP}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=3, help="ork workers = raw-loop threads")
    parser.add_argument("--kubeconfig", default=None)
    parser.add_argument("--kopf", action="store_true", help="also run the kopf peer")
    parser.add_argument("--repeat", type=int, default=1, help="rounds, alternating the order; medians printed")
    parser.add_argument("--kopf-operator", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.kopf_operator:
        kubeconfig, kind, plural, namespace, workers = args.kopf_operator
        kopf_operator(kubeconfig, kind, plural, namespace, int(workers))
        return

    control_plane = None
    kubeconfig = args.kubeconfig
    if not kubeconfig:
        from orkestra.testing import LocalControlPlane
        control_plane = LocalControlPlane().start()
        kubeconfig = str(control_plane.kubeconfig)
    try:
        kube = KubeClient.from_config(kubeconfig)
        print(f"bench_throughput: {args.count} CRs, concurrency {args.concurrency}, API server {kube.server}",
              flush=True)
        times: dict[str, list[float]] = {"orkestra": [], "raw client": [], **({"kopf": []} if args.kopf else {})}
        runners = {
            "orkestra": lambda tmp: run_orkestra(kube, kubeconfig, args.count, args.concurrency, tmp),
            "raw client": lambda tmp: run_raw(kube, args.count, args.concurrency),
            "kopf": lambda tmp: run_kopf(kube, kubeconfig, args.count, args.concurrency, tmp),
        }
        with tempfile.TemporaryDirectory() as tmp:
            for round_ in range(args.repeat):
                order = list(times) if round_ % 2 == 0 else list(reversed(times))   # alternate: load spikes hit all
                for name in order:
                    times[name].append(runners[name](Path(tmp)))
        med = {name: statistics.median(values) for name, values in times.items()}
        print(f"median of {args.repeat} run(s):")
        for name, value in med.items():
            print(f"{name:<10} {value:8.1f}s  {args.count / value:7.1f} CRs/s")
        print(f"ratio orkestra/raw: {med['orkestra'] / med['raw client']:.2f}x")
        if args.kopf:
            print(f"ratio kopf/raw: {med['kopf'] / med['raw client']:.2f}x   "
                  f"ratio orkestra/kopf: {med['orkestra'] / med['kopf']:.2f}x")
    finally:
        if control_plane is not None:
            control_plane.stop()


if __name__ == "__main__":
    main()
