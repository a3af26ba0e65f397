"""Every route of the runtime HTTP API against a fake engine: shapes, status codes, errors."""
import pytest
import yaml

from orkestra.engine.health import CrdHealth
from orkestra.server.app import create_app
from tests.unit.engine.factories import make_entry, make_katalog

NOW = 1_772_366_400.0          # 2026-03-01T12:00:00Z


def site(name, ns="default", *, ready="True", phase="Running", gen=2, observed=2, uid=None):
    return {"apiVersion": "demo.orkestra.io/v1alpha1", "kind": "Website",
            "metadata": {"name": name, "namespace": ns, "uid": uid or f"uid-{name}", "generation": gen,
                         "labels": {"team": "web"}, "creationTimestamp": "2026-03-01T11:48:00Z"},
            "status": {"phase": phase, "observedGeneration": observed,
                       "conditions": [{"type": "Ready", "status": ready, "reason": "Reconciled", "message": "ok"}]}}


class FakeEngine:
    """A `RuntimeView` over made-up state."""
    mode = "runtime"
    identity = "pod-a"

    def __init__(self):
        cache = make_entry("cache", kind="Cache", threshold=5)
        website = make_entry("website", depends_on=[("cache", "healthy")], workers=3, threshold=5,
                             templates={"onReconcile": {"deployments": [{}], "services": [{}]}})
        disabled = make_entry("legacy", kind="Legacy", enabled=False)
        cluster = make_entry("tenant", kind="Tenant", namespaced=False)
        hidden = make_entry("secretive", kind="Secretive", endpoints={"enabled": True, "health": False, "info": False})
        self.katalog = make_katalog(cache, website, disabled, cluster, hidden,
                                    start_order=["cache", "secretive", "tenant", "website"])
        self.health = {k: CrdHealth(k, 5, clock=lambda: NOW - 60) for k in ("cache", "website", "tenant", "secretive")}
        for h in self.health.values():
            h.mark_started()
        self.health["cache"].record_success(0.01)
        for _ in range(5):
            self.health["website"].record_failure("reconciler panic: KeyError: 'x'", "Traceback ...")
        self.crs = {"website": [site("b", "shop"), site("a"), site("c", "shop", ready="False")],
                    "cache": [site("redis", "shop")],
                    "tenant": [{"metadata": {"name": "acme", "uid": "t1"}, "status": {}}]}
        self.ready = True
        self.events = []

    def process_snapshot(self):
        return {"identity": self.identity, "isLeader": True, "leader": self.identity, "mode": self.mode,
                "startedAt": NOW - 3600, "now": NOW, "gatewayEndpoint": "", "startup": True,
                "ready": self.ready, "liveness": True}

    def crd_snapshot(self, key):
        if key not in self.health:
            return None
        entry = self.katalog.crds[key]
        deps = [{"name": d.name, "condition": d.condition, "state": self.health[d.name].state,
                 "satisfied": self.health[d.name].state == "healthy"} for d in entry.depends_on]
        return {"key": key, "health": self.health[key].snapshot(),
                "workers": {"active": 3, "processing": 1, "idle": 2, "stuck": 0,
                            "states": [{"id": 0, "state": "processing", "key": "default/a", "since": NOW - 1},
                                       {"id": 1, "state": "idle"}, {"id": 2, "state": "idle"}]},
                "queueDepth": 2, "dropped": 0, "limitReached": 0, "resourceCount": len(self.crs.get(key, [])),
                "activeWarnings": [{"key": "default/a", "source": "validation", "field": "metadata.labels.team",
                                    "message": "declare a team", "since": NOW - 600}],
                "dependencies": deps}

    def cached_crs(self, key):
        return list(self.crs.get(key, []))

    def cached_cr(self, key, cr_key):
        for obj in self.crs.get(key, []):
            meta = obj["metadata"]
            if (f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else meta["name"]) == cr_key:
                return obj
        return None

    def children_for_view(self, key, uid):
        if uid != "uid-a":
            return []
        return [{"kind": "Deployment", "metadata": {"name": "a-deployment", "namespace": "default",
                                                    "creationTimestamp": "2026-03-01T11:59:00Z"},
                 "spec": {"replicas": 2}, "status": {"readyReplicas": 1}},
                {"kind": "Service", "metadata": {"name": "a-svc", "namespace": "default"}}]

    def events_for(self, obj):
        return self.events

    def webhook_katalog_block(self):
        return None

    def webhook_crd_blocks(self, key):
        return None


@pytest.fixture
def engine():
    return FakeEngine()


@pytest.fixture
def client(engine):
    return create_app(engine).test_client()


def get(client, path):
    resp = client.get(path)
    return resp.status_code, resp.get_json()


