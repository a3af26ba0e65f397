import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from click.testing import CliRunner

from orkestra.cli.status import render_detail, render_summary, resolve_crd, status

KATALOG = {
    "name": "shop-platform", "version": "1.4.0", "identity": "pod-a", "isKonductor": True, "leader": "pod-a",
    "healthy": False, "degradedReason": "1 CRD degraded", "total": 4, "totalEnabled": 3, "uptime": "12m4s",
    "crds": [
        {"name": "cache", "kind": "Cache", "enabled": True, "state": "healthy", "started": True, "workers": 2,
         "workersActive": 2, "queueDepth": 0, "maxQueueDepth": 100, "consecutiveFails": 0, "failureThreshold": 5,
         "totalReconciles": 18, "failedReconciles": 0, "errorRate": 0.0, "resourceCount": 3, "uptime": "12m4s",
         "lastError": ""},
        {"name": "website", "kind": "Website", "enabled": True, "state": "degraded", "started": True, "workers": 3,
         "workersActive": 3, "queueDepth": 2, "maxQueueDepth": 100, "consecutiveFails": 7, "failureThreshold": 5,
         "totalReconciles": 42, "failedReconciles": 9, "errorRate": 0.2143, "resourceCount": 5, "uptime": "12m1s",
         "lastError": "reconciler panic: AttributeError: 'NoneType' object has no attribute 'endpoint'"},
        {"name": "application", "kind": "Application", "enabled": True, "state": "pending", "started": False,
         "workers": 3, "workersActive": 0, "queueDepth": 0, "maxQueueDepth": 0, "consecutiveFails": 0,
         "failureThreshold": 5, "totalReconciles": 0, "failedReconciles": 0, "errorRate": 0.0,
         "resourceCount": 0, "uptime": "", "lastError": ""},
        {"name": "legacy", "kind": "Legacy", "enabled": False, "state": "not started"},
    ],
}


def test_summary_layout():
    text = render_summary("http://localhost:8080", KATALOG)
    lines = text.splitlines()
    assert lines[:6] == ["Orkestra  http://localhost:8080", "Katalog   shop-platform 1.4.0",
                         "Health    ✗ degraded — 1 CRD degraded", "Leader    yes (pod-a)",
                         "CRDs      4 total, 3 enabled", "Uptime    12m4s"]
    header = lines[7]
    assert header.split() == ["CRD", "STATE", "WORKERS", "QUEUE", "CONSEC", "RECONCILES", "FAILED", "ERR%",
                              "RESOURCES", "UPTIME"]
    rows = {line.split()[0]: line for line in lines[8:11]}
    assert rows["website"].split() == ["website", "✗", "degraded", "3/3", "2/100", "7/5", "42", "9", "21.4%",
                                       "5", "12m1s"]
    assert rows["application"].split()[1:5] == ["◌", "pending", "0/3", "0"], "unlimited queue shows the depth"
    assert rows["application"].endswith("not started"), "UPTIME of a CRD that never started"
    assert rows["application"].split()[8] == "-", "ERR% is - without reconciles"
    # columns line up: every row's WORKERS cell starts where the header's does
    col = header.index("WORKERS")
    assert all(line[col:].split()[0] in ("2/2", "3/3", "0/3") for line in lines[8:11])
    assert "legacy" not in text, "disabled entries are not in the table"
    assert "Last errors\n  website: reconciler panic: AttributeError" in text
    assert lines[-1].startswith("Legend: ● healthy")


def test_follower_and_failing_below_threshold():
    doc = json.loads(json.dumps(KATALOG))
    doc.update(isKonductor=False, leader="pod-b", healthy=True)
    doc["crds"][0]["consecutiveFails"] = 2
    text = render_summary("http://x", doc)
    assert "Leader    no (leader: pod-b)" in text and "Health    ✓ healthy" in text
    assert "cache        ⚠ healthy" in text


