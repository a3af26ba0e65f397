"""The deletion flow and the finalizers (docs/runtime.md §10.3, docs/katalog.md#keys-of-every-entry), driven through the real
`DeclarativeReconciler` against the API double with a fake clock.

`DoubleRuntime` stands in for the operator box: its cache is the double's store, except for
keys a test makes stale on purpose (`runtime.freeze(key)`), which is how a lagging informer looks.
"""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest

from orkestra.gvk import GVR, api_version_of
from orkestra.hooks.loader import HookSet
from orkestra.katalog.model import HookSpec
from orkestra.katalog import builtins
from orkestra.kube.errors import ApiError
from orkestra.reconcile.crmeta import parse_gvr
from orkestra.reconcile.deletion import DeletionFlow, DeletionPlan, job_state
from orkestra.reconcile.errors import ReconcileError
from orkestra.reconcile.reconciler import DeclarativeReconciler
from orkestra.reconcile.render import DesiredChild
from orkestra.reconcile.runtime import ReconcileResult
from orkestra.reconcile.writer import ChildWriter, made_for
from tests.unit.reconcile.api_double import ApiDouble
from tests.unit.reconcile.factory import make_entry, make_katalog

WS = GVR("demo.orkestra.io", "v1alpha1", "websites")
JOBS = GVR("batch", "v1", "jobs")
CMS = GVR("", "v1", "configmaps")
CLUSTERROLES = GVR("rbac.authorization.k8s.io", "v1", "clusterroles")
KEY = "ns/site"
FINALIZER = "orkestra.io/finalizer"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Discovery:
    def resolve(self, api_version: str, kind: str):
        if kind == "Website":
            return WS, True
        found = builtins.lookup(kind)
        if found is None or api_version_of(found.group, found.version) != api_version:
            return None
        return GVR(found.group, found.version, found.plural), found.namespaced

    def has_status(self, gvr: GVR) -> bool:
        return True


class Events:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str]] = []

    def event(self, obj, type_, reason, message, crd="", on_written=None):
        self.seen.append((type_, reason, message))
        if on_written is not None:
            on_written(None)

    def reasons(self) -> list[str]:
        return [r for _, r, _ in self.seen]


class DoubleRuntime:
    """A `ReconcileRuntime` over the API double; `informer_gvrs` plays the box's child informers."""

    def __init__(self, api: ApiDouble, informer_gvrs=()) -> None:
        self.kube = api
        self.discovery = Discovery()
        self.recorder = Events()
        self.identity = "unit"
        self.katalog = None
        self.informer_gvrs = list(informer_gvrs)
        self._frozen: dict[str, dict] = {}

    def freeze(self, key: str) -> None:
        """From now on the cache answers the object as it is now (a lagging informer)."""
        self._frozen[key] = self._live(key)

    def hide(self, key: str) -> None:
        """The object left the informer (its labels no longer match the entry's selector)."""
        self._frozen[key] = None

    def _live(self, key: str) -> dict | None:
        ns, _, name = key.rpartition("/")
        return self.kube.object(WS, name, ns or None)

    def cached(self, key: str) -> dict | None:
        return self._frozen[key] if key in self._frozen else self._live(key)

    def cached_all(self) -> list[dict]:
        return self.kube.objects(WS)

    def children(self, owner_uid: str) -> list[dict]:
        out = []
        for obj in self.kube.objects():
            meta = obj["metadata"]
            if any(r.get("uid") == owner_uid for r in meta.get("ownerReferences") or []) or \
                    (meta.get("labels") or {}).get("orkestra.io/owner-uid") == owner_uid:
                out.append(obj)
        return out

    def child_informer_gvrs(self) -> list[GVR]:
        return list(self.informer_gvrs)

    def set_warnings(self, key, source, warnings) -> None:
        pass


