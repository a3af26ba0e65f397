"""The view models: numbers, queue pressure, the snapshot shape and each view's content."""
from __future__ import annotations

import pytest

from orkestra.controlcenter import viewmodels as vm
from orkestra.controlcenter.history import Series
from orkestra.controlcenter.tracker import RuntimeData, RuntimeTracker
from tests.unit.controlcenter import samples

EMPTY = Series([], [], [], 0)


def _tracker(katalog: dict | None = None, *, details: dict | None = None, leader: bool = True) -> RuntimeTracker:
    k = katalog or samples.katalog()
    t = RuntimeTracker("a-8080", "http://a:8080", interval=10)
    t.record(RuntimeData(katalog=k, details=details or {c["name"]: samples.detail(c["name"]) for c in k["crds"]},
                         health={c["name"]: samples.health(c["name"]) for c in k["crds"]}, leader=leader,
                         fetched_at=1000.0))
    return t


@pytest.mark.parametrize("n, text", [(0, "0"), (950, "950"), (15_200, "15.2K"), (1_000, "1K"),
                                     (1_300_000, "1.3M"), (None, "0"), (2.5, "2.5")])
def test_large_numbers_are_shortened(n, text):
    assert vm.short_number(n) == text


@pytest.mark.parametrize("depth, limit, level, label", [(10, 100, "level-low", "10/100"), (50, 100, "level-mid", "50/100"),
                                                         (80, 100, "level-mid", "80/100"), (81, 100, "level-high", "81/100"),
                                                         (7, 0, "level-none", "7")])
def test_queue_pressure_colour_by_depth_over_max_depth(depth, limit, level, label):
    q = vm.queue_pressure(depth, limit)
    assert (q["level"], q["label"]) == (level, label)
    assert q["fraction"] == (None if not limit else depth / limit)


def test_the_snapshot_has_exactly_the_documented_shape():
    offline = RuntimeTracker("b-8080", "http://b:8080", interval=10)
    offline.fail("connection refused", 1000)
    body = vm.snapshot_body([_tracker(), offline], 1000.0)
    assert set(body) == {"updated", "stats", "runtimes"} and body["updated"] == "1970-01-01T00:16:40Z"
    assert body["stats"] == {"totalKatalogs": 1, "healthyKatalogs": 1, "totalCRDs": 2, "totalWorkers": 6,
                             "totalResources": 10}
    online, gone = body["runtimes"]
    assert set(online) == {"id", "url", "status", "lastError", "katalog"}
    assert online["katalog"] == {"name": "website-operator", "version": "0.1.0", "healthy": True, "totalCRDs": 2,
                                 "healthyCRDs": 2, "totalWorkers": 6, "totalResources": 10}
    assert gone == {"id": "b-8080", "url": "http://b:8080", "status": "offline", "lastError": "connection refused",
                    "katalog": None}


def test_an_offline_runtime_is_shown_stale_with_its_error_and_since_when():
    t = _tracker()
    t.fail("timed out", 1030)
    card = vm.runtime_card(t, now=1090)
    assert card["status"] == "offline" and card["stale"] and card["offlineFor"] == "1m0s"
    assert card["katalog"]["healthy"] is False, "an offline Katalog is not counted healthy"
    assert card["fetchedAgo"] == "1m30s"


def test_control_panel_lists_crds_in_start_order_with_history_and_graph():
    k = samples.katalog(crds=[samples.crd_summary("website", depends_on=("cache",), state="degraded",
                                                  last_error="boom\nstack line"), samples.crd_summary("cache")])
    k["dependencyGraph"]["startupOrder"] = ["cache", "website"]
    series = {"website": Series([1.0, 2.0], [0.0, 0.5], [3.0, 4.0], 20)}
    model = vm.control_panel(_tracker(k), series, now=1000)
    assert [c["name"] for c in model["crds"]] == ["cache", "website"]
    website = model["crds"][1]
    assert website["lastError"] == "boom" and website["dependsOn"] == ["cache"]
    assert website["history"]["reconcilesPerSecond"] == [1.0, 2.0]
    assert model["graph"]["edges"] == [["cache", "website"]] and model["graph"]["states"]["website"] == "degraded"
    assert {h["state"]: h["count"] for h in model["health"]} == {"healthy": 1, "started": 0, "pending": 0,
                                                                 "degraded": 1, "not started": 0}


def test_crd_detail_shows_ten_workers_first_and_flags_stuck_ones():
    k = samples.katalog(crds=[samples.crd_summary("website")])
    t = _tracker(k, details={"website": samples.detail("website", workers=14, stuck=2)})
    model = vm.crd_detail(t, "website", EMPTY, now=1000)
    assert model["workers"]["total"] == 14 and len(model["workers"]["shown"]) == 10 and len(model["workers"]["rest"]) == 4
    assert model["workers"]["stuck"] == 2 and model["workers"]["shown"][0]["stuck"]
    assert model["queue"]["label"] == "2/100" and model["rbac"][0]["resources"] == ["websites"]
    assert vm.crd_detail(t, "missing", EMPTY, now=1000) is None


def test_status_tree_flattens_nested_fields_without_conditions():
    rows = vm.status_rows({"phase": "Ready", "conditions": [{"type": "Ready"}], "endpoints": {"web": "x", "ok": True},
                           "ports": [80, None], "empty": {}})
    assert [(r["key"], r["depth"], r["value"]) for r in rows] == [
        ("phase", 0, "Ready"), ("endpoints", 0, None), ("web", 1, "x"), ("ok", 1, "true"),
        ("ports", 0, None), ("[0]", 1, "80"), ("[1]", 1, ""), ("empty", 0, "{}")]


def test_cr_detail_groups_children_and_keeps_events():
    body = {"name": "site-a", "namespace": "default", "ready": "True", "labels": {"team": "web"},
            "status": {"phase": "Ready", "conditions": [{"type": "Ready", "status": "True"}]},
            "children": {"Service": [{"name": "site-a", "ready": True}], "Deployment": [{"name": "site-a", "replicas": 2}]}}
    events = {"events": [{"type": "Normal", "reason": "Reconciled", "message": "ok"}]}
    model = vm.cr_detail(_tracker(), "website", body, events, "")
    assert [g["kind"] for g in model["children"]] == ["Deployment", "Service"]
    assert model["conditions"][0]["type"] == "Ready" and model["labels"] == {"team": "web"}
    assert model["events"][0]["reason"] == "Reconciled" and model["runtime"]["katalogName"] == "website-operator"


def test_resources_lists_namespaces_for_the_filter():
    body = {"gvk": "g/v, Kind=K", "items": [{"name": "a", "namespace": "x"}, {"name": "b", "namespace": "y"},
                                            {"name": "c", "namespace": "x"}, "junk"]}
    model = vm.resources(_tracker(), "website", body, "")
    assert model["namespaces"] == ["x", "y"] and model["total"] == 3 and model["items"][0]["ready"] == "Unknown"