def test_resolve_by_key_or_kind():
    assert resolve_crd(KATALOG, "website") == "website"
    assert resolve_crd(KATALOG, "APPLICATION") == "application"
    assert resolve_crd(KATALOG, "nope") is None


def test_detail_sections():
    doc = {"name": "website", "gvk": "demo/v1, Kind=Website", "scope": "Namespaced", "state": "healthy",
           "workers": {"configured": 2, "source": "default", "active": 2, "processing": 1, "idle": 1, "stuck": 0,
                       "states": [{"id": 0, "state": "processing", "key": "default/a", "since": "2026-03-01T12:00:00Z"},
                                  {"id": 1, "state": "idle"}]},
           "queue": {"depth": 0, "maxDepth": 100, "onLimit": "warn", "failureThreshold": 5, "dropped": 0,
                     "limitReached": 0},
           "reconcile": {"total": 4, "failed": 1, "consecutiveFails": 0, "errorRate": 0.25, "successRate": 0.75,
                         "avgDurationMs": 12.0, "lastReconcile": "2026-03-01T12:00:00Z", "lastError": "x",
                         "lastErrorAt": None},
           "dependencies": [{"name": "cache", "condition": "healthy", "state": "started", "satisfied": False}],
           "activeWarnings": []}
    text = render_detail(doc)
    assert "workers\n  configured: 2 (default)" in text
    assert "    w0: processing default/a since 2026-03-01T12:00:00Z" in text
    assert "  maxDepth:         100" in text
    assert "  cache [healthy]: started (unsatisfied)" in text
    assert "warnings\n  (none)" in text


@pytest.fixture
def server():
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = {"/katalog": KATALOG, "/katalog/website": {"name": "website", "state": "degraded"}}.get(self.path)
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(json.dumps(body or {"error": "not found"}).encode())

        def log_message(self, *args):
            pass
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_command_prints_table_and_exits_0_when_degraded(server):
    result = CliRunner().invoke(status, ["--url", server])
    assert result.exit_code == 0, result.output
    assert "website      ✗ degraded" in result.output


def test_command_detail_by_kind(server):
    result = CliRunner().invoke(status, ["--url", server, "--crd", "Website"])
    assert result.exit_code == 0 and result.output.startswith("website")


def test_unreachable_prints_reason_and_hint():
    result = CliRunner().invoke(status, ["--url", "http://127.0.0.1:1", "--timeout", "1s"])
    assert result.exit_code == 1
    assert "cannot reach Orkestra at http://127.0.0.1:1: " in result.output
    assert "hint: kubectl port-forward svc/orkestra-runtime 8080:8080 -n orkestra-system" in result.output


def test_bad_interval_is_a_usage_error():
    assert CliRunner().invoke(status, ["--interval", "soon"]).exit_code == 2


def test_summary_matches_the_spec_sample_exactly():
    """docs/cli.md#ork-status: the sample output, character for character."""
    doc = json.loads(json.dumps(KATALOG))
    doc.update(identity="orkestra-runtime-5d8f-xk2p9", leader="orkestra-runtime-5d8f-xk2p9", total=3)
    doc["crds"] = doc["crds"][:3]
    doc["crds"][2]["maxQueueDepth"] = 100
    want = [
        "Orkestra  http://localhost:8080",
        "Katalog   shop-platform 1.4.0",
        "Health    ✗ degraded — 1 CRD degraded",
        "Leader    yes (orkestra-runtime-5d8f-xk2p9)",
        "CRDs      3 total, 3 enabled",
        "Uptime    12m4s",
        "",
        "CRD          STATE        WORKERS  QUEUE   CONSEC  RECONCILES  FAILED  ERR%   RESOURCES  UPTIME",
        "cache        ● healthy    2/2      0/100   0/5     18          0       0.0%   3          12m4s",
        "website      ✗ degraded   3/3      2/100   7/5     42          9       21.4%  5          12m1s",
        "application  ◌ pending    0/3      0/100   0/5     0           0       -      0          not started",
        "",
        "Last errors",
        "  website: reconciler panic: AttributeError: 'NoneType' object has no attribute 'endpoint'",
        "",
        "Legend: ● healthy  ⚠ failing below threshold  ✗ degraded  ◌ pending  · started  ○ not started",
    ]
    assert render_summary("http://localhost:8080", doc).splitlines() == want


