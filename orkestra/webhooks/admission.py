"""`/validate` and `/mutate`: AdmissionReview decisions from the Katalog's rules (docs/webhooks.md §5).

The rules themselves are evaluated by `orkestra.conditions.rules` (the same code the reconciler
and `ork gate` use); this module only decides *which* entries apply to a request, feeds them
the right object (`oldObject` on DELETE, the in-memory mutated object before validation), and
turns the outcomes into AdmissionReview responses with the spec's message formats. Both
handlers are pure functions of (plan, request, unique lookup); `record` then counts the answer
in the stats and metrics once the response is serialised.
"""
from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from orkestra import metrics
from orkestra.conditions import resolve_field
from orkestra.errors import OrkestraError
from orkestra.gvk import GVK
from orkestra.katalog.model import CrdEntry
from orkestra.conditions.rules import compute_mutation, evaluate_validation
from orkestra.webhooks.plan import WebhookPlan
from orkestra.webhooks.stats import WebhookStats

log = logging.getLogger("orkestra.webhooks")

DENIED_PREFIX = "[orkestra] validation failed: "


@dataclass(frozen=True)
class CacheView:
    """A CRD's informer cache as the `unique` check needs it."""
    synced: bool
    items: list[dict]


# entry key -> the cache of that CRD, or None when the process has none
CacheLookup = Callable[[str], "CacheView | None"]


class UniqueNotReady(OrkestraError):
    """Raised from inside a `unique` check while the CRD's cache has not synced."""


@dataclass
class AdmissionResult:
    """A response plus what the caller records once the response is serialised."""
    response: dict
    entries: list[CrdEntry] = field(default_factory=list)
    results: dict[str, str] = field(default_factory=dict)   # entry key -> metric result


def _meta(obj: dict | None) -> dict:
    return (obj or {}).get("metadata") or {}


def request_gvk(request: dict) -> GVK:
    k = request["kind"]
    return GVK(k["group"], k["version"], k["kind"])


def being_deleted(request: dict) -> bool:
    return request["operation"] == "UPDATE" and bool(_meta(request.get("object")).get("deletionTimestamp"))


def _evaluated_object(request: dict) -> dict:
    return request["oldObject"] if request["operation"] == "DELETE" else request["object"]


def _rules(block: dict | None) -> list[dict]:
    return list((block or {}).get("rules") or [])


def make_unique(entry: CrdEntry, lookup: CacheLookup | None) -> Callable[[str, str, str, dict], bool]:
    """The `unique` callable for `evaluate_validation`: True when another CR holds the value."""
    def unique(field_path: str, value: str, scope: str, obj: dict) -> bool:
        view = lookup(entry.key) if lookup else None
        if view is None or not view.synced:
            raise UniqueNotReady(f"unique check skipped until the {entry.key} cache has synced")
        me = _meta(obj)
        for other in view.items:
            om = _meta(other)
            if me.get("uid") and om.get("uid") == me.get("uid"):
                continue
            if om.get("name") == me.get("name") and om.get("namespace") == me.get("namespace"):
                continue
            if scope == "namespace" and om.get("namespace") != me.get("namespace"):
                continue
            if resolve_field(other, field_path) == value:
                return True
        return False
    return unique


def _allowed(uid: str, warnings: list[str] | None = None) -> dict:
    out: dict[str, Any] = {"uid": uid, "allowed": True}
    if warnings:
        out["warnings"] = warnings
    return out


def _operations(entry: CrdEntry) -> list[str]:
    return list(entry.webhooks.get("operations") or ["CREATE", "UPDATE"])


def _matching(plan: WebhookPlan, path: str, request: dict, obj: dict | None) -> list[CrdEntry]:
    """Entries of the request's GVK whose selectors match and whose `webhooks.operations` include the
    operation (another entry of the same kind may have registered an operation this one did not)."""
    op = request["operation"]
    return [e for e in plan.admission_entries(path, request_gvk(request))
            if (op == "DELETE" and path == "/mutate" or op in _operations(e))
            and e.selects(request.get("namespace") or "", obj)]


