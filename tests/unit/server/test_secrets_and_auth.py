"""Issue 16 items 1 and 2: Secret payloads never leave through the API; data routes need a
Kubernetes-approved bearer token when an authorizer is set."""
from __future__ import annotations

import base64
import dataclasses
import json
from urllib.parse import quote

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from orkestra.server.app import create_app
from orkestra.server.auth import Access, Authorizer, ReviewUnavailable, User
from tests.unit.engine.factories import make_entry, make_katalog
from tests.unit.server.test_routes import FakeEngine

PASSWORD = "Hunter2-SECRET-value"
ENCODED = base64.b64encode(PASSWORD.encode()).decode()


def secret(name: str, ns: str = "default", **data: str) -> dict:
    payload = {k: base64.b64encode(v.encode()).decode() for k, v in (data or {"password": PASSWORD}).items()}
    applied = json.dumps({"apiVersion": "v1", "kind": "Secret", "data": payload,
                          "metadata": {"name": name, "namespace": ns}})
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "data": payload,
            "stringData": {"plain": PASSWORD},
            "metadata": {"name": name, "namespace": ns, "uid": f"uid-{name}", "labels": {"app": "copier"},
                         "annotations": {"kubectl.kubernetes.io/last-applied-configuration": applied, "team": "a"},
                         "creationTimestamp": "2026-03-01T11:48:00Z"}}


class SecretEngine(FakeEngine):
    def __init__(self):
        super().__init__()
        entry = make_entry("copier", kind="Secret", group="", version="v1", plural="secrets")
        entry = dataclasses.replace(entry, api=dataclasses.replace(entry.api, builtin=True))
        self.katalog = make_katalog(*self.katalog.crds.values(), entry)
        self.crs["copier"] = [secret("db"), secret("api", "shop")]
        self.events = [{"type": "Normal", "reason": "Copied", "message": "copied", "count": 1}]


def leaks(text: str, *payloads: str) -> bool:
    return any(p and p in text for p in payloads)


ROUTES = ["/katalog", "/katalog/raw", "/katalog/enriched", "/katalog/copier", "/katalog/copier/health",
          "/katalog/copier/cr", "/katalog/copier/cr/default/db", "/katalog/copier/cr/default/db/events",
          "/katalog/raw?format=yaml", "/metrics"]
FIELDS = ["data.password", "data", "stringData", "stringData.plain", ".", ".data", "data[\"password\"]",
          "metadata", "metadata.annotations", 'metadata.annotations["kubectl.kubernetes.io/last-applied-configuration"]',
          "{{ .data.password | b64dec }}", "{{ .data.password }}", "{{ toJson . }}", "{{ . }}"]


def test_no_route_and_no_field_form_answers_a_secret_payload():
    client = create_app(SecretEngine()).test_client()
    for path in ROUTES + [f"/katalog/copier/cr?field={quote(f)}" for f in FIELDS]:
        resp = client.get(path)
        assert resp.status_code != 500, path
        assert not leaks(resp.get_data(as_text=True), PASSWORD, ENCODED), path


def test_secret_fields_are_refused_with_a_clear_400_and_the_rest_still_resolves():
    client = create_app(SecretEngine()).test_client()
    resp = client.get("/katalog/copier/cr?field=data.password")
    assert resp.status_code == 400 and resp.get_json()["error"] == "field: the data of a Secret is never served"
    resp = client.get("/katalog/copier/cr?field=" + quote("{{ .data.password | b64dec }}"))
    assert resp.status_code == 400 and "templates are not accepted" in resp.get_json()["error"]
    resp = client.get("/katalog/copier/cr?field=metadata.labels.app")
    assert resp.status_code == 200 and [i["value"] for i in resp.get_json()["items"]] == ["copier", "copier"]
    resp = client.get("/katalog/copier/cr?field=metadata.annotations.team")
    assert [i["value"] for i in resp.get_json()["items"]] == ["a", "a"]
    resp = client.get("/katalog/copier/cr?field=" + "x" * 300)
    assert resp.status_code == 400 and "longer than 256" in resp.get_json()["error"]



