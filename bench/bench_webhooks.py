"""Webhook latency, each figure printed beside a peer measured in the same run (not a test).

1. `/convert` server-side: the WSGI call time (parse, convert, serialise) for one small object,
   p50/p95 over many requests, beside a peer Flask view that parses the same review and answers
   it unchanged with no conversion work. Goal: p95 <= 0.5 ms.
2. `/validate` and `/mutate` end-to-end through the API server: p50/p99 of dry-run creates of a
   small CR with (a) no webhook, (b) a peer webhook (a minimal werkzeug TLS handler answering
   `allowed` with no work; werkzeug closes every connection), (c) the same no-op view behind
   Orkestra's listener (keep-alive) and (d) Orkestra's webhook, all on loopback with generated
   certificates. (d) minus (c) is the cost of Orkestra's handlers; (c) versus (b) is transport.

API server: `--kubeconfig` (default `KUBECONFIG`, else the one of `ork local up`), or a fresh
one with `--own-control-plane`. Loops are bounded; loopback only.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import socket
import ssl
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

import harness
from flask import Flask, Response, request
from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler

from orkestra.gvk import GVR
from orkestra.katalog import load_katalog
from orkestra.kube import KubeClient
from orkestra.webhooks import certs
from orkestra.webhooks.app import WebhookState, create_webhook_app
from orkestra.webhooks.configurations import ClientTarget, desired_configurations
from orkestra.webhooks.listener import HttpsServer
from orkestra.webhooks.switches import WebhookSettings
from orkestra.webhooks.tls import GeneratedSource, TlsManager

GROUP = "bench.wh.example.io"
KATALOG = f"""
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {{name: bench}}
spec:
  crds:
    widget:
      apiTypes: {{group: {GROUP}, version: v1, kind: Widget, plural: widgets}}
      validation:
        rules:
          - {{field: spec.image, prefix: "registry.internal/", message: "images must come from registry.internal/"}}
          - {{field: spec.replicas, max: 20, message: "too many replicas"}}
          - {{field: metadata.labels.team, exists: true, action: warn, message: "declare a team"}}
      mutation:
        rules:
          - {{field: spec.replicas, default: 2}}
          - {{field: metadata.labels.tier, override: web}}
    cache-v1alpha1:
      apiTypes: {{group: {GROUP}, version: v1alpha1, kind: Cache, plural: caches}}
      conversion: &c
        storageVersion: v1
        paths:
          - {{from: v1alpha1, to: v1, spec: {{engine: '{{{{ .spec.engine | default "redis" }}}}', memory: "{{{{ .spec.size }}}}", evictionPolicy: allkeys-lru}}}}
          - {{from: v1, to: v1alpha1, spec: {{engine: "{{{{ .spec.engine }}}}", size: "{{{{ .spec.memory }}}}"}}}}
    cache-v1:
      apiTypes: {{group: {GROUP}, version: v1, kind: Cache, plural: caches}}
      conversion: *c
"""
CRDS = GVR("apiextensions.k8s.io", "v1", "customresourcedefinitions")
VALIDATING = GVR("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations")
MUTATING = GVR("admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations")


def pct(samples: list[float], p: float) -> float:
    """The `p` (0..1) percentile of `samples` (seconds) in milliseconds."""
    return harness.percentile(samples, p * 100) * 1000.0


def timed_wsgi(app: Any, sink: list[float], cpu: list[float]) -> Callable:
    """Wall time and this thread's CPU time of each WSGI call (CPU time ignores a busy machine)."""
    def wrapper(environ: dict, start_response: Callable) -> Any:
        t0, c0 = time.perf_counter(), time.thread_time()
        body = b"".join(app(environ, start_response))
        sink.append(time.perf_counter() - t0)
        cpu.append(time.thread_time() - c0)
        return [body]
    return wrapper


def peer_convert_app() -> Flask:
    peer = Flask("peer-convert")

    @peer.post("/convert")
    def convert() -> Response:
        doc = json.loads(request.get_data())
        req = doc["request"]
        out = {"apiVersion": doc["apiVersion"], "kind": doc["kind"],
               "response": {"uid": req["uid"], "convertedObjects": req["objects"], "result": {"status": "Success"}}}
        return Response(json.dumps(out), mimetype="application/json")
    return peer


