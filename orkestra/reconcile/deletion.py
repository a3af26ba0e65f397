"""The deletion flow of docs/runtime.md §10.3, run while a CR carries a `deletionTimestamp`.

Each pass repeats the whole flow on a fresh read of the CR (the informer cache can lag behind
Orkestra's own records): announce (`Deleting` once, Ready False), onDelete templates and the
`on_delete` hook in `runHooksFirst` order, wait for onDelete Jobs (a requeue after 5 s, not a
failure; `DeleteError` on a failed Job), delete label-tracked children one by one, and finally
remove Orkestra's finalizers with a patch guarded by the resourceVersion.

What makes it safe to repeat:

* every onDelete Job Orkestra creates is recorded on the CR (`orkestra.io/delete-jobs`, as
  `ns/name=<uid>`) right after it is created, and marked `ns/name=succeeded` once it is seen
  succeeded, so a Job that vanished (TTL, step 4) is never run again. A recorded Job that
  vanished before it was seen succeeded may have failed: it counts as not succeeded, like a
  failed Job (`DeleteError`, keep waiting until `deleteTimeout`);
* a Job found under the cleanup Job's name that another entry made is refused, never waited on;
* an `action: delete` entry is deleted, not waited on;
* `deleteTimeout` bounds everything before step 4: failed writes, failing hooks and pending Jobs
  are reported once with `DeleteTimeout` and the flow goes on;
* the finalizers removed are the current Katalog's plus every one recorded as added
  (`orkestra.io/finalizers`), and the GVRs searched in step 4 include every GVR recorded as
  holding a label-tracked child (`orkestra.io/child-resources`);
* `on_delete` may ask to wait (`ctx.requeue_after`) and set status; a 422 refusal of the
  finalizer patch is a failure (counted, backed off), a changed CR a quick retry that backs off.

The flow talks to its reconciler through `DeletionHost` only, so the dependency points one way.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from orkestra.durations import format_duration
from orkestra.gvk import GVR
from orkestra.kube.errors import ApiError
from orkestra.reconcile import crmeta, messages
from orkestra.reconcile.crpatch import CrApi, CrChanged, patch_cr, release
from orkestra.reconcile.errors import ApplyFailed, ReconcileError
from orkestra.reconcile.naming import LABEL_OWNER_UID
from orkestra.reconcile.render import DesiredChild, TemplateEntry
from orkestra.reconcile.runtime import ReconcileResult
from orkestra.reconcile.writer import ChildWriter, made_for

JOB_POLL_SECONDS = 5.0
CONFLICT_RETRY_SECONDS = 0.05     # first retry after a changed CR; doubles per consecutive conflict
CONFLICT_RETRY_CAP = 5.0


class DeletionApi(CrApi, Protocol):
    """The calls of `orkestra.kube.KubeClient` the deletion flow makes itself."""

    def list(self, gvr: GVR, namespace: str | None = None, label_selector: str | None = None,
             field_selector: str | None = None) -> tuple[list[dict], str]: ...


@dataclass(frozen=True)
class HookOutcome:
    """What an `on_delete` call asked for: wait (`requeue_after` seconds) and status values."""

    requeue_after: float | None
    status: dict


class DeletionHost(Protocol):
    """What the deletion flow borrows from the reconciler of its CRD."""

    def once(self, reason: str, key: str, marker: object) -> bool:
        """True the first time `(reason, key)` is seen with `marker`."""

    def event(self, cr: dict, type_: str, reason: str, message: str) -> None: ...

    def set_ready(self, cr: dict, key: str, *, ok: bool, reason: str, message: str,
                  hook_status: dict | None = None) -> dict:
        """Best-effort Ready condition (plus hook status); returns the CR as it is now."""

    def new_writer(self, cr: dict, key: str) -> ChildWriter: ...

    def render(self, tpl: TemplateEntry, cr: dict, writer: ChildWriter) -> list[DesiredChild]: ...

    def run_delete_hook(self, cr: dict, key: str, cancelled: threading.Event,
                        writer: ChildWriter) -> HookOutcome | None:
        """Call `on_delete` (None when the CRD has none)."""

    def tracked_gvrs(self) -> list[GVR]:
        """GVRs that may hold label-tracked children according to the current Katalog."""

    def report_conflicts(self, cr: dict, key: str, writer: ChildWriter) -> None:
        """Emit `OwnerConflict` for children the writer refused (docs/ownership.md)."""


@dataclass(frozen=True)
class DeletionPlan:
    """The CRD entry's facts the flow needs, fixed for the life of the reconciler."""

    gvr: GVR
    templates: list[TemplateEntry]       # the onDelete entries
    finalizers: list[str]                # Orkestra's own plus the declared ones
    delete_timeout: float | None
    hooks_first: bool
    has_hook: bool


