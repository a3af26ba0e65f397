"""The webhook blocks of `/katalog` and `/katalog/{crd}` (docs/webhooks.md §8): `WebhookDescriber`.

Pure reads of the plan and the stats a `WebhookState` shares with the webhook app, so the HTTP
API can show them from the moment the app exists, before any listener starts.
"""
from __future__ import annotations

from orkestra.katalog.model import CrdEntry
from orkestra.webhooks.app import WebhookState
from orkestra.webhooks.conversion import scope_of
from orkestra.webhooks.plan import WebhookPlan


class WebhookDescriber:
    """What this process's webhooks do and have done, per CRD and for the Katalog."""

    def __init__(self, state: WebhookState) -> None:
        self.state = state

    @property
    def plan(self) -> WebhookPlan:
        return self.state.plan

    def describe_crd(self, key: str) -> dict:
        plan = self.plan
        entry = plan.entries.get(key)
        if entry is None:
            return {}
        return {"admission": self._admission(entry), "conversion": self._conversion(entry),
                "deletionProtection": self._deletion(entry), "namespaceProtection": self._namespace(entry)}

    def _admission(self, entry: CrdEntry) -> dict:
        stats = self.state.stats
        c = stats.counters(f"admission:{entry.key}")
        val, mut = stats.latency(f"validate:{entry.key}"), stats.latency(f"mutate:{entry.key}")
        served = self.plan.admission_switch and (entry in self.plan.validate_entries or entry in self.plan.mutate_entries)
        return {"webhooksEnabled": bool(served),
                "validationRules": len((entry.validation or {}).get("rules") or []),
                "mutationRules": len((entry.mutation or {}).get("rules") or []),
                "validationTotal": c.get("validationTotal", 0), "validationAllowed": c.get("validationAllowed", 0),
                "validationDenied": c.get("validationDenied", 0), "validationWarned": c.get("validationWarned", 0),
                "valAvgLatencyMs": val["avg"], "valP95LatencyMs": val["p95"], "valMaxLatencyMs": val["max"],
                "mutationTotal": c.get("mutationTotal", 0), "mutationApplied": c.get("mutationApplied", 0),
                "mutationSkipped": c.get("mutationSkipped", 0),
                "mutAvgLatencyMs": mut["avg"], "mutP95LatencyMs": mut["p95"], "mutMaxLatencyMs": mut["max"]}

    def _conversion(self, entry: CrdEntry) -> dict:
        group = self.plan.conversion_group_of(entry)
        if group is None:
            return {"enabled": False}
        stats = self.state.stats
        scope = scope_of(group)
        c, lat = stats.counters(scope), stats.latency(scope)
        return {"enabled": self.plan.conversion_switch, "storageVersion": group.storage_version,
                "paths": group.path_names, "total": c.get("total", 0), "success": c.get("success", 0),
                "failures": c.get("failures", 0), "avgLatencyMs": lat["avg"], "p95LatencyMs": lat["p95"],
                "maxLatencyMs": lat["max"], "byDirection": stats.directions(scope)}

    def _deletion(self, entry: CrdEntry) -> dict:
        dp = entry.deletion_protection or {}
        enabled = self.plan.deletion is not None and bool(dp.get("enabled", True))
        c = self.state.stats.counters(f"deletion:{entry.key}")
        return {"enabled": enabled, "protectCRD": bool(dp.get("protectCRD", True)),
                "protectCRs": bool(dp.get("protectCRs", True)), "strictMode": bool(dp.get("strictMode", False)),
                "total": c.get("total", 0), "blocked": c.get("blocked", 0), "allowed": c.get("allowed", 0)}

    def _namespace(self, entry: CrdEntry) -> dict:
        np = self.plan.namespace
        c = self.state.stats.counters(f"namespace:{entry.key}")
        return {"enabled": np is not None and entry in np.entries,
                "allowedNamespaces": list(entry.allowed_namespaces),
                "restrictedNamespaces": list(entry.restricted_namespaces),
                "total": c.get("total", 0), "blocked": c.get("blocked", 0), "allowed": c.get("allowed", 0)}

    def describe_katalog(self) -> dict | None:
        """The top-level `protection` block, or None when no protection feature is on."""
        if self.plan.deletion is None and self.plan.namespace is None:
            return None
        out = {}
        for feature, on in (("deletion", self.plan.deletion is not None), ("namespace", self.plan.namespace is not None)):
            c = self.state.stats.counters(f"protection:{feature}")
            out[feature] = {"enabled": on, "total": c.get("total", 0), "blocked": c.get("blocked", 0),
                            "allowed": c.get("allowed", 0)}
        return out
