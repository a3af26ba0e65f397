"""ChildWriter decisions against a recording stand-in for KubeClient (the wire itself is e2e-tested)."""
from orkestra.gvk import GVR
from orkestra.kube.errors import ApiError
from orkestra.reconcile.render import DesiredChild
from orkestra.reconcile.writer import ChildWriter

CM = GVR("", "v1", "configmaps")


class RecordingKube:
    def __init__(self, existing=None, fail=None):
        self.calls = []
        self.rv = 100
        self.existing = existing or {}
        self.fail = fail or {}

    def _err(self, verb, status):
        return ApiError(status=status, reason="X", message=f"{verb} failed", verb=verb, resource="configmaps")

    def apply(self, gvr, obj, namespace=None, force=True):
        self.calls.append(("apply", obj["metadata"]["name"], force))
        if "apply" in self.fail:
            raise self._err("apply", self.fail["apply"])
        self.rv += 1
        return {**obj, "metadata": {**obj["metadata"], "resourceVersion": str(self.rv)}}

    def get(self, gvr, name, namespace=None):
        self.calls.append(("get", name))
        return self.existing.get(name)

    def create(self, gvr, obj, namespace=None):
        self.calls.append(("create", obj["metadata"]["name"]))
        if "create" in self.fail:
            raise self._err("create", self.fail["create"])
        return {**obj, "metadata": {**obj["metadata"], "resourceVersion": "1"}}

    def delete(self, gvr, name, namespace=None):
        self.calls.append(("delete", name))
        return True


def child(name="c", mode="apply", data="1", template="onReconcile.configMaps.0"):
    manifest = {"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": name, "namespace": "ns", "labels": {"orkestra.io/template": template,
                                                                        "orkestra.io/owner-uid": "u"}},
                "data": {"k": data}}
    return DesiredChild(template_id=template, type="configMaps", gvr=CM, kind="ConfigMap", namespaced=True,
                        name=name, namespace="ns", manifest=manifest, mode=mode, label_tracked=False)


def test_apply_reports_created_then_skips_a_proven_no_op():
    kube, applied = RecordingKube(), {}
    w = ChildWriter(kube, force=True, cached_children=[], applied=applied)
    live = w.write(child())
    assert w.changes == [("created", "ConfigMap ns/c")] and kube.calls == [("apply", "c", True)]
    # Next reconcile: the cache caught up with our own apply, the manifest is unchanged -> no call.
    w2 = ChildWriter(kube, force=True, cached_children=[live], applied=applied)
    assert w2.write(child()) == live
    assert kube.calls == [("apply", "c", True)] and w2.changes == []
    assert w2.children()["configmap"] == live


def test_an_uncached_existing_object_is_not_reported_as_created():
    class Existing(RecordingKube):
        def apply(self, gvr, obj, namespace=None, force=True):
            live = super().apply(gvr, obj, namespace, force)
            live["metadata"].update(creationTimestamp="2026-01-01T00:00:00Z", managedFields=[
                {"manager": "kubectl", "operation": "Update", "time": "2026-01-01T00:00:00Z"},
                {"manager": "orkestra", "operation": "Apply", "time": "2026-01-02T00:00:00Z"}])
            return live

    w = ChildWriter(Existing(), force=True, cached_children=[])
    assert w.write(child()) is not None and w.changes == []
    fresh = RecordingKube()
    fresh.apply = lambda gvr, obj, namespace=None, force=True: {**obj, "metadata": {
        **obj["metadata"], "resourceVersion": "5", "creationTimestamp": "2026-01-03T00:00:00Z",
        "managedFields": [{"manager": "orkestra", "operation": "Apply", "time": "2026-01-03T00:00:00Z"}]}}
    w = ChildWriter(fresh, force=True, cached_children=[])
    w.write(child())
    assert w.changes == [("created", "ConfigMap ns/c")]


def test_apply_again_when_the_child_or_the_manifest_changed():
    kube, applied = RecordingKube(), {}
    live = ChildWriter(kube, force=False, cached_children=[], applied=applied).write(child())
    edited = {**live, "metadata": {**live["metadata"], "resourceVersion": "999"}}
    w = ChildWriter(kube, force=False, cached_children=[edited], applied=applied)
    w.write(child())
    assert kube.calls[-1] == ("apply", "c", False) and w.changes == [("updated", "ConfigMap ns/c")]
    w.write(child(data="2"))
    assert len([c for c in kube.calls if c[0] == "apply"]) == 3


def test_create_only_checks_existence_and_tolerates_already_exists():
    kube = RecordingKube(existing={"there": {"kind": "ConfigMap", "metadata": {"name": "there", "namespace": "ns"}}})
    w = ChildWriter(kube, force=True, cached_children=[])
    w.write(child("there", mode="create"))
    assert kube.calls == [("get", "there")] and w.changes == []
    w.write(child("new", mode="create"))
    assert kube.calls[-1] == ("create", "new") and w.changes == [("created", "ConfigMap ns/new")]
    racing = RecordingKube(fail={"create": 409})
    w = ChildWriter(racing, force=True, cached_children=[])
    w.write(child("raced", mode="create"))
    assert w.failures == [] and racing.calls == [("get", "raced"), ("create", "raced"), ("get", "raced")]


def test_failures_are_collected_not_raised():
    w = ChildWriter(RecordingKube(fail={"apply": 403}), force=True, cached_children=[])
    assert w.write(child("a")) is None and w.write(child("b")) is None
    assert w.failures == [("ConfigMap ns/a", "apply failed"), ("ConfigMap ns/b", "apply failed")]


def test_prune_deletes_only_stale_children_of_the_template():
    def cached(name, template="onReconcile.configMaps.0", uid="u"):
        return {"kind": "ConfigMap", "metadata": {"name": name, "namespace": "ns",
                                                  "labels": {"orkestra.io/template": template,
                                                             "orkestra.io/owner-uid": uid}}}
    kube = RecordingKube()
    w = ChildWriter(kube, force=True, cached_children=[cached("keep"), cached("stale"), cached("other", "x.y.1"),
                                                         cached("foreign", uid="v")])
    w.prune("onReconcile.configMaps.0", "u", [child("keep")], CM, "ConfigMap")
    assert kube.calls == [("delete", "stale")] and w.changes == [("deleted", "ConfigMap ns/stale")]


def test_a_create_only_child_found_by_name_that_is_not_ours_is_refused_not_taken():
    """Issue 9 item 3: an object found under the child's name that another owner made is never
    taken as the child (it would be counted in `.children` and waited on)."""
    ours = {"kind": "ConfigMap", "metadata": {"name": "ours", "namespace": "ns",
                                              "labels": {"orkestra.io/owner-uid": "u"}}}
    users = {"kind": "ConfigMap", "metadata": {"name": "users", "namespace": "ns"}}
    kube = RecordingKube(existing={"ours": ours, "users": users})
    w = ChildWriter(kube, force=True, cached_children=[])
    assert w.write(child("users", mode="create")) is None
    assert w.failures == [("ConfigMap ns/users", "exists and was not made by this entry for this CR; "
                                                 "Orkestra does not take it over")]
    assert w.write(child("ours", mode="create")) is ours
    assert [o["metadata"]["name"] for o in w.produced] == ["ours"]
    assert ("create", "users") not in kube.calls
