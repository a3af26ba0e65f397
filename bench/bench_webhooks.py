"""Webhook latency, each figure printed beside a peer measured in the same run (not a test).

1. `/convert` server-side: the WSGI call time (parse, convert, serialise) for one small object,
   p50/p95 over many requests, beside a peer Flask view that parses the same review and answers
   it unchanged with no conversion work. Goal: p95 <= 0.5 ms.
2. `/validate` and `/mutate` end-to-end through the API server: p50/p99 of dry-run creates of a
   small CR with (a) no webhook, (b) a peer webhook (a minimal werkzeug TLS handler answering
   `allowed` with no work; werkzeug closes every connection), (c) the same no-op view behind
   Orkestra's listener (keep-alive), (d) a minimal no-op (raw TLS and keep-alive, no framework:
   the API server's own cost of calling a webhook) and (e) Orkestra's webhook, all on loopback
   with generated certificates. Each contender has its own CRD and all webhooks are registered at
   once, so the requests interleave round by round (30 untimed warm-up rounds first): load changes
   on a shared machine hit every contender alike. (c) versus (d) is the listener and Flask's
   routing; (d) versus (a) is the API server's floor. (e) minus (c) is the cost of Orkestra's
   handlers less the Flask routing that Orkestra's fast path skips and (c) still pays. After the
   run, every contender must have answered both webhook calls of every create.

API server: `--kubeconfig` (default `KUBECONFIG`, else the one of `ork local up`), or a fresh
one with `--own-control-plane`. Loops are bounded; loopback only.
"""
from __future__ import annotations

import argparse
import base64
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
from orkestra.webhooks.stats import WebhookStats
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


def _allowed(body: bytes) -> bytes:
    uid = json.loads(body)["request"]["uid"]
    return json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                       "response": {"uid": uid, "allowed": True}}).encode()


def peer_admission_app(hits: list[int]) -> Flask:
    peer = Flask("peer-admission")

    @peer.post("/<path:_path>")
    def allow(_path: str) -> Response:
        hits[0] += 1
        return Response(_allowed(request.get_data()), mimetype="application/json")
    return peer


class FloorServer:
    """The least any webhook can do: TLS, HTTP/1.1 keep-alive, read one request, answer `allowed`.

    No framework and no header parsing beyond Content-Length, so its figure is the API server's
    own cost of calling a webhook (plus loopback and one Python wake-up per request)."""

    def __init__(self, ctx: ssl.SSLContext) -> None:
        self.hits = [0]
        self._ctx = ctx
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.server_port = self._sock.getsockname()[1]
        self._closing = False

    def serve_forever(self) -> None:
        while not self._closing:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, raw: socket.socket) -> None:
        raw.settimeout(30)
        try:
            with self._ctx.wrap_socket(raw, server_side=True) as conn, conn.makefile("rb") as reader:
                while not self._closing:
                    length = -1
                    while (line := reader.readline(65536)) not in (b"\r\n", b""):
                        name, _, value = line.partition(b":")
                        if name.strip().lower() == b"content-length":
                            length = int(value)
                    if not line or length < 0:
                        return
                    out = _allowed(reader.read(length))
                    self.hits[0] += 1
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                                 % (len(out), out))
        except (OSError, ValueError):
            return

    def shutdown(self) -> None:
        self._closing = True
        self._sock.close()


# Each contender has its own CRD (same group, same object shape), so all webhooks are registered
# at once and the contenders' requests interleave round by round: a load change on the shared
# machine hits every contender alike instead of whichever block ran at the time.
NO_WEBHOOK, PEER, NOOP, FLOOR, ORKESTRA = ("no webhook", "peer webhook (validate+mutate)",
                                         "no-op on orkestra's listener", "minimal no-op (API server floor)",
                                         "orkestra (validate+mutate)")
KINDS = {NO_WEBHOOK: "Nohook", PEER: "Peer", NOOP: "Noop", FLOOR: "Floor", ORKESTRA: ""}   # + "Widget"
WARMUP_ROUNDS = 30


def _plural(label: str) -> str:
    return KINDS[label].lower() + "widgets"


