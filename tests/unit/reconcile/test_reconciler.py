"""`DeclarativeReconciler` render/apply/prune/status paths, driven against `ApiDouble`.

`DoubleRuntime` plays the operator box: its "informer cache" is a snapshot of the double taken
by `sync()` (so a test can show a stale cache, and the reconciler is handed the very dict the
cache holds), children are the double's objects that carry the CR's owner-uid label or
ownerReference, and Events are recorded in a list.
"""
from __future__ import annotations

import copy
import threading
from datetime import datetime, timezone

import pytest

from orkestra.kube.errors import ApiError
from orkestra.gvk import GVR
from orkestra.katalog.builtins import BUILTINS
from orkestra.reconcile import reconciler as reconciler_module
from orkestra.reconcile import status as status_module
from orkestra.reconcile.errors import ApplyFailed, RenderError
from orkestra.reconcile.reconciler import DeclarativeReconciler
from tests.unit.reconcile.api_double import ApiDouble
from tests.unit.reconcile.factory import make_entry, make_katalog

WEBSITES = GVR("demo.orkestra.io", "v1alpha1", "websites")
CONFIGMAPS = GVR("", "v1", "configmaps")
SECRETS = GVR("", "v1", "secrets")
PVCS = GVR("", "v1", "persistentvolumeclaims")
DEPLOYMENTS = GVR("apps", "v1", "deployments")
NOW = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)


class Discovery:
    def resolve(self, api_version: str, kind: str):
        if kind == "Website":
            return WEBSITES, True
        found = BUILTINS.get(kind)
        return (GVR(found.group, found.version, found.plural), found.namespaced) if found else None

    def has_status(self, gvr: GVR) -> bool:
        return True


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []
        self.failure: Exception | None = None     # what every write returns (None: written)

    def event(self, obj: dict, type_: str, reason: str, message: str, *, crd: str = "",
              on_written=None) -> None:
        self.events.append((type_, reason, message))
        if on_written is not None:
            on_written(self.failure)

    def reasons(self) -> list[str]:
        return [e[1] for e in self.events]


class DoubleRuntime:
    """A `ReconcileRuntime` over `ApiDouble`; the cache is refreshed only by `sync()`."""

    def __init__(self, api: ApiDouble, katalog) -> None:
        self.kube = api
        self.discovery = Discovery()
        self.recorder = Recorder()
        self.identity = "unit"
        self.katalog = katalog
        self.cache: dict[str, dict] = {}
        self.warnings: dict[str, list] = {}

    def sync(self) -> None:
        self.cache = {f"{o['metadata']['namespace']}/{o['metadata']['name']}": o
                      for o in self.kube.objects(WEBSITES)}

    def cached(self, key: str) -> dict | None:
        return self.cache.get(key)

    def cached_all(self) -> list[dict]:
        return list(self.cache.values())

    def children(self, owner_uid: str) -> list[dict]:
        def owned(obj: dict) -> bool:
            meta = obj["metadata"]
            return ((meta.get("labels") or {}).get("orkestra.io/owner-uid") == owner_uid
                    or any(r.get("uid") == owner_uid for r in meta.get("ownerReferences") or ()))
        return [o for o in self.kube.objects() if o.get("kind") != "Website" and owned(o)]

    def child_informer_gvrs(self) -> list[GVR]:
        return []

    def set_warnings(self, key: str, source: str, warnings: list[dict]) -> None:
        self.warnings[key] = warnings


class Setup:
    """One CRD entry's reconciler plus the double and runtime behind it."""

    def __init__(self, api: ApiDouble | None = None, **entry_kw) -> None:
        self.api = api or ApiDouble(clock=lambda: NOW)
        self.entry = make_entry(**entry_kw)
        self.runtime = DoubleRuntime(self.api, make_katalog(self.entry))
        self.rec = DeclarativeReconciler(self.entry, katalog=self.runtime.katalog, runtime=self.runtime,
                                         clock=lambda: NOW)

    def with_katalog(self, **entry_kw) -> "Setup":
        """The same cluster under an edited Katalog (a new reconciler, as after a reload)."""
        return Setup(self.api, **entry_kw)

    def create(self, name: str = "site", spec: dict | None = None, **meta) -> dict:
        return self.api.seed(WEBSITES, {"apiVersion": "demo.orkestra.io/v1alpha1", "kind": "Website",
                                        "metadata": {"name": name, "namespace": "default", **meta},
                                        "spec": spec or {}})

    def reconcile(self, name: str = "site"):
        self.runtime.sync()
        return self.rec.reconcile(f"default/{name}", threading.Event())

    def settle(self, name: str = "site", times: int = 3) -> None:
        """Reconcile until the CR's own writes (finalizer, labels, status) have been seen."""
        for _ in range(times):
            self.reconcile(name)


def verbs(calls) -> list[tuple[str, str | None]]:
    return [(c.verb, c.name) for c in calls]


# --- item 2: prune once, after every entry ----------------------------------------------------------
DATA = {"name": "{{ .metadata.name }}-data", "storage": "1Gi"}
WAL = {"name": "{{ .metadata.name }}-wal", "storage": "1Gi"}


def test_inserting_an_entry_above_another_never_deletes_the_existing_child():
    v1 = Setup(templates={"onReconcile": {"persistentVolumeClaims": [DATA]}})
    v1.create()
    v1.settle()
    uid = v1.api.object(PVCS, "site-data", "default")["metadata"]["uid"]
    v2 = v1.with_katalog(templates={"onReconcile": {"persistentVolumeClaims": [WAL, DATA]}})
    v1.api.clear_calls()
    v2.reconcile()
    pvc_writes = [c for c in v2.api.writes if c.gvr == PVCS]
    assert verbs(pvc_writes) == [("apply", "site-wal"), ("apply", "site-data")]
    data = v2.api.object(PVCS, "site-data", "default")
    assert data["metadata"]["uid"] == uid
    assert data["metadata"]["labels"]["orkestra.io/template"] == "onReconcile.persistentVolumeClaims.1"