def test_probes(client, engine):
    status, body = get(client, "/startup")
    assert status == 200 and body == {"status": "ok", "service": "orkestra-runtime", "uptime": "1h0m",
                                      "started": "2026-03-01T11:00:00Z"}
    assert get(client, "/ready") == (200, {**body, "status": "ready"})
    engine.ready = False
    assert get(client, "/ready")[0] == 503 and get(client, "/ready")[1]["status"] == "not ready"
    assert get(client, "/health")[1]["status"] == "ok"


def test_katalog_summary(client):
    status, body = get(client, "/katalog")
    assert status == 200
    assert body["healthy"] is False and body["status"] == 503 and body["degradedReason"] == "1 CRD degraded"
    assert body["OrkReady"] is True and body["isKonductor"] is True and body["leader"] == "pod-a"
    assert body["total"] == 5 and body["totalEnabled"] == 4 and body["totalDegraded"] == 1
    assert body["statusCounts"] == {"healthy": 1, "started": 2, "pending": 0, "degraded": 1, "not started": 0}
    assert body["namespaces"] == {"default": ["website"], "shop": ["cache", "website"]}
    assert body["dependencyGraph"] == {"startupOrder": ["cache", "secretive", "tenant", "website"],
                                       "edges": [{"from": "cache", "to": "website", "condition": "healthy"}]}
    crds = {c["name"]: c for c in body["crds"]}
    assert crds["legacy"]["enabled"] is False and crds["legacy"]["state"] == "not started"
    w = crds["website"]
    assert w["state"] == "degraded" and w["consecutiveFails"] == 5 and w["errorRate"] == 1.0
    assert w["gvk"] == "demo.orkestra.io/v1alpha1, Kind=Website" and w["scope"] == "Namespaced"
    assert w["workers"] == 3 and w["workersActive"] == 3 and w["queueDepth"] == 2 and w["maxQueueDepth"] == 100
    assert w["lastError"] == "reconciler panic: KeyError: 'x'" and w["dependsOn"] == ["cache"]
    assert w["startedAt"] == "2026-03-01T11:59:00Z" and w["uptime"] == "1m0s" and w["resourceCount"] == 3
    assert "protection" not in body


def test_katalog_raw_and_enriched(client):
    assert get(client, "/katalog/raw") == (200, {"apiVersion": "orkestra.io/v1", "kind": "Katalog"})
    resp = client.get("/katalog/enriched?format=yaml")
    assert resp.status_code == 200 and yaml.safe_load(resp.data) == {"kind": "Katalog", "spec": {}}
    status, body = get(client, "/katalog/raw?format=xml")
    assert status == 400 and body == {"error": 'invalid format "xml": expected json or yaml'}


def test_crd_detail(client):
    status, body = get(client, "/katalog/website")
    assert status == 200
    assert body["gvr"] == "demo.orkestra.io/v1alpha1/websites" and body["state"] == "degraded"
    assert body["workers"]["configured"] == 3 and body["workers"]["source"] == "configured"
    assert body["workers"]["states"][0] == {"id": 0, "state": "processing", "key": "default/a",
                                            "since": "2026-03-01T11:59:59Z"}
    assert body["resync"] == "15s" and body["timeout"] == "5m0s"
    assert body["queue"] == {"depth": 2, "maxDepth": 100, "onLimit": "warn", "failureThreshold": 5,
                             "dropped": 0, "limitReached": 0}
    rec = body["reconcile"]
    assert rec["total"] == 5 and rec["failed"] == 5 and rec["successRate"] == 0.0
    assert rec["lastErrorStack"] == "Traceback ..." and rec["lastErrorAt"] == "2026-03-01T11:59:00Z"
    assert body["dependencies"] == [{"name": "cache", "condition": "healthy", "state": "healthy", "satisfied": True}]
    assert body["hasUnhealthyDependencies"] is False
    assert body["reconciler"]["templates"] == {"onCreate": [], "onReconcile": ["services", "deployments"],
                                               "onDelete": []}
    assert body["activeWarnings"][0]["since"] == "2026-03-01T11:50:00Z"
    assert {"admission", "conversion", "deletionProtection", "namespaceProtection"} <= set(body)
    rules = {(r["apiGroups"][0], r["resources"][0]) for r in body["rbac"]}
    assert {("demo.orkestra.io", "websites"), ("apps", "deployments"), ("", "services")} <= rules


def test_crd_health_status_codes(client):
    status, body = get(client, "/katalog/website/health")
    assert status == 503 and body["state"] == "degraded" and body["status"] == 503
    assert set(body) == {"name", "state", "status", "isKonductor", "healthy", "started", "pending", "missing",
                         "startedAt", "uptime", "queueDepth", "errorRate", "consecutiveFails", "failureThreshold",
                         "totalReconciles", "resourceCount", "lastError", "lastReconcile",
                         "hasUnhealthyDependencies"}
    status, body = get(client, "/katalog/cache/health")
    assert status == 200 and body["healthy"] is True


