"""The JSON bodies of the runtime HTTP API (docs/runtime.md §12), as pure functions.

Inputs are the Katalog model and the plain snapshots the engine hands out
(`process_snapshot()`, `crd_snapshot(key)`, cached CR dicts); outputs are the exact documents of
the spec. Keeping them pure means every shape is unit-tested without an engine or a cluster, and
the views stay a few lines of routing.
"""
from __future__ import annotations

import calendar
import time
from typing import Any

from orkestra import __version__
from orkestra.config import Mode
from orkestra.durations import format_duration, human_age, rfc3339
from orkestra.engine.health import CrdState, error_rate, http_status, katalog_health
from orkestra.katalog.model import PHASES, CrdEntry, Katalog

STATE_ORDER = (CrdState.HEALTHY, CrdState.STARTED, CrdState.PENDING, CrdState.DEGRADED, CrdState.NOT_STARTED)


def uptime(since: float | None, now: float) -> str:
    return human_age(now - since) if since is not None else ""


def service_name(mode: Mode) -> str:
    return "orkestra-gateway" if mode == Mode.GATEWAY else "orkestra-runtime"


# ---------------------------------------------------------------------------- probes
def probe_body(probe: str, ok: bool, proc: dict) -> tuple[dict, int]:
    words = {"startup": ("ok", "starting", 503), "liveness": ("ok", "unhealthy", 500),
             "ready": ("ready", "not ready", 503)}[probe]
    body = {"status": words[0] if ok else words[1], "service": service_name(proc["mode"]),
            "uptime": uptime(proc["startedAt"], proc["now"]), "started": rfc3339(proc["startedAt"])}
    return body, 200 if ok else words[2]


# ---------------------------------------------------------------------------- /katalog
def _disabled_health() -> dict:
    return {"state": CrdState.NOT_STARTED, "healthy": False, "started": False, "pending": False, "missing": False,
            "totalReconciles": 0, "failedReconciles": 0, "consecutiveFails": 0, "errorRate": 0.0,
            "avgDurationMs": 0.0, "lastError": "", "lastErrorAt": None, "lastErrorStack": "",
            "lastReconcile": None, "startedAt": None, "awaiting": []}


def _empty_snapshot(entry: CrdEntry) -> dict:
    return {"key": entry.key, "health": {**_disabled_health(), "failureThreshold": entry.box_spec.queue.failure_threshold},
            "workers": {"active": 0, "processing": 0, "idle": 0, "stuck": 0, "states": []},
            "queueDepth": 0, "dropped": 0, "limitReached": 0, "resourceCount": 0, "activeWarnings": [],
            "dependencies": [{"name": d.name, "condition": d.condition, "state": CrdState.NOT_STARTED, "satisfied": False}
                             for d in entry.depends_on]}


def snapshot_or_empty(entry: CrdEntry, snap: dict | None) -> dict:
    return snap if snap is not None and entry.enabled else _empty_snapshot(entry)


def crd_summary(entry: CrdEntry, snap: dict, now: float) -> dict:
    h = snap["health"]
    api = entry.api
    return {
        "name": entry.key, "kind": api.kind, "group": api.group, "version": api.version, "plural": api.plural,
        "scope": api.scope, "gvk": api.gvk_string, "enabled": entry.enabled, "state": h["state"],
        "healthy": h["healthy"], "started": h["started"], "pending": h["pending"], "missing": h["missing"],
        "workers": entry.box_spec.workers, "workersActive": snap["workers"]["active"], "queueDepth": snap["queueDepth"],
        "maxQueueDepth": entry.box_spec.queue.max_depth, "failureThreshold": entry.box_spec.queue.failure_threshold,
        "totalReconciles": h["totalReconciles"], "failedReconciles": h["failedReconciles"],
        "consecutiveFails": h["consecutiveFails"], "errorRate": h["errorRate"],
        "lastReconcile": rfc3339(h["lastReconcile"]), "lastError": h["lastError"],
        "resourceCount": snap["resourceCount"], "startedAt": rfc3339(h["startedAt"]),
        "uptime": uptime(h["startedAt"], now), "dependsOn": [d.name for d in entry.depends_on],
    }


def katalog_body(katalog: Katalog, proc: dict, snaps: dict[str, dict | None],
                 namespaces: dict[str, list[str]], protection: dict | None) -> dict:
    now = proc["now"]
    crds = [crd_summary(e, snapshot_or_empty(e, snaps.get(e.key)), now) for e in katalog.crds.values()]
    enabled_states = [c["state"] for c in crds if c["enabled"]]
    healthy, reason = katalog_health(enabled_states)
    body = {
        "name": katalog.name, "version": katalog.version, "description": katalog.description,
        "orkestraVersion": __version__, "identity": proc["identity"], "isKonductor": proc["isLeader"],
        "leader": proc["leader"], "healthy": healthy, "OrkReady": proc["ready"], "status": 200 if healthy else 503,
        "degradedReason": reason, "total": len(crds), "totalEnabled": len(enabled_states),
        "totalDegraded": enabled_states.count(CrdState.DEGRADED),
        "statusCounts": {s: enabled_states.count(s) for s in STATE_ORDER},
        "namespaces": namespaces, "gatewayEndpoint": proc["gatewayEndpoint"],
        "startedAt": rfc3339(proc["startedAt"]), "uptime": uptime(proc["startedAt"], now),
        "dependencyGraph": {"startupOrder": list(katalog.start_order),
                            "edges": [{"from": d.name, "to": e.key, "condition": d.condition}
                                      for e in katalog.crds.values() for d in e.depends_on]},
        "crds": crds,
    }
    if protection is not None:
        body["protection"] = protection
    return body


