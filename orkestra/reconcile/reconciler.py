"""The generic reconciler: docs/runtime.md §10.1 for one CRD, one key at a time.

`DeclarativeReconciler.reconcile` reads the CR from the cache and walks the pipeline in order:
deletion flow (delegated to `orkestra.reconcile.deletion`), namespace rules, finalizers, CR
metadata, validation and mutation, templates and hooks, pruning, status, the `Reconciled` event.
Decisions are made by the pure modules (render, crmeta, status, messages, rules); this class
only sequences them and does the I/O through the `ReconcileRuntime`. Several workers call it
concurrently for different keys, so the per-CR memory (once-per-generation events, in-process
success records for kinds without status) sits behind a lock.
"""
from __future__ import annotations

import copy
import logging
import threading
from datetime import datetime, timezone
from typing import Any, Callable

from orkestra.conditions import resolve_field
from orkestra.conditions.rules import compute_mutation, evaluate_validation
from orkestra.gvk import GVR, api_version_of
from orkestra.hooks.context import HookContext
from orkestra.hooks.loader import HookSet, calls_for
from orkestra.informers.store import object_key
from orkestra.katalog import builtins
from orkestra.katalog.model import CrdEntry, Katalog
from orkestra.kube import decode
from orkestra.kube.errors import ApiError
from orkestra.reconcile import crmeta, messages
from orkestra.reconcile.applied import AppliedRecords
from orkestra.reconcile.crpatch import BuildOps, patch_cr
from orkestra.reconcile.deletion import DeletionFlow, DeletionPlan, HookOutcome
from orkestra.reconcile.errors import ApplyFailed, CrGone, ReconcileError, ValidationDenied
from orkestra.reconcile.hookhost import ReconcileHookHost, render_hook_args
from orkestra.reconcile.kinds import text_map
from orkestra.reconcile.naming import LABEL_OWNER_UID
from orkestra.reconcile.ownwrites import OwnWrites
from orkestra.reconcile.prune import PrunePlan, identity, object_identity, pruned_when_removed
from orkestra.reconcile import resync
from orkestra.reconcile.render import (DesiredChild, TemplateEntry, compile_entries, may_label_track,
                                       render_entry, render_value, tracked_gvrs)
from orkestra.reconcile.runtime import ReconcileResult, ReconcileRuntime
from orkestra.reconcile.status import StatusField, compute_status, evaluate_fields, status_patch
from orkestra.reconcile.writer import ChildWriter
from orkestra.template import compile_template

