"""Runtime documents shaped as in the runtime API reference, for the Control Center's unit tests."""
from __future__ import annotations

import copy


def crd_summary(name: str, *, state: str = "healthy", total: int = 42, failed: int = 0, depth: int = 2,
                max_depth: int = 100, depends_on: tuple[str, ...] = (), last_error: str = "") -> dict:
    return {"name": name, "kind": name.capitalize(), "group": "demo.orkestra.io", "version": "v1alpha1",
            "plural": f"{name}s", "scope": "Namespaced", "gvk": f"demo.orkestra.io/v1alpha1, Kind={name.capitalize()}",
            "enabled": True, "state": state, "healthy": state == "healthy", "started": True, "pending": False,
            "missing": False, "workers": 3, "workersActive": 3, "queueDepth": depth, "maxQueueDepth": max_depth,
            "failureThreshold": 5, "totalReconciles": total, "failedReconciles": failed, "consecutiveFails": 0,
            "errorRate": round(failed / total, 4) if total else 0.0, "lastReconcile": "2026-03-01T12:11:58Z",
            "lastError": last_error, "resourceCount": 5, "startedAt": "2026-03-01T12:00:03Z", "uptime": "12m1s",
            "dependsOn": list(depends_on)}


def katalog(name: str = "website-operator", *, leader: bool = True, crds: list[dict] | None = None) -> dict:
    crds = crds if crds is not None else [crd_summary("cache"), crd_summary("website", depends_on=("cache",))]
    states = [c["state"] for c in crds]
    degraded = states.count("degraded")
    return {"name": name, "version": "0.1.0", "description": "Websites and their caches",
            "orkestraVersion": "0.1.0", "identity": "runtime-a", "isKonductor": leader, "leader": "runtime-a",
            "healthy": degraded == 0, "OrkReady": True, "status": 200 if not degraded else 503,
            "degradedReason": f"{degraded} CRD degraded" if degraded else "", "total": len(crds),
            "totalEnabled": len(crds), "totalDegraded": degraded,
            "statusCounts": {s: states.count(s) for s in ("healthy", "started", "pending", "degraded", "not started")},
            "namespaces": {"default": [c["name"] for c in crds]}, "gatewayEndpoint": "",
            "startedAt": "2026-03-01T12:00:00Z", "uptime": "12m4s",
            "dependencyGraph": {"startupOrder": [c["name"] for c in crds],
                                "edges": [{"from": d, "to": c["name"], "condition": "healthy"}
                                          for c in crds for d in c["dependsOn"]]},
            "crds": crds}


def detail(name: str, *, workers: int = 3, stuck: int = 0) -> dict:
    states = [{"id": i, "state": "stuck" if i < stuck else "idle"} for i in range(workers)]
    for s in states:
        if s["state"] == "stuck":
            s.update(key="default/site-a", since="2026-03-01T12:11:59Z")
    return {"name": name, "description": "", "gvk": f"demo.orkestra.io/v1alpha1, Kind={name.capitalize()}",
            "gvr": f"demo.orkestra.io/v1alpha1/{name}s", "scope": "Namespaced", "state": "healthy",
            "workers": {"configured": workers, "source": "configured", "active": workers, "processing": 0,
                        "idle": workers - stuck, "stuck": stuck, "states": states},
            "resync": "15s", "timeout": "5m0s",
            "queue": {"depth": 2, "maxDepth": 100, "onLimit": "warn", "failureThreshold": 5, "dropped": 0,
                      "limitReached": 0},
            "reconcile": {"total": 42, "failed": 0, "consecutiveFails": 0, "errorRate": 0.0, "successRate": 1.0,
                          "avgDurationMs": 18.4, "lastReconcile": "2026-03-01T12:11:58Z", "lastError": "",
                          "lastErrorAt": None, "lastErrorStack": ""},
            "resourceCount": 5, "dependencies": [], "hasUnhealthyDependencies": False,
            "reconciler": {"type": "generic", "hooks": "", "finalizers": ["orkestra.io/finalizer"],
                           "runHooksFirst": False, "templates": {"onCreate": [], "onReconcile": ["configMaps"], "onDelete": []}},
            "rbac": [{"apiGroups": ["demo.orkestra.io"], "resources": [f"{name}s"], "verbs": ["get", "list", "watch"]}],
            "admission": {"webhooksEnabled": False, "validationRules": 0, "mutationRules": 0},
            "conversion": {"enabled": False}, "deletionProtection": {"enabled": False},
            "namespaceProtection": {"enabled": False}, "activeWarnings": []}


def health(name: str, *, leader: bool = True, state: str = "healthy") -> dict:
    return {"name": name, "state": state, "status": 503 if state == "degraded" else 200, "isKonductor": leader,
            "healthy": state == "healthy", "started": True, "pending": False, "missing": False,
            "startedAt": "2026-03-01T12:00:03Z", "uptime": "12m1s", "queueDepth": 2, "errorRate": 0.0,
            "consecutiveFails": 0, "failureThreshold": 5, "totalReconciles": 42, "resourceCount": 5,
            "lastError": "", "lastReconcile": "2026-03-01T12:11:58Z", "hasUnhealthyDependencies": False}


def documents(base: str = "", katalog_doc: dict | None = None, *, leader: bool = True) -> dict[str, tuple[int, dict]]:
    """path (prefixed with `base`) → (status, body) for a whole runtime."""
    k = copy.deepcopy(katalog_doc) if katalog_doc is not None else katalog(leader=leader)
    docs = {f"{base}/katalog": (200, k)}
    for c in k["crds"]:
        h = health(c["name"], leader=leader, state=c["state"])
        docs[f"{base}/katalog/{c['name']}"] = (200, detail(c["name"]))
        docs[f"{base}/katalog/{c['name']}/health"] = (h["status"], h)
    return docs


def recording() -> dict:
    """The shape `orkestra.testing.fake_runtime.katalog_documents` multiplies."""
    return {"katalog": katalog(crds=[crd_summary("website")]), "detail": detail("website"), "health": health("website")}