def _mutated_in_memory(entry: CrdEntry, obj: dict) -> dict:
    rules = _rules(entry.mutation)
    if not rules:
        return obj
    try:
        return compute_mutation(rules, obj).obj
    except Exception:  # the mutating webhook reports mutation errors; validate the object as sent
        return obj


def validate(request: dict, plan: WebhookPlan, lookup: CacheLookup | None) -> AdmissionResult:
    uid, op = request["uid"], request["operation"]
    obj = _evaluated_object(request)
    entries = _matching(plan, "/validate", request, obj)
    result = AdmissionResult(_allowed(uid), entries)
    if not entries:
        return result
    if being_deleted(request):
        result.results = {e.key: "allowed" for e in entries}
        return result
    denials: list[str] = []
    warnings: list[str] = []
    for entry in entries:
        subject = obj if op == "DELETE" else _mutated_in_memory(entry, obj)
        outcome = evaluate_validation(_rules(entry.validation), subject,
                                      unique=make_unique(entry, lookup), operation=op)
        for v in outcome.denials:
            denials.append(v.text)
            metrics.validation_violations.labels(entry.api.gvk_string, entry.key, "deny").inc()
        entry_warnings = [f"orkestra: {v.summary}" for v in outcome.warnings]
        entry_warnings += [f'orkestra: rule on "{f}" could not be evaluated: {reason}' for f, reason in outcome.errors]
        for _ in outcome.warnings:
            metrics.validation_violations.labels(entry.api.gvk_string, entry.key, "warn").inc()
        warnings += entry_warnings
        result.results[entry.key] = ("denied" if outcome.denials else "warned" if entry_warnings else "allowed")
    if denials:
        result.response = {"uid": uid, "allowed": False,
                           "status": {"code": 403, "reason": "Forbidden",
                                      "message": DENIED_PREFIX + "; ".join(denials)}}
        if warnings:
            result.response["warnings"] = warnings
    else:
        result.response = _allowed(uid, warnings)
    return result


def mutate(request: dict, plan: WebhookPlan) -> AdmissionResult:
    uid, op = request["uid"], request["operation"]
    obj = _evaluated_object(request)
    entries = _matching(plan, "/mutate", request, obj)
    result = AdmissionResult(_allowed(uid), entries)
    if not entries:
        return result
    if op == "DELETE" or being_deleted(request):
        result.results = {e.key: "unchanged" for e in entries}
        return result
    patch: list[dict] = []
    current = obj
    for entry in entries:
        try:
            outcome = compute_mutation(_rules(entry.mutation), current)
        except Exception as e:
            log.warning("mutation skipped", extra={"crd": entry.key, "key": _ref(request), "error": str(e)})
            result.response = _allowed(uid, [f"orkestra: mutation skipped: {e}"])
            result.results = {x.key: "error" for x in entries}
            return result
        patch.extend(outcome.patch)
        current = outcome.obj
        result.results[entry.key] = "patched" if outcome.patch else "unchanged"
    if patch:
        result.response = {"uid": uid, "allowed": True, "patchType": "JSONPatch",
                           "patch": base64.b64encode(json.dumps(patch).encode()).decode()}
    return result


def _ref(request: dict) -> str:
    ns, name = request.get("namespace") or "", request.get("name") or ""
    return f"{ns}/{name}" if ns else name


def record(stats: WebhookStats, webhook: str, result: AdmissionResult, elapsed: float, dry_run: bool) -> None:
    """Count one answered request for every entry it matched, with its latency."""
    for entry in result.entries:
        outcome = result.results.get(entry.key, "error")
        metrics.admission_requests.labels(entry.api.gvk_string, entry.key, webhook, outcome).inc()
        metrics.admission_duration.labels(entry.api.gvk_string, entry.key, webhook).observe(elapsed)
        scope = f"admission:{entry.key}"
        if webhook == "validate":
            names = ["validationTotal", {"allowed": "validationAllowed", "denied": "validationDenied",
                                         "warned": "validationWarned"}.get(outcome, "validationErrors")]
        else:
            names = ["mutationTotal", "mutationApplied" if outcome == "patched" else "mutationSkipped"]
        if dry_run:
            names.append(f"{webhook}DryRun")
        stats.count(scope, *names)
        stats.observe(f"{webhook}:{entry.key}", elapsed)