class World:
    """One CRD entry, the API double, the runtime and a fake clock; `reconciler(entry)` swaps the
    Katalog (a new Katalog version is a new reconciler, as when Orkestra restarts with it)."""

    def __init__(self, entry, *, hooks: HookSet | None = None, informer_gvrs=()) -> None:
        self.clock = Clock()
        self.api = ApiDouble(clock=self.clock)
        self.runtime = DoubleRuntime(self.api, informer_gvrs)
        self.rec = self.reconciler(entry, hooks=hooks)

    def reconciler(self, entry, *, hooks: HookSet | None = None) -> DeclarativeReconciler:
        self.rec = DeclarativeReconciler(entry, katalog=make_katalog(entry), runtime=self.runtime, hooks=hooks,
                                         clock=self.clock)
        return self.rec

    def create_cr(self, spec=None, **meta) -> dict:
        return self.api.create(WS, {"apiVersion": "demo.orkestra.io/v1alpha1", "kind": "Website",
                                    "metadata": {"name": "site", "namespace": "ns", **meta}, "spec": spec or {}})

    def reconcile(self):
        return self.rec.reconcile(KEY, threading.Event())

    def cr(self) -> dict | None:
        return self.api.object(WS, "site", "ns")

    def delete_cr(self) -> None:
        self.api.delete(WS, "site", "ns")

    def finish_job(self, name: str, condition: str = "Complete") -> None:
        job = self.api.object(JOBS, name, "ns")
        self.api.patch(JOBS, name, {"status": {"conditions": [{"type": condition, "status": "True"}]}}, "ns",
                       subresource="status")
        assert job is not None

    def job_creates(self) -> list:
        return [c for c in self.api.writes if c.verb in ("create", "apply") and c.gvr == JOBS]


def hooks(**callbacks) -> tuple[HookSpec, HookSet]:
    spec = HookSpec(module="h", function="f", run_hooks_first=False, managed_resources=(), args={}, base_dir=".")
    return spec, HookSet(ref=spec.ref, run_first=False, callbacks=callbacks)


def job(command: str, **extra) -> dict:
    return {"image": "busybox", "command": [command], **extra}


# --- item 11: adding finalizers never replaces another controller's --------------------------------
def test_adding_finalizers_from_a_stale_cache_keeps_other_controllers_finalizers():
    world = World(make_entry(templates={"onDelete": {"jobs": [job("drop")]}}))
    world.create_cr()
    world.runtime.freeze(KEY)        # the informer has not seen the next update yet
    world.api.patch(WS, "site", {"metadata": {"finalizers": ["other.io/protect"]}}, "ns")
    world.reconcile()
    assert world.cr()["metadata"]["finalizers"] == ["other.io/protect", FINALIZER]


# --- item 10: whatever Orkestra added, Orkestra removes ----------------------------------------------
def test_a_declared_finalizer_dropped_from_the_katalog_is_still_removed_on_deletion():
    world = World(make_entry(finalizers=["example.io/cleanup"]))
    world.create_cr()
    world.reconcile()
    assert world.cr()["metadata"]["finalizers"] == [FINALIZER, "example.io/cleanup"]
    world.reconciler(make_entry(finalizers=[]))          # Katalog v2 no longer declares it
    world.api.patch(WS, "site", {"metadata": {"finalizers": [FINALIZER, "example.io/cleanup", "other.io/keep"]}},
                    "ns")
    world.delete_cr()
    world.reconcile()
    assert world.cr()["metadata"]["finalizers"] == ["other.io/keep"]


def test_only_the_finalizers_orkestra_added_are_removed():
    world = World(make_entry(finalizers=["example.io/cleanup"]))
    world.create_cr(finalizers=["example.io/other"])
    world.reconcile()
    world.reconciler(make_entry(finalizers=[]))
    world.delete_cr()
    world.reconcile()
    assert world.cr()["metadata"]["finalizers"] == ["example.io/other"]