def test_a_child_no_entry_declares_any_more_is_still_pruned_once_at_the_end():
    s = Setup(templates={"onReconcile": {"configMaps": [
        {"forEach": {"field": "spec.regions"}, "name": "{{ .metadata.name }}-{{ .item }}", "data": {"r": "{{ .item }}"}},
        {"name": "{{ .metadata.name }}-fixed", "data": {"a": "b"}}]}})
    s.create(spec={"regions": ["eu", "us"]})
    s.settle()
    s.api.patch(WEBSITES, "site", {"spec": {"regions": ["us"]}}, "default")
    s.api.clear_calls()
    s.reconcile()
    assert verbs(c for c in s.api.writes if c.gvr == CONFIGMAPS) == [("delete", "site-eu")]
    assert s.api.object(CONFIGMAPS, "site-eu", "default") is None
    assert s.api.object(CONFIGMAPS, "site-fixed", "default") is not None
    assert "deleted ConfigMap default/site-eu" in s.runtime.recorder.events[-1][2]


# --- item 12: children of removed entries ------------------------------------------------------------
SERVICES = GVR("", "v1", "services")
CONFIG = {"name": "{{ .metadata.name }}-config", "data": {"a": "b"}}


def recorded(s: Setup) -> list[str]:
    annotations = s.api.object(WEBSITES, "site", "default")["metadata"].get("annotations") or {}
    return sorted((annotations.get("orkestra.io/child-resources") or "").split(","))


def test_the_record_of_a_kind_no_entry_writes_is_dropped_once_its_children_are_pruned():
    v1 = Setup(templates={"onReconcile": {"configMaps": [CONFIG], "services": [{"port": 80}]}})
    v1.create()
    v1.settle()
    assert recorded(v1) == ["v1/configmaps", "v1/services"]
    v2 = v1.with_katalog(templates={"onReconcile": {"services": [{"port": 80}]}})
    v2.reconcile()
    assert v2.api.object(CONFIGMAPS, "site-config", "default") is None
    assert recorded(v2) == ["v1/services"]
    v2.api.clear_calls()
    v2.reconcile()
    assert [c for c in v2.api.calls if c.gvr == CONFIGMAPS and c.verb == "list"] == []


def test_a_refused_list_of_a_recorded_kind_fails_the_reconcile_and_keeps_the_record():
    v1 = Setup(templates={"onReconcile": {"configMaps": [CONFIG], "services": [{"port": 80}]}})
    v1.create()
    v1.settle()
    v2 = v1.with_katalog(templates={"onReconcile": {"services": [{"port": 80}]}})
    v2.api.fail("list", CONFIGMAPS, status=403, message="configmaps is forbidden")
    with pytest.raises(ApplyFailed, match="configmaps of this CR: listing them to prune: configmaps is forbidden"):
        v2.reconcile()
    assert recorded(v2) == ["v1/configmaps", "v1/services"]
    v2.reconcile()
    assert recorded(v2) == ["v1/services"]


def test_an_entry_of_the_same_kind_that_also_selects_the_cr_never_prunes_the_other_entrys_children():
    """Overlapping selectors (or a CR that moved between entries): the other entry's children stay."""
    web = Setup(templates={"onReconcile": {"configMaps": [{"name": "{{ .metadata.name }}-a", "data": {"a": "b"}}]}})
    web.create()
    web.settle()
    gold = Setup(web.api, key="website-gold", templates={"onReconcile": {"configMaps": [
        {"name": "{{ .metadata.name }}-gold", "data": {"a": "b"}}], "services": [{"port": 80}]}})
    gold.settle()
    web.settle()
    assert web.api.object(CONFIGMAPS, "site-a", "default") is not None
    assert web.api.object(CONFIGMAPS, "site-gold", "default") is not None
    assert web.api.object(SERVICES, "site-svc", "default") is not None
    assert [c for c in web.api.writes if c.verb == "delete"] == []


# --- item 23: another controller's child --------------------------------------------------------------
def test_a_child_owned_by_another_cr_is_reported_and_never_written():
    s = Setup(templates={"onReconcile": {"configMaps": [{"name": "shared", "data": {"by": "{{ .metadata.name }}"}}]}})
    first = s.create("first")
    s.create("second")
    s.settle("first")
    s.api.clear_calls()
    with pytest.raises(ApplyFailed, match="ConfigMap default/shared: already controlled by Website first"):
        s.reconcile("second")
    with pytest.raises(ApplyFailed):
        s.reconcile("second")
    assert not s.api.touched(CONFIGMAPS, "shared", "default")
    live = s.api.object(CONFIGMAPS, "shared", "default")
    assert [r["uid"] for r in live["metadata"]["ownerReferences"]] == [first["metadata"]["uid"]]
    assert live["data"] == {"by": "first"}
    conflicts = [e for e in s.runtime.recorder.events if e[1] == "OwnerConflict"]
    assert len(conflicts) == 1 and conflicts[0][0] == "Warning"


# --- item 1: a copy onto its own source ----------------------------------------------------------------
def test_a_secret_copy_onto_its_source_never_writes_the_source():
    s = Setup(templates={"onReconcile": {"secrets": [{"fromSecret": "registry-creds",
                                                       "toNamespaces": ["default", "team-a"]}]}})
    s.api.seed(SECRETS, {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                         "metadata": {"name": "registry-creds", "namespace": "default"}, "data": {"k": "dg=="}})
    s.create()
    s.settle()
    assert not s.api.touched(SECRETS, "registry-creds", "default")
    source = s.api.object(SECRETS, "registry-creds", "default")
    assert "ownerReferences" not in source["metadata"] and "labels" not in source["metadata"]
    assert s.api.object(SECRETS, "registry-creds", "team-a")["data"] == {"k": "dg=="}


