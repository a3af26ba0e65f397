"""The Flask app through its test client: login, CSRF, throttling, redirects, cookies, headers,
JSON twins of every view, escaping of runtime data, probes and the live-update stream."""
from __future__ import annotations

import json
import re
import threading
import time

import pytest

from orkestra.controlcenter.api import EventStream, StreamSlots
from orkestra.controlcenter.app import CSRF_ERROR, SECURITY_HEADERS, create_app
from orkestra.controlcenter.livecache import LiveReader
from orkestra.controlcenter.poller import Poller
from orkestra.controlcenter.settings import build_settings
from tests.unit.controlcenter import samples
from tests.unit.controlcenter.fakes import Clock, FakeFetcher

URL = "http://a:8080"
RID = "a-8080"
EVIL = '<script>window.__xss=1</script>'


def _documents() -> dict:
    evil = samples.crd_summary("website", last_error=f"failed {EVIL}")
    docs = samples.documents(URL, samples.katalog(name=f"shop {EVIL}", crds=[samples.crd_summary("cache"), evil]))
    docs[f"{URL}/katalog/website/cr"] = (200, {"crd": "website", "gvk": "g", "total": 1, "items": [
        {"name": f"site{EVIL}", "namespace": "default", "phase": "Ready", "ready": "True", "readyReason": EVIL,
         "age": "1m", "generation": 1, "observedGeneration": 1}]})
    docs[f"{URL}/katalog/website/cr/default/site-a"] = (200, {
        "name": "site-a", "namespace": "default", "uid": "u", "phase": "Ready", "ready": "False",
        "readyReason": "Error", "readyMessage": EVIL, "generation": 2, "observedGeneration": 2,
        "labels": {"team": EVIL}, "status": {"phase": "Ready", "note": EVIL},
        "children": {"ConfigMap": [{"name": "site-a-config", "ready": True, "age": "1m"}]}})
    docs[f"{URL}/katalog/website/cr/default/site-a/events"] = (200, {"events": [
        {"type": "Warning", "reason": "ReconcileError", "message": EVIL, "count": 3, "age": "5s"}]})
    return docs


@pytest.fixture
def env():
    class Env:
        sleeps: list[float] = []
        fetcher = FakeFetcher(_documents())
        clock = Clock()
        poller = Poller((URL,), interval=10, fetcher=fetcher, clock=clock)
        settings = build_settings(host="127.0.0.1", port=8081, urls=URL, refresh=10, insecure=False, token_file=None,
                                  log_level="info", env={"ADMIN_USERNAME": "admin", "ADMIN_PASSWORD": "pw"})

    e = Env()
    e.sleeps = []
    e.app = create_app(e.settings, poller=e.poller, live=LiveReader(e.fetcher), sleep=e.sleeps.append, clock=e.clock)
    e.poller.poll_once()
    return e


def _csrf(client, path: str = "/login") -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text).group(1)


def _login(client, password: str = "pw", next_path: str = "/", environ: dict | None = None):
    return client.post("/login", data={"csrf_token": _csrf(client), "username": "admin", "password": password,
                                       "next": next_path}, environ_base=environ or {})


@pytest.fixture
def client(env):
    c = env.app.test_client()
    assert _login(c).status_code == 302
    return c


def test_pages_need_a_session_html_is_redirected_json_gets_401(env):
    c = env.app.test_client()
    resp = c.get(f"/k/{RID}?x=1")
    assert resp.status_code == 302 and resp.headers["Location"] == f"/login?next=/k/{RID}?x%3D1"
    assert c.get("/", headers={"Accept": "application/json"}).status_code == 401
    assert c.get("/api/snapshot").json == {"error": "login required"}


def test_login_follows_local_next_only(env):
    c = env.app.test_client()
    assert _login(c, next_path=f"/k/{RID}").headers["Location"] == f"/k/{RID}"
    for evil in ("//evil.example/x", "https://evil.example", "/\\evil.example"):
        c = env.app.test_client()
        assert _login(c, next_path=evil).headers["Location"] == "/"


def test_wrong_password_is_rejected_after_a_delay_and_five_failures_lock_out(env):
    c = env.app.test_client()
    for _ in range(5):
        resp = _login(c, password="wrong")
        assert resp.status_code == 401 and "Wrong username or password" in resp.text
    assert env.sleeps == [0.5] * 5
    locked = _login(c, password="pw")     # even the right password while locked out
    assert locked.status_code == 429 and locked.headers["Retry-After"] == "300"
    assert c.get("/").status_code == 302, "no session was created"


