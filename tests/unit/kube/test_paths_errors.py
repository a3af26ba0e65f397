import pytest

from orkestra.gvk import GVR
from orkestra.kube.client import retry_after_seconds
from orkestra.kube.errors import ApiError, failure_reason
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


def test_failure_reason_keeps_the_status_of_a_denial_and_names_a_missing_finalizers_rule():
    owner = GVR("demo.io", "v1", "websites")
    conflict = ApiError(status=409, reason="Conflict", message="the object has been modified", verb="put",
                        resource="deployments")
    assert failure_reason(conflict, owner=owner) == "the object has been modified"
    denied = ApiError(status=403, reason="Forbidden", verb="post", resource="deployments",
                      message='deployments.apps is forbidden: User "sa" cannot create resource "deployments"')
    assert failure_reason(denied, owner=owner) == \
        '403 Forbidden: deployments.apps is forbidden: User "sa" cannot create resource "deployments"'
    block = ApiError(status=403, reason="Forbidden", verb="post", resource="deployments",
                     message='deployments.apps "web" is forbidden: cannot set blockOwnerDeletion if an '
                             "ownerReference refers to a resource you can't set finalizers on: , <nil>")
    assert failure_reason(block, owner=owner).endswith(
        '(cannot update resource "websites/finalizers" in API group "demo.io")')
    assert "cannot update resource" not in failure_reason(block), "no owner: nothing is guessed"
    unmapped = ApiError(status=403, reason="Forbidden", verb="post", resource="deployments",
                        message="deployments.apps \"web\" is forbidden: cannot set blockOwnerDeletion in this case "
                                "because cannot find RESTMapping for APIVersion demo.io/v1 Kind Website")
    assert "cannot update resource" not in failure_reason(unmapped, owner=owner), "no permission is missing"
