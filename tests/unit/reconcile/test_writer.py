"""ChildWriter decisions against a recording stand-in for KubeClient (the wire itself is e2e-tested)."""
from orkestra.gvk import GVR
from orkestra.kube.errors import ApiError
from orkestra.reconcile.prune import PrunePlan, identity
from orkestra.reconcile.render import DesiredChild
from orkestra.reconcile.writer import ChildWriter
from tests.unit.reconcile.api_double import ApiDouble

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

    def delete(self, gvr, name, namespace=None, preconditions=None):
        self.calls.append(("delete", name))
        return True


def child(name="c", mode="apply", data="1", template="onReconcile.configMaps.0", label_tracked=False):
    manifest = {"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": name, "namespace": "ns", "labels": {"orkestra.io/template": template,
                                                                        "orkestra.io/owner-uid": "u"}},
                "data": {"k": data}}
    return DesiredChild(template_id=template, type="configMaps", gvr=CM, kind="ConfigMap", namespaced=True,
                        name=name, namespace="ns", manifest=manifest, mode=mode, label_tracked=label_tracked)


def existing(name, *, owners=(), labels=None):
    """A live ConfigMap as the API server returns it: `owners` are (uid, controller) pairs."""
    refs = [{"kind": "Website", "name": f"cr-{uid}", "uid": uid, "controller": c} for uid, c in owners]
    meta = {"name": name, "namespace": "ns", "resourceVersion": "7"}
    if refs:
        meta["ownerReferences"] = refs
    if labels:
        meta["labels"] = labels
    return {"kind": "ConfigMap", "metadata": meta}


OURS = ("u", True)


def test_apply_reports_created_then_skips_a_proven_no_op():
    kube, applied = RecordingKube(), {}
    w = ChildWriter(kube, force=True, cached_children=[], applied=applied)
    live = w.write(child())
    # Not cached: read first (is it another owner's?), then apply.
    assert w.changes == [("created", "ConfigMap ns/c")] and kube.calls == [("get", "c"), ("apply", "c", True)]
    # Next reconcile: the cache caught up with our own apply, the manifest is unchanged -> no call.
    w2 = ChildWriter(kube, force=True, cached_children=[live], applied=applied)
    assert w2.write(child()) == live
    assert kube.calls == [("get", "c"), ("apply", "c", True)] and w2.changes == []
    assert w2.children()["configmap"] == live


def test_the_ownership_read_of_a_lagging_cache_also_proves_a_no_op():
    """Issue 15: the child left the cache (the informer lags), so it is read to check the owner;
    that read shows the version our own apply returned, so the apply is skipped too."""
    kube, applied = RecordingKube(), {}
    live = ChildWriter(kube, force=True, cached_children=[], applied=applied).write(child())
    kube.existing["c"] = {**live, "metadata": {**live["metadata"], "ownerReferences": [
        {"kind": "Website", "name": "cr-u", "uid": "u", "controller": True}]}}
    kube.calls.clear()
    w = ChildWriter(kube, force=True, cached_children=[], applied=applied)
    assert w.write(child()) is not None
    assert kube.calls == [("get", "c")] and w.changes == []


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
    kube = RecordingKube(existing={"there": existing("there", owners=[OURS])})
    w = ChildWriter(kube, force=True, cached_children=[])
    assert w.write(child("there", mode="create")) == kube.existing["there"]
    assert kube.calls == [("get", "there")] and w.changes == [] and w.failures == []
    w.write(child("new", mode="create"))
    assert kube.calls[-1] == ("create", "new") and w.changes == [("created", "ConfigMap ns/new")]
    racing = RecordingKube(fail={"create": 409})
    w = ChildWriter(racing, force=True, cached_children=[])
    w.write(child("raced", mode="create"))
    assert w.failures == [] and racing.calls == [("get", "raced"), ("create", "raced"), ("get", "raced")]


def test_failures_are_collected_not_raised():
    w = ChildWriter(RecordingKube(fail={"apply": 403}), force=True, cached_children=[])
    assert w.write(child("a")) is None and w.write(child("b")) is None
    assert w.failures == [("ConfigMap ns/a", "403 X: apply failed"), ("ConfigMap ns/b", "403 X: apply failed")]
    w = ChildWriter(RecordingKube(fail={"apply": 422}), force=True, cached_children=[])
    w.write(child("c"))
    assert w.failures == [("ConfigMap ns/c", "apply failed")], "only a denial keeps its status"