def test_concurrent_wrong_logins_from_one_address_get_five_guesses_in_all(env):
    """Twelve guesses sent at once all wait out their 0.5 s delay together: the lockout must
    still count them, so only five are checked and the others get 429."""
    release = threading.Event()
    waiting = []
    app = create_app(env.settings, poller=env.poller, live=LiveReader(env.fetcher), max_delayed=12,
                     sleep=lambda seconds: (waiting.append(seconds), release.wait(5)))
    forms = []
    for _ in range(12):
        c = app.test_client()
        forms.append((c, {"csrf_token": _csrf(c), "username": "admin", "password": "guess", "next": "/"}))
    codes: list[int] = []
    threads = [threading.Thread(target=lambda c=c, f=f: codes.append(c.post("/login", data=f).status_code))
               for c, f in forms]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 5
    while len(waiting) + codes.count(429) < 12 and time.monotonic() < deadline:
        time.sleep(0.01)
    release.set()
    for t in threads:
        t.join(5)
    assert sorted(codes) == [401] * 5 + [429] * 7


def test_at_most_four_failed_logins_hold_a_thread_for_their_delay(env):
    """Failures from many addresses at once: four wait out their delay, the others are answered
    429 with Retry-After: 1 at once, so guessing cannot take every thread from the pages."""
    release = threading.Event()
    waiting = []
    app = create_app(env.settings, poller=env.poller, live=LiveReader(env.fetcher),
                     sleep=lambda seconds: (waiting.append(seconds), release.wait(5)))
    answers: list[tuple[int, str | None]] = []

    def guess(i: int) -> None:
        c = app.test_client()
        resp = c.post("/login", data={"csrf_token": _csrf(c), "username": "admin", "password": "guess"},
                      environ_base={"REMOTE_ADDR": f"10.0.0.{i}"})
        answers.append((resp.status_code, resp.headers.get("Retry-After")))

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(7)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 5
    while len(answers) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(waiting) == 4 and sorted(answers) == [(429, "1")] * 3
    release.set()
    for t in threads:
        t.join(5)
    assert sorted(answers) == [(401, None)] * 4 + [(429, "1")] * 3
    c = app.test_client()
    assert _login(c, password="pw").status_code == 302, "the delay slots were given back"


def test_every_post_needs_the_csrf_token_login_included(env):
    c = env.app.test_client()
    c.get("/login")
    resp = c.post("/login", data={"username": "admin", "password": "pw"})
    assert resp.status_code == 400 and CSRF_ERROR in resp.text
    other = env.app.test_client()
    stolen = _csrf(other)
    assert c.post("/login", data={"csrf_token": stolen, "username": "admin", "password": "pw"}).status_code == 400
    assert _login(c).status_code == 302
    assert c.post("/logout").status_code == 400
    assert c.post("/logout", headers={"X-CSRF-Token": _csrf(c, "/")}).status_code == 302
    assert c.get("/").status_code == 302, "logged out"


def test_login_starts_a_new_session_with_a_new_csrf_token(env):
    c = env.app.test_client()
    before = _csrf(c)
    _login(c)
    assert _csrf(c, "/") != before