def test_an_entry_watching_secrets_under_another_kind_spelling_is_still_a_secret_entry():
    """Review finding: `kind: secret, plural: secrets, group: ""` loads (not a built-in by that
    spelling), and an object without `kind` then slipped past both checks."""
    engine = SecretEngine()
    entry = make_entry("copier", kind="secret", group="", version="v1", plural="secrets")
    engine.katalog = make_katalog(*[e for k, e in engine.katalog.crds.items() if k != "copier"], entry)
    bare = secret("db")
    del bare["kind"]
    engine.crs["copier"] = [bare]
    client = create_app(engine).test_client()
    resp = client.get("/katalog/copier/cr?field=data.password")
    assert resp.status_code == 400 and resp.get_json()["error"] == "field: the data of a Secret is never served"
    for path in ["/katalog/copier/cr/default/db"] + [f"/katalog/copier/cr?field={quote(f)}" for f in FIELDS]:
        assert not leaks(client.get(path).get_data(as_text=True), PASSWORD, ENCODED), path

_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40)
_field = st.one_of(
    st.sampled_from(FIELDS),
    st.lists(st.sampled_from(["data", "stringData", "metadata", "annotations", "password", "plain", "0", "*", ""]),
             min_size=1, max_size=4).map(".".join),
    _text, _text.map(lambda t: "{{" + t + "}}"))


@settings(max_examples=300, deadline=None)
@given(field=_field, tail=st.text(max_size=30), key=st.sampled_from(["password", "token", "tls.key", "a"]))
def test_hypothesis_no_field_value_ever_answers_a_secret_payload(field, tail, key):
    payload = "S3cr3t:" + tail      # a marker no route prints by itself
    assume("S3cr3t" not in field)
    engine = SecretEngine()
    engine.crs["copier"] = [secret("db", **{key: payload})]
    client = create_app(engine).test_client()
    encoded = base64.b64encode(payload.encode()).decode()
    for path in (f"/katalog/copier/cr?field={quote(field)}", "/katalog/copier/cr/default/db"):
        body = client.get(path).get_data(as_text=True)
        for form in (payload, encoded, json.dumps(payload)[1:-1], json.dumps(encoded)[1:-1]):
            assert form not in body, (path, form)


# --------------------------------------------------------------------------- authorization
class FakeReviewer:
    def __init__(self):
        self.tokens = {"good": User("system:serviceaccount:ops:reader", "u1", ("system:serviceaccounts",)),
                       "weak": User("system:serviceaccount:ops:nobody", "u2")}
        self.grants = {("system:serviceaccount:ops:reader", a) for a in (
            Access("list", "", "secrets"), Access("get", "", "secrets", "default", "db"),
            Access("list", "", "events", "default"), Access("get", path="/katalog/raw"),
            Access("get", path="/katalog"), Access("get", path="/metrics"))}
        self.calls = []
        self.down = False

    def token_review(self, token):
        self.calls.append(("token", token))
        if self.down:
            raise ReviewUnavailable("503 ServiceUnavailable")
        return self.tokens.get(token)

    def access_review(self, user, access):
        self.calls.append(("access", user.name, access))
        return (user.name, access) in self.grants


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


@pytest.fixture
def reviewer():
    return FakeReviewer()


@pytest.fixture
def clock():
    return Clock()


def client_for(reviewer, clock, *, summaries_open=False):
    authorizer = Authorizer(reviewer, ttl=5.0, clock=clock)
    return create_app(SecretEngine(), authorizer=authorizer, summaries_open=summaries_open).test_client()


def call(client, path, token=None):
    resp = client.get(path, headers={"Authorization": f"Bearer {token}"} if token else {})
    return resp.status_code, resp.get_json()


def test_probes_stay_open_and_data_routes_need_a_token(reviewer, clock):
    client = client_for(reviewer, clock)
    for probe in ("/startup", "/health", "/ready"):
        assert client.get(probe).status_code == 200
    for path in ("/katalog/copier/cr", "/katalog/copier/cr/default/db", "/katalog/copier/cr/default/db/events",
                 "/katalog/raw", "/katalog/enriched", "/katalog", "/metrics", "/katalog/copier"):
        status, body = call(client, path)
        assert status == 401 and "bearer token" in body["error"], path
    assert client.get("/katalog/copier/cr").headers["WWW-Authenticate"].startswith("Bearer")
    assert call(client, "/katalog/copier/cr", "forged")[0] == 401
    assert reviewer.calls == [("token", "forged")]


