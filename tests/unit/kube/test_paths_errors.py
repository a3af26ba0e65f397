import pytest

from orkestra.gvk import GVR
from orkestra.kube.client import retry_after_seconds
from orkestra.kube.errors import ApiError
from orkestra.kube.paths import describe, resource_path


@pytest.mark.parametrize("gvr, ns, name, sub, expected", [
    (GVR("", "v1", "pods"), None, None, None, "/api/v1/pods"),
    (GVR("", "v1", "pods"), "ns", "p", None, "/api/v1/namespaces/ns/pods/p"),
    (GVR("apps", "v1", "deployments"), "ns", None, None, "/apis/apps/v1/namespaces/ns/deployments"),
    (GVR("demo.io", "v1", "sites"), "ns", "a", "status", "/apis/demo.io/v1/namespaces/ns/sites/a/status"),
    (GVR("", "v1", "namespaces"), None, "kube-system", None, "/api/v1/namespaces/kube-system"),
])
def test_resource_path(gvr, ns, name, sub, expected):
    assert resource_path(gvr, ns, name, sub) == expected


def test_empty_name_is_refused():
    with pytest.raises(ValueError, match="empty object name"):
        resource_path(GVR("", "v1", "pods"), "ns", "")


def test_describe():
    assert describe(GVR("apps", "v1", "deployments"), "ns", "web") == 'deployments.apps "web" in namespace "ns"'
    assert describe(GVR("", "v1", "nodes")) == "nodes"


@pytest.mark.parametrize("header, expected", [(None, 1.0), ("3", 3.0), ("999", 30.0), ("soon", 1.0), ("-4", 0.0)])
def test_retry_after_seconds(header, expected):
    assert retry_after_seconds(header) == expected


def test_api_error_from_non_json_body():
    err = ApiError.from_response(status=503, data=b"<html>down</html>", verb="get", resource="pods")
    assert err.reason == "ServiceUnavailable"
    assert err.message == "<html>down</html>"
    assert str(err) == "get pods: 503 ServiceUnavailable: <html>down</html>"