def create_crds(kube: KubeClient) -> None:
    schema = {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}
    for label, prefix in KINDS.items():
        plural, kind = _plural(label), prefix + "Widget"
        body = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                "metadata": {"name": f"{plural}.{GROUP}"},
                "spec": {"group": GROUP, "scope": "Namespaced",
                         "names": {"plural": plural, "singular": kind.lower(), "kind": kind},
                         "versions": [{"name": "v1", "served": True, "storage": True, "schema": schema}]}}
        if kube.get(CRDS, body["metadata"]["name"]) is None:
            kube.create(CRDS, body)
    deadline = time.monotonic() + 30
    for label in KINDS:
        while True:
            try:
                kube.request("GET", f"/apis/{GROUP}/v1/namespaces/default/{_plural(label)}")
                break
            except Exception:  # noqa: BLE001 - not served yet
                if time.monotonic() > deadline:
                    raise SystemExit("the bench CRDs were not served within 30 s") from None
                time.sleep(0.2)


def delete_crds(kube: KubeClient) -> None:
    for label in KINDS:
        kube.delete(CRDS, f"{_plural(label)}.{GROUP}")


def contender_configurations(ours: dict[str, dict | None], label: str, url: str, ca: bytes) -> dict[str, dict]:
    """Orkestra's two configurations, renamed and pointed at `url` for the contender's own CRD."""
    out = {}
    for name, body in ours.items():
        assert body is not None
        copy = json.loads(json.dumps(body))
        prefix = KINDS[label].lower()
        copy["metadata"]["name"] = f"bench-{prefix}-{name}"
        for hook in copy["webhooks"]:
            hook["name"] = f"{prefix}.{hook['name']}"
            path = hook["clientConfig"]["url"].rsplit("/", 1)[1]
            hook["clientConfig"] = {"url": f"{url}/{path}", "caBundle": base64.b64encode(ca).decode()}
            for rule in hook["rules"]:
                rule["resources"] = [_plural(label)]
        out[copy["metadata"]["name"]] = copy
    return out


def register(kube: KubeClient, configs: dict[str, dict | None]) -> None:
    for name, body in configs.items():
        gvr = MUTATING if name.endswith("mutation") else VALIDATING
        kube.delete(gvr, name)
        if body is not None:
            kube.create(gvr, body)


def _create(kube: KubeClient, label: str, name: str) -> dict:
    return kube.request("POST", f"/apis/{GROUP}/v1/namespaces/default/{_plural(label)}", {"dryRun": "All"},
                        _widget(label, name))


def wait_active(kube: KubeClient, hits: dict[str, list[int]]) -> None:
    """Until the API server calls every registered webhook (it picks configurations up asynchronously)."""
    deadline = time.monotonic() + 20
    for label in KINDS:
        while time.monotonic() < deadline:
            before = hits[label][0] if label in hits else 0
            out = _create(kube, label, "probe")
            if (label == NO_WEBHOOK or (label == ORKESTRA and out["metadata"].get("labels", {}).get("tier") == "web")
                    or (label in hits and hits[label][0] > before)):
                break
            time.sleep(0.2)
        else:
            raise SystemExit(f"the API server did not call the {label} webhook within 20 s")


def interleaved_round_trips(kube: KubeClient, n: int) -> dict[str, list[float]]:
    """`n` timed dry-run creates per contender after WARMUP_ROUNDS untimed rounds; each round sends
    one request per contender, in an order rotated by one every round."""
    labels = list(KINDS)
    samples: dict[str, list[float]] = {label: [] for label in labels}
    for i in range(n + WARMUP_ROUNDS):
        shift = i % len(labels)
        for label in labels[shift:] + labels[:shift]:
            t0 = time.perf_counter()
            _create(kube, label, f"w{i}")
            if i >= WARMUP_ROUNDS:
                samples[label].append(time.perf_counter() - t0)
    return samples


def check_served(hits: dict[str, list[int]], stats: WebhookStats, creates: int) -> None:
    """Every create reached both webhooks of its contender: with `failurePolicy: Ignore`, a contender
    whose server failed would otherwise count as fast, allowed requests."""
    ours = stats.counters("admission:widget")
    calls = {label: count[0] for label, count in hits.items()}
    calls[ORKESTRA] = ours.get("validationTotal", 0) + ours.get("mutationTotal", 0)
    short = {label: n for label, n in calls.items() if n < 2 * creates}
    if short:
        raise SystemExit(f"webhook calls missing (expected at least {2 * creates} per contender): {short}")


