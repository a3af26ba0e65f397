"""The view models of the five views and of `/api/snapshot` (pure functions of the snapshots).

Each view renders one of these dicts, and answers it as JSON for `Accept: application/json`.
Inputs are the poller's `RuntimeTracker` copies, the `History` series and, for the live views,
the runtime's own documents; nothing here does I/O, so every number and label is unit-tested.
Fields of runtime documents are read through `fields`, so one of an unexpected type shows as
empty rather than failing the page.
"""
from __future__ import annotations

from typing import Any

from orkestra.controlcenter.fields import as_dict, as_int, as_list, as_number, as_text
from orkestra.controlcenter.history import Series
from orkestra.controlcenter.tracker import RuntimeStatus, RuntimeTracker
from orkestra.durations import human_age, rfc3339

STATES = ("healthy", "started", "pending", "degraded", "not started")
WORKERS_SHOWN = 10
MAX_STATUS_ROWS = 400


def short_number(n: Any) -> str:
    """`950`, `15.2K`, `1.3M`."""
    n = as_number(n)
    for size, suffix in ((1_000_000_000, "G"), (1_000_000, "M"), (1_000, "K")):
        if abs(n) >= size:
            return f"{n / size:.1f}".rstrip("0").rstrip(".") + suffix
    return f"{n:g}" if isinstance(n, float) else str(n)


def percent(rate: Any) -> str:
    return f"{as_number(rate) * 100:.1f}%"


def first_line(text: Any, limit: int = 200) -> str:
    line = str(text or "").strip().splitlines()[0] if str(text or "").strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def queue_pressure(depth: Any, max_depth: Any) -> dict:
    """Depth against the limit: blue below 50 %, amber to 80 %, red above; no bar when unlimited."""
    depth, limit = as_int(depth), as_int(max_depth)
    if limit <= 0:
        return {"depth": depth, "maxDepth": 0, "fraction": None, "level": "level-none", "label": str(depth)}
    fraction = depth / limit
    level = "level-low" if fraction < 0.5 else ("level-mid" if fraction <= 0.8 else "level-high")
    return {"depth": depth, "maxDepth": limit, "fraction": round(fraction, 4), "level": level,
            "label": f"{depth}/{limit}"}


# ---------------------------------------------------------------------------- overview and snapshot
def _crds(tracker: RuntimeTracker) -> list[dict]:
    return [c for c in tracker.data.katalog.get("crds", []) if c.get("enabled", True)] if tracker.data else []


def katalog_summary(tracker: RuntimeTracker) -> dict | None:
    if tracker.data is None:
        return None
    k = tracker.data.katalog
    crds = _crds(tracker)
    return {"name": as_text(k.get("name")), "version": as_text(k.get("version")),
            "healthy": k.get("healthy") is True and tracker.status is not RuntimeStatus.OFFLINE,
            "totalCRDs": len(crds), "healthyCRDs": sum(c.get("state") == "healthy" for c in crds),
            "totalWorkers": sum(as_int(c.get("workersActive")) for c in crds),
            "totalResources": sum(as_int(c.get("resourceCount")) for c in crds)}


def _stats(trackers: list[RuntimeTracker]) -> dict:
    summaries = [s for s in (katalog_summary(t) for t in trackers) if s is not None]
    return {"totalKatalogs": len(summaries), "healthyKatalogs": sum(s["healthy"] for s in summaries),
            "totalCRDs": sum(s["totalCRDs"] for s in summaries),
            "totalWorkers": sum(s["totalWorkers"] for s in summaries),
            "totalResources": sum(s["totalResources"] for s in summaries)}


def snapshot_body(trackers: list[RuntimeTracker], updated: float | None) -> dict:
    """`GET /api/snapshot`, exactly the documented shape."""
    return {"updated": rfc3339(updated), "stats": _stats(trackers),
            "runtimes": [{"id": t.rid, "url": t.url, "status": t.status.value, "lastError": t.last_error,
                          "katalog": katalog_summary(t)} for t in trackers]}