def job_state(job: dict | None) -> str:
    """`succeeded`, `failed` or `running` from a Job's status conditions."""
    conditions = ((job or {}).get("status") or {}).get("conditions") or []
    if any(c.get("status") == "True" and c.get("type") in ("Complete", "SuccessCriteriaMet") for c in conditions):
        return "succeeded"
    if any(c.get("status") == "True" and c.get("type") == "Failed" for c in conditions):
        return "failed"
    return "running"


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _job_key(child: DesiredChild) -> str:
    return f"{child.namespace}/{child.name}" if child.namespace else child.name


JOB_SUCCEEDED = "succeeded"


def job_records(cr: dict) -> dict[str, str]:
    """The onDelete Jobs this deletion created: `ns/name` -> the Job's uid, or `succeeded`."""
    return dict(item.partition("=")[::2] for item in crmeta.recorded(cr, crmeta.DELETE_JOBS_ANNOTATION))


def _record_job(job_key: str, state: str) -> Callable[[dict], list[dict]]:
    """Patch ops (for `patch_cr`) setting the record of `job_key` to `state`; none when it says so."""
    def build(fresh: dict) -> list[dict]:
        records = job_records(fresh)
        if records.get(job_key) == state:
            return []
        records[job_key] = state
        return crmeta.record_ops(fresh, crmeta.DELETE_JOBS_ANNOTATION, [f"{k}={v}" for k, v in records.items()])
    return build