# --- item 8: CR labels print like templates ---------------------------------------------------------
def test_entry_labels_on_the_cr_print_booleans_and_whole_floats_as_go_does():
    s = Setup(labels={"public": "{{ .spec.public }}", "ratio": "{{ .spec.ratio }}", "team": "web"})
    s.create(spec={"public": True, "ratio": 2.0})
    s.reconcile()
    labels = s.api.object(WEBSITES, "site", "default")["metadata"]["labels"]
    assert (labels["public"], labels["ratio"], labels["team"]) == ("true", "2", "web")


# --- items 16 and 19: status -------------------------------------------------------------------------
def test_a_required_field_that_renders_empty_fails_the_reconcile_naming_field_and_cr():
    s = Setup(templates={"onReconcile": {"deployments": [{"image": "{{ .spec.image }}"}]}})
    s.create()
    with pytest.raises(RenderError) as err:
        s.reconcile()
    assert "operatorBox.onReconcile.deployments[0].image" in str(err.value) and "default/site" in str(err.value)
    s.rec.report_failure("default/site", err.value, err.value.reason)
    ready = s.api.object(WEBSITES, "site", "default")["status"]["conditions"][0]
    assert (ready["status"], ready["reason"], ready["message"]) == ("False", "ReconcileError", str(err.value))
    assert s.api.object(DEPLOYMENTS, "site-deployment", "default") is None


def test_status_fields_that_render_nil_are_omitted_and_nothing_is_written_when_nothing_changed():
    s = Setup(templates={"onReconcile": {"configMaps": [{"data": {"a": "b"}}]}},
              status={"conditions": True, "fields": [
                  {"path": "endpoint", "type": "auto", "value": "{{ .spec.endpoint }}"},
                  {"path": "url", "value": "{{ .spec.host }}"},
                  {"path": "phase", "value": "Ready"}]})
    s.create()
    s.settle()
    status = s.api.object(WEBSITES, "site", "default")["status"]
    assert status["phase"] == "Ready" and "endpoint" not in status and "url" not in status
    s.api.clear_calls()
    s.reconcile()
    s.reconcile()
    assert s.api.writes == []


def test_an_idle_reconcile_of_a_full_entry_makes_no_api_write():
    s = Setup(templates={"onReconcile": {
        "configMaps": [{"data": {"title": "{{ .spec.title }}", "settings": "{{ .spec.settings }}"}}],
        "services": [{"port": 80}],
        "deployments": [{"image": "nginx", "args": ["--mem", "{{ .spec.mem }}"]}]}},
        labels={"tier": "web"}, status={"conditions": True, "fields": [{"path": "title", "value": "{{ .spec.title }}"}]})
    s.create(spec={"title": "Hi", "settings": {"a": True}, "mem": 512})
    s.settle()
    s.api.clear_calls()
    s.reconcile()
    assert s.api.writes == []
    assert s.runtime.recorder.reasons().count("Reconciled") == 1


def test_a_new_cr_gets_one_metadata_write_holding_the_katalog_annotation_and_the_child_record():
    """Issue 15: the child-resource record of entries pruned once removed is known before
    rendering and rides with the step-5 metadata write instead of a second patch."""
    s = Setup(templates={"onReconcile": {"configMaps": [{"data": {"a": "b"}}], "services": [{"port": 80}]}})
    s.runtime.child_informer_gvrs = lambda: [CONFIGMAPS, GVR("", "v1", "services")]
    s.create()
    s.reconcile()
    cr_writes = [c for c in s.api.writes_to(WEBSITES, "site", "default") if c.subresource is None]
    assert len(cr_writes) == 1
    annotations = s.api.object(WEBSITES, "site", "default")["metadata"]["annotations"]
    assert annotations["orkestra.io/katalog"] == "test-katalog"
    assert annotations["orkestra.io/child-resources"] == "v1/configmaps,v1/services"
    s.api.clear_calls()
    s.reconcile()
    assert s.api.writes == []


def test_a_kind_no_child_informer_watches_is_recorded_only_once_its_child_is_written():
    """Recorded ahead, an unwatched kind whose child is not rendered would be dropped by pruning
    and written back on every pass; it keeps the record-after-write path instead."""
    s = Setup(templates={"onReconcile": {"configMaps": [{"data": {"a": "b"}, "when": [{"field": "spec.on", "equals": "true"}]}]}})
    s.create(spec={"on": False})
    s.settle()
    s.api.clear_calls()
    s.reconcile()
    assert s.api.writes == []
    assert "orkestra.io/child-resources" not in s.api.object(WEBSITES, "site", "default")["metadata"].get(
        "annotations", {})


# --- item 24: no deep copy of the cached CR -------------------------------------------------------------
def test_the_cached_cr_is_neither_copied_nor_modified_and_a_hook_gets_its_own_copy(monkeypatch):
    from orkestra.hooks.loader import HookSet
    from orkestra.katalog.model import HookSpec
    seen: list = []

    def on_reconcile(ctx, obj):
        seen.append(obj)
        obj["spec"]["title"] = "changed by the hook"

    s = Setup(templates={"onReconcile": {"configMaps": [{"data": {"title": "{{ .spec.title }}"}}]}},
              labels={"tier": "web"}, status={"conditions": True, "fields": [{"path": "t", "value": "x"}]},
              hooks=HookSpec("hooks", "factory", False, (), {}, "."))
    s.rec.hooks = HookSet(ref="hooks:factory", run_first=False, callbacks={"on_reconcile": on_reconcile})
    s.create(spec={"title": "Hi"})
    s.settle()
    s.runtime.sync()
    cached = s.runtime.cached("default/site")
    snapshot = copy.deepcopy(cached)
    copied: list[object] = []

    class RecordingCopy:
        """Stands in for the `copy` module inside the reconcile modules: records each deep copy."""

        @staticmethod
        def deepcopy(obj, memo=None):
            copied.append(obj)
            return copy.deepcopy(obj, memo)

    for module in (reconciler_module, status_module):
        if hasattr(module, "copy"):
            monkeypatch.setattr(module, "copy", RecordingCopy)
    s.rec.reconcile("default/site", threading.Event())
    assert cached == snapshot
    assert len(copied) == 1 and copied[0] is cached     # one deep copy on the whole path: the hook's
    assert seen[-1] is not cached and seen[-1]["spec"]["title"] == "changed by the hook"