log = logging.getLogger("orkestra.reconcile")
Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class DeclarativeReconciler:
    """The `Reconciler` of one CRD entry: compiled templates, status fields and hooks, plus per-CR memory."""

    def __init__(self, entry: CrdEntry, *, katalog: Katalog, runtime: ReconcileRuntime,
                 hooks: HookSet | None = None, clock: Clock | None = None) -> None:
        self.entry = entry
        self.katalog = katalog
        self.runtime = runtime
        self.hooks = hooks
        self.clock = clock or _utcnow
        self.templates = compile_entries(entry, ("onCreate", "onReconcile"))
        self._desired_ids = frozenset(t.id for t in self.templates if t.desired_state)
        self._entry_ids = frozenset(t.id for t in self.templates)
        self.delete_templates = compile_entries(entry, ("onDelete",))
        self.status_fields = [StatusField.compile(f) for f in entry.box_spec.status.get("fields") or []]
        for text in list(entry.labels.values()) + list((entry.box_spec.hooks.args if entry.box_spec.hooks else {}).values()):
            if isinstance(text, str) and "{{" in text:
                compile_template(text)
        self._lock = threading.Lock()
        self._once: dict[tuple[str, str], Any] = {}     # (reason, key) -> generation/uid already reported
        self._event_failing: set[str] = set()            # keys whose last Event could not be written
        self._succeeded: dict[str, tuple[str, int | None]] = {}   # key -> (uid, generation), kinds without status
        self._writes_status: bool | None = None
        self.applied = AppliedRecords()
        self.own_writes = OwnWrites()
        self.resync_memo = resync.ResyncMemo()
        self._skippable = resync.skippable(entry, has_hooks=hooks is not None)
        self.deletion = DeletionFlow(self, runtime.kube, DeletionPlan(
            gvr=entry.api.gvr, templates=self.delete_templates,
            finalizers=crmeta.wanted_finalizers(entry.box_spec.finalizers), delete_timeout=entry.box_spec.delete_timeout,
            hooks_first=bool(hooks and hooks.run_first), has_hook=bool(hooks and hooks.has_on_delete)),
            clock=self.clock)

    # --- small helpers -------------------------------------------------------------------------
    @property
    def crd(self) -> str:
        return self.entry.key

    def _patch_cr(self, cr: dict, build: BuildOps) -> dict | None:
        """`patch_cr` of the CR's metadata, known to `own_writes` by the version its ops were
        computed from, so that its update event queues nothing (`orkestra.reconcile.ownwrites`)."""
        based_on: list[dict] = []

        def tracked(fresh: dict) -> list[dict]:
            based_on[:] = [fresh]
            return build(fresh)

        with self.own_writes.writing(object_key(cr), cr) as answered:
            after = patch_cr(self.runtime.kube, self.entry.api.gvr, cr, tracked)
            answered(after, based_on[0] if based_on else None)
        return after

    def _extra(self, key: str) -> dict:
        return {"crd": self.crd, "key": key}

    def resolve_kind(self, api_version: str, kind: str):
        return self.runtime.discovery.resolve(api_version, kind)

    def read_source(self, gvr: GVR, namespace: str, name: str) -> dict | None:
        """The Secret or ConfigMap a copy-form template copies from."""
        return self.runtime.kube.get(gvr, name, namespace)

    def event(self, cr: dict, type_: str, reason: str, message: str) -> None:
        """Write an Event on `cr` (the recorder may write it later, off this worker's time); one
        that cannot be written (an Events rule missing from the ClusterRole, say) is an active
        warning of `cr` until an Event of this CRD is written: a CR that needs no new Event keeps
        no stale warning once the rule is back."""
        key = object_key(cr)
        self.runtime.recorder.event(cr, type_, reason, messages.truncate(message), crd=self.crd,
                                    on_written=lambda failure: self._event_written(key, reason, failure))

    def _event_written(self, key: str, reason: str, failure: Exception | None) -> None:
        if failure is not None:
            with self._lock:
                self._event_failing.add(key)
            self.runtime.set_warnings(key, "events", [{"message": messages.event_not_written(reason, failure)}])
            return
        with self._lock:
            cleared, self._event_failing = self._event_failing, set()
        for failed in cleared:
            self.runtime.set_warnings(failed, "events", [])

    def once(self, reason: str, key: str, marker: Any) -> bool:
        """True the first time `(reason, key)` is seen with `marker` (a generation or uid)."""
        with self._lock:
            if self._once.get((reason, key)) == marker:
                return False
            self._once[(reason, key)] = marker
            return True

    @property
    def writes_status(self) -> bool:
        """False for built-ins, ignoreStatusPatch and CRDs without a status subresource (warned once)."""
        if self._writes_status is None:
            if self.entry.api.builtin or self.entry.ignore_status_patch:
                self._writes_status = False
            else:
                self._writes_status = bool(self.runtime.discovery.has_status(self.entry.api.gvr))
                if not self._writes_status:
                    log.warning("CRD %s has no status subresource; Orkestra writes no status for it",
                                self.entry.api.crd_name, extra={"crd": self.crd})
        return self._writes_status

    def wanted_finalizers(self, cr: dict) -> list[str]:
        """Orkestra's finalizer plus the declared ones when the CR needs a deletion flow (§7.1), else []."""
        needs = bool(self.delete_templates or self.entry.box_spec.finalizers
                     or (self.hooks is not None and self.hooks.has_on_delete)
                     or may_label_track(self.templates, cr_namespaced=bool(cr["metadata"].get("namespace")),
                                        resolve_kind=self.resolve_kind))
        return crmeta.wanted_finalizers(self.entry.box_spec.finalizers) if needs else []

    def tracked_gvrs(self) -> list[GVR]:
        """Where the deletion flow looks: child informers, template kinds and hook managedResources."""
        gvrs = list(self.runtime.child_informer_gvrs())
        for gvr in tracked_gvrs(self.templates + self.delete_templates, self.resolve_kind) + self._managed_gvrs():
            if gvr not in gvrs:
                gvrs.append(gvr)
        return gvrs

    def _managed_gvrs(self) -> list:
        out = []
        for res in self.entry.box_spec.hooks.managed_resources if self.entry.box_spec.hooks else ():
            api_version = res.get("apiVersion")
            if not api_version:
                builtin = builtins.lookup(res["kind"])
                if builtin is None:
                    continue
                api_version = api_version_of(builtin.group, builtin.version)
            resolved = self.resolve_kind(api_version, res["kind"])
            if resolved is not None:
                out.append(resolved[0])
        return out

    def report_conflicts(self, cr: dict, key: str, writer: ChildWriter) -> None:
        """`OwnerConflict` (Warning) once per generation and child the writer refused to take over."""
        for conflict in writer.conflicts:
            if self.once(f"OwnerConflict {conflict.ref}", key, cr["metadata"].get("generation")):
                self.event(cr, "Warning", "OwnerConflict", str(conflict))

    def render(self, tpl: TemplateEntry, cr: dict, writer: ChildWriter) -> list[DesiredChild]:
        return render_entry(tpl, cr, children=writer.children(), resolve_kind=self.resolve_kind,
                            read_source=self.read_source)

    def run_delete_hook(self, cr: dict, key: str, cancelled: threading.Event,
                        writer: ChildWriter) -> HookOutcome | None:
        if self.hooks is None or not self.hooks.has_on_delete:
            return None
        ctx = self.hook_context(cr, key, cancelled, writer)
        self.hooks.callbacks["on_delete"](ctx, copy.deepcopy(cr))
        return HookOutcome(requeue_after=ctx.requeue, status=dict(ctx.status))

    def new_writer(self, cr: dict, key: str) -> ChildWriter:
        return ChildWriter(self.runtime.kube, force=self.entry.force_conflict,
                           cached_children=self.runtime.children(cr["metadata"]["uid"]),
                           applied=self.applied.for_cr(key), crd=self.crd, key=key, owner=self.entry.api.gvr)

    # --- the pipeline ----------------------------------------------------------------------------
    def reconcile(self, key: str, cancelled: threading.Event) -> ReconcileResult:
        cached = self.runtime.cached(key)
        if cached is None:
            return self.deletion.release(key, keep=self._in_another_entry)
        inputs = self._inputs(cached) if self._skippable else None
        if inputs is not None and self.resync_memo.unchanged(key, inputs):
            return ReconcileResult()      # nothing it reads changed since its last quiet pass
        self.resync_memo.drop(key)
        try:
            return self._reconcile_cached(cached, key, cancelled, inputs)
        except (ApiError, CrGone) as err:
            # A cache that has not yet seen a delete (after an outage, before the relist) hands
            # over a CR that is gone: its writes answer 404. Not a failure: its delete event follows.
            if (isinstance(err, CrGone) or err.not_found) and self._gone(cached):
                log.debug("the CR is gone; nothing to reconcile", extra=self._extra(key))
                return ReconcileResult()
            raise

    def _inputs(self, cr: dict) -> resync.Inputs | None:
        """What a reconcile of `cr` reads that an event can change (`orkestra.reconcile.resync`)."""
        return resync.inputs_of(cr, self.runtime.children(cr["metadata"]["uid"]),
                                list(self.runtime.child_informer_gvrs()))

    def _gone(self, cr: dict) -> bool:
        """True when the API server says the CR no longer exists; when it cannot tell, the error
        that made us ask stands."""
        meta = cr["metadata"]
        try:
            fresh = self.runtime.kube.get(self.entry.api.gvr, meta["name"], meta.get("namespace"))
        except ApiError:
            return False
        return fresh is None or fresh["metadata"].get("uid") != meta.get("uid")

    def _remove_if_orphaned(self, cr: dict, key: str, writer: ChildWriter) -> None:
        """When this reconcile created children and the CR is gone (a cache that had not seen its
        delete yet), delete them again, each by its uid, and raise `CrGone`: their owner reference
        names a uid that no longer exists, and Orkestra never leaves behind what it created
        (docs/ownership.md). One GET of the CR, only after a creation that no CR write confirmed."""
        if not writer.created or not self._gone(cr):
            return
        failed_before = len(writer.failures)
        created, writer.created = writer.created, []         # deleted once, whichever path raises
        for gvr, obj in created:
            meta = obj["metadata"]
            writer.delete(gvr, obj.get("kind") or gvr.resource, meta["name"], meta.get("namespace"), uid=meta.get("uid"))
        for ref, reason in writer.failures[failed_before:]:
            log.warning("could not delete %s, created for a CR deleted meanwhile: %s", ref, reason,
                        extra=self._extra(key))
        raise CrGone(f"the CR was deleted while its children were written; {len(created)} created "
                     "for it deleted again")

    def _reconcile_cached(self, cached: dict, key: str, cancelled: threading.Event,
                          inputs: resync.Inputs | None = None) -> ReconcileResult:
        cr = cached        # read-only from here on: only a hook gets a copy (docs/runtime.md §1)
        meta = cr["metadata"]
        if meta.get("deletionTimestamp"):
            return self.deletion.run(cr, key, cancelled)
        too_deep = decode.too_deep_error(cr)
        if too_deep is not None:     # the informer holds only a cut copy: never act on it
            raise ReconcileError(too_deep)
        if not crmeta.namespace_allowed(meta.get("namespace"), self.entry.allowed_namespaces,
                                        self.entry.restricted_namespaces):
            if self.once("NamespaceRestricted", key, meta.get("generation")):
                self.event(cr, "Warning", "NamespaceRestricted", messages.namespace_restricted(meta["namespace"], self.crd))
            return ReconcileResult()
        reconciled_before, generation_newer = self._history(cr, key)
        cr = self._patch_metadata(cr, key, self.wanted_finalizers(cr))
        cr = self._validate_and_mutate(cr, key)
        meta = cr["metadata"]
        writer = self.new_writer(cr, key)
        hook_calls = calls_for(self.hooks, reconciled_before=reconciled_before,
                               generation_newer=generation_newer) if self.hooks is not None else []
        try:
            return self._write(cr, key, writer, cancelled, hook_calls, generation_newer, cached, inputs)
        except BaseException:
            self._remove_if_orphaned(cr, key, writer)
            raise

    def _write(self, cr: dict, key: str, writer: ChildWriter, cancelled: threading.Event, hook_calls: list,
               generation_newer: bool, cached: dict, inputs: resync.Inputs | None) -> ReconcileResult:
        """Steps 6 to 9: hooks and templates, the record of child GVRs, status, the Reconciled Event;
        a reconcile that changed nothing leaves its `inputs` in the resync memo (`cached` is the CR
        as the cache handed it over)."""
        owner, meta = cr, cr["metadata"]         # the CR the children are written for
        hook_ctx: HookContext | None = None
        emptied: list[GVR] = []
        try:
            if self.hooks is not None and self.hooks.run_first:
                hook_ctx = self._run_hooks(cr, key, cancelled, writer, hook_calls)
            emptied = self._run_templates(cr, writer, cancelled)
            if self.hooks is not None and not self.hooks.run_first:
                hook_ctx = self._run_hooks(cr, key, cancelled, writer, hook_calls)
        finally:        # also when a hook raised after its ctx.apply met a conflict
            self.report_conflicts(cr, key, writer)
        cr = self._record_tracked_gvrs(cr, writer, emptied)
        if writer.failures:
            raise ApplyFailed(messages.apply_failed(messages.name_big_fields(writer.failures, cr)))
        generation = meta.get("generation")
        written = self._write_status(cr, key, ok=True, reason="Reconciled",
                                     message=f"reconciled generation {generation}",
                                     writer=writer, hook_status=hook_ctx.status if hook_ctx else {})
        if written is cr or written["metadata"].get("uid") != meta["uid"]:
            # no status write proved *this* CR still there: a write by name may land on a CR
            # created since under the same name (also the one a guarded patch re-read)
            self._remove_if_orphaned(owner, key, writer)
        with self._lock:
            self._succeeded[key] = (meta["uid"], generation)
        if writer.changes or generation_newer:
            self.event(cr, "Normal", "Reconciled", messages.reconciled(generation, writer.changes))
        result = ReconcileResult(requeue_after=hook_ctx.requeue if hook_ctx else None)
        if inputs is not None and resync.quiet(cached, cr, written, changes=writer.changes, conflicts=writer.conflicts,
                                               failures=writer.failures, produced=writer.produced, inputs=inputs,
                                               requeue=result.requeue_after):
            self.resync_memo.remember(key, inputs)
        return result

    def _in_another_entry(self, obj: dict) -> bool:
        """May another enabled entry of the same kind manage `obj` now? Entries of one kind differ
        by scope only, and share `orkestra.io/finalizer`: an object that moved from this entry's
        selector into another's keeps its finalizers. A field selector is not evaluated here, so
        an entry that has one is assumed to match."""
        namespace = obj["metadata"].get("namespace")
        return any(e.key != self.entry.key and e.api.gvr == self.entry.api.gvr and e.selects(namespace, obj)
                   for e in self.katalog.enabled)

    def holds_finalizers(self, obj: dict) -> bool:
        return bool(crmeta.finalizers_to_remove(obj, self.deletion.plan.finalizers))

    def forget(self, key: str) -> None:
        self.resync_memo.drop(key)
        self.applied.forget(key)
        self.own_writes.forget(key)
        self.deletion.forget(key)
        with self._lock:
            self._succeeded.pop(key, None)
            self._event_failing.discard(key)
            for k in [k for k in self._once if k[1] == key]:
                del self._once[k]

    def report_failure(self, key: str, error: BaseException, reason: str) -> None:
        """Best-effort Ready False with `reason` and the error string; never raises."""
        try:
            cr = self.runtime.cached(key)
            if cr is None or not self.writes_status or cr["metadata"].get("deletionTimestamp"):
                return
            self._write_status(cr, key, ok=False, reason=reason, message=messages.truncate(str(error)),
                               writer=self.new_writer(cr, key), hook_status={})
        except Exception as err:  # noqa: BLE001 - best effort by contract
            log.warning("could not write the failure status: %s", err, extra=self._extra(key))

    # --- steps -----------------------------------------------------------------------------------
    def _history(self, cr: dict, key: str) -> tuple[bool, bool]:
        """(reconciled successfully before, generation newer than the last success) — hook call rules.

        The status's observedGeneration when Orkestra writes it, and this process's own record of
        successes (which also covers a cache that has not yet seen the last status write)."""
        generation = cr["metadata"].get("generation")
        seen: list[int | None] = []
        if self.writes_status and self.entry.box_spec.status.get("conditions", True):
            seen.append((cr.get("status") or {}).get("observedGeneration"))
        with self._lock:
            uid, remembered = self._succeeded.get(key, (None, None))
        if uid == cr["metadata"]["uid"]:
            seen.append(remembered if remembered is not None else 0)
        known = [g for g in seen if g is not None]
        if not known:
            return False, True
        observed = max(known)
        return True, generation is not None and generation > observed

    def add_finalizers(self, cr: dict, wanted: list[str]) -> dict:
        """Add the missing ones, guarded by the resourceVersion so that a stale copy never drops
        another controller's finalizer, and record them on the CR for their later removal."""
        added: list[str] = []

        def build(fresh: dict) -> list[dict]:
            ops, names = crmeta.add_finalizers_patch(fresh, wanted)
            added[:] = names
            return ops

        patched = self._patch_cr(cr, build)
        if patched is None:
            raise CrGone("the CR was deleted while Orkestra added its finalizers")
        if added:
            self.event(patched, "Normal", "FinalizerAdded", messages.finalizers("added", added))
        return patched

    def _record_tracked_gvrs(self, cr: dict, writer: ChildWriter, emptied: list[GVR]) -> dict:
        """Record on the CR every GVR that now holds a label-tracked child of it, or a child pruned
        once its entry goes, so that the deletion flow and pruning find them whatever the Katalog
        says by then (issue 9 item 12). A recorded GVR that pruning `emptied` (no child of this CR
        left there, none written in this pass) is dropped, so it is not listed on every reconcile."""
        new = [str(g) for g in writer.tracked_gvrs]
        gone = {str(g) for g in emptied if g not in writer.tracked_gvrs}
        have = crmeta.recorded(cr, crmeta.CHILD_RESOURCES_ANNOTATION)
        if all(g in have for g in new) and not gone & set(have):
            return cr

        def build(fresh: dict) -> list[dict]:
            have = crmeta.recorded(fresh, crmeta.CHILD_RESOURCES_ANNOTATION)
            kept = [g for g in have if g not in gone]
            return crmeta.record_ops(fresh, crmeta.CHILD_RESOURCES_ANNOTATION, kept + [g for g in new if g not in kept])

        return self._patch_cr(cr, build) or cr

    def _patch_metadata(self, cr: dict, key: str, finalizers: list[str]) -> dict:
        """Steps 4 and 5 in one write: the missing `finalizers` (with their record), the CR
        metadata, and the record of the child GVRs known before rendering (`_record_ahead`), so
        that a new CR gets one metadata write instead of two (issue 15). Sent as JSON patch ops,
        guarded by the resourceVersion: a stale copy never drops another controller's finalizer,
        and `own_writes` knows which version the write was computed from."""
        labels = text_map(render_value(self.entry.labels, cr, {}, f"spec.crds.{self.crd}.labels"))
        katalog_name = None if self.entry.api.builtin else self.katalog.name
        ahead = self._record_ahead()

        def wanted(fresh: dict) -> dict | None:
            patch = crmeta.metadata_patch(fresh, labels=labels, protection=self.entry.deletion_protection,
                                          katalog_name=katalog_name)
            have = crmeta.recorded(fresh, crmeta.CHILD_RESOURCES_ANNOTATION)
            if all(g in have for g in ahead):
                return patch
            patch = patch or {"metadata": {}}
            value = ",".join(have + [g for g in ahead if g not in have])
            patch["metadata"].setdefault("annotations", {})[crmeta.CHILD_RESOURCES_ANNOTATION] = value
            return patch

        if wanted(cr) is None and not crmeta.add_finalizers_patch(cr, finalizers)[0]:
            return cr
        added: list[str] = []

        def build(fresh: dict) -> list[dict]:     # guarded, so that the write is known by its base
            ops, names = crmeta.add_finalizers_patch(fresh, finalizers) if finalizers else ([], [])
            added[:] = names
            staged = crmeta.after_ops(fresh, ops)      # metadata ops see the annotations map ops made
            again = wanted(staged)
            return ops + (crmeta.metadata_ops(staged, again) if again is not None else [])

        try:
            patched = self._patch_cr(cr, build)
        except ApiError as err:
            # A refusal of what step 5 carries (a policy on the labels, say) must not keep step 4's
            # finalizers off the CR: they go on alone, as §10.1 orders, then the refusal stands.
            if added and err.status == 422:
                self.add_finalizers(cr, finalizers)
            raise
        if patched is None:        # 404: with no finalizer to add, the next write tells gone from refused
            if added:
                raise CrGone("the CR was deleted while Orkestra added its finalizers")
            return cr
        if added:
            self.event(patched, "Normal", "FinalizerAdded", messages.finalizers("added", added))
        return patched

    def _record_ahead(self) -> list[str]:
        """The GVRs `_record_tracked_gvrs` will record for entries that are pruned once removed,
        known from the Katalog alone (label-tracked children depend on the rendered namespace
        and are recorded after the writes). Recording a GVR before its child exists is safe: it
        only says where to look. Only GVRs a child informer watches: pruning drops the record of
        an unwatched GVR that holds no child, which must not be written back on the next pass."""
        out: list[str] = []
        informed = set(self.runtime.child_informer_gvrs())
        for tpl in self.templates:
            found = tpl.static_gvr(self.resolve_kind) if pruned_when_removed(tpl.id) else None
            if found is not None and found[1] in informed and str(found[1]) not in out:
                out.append(str(found[1]))
        return out

    def unique_taken(self, field: str, value: Any, scope: str, obj: dict) -> bool:
        """True when an older CR of this CRD (creationTimestamp, then ns/name) holds the same value."""
        me = obj["metadata"]
        mine = (me.get("creationTimestamp") or "", me.get("namespace") or "", me.get("name"))
        for other in self.runtime.cached_all():
            om = other["metadata"]
            if om.get("uid") == me.get("uid"):
                continue
            if scope == "namespace" and om.get("namespace") != me.get("namespace"):
                continue
            if resolve_field(other, field) != str(value):
                continue
            if (om.get("creationTimestamp") or "", om.get("namespace") or "", om.get("name")) < mine:
                return True
        return False

    def _validate_and_mutate(self, cr: dict, key: str) -> dict:
        mutation = self.entry.mutation or {}
        rules = (self.entry.validation or {}).get("rules") or []
        steps = ["mutate", "validate"] if mutation.get("mutateFirst") else ["validate", "mutate"]
        for step in steps:
            if step == "validate" and rules:
                outcome = evaluate_validation(rules, cr, unique=self.unique_taken)
                self._report_warnings(cr, key, [v.text for v in outcome.warnings])
                if outcome.denials:
                    raise ValidationDenied(messages.validation_denied([v.text for v in outcome.denials]))
            elif step == "mutate" and mutation.get("rules"):
                mutated = compute_mutation(mutation["rules"], cr)
                if mutated.patch:
                    meta = cr["metadata"]
                    cr = self.runtime.kube.patch(self.entry.api.gvr, meta["name"], mutated.patch,
                                                 meta.get("namespace"), patch_type="json")
                    self.event(cr, "Normal", "MutationApplied", messages.mutation_applied(mutated.applied))
        return cr

    def _report_warnings(self, cr: dict, key: str, texts: list[str]) -> None:
        self.runtime.set_warnings(key, "validation", [{"message": t} for t in texts])
        if texts and self.once("ValidationWarning", key, cr["metadata"].get("generation")):
            self.event(cr, "Warning", "ValidationWarning", messages.validation_warning(texts))

    def _run_templates(self, cr: dict, writer: ChildWriter, cancelled: threading.Event) -> list[GVR]:
        """Render and write every entry, then prune once (docs/katalog.md#keys-per-type, `orkestra.reconcile.prune`).

        Pruning waits for the last entry and spares every identity any entry rendered in this
        reconcile, so an entry inserted above another of the same type (which shifts the
        positional template ids) never deletes a child that is still declared. Returns the
        recorded GVRs that pruning left without a child of this CR."""
        declared: list[DesiredChild] = []
        for tpl in self.templates:
            if cancelled.is_set():
                raise ReconcileError("reconcile cancelled (timeout or shutdown)")
            children = render_entry(tpl, cr, children=writer.children(), resolve_kind=self.resolve_kind,
                                    read_source=self.read_source)
            for child in children:
                writer.write(child)
            declared += children
        plan = PrunePlan(owner_uid=cr["metadata"]["uid"], crd_key=self.crd,
                         desired_ids=self._desired_ids, entry_ids=self._entry_ids,
                         declared=frozenset(identity(c.kind, c.namespace, c.name) for c in declared))
        listed = self._list_uninformed(cr, writer)
        candidates = [(gvr, obj) for gvr, items in listed.items() for obj in items]
        seen = {object_identity(obj) for _, obj in candidates}
        for obj in writer.cached:
            resolved = self.resolve_kind(obj.get("apiVersion", ""), obj.get("kind", "")) if plan.prunes(obj) else None
            if resolved is not None and object_identity(obj) not in seen:
                candidates.append((resolved[0], obj))
        failed = len(writer.failures)
        writer.prune(plan, candidates)
        if len(writer.failures) > failed:
            return []
        return [gvr for gvr, items in listed.items() if all(plan.prunes(obj) for obj in items)]

    def _list_uninformed(self, cr: dict, writer: ChildWriter) -> dict[GVR, list[dict]]:
        """This CR's children in the GVRs recorded on it that no child informer watches any more
        (the Katalog stopped writing that kind), listed by owner-uid label."""
        out: dict[GVR, list[dict]] = {}
        informed = set(self.runtime.child_informer_gvrs())
        for gvr in crmeta.recorded_gvrs(cr):
            if gvr in informed:
                continue
            try:
                out[gvr] = self.runtime.kube.list(gvr, label_selector=f"{LABEL_OWNER_UID}={cr['metadata']['uid']}")[0]
            except ApiError as err:
                if err.status == 404:       # no longer served: nothing of this CR is left there
                    out[gvr] = []
                else:
                    writer.failures.append((f"{gvr.resource} of this CR", f"listing them to prune: {err.message or err}"))
        return out

    def hook_args(self, cr: dict) -> dict:
        spec = self.entry.box_spec.hooks
        assert spec is not None       # asked only by the hooks of an entry that declares them
        return render_hook_args(spec.args, cr, f"spec.crds.{self.crd}.operatorBox.reconciler.hooks.args")

    def _run_hooks(self, cr: dict, key: str, cancelled: threading.Event, writer: ChildWriter,
                   names: list[str]) -> HookContext:
        ctx = self.hook_context(cr, key, cancelled, writer)
        hooks = self.hooks
        assert hooks is not None          # `names` come from calls_for(self.hooks, ...)
        for name in names:
            hooks.callbacks[name](ctx, copy.deepcopy(cr))
        return ctx

    def hook_context(self, cr: dict, key: str, cancelled: threading.Event, writer: ChildWriter) -> HookContext:
        state = {"cr": cr}

        def ensure_finalizer() -> None:
            wanted = crmeta.wanted_finalizers(self.entry.box_spec.finalizers)
            state["cr"] = self.add_finalizers(state["cr"], wanted)

        host = ReconcileHookHost(cr=cr, crd=self.crd, writer=writer, resolve_kind=self.resolve_kind,
                                 ensure_finalizer=ensure_finalizer, emit=lambda t, r, m: self.event(cr, t, r, m))
        return HookContext(crd=self.crd, gvk=self.entry.api.gvk, key=key, args=self.hook_args(cr),
                           cancelled=cancelled, cr=cr, kube=self.runtime.kube, host=host)

    def _write_status(self, cr: dict, key: str, *, ok: bool, reason: str, message: str, writer: ChildWriter,
                      hook_status: dict) -> dict:
        """Write the computed status when it differs; returns the CR as it is now."""
        if not self.writes_status:
            return cr
        meta = cr["metadata"]
        ops = evaluate_fields(self.status_fields, cr, extra={"children": writer.children()}, ok=ok,
                              crd=self.crd, key=key)
        current = cr.get("status") or {}
        new = compute_status(current, generation=meta.get("generation"), ok=ok, reason=reason, message=message,
                             field_ops=ops, hook_status=hook_status,
                             conditions=self.entry.box_spec.status.get("conditions", True), now=rfc3339(self.clock()))
        patch = status_patch(current, new)
        if patch is None:
            return cr
        return self.runtime.kube.patch(self.entry.api.gvr, meta["name"], patch, meta.get("namespace"),
                                       patch_type="merge", subresource="status")

    def set_ready(self, cr: dict, key: str, *, ok: bool, reason: str, message: str,
                  hook_status: dict | None = None) -> dict:
        """Ready condition (and conditional fields, and hook status) outside the normal flow; best
        effort. Returns the CR."""
        try:
            return self._write_status(cr, key, ok=ok, reason=reason, message=message,
                                      writer=self.new_writer(cr, key), hook_status=hook_status or {})
        except ApiError as err:
            log.warning("could not write the Ready condition: %s", err, extra=self._extra(key))
            return cr