def bench_convert(katalog: Any, n: int) -> dict[str, harness.Figure]:
    review = json.dumps({"apiVersion": "apiextensions.k8s.io/v1", "kind": "ConversionReview", "request": {
        "uid": "b", "desiredAPIVersion": f"{GROUP}/v1", "objects": [{
            "apiVersion": f"{GROUP}/v1alpha1", "kind": "Cache",
            "metadata": {"name": "c1", "namespace": "default", "uid": "u1", "resourceVersion": "7"},
            "spec": {"size": "1Gi"}}]}})
    ours, ours_cpu, peer, peer_cpu = [], [], [], []
    state = WebhookState.build(katalog, WebhookSettings(enable_conversion=True))
    apps = ((timed_wsgi(create_webhook_app(katalog, state), ours, ours_cpu), ours, ours_cpu),
            (timed_wsgi(peer_convert_app(), peer, peer_cpu), peer, peer_cpu))
    from werkzeug.test import Client
    for app, sink, cpu in apps:
        client = Client(app)
        for i in range(n + 200):
            resp = client.post("/convert", data=review, content_type="application/json")
            assert resp.status_code == 200, resp.get_data()
            if i == 199:
                sink.clear()   # warm-up done
                cpu.clear()
    print(f"/convert server-side (WSGI call), 1 small object, {n} requests; goal p95 <= 0.5 ms")
    for label, wall, cpu in (("orkestra", ours, ours_cpu), ("peer (parse + echo)", peer, peer_cpu)):
        print(f"  {label:20s} wall p50 {pct(wall, .5):.3f} p95 {pct(wall, .95):.3f} ms   "
              f"cpu p50 {pct(cpu, .5):.3f} p95 {pct(cpu, .95):.3f} ms")
    print(f"  ratio (cpu p95) {pct(ours_cpu, .95) / pct(peer_cpu, .95):.2f}x; per-object conversion alone "
          f"(stats window) p95 {state.stats.latency('conversion:' + GROUP + '/Cache')['p95']} ms")
    return {"/convert requests": n,
            "/convert orkestra wall p50 ms": round(pct(ours, .5), 3), "/convert orkestra wall p95 ms": round(pct(ours, .95), 3),
            "/convert orkestra cpu p95 ms": round(pct(ours_cpu, .95), 3),
            "/convert peer (parse + echo) wall p95 ms": round(pct(peer, .95), 3),
            "/convert peer (parse + echo) cpu p95 ms": round(pct(peer_cpu, .95), 3),
            "/convert ratio cpu p95 orkestra/peer": harness.ratio(pct(ours_cpu, .95), pct(peer_cpu, .95))}


class QuietHandler(WSGIRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_request(self, *args: Any) -> None:
        pass


class PeerServer(ThreadedWSGIServer):
    """werkzeug's TLS server with TCP_NODELAY, the same transport settings as Orkestra's."""

    def get_request(self) -> tuple[Any, Any]:
        conn, addr = super().get_request()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn, addr


def peer_admission_app() -> Flask:
    peer = Flask("peer-admission")

    @peer.post("/<path:_path>")
    def allow(_path: str) -> Response:
        uid = json.loads(request.get_data())["request"]["uid"]
        return Response(json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                                    "response": {"uid": uid, "allowed": True}}), mimetype="application/json")
    return peer


def create_crd(kube: KubeClient) -> None:
    schema = {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}
    body = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"widgets.{GROUP}"},
            "spec": {"group": GROUP, "scope": "Namespaced",
                     "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
                     "versions": [{"name": "v1", "served": True, "storage": True, "schema": schema}]}}
    if kube.get(CRDS, body["metadata"]["name"]) is None:
        kube.create(CRDS, body)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            kube.request("GET", f"/apis/{GROUP}/v1/namespaces/default/widgets")
            return
        except Exception:  # noqa: BLE001 - not served yet
            time.sleep(0.2)
    raise SystemExit("the bench CRD was not served within 30 s")


def register(kube: KubeClient, configs: dict[str, dict | None]) -> None:
    for name, body in configs.items():
        gvr = MUTATING if name.endswith("mutation") else VALIDATING
        kube.delete(gvr, name)
        if body is not None:
            kube.create(gvr, body)


def round_trips(kube: KubeClient, n: int, expect_tier: str | None) -> list[float]:
    path = f"/apis/{GROUP}/v1/namespaces/default/widgets"
    samples: list[float] = []
    # wait until the API server uses the configuration we just wrote
    deadline = time.monotonic() + 20
    while True:
        out = kube.request("POST", path, {"dryRun": "All"}, _widget("probe"))
        if (out["metadata"].get("labels", {}).get("tier") == expect_tier) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    for i in range(n + 30):
        t0 = time.perf_counter()
        kube.request("POST", path, {"dryRun": "All"}, _widget(f"w{i}"))
        if i >= 30:
            samples.append(time.perf_counter() - t0)
    return samples


def _widget(name: str) -> dict:
    return {"apiVersion": f"{GROUP}/v1", "kind": "Widget",
            "metadata": {"name": name, "labels": {"team": "t"}}, "spec": {"image": "registry.internal/w:1"}}


