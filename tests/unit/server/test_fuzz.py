"""Hypothesis: hostile requests to the runtime HTTP API (issue 14, "Bad input, everywhere").

Unknown CRD names, path traversal, encoded and control characters, huge query strings, every
HTTP method and malformed bodies, with and without the token guard: the answer is always a JSON
`{"error": ...}` with a 4xx (or the route's own 200/503) within `ANSWER_WITHIN` seconds, never
a 500 and never an exception out of the app. The examples are derandomized and bounded so the
module runs in seconds in CI.
"""
from __future__ import annotations

import json
import signal
from contextlib import contextmanager
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from orkestra.server.app import create_app
from orkestra.server.auth import Authorizer

from .test_routes import FakeEngine
from .test_secrets_and_auth import Clock, FakeReviewer

FUZZ = settings(max_examples=100, derandomize=True, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

KNOWN = ["", "katalog", "raw", "enriched", "website", "cache", "legacy", "tenant", "secretive", "health",
         "cr", "default", "shop", "a", "events", "metrics", "startup", "ready"]
HOSTILE = ["..", ".", "%2e%2e", "%2E%2E%2F", "..%2f..%2fetc%2fpasswd", "%00", "%ff", "%", "%zz", "~", "//",
           "\\..\\", "%0d%0aX-Injected:%201", "a" * 5000, "é", "%C0%AE%C0%AE", "{{ .x }}", "*", "?", "#"]
segments = st.sampled_from(KNOWN) | st.sampled_from(HOSTILE) | st.text(
    st.characters(codec="utf-8", exclude_characters="/?#"), max_size=30).map(lambda s: quote(s, safe=""))
# a leading "//" would make the test client read the next segment as a host name
paths = st.lists(segments, min_size=0, max_size=6).map(lambda parts: "/" + "/".join(parts).lstrip("/"))
query_keys = st.sampled_from(["namespace", "field", "format", "limit", "x", ""]) | st.text(max_size=10)
query_values = st.sampled_from(["json", "yaml", "spec.value", "metadata.name", "data", "data.password",
                                "spec.." * 20, "x" * 70_000]) | st.text(max_size=40)
queries = st.lists(st.tuples(query_keys, query_values), max_size=4).map(
    lambda pairs: "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs))
methods = st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "PROPFIND"])
bodies = st.none() | st.binary(max_size=200) | st.sampled_from(
    [b"{", b'{"a": [', b"null", b"\xff\xfe", json.dumps({"x": ["y"] * 1000}).encode(), b"[" * 5000 + b"]" * 5000])
tokens = st.none() | st.sampled_from(["good", "weak", "", "bad", "Bearer", "a" * 9000, "é"])

# A request that takes longer than this is a hang: the alarm interrupts it and fails the example.
ANSWER_WITHIN = 10.0

# 200 (a served route), 503 (/ready, a degraded CRD's health, a review that cannot be made) and
# the 4xx a bad request gets.
ALLOWED = {200, 400, 401, 403, 404, 405, 413, 414, 431, 503}


@pytest.fixture(scope="module")
def open_client():
    app = create_app(FakeEngine())
    app.testing = False          # errors go through the JSON handlers, as in production
    return app.test_client()


@pytest.fixture(scope="module")
def guarded_client():
    app = create_app(FakeEngine(), authorizer=Authorizer(FakeReviewer(), clock=Clock()))
    app.testing = False
    return app.test_client()


@contextmanager
def _within(seconds: float):
    """Fail with TimeoutError if the block has not finished within `seconds` (SIGALRM, main thread)."""
    def expire(signum, frame):
        raise TimeoutError(f"no answer within {seconds}s")
    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _check(resp, method: str) -> None:
    assert resp.status_code in ALLOWED, (resp.status_code, resp.get_data(as_text=True)[:300])
    if resp.status_code >= 400 and method != "HEAD":
        body = resp.get_json(silent=True)
        assert isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"], body


@FUZZ
@given(method=methods, path=paths, query=queries, body=bodies)
def test_any_request_gets_a_clear_answer_never_a_500(open_client, method, path, query, body):
    with _within(ANSWER_WITHIN):
        resp = open_client.open(path + ("?" + query if query else ""), method=method, data=body,
                                content_type="application/json")
    _check(resp, method)


@FUZZ
@given(method=methods, path=paths, query=queries, token=tokens)
def test_with_the_token_guard_any_request_gets_a_clear_answer(guarded_client, method, path, query, token):
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    with _within(ANSWER_WITHIN):
        resp = guarded_client.open(path + ("?" + query if query else ""), method=method, headers=headers)
    _check(resp, method)


@pytest.mark.parametrize("path", [
    "/katalog/../katalog/raw", "/katalog/%2e%2e/raw", "/katalog/website/cr/..%2f..%2fkatalog%2fraw",
    "/katalog/website/cr/default/../../../etc/passwd", "/katalog/website/cr/default/a/events/x",
    "/katalog/%00", "/katalog/" + "w" * 10_000, "/katalog/website/cr?field=" + "spec." * 20_000,
])
def test_traversal_and_oversized_paths_are_refused_with_a_message(open_client, path):
    resp = open_client.get(path)
    assert resp.status_code in (400, 404), resp.status_code
    assert resp.get_json()["error"]


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_write_methods_on_read_routes_are_405_with_a_message(open_client, method):
    for path in ("/katalog", "/katalog/website", "/katalog/website/cr", "/health", "/metrics"):
        resp = open_client.open(path, method=method, data=b'{"spec": ', content_type="application/json")
        assert resp.status_code == 405, (path, method)
        assert resp.get_json() == {"error": "the method is not allowed for the requested url."}, (path, method)