# --- Orkestra never adopts an object it did not create (docs/ownership.md) -------------------------------
JOBS = GVR("batch", "v1", "jobs")


def users_object(gvr: GVR, kind: str, name: str, **body) -> dict:
    return {"apiVersion": "batch/v1" if kind == "Job" else "v1", "kind": kind,
            "metadata": {"name": name, "namespace": "default", "labels": {"team": "a"}}, **body}


def test_a_users_own_object_with_the_rendered_name_is_never_taken_over():
    s = Setup(templates={"onReconcile": {"configMaps": [{"data": {"a": "b"}}], "services": [{"port": 80}]}})
    before = s.api.seed(CONFIGMAPS, users_object(CONFIGMAPS, "ConfigMap", "site-config", data={"mine": "yes"}))
    s.create()
    with pytest.raises(ApplyFailed, match="apply failed: ConfigMap default/site-config: exists but was not created "
                                          "by Orkestra for this CR"):
        s.reconcile()
    with pytest.raises(ApplyFailed):
        s.reconcile()
    assert not s.api.touched(CONFIGMAPS, "site-config", "default")
    assert s.api.object(CONFIGMAPS, "site-config", "default") == before
    assert s.api.object(GVR("", "v1", "services"), "site-svc", "default") is not None   # the others still apply
    conflicts = [e for e in s.runtime.recorder.events if e[1] == "OwnerConflict"]
    assert len(conflicts) == 1 and conflicts[0][0] == "Warning" and "site-config" in conflicts[0][2]


def test_a_create_only_child_never_takes_a_users_object_with_its_name():
    s = Setup(templates={"onCreate": {"jobs": [{"image": "busybox", "command": ["migrate"]}]}})
    before = s.api.seed(JOBS, users_object(JOBS, "Job", "site-job", spec={"template": {}}))
    s.create()
    with pytest.raises(ApplyFailed, match="Job default/site-job: exists but was not created by Orkestra"):
        s.reconcile()
    assert not s.api.touched(JOBS, "site-job", "default")
    assert s.api.object(JOBS, "site-job", "default") == before
    assert s.runtime.recorder.reasons().count("OwnerConflict") == 1


def test_an_ondelete_job_never_takes_a_users_finished_job_as_the_cleanup():
    """The deletion flow creates its Job create-only: a user's succeeded Job with that name is not ours."""
    s = Setup(templates={"onDelete": {"jobs": [{"image": "busybox", "command": ["drop"]}]}})
    s.create()
    s.settle()
    before = s.api.seed(JOBS, users_object(JOBS, "Job", "site-job", status={"conditions": [
        {"type": "Complete", "status": "True"}]}))
    s.api.delete(WEBSITES, "site", "default")
    with pytest.raises(ApplyFailed, match="Job default/site-job: exists but was not created by Orkestra"):
        s.reconcile()
    assert s.api.object(WEBSITES, "site", "default")["metadata"]["finalizers"] == ["orkestra.io/finalizer"]
    assert s.api.object(JOBS, "site-job", "default") == before
    assert "OwnerConflict" in s.runtime.recorder.reasons()


def test_a_hook_apply_onto_a_users_object_raises_and_is_still_reported():
    from orkestra.hooks.loader import HookSet
    from orkestra.katalog.model import HookSpec
    from orkestra.reconcile.errors import OwnerConflict

    def on_reconcile(ctx, obj):
        ctx.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"x": "1"}})

    s = Setup(hooks=HookSpec("hooks", "factory", False, (), {}, "."))
    s.rec.hooks = HookSet(ref="hooks:factory", run_first=False, callbacks={"on_reconcile": on_reconcile})
    before = s.api.seed(CONFIGMAPS, users_object(CONFIGMAPS, "ConfigMap", "settings", data={"mine": "yes"}))
    s.create()
    with pytest.raises(OwnerConflict, match="ConfigMap default/settings: exists but was not created by Orkestra"):
        s.reconcile()
    assert s.api.object(CONFIGMAPS, "settings", "default") == before
    assert s.runtime.recorder.reasons().count("OwnerConflict") == 1


def test_a_label_tracked_object_a_hook_applied_stays_its_own_when_no_informer_caches_it():
    """ctx.apply of a cluster-scoped object (label-tracked): on the next reconcile the uncached live object
    is recognised by its owner-uid label, not refused for lacking an ownerReference it cannot have."""
    from orkestra.hooks.loader import HookSet
    from orkestra.katalog.model import HookSpec
    clusterroles = GVR("rbac.authorization.k8s.io", "v1", "clusterroles")

    def on_reconcile(ctx, obj):
        ctx.apply({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                   "metadata": {"name": "site-reader"}, "rules": []})

    s = Setup(hooks=HookSpec("hooks", "factory", False, (), {}, "."))
    s.rec.hooks = HookSet(ref="hooks:factory", run_first=False, callbacks={"on_reconcile": on_reconcile})
    s.runtime.children = lambda owner_uid: []          # no child informer for a hook's kind
    s.create()
    s.settle()
    role = s.api.object(clusterroles, "site-reader")
    assert role["metadata"]["labels"]["orkestra.io/owner-uid"] == s.api.object(WEBSITES, "site", "default")[
        "metadata"]["uid"] and "ownerReferences" not in role["metadata"]
    assert "OwnerConflict" not in s.runtime.recorder.reasons()