def namespaces_of(crs_by_crd: dict[str, list[dict]]) -> dict[str, list[str]]:
    out: dict[str, set[str]] = {}
    for key, items in crs_by_crd.items():
        for obj in items:
            ns = (obj.get("metadata") or {}).get("namespace")
            if ns:
                out.setdefault(ns, set()).add(key)
    return {ns: sorted(keys) for ns, keys in sorted(out.items())}


# ---------------------------------------------------------------------------- /katalog/{crd}
def _rbac(entry: CrdEntry) -> list[dict]:
    """The permissions this entry needs (docs/deploying.md#the-bundle-rbac-and-the-katalog-configmap), derived by the Katalog layer."""
    from orkestra.katalog.rbac import entry_rules
    return [rule.to_k8s() for rule in entry_rules(entry)]


def _default_webhook_blocks(entry: CrdEntry) -> dict:
    return {
        "admission": {"webhooksEnabled": False,
                      "validationRules": len((entry.validation or {}).get("rules") or []),
                      "mutationRules": len((entry.mutation or {}).get("rules") or [])},
        "conversion": {"enabled": bool(entry.conversion)},
        "deletionProtection": dict(entry.deletion_protection or {"enabled": False}),
        "namespaceProtection": {"enabled": bool(entry.allowed_namespaces or entry.restricted_namespaces)},
    }


def crd_detail(entry: CrdEntry, snap: dict, *, webhook_blocks: dict | None, now: float) -> dict:
    h, w = snap["health"], snap["workers"]
    hooks = entry.box_spec.hooks
    return {
        "name": entry.key, "description": entry.description, "gvk": entry.api.gvk_string,
        "gvr": str(entry.api.gvr), "scope": entry.api.scope, "state": h["state"],
        "workers": {"configured": entry.box_spec.workers, "source": entry.box_spec.workers_source, "active": w["active"],
                    "processing": w["processing"], "idle": w["idle"], "stuck": w["stuck"],
                    "states": [{**s, "since": rfc3339(s["since"])} if "since" in s else s for s in w["states"]]},
        "resync": format_duration(entry.box_spec.resync), "timeout": format_duration(entry.box_spec.timeout),
        "queue": {"depth": snap["queueDepth"], "maxDepth": entry.box_spec.queue.max_depth,
                  "onLimit": entry.box_spec.queue.on_limit, "failureThreshold": entry.box_spec.queue.failure_threshold,
                  "dropped": snap["dropped"], "limitReached": snap["limitReached"]},
        "reconcile": {"total": h["totalReconciles"], "failed": h["failedReconciles"],
                      "consecutiveFails": h["consecutiveFails"], "errorRate": h["errorRate"],
                      "successRate": round(1 - h["errorRate"], 4) if h["totalReconciles"] else 0.0,
                      "avgDurationMs": h["avgDurationMs"], "lastReconcile": rfc3339(h["lastReconcile"]),
                      "lastError": h["lastError"], "lastErrorAt": rfc3339(h["lastErrorAt"]),
                      "lastErrorStack": h["lastErrorStack"]},
        "resourceCount": snap["resourceCount"],
        "dependencies": snap["dependencies"],
        "hasUnhealthyDependencies": any(not d["satisfied"] for d in snap["dependencies"]),
        "reconciler": {"type": "generic", "hooks": hooks.ref if hooks else "",
                       "finalizers": list(entry.box_spec.finalizers), "runHooksFirst": bool(hooks and hooks.run_hooks_first),
                       "templates": {p: entry.template_types(p) for p in PHASES}},
        "rbac": _rbac(entry),
        **(webhook_blocks if webhook_blocks is not None else _default_webhook_blocks(entry)),
        "activeWarnings": [{**wa, "since": rfc3339(wa["since"]) if isinstance(wa.get("since"), (int, float)) else wa.get("since")}
                           for wa in snap["activeWarnings"]],
    }


def crd_health(entry: CrdEntry, snap: dict, *, is_leader: bool, now: float) -> tuple[dict, int]:
    h = snap["health"]
    body = {
        "name": entry.key, "state": h["state"], "status": http_status(h["state"]), "isKonductor": is_leader,
        "healthy": h["healthy"], "started": h["started"], "pending": h["pending"], "missing": h["missing"],
        "startedAt": rfc3339(h["startedAt"]), "uptime": uptime(h["startedAt"], now),
        "queueDepth": snap["queueDepth"], "errorRate": error_rate(h["failedReconciles"], h["totalReconciles"]),
        "consecutiveFails": h["consecutiveFails"], "failureThreshold": h["failureThreshold"],
        "totalReconciles": h["totalReconciles"], "resourceCount": snap["resourceCount"],
        "lastError": h["lastError"], "lastReconcile": rfc3339(h["lastReconcile"]),
        "hasUnhealthyDependencies": any(not d["satisfied"] for d in snap["dependencies"]),
    }
    return body, body["status"]