def test_an_object_that_left_the_selector_gets_orkestra_finalizers_removed():
    world = World(make_entry(finalizers=["example.io/cleanup"]))
    world.create_cr(finalizers=["other.io/keep"])
    world.reconcile()
    assert world.rec.holds_finalizers(world.cr())
    world.runtime.hide(KEY)
    world.reconcile()                       # the box queues the key once more on the DELETED event
    assert world.cr()["metadata"]["finalizers"] == ["other.io/keep"]
    assert "orkestra.io/finalizers" not in world.cr()["metadata"].get("annotations", {})
    assert not world.rec.holds_finalizers(world.cr())
    world.api.clear_calls()
    world.reconcile()
    assert world.api.writes == []           # nothing left to release: no write


def test_an_object_that_moved_into_another_entrys_selector_keeps_the_shared_finalizer():
    import dataclasses
    web = dataclasses.replace(make_entry("web"), label_selector={"tier": "web"})
    db = dataclasses.replace(make_entry("db", finalizers=["example.io/backup"]), label_selector={"tier": "db"})
    world = World(web)
    world.create_cr(labels={"tier": "db"}, finalizers=[FINALIZER, "example.io/backup"])   # db's CR now
    world.rec = DeclarativeReconciler(web, katalog=make_katalog(web, db), runtime=world.runtime, clock=world.clock)
    world.runtime.hide(KEY)                   # it left web's selector (and entered db's)
    world.api.clear_calls()
    assert world.reconcile() == ReconcileResult()
    assert world.api.writes == []
    assert world.cr()["metadata"]["finalizers"] == [FINALIZER, "example.io/backup"]


# --- item 4: action: delete is not waited on --------------------------------------------------------
def test_an_ondelete_delete_action_is_not_waited_on():
    entry = make_entry(templates={"onDelete": {"jobs": [{"action": "delete", "name": "{{ .metadata.name }}-migrate"}]}})
    world = World(entry)
    world.create_cr()
    world.reconcile()
    world.api.seed(JOBS, {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "site-migrate", "namespace": "ns"}})
    world.delete_cr()
    result = world.reconcile()
    assert result.requeue_after is None
    assert world.api.object(JOBS, "site-migrate", "ns") is None
    assert world.cr() is None


# --- item 3: a Job found by name that another template made is not the cleanup Job ------------------
def test_a_finished_oncreate_job_is_never_taken_for_the_ondelete_job():
    entry = make_entry(templates={"onCreate": {"jobs": [job("create-database")]},
                                  "onDelete": {"jobs": [job("drop-database", name="{{ .metadata.name }}-job")]}})
    world = World(entry, informer_gvrs=[JOBS])
    world.create_cr()
    world.reconcile()
    world.finish_job("site-job")
    world.delete_cr()
    with pytest.raises(ReconcileError, match="site-job"):
        world.reconcile()
    assert FINALIZER in world.cr()["metadata"]["finalizers"]


# --- item 5: an onDelete Job runs exactly once --------------------------------------------------------
def test_an_ondelete_job_seen_succeeded_then_removed_by_its_ttl_is_not_created_again():
    jobs = [job("drop", name="site-drop", ttlSecondsAfterFinished=0), job("notify", name="site-notify")]
    world = World(make_entry(templates={"onDelete": {"jobs": jobs}}), informer_gvrs=[JOBS])
    world.create_cr()
    world.reconcile()
    world.delete_cr()
    assert world.reconcile().requeue_after == 5.0
    uids = {n: world.api.object(JOBS, n, "ns")["metadata"]["uid"] for n in ("site-drop", "site-notify")}
    assert world.cr()["metadata"]["annotations"]["orkestra.io/delete-jobs"] == \
        f"ns/site-drop={uids['site-drop']},ns/site-notify={uids['site-notify']}"
    world.finish_job("site-drop")
    assert world.reconcile().requeue_after == 5.0          # site-notify still runs; site-drop seen succeeded
    assert world.cr()["metadata"]["annotations"]["orkestra.io/delete-jobs"] == \
        f"ns/site-drop=succeeded,ns/site-notify={uids['site-notify']}"
    world.api.delete(JOBS, "site-drop", "ns")               # then the TTL controller removes it
    world.finish_job("site-notify")
    world.reconcile()
    assert len(world.job_creates()) == 2
    assert world.cr() is None
    assert "DeleteError" not in world.runtime.recorder.reasons()


