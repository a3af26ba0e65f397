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


def test_after_a_stalled_watch_requests_use_fresh_connections(server):
    """Idle pooled connections probably share the dead path of a stalled watch: each would cost a
    request its whole 30 s read timeout (found by tests/e2e/test_faults_watch.py)."""
    ports = []
    held_in, release_held, release_watch = threading.Event(), threading.Event(), threading.Event()

    def get(req):
        ports.append(req.client_address[1])
        if req.headers.get("X-Hold"):    # keep this one busy so the other opens or takes another connection
            held_in.set()
            release_held.wait(5)
        send_json(req, 200, {"metadata": {"name": "a"}})

    def stall(req):
        start_chunked(req)
        release_watch.wait(5)

    def two_at_once(kube):
        held_in.clear()
        release_held.clear()
        held = threading.Thread(target=lambda: kube._pool.request(
            "GET", kube.server + "/api/v1/namespaces/ns/configmaps/a", headers={"X-Hold": "1"}))
        held.start()
        assert held_in.wait(5)
        kube.get(CM, "a", "ns")
        release_held.set()
        held.join(5)

    server.routes[("GET", "/api/v1/namespaces/ns/configmaps/a")] = get
    server.routes[("GET", "/api/v1/configmaps")] = stall
    kube = server.client()                          # its pool keeps idle connections, as in production
    two_at_once(kube)
    before = set(ports)
    assert len(before) == 2, "two idle connections in the pool"
    with pytest.raises(WatchStalled):
        list(kube.watch("/api/v1/configmaps", {}, timeout=0.2))   # takes one of them
    release_watch.set()
    two_at_once(kube)
    assert not set(ports[2:]) & before, "an idle connection from before the stall was reused"


def test_a_stall_closes_the_idle_connections_it_retires_and_lets_a_request_in_flight_finish(server):
    """The pool a stall retires must not keep its idle sockets open for the life of the process,
    and closing it must not break a request that is still using one of its connections."""
    entered, release = threading.Event(), threading.Event()

    def slow(req):
        entered.set()
        release.wait(5)
        send_json(req, 200, {"metadata": {"name": "slow"}})

    server.routes[("GET", "/api/v1/namespaces/ns/configmaps/slow")] = slow
    server.routes[("GET", "/api/v1/configmaps")] = lambda req: (start_chunked(req), release.wait(5))
    kube = server.client()
    retired = kube._pool
    answers = []
    in_flight = threading.Thread(target=lambda: answers.append(kube.get(CM, "slow", "ns")))
    in_flight.start()
    assert entered.wait(5)
    with pytest.raises(WatchStalled):
        list(kube.watch("/api/v1/configmaps", {}, timeout=0.2))
    assert kube._pool is not retired and len(retired.pools) == 0, "the retired pool was closed"
    release.set()
    in_flight.join(5)
    assert answers == [{"metadata": {"name": "slow"}}]


def test_two_watches_stalling_at_once_close_every_retired_pool_once(server, monkeypatch):
    """Concurrent stalls must not both retire the same pool and drop the other's new one unclosed."""

    class Pool:
        def __init__(self):
            self.cleared = 0

        def clear(self):
            self.cleared += 1

    kube = server.client()
    first = kube._current_pool = Pool()
    threads = [threading.Thread(target=kube._renew_connections) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert first.cleared == 1, "the retired pool is closed exactly once"
    assert kube._current_pool is None          # the next request builds a fresh one


def test_a_request_timeout_bounds_its_429_retries(server):
    """A leader's Lease renewal gets what is left of RENEW_DEADLINE as its timeout; a 429 must not
    stretch it by sleeping for Retry-After (up to 30 s, ten times)."""
    server.routes[("GET", "/api/v1/namespaces/ns/configmaps/a")] = lambda req: send_json(
        req, 429, {"kind": "Status", "code": 429}, {"Retry-After": "3"})
    slept = []
    kube = server.client(sleep=slept.append)
    with pytest.raises(ApiError) as err:
        kube.request("GET", "/api/v1/namespaces/ns/configmaps/a", timeout=2)
    assert err.value.status == 429 and slept == [], "a wait that does not fit the timeout is not slept"
    calls = []

    def once(req):
        calls.append(1)
        if len(calls) == 1:
            send_json(req, 429, {"kind": "Status", "code": 429}, {"Retry-After": "0"})
        else:
            send_json(req, 200, {"metadata": {"name": "a"}})

    server.routes[("GET", "/api/v1/namespaces/ns/configmaps/a")] = once
    assert kube.request("GET", "/api/v1/namespaces/ns/configmaps/a", timeout=2) == {"metadata": {"name": "a"}}
    assert slept == [0.0], "a wait that fits is still retried"


def test_connection_refused_is_api_error_status_zero():
    kube = KubeClient(ClusterAccess(server="http://127.0.0.1:1"))
    with pytest.raises(ApiError) as err:
        kube.get(CM, "a", "ns")
    assert err.value.status == 0 and err.value.reason == "ConnectionError"
