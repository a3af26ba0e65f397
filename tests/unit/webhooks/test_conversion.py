"""/convert: docs/katalog.md#conversion algorithm, Failure answers, stats per group and direction."""
from __future__ import annotations

import itertools

import pytest

from orkestra.webhooks.app import WebhookState, create_webhook_app
from orkestra.webhooks.switches import WebhookSettings

from .katalogs import load, obj, post


@pytest.fixture
def setup(tmp_path):
    k = load(tmp_path)
    ticks = itertools.count()
    state = WebhookState.build(k, WebhookSettings(enable_conversion=True), clock=lambda: next(ticks) * 0.001)
    return create_webhook_app(k, state).test_client(), state


def review(desired, *objects, uid="c-1"):
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "ConversionReview",
            "request": {"uid": uid, "desiredAPIVersion": desired, "objects": list(objects)}}


def cache(version, name="c1", **spec):
    o = obj(name, "ns1", kind="Cache", api_version=f"data.example.io/{version}", **spec)
    o["status"] = {"phase": "Ready"}
    return o


def convert(client, body):
    resp = post(client, "/convert", body)
    assert resp.status_code == 200
    doc = resp.get_json()
    assert doc["apiVersion"] == "apiextensions.k8s.io/v1" and doc["kind"] == "ConversionReview"
    return doc["response"]


def test_up_and_down_conversion_renders_the_path_spec(setup):
    client, _ = setup
    r = convert(client, review("data.example.io/v1", cache("v1alpha1", size="1Gi")))
    assert r["uid"] == "c-1" and r["result"] == {"status": "Success"}
    (out,) = r["convertedObjects"]
    assert out["apiVersion"] == "data.example.io/v1"
    # default applied, empty template result ("extra") omitted, metadata and status carried over
    assert out["spec"] == {"engine": "redis", "memory": "1Gi", "evictionPolicy": "allkeys-lru"}
    assert out["metadata"]["name"] == "c1" and out["status"] == {"phase": "Ready"}
    back = convert(client, review("data.example.io/v1alpha1", out))["convertedObjects"][0]
    assert back["apiVersion"] == "data.example.io/v1alpha1"
    assert back["spec"] == {"engine": "redis", "size": "1Gi"}


def test_same_version_is_copied(setup):
    client, _ = setup
    src = cache("v1", engine="memcached", memory="2Gi")
    (out,) = convert(client, review("data.example.io/v1", src))["convertedObjects"]
    assert out == src


def test_missing_path_fails_the_whole_review(setup):
    client, state = setup
    r = convert(client, review("data.example.io/v2", cache("v1", "ok", memory="1"), cache("v1alpha1", "bad")))
    assert r["convertedObjects"] == []
    assert r["result"] == {"status": "Failure", "message":
                           "ns1/ok: no conversion path from data.example.io/v1 to data.example.io/v2 for kind "
                           "Cache; add it under conversion.paths"}
    assert state.stats.directions("conversion:data.example.io/Cache") == {"v1→v2": {"total": 1, "failures": 1}}


def test_unknown_kind_fails(setup):
    client, _ = setup
    r = convert(client, review("data.example.io/v1", cache("v1alpha1") | {"kind": "Other"}))
    assert r["result"]["status"] == "Failure"
    assert r["result"]["message"].startswith("ns1/c1: unknown kind Other")


def test_stats_are_per_group_and_direction(setup):
    client, state = setup
    for i in range(3):
        convert(client, review("data.example.io/v1", cache("v1alpha1", f"c{i}", size="1")))
    convert(client, review("data.example.io/v1alpha1", cache("v1", memory="1")))
    scope = "conversion:data.example.io/Cache"
    assert state.stats.counters(scope) == {"total": 4, "success": 4}
    assert state.stats.directions(scope) == {"v1alpha1→v1": {"total": 3, "failures": 0},
                                             "v1→v1alpha1": {"total": 1, "failures": 0}}
    # the injected clock advances 1 ms per reading: each object took exactly 1 ms
    assert state.stats.latency(scope) == {"avg": 1.0, "p95": 1.0, "max": 1.0}
