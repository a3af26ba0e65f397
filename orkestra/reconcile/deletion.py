"""The deletion flow of runtime.md §10.3, run while a CR carries a `deletionTimestamp`.

Each pass is idempotent and repeats the whole flow: announce (`Deleting` once, Ready False),
onDelete templates and the `on_delete` hook in `runHooksFirst` order, wait for onDelete Jobs
(a requeue after 5 s, not a failure; `DeleteError` on a failed Job; `deleteTimeout` ends the
wait with `DeleteTimeout`), delete label-tracked children one by one, and finally remove
Orkestra's and the declared finalizers with a patch guarded by the resourceVersion, so a CR that
changed in between is simply reconciled again.
"""
from __future__ import annotations

import copy
import logging
import threading
from datetime import datetime

from orkestra.durations import format_duration
from orkestra.kube.errors import ApiError
from orkestra.reconcile import crmeta, messages
from orkestra.reconcile.errors import ApplyFailed, ReconcileError
from orkestra.reconcile.naming import LABEL_OWNER_UID
from orkestra.reconcile.render import DesiredChild, render_entry
from orkestra.reconcile.runtime import ReconcileResult
from orkestra.reconcile.writer import ChildWriter

log = logging.getLogger("orkestra.reconcile")
JOB_POLL_SECONDS = 5.0
RETRY_NOW_SECONDS = 0.05      # "requeue at once": the smallest delay the queue's add_after honours


def job_state(job: dict | None) -> str:
    """`succeeded`, `failed` or `running` from a Job's status conditions."""
    for cond in ((job or {}).get("status") or {}).get("conditions") or []:
        if cond.get("status") == "True" and cond.get("type") in ("Complete", "SuccessCriteriaMet"):
            return "succeeded"
    for cond in ((job or {}).get("status") or {}).get("conditions") or []:
        if cond.get("status") == "True" and cond.get("type") == "Failed":
            return "failed"
    return "running"


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class DeletionFlow:
    def __init__(self, reconciler) -> None:
        self.rec = reconciler

    def run(self, cr: dict, key: str, cancelled: threading.Event) -> ReconcileResult:
        rec = self.rec
        meta = cr["metadata"]
        ours = crmeta.wanted_finalizers(rec.entry.box.finalizers)
        if not any(f in ours for f in meta.get("finalizers") or []):
            return ReconcileResult()
        if rec.once("Deleting", key, meta["uid"]):
            has_work = bool(rec.delete_templates) or bool(rec.hooks and rec.hooks.has_on_delete)
            rec.event(cr, "Normal", "Deleting", messages.deleting(has_work))
            cr = rec.set_ready(cr, key, ok=False, reason="Deleting", message="the CR is being deleted")
        writer = rec.new_writer(cr, key)
        jobs: list[DesiredChild] = []
        steps = [self._hook, self._templates] if rec.hooks and rec.hooks.run_first else [self._templates, self._hook]
        try:
            for step in steps:
                jobs += step(cr, key, cancelled, writer)
        finally:
            rec.report_conflicts(cr, key, writer)
        if writer.failures:
            raise ApplyFailed(messages.apply_failed(writer.failures))
        if not self._jobs_done(cr, key, jobs, writer):
            return ReconcileResult(requeue_after=JOB_POLL_SECONDS)
        self._delete_tracked(meta["uid"], writer)
        if writer.failures:
            raise ApplyFailed(messages.apply_failed(writer.failures))
        return self._remove_finalizers(cr, key, ours)

    def _templates(self, cr: dict, key: str, cancelled: threading.Event, writer: ChildWriter) -> list[DesiredChild]:
        jobs = []
        for tpl in self.rec.delete_templates:
            children = render_entry(tpl, cr, children=writer.children(), resolve_kind=self.rec.resolve_kind,
                                    read_source=self.rec.read_source)
            for child in children:
                writer.write(child)
            if tpl.type == "jobs":
                jobs += children
        return jobs

    def _hook(self, cr: dict, key: str, cancelled: threading.Event, writer: ChildWriter) -> list[DesiredChild]:
        rec = self.rec
        if rec.hooks is not None and rec.hooks.has_on_delete:
            ctx = rec.hook_context(cr, key, cancelled, writer)
            rec.hooks.callbacks["on_delete"](ctx, copy.deepcopy(cr))
        return []

    def _jobs_done(self, cr: dict, key: str, jobs: list[DesiredChild], writer: ChildWriter) -> bool:
        rec = self.rec
        pending = []
        for job in jobs:
            live = writer.fresh(job)
            state = job_state(live)
            if state == "succeeded":
                continue
            pending.append(job.ref)
            if state == "failed" and rec.once(f"DeleteError {job.ref}", key, live["metadata"].get("uid")):
                rec.event(cr, "Warning", "DeleteError", messages.delete_job_failed(job.ref))
        if writer.failures:
            raise ApplyFailed(messages.apply_failed(writer.failures))
        if not pending:
            return True
        timeout = rec.entry.box.delete_timeout
        since = _parse_time(cr["metadata"]["deletionTimestamp"])
        if timeout is not None and (rec.clock() - since).total_seconds() >= timeout:
            if rec.once("DeleteTimeout", key, cr["metadata"]["uid"]):
                rec.event(cr, "Warning", "DeleteTimeout", messages.delete_timeout(format_duration(timeout), pending))
            return True
        return False

    def _delete_tracked(self, uid: str, writer: ChildWriter) -> None:
        kube = self.rec.runtime.kube
        for gvr in self.rec.label_tracked_gvrs():
            try:
                items, _ = kube.list(gvr, label_selector=f"{LABEL_OWNER_UID}={uid}")
            except ApiError as err:
                if err.status == 404:
                    continue
                raise ReconcileError(f"listing label-tracked children: {err}") from None
            for obj in items:
                m = obj["metadata"]
                writer.delete(gvr, obj.get("kind") or gvr.resource, m["name"], m.get("namespace"))

    def _remove_finalizers(self, cr: dict, key: str, ours: list[str]) -> ReconcileResult:
        rec = self.rec
        ops, removed = crmeta.remove_finalizers_patch(cr, ours)
        if not ops:
            return ReconcileResult()
        meta = cr["metadata"]
        try:
            rec.runtime.kube.patch(rec.entry.api.gvr, meta["name"], ops, meta.get("namespace"), patch_type="json")
        except ApiError as err:
            if err.status in (409, 422):
                return ReconcileResult(requeue_after=RETRY_NOW_SECONDS)
            if err.status == 404:
                return ReconcileResult()
            raise
        rec.event(cr, "Normal", "FinalizerRemoved", messages.finalizers("removed", removed))
        return ReconcileResult()