def test_an_ondelete_job_that_failed_and_vanished_is_not_counted_as_success():
    world = World(make_entry(templates={"onDelete": {"jobs": [job("drop", ttlSecondsAfterFinished=0)]}},
                             delete_timeout=600),
                  informer_gvrs=[JOBS])
    world.create_cr()
    world.reconcile()
    world.delete_cr()
    world.reconcile()
    world.finish_job("site-job", "Failed")
    world.api.delete(JOBS, "site-job", "ns")        # the TTL controller was faster than the next poll
    world.clock.advance(5)
    assert world.reconcile().requeue_after == 5.0   # never seen succeeded: still waiting, not run again
    assert world.reconcile().requeue_after == 5.0
    assert FINALIZER in world.cr()["metadata"]["finalizers"]
    assert len(world.job_creates()) == 1
    assert world.runtime.recorder.reasons().count("DeleteError") == 1
    world.clock.advance(600)
    world.reconcile()                               # deleteTimeout ends the wait (docs/runtime.md §10.3 step 3)
    assert world.cr() is None and "DeleteTimeout" in world.runtime.recorder.reasons()


def test_an_ondelete_job_is_not_run_again_when_the_finalizer_patch_is_retried():
    world = World(make_entry(templates={"onDelete": {"jobs": [job("drop")]}}), informer_gvrs=[JOBS])
    world.create_cr()
    world.reconcile()
    world.delete_cr()
    world.reconcile()
    world.finish_job("site-job")
    conflicts = [409, 409]

    def finalizer_patch_loses_a_race(verb, gvr, old, new):
        if gvr == WS and old and FINALIZER not in (new["metadata"].get("finalizers") or []) and conflicts:
            raise ApiError(status=conflicts.pop(), reason="Conflict", verb=verb, resource="websites",
                           message="the object has been modified")

    world.api.add_admission(finalizer_patch_loses_a_race)
    world.reconcile()                     # step 4 deleted the finished Job; the finalizer patch lost a race
    assert FINALIZER in world.cr()["metadata"]["finalizers"]
    assert world.api.object(JOBS, "site-job", "ns") is None
    world.reconcile()
    assert len(world.job_creates()) == 1
    assert world.cr() is None


# --- item 6: deleteTimeout bounds the whole flow ----------------------------------------------------
def test_delete_timeout_ends_the_flow_even_when_ondelete_writes_fail():
    world = World(make_entry(templates={"onDelete": {"jobs": [job("drop")]}}, delete_timeout=120))
    world.create_cr()
    world.reconcile()
    world.api.fail("create", JOBS, status=403, message="namespace ns is being terminated", times=1000)
    world.delete_cr()
    with pytest.raises(ReconcileError, match="being terminated"):
        world.reconcile()
    world.clock.advance(121)
    world.reconcile()
    assert world.cr() is None
    assert "DeleteTimeout" in world.runtime.recorder.reasons()


def test_delete_timeout_also_ends_a_failing_or_waiting_on_delete_hook():
    def on_delete(ctx, obj):
        if obj["metadata"].get("labels", {}).get("mode") == "raise":
            raise RuntimeError("external API down")
        ctx.requeue_after(30)

    for mode in ("raise", "wait"):
        spec, hookset = hooks(on_delete=on_delete)
        world = World(make_entry(hooks=spec, delete_timeout=60), hooks=hookset)
        world.create_cr(labels={"mode": mode})
        world.reconcile()
        world.delete_cr()
        if mode == "raise":
            with pytest.raises(RuntimeError):
                world.reconcile()
        else:
            assert world.reconcile().requeue_after == 30
        world.clock.advance(61)
        world.reconcile()
        assert world.cr() is None, mode
        assert world.runtime.recorder.reasons().count("DeleteTimeout") == 1