# --- issue 14: a cache that has not yet seen a delete (after an outage) --------------------------------
def test_a_cr_deleted_behind_a_stale_cache_ends_the_reconcile_without_a_failure():
    s = Setup(templates={"onReconcile": {"configMaps": [{"data": {"a": "b"}}]}})
    s.create()
    s.runtime.sync()
    s.api.delete(WEBSITES, "site", "default")          # the cache still holds it
    assert s.rec.reconcile("default/site", threading.Event()).requeue_after is None
    assert "Warning" not in [e[0] for e in s.runtime.recorder.events]


def test_a_child_created_for_a_cr_deleted_behind_a_stale_cache_is_deleted_again():
    """The soak's leftovers (issue 14): a reconcile from a cache that has not yet seen the delete
    created the ConfigMap of a CR that was gone; the CR's status write then answered 404 and the
    ConfigMap stayed, owned by a uid that no longer exists. Orkestra removes what it created."""
    s = Setup(templates={"onReconcile": {"configMaps": [{"data": {"a": "b"}}]}})
    s.create()
    s.runtime.sync()
    s.api.delete(WEBSITES, "site", "default")          # the cache still holds it
    s.api.clear_calls()
    assert s.rec.reconcile("default/site", threading.Event()).requeue_after is None
    assert s.api.object(CONFIGMAPS, "site-config", "default") is None
    assert [c.verb for c in s.api.writes if c.gvr == CONFIGMAPS] == ["apply", "delete"]


def test_a_child_recreated_for_a_converged_cr_deleted_behind_a_stale_cache_is_deleted_again():
    """The soak's fight (issue 14): the garbage collector deletes the ConfigMap of a deleted CR,
    that delete queues the CR, whose delete the cache has not seen; the converged CR needs no
    status write, so nothing answered 404 and the re-created ConfigMap stayed. Orkestra reads
    the CR after creating a child and deletes what it created for a CR that is gone."""
    s = Setup(templates={"onReconcile": {"configMaps": [{"data": {"a": "b"}}]}})
    s.create()
    s.settle()
    s.runtime.sync()
    s.api.delete(WEBSITES, "site", "default")          # the cache still holds it
    s.api.delete(CONFIGMAPS, "site-config", "default")     # the garbage collector's work
    s.api.clear_calls()
    assert s.rec.reconcile("default/site", threading.Event()).requeue_after is None
    assert s.api.object(CONFIGMAPS, "site-config", "default") is None
    assert [c.verb for c in s.api.writes if c.gvr == CONFIGMAPS] == ["apply", "delete"]
    assert not [c for c in s.api.writes if c.gvr == WEBSITES]


def test_a_child_created_for_a_cr_replaced_under_the_same_name_is_deleted_again():
    """A CR deleted and created again under its name has another uid: a child made for the old
    one (from the stale cache) belongs to nobody and would block the new CR's child."""
    s = Setup(templates={"onReconcile": {"configMaps": [{"data": {"a": "b"}}]}})
    s.create()
    s.settle()
    s.runtime.sync()
    s.api.delete(WEBSITES, "site", "default")
    s.api.delete(CONFIGMAPS, "site-config", "default")
    s.create()                                          # same name, new uid; the cache has the old one
    s.rec.reconcile("default/site", threading.Event())
    assert s.api.object(CONFIGMAPS, "site-config", "default") is None


def test_a_child_created_for_a_cr_that_still_exists_costs_no_extra_read_when_the_status_is_written():
    s = Setup(templates={"onReconcile": {"configMaps": [{"data": {"a": "b"}}]}})
    s.create()
    s.runtime.sync()
    s.api.clear_calls()
    s.rec.reconcile("default/site", threading.Event())
    assert s.api.object(CONFIGMAPS, "site-config", "default") is not None
    assert not [c for c in s.api.calls if c.gvr == WEBSITES and c.verb == "get"]


# --- issue 14 review: what the stale-cache cleanup may and may not delete -------------------------------
def stale_and_gone(s: Setup) -> None:
    """A converged CR, deleted behind the cache, its ConfigMap already removed by the collector."""
    s.create()
    s.settle()
    s.runtime.sync()
    s.api.delete(WEBSITES, "site", "default")
    s.api.delete(CONFIGMAPS, "site-config", "default")
    s.api.clear_calls()


def test_a_child_created_for_a_replaced_cr_is_deleted_again_when_its_status_write_lands_on_the_new_cr():
    """The stale copy needs a status write (a spec change not reconciled yet), a merge patch by
    name: it answers 200 from the CR created since under the same name. That write proves only
    that *a* CR of that name exists, so the child made for the old uid is still removed."""
    s = Setup(templates={"onReconcile": {"configMaps": [{"data": {"a": "{{ .spec.a }}"}}]}})
    s.create(spec={"a": "1"})
    s.settle()
    s.api.patch(WEBSITES, "site", {"spec": {"a": "2"}}, "default")    # generation 2, not reconciled yet
    s.runtime.sync()
    s.api.delete(WEBSITES, "site", "default")
    s.api.delete(CONFIGMAPS, "site-config", "default")
    new = s.create(spec={"a": "3"})                      # same name, new uid; the cache has the old one
    s.rec.reconcile("default/site", threading.Event())
    assert s.api.object(CONFIGMAPS, "site-config", "default") is None
    assert s.api.object(WEBSITES, "site", "default")["metadata"]["uid"] == new["metadata"]["uid"]