def runtime_card(tracker: RuntimeTracker, now: float) -> dict:
    """Everything the Control Center card of one runtime shows."""
    card: dict[str, Any] = {
        "id": tracker.rid, "url": tracker.url, "status": tracker.status.value, "lastError": tracker.last_error,
        "stale": tracker.status is RuntimeStatus.OFFLINE and tracker.data is not None,
        "offlineSince": rfc3339(tracker.offline_since),
        "offlineFor": human_age(now - tracker.offline_since) if tracker.offline_since is not None else "",
        "lastFetch": rfc3339(tracker.last_fetch),
        "fetchedAgo": human_age(now - tracker.data.fetched_at) if tracker.data else "",
        "katalog": katalog_summary(tracker),
    }
    if tracker.data is not None:
        k = tracker.data.katalog
        counts = as_dict(k.get("statusCounts"))
        card["katalog"].update({
            "description": as_text(k.get("description")), "degradedReason": as_text(k.get("degradedReason")),
            "orkReady": k.get("OrkReady") is True, "leader": as_text(k.get("leader")),
            "identity": as_text(k.get("identity")), "isKonductor": k.get("isKonductor") is True,
            "uptime": as_text(k.get("uptime")), "orkestraVersion": as_text(k.get("orkestraVersion")),
            "statusCounts": {s: as_int(counts.get(s)) for s in STATES}})
    return card


def overview(trackers: list[RuntimeTracker], updated: float | None, now: float) -> dict:
    """View 1, the Control Center."""
    return {"updated": rfc3339(updated), "stats": _stats(trackers),
            "runtimes": [runtime_card(t, now) for t in trackers]}


# ---------------------------------------------------------------------------- control panel
def crd_card(crd: dict, series: Series) -> dict:
    """One CRD on the Control Panel."""
    return {"name": as_text(crd.get("name")), "kind": as_text(crd.get("kind")),
            "groupVersion": "/".join(p for p in (as_text(crd.get("group")), as_text(crd.get("version"))) if p),
            "scope": as_text(crd.get("scope")) or "Namespaced", "enabled": crd.get("enabled", True) is not False,
            "state": _state(crd.get("state")), "dependsOn": [as_text(d) for d in as_list(crd.get("dependsOn"))],
            "workers": as_int(crd.get("workers")), "workersActive": as_int(crd.get("workersActive")),
            "queue": queue_pressure(crd.get("queueDepth"), crd.get("maxQueueDepth")),
            "resources": short_number(crd.get("resourceCount")), "totalReconciles": short_number(crd.get("totalReconciles")),
            "errorRate": percent(crd.get("errorRate")), "consecutiveFails": as_int(crd.get("consecutiveFails")),
            "failureThreshold": as_int(crd.get("failureThreshold")), "uptime": as_text(crd.get("uptime")),
            "lastError": first_line(as_text(crd.get("lastError"))), "history": series.as_json()}


def _state(value: Any) -> str:
    return value if isinstance(value, str) and value else "not started"


def health_cards(crds: list[dict]) -> list[dict]:
    total = len(crds) or 1
    return [{"state": s, "count": n, "fraction": round(n / total, 4)}
            for s in STATES for n in [sum(c.get("state") == s for c in crds)]]


def control_panel(tracker: RuntimeTracker, series: dict[str, Series], now: float) -> dict:
    """View 2, one runtime's Katalog."""
    card = runtime_card(tracker, now)
    if tracker.data is None:
        return {"runtime": card, "crds": [], "health": [], "metrics": {}, "graph": {"order": [], "edges": [], "states": {}}}
    k = tracker.data.katalog
    all_crds = k.get("crds", [])
    crds = _crds(tracker)
    graph = as_dict(k.get("dependencyGraph"))
    order = list(dict.fromkeys(n for n in as_list(graph.get("startupOrder")) if isinstance(n, str)))
    order += [c["name"] for c in all_crds if c["name"] not in order]
    return {"runtime": card,
            "health": health_cards(crds),
            "metrics": {"crds": len(crds), "workers": short_number(sum(as_int(c.get("workersActive")) for c in crds)),
                        "resources": short_number(sum(as_int(c.get("resourceCount")) for c in crds))},
            "crds": [crd_card(c, series.get(c["name"]) or Series([], [], [], 0)) for c in
                     sorted(all_crds, key=lambda c: order.index(c["name"]))],
            "graph": {"order": order,
                      "edges": [[e.get("from"), e.get("to")] for e in as_list(graph.get("edges"))
                                if isinstance(e, dict) and isinstance(e.get("from"), str) and isinstance(e.get("to"), str)],
                      "states": {c["name"]: _state(c.get("state")) for c in all_crds}}}