# ---------------------------------------------------------------------------- CRs
def _ready_condition(obj: dict) -> dict:
    for cond in (obj.get("status") or {}).get("conditions") or ():
        if isinstance(cond, dict) and cond.get("type") == "Ready":
            return cond
    return {}


def parse_time(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return float(calendar.timegm(time.strptime(text[:19], "%Y-%m-%dT%H:%M:%S")))
    except ValueError:
        return None


def _age(obj: dict, now: float) -> str:
    created = parse_time((obj.get("metadata") or {}).get("creationTimestamp"))
    return human_age(now - created) if created is not None else ""


def cr_item(obj: dict, now: float) -> dict:
    meta, status = obj.get("metadata") or {}, obj.get("status") or {}
    ready = _ready_condition(obj)
    return {"name": meta.get("name", ""), "namespace": meta.get("namespace", ""), "phase": status.get("phase") or "",
            "ready": ready.get("status") or "Unknown", "readyReason": ready.get("reason") or "", "age": _age(obj, now),
            "generation": meta.get("generation"), "observedGeneration": status.get("observedGeneration")}


def cr_list(entry: CrdEntry, items: list[dict], now: float, *, namespace: str | None,
            values: dict[str, Any] | None = None) -> dict:
    """`values` maps `ns/name` to the `?field=` value, when a field was asked for."""
    selected = [o for o in items if namespace is None or (o.get("metadata") or {}).get("namespace") == namespace]
    rows = []
    for obj in sorted(selected, key=lambda o: ((o["metadata"].get("namespace") or ""), o["metadata"].get("name", ""))):
        row = cr_item(obj, now)
        if values is not None:
            row["value"] = values.get(_key(obj))
        rows.append(row)
    return {"crd": entry.key, "gvk": entry.api.gvk_string, "total": len(rows), "items": rows}


def _key(obj: dict) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta['namespace']}/{meta.get('name', '')}" if meta.get("namespace") else meta.get("name", "")


def child_ready(child: dict) -> bool:
    kind, spec, status = child.get("kind"), child.get("spec") or {}, child.get("status") or {}
    if kind in ("Deployment", "StatefulSet", "ReplicaSet"):
        want = spec.get("replicas", 1)
        return (status.get("readyReplicas") or 0) >= want
    if kind == "DaemonSet":
        return (status.get("numberReady") or 0) >= (status.get("desiredNumberScheduled") or 0)
    if kind == "Job":
        return (status.get("succeeded") or 0) > 0
    return True


def cr_detail(entry: CrdEntry, obj: dict, children: list[dict], now: float) -> dict:
    meta, status = obj.get("metadata") or {}, obj.get("status") or {}
    ready = _ready_condition(obj)
    grouped: dict[str, list[dict]] = {}
    for child in sorted(children, key=lambda c: (c.get("kind", ""), _key(c))):
        cmeta, cstatus = child.get("metadata") or {}, child.get("status") or {}
        grouped.setdefault(child.get("kind", ""), []).append({
            "name": cmeta.get("name", ""), "namespace": cmeta.get("namespace", ""), "ready": child_ready(child),
            "replicas": (child.get("spec") or {}).get("replicas"), "readyReplicas": cstatus.get("readyReplicas"),
            "age": _age(child, now)})
    path = "/".join(p for p in (meta.get("namespace"), meta.get("name")) if p)
    return {"name": meta.get("name", ""), "namespace": meta.get("namespace", ""), "uid": meta.get("uid", ""),
            "phase": status.get("phase") or "", "ready": ready.get("status") or "Unknown",
            "readyReason": ready.get("reason") or "", "readyMessage": ready.get("message") or "",
            "generation": meta.get("generation"), "observedGeneration": status.get("observedGeneration"),
            "labels": meta.get("labels") or {}, "status": status, "children": grouped,
            "eventsEndpoint": f"/katalog/{entry.key}/cr/{path}/events"}


def _event_time(ev: dict) -> str:
    return ev.get("lastTimestamp") or ev.get("eventTime") or (ev.get("metadata") or {}).get("creationTimestamp") or ""


def events_body(obj: dict, events: list[dict], now: float, limit: int = 100) -> dict:
    meta = obj.get("metadata") or {}
    newest = sorted(events, key=_event_time, reverse=True)[:limit]
    return {"name": meta.get("name", ""), "namespace": meta.get("namespace", ""),
            "events": [{"type": e.get("type", ""), "reason": e.get("reason", ""), "message": e.get("message", ""),
                        "count": e.get("count") or 1,
                        "age": human_age(now - t) if (t := parse_time(_event_time(e))) is not None else "",
                        "lastTimestamp": _event_time(e)} for e in newest]}