def test_a_child_created_for_a_replaced_cr_is_deleted_again_when_its_record_write_moved_to_the_new_cr():
    """The record of a new child kind on the stale copy meets a changed resourceVersion and is
    computed again from a fresh read, which is the CR created since under the same name: the
    reconcile goes on with that CR, but its children were written for the old uid."""
    v1 = Setup(templates={"onReconcile": {"configMaps": [{"data": {"a": "b"}}]}})
    stale_and_gone(v1)
    stale = v1.runtime.cache
    v2 = v1.with_katalog(templates={"onReconcile": {"configMaps": [{"data": {"a": "b"}}],
                                                    "secrets": [{"data": {"k": "dg=="}}]}})
    v2.create()                                          # same name, new uid; the cache has the old one
    v2.runtime.cache = stale
    v2.rec.reconcile("default/site", threading.Event())
    assert v2.api.object(CONFIGMAPS, "site-config", "default") is None
    assert not v2.api.objects(SECRETS)


def test_the_child_of_the_cr_created_since_under_the_same_name_is_never_touched():
    """A newer reconcile (or the other replica) already made the new CR's ConfigMap: the stale
    reconcile of the old CR refuses it as another owner's and deletes nothing."""
    s = Setup(templates={"onReconcile": {"configMaps": [{"data": {"a": "b"}}]}})
    stale_and_gone(s)
    stale = s.runtime.cache
    s.create()
    s.settle()
    theirs = s.api.object(CONFIGMAPS, "site-config", "default")
    s.runtime.cache = stale
    s.api.clear_calls()
    with pytest.raises(ApplyFailed, match="already controlled by"):
        s.rec.reconcile("default/site", threading.Event())
    assert s.api.object(CONFIGMAPS, "site-config", "default") == theirs
    assert not [c for c in s.api.writes if c.gvr == CONFIGMAPS]


def test_a_child_replaced_under_its_name_before_the_cleanup_stays():
    """The cleanup deletes by uid: an object created under the name between Orkestra's create and
    its delete (the collector removed ours, someone made another) is not the one it created."""
    s = Setup(templates={"onReconcile": {"configMaps": [{"data": {"a": "b"}}]}})
    stale_and_gone(s)
    real_get, others = s.api.get, []

    def get(gvr, name, namespace=None):
        if gvr == WEBSITES and not others:      # the cleanup's read of the CR: meanwhile the name is reused
            s.api.delete(CONFIGMAPS, "site-config", "default")
            others.append(s.api.seed(CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap",
                                                  "metadata": {"name": "site-config", "namespace": "default"}}))
        return real_get(gvr, name, namespace)

    s.api.get = get
    assert s.rec.reconcile("default/site", threading.Event()).requeue_after is None
    assert others and s.api.object(CONFIGMAPS, "site-config", "default") == others[0]


def test_an_object_that_appeared_between_the_ownership_read_and_the_apply_is_not_counted_as_created():
    """Between the GET that found no ConfigMap and the apply, someone created one (docs/ownership.md,
    "Limits"): the apply did not create it, so the cleanup of a gone CR must not delete it."""
    moments = iter(datetime(2026, 1, 1, 12, 0, second, tzinfo=timezone.utc) for second in range(60))
    now = [next(moments)]
    s = Setup(api=ApiDouble(clock=lambda: now[0], managed_fields=True),
              templates={"onReconcile": {"configMaps": [{"data": {"a": "b"}}]}})
    stale_and_gone(s)
    real_get = s.api.get

    def get(gvr, name, namespace=None):
        found = real_get(gvr, name, namespace)
        if gvr == CONFIGMAPS and found is None:      # the ownership read; right after it, a user's create
            s.api.seed(CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap",
                                    "metadata": {"name": name, "namespace": namespace}, "data": {"mine": "1"}})
            now[0] = next(moments)
        return found

    s.api.get = get
    s.rec.reconcile("default/site", threading.Event())
    assert s.api.object(CONFIGMAPS, "site-config", "default")["data"]["mine"] == "1"
    assert "delete" not in [c.verb for c in s.api.writes if c.gvr == CONFIGMAPS]


@pytest.mark.parametrize("status", [403, 500, 0])
def test_a_cr_read_that_fails_never_counts_as_gone(status):
    """A 403, a 500 or a timeout (status 0) on the read of the CR says nothing about it: the
    child just created stays."""
    s = Setup(templates={"onReconcile": {"configMaps": [{"data": {"a": "b"}}]}})
    stale_and_gone(s)
    s.api.fail("get", WEBSITES, "site", "default", status=status)
    s.rec.reconcile("default/site", threading.Event())
    assert s.api.object(CONFIGMAPS, "site-config", "default") is not None
    assert [c.verb for c in s.api.writes if c.gvr == CONFIGMAPS] == ["apply"]