# ---------------------------------------------------------------------------- CRD detail
def _worker(w: dict) -> dict:
    return {"id": as_int(w.get("id")), "state": as_text(w.get("state")) or "idle", "key": as_text(w.get("key")),
            "since": as_text(w.get("since")), "stuck": w.get("state") == "stuck"}


def crd_detail(tracker: RuntimeTracker, crd: str, series: Series, now: float) -> dict | None:
    """View 3, or None when the runtime's snapshot does not list `crd`."""
    if tracker.data is None:
        return None
    summary = next((c for c in tracker.data.katalog.get("crds", []) if c.get("name") == crd), None)
    if summary is None:
        return None
    detail = tracker.data.details.get(crd) or {}
    health = tracker.data.health.get(crd) or {}
    pool = as_dict(detail.get("workers"))
    workers = [_worker(w) for w in as_list(pool.get("states")) if isinstance(w, dict)]
    reconcile = as_dict(detail.get("reconcile"))
    queue = as_dict(detail.get("queue"))
    return {
        "runtime": runtime_card(tracker, now), "crd": crd_card(summary, series),
        "description": as_text(detail.get("description")), "gvk": as_text(detail.get("gvk")),
        "gvr": as_text(detail.get("gvr")),
        "workers": {"total": len(workers), "shown": workers[:WORKERS_SHOWN], "rest": workers[WORKERS_SHOWN:],
                    "configured": as_int(pool.get("configured")), "source": as_text(pool.get("source")),
                    "stuck": sum(w["stuck"] for w in workers)},
        "queue": {**queue_pressure(queue.get("depth", summary.get("queueDepth")), queue.get("maxDepth", summary.get("maxQueueDepth"))),
                  "onLimit": as_text(queue.get("onLimit")), "dropped": as_int(queue.get("dropped")),
                  "limitReached": as_int(queue.get("limitReached"))},
        "health": {"state": _state(summary.get("state")),
                   "startedAt": as_text(health.get("startedAt")) or as_text(summary.get("startedAt")),
                   "uptime": as_text(summary.get("uptime")), "lastReconcile": as_text(reconcile.get("lastReconcile")),
                   "consecutiveFails": as_int(reconcile.get("consecutiveFails"))
                   or as_int(summary.get("consecutiveFails")),
                   "failureThreshold": as_int(queue.get("failureThreshold")) or as_int(summary.get("failureThreshold")),
                   "total": short_number(reconcile.get("total")), "failed": short_number(reconcile.get("failed")),
                   "errorRate": percent(reconcile.get("errorRate")),
                   "avgDurationMs": reconcile.get("avgDurationMs") if as_text(reconcile.get("avgDurationMs")) else None,
                   "lastError": as_text(reconcile.get("lastError")),
                   "lastErrorAt": as_text(reconcile.get("lastErrorAt")),
                   "lastErrorStack": as_text(reconcile.get("lastErrorStack"))},
        "dependencies": [d for d in as_list(detail.get("dependencies")) if isinstance(d, dict)],
        "warnings": [w for w in as_list(detail.get("activeWarnings")) if isinstance(w, dict)],
        "reconciler": _reconciler(detail.get("reconciler")), "resync": as_text(detail.get("resync")),
        "timeout": as_text(detail.get("timeout")),
        "rbac": [_rule(r) for r in as_list(detail.get("rbac")) if isinstance(r, dict)],
        "stats": {block: as_dict(detail.get(block)) for block in
                  ("admission", "conversion", "deletionProtection", "namespaceProtection")},
        "history": series.as_json(),
    }