def test_rows_follow_the_start_order():
    """docs/cli.md#ork-status sample lists cache, website, application: dependencies first, not A-Z (the
    /katalog `crds` list is keyed alphabetically)."""
    doc = json.loads(json.dumps(KATALOG))
    doc["crds"] = sorted(doc["crds"], key=lambda c: c["name"])
    doc["dependencyGraph"] = {"startupOrder": ["cache", "website", "application"], "edges": []}
    lines = render_summary("http://x", doc).splitlines()
    assert [line.split()[0] for line in lines[8:11]] == ["cache", "website", "application"]


@pytest.fixture
def guarded():
    """A runtime with ORK_API_AUTH=kubernetes: 401 without a token, 403 for a wrong one."""
    seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            auth = self.headers.get("Authorization")
            seen.append(auth)
            code, body = ((200, KATALOG) if auth == "Bearer right" else
                          (401, {"error": "a bearer token is required"}) if auth is None else
                          (403, {"error": 'user "x" may not get /katalog'}))
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(json.dumps(body).encode())

        def log_message(self, *args):
            pass
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", seen
    httpd.shutdown()


def test_token_is_sent_as_bearer_from_flag_or_env(guarded):
    """Issue 16 item 2: `ork status --token` / ORK_TOKEN."""
    url, seen = guarded
    assert CliRunner().invoke(status, ["--url", url, "--token", "right"]).exit_code == 0
    result = CliRunner().invoke(status, ["--url", url], env={"ORK_TOKEN": "right"})
    assert result.exit_code == 0 and "website" in result.output
    assert seen == ["Bearer right", "Bearer right"]


def test_refused_token_says_so_with_a_hint(guarded):
    url, _ = guarded
    result = CliRunner().invoke(status, ["--url", url, "--token", "wrong"])
    assert result.exit_code == 1 and 'HTTP 403 from /katalog: user "x" may not get /katalog' in result.output
    assert "pass --token" in result.output


def test_without_a_token_the_kubeconfig_users_token_is_tried(guarded, tmp_path):
    url, seen = guarded
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: k, cluster: {server: 'https://127.0.0.1:6443'}}]\n"
        "contexts: [{name: c, context: {cluster: k, user: u}}]\n"
        "users: [{name: u, user: {token: right}}]\n")
    result = CliRunner().invoke(status, ["--url", url, "--kubeconfig", str(kubeconfig)], env={"ORK_TOKEN": ""})
    assert result.exit_code == 0, result.output
    assert seen == [None, "Bearer right"]


def test_the_kubeconfig_token_goes_only_over_https_or_to_this_machine(monkeypatch):
    """Review finding: any plain-http URL that answered 401 received the kubeconfig user's token
    (often cluster-admin)."""
    import orkestra.cli.status as status_mod
    sent = []

    def refusing(url, path, timeout, token=None):
        sent.append((url, token))
        raise status_mod.Unauthorized("HTTP 401 from /katalog: a bearer token is required")
    monkeypatch.setattr(status_mod, "fetch", refusing)
    monkeypatch.setattr(status_mod, "kubeconfig_token", lambda kubeconfig, context: "admin-token")
    for url, retried in (("http://10.0.0.7:8080", False), ("http://orkestra.example:8080", False),
                         ("https://orkestra.example", True), ("http://localhost:8080", True),
                         ("http://[::1]:8080", True)):
        sent.clear()
        with pytest.raises(status_mod.Unauthorized):
            status_mod.Credentials(None, None, None).fetch(url, "/katalog", 1.0)
        assert sent == [(url, None)] + ([(url, "admin-token")] if retried else []), url