def test_label_tracked_and_create_only_children_made_for_a_gone_cr_are_deleted_again():
    """No ownerReference on a cluster-scoped child a hook applied: the collector never removes it,
    so this cleanup is its only one; a create-only child is removed the same way."""
    from orkestra.hooks.loader import HookSet
    from orkestra.katalog.model import HookSpec
    clusterroles = GVR("rbac.authorization.k8s.io", "v1", "clusterroles")

    def on_reconcile(ctx, obj):
        ctx.apply({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                   "metadata": {"name": "site-reader"}, "rules": []})

    s = Setup(templates={"onCreate": {"configMaps": [{"name": "{{ .metadata.name }}-once", "data": {"a": "b"}}]}},
              hooks=HookSpec("hooks", "factory", False, (), {}, "."))
    s.rec.hooks = HookSet(ref="hooks:factory", run_first=False, callbacks={"on_reconcile": on_reconcile})
    s.create()
    s.settle()
    stale = dict(s.runtime.cache)                       # with Orkestra's finalizer, not yet deleting
    s.api.delete(WEBSITES, "site", "default")
    s.reconcile()                                       # the deletion flow deletes the ClusterRole
    assert s.api.object(WEBSITES, "site", "default") is None and s.api.object(clusterroles, "site-reader") is None
    s.api.delete(CONFIGMAPS, "site-once", "default")     # the garbage collector's work
    s.runtime.cache = stale
    s.api.clear_calls()
    s.rec.reconcile("default/site", threading.Event())
    assert s.api.object(clusterroles, "site-reader") is None
    assert s.api.object(CONFIGMAPS, "site-once", "default") is None
    assert [c.verb for c in s.api.writes if c.gvr == clusterroles] == ["apply", "delete"]


def test_a_converged_reconcile_reads_nothing_back():
    """The cleanup's read is paid only by a reconcile that created a child."""
    s = Setup(templates={"onReconcile": {"configMaps": [{"data": {"a": "b"}}]}})
    s.create()
    s.settle()
    s.runtime.sync()
    s.api.clear_calls()
    s.rec.reconcile("default/site", threading.Event())
    assert not [c for c in s.api.calls if c.gvr == WEBSITES]


def test_a_404_for_a_cr_that_still_exists_is_still_a_failure(monkeypatch):
    from orkestra.kube.errors import ApiError
    s = Setup(templates={"onReconcile": {"configMaps": [{"data": {"a": "b"}}]}})
    s.create()
    s.runtime.sync()

    def refuse(*args, **kwargs):
        raise ApiError(status=404, reason="NotFound", message="the server could not find the requested resource",
                       verb="patch", resource="websites")

    monkeypatch.setattr(s.api, "patch", refuse)
    with pytest.raises(ApiError):
        s.rec.reconcile("default/site", threading.Event())


def test_a_404_stands_when_the_api_server_cannot_say_whether_the_cr_is_gone(monkeypatch):
    """The GET that decides "gone" failing must not replace the reconcile's own error."""
    from orkestra.kube.errors import ApiError
    s = Setup(templates={"onReconcile": {"configMaps": [{"data": {"a": "b"}}]}})
    s.create()
    s.runtime.sync()
    not_found = ApiError(status=404, reason="NotFound", message="configmaps not found", verb="patch",
                         resource="websites")

    refused = []
    real_get, real_patch = s.api.get, s.api.patch

    def refuse(gvr, *args, **kwargs):
        if gvr != WEBSITES:        # children are written as usual: the CR's own write meets the 404
            return real_patch(gvr, *args, **kwargs)
        refused.append(args)
        raise not_found

    def unreachable_once_refused(gvr, *args, **kwargs):
        if gvr != WEBSITES or not refused:
            return real_get(gvr, *args, **kwargs)
        raise ApiError(status=0, reason="ConnectionError", message="connection refused", verb="get",
                       resource="websites")

    monkeypatch.setattr(s.api, "patch", refuse)
    monkeypatch.setattr(s.api, "get", unreachable_once_refused)
    with pytest.raises(ApiError) as err:
        s.rec.reconcile("default/site", threading.Event())
    assert err.value is not_found


# --- issue 14, least privilege: an Event that cannot be written is never silent ----------------------
def test_an_event_that_cannot_be_written_is_an_active_warning_until_one_is():
    s = Setup(templates={"onReconcile": {"configMaps": [{"data": {"a": "b"}}]}})
    s.create()
    s.settle()
    assert "default/site" not in s.runtime.warnings, "no Event failed: no warning is even written"
    s.runtime.recorder.failure = ApiError(status=403, reason="Forbidden", verb="post", resource="events",
                                          message='events is forbidden: cannot create resource "events"')
    s.rec.event(s.api.object(WEBSITES, "site", "default"), "Normal", "Reconciled", "ok")
    [warning] = s.runtime.warnings["default/site"]
    assert warning["message"].startswith("Event Reconciled could not be written: post events: 403 Forbidden")
    assert 'cannot create resource "events"' in warning["message"]
    s.runtime.recorder.failure = None
    s.rec.event(s.api.object(WEBSITES, "site", "default"), "Normal", "Reconciled", "ok")
    assert s.runtime.warnings["default/site"] == []


def test_an_event_written_for_any_cr_of_the_crd_clears_every_events_warning():
    """The rule is back: a CR that gets no new Event must not keep its warning for ever."""
    s = Setup(templates={"onReconcile": {"configMaps": [{"data": {"a": "b"}}]}})
    s.create()
    s.create("other")
    s.runtime.recorder.failure = ApiError(status=403, reason="Forbidden", verb="post", resource="events",
                                          message='events is forbidden: cannot create resource "events"')
    s.rec.event(s.api.object(WEBSITES, "site", "default"), "Normal", "Reconciled", "ok")
    s.rec.event(s.api.object(WEBSITES, "other", "default"), "Normal", "Reconciled", "ok")
    assert s.runtime.warnings["default/site"] and s.runtime.warnings["default/other"]
    s.runtime.recorder.failure = None
    s.rec.event(s.api.object(WEBSITES, "other", "default"), "Normal", "Reconciled", "ok")
    assert s.runtime.warnings["default/site"] == [] and s.runtime.warnings["default/other"] == []