def test_session_cookie_flags(env):
    c = env.app.test_client()
    cookie = _login(c).headers["Set-Cookie"]
    assert cookie.startswith("orkcc_session=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Path=/" in cookie and "Secure" not in cookie and "Expires=" in cookie
    https = env.app.test_client()
    https.get("/login", base_url="https://cc.example")
    token = re.search(r'name="csrf_token" value="([^"]+)"', https.get("/login", base_url="https://cc.example").text).group(1)
    resp = https.post("/login", base_url="https://cc.example",
                      data={"csrf_token": token, "username": "admin", "password": "pw"})
    assert "Secure" in resp.headers["Set-Cookie"], "auto: Secure over HTTPS"


def test_security_headers_on_every_response(env, client):
    for resp in (client.get("/"), client.get("/static/cc.css"), client.get("/health"), client.get("/nope"),
                 env.app.test_client().get("/login")):
        for name, value in SECURITY_HEADERS.items():
            assert resp.headers[name] == value, (resp.request.path, name)


def test_every_view_answers_html_and_its_view_model_as_json(client):
    routes = ["/", f"/k/{RID}", f"/k/{RID}/crd/website", f"/k/{RID}/crd/website/cr",
              f"/k/{RID}/crd/website/cr/default/site-a"]
    for route in routes:
        html = client.get(route)
        assert html.status_code == 200 and html.mimetype == "text/html", route
        model = client.get(route, headers={"Accept": "application/json"})
        assert model.status_code == 200 and model.mimetype == "application/json", route
        assert "regions" not in model.json
        regions = client.get(route + "?regions=1", headers={"Accept": "application/json"}).json["regions"]
        assert 'data-region' not in regions["main"] and len(regions["main"]) > 100
    assert client.get(f"/k/{RID}", headers={"Accept": "application/json"}).json["crds"][0]["name"] == "cache"
    cr = client.get(f"/k/{RID}/crd/website/cr/default/site-a", headers={"Accept": "application/json"}).json
    assert cr["children"][0]["kind"] == "ConfigMap" and cr["events"][0]["count"] == 3


def test_runtime_data_is_escaped_in_every_view(client):
    for route in ["/", f"/k/{RID}", f"/k/{RID}/crd/website", f"/k/{RID}/crd/website/cr",
                  f"/k/{RID}/crd/website/cr/default/site-a"]:
        page = client.get(route).text
        assert "<script>window.__xss" not in page, route
        assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in page, route


def test_unknown_runtimes_and_crds_are_404(client):
    assert client.get("/k/nope").status_code == 404
    assert client.get(f"/k/{RID}/crd/nope").status_code == 404
    assert client.get(f"/k/{RID}/crd/nope/cr").status_code == 404
    assert client.get(f"/k/{RID}/crd/website/cr/a/b/c/d").status_code == 404
    assert client.get("/k/nope", headers={"Accept": "application/json"}).json == {"error": 'no runtime "nope"'}


def test_dot_segments_never_reach_the_runtime(env, client):
    """`..` is no Kubernetes name; passed on, it would walk the runtime's API outside the CR."""
    env.fetcher.calls.clear()
    for path in ("/website/cr/../..", "/website/cr/..%2F..", "/website/cr/default/.", "/%2E%2E/cr"):
        resp = client.get(f"/k/{RID}/crd{path}", headers={"Accept": "application/json"})
        assert resp.status_code == 404, path
    assert env.fetcher.calls == []


def test_a_cluster_scoped_cr_is_addressed_by_name_alone(env, client):
    env.fetcher.docs[f"{URL}/katalog/website/cr/global-site"] = (200, {"name": "global-site", "ready": "True"})
    model = client.get(f"/k/{RID}/crd/website/cr/global-site", headers={"Accept": "application/json"}).json
    assert model["name"] == "global-site" and model["namespace"] == "" and model["error"] == ""
    assert f"{URL}/katalog/website/cr/global-site/events" in env.fetcher.calls


def test_a_live_view_shows_the_runtime_error(env, client):
    page = client.get(f"/k/{RID}/crd/website/cr/default/gone")
    assert page.status_code == 200 and "Could not read this resource" in page.text and "Connection refused" in page.text


def test_probes_version_and_snapshot(env, client):
    anon = env.app.test_client()
    assert anon.get("/ready").json == {"status": "ready"}
    assert anon.get("/health").status_code == 500, "the poller thread is not running in this test"
    assert anon.get("/version").json == {"version": "0.1.0"}
    snap = client.get("/api/snapshot").json
    assert snap["runtimes"][0]["id"] == RID and snap["stats"]["totalCRDs"] == 2


def test_not_ready_before_the_first_cycle():
    poller = Poller((URL,), interval=10, fetcher=FakeFetcher(), clock=Clock())
    settings = build_settings(host="127.0.0.1", port=8081, urls=URL, refresh=10, insecure=False, token_file=None,
                              log_level="info", env={})
    app = create_app(settings, poller=poller, live=LiveReader(FakeFetcher()))
    assert app.test_client().get("/ready").status_code == 503


def test_at_most_24_streams_and_a_closed_stream_gives_its_slot_back(env, client):
    env.app.config["CC_STREAM_SLOTS"] = StreamSlots(limit=2)
    first, second = client.get("/api/stream"), client.get("/api/stream")
    assert first.status_code == second.status_code == 200 and first.mimetype == "text/event-stream"
    third = client.get("/api/stream")
    assert third.status_code == 503 and "too many open streams" in third.json["error"]
    first.close()
    assert client.get("/api/stream").status_code == 200
    assert StreamSlots().limit == 24


def test_the_stream_sends_an_update_after_each_cycle(env):
    stream = EventStream(env.poller, StreamSlots(), ping=0.01)
    events = iter(stream)
    assert next(events) == b"retry: 3000\n\n"
    assert next(events) == b": ping\n\n"
    env.poller.poll_once()
    update = next(events).decode()
    assert update.startswith("event: update\ndata: ")
    data = json.loads(update.split("data: ", 1)[1])
    assert data["runtimes"] == {RID: "online"} and data["updated"].endswith("Z")
    stream.close()


def _every_field(doc: dict, value, keep: tuple[str, ...] = ()) -> dict:
    return {k: (v if k in keep else value) for k, v in doc.items()}


@pytest.mark.parametrize("value", ["x", [1], {"a": 1}, 1.5, True, None, float("nan"), float("inf")])
def test_a_runtime_field_of_an_unexpected_type_does_not_fail_any_page(value):
    """Another runtime version, or a bug, sends a field of another type: every page still answers
    (that field shows empty), in particular `/` and `/api/snapshot` for the other runtimes."""
    katalog = samples.katalog()
    katalog = _every_field(katalog, value, keep=("crds",))
    katalog["crds"] = [_every_field(c, value, keep=("name",)) for c in katalog["crds"]]
    docs = {f"{URL}/katalog": (200, katalog)}
    nested = {"workers": {"states": [_every_field({"id": 0, "state": "stuck", "key": "k", "since": "s"}, value)],
                          "configured": value, "source": value},
              "reconciler": {"templates": value, "finalizers": value, "hooks": value, "type": value},
              "dependencies": [_every_field({"name": "", "condition": "", "state": "", "satisfied": ""}, value)],
              "rbac": [_every_field({"apiGroups": "", "resources": "", "verbs": ""}, value)],
              "activeWarnings": [_every_field(dict.fromkeys(("key", "source", "field", "message", "since")), value)],
              "queue": _every_field(samples.detail("x")["queue"], value),
              "reconcile": _every_field(samples.detail("x")["reconcile"], value)}
    for name in ("cache", "website"):
        docs[f"{URL}/katalog/{name}"] = (200, {**_every_field(samples.detail(name), value), **nested})
        docs[f"{URL}/katalog/{name}/health"] = (200, _every_field(samples.health(name), value))
    cr = _every_field({"name": "", "namespace": "", "phase": "", "ready": "", "readyReason": "", "age": "",
                       "generation": 0, "observedGeneration": 0, "labels": {}, "status": {}, "children": {}}, value)
    docs[f"{URL}/katalog/website/cr"] = (200, {"items": [cr], "gvk": value})
    docs[f"{URL}/katalog/website/cr/default/a"] = (200, {**cr, "status": {"conditions": [_every_field(
        {"type": "", "status": "", "reason": "", "message": "", "lastTransitionTime": ""}, value)]},
        "children": {"ConfigMap": [_every_field({"name": "", "ready": "", "replicas": 0, "age": ""}, value)]}})
    docs[f"{URL}/katalog/website/cr/default/a/events"] = (200, {"events": [_every_field(
        {"type": "", "reason": "", "message": "", "count": 0, "age": ""}, value)]})
    fetcher, clock = FakeFetcher(docs), Clock()
    poller = Poller((URL,), interval=10, fetcher=fetcher, clock=clock)
    settings = build_settings(host="127.0.0.1", port=8081, urls=URL, refresh=10, insecure=False, token_file=None,
                              log_level="info", env={"ADMIN_USERNAME": "admin", "ADMIN_PASSWORD": "pw"})
    app = create_app(settings, poller=poller, live=LiveReader(fetcher), sleep=lambda _: None, clock=clock)
    poller.poll_once()
    clock.advance(10)
    poller.poll_once()
    c = app.test_client()
    _login(c)
    for path in ("/", "/api/snapshot", f"/k/{RID}", f"/k/{RID}/crd/website", f"/k/{RID}/crd/website/cr",
                 f"/k/{RID}/crd/website/cr/default/a"):
        for accept in ("text/html", "application/json"):
            assert c.get(path, headers={"Accept": accept}).status_code == 200, (path, accept)