# --- item 13: on_delete can wait and report status ---------------------------------------------------
def test_on_delete_can_ask_to_wait_and_set_status():
    calls = []

    def on_delete(ctx, obj):
        calls.append(obj["metadata"]["name"])
        if len(calls) == 1:
            ctx.set_status("phase", "draining")
            ctx.requeue_after(10)

    spec, hookset = hooks(on_delete=on_delete)
    world = World(make_entry(hooks=spec), hooks=hookset)
    world.create_cr()
    world.reconcile()
    world.delete_cr()
    result = world.reconcile()
    assert result.requeue_after == 10
    cr = world.cr()
    assert FINALIZER in cr["metadata"]["finalizers"] and cr["status"]["phase"] == "draining"
    world.reconcile()
    assert world.cr() is None and len(calls) == 2


# --- item 12: label-tracked children of removed entries and of hooks are deleted --------------------
def test_label_tracked_children_of_a_removed_entry_are_deleted_with_the_cr():
    v1 = make_entry(templates={"onReconcile": {"configMaps": [{"data": {"a": "b"}}],
                                               "clusterRoles": [{"rules": []}]}})
    world = World(v1, informer_gvrs=[CMS, CLUSTERROLES])
    world.create_cr()
    world.reconcile()
    assert world.api.object(CLUSTERROLES, "ns-site-clusterrole") is not None
    world.runtime.informer_gvrs = [CMS]                  # Katalog v2: the clusterRoles entry is gone
    world.reconciler(make_entry(templates={"onReconcile": {"configMaps": [{"data": {"a": "b"}}]}}))
    world.reconcile()
    world.delete_cr()
    world.reconcile()
    assert world.api.object(CLUSTERROLES, "ns-site-clusterrole") is None
    assert world.cr() is None


def test_the_records_cost_no_write_once_made():
    world = World(make_entry(finalizers=["example.io/x"], templates={"onReconcile": {"clusterRoles": [{"rules": []}]}}),
                  informer_gvrs=[CLUSTERROLES])
    world.create_cr()
    world.reconcile()
    annotations = world.cr()["metadata"]["annotations"]
    assert annotations["orkestra.io/finalizers"] == "example.io/x"
    assert annotations["orkestra.io/child-resources"] == "rbac.authorization.k8s.io/v1/clusterroles"
    world.api.clear_calls()
    world.reconcile()
    assert world.api.writes == []


def test_label_tracked_objects_a_hook_applied_are_deleted_with_the_cr():
    def on_reconcile(ctx, obj):
        ctx.apply({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                   "metadata": {"name": "site-reader"}, "rules": []})

    spec, hookset = hooks(on_reconcile=on_reconcile)
    world = World(make_entry(templates={"onReconcile": {"configMaps": [{"data": {"a": "b"}}]}}, hooks=spec),
                  hooks=hookset,
                  informer_gvrs=[CMS])
    world.create_cr()
    world.reconcile()
    assert world.api.object(CLUSTERROLES, "site-reader") is not None
    world.delete_cr()
    world.reconcile()
    assert world.api.object(CLUSTERROLES, "site-reader") is None


def test_label_tracked_objects_on_delete_applied_are_deleted_with_the_cr():
    def on_delete(ctx, obj):
        ctx.apply({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                   "metadata": {"name": "site-drain"}, "rules": []})

    spec, hookset = hooks(on_delete=on_delete)
    world = World(make_entry(hooks=spec), hooks=hookset)
    world.create_cr()
    world.reconcile()
    world.delete_cr()
    world.reconcile()
    assert world.api.writes_to(CLUSTERROLES, "site-drain")          # applied, then deleted by step 4
    assert world.api.object(CLUSTERROLES, "site-drain") is None
    assert world.cr() is None