def _cached(name, template="onReconcile.configMaps.0", uid="u"):
    return {"kind": "ConfigMap", "metadata": {"name": name, "namespace": "ns",
                                              "labels": {"orkestra.io/template": template, "orkestra.io/owner-uid": uid,
                                                         "orkestra.io/crd": "website"}}}


def _plan(desired, entries, declared):
    return PrunePlan(owner_uid="u", crd_key="website", desired_ids=frozenset(desired), entry_ids=frozenset(entries),
                     declared=frozenset(identity(c.kind, c.namespace, c.name) for c in declared))


def test_prune_deletes_only_the_candidates_the_plan_prunes():
    kube = RecordingKube()
    w = ChildWriter(kube, force=True, cached_children=[])
    candidates = [(CM, _cached("keep")), (CM, _cached("stale")), (CM, _cached("other", "x.y.1")),
                  (CM, _cached("foreign", uid="v"))]
    w.prune(_plan({"onReconcile.configMaps.0"}, {"onReconcile.configMaps.0"}, [child("keep")]), candidates)
    assert kube.calls == [("delete", "stale")] and w.changes == [("deleted", "ConfigMap ns/stale")]


def test_prune_spares_a_child_that_another_entry_declared_in_this_reconcile():
    """Issue 9 item 2: `site-data` was made by entry 0; after an insert above it, entry 1 declares it."""
    kube = RecordingKube()
    w = ChildWriter(kube, force=True, cached_children=[])
    ids = {"onReconcile.configMaps.0", "onReconcile.configMaps.1"}
    w.prune(_plan(ids, ids, [child("wal"), child("data")]), [(CM, _cached("data", "onReconcile.configMaps.0"))])
    assert kube.calls == [] and w.changes == []


def test_prune_never_deletes_an_object_that_replaced_the_cached_child():
    """A stale cache still shows the pruned child; the object under that name now is a user's."""
    api = ApiDouble()
    users = api.seed(CM, {"kind": "ConfigMap", "metadata": {"name": "stale", "namespace": "ns"}})
    cached = _cached("stale")
    cached["metadata"]["uid"] = "uid-of-the-child-orkestra-made"
    w = ChildWriter(api, force=True, cached_children=[])
    w.prune(_plan({"onReconcile.configMaps.0"}, {"onReconcile.configMaps.0"}, []), [(CM, cached)])
    assert api.object(CM, "stale", "ns")["metadata"]["uid"] == users["metadata"]["uid"]
    assert w.failures == [] and w.changes == []


def test_a_child_controlled_by_another_owner_is_never_written():
    """Issue 9 item 23: two CRs rendering one name; the second one reports, never flips ownership."""
    theirs = {"kind": "ConfigMap", "metadata": {"name": "shared", "namespace": "ns", "ownerReferences": [
        {"kind": "Website", "name": "a", "uid": "other", "controller": True}]}}
    tracked = {"kind": "ConfigMap", "metadata": {"name": "tracked", "namespace": "ns",
                                                 "labels": {"orkestra.io/owner-uid": "other"}}}
    plain = {"kind": "ConfigMap", "metadata": {"name": "plain", "namespace": "ns", "ownerReferences": [
        {"kind": "ReplicaSet", "name": "x", "uid": "rs", "controller": False}]}}
    kube = RecordingKube(existing={"shared": theirs, "tracked": tracked, "plain": plain})
    w = ChildWriter(kube, force=True, cached_children=[])
    assert w.write(child("shared")) is None and w.write(child("tracked")) is None
    assert [c for c in kube.calls if c[0] == "apply"] == []
    assert w.failures == [("ConfigMap ns/shared", "already controlled by Website a (uid other); not taken over"),
                          ("ConfigMap ns/tracked", "already controlled by the owner with uid other; not taken over")]
    assert [c.ref for c in w.conflicts] == ["ConfigMap ns/shared", "ConfigMap ns/tracked"]
    assert w.write(child("plain")) is None and [c for c in kube.calls if c[0] == "apply"] == []


NOT_OURS = ("exists but was not created by Orkestra for this CR (it has no controller ownerReference naming "
            "the CR); Orkestra never adopts an object it did not create: rename the template's object or remove "
            "the existing one; not taken over")