class DeletionFlow:
    def __init__(self, host: DeletionHost, kube: DeletionApi, plan: DeletionPlan, *,
                 clock: Callable[[], datetime]) -> None:
        self.host = host
        self.kube = kube
        self.plan = plan
        self.clock = clock
        self._lock = threading.Lock()
        self._conflicts: dict[str, int] = {}

    def forget(self, key: str) -> None:
        with self._lock:
            self._conflicts.pop(key, None)

    def run(self, cached: dict, key: str, cancelled: threading.Event) -> ReconcileResult:
        try:
            return self._run(cached, key, cancelled)
        except CrChanged:       # a record or the finalizers: the CR kept changing under the patch
            return self._changed(key)

    def _changed(self, key: str) -> ReconcileResult:
        """Requeue soon, backing off while the CR keeps changing; not a failure (§10.3 step 5)."""
        with self._lock:
            count = self._conflicts[key] = self._conflicts.get(key, 0) + 1
        return ReconcileResult(requeue_after=min(CONFLICT_RETRY_SECONDS * 2 ** (count - 1), CONFLICT_RETRY_CAP))

    def _run(self, cached: dict, key: str, cancelled: threading.Event) -> ReconcileResult:
        meta = cached["metadata"]
        cr = self.kube.get(self.plan.gvr, meta["name"], meta.get("namespace"))
        if cr is None or not cr["metadata"].get("deletionTimestamp"):
            return ReconcileResult()
        if not crmeta.finalizers_to_remove(cr, self.plan.finalizers):
            return ReconcileResult()
        host = self.host
        if host.once("Deleting", key, cr["metadata"]["uid"]):
            host.event(cr, "Normal", "Deleting", messages.deleting(bool(self.plan.templates) or self.plan.has_hook))
            cr = host.set_ready(cr, key, ok=False, reason="Deleting", message="the CR is being deleted")
        writer = host.new_writer(cr, key)
        jobs: list[DesiredChild] = []
        outcome: HookOutcome | None = None
        try:
            for step in ("hook", "templates") if self.plan.hooks_first else ("templates", "hook"):
                if step == "templates":
                    cr, jobs = self._templates(cr, key, writer)
                else:
                    outcome = self._hook(cr, key, cancelled, writer)
        finally:
            host.report_conflicts(cr, key, writer)
        if outcome is not None and outcome.status:
            cr = host.set_ready(cr, key, ok=False, reason="Deleting", message="the CR is being deleted",
                                hook_status=outcome.status)
        self._check_failures(cr, key, writer)
        if outcome is not None and outcome.requeue_after and not self._timed_out(cr, key, ["the on_delete hook"]):
            return ReconcileResult(requeue_after=outcome.requeue_after)
        cr, pending = self._pending_jobs(cr, key, jobs, writer)
        self._check_failures(cr, key, writer)
        if pending and not self._timed_out(cr, key, pending):
            return ReconcileResult(requeue_after=JOB_POLL_SECONDS)
        self._delete_tracked(cr, key, writer)
        self._check_failures(cr, key, writer)
        return self._remove_finalizers(cr, key)

    def release(self, key: str, *, keep: Callable[[dict], bool]) -> ReconcileResult:
        """The object is not in this CRD's cache but may still exist: it left the entry's selector
        or namespace, so Orkestra no longer manages it and removes the finalizers it added, or the
        object could never be deleted (issue 9 item 10). No write when it holds none, or when
        `keep(obj)` says another entry may manage it now."""
        namespace, _, name = key.rpartition("/")
        obj = self.kube.get(self.plan.gvr, name, namespace or None)
        if obj is None or keep(obj):
            return ReconcileResult()
        try:
            return self._remove_finalizers(obj, key)
        except CrChanged:
            return self._changed(key)

    # --- step 2 ------------------------------------------------------------------------------------
    def _templates(self, cr: dict, key: str, writer: ChildWriter) -> tuple[dict, list[DesiredChild]]:
        jobs: list[DesiredChild] = []
        for tpl in self.plan.templates:
            for child in self.host.render(tpl, cr, writer):
                if tpl.type == "jobs" and child.mode != "delete":
                    cr = self._ensure_job(cr, child, writer)
                    jobs.append(child)
                else:
                    writer.write(child)
        return cr, jobs

    def _ensure_job(self, cr: dict, child: DesiredChild, writer: ChildWriter) -> dict:
        """Create the onDelete Job unless this deletion already created it; record it (with its
        uid) at once."""
        job_key = _job_key(child)
        if job_key in job_records(cr):
            return cr
        live = writer.write(child)
        if live is None:
            return cr
        return patch_cr(self.kube, self.plan.gvr, cr, _record_job(job_key, live["metadata"]["uid"])) or cr

    def _hook(self, cr: dict, key: str, cancelled: threading.Event, writer: ChildWriter) -> HookOutcome | None:
        try:
            return self.host.run_delete_hook(cr, key, cancelled, writer)
        except Exception as err:    # noqa: BLE001 - the hook's own failure; re-raised unless timed out
            if not self._timed_out(cr, key, [f"the on_delete hook ({err})"]):
                raise
            return None

    def _check_failures(self, cr: dict, key: str, writer: ChildWriter) -> None:
        if writer.failures and not self._timed_out(cr, key, [ref for ref, _ in writer.failures]):
            raise ApplyFailed(messages.apply_failed(writer.failures))

    # --- step 3 ------------------------------------------------------------------------------------
    def _pending_jobs(self, cr: dict, key: str, jobs: list[DesiredChild],
                      writer: ChildWriter) -> tuple[dict, list[str]]:
        """The onDelete Jobs not yet seen succeeded; a success seen now is recorded on the CR."""
        pending = []
        for job in jobs:
            job_key = _job_key(job)
            recorded = job_records(cr).get(job_key)
            if recorded == JOB_SUCCEEDED:
                continue
            if recorded is None:
                pending.append(job.ref)     # not created: its write failed (reported by _check_failures)
                continue
            failures = len(writer.failures)
            live = writer.fresh(job)
            if len(writer.failures) > failures:
                continue        # the read failed: reported by _check_failures
            if live is None or live["metadata"].get("uid") != recorded:
                # Created by this deletion, gone before it was seen succeeded (or replaced): it may
                # have failed, and running it again could repeat a cleanup that did succeed.
                pending.append(job.ref)
                if self.host.once(f"DeleteError {job.ref}", key, f"vanished {recorded}"):
                    self.host.event(cr, "Warning", "DeleteError", messages.delete_job_vanished(job.ref))
                continue
            if not made_for(live, job):
                writer.failures.append((job.ref, "exists and was not made by this onDelete entry"))
                continue
            state = job_state(live)
            if state == "succeeded":
                cr = patch_cr(self.kube, self.plan.gvr, cr, _record_job(job_key, JOB_SUCCEEDED)) or cr
                continue
            pending.append(job.ref)
            if state == "failed" and self.host.once(f"DeleteError {job.ref}", key, live["metadata"].get("uid")):
                self.host.event(cr, "Warning", "DeleteError", messages.delete_job_failed(job.ref))
        return cr, pending

    def _timed_out(self, cr: dict, key: str, skipped: list[str]) -> bool:
        """True when `deleteTimeout` has passed; reports `DeleteTimeout` once per CR."""
        timeout = self.plan.delete_timeout
        if timeout is None:
            return False
        since = _parse_time(cr["metadata"]["deletionTimestamp"])
        if (self.clock() - since).total_seconds() < timeout:
            return False
        if self.host.once("DeleteTimeout", key, cr["metadata"]["uid"]):
            self.host.event(cr, "Warning", "DeleteTimeout", messages.delete_timeout(format_duration(timeout), skipped))
        return True

    # --- step 4 ------------------------------------------------------------------------------------
    def _tracked_gvrs(self, cr: dict, writer: ChildWriter) -> list[GVR]:
        """The current Katalog's, the recorded ones, and those written in this pass (`on_delete`'s
        `ctx.apply` of a kind declared nowhere)."""
        gvrs = list(self.host.tracked_gvrs())
        for gvr in [*crmeta.recorded_gvrs(cr), *writer.tracked_gvrs]:
            if gvr not in gvrs:
                gvrs.append(gvr)
        return gvrs

    def _delete_tracked(self, cr: dict, key: str, writer: ChildWriter) -> None:
        uid = cr["metadata"]["uid"]
        for gvr in self._tracked_gvrs(cr, writer):
            try:
                items, _ = self.kube.list(gvr, label_selector=f"{LABEL_OWNER_UID}={uid}")
            except ApiError as err:
                if err.status == 404:
                    continue
                if self._timed_out(cr, key, [f"label-tracked {gvr.resource}"]):
                    continue
                raise ReconcileError(f"listing label-tracked children: {err}") from None
            for obj in items:
                m = obj["metadata"]
                writer.delete(gvr, obj.get("kind") or gvr.resource, m["name"], m.get("namespace"))

    # --- step 5 ------------------------------------------------------------------------------------
    def _remove_finalizers(self, cr: dict, key: str) -> ReconcileResult:
        try:
            removed = release(self.kube, self.plan.gvr, cr, self.plan.finalizers)
        except ApiError as err:
            raise ReconcileError(f"removing Orkestra's finalizers: {err.message or err}") from None
        self.forget(key)
        if removed:
            self.host.event(cr, "Normal", "FinalizerRemoved", messages.finalizers("removed", removed))
        return ReconcileResult()