# --- issue 14 "Bad input": a CR that kube.decode had to cut ------------------------------------------
def test_a_cr_cut_by_the_decoder_is_refused_naming_the_field_and_nothing_is_written():
    from orkestra.kube import decode
    from orkestra.reconcile.errors import ReconcileError
    s = Setup(templates={"onReconcile": {"configMaps": [{"data": {"v": "{{ .spec.value }}"}}]}})
    s.create(spec={"value": {"n": decode.CUT}})
    s.runtime.sync()
    s.runtime.cache["default/site"][decode.TOO_DEEP_KEY] = ["spec.value.n"]   # as decode.loads marks it
    s.api.clear_calls()
    with pytest.raises(ReconcileError) as err:
        s.rec.reconcile("default/site", threading.Event())
    assert str(err.value).startswith('field "spec.value.n" is nested deeper than 100 levels')
    assert s.api.writes == [], "never acts on the cut copy: no finalizer, no label, no child, no status"


# --- issue 15: the finalizers ride with the step-5 metadata write --------------------------------------
def test_a_new_cr_that_needs_finalizers_gets_them_in_its_one_metadata_write():
    """Steps 4 and 5 of docs/runtime.md §10.1 both patch the CR's metadata, guarded by the same
    resourceVersion: a new CR gets them in one write (one request, one watch event), its declared
    finalizer recorded in the same annotations map as the katalog annotation, and FinalizerAdded."""
    s = Setup(templates={"onReconcile": {"configMaps": [{"data": {"a": "b"}}]}}, finalizers=["example.com/cleanup"],
              labels={"tier": "web"})
    s.runtime.child_informer_gvrs = lambda: [CONFIGMAPS]
    s.create()
    s.reconcile()
    cr_writes = [c for c in s.api.writes_to(WEBSITES, "site", "default") if c.subresource is None]
    assert len(cr_writes) == 1
    meta = s.api.object(WEBSITES, "site", "default")["metadata"]
    assert meta["finalizers"] == ["orkestra.io/finalizer", "example.com/cleanup"]
    assert meta["annotations"]["orkestra.io/finalizers"] == "example.com/cleanup"
    assert meta["annotations"]["orkestra.io/katalog"] == "test-katalog"
    assert meta["labels"]["tier"] == "web"
    assert s.runtime.recorder.reasons()[:1] == ["FinalizerAdded"]
    s.api.clear_calls()
    s.reconcile()
    assert s.api.writes == []


def test_another_controllers_finalizer_added_since_the_cache_read_survives_the_joint_write():
    """The joint write is guarded like the finalizer patch was: a stale copy never drops a
    finalizer someone else added meanwhile; the retry computes the ops again from a fresh read."""
    s = Setup(finalizers=["example.com/cleanup"])
    s.create()
    s.runtime.sync()                         # the cache holds the CR without finalizers
    live = s.api.object(WEBSITES, "site", "default")
    s.api.seed(WEBSITES, {**live, "metadata": {**live["metadata"], "finalizers": ["other.io/keep"]}})
    s.rec.reconcile("default/site", threading.Event())
    meta = s.api.object(WEBSITES, "site", "default")["metadata"]
    assert meta["finalizers"] == ["other.io/keep", "orkestra.io/finalizer", "example.com/cleanup"]
    assert meta["annotations"]["orkestra.io/katalog"] == "test-katalog"


# --- second reading of issue 15's joint write ----------------------------------------------------------
def _refuse_the_tier_label(verb, gvr, old, new):
    """Plays a ValidatingAdmissionPolicy that refuses the `tier` label on Websites."""
    if gvr == WEBSITES and "tier" in (new["metadata"].get("labels") or {}):
        raise ApiError(status=422, reason="Invalid", message="label tier is not allowed here", verb=verb,
                       resource="websites")


def test_a_refused_metadata_write_still_leaves_the_finalizers_of_step_4():
    """docs/runtime.md §10.1: step 4 adds the finalizers before step 5 writes the metadata. When
    the API server refuses the joint write for what step 5 carries (a policy on the labels), the
    finalizers still go on, alone, as they did before the two steps shared one write; the
    reconcile still fails, and no child is written."""
    s = Setup(templates={"onReconcile": {"configMaps": [{"data": {"a": "b"}}]}}, finalizers=["example.com/cleanup"],
              labels={"tier": "web"})
    s.api.add_admission(_refuse_the_tier_label)
    s.create()
    with pytest.raises(ApiError) as err:
        s.reconcile()
    assert err.value.status == 422 and "tier" in err.value.message
    meta = s.api.object(WEBSITES, "site", "default")["metadata"]
    assert meta["finalizers"] == ["orkestra.io/finalizer", "example.com/cleanup"]
    assert meta["annotations"]["orkestra.io/finalizers"] == "example.com/cleanup"
    assert "tier" not in (meta.get("labels") or {})
    assert s.runtime.recorder.reasons().count("FinalizerAdded") == 1
    assert s.api.writes_to(CONFIGMAPS, "site-config", "default") == [], "no child before the reconcile can go on"


def test_no_finalizer_goes_on_a_cr_whose_deletion_began_after_the_cache_read():
    """The joint write retried from a fresh read of a CR that is being deleted asks to add
    finalizers, which the API server forbids then: nothing of Orkestra's is added, no child is
    written, and the deletion flow follows on the update event."""
    s = Setup(templates={"onReconcile": {"configMaps": [{"data": {"a": "b"}}]}}, finalizers=["example.com/cleanup"])
    s.create(finalizers=["other.io/keep"])
    s.runtime.sync()                          # the cache holds the CR before its deletion
    s.api.delete(WEBSITES, "site", "default")
    with pytest.raises(ApiError) as err:
        s.rec.reconcile("default/site", threading.Event())
    assert err.value.status == 422
    meta = s.api.object(WEBSITES, "site", "default")["metadata"]
    assert meta["deletionTimestamp"] and meta["finalizers"] == ["other.io/keep"]
    assert "FinalizerAdded" not in s.runtime.recorder.reasons()
    assert [c for c in s.api.writes if c.gvr == CONFIGMAPS] == []