def test_an_object_nobody_owns_is_never_adopted_by_apply_or_create():
    """A user's own ConfigMap with the rendered name: neither the apply nor the create-only path takes it."""
    kube = RecordingKube(existing={
        "users": existing("users", labels={"team": "a"}),
        "plain": existing("plain", owners=[("rs", False)]),
        "labelled": existing("labelled", labels={"orkestra.io/owner-uid": "u"})})
    w = ChildWriter(kube, force=True, cached_children=[])
    for name in ("users", "plain", "labelled"):
        assert w.write(child(name)) is None
    assert w.write(child("users", mode="create")) is None
    assert [c for c in kube.calls if c[0] != "get"] == []
    assert w.failures == [("ConfigMap ns/users", NOT_OURS), ("ConfigMap ns/plain", NOT_OURS),
                          ("ConfigMap ns/labelled", NOT_OURS), ("ConfigMap ns/users", NOT_OURS)]
    assert [c.ref for c in w.conflicts] == ["ConfigMap ns/users", "ConfigMap ns/plain", "ConfigMap ns/labelled",
                                            "ConfigMap ns/users"]
    assert w.produced == [] and w.changes == []


def test_an_uncached_object_this_cr_controls_is_written():
    """The cache lags behind an earlier apply: the live object names this CR, so it is ours."""
    kube = RecordingKube(existing={"mine": existing("mine", owners=[("other", False), OURS])})
    w = ChildWriter(kube, force=True, cached_children=[])
    assert w.write(child("mine")) is not None and kube.calls == [("get", "mine"), ("apply", "mine", True)]
    assert w.write(child("mine", mode="create")) == kube.existing["mine"] and w.failures == []


def test_a_label_tracked_child_is_ours_only_with_our_owner_uid_label():
    kube = RecordingKube(existing={"tracked": existing("tracked", labels={"orkestra.io/owner-uid": "u"}),
                                   "bare": existing("bare")})
    w = ChildWriter(kube, force=True, cached_children=[])
    assert w.write(child("tracked", label_tracked=True)) is not None
    assert w.write(child("bare", label_tracked=True)) is None
    assert [c for c in kube.calls if c[0] == "apply"] == [("apply", "tracked", True)]
    assert w.failures[0][1].startswith("exists but was not created by Orkestra for this CR (it has no "
                                       "orkestra.io/owner-uid label naming the CR)")


def test_a_create_that_lost_a_race_never_takes_the_object_that_appeared():
    """AlreadyExists on a create-only child: the object someone else made meanwhile is read, not adopted."""
    class Racing(RecordingKube):
        def get(self, gvr, name, namespace=None):
            self.calls.append(("get", name))
            return existing(name) if [c for c in self.calls if c[0] == "create"] else None

    kube = Racing(fail={"create": 409})
    w = ChildWriter(kube, force=True, cached_children=[])
    assert w.write(child("job", mode="create")) is None
    assert kube.calls == [("get", "job"), ("create", "job"), ("get", "job")]
    assert w.failures == [("ConfigMap ns/job", NOT_OURS)] and w.produced == []


def test_a_cached_child_is_trusted_unless_another_controller_has_it():
    """Found through this CR's owner index: ours, even when a user removed its ownerReference (SSA restores it)."""
    kube = RecordingKube()
    cached = existing("c", labels={"orkestra.io/owner-uid": "u"})
    w = ChildWriter(kube, force=True, cached_children=[cached])
    assert w.write(child("c")) is not None and kube.calls == [("apply", "c", True)]


def test_a_create_only_child_found_by_name_that_is_not_ours_is_refused_not_taken():
    """Issue 9 item 3: an object found under the child's name that another owner made is never
    taken as the child (it would be counted in `.children` and waited on)."""
    ours = {"kind": "ConfigMap", "metadata": {"name": "ours", "namespace": "ns",
                                              "ownerReferences": [{"uid": "u", "controller": True}],
                                              "labels": {"orkestra.io/owner-uid": "u"}}}
    users = {"kind": "ConfigMap", "metadata": {"name": "users", "namespace": "ns"}}
    kube = RecordingKube(existing={"ours": ours, "users": users})
    w = ChildWriter(kube, force=True, cached_children=[])
    assert w.write(child("users", mode="create")) is None
    [(ref, reason)] = w.failures
    assert ref == "ConfigMap ns/users" and "never adopts an object it did not create" in reason
    assert w.write(child("ours", mode="create")) is ours
    assert [o["metadata"]["name"] for o in w.produced] == ["ours"]
    assert ("create", "users") not in kube.calls