def bench_admission(katalog: Any, kube: KubeClient, n: int) -> dict[str, harness.Figure]:
    create_crd(kube)
    tmp = tempfile.mkdtemp(prefix="orkestra-bench-")
    tls = TlsManager(GeneratedSource("orkestra", "default", certs.required_names("orkestra", "default")), tmp_root=tmp)
    tls.start()
    state = WebhookState.build(katalog, WebhookSettings(enable_conversion=True, enable_admission=True))
    ours = HttpsServer("127.0.0.1", 0, create_webhook_app(katalog, state), tls)
    ours.ssl_context = tls.context()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert, key = Path(tmp, "peer.crt"), Path(tmp, "peer.key")
    bundle = certs.generate("orkestra", "default", certs.required_names("orkestra", "default"),
                            dt.datetime.now(dt.timezone.utc))
    cert.write_bytes(bundle.cert_pem)
    key.write_bytes(bundle.key_pem)
    ctx.load_cert_chain(str(cert), str(key))
    peer = PeerServer("127.0.0.1", 0, peer_admission_app(), handler=QuietHandler, ssl_context=ctx)
    # the same no-op view behind Orkestra's own listener (keep-alive): isolates the handler's cost
    same_transport = HttpsServer("127.0.0.1", 0, peer_admission_app(), tls)
    same_transport.ssl_context = tls.context()
    servers = (ours, peer, same_transport)
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
    for t in threads:
        t.start()
    plan = state.plan
    ours_cfg = desired_configurations(plan, ClientTarget(url=f"https://127.0.0.1:{ours.server_port}"), tls.ca_bundle())
    peer_cfg = desired_configurations(plan, ClientTarget(url=f"https://127.0.0.1:{peer.server_port}"), bundle.ca_pem)
    same_cfg = desired_configurations(plan, ClientTarget(url=f"https://127.0.0.1:{same_transport.server_port}"),
                                      tls.ca_bundle())
    wanted = ("orkestra-validation", "orkestra-mutation")
    results: dict[str, list[float]] = {}
    try:
        register(kube, {name: None for name in wanted})
        results["no webhook"] = round_trips(kube, n, None)
        register(kube, {name: peer_cfg[name] for name in wanted})
        results["peer webhook (validate+mutate)"] = round_trips(kube, n, None)
        register(kube, {name: same_cfg[name] for name in wanted})
        results["no-op on orkestra's listener"] = round_trips(kube, n, None)
        register(kube, {name: ours_cfg[name] for name in wanted})
        results["orkestra (validate+mutate)"] = round_trips(kube, n, "web")
    finally:
        register(kube, {name: None for name in wanted})
        kube.delete(CRDS, f"widgets.{GROUP}")
        for server in servers:
            server.shutdown()
        tls.close()
    print(f"dry-run create through the API server (both webhooks called), {n} requests each")
    for label, samples in results.items():
        print(f"  {label:32s} p50 {pct(samples, .5):7.3f} ms  p99 {pct(samples, .99):7.3f} ms  "
              f"mean {statistics.fmean(samples) * 1000:7.3f} ms")
    val, mut = state.stats.latency("validate:widget"), state.stats.latency("mutate:widget")
    print(f"  orkestra handler time (stats window): validate avg {val['avg']} p95 {val['p95']} ms, "
          f"mutate avg {mut['avg']} p95 {mut['p95']} ms")
    ork = results["orkestra (validate+mutate)"]
    for label in ("peer webhook (validate+mutate)", "no-op on orkestra's listener"):
        base = results[label]
        print(f"  orkestra vs {label}: p50 {pct(ork, .5) - pct(base, .5):+.3f} ms, "
              f"p99 {pct(ork, .99) - pct(base, .99):+.3f} ms (ratio {pct(ork, .99) / pct(base, .99):.2f}x)")
    figures: dict[str, harness.Figure] = {"admission requests per contender": n}
    for label, samples in results.items():
        figures[f"admission {label} p99 ms"] = round(pct(samples, .99), 3)
    figures["admission ratio p99 orkestra/no webhook"] = harness.ratio(pct(ork, .99), pct(results["no webhook"], .99))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--convert-requests", type=int, default=5000)
    parser.add_argument("--admission-requests", type=int, default=300)
    harness.add_common_args(parser)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="orkestra-bench-katalog-"))
    (tmp / "katalog.yaml").write_text(KATALOG)
    katalog = load_katalog([str(tmp / "katalog.yaml")])
    figures = bench_convert(katalog, args.convert_requests)
    with harness.cluster(args) as (kube, _):
        figures.update(bench_admission(katalog, kube, args.admission_requests))
    harness.record(args.results, "webhooks", figures)


if __name__ == "__main__":
    main()