def _widget(label: str, name: str) -> dict:
    return {"apiVersion": f"{GROUP}/v1", "kind": KINDS[label] + "Widget",
            "metadata": {"name": name, "labels": {"team": "t"}}, "spec": {"image": "registry.internal/w:1"}}


def bench_admission(katalog: Any, kube: KubeClient, n: int) -> dict[str, harness.Figure]:
    create_crds(kube)
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
    hits = {PEER: [0], NOOP: [0]}
    peer = PeerServer("127.0.0.1", 0, peer_admission_app(hits[PEER]), handler=QuietHandler, ssl_context=ctx)
    # the same no-op view behind Orkestra's own listener (keep-alive): isolates the handler's cost
    same_transport = HttpsServer("127.0.0.1", 0, peer_admission_app(hits[NOOP]), tls)
    same_transport.ssl_context = tls.context()
    floor = FloorServer(ctx)
    hits[FLOOR] = floor.hits
    servers: tuple[Any, ...] = (ours, peer, same_transport, floor)
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
    for t in threads:
        t.start()
    ours_cfg = {name: body for name, body in desired_configurations(
        state.plan, ClientTarget(url=f"https://127.0.0.1:{ours.server_port}"), tls.ca_bundle()).items()
        if name in ("orkestra-validation", "orkestra-mutation")}
    configs: dict[str, dict | None] = {}
    for label, server, ca in ((PEER, peer, bundle.ca_pem), (NOOP, same_transport, tls.ca_bundle()),
                              (FLOOR, floor, bundle.ca_pem)):
        configs.update(contender_configurations(ours_cfg, label, f"https://127.0.0.1:{server.server_port}", ca))
    configs.update(ours_cfg)
    try:
        register(kube, configs)
        wait_active(kube, hits)
        results = interleaved_round_trips(kube, n)
        check_served(hits, state.stats, n + WARMUP_ROUNDS)
    finally:
        register(kube, {name: None for name in configs})
        delete_crds(kube)
        for server in servers:
            server.shutdown()
        tls.close()
    print(f"dry-run create through the API server (both webhooks called), {n} requests each, "
          f"interleaved round by round after {WARMUP_ROUNDS} warm-up rounds")
    for label, samples in results.items():
        print(f"  {label:34s} p50 {pct(samples, .5):7.3f} ms  p99 {pct(samples, .99):7.3f} ms  "
              f"mean {statistics.fmean(samples) * 1000:7.3f} ms")
    val, mut = state.stats.latency("validate:widget"), state.stats.latency("mutate:widget")
    print(f"  orkestra handler time (stats window): validate avg {val['avg']} p95 {val['p95']} ms, "
          f"mutate avg {mut['avg']} p95 {mut['p95']} ms")
    ork, base = results[ORKESTRA], results[NO_WEBHOOK]
    for label in (PEER, NOOP, FLOOR):
        other = results[label]
        print(f"  orkestra vs {label}: p50 {pct(ork, .5) - pct(other, .5):+.3f} ms, "
              f"p99 {pct(ork, .99) - pct(other, .99):+.3f} ms (ratio {pct(ork, .99) / pct(other, .99):.2f}x)")
    for label in (FLOOR, NOOP, ORKESTRA):
        print(f"  {label} / no webhook: p50 {pct(results[label], .5) / pct(base, .5):.2f}x, "
              f"p99 {pct(results[label], .99) / pct(base, .99):.2f}x")
    figures: dict[str, harness.Figure] = {"admission requests per contender": n}
    for label, samples in results.items():
        figures[f"admission {label} p99 ms"] = round(pct(samples, .99), 3)
    for label, samples in results.items():
        figures[f"admission {label} p50 ms"] = round(pct(samples, .5), 3)
    figures["admission ratio p99 orkestra/no webhook"] = harness.ratio(pct(ork, .99), pct(base, .99))
    figures["admission ratio p99 minimal no-op/no webhook"] = harness.ratio(pct(results[FLOOR], .99), pct(base, .99))
    figures["admission ratio p50 orkestra/no webhook"] = harness.ratio(pct(ork, .5), pct(base, .5))
    figures["admission ratio p50 minimal no-op/no webhook"] = harness.ratio(pct(results[FLOOR], .5), pct(base, .5))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--convert-requests", type=int, default=5000)
    parser.add_argument("--admission-requests", type=int, default=1000,
                        help="timed dry-run creates per contender (default 1000)")
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