# --- item 21: a refusal is not a race ---------------------------------------------------------------
def refuse_finalizer_removal(verb, gvr, old, new):
    if gvr == WS and old and FINALIZER in (old["metadata"].get("finalizers") or []) \
            and FINALIZER not in (new["metadata"].get("finalizers") or []):
        raise ApiError(status=422, reason="Invalid", verb=verb, resource="websites",
                       message='websites.demo.orkestra.io "site" is denied by ValidatingAdmissionPolicy "keep"')


def test_an_admission_refusal_of_the_finalizer_removal_is_a_counted_failure():
    world = World(make_entry(finalizers=["example.io/x"]))
    world.create_cr()
    world.reconcile()
    world.api.add_admission(refuse_finalizer_removal)
    world.delete_cr()
    with pytest.raises(ReconcileError, match="ValidatingAdmissionPolicy"):
        world.reconcile()
    assert FINALIZER in world.cr()["metadata"]["finalizers"]


def test_a_lagging_cache_does_not_spin_the_finalizer_removal():
    world = World(make_entry(finalizers=["example.io/x"], ignore_status_patch=True))   # no status write refreshes the CR
    world.create_cr()
    world.reconcile()
    world.delete_cr()
    world.runtime.freeze(KEY)
    world.api.patch(WS, "site", {"metadata": {"labels": {"touched": "yes"}}}, "ns")   # cache now stale
    result = world.reconcile()
    assert result.requeue_after is None and world.cr() is None


def test_repeated_conflicts_back_off():
    world = World(make_entry(finalizers=["example.io/x"]))
    world.create_cr()
    world.reconcile()
    world.delete_cr()
    world.api.fail("patch", WS, status=409, message="the object has been modified", times=100)
    delays = [world.reconcile().requeue_after for _ in range(4)]
    assert all(d is not None for d in delays) and delays == sorted(delays) and delays[-1] > delays[0]


# --- the flow on its own: a DeletionHost is all it needs ----------------------------------------------
class Host:
    """The smallest `DeletionHost`: no templates, no hook, nothing tracked by the Katalog."""

    def __init__(self, api: ApiDouble, tracked=()) -> None:
        self.api = api
        self.events: list[str] = []
        self.tracked = list(tracked)
        self._once: set = set()

    def once(self, reason, key, marker):
        new = (reason, key, marker) not in self._once
        self._once.add((reason, key, marker))
        return new

    def event(self, cr, type_, reason, message):
        self.events.append(reason)

    def set_ready(self, cr, key, *, ok, reason, message, hook_status=None):
        return cr

    def new_writer(self, cr, key):
        return ChildWriter(self.api, force=True, cached_children=[])

    def render(self, tpl, cr, writer):
        raise AssertionError("no templates in this plan")

    def run_delete_hook(self, cr, key, cancelled, writer):
        return None

    def tracked_gvrs(self):
        return self.tracked

    def report_conflicts(self, cr, key, writer):
        self.events += ["OwnerConflict" for _ in writer.conflicts]


def flow(api: ApiDouble, host: Host, finalizers=(FINALIZER,)) -> DeletionFlow:
    plan = DeletionPlan(gvr=WS, templates=[], finalizers=list(finalizers), delete_timeout=None, hooks_first=False,
                        has_hook=False)
    return DeletionFlow(host, api, plan, clock=Clock())


def deleting_cr(api: ApiDouble, finalizers: list[str], **meta) -> dict:
    api.seed(WS, {"apiVersion": "demo.orkestra.io/v1alpha1", "kind": "Website",
                  "metadata": {"name": "site", "namespace": "ns", "finalizers": finalizers, **meta}})
    api.delete(WS, "site", "ns")
    api.clear_calls()
    return api.object(WS, "site", "ns")


