from orkestra.gvk import GVR
from orkestra.kube.discovery import Discovery
from orkestra.kube.errors import ApiError

APPS = {"resources": [
    {"name": "deployments", "kind": "Deployment", "namespaced": True},
    {"name": "deployments/status", "kind": "Deployment", "namespaced": True},
    {"name": "deployments/scale", "kind": "Scale", "namespaced": True},
]}


class ScriptedKube:
    def __init__(self, answers):
        self.answers = answers
        self.calls = []

    def request(self, method, path, *args, **kw):
        self.calls.append(path)
        answer = self.answers.get(path)
        if answer is None:
            raise ApiError(status=404, reason="NotFound", message="", verb="get", resource=path)
        return answer


def test_resolve_scope_and_status():
    kube = ScriptedKube({"/apis/apps/v1": APPS})
    d = Discovery(kube)
    assert d.resolve("apps/v1", "Deployment") == (GVR("apps", "v1", "deployments"), True)
    assert d.has_status(GVR("apps", "v1", "deployments")) is True
    assert d.resolve("apps/v1", "Scale") is None, "subresource kinds are not top-level kinds"
    assert kube.calls.count("/apis/apps/v1") == 2, "the cache answers hits; the Scale miss refreshed once"


def test_miss_refreshes_and_finds_a_new_kind():
    kube = ScriptedKube({})
    d = Discovery(kube)
    assert d.resolve("demo.io/v1", "Site") is None
    assert d.served(GVR("demo.io", "v1", "sites")) is False
    kube.answers["/apis/demo.io/v1"] = {"resources": [{"name": "sites", "kind": "Site", "namespaced": False}]}
    assert d.resolve("demo.io/v1", "Site") == (GVR("demo.io", "v1", "sites"), False)
    assert d.has_status(GVR("demo.io", "v1", "sites")) is False


def test_served_refresh_sees_a_deleted_kind():
    kube = ScriptedKube({"/api/v1": {"resources": [{"name": "pods", "kind": "Pod", "namespaced": True}]}})
    d = Discovery(kube)
    assert d.served(GVR("", "v1", "pods"))
    kube.answers["/api/v1"] = {"resources": []}
    assert d.served(GVR("", "v1", "pods")) is True, "a cached yes is not re-checked"
    assert d.served(GVR("", "v1", "pods"), refresh=True) is False