def test_unknown_and_disabled_crds(client):
    assert get(client, "/katalog/nope") == (404, {"error": 'crd "nope" not found in katalog'})
    assert get(client, "/katalog/legacy/health") == (404, {"error": 'crd "legacy" is disabled'})
    assert get(client, "/katalog/legacy/cr") == (404, {"error": 'crd "legacy" is disabled'})
    status, body = get(client, "/katalog/legacy")
    assert status == 200 and body["state"] == "not started"


def test_endpoint_switches_remove_routes(client):
    assert get(client, "/katalog/secretive") == (404, {"error": "not found"})
    assert get(client, "/katalog/secretive/health") == (404, {"error": "not found"})


def test_info_false_removes_only_the_detail_route(client, engine):
    """docs/katalog.md#crd-entry: `info: false` removes /katalog/{crd}; the CR routes stay; `enabled: false`
    removes every /katalog/{crd}/... route."""
    engine.crs["secretive"] = [site("s1")]
    status, body = get(client, "/katalog/secretive/cr")
    assert status == 200 and [i["name"] for i in body["items"]] == ["s1"]
    assert get(client, "/katalog/secretive/cr/default/s1")[0] == 200
    engine.katalog.crds["secretive"].endpoints["enabled"] = False
    assert get(client, "/katalog/secretive/cr") == (404, {"error": "not found"})
    assert get(client, "/katalog/secretive/cr/default/s1") == (404, {"error": "not found"})


def test_cr_list_sorted_filtered_and_with_field(client):
    status, body = get(client, "/katalog/website/cr")
    assert status == 200 and body["total"] == 3
    assert [(i["namespace"], i["name"]) for i in body["items"]] == [("default", "a"), ("shop", "b"), ("shop", "c")]
    assert body["items"][0] == {"name": "a", "namespace": "default", "phase": "Running", "ready": "True",
                                "readyReason": "Reconciled", "age": "12m0s", "generation": 2,
                                "observedGeneration": 2}
    status, body = get(client, "/katalog/website/cr?namespace=shop&field=metadata.labels.team")
    assert [i["name"] for i in body["items"]] == ["b", "c"] and body["items"][0]["value"] == "web"
    assert get(client, "/katalog/website/cr?colour=red")[0] == 400
    assert get(client, "/katalog/website/cr?field=")[0] == 400


def test_cr_detail_and_children(client):
    status, body = get(client, "/katalog/website/cr/default/a")
    assert status == 200 and body["uid"] == "uid-a" and body["readyMessage"] == "ok"
    assert body["eventsEndpoint"] == "/katalog/website/cr/default/a/events"
    assert body["children"]["Deployment"] == [{"name": "a-deployment", "namespace": "default", "ready": False,
                                               "replicas": 2, "readyReplicas": 1, "age": "1m0s"}]
    assert body["children"]["Service"][0]["ready"] is True
    assert get(client, "/katalog/website/cr/default/zzz")[0] == 404
    assert get(client, "/katalog/website/cr/a")[0] == 404, "namespaced kinds need ns/name"
    status, body = get(client, "/katalog/tenant/cr/acme")
    assert status == 200 and body["eventsEndpoint"] == "/katalog/tenant/cr/acme/events"


def test_cr_events_newest_first(client, engine):
    engine.events = [
        {"type": "Normal", "reason": "Reconciled", "message": "m1", "count": 1, "lastTimestamp": "2026-03-01T11:50:00Z"},
        {"type": "Warning", "reason": "ReconcileError", "message": "m2", "count": 4,
         "lastTimestamp": "2026-03-01T11:59:30Z"},
    ]
    status, body = get(client, "/katalog/website/cr/default/a/events")
    assert status == 200 and body["name"] == "a" and body["namespace"] == "default"
    assert [e["reason"] for e in body["events"]] == ["ReconcileError", "Reconciled"]
    assert body["events"][0] == {"type": "Warning", "reason": "ReconcileError", "message": "m2", "count": 4,
                                 "age": "30s", "lastTimestamp": "2026-03-01T11:59:30Z"}


def test_unknown_paths_and_internal_errors(client, engine):
    assert get(client, "/nope") == (404, {"error": "not found"})

    def broken(key):
        raise RuntimeError("bug")
    engine.crd_snapshot = broken
    status, body = get(client, "/katalog/website")
    assert status == 500 and body == {"error": "internal error"}


def test_metrics_exposition(client):
    resp = client.get("/metrics")
    assert resp.status_code == 200 and resp.mimetype == "text/plain"
    assert b"orkestra_build_info" in resp.data and b"process_resident_memory_bytes" in resp.data


@pytest.mark.parametrize("field", ["spec..host", "{{ .spec.host", "{{ nosuchfunction .spec }}", "status.conditions[x"])
def test_cr_list_bad_field_is_400_not_500(client, engine, field):
    from urllib.parse import quote
    status, body = get(client, f"/katalog/website/cr?field={quote(field)}")
    assert status == 400 and body["error"].startswith("field: ")
    engine.crs["website"] = []          # rejected even when no CR would be resolved
    assert get(client, f"/katalog/website/cr?field={quote(field)}")[0] == 400
