"""Hypothesis: malformed and mutated review bodies at every endpoint never give a 500 or a crash."""
from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from orkestra.webhooks.app import WebhookState, create_webhook_app
from orkestra.webhooks.switches import WebhookSettings

from .katalogs import GUARDED, admission, obj

PATHS = ["/convert", "/validate", "/mutate", "/deletion-protection", "/namespace-protection"]
ALLOWED_STATUSES = {200, 400, 404, 405}

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=20)


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    from .katalogs import load
    k = load(tmp_path_factory.mktemp("k"), GUARDED)
    state = WebhookState.build(k, WebhookSettings(enable_conversion=True, enable_admission=True))
    return create_webhook_app(k, state).test_client()


def seeds() -> list[dict]:
    cache = obj("c", kind="Cache", api_version="data.example.io/v1alpha1", size="1")
    labelled = obj("p", labels={"orkestra.io/deletion-protection": "true"})
    return [admission("CREATE", obj(image="x", hostname="h")), admission("UPDATE", labelled, labelled),
            admission("DELETE", None, labelled),
            {"apiVersion": "apiextensions.k8s.io/v1", "kind": "ConversionReview",
             "request": {"uid": "u", "desiredAPIVersion": "data.example.io/v1", "objects": [cache]}}]


def paths_of(doc):
    """Every (container, key) in a JSON document, for targeted replacement."""
    out = []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out.append((doc, k))
            out += paths_of(v)
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out.append((doc, i))
            out += paths_of(v)
    return out


def check(resp):
    assert resp.status_code in ALLOWED_STATUSES, (resp.status_code, resp.get_data(as_text=True)[:300])
    body = resp.get_json()
    assert isinstance(body, dict)
    if resp.status_code == 200:
        assert "response" in body and body["response"]["uid"]
    else:
        assert isinstance(body["error"], str)


FUZZ = settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                         HealthCheck.too_slow])


@FUZZ
@given(path=st.sampled_from(PATHS), seed=st.sampled_from(range(4)), data=st.data())
def test_mutated_reviews(client, path, seed, data):
    doc = json.loads(json.dumps(seeds()[seed]))
    for _ in range(data.draw(st.integers(1, 3))):
        spots = paths_of(doc)
        container, key = data.draw(st.sampled_from(spots))
        if data.draw(st.booleans()) and isinstance(container, dict):
            del container[key]
        else:
            container[key] = data.draw(json_values)
    check(client.post(path, data=json.dumps(doc), content_type="application/json"))


@FUZZ
@given(path=st.sampled_from(PATHS), body=json_values)
def test_arbitrary_json(client, path, body):
    check(client.post(path, data=json.dumps(body), content_type="application/json"))


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(PATHS + ["/other"]), body=st.binary(max_size=200),
       method=st.sampled_from(["POST", "GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]),
       ctype=st.sampled_from(["application/json", "text/plain", "", "application/JSON; charset=utf-8",
                              "multipart/form-data"]))
def test_arbitrary_bytes_methods_and_content_types(client, path, body, method, ctype):
    resp = client.open(path, method=method, data=body, content_type=ctype or None)
    assert resp.status_code in ALLOWED_STATUSES
    if method != "HEAD":
        assert isinstance(resp.get_json()["error" if resp.status_code != 200 else "response"], (str, dict))
