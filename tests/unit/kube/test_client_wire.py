"""KubeClient against a scripted loopback server: wire-level cases (throttling, expired continue
tokens, chunked watch streams, a stalled stream) that a real API server cannot be forced into."""
import json
import threading

import pytest

from orkestra.gvk import GVR
from orkestra.kube.client import KubeClient, WatchStalled
from orkestra.kube.kubeconfig import ClusterAccess
from orkestra.kube.errors import ApiError
from tests.unit.kube.fake_server import FakeApiServer, end_chunks, send_json, start_chunked, write_chunk

CM = GVR("", "v1", "configmaps")
DEPLOY = GVR("apps", "v1", "deployments")


@pytest.fixture
def server():
    srv = FakeApiServer()
    yield srv
    srv.close()


def test_429_is_retried_after_retry_after_capped(server):
    calls = []

    def handler(req):
        calls.append(1)
        if len(calls) < 3:
            send_json(req, 429, {"kind": "Status", "code": 429}, {"Retry-After": "120" if len(calls) == 1 else "2"})
        else:
            send_json(req, 200, {"metadata": {"name": "a"}})

    server.routes[("GET", "/api/v1/namespaces/ns/configmaps/a")] = handler
    slept = []
    kube = server.client(sleep=slept.append)
    assert kube.get(CM, "a", "ns") == {"metadata": {"name": "a"}}
    assert slept == [30.0, 2.0]


def test_error_status_becomes_api_error_with_verb_and_resource(server):
    server.routes[("PATCH", "/apis/apps/v1/namespaces/ns/deployments/web")] = lambda req: send_json(
        req, 422, {"kind": "Status", "reason": "Invalid", "message": "spec.replicas: must be >= 0", "code": 422})
    kube = server.client()
    with pytest.raises(ApiError) as err:
        kube.patch(DEPLOY, "web", {"spec": {"replicas": -1}}, "ns")
    exc = err.value
    assert (exc.status, exc.reason, exc.verb) == (422, "Invalid", "patch")
    assert exc.resource == 'deployments.apps "web" in namespace "ns"'
    assert "spec.replicas: must be >= 0" in str(exc)


def test_get_returns_none_and_delete_false_on_not_found(server):
    kube = server.client()
    assert kube.get(CM, "missing", "ns") is None
    assert kube.delete(CM, "missing", "ns") is False


def test_delete_sends_background_propagation(server):
    server.routes[("DELETE", "/api/v1/namespaces/ns/configmaps/a")] = lambda req: send_json(req, 200, {})
    assert server.client().delete(CM, "a", "ns") is True
    assert server.requests[-1][3] == {"propagationPolicy": "Background"}


def test_apply_is_server_side_apply_with_field_manager_and_force(server):
    server.routes[("PATCH", "/apis/apps/v1/namespaces/ns/deployments/web")] = lambda req: send_json(req, 200, req.body)
    obj = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "ns"}}
    assert server.client().apply(DEPLOY, obj) == obj
    _, _, query, body, headers = server.requests[-1]
    assert headers["Content-Type"] == "application/apply-patch+yaml"
    assert query == {"fieldManager": "orkestra", "force": "true"}
    assert body == obj


def test_status_patch_targets_the_subresource(server):
    server.routes[("PATCH", "/apis/demo.io/v1/namespaces/ns/sites/a/status")] = lambda req: send_json(req, 200, {})
    server.client().patch(GVR("demo.io", "v1", "sites"), "a", {"status": {"phase": "Ready"}}, "ns",
                          subresource="status")
    assert server.requests[-1][4]["Content-Type"] == "application/merge-patch+json"


def test_list_follows_continue_tokens_and_fills_kind(server):
    def handler(req):
        if req.query.get("continue") == "t1":
            send_json(req, 200, {"kind": "ConfigMapList", "apiVersion": "v1", "metadata": {"resourceVersion": "9"},
                                 "items": [{"metadata": {"name": "b"}}]})
        else:
            assert req.query["limit"] == "500"
            send_json(req, 200, {"kind": "ConfigMapList", "apiVersion": "v1",
                                 "metadata": {"resourceVersion": "8", "continue": "t1"},
                                 "items": [{"metadata": {"name": "a"}}]})

    server.routes[("GET", "/api/v1/configmaps")] = handler
    items, rv = server.client().list(CM)
    assert [i["metadata"]["name"] for i in items] == ["a", "b"]
    assert rv == "9"
    assert items[0]["kind"] == "ConfigMap" and items[0]["apiVersion"] == "v1"


def test_list_restarts_without_pagination_when_continue_expires(server):
    def handler(req):
        if "continue" in req.query:
            send_json(req, 410, {"kind": "Status", "reason": "Expired", "code": 410, "message": "too old"})
        elif "limit" in req.query:
            send_json(req, 200, {"kind": "ConfigMapList", "metadata": {"continue": "t1", "resourceVersion": "1"},
                                 "items": [{"metadata": {"name": "a"}}]})
        else:
            send_json(req, 200, {"kind": "ConfigMapList", "metadata": {"resourceVersion": "5"},
                                 "items": [{"metadata": {"name": "a"}}, {"metadata": {"name": "b"}}]})

    server.routes[("GET", "/api/v1/configmaps")] = handler
    items, rv = server.client().list(CM)
    assert [i["metadata"]["name"] for i in items] == ["a", "b"]
    assert rv == "5"


def test_watch_decodes_events_split_across_chunks(server):
    events = [{"type": "ADDED", "object": {"metadata": {"name": f"o{i}"}}} for i in range(3)]
    wire = b"".join(json.dumps(e).encode() + b"\n" for e in events)

    def handler(req):
        start_chunked(req)
        for i in range(0, len(wire), 7):
            write_chunk(req, wire[i:i + 7])
        end_chunks(req)

    server.routes[("GET", "/api/v1/configmaps")] = handler
    with server.client().watch("/api/v1/configmaps", {"resourceVersion": "1"}, timeout=5) as stream:
        assert list(stream) == events
    assert server.requests[-1][2]["watch"] == "true"


def test_stalled_watch_raises_watch_stalled(server):
    release = threading.Event()

    def handler(req):
        start_chunked(req)
        write_chunk(req, b'{"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "3"}}}\n')
        release.wait(5)  # a connection that stays open but sends nothing

    server.routes[("GET", "/api/v1/configmaps")] = handler
    stream = server.client().watch("/api/v1/configmaps", {}, timeout=0.2)
    seen = []
    with pytest.raises(WatchStalled):
        for event in stream:
            seen.append(event["type"])
    stream.close()
    release.set()
    assert seen == ["BOOKMARK"]


def test_connection_refused_is_api_error_status_zero():
    kube = KubeClient(ClusterAccess(server="http://127.0.0.1:1"))
    with pytest.raises(ApiError) as err:
        kube.get(CM, "a", "ns")
    assert err.value.status == 0 and err.value.reason == "ConnectionError"