def test_a_cr_without_orkestra_finalizers_is_never_written():
    api = ApiDouble()
    host = Host(api)
    cr = deleting_cr(api, ["other.io/keep"])
    assert flow(api, host).run(cr, KEY, threading.Event()) == ReconcileResult()
    assert api.writes == [] and host.events == []


def test_the_flow_deletes_recorded_label_tracked_children_and_keeps_foreign_ones():
    api = ApiDouble()
    host = Host(api)
    cr = deleting_cr(api, [FINALIZER, "other.io/keep"],
                     annotations={"orkestra.io/child-resources": "rbac.authorization.k8s.io/v1/clusterroles"})
    uid = cr["metadata"]["uid"]
    for name, owner in (("mine", uid), ("foreign", "someone-else")):
        api.seed(CLUSTERROLES, {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                                "metadata": {"name": name, "labels": {"orkestra.io/owner-uid": owner}}})
    api.clear_calls()
    flow(api, host).run(cr, KEY, threading.Event())
    assert api.object(CLUSTERROLES, "mine") is None
    assert not api.touched(CLUSTERROLES, "foreign")
    assert api.object(WS, "site", "ns")["metadata"]["finalizers"] == ["other.io/keep"]
    assert host.events == ["Deleting", "FinalizerRemoved"]


def test_parse_gvr_reads_the_record_format():
    assert parse_gvr("v1/configmaps") == CMS
    assert parse_gvr("rbac.authorization.k8s.io/v1/clusterroles") == CLUSTERROLES
    assert parse_gvr("nonsense") is None
    assert [parse_gvr(str(g)) for g in (CMS, CLUSTERROLES)] == [CMS, CLUSTERROLES]


@pytest.mark.parametrize("conditions, state", [
    ([], "running"),
    ([{"type": "Complete", "status": "True"}], "succeeded"),
    ([{"type": "SuccessCriteriaMet", "status": "True"}, {"type": "Failed", "status": "False"}], "succeeded"),
    ([{"type": "Failed", "status": "True"}], "failed"),
    ([{"type": "Complete", "status": "False"}], "running"),
])
def test_job_state(conditions, state):
    assert job_state({"status": {"conditions": conditions}}) == state


# --- writer.made_for: which live object is the child (item 3) ----------------------------------------
def desired(template_id: str, owner: str = "uid-1") -> DesiredChild:
    manifest = {"metadata": {"name": "site-job", "namespace": "ns",
                             "labels": {"orkestra.io/owner-uid": owner, "orkestra.io/template": template_id}}}
    return DesiredChild(template_id=template_id, type="jobs", gvr=JOBS, kind="Job", namespaced=True, name="site-job",
                        namespace="ns", manifest=manifest, mode="create", label_tracked=False)


@pytest.mark.parametrize("live_template, live_owner, template_id, ours", [
    ("onDelete.jobs.0", "uid-1", "onDelete.jobs.0", True),
    ("onCreate.jobs.0", "uid-1", "onDelete.jobs.0", False),     # the finished onCreate Job
    ("onDelete.jobs.1", "uid-1", "onDelete.jobs.0", False),
    ("onDelete.jobs.0", "uid-2", "onDelete.jobs.0", False),     # another CR's
    ("onCreate.secrets.0", "uid-1", "onCreate.secrets.1", True),  # an entry inserted above: still ours
    ("onCreate.secrets.0", "uid-1", "onReconcile.secrets.0", True),
    (None, None, "onCreate.secrets.0", False),                    # a user's object
])
def test_made_for(live_template, live_owner, template_id, ours):
    labels = {k: v for k, v in (("orkestra.io/template", live_template), ("orkestra.io/owner-uid", live_owner)) if v}
    assert made_for({"metadata": {"labels": labels}}, desired(template_id)) is ours