def test_each_route_asks_kubernetes_for_the_matching_permission(reviewer, clock):
    client = client_for(reviewer, clock)
    status, body = call(client, "/katalog/copier/cr", "good")
    assert status == 200 and body["total"] == 2 and not leaks(json.dumps(body), PASSWORD, ENCODED)
    assert call(client, "/katalog/copier/cr/default/db", "good")[0] == 200
    assert call(client, "/katalog/copier/cr/default/db/events", "good")[0] == 200
    assert call(client, "/katalog/raw", "good")[0] == 200
    assert call(client, "/katalog", "good")[0] == 200
    status, body = call(client, "/katalog/copier/cr", "weak")
    assert status == 403 and body["error"] == 'user "system:serviceaccount:ops:nobody" may not list secrets cluster-wide'
    status, body = call(client, "/katalog/copier/cr?namespace=shop", "good")
    assert status == 403 and 'in namespace "shop"' in body["error"]
    assert call(client, "/katalog/copier/cr/shop/api", "good")[0] == 403
    assert call(client, "/katalog/copier/cr/shop/api/events", "good")[0] == 403
    assert call(client, "/katalog/enriched", "good")[0] == 403
    assert call(client, "/katalog/nosuch/cr", "good")[0] == 404, "authenticated: the view answers 404"


def test_summaries_follow_the_setting(reviewer, clock):
    client = client_for(reviewer, clock, summaries_open=True)
    assert client.get("/metrics").status_code == 200
    assert client.get("/katalog/copier").status_code == 200
    assert call(client, "/katalog/raw")[0] == 401, "raw and enriched are data routes: always protected"


def test_reviews_are_cached_for_a_few_seconds_then_asked_again(reviewer, clock):
    client = client_for(reviewer, clock)
    for _ in range(5):
        assert call(client, "/katalog/copier/cr", "good")[0] == 200
    assert len(reviewer.calls) == 2
    clock.now += 6
    assert call(client, "/katalog/copier/cr", "good")[0] == 200
    assert len(reviewer.calls) == 4


def test_review_failure_fails_closed_with_503(reviewer, clock):
    reviewer.down = True
    status, body = call(client_for(reviewer, clock), "/katalog/copier/cr", "good")
    assert status == 503 and body["error"].startswith("cannot check credentials")


def test_access_attributes_are_the_subject_access_review_spec():
    assert Access("list", "", "secrets", "default").attributes() == {
        "resourceAttributes": {"verb": "list", "group": "", "resource": "secrets", "namespace": "default"}}
    assert Access("get", path="/metrics").attributes() == {"nonResourceAttributes": {"path": "/metrics", "verb": "get"}}


def test_a_known_token_whose_access_review_fails_is_refused_with_503(reviewer, clock):
    def broken(user, access):
        raise ReviewUnavailable("500 InternalError")
    reviewer.access_review = broken
    status, body = call(client_for(reviewer, clock), "/katalog/copier/cr", "good")
    assert (status, body) == (503, {"error": "cannot check credentials: 500 InternalError"})


def test_kube_reviewer_fails_closed_on_an_unreadable_answer(reviewer, clock):
    """Review finding: a 2xx review answer that is not JSON raised ValueError, a 500."""
    from orkestra.server.auth import KubeReviewer

    class NotJson:
        def request(self, *args, **kwargs):
            raise json.JSONDecodeError("Expecting value", "<html>", 0)
    authorizer = Authorizer(KubeReviewer(lambda: NotJson()), clock=clock)
    client = create_app(SecretEngine(), authorizer=authorizer).test_client()
    status, body = call(client, "/katalog/copier/cr", "any-token")
    assert status == 503 and "other than JSON" in body["error"]


def test_a_cluster_scoped_kind_is_always_checked_cluster_wide(reviewer, clock):
    """Review finding: `?namespace=` on a cluster-scoped kind asked for `list` in that namespace,
    which a namespace Role can grant; the kind's objects are only listable cluster-wide."""
    engine = SecretEngine()
    nodes = make_entry("nodes", kind="Node", group="", version="v1", plural="nodes", namespaced=False)
    engine.katalog = make_katalog(*engine.katalog.crds.values(), nodes)
    engine.crs["nodes"] = [{"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1", "uid": "n1"}}]
    reviewer.grants.add(("system:serviceaccount:ops:reader", Access("list", "", "nodes", "default")))
    client = create_app(engine, authorizer=Authorizer(reviewer, clock=clock)).test_client()
    status, body = call(client, "/katalog/nodes/cr?namespace=default", "good")
    assert status == 403 and body["error"].endswith("may not list nodes cluster-wide")
    assert ("access", "system:serviceaccount:ops:reader", Access("list", "", "nodes")) in reviewer.calls