def _rule(rule: dict) -> dict:
    return {key: [as_text(v) for v in as_list(rule.get(key))] for key in ("apiGroups", "resources", "verbs")}


def _reconciler(value: Any) -> dict:
    rc = as_dict(value)
    return {**rc, "templates": as_dict(rc.get("templates"))}


# ---------------------------------------------------------------------------- live views
def runtime_ref(tracker: RuntimeTracker) -> dict:
    """The runtime as the live views name it (breadcrumbs)."""
    name = tracker.data.katalog.get("name", "") if tracker.data else ""
    return {"id": tracker.rid, "url": tracker.url, "status": tracker.status.value, "katalogName": name or tracker.rid}


def resources(tracker: RuntimeTracker, crd: str, body: dict | None, error: str) -> dict:
    """View 4, the CR table (filters are applied in the browser)."""
    items = [i for i in (body or {}).get("items") or [] if isinstance(i, dict)]
    return {"runtime": runtime_ref(tracker), "crd": crd,
            "gvk": (body or {}).get("gvk", ""), "total": len(items), "error": error,
            "namespaces": sorted({str(i.get("namespace") or "") for i in items} - {""}),
            "items": [{"namespace": str(i.get("namespace") or ""), "name": str(i.get("name") or ""),
                       "phase": str(i.get("phase") or ""), "ready": str(i.get("ready") or "Unknown"),
                       "readyReason": str(i.get("readyReason") or ""), "age": str(i.get("age") or ""),
                       "generation": i.get("generation"), "observedGeneration": i.get("observedGeneration")}
                      for i in items]}


def _scalar(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (dict, list)):
        return "{}" if isinstance(value, dict) else "[]"
    return str(value)


def status_rows(status: Any, depth: int = 0, prefix: str = "") -> list[dict]:
    """`status` (without conditions) as indented key/value rows, for the status tree."""
    rows: list[dict] = []
    items = status.items() if isinstance(status, dict) else enumerate(status) if isinstance(status, list) else ()
    for key, value in items:
        if depth == 0 and key == "conditions":
            continue
        name = f"[{key}]" if isinstance(key, int) else str(key)
        if isinstance(value, (dict, list)) and value:
            rows.append({"key": name, "depth": depth, "value": None})
            rows.extend(status_rows(value, depth + 1))
        else:
            rows.append({"key": name, "depth": depth, "value": _scalar(value)})
        if len(rows) >= MAX_STATUS_ROWS:
            break
    return rows[:MAX_STATUS_ROWS]


def cr_detail(tracker: RuntimeTracker, crd: str, body: dict | None, events: dict | None, error: str) -> dict:
    """View 5, one CR with its children and recent Events."""
    cr = body or {}
    status, children = cr.get("status"), cr.get("children")
    status = status if isinstance(status, dict) else {}
    children = children if isinstance(children, dict) else {}
    return {"runtime": runtime_ref(tracker), "crd": crd,
            "error": error, "name": str(cr.get("name") or ""), "namespace": str(cr.get("namespace") or ""),
            "uid": cr.get("uid", ""), "phase": str(cr.get("phase") or ""), "ready": str(cr.get("ready") or "Unknown"),
            "readyReason": str(cr.get("readyReason") or ""), "readyMessage": str(cr.get("readyMessage") or ""),
            "generation": cr.get("generation"), "observedGeneration": cr.get("observedGeneration"),
            "labels": {str(k): str(v) for k, v in (cr.get("labels") or {}).items()} if isinstance(cr.get("labels"), dict) else {},
            "statusTree": status_rows(status),
            "conditions": [c for c in status.get("conditions") or [] if isinstance(c, dict)],
            "children": [{"kind": str(kind), "items": [c for c in items if isinstance(c, dict)]}
                         for kind, items in sorted(children.items()) if isinstance(items, list)],
            "events": [e for e in (events or {}).get("events") or [] if isinstance(e, dict)]}
