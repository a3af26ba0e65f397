"""Releasing the CRs of a disabled entry (issue 9 item 10), against the API double."""
from __future__ import annotations

import dataclasses

from orkestra.engine.disabled import entries_to_release, release_entry
from orkestra.gvk import GVR
from tests.unit.reconcile.api_double import ApiDouble
from tests.unit.reconcile.factory import make_entry, make_katalog

WS = GVR("demo.orkestra.io", "v1alpha1", "websites")
FINALIZER = "orkestra.io/finalizer"
RECORDS = {"orkestra.io/finalizers": "orkestra.io/finalizer,example.io/cleanup",
           "orkestra.io/child-resources": "v1/configmaps", "orkestra.io/delete-jobs": "ns/site-job=succeeded"}


class Events:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def event(self, obj, type_, reason, message):
        self.seen.append((obj["metadata"]["name"], reason))


def disabled(**fields):
    return dataclasses.replace(make_entry(finalizers=["example.io/declared"]), enabled=False, **fields)


def seed(api: ApiDouble, name: str, finalizers: list[str], annotations: dict | None = None, **meta) -> None:
    api.seed(WS, {"apiVersion": "demo.orkestra.io/v1alpha1", "kind": "Website",
                  "metadata": {"name": name, "namespace": "ns", "finalizers": finalizers,
                               "annotations": {"user/note": "kept", **(annotations or {})}, **meta}})


def test_the_crs_of_a_disabled_entry_lose_exactly_what_orkestra_added():
    api = ApiDouble()
    seed(api, "site", [FINALIZER, "example.io/cleanup", "other.io/keep"], RECORDS)
    seed(api, "unrecorded", ["example.io/declared", FINALIZER])       # declared, never recorded: kept
    seed(api, "foreign", ["other.io/keep"])
    events = Events()
    assert release_entry(disabled(), api, events) == 2
    site = api.object(WS, "site", "ns")["metadata"]
    assert site["finalizers"] == ["other.io/keep"] and site["annotations"] == {"user/note": "kept"}
    assert api.object(WS, "unrecorded", "ns")["metadata"]["finalizers"] == ["example.io/declared"]
    assert not api.writes_to(WS, "foreign", "ns")
    assert events.seen == [("site", "FinalizerRemoved"), ("unrecorded", "FinalizerRemoved")]
    api.clear_calls()
    assert release_entry(disabled(), api, events) == 0
    assert api.writes == []                     # a second leader finds nothing left: no write


def test_a_terminating_cr_of_a_disabled_entry_is_deleted_once_released():
    api = ApiDouble()
    seed(api, "site", [FINALIZER])
    api.delete(WS, "site", "ns")
    assert api.object(WS, "site", "ns") is not None        # hangs on Orkestra's finalizer
    release_entry(disabled(), api, Events())
    assert api.object(WS, "site", "ns") is None


def test_only_the_entry_scope_is_listed():
    api = ApiDouble()
    seed(api, "mine", [FINALIZER], labels={"team": "a"})
    seed(api, "theirs", [FINALIZER], labels={"team": "b"})
    release_entry(disabled(label_selector={"team": "a"}), api, Events())
    assert not api.object(WS, "mine", "ns")["metadata"].get("finalizers")
    assert api.object(WS, "theirs", "ns")["metadata"]["finalizers"] == [FINALIZER]


def test_watch_namespace_scopes_namespaced_kinds_only():
    api = ApiDouble()
    seed(api, "inside", [FINALIZER])
    api.seed(WS, {"metadata": {"name": "elsewhere", "namespace": "other", "finalizers": [FINALIZER]}})
    release_entry(disabled(), api, Events(), watch_namespace="ns")
    assert not api.object(WS, "inside", "ns")["metadata"].get("finalizers")
    assert api.object(WS, "elsewhere", "other")["metadata"]["finalizers"] == [FINALIZER]
    cluster = disabled(api=dataclasses.replace(make_entry().api, namespaced=False))
    api.seed(WS, {"metadata": {"name": "global", "finalizers": [FINALIZER]}})
    release_entry(cluster, api, Events(), watch_namespace="ns")      # WATCH_NAMESPACE does not apply
    assert not api.object(WS, "global")["metadata"].get("finalizers")


def test_a_cr_changed_after_the_list_keeps_the_other_controllers_finalizer():
    api = ApiDouble()
    seed(api, "site", [FINALIZER])
    listed = api.list(WS)

    class StaleList:          # the list answer predates another controller's write
        def __getattr__(self, name):
            return getattr(api, name)

        def list(self, *args, **kwargs):
            return listed

    api.patch(WS, "site", {"metadata": {"finalizers": [FINALIZER, "other.io/protect"]}}, "ns")
    release_entry(disabled(), StaleList(), Events())
    assert api.object(WS, "site", "ns")["metadata"]["finalizers"] == ["other.io/protect"]


def test_a_failing_list_or_patch_is_logged_not_raised(caplog):
    api = ApiDouble()
    seed(api, "site", [FINALIZER])
    api.fail("list", WS, status=403, message="forbidden")
    assert release_entry(disabled(), api, Events()) == 0
    assert "cannot list" in caplog.text
    api.fail("patch", WS, status=500, message="boom")
    assert release_entry(disabled(), api, Events()) == 0
    assert "cannot release" in caplog.text
    assert release_entry(disabled(), api, Events()) == 1      # the next try succeeds


def test_a_disabled_entry_sharing_its_kind_with_an_enabled_one_is_left_alone():
    enabled = make_entry()
    old = dataclasses.replace(disabled(), key="old")
    other = dataclasses.replace(disabled(), key="other",
                                api=dataclasses.replace(enabled.api, group="other.io", plural="others"))
    assert [e.key for e in entries_to_release(make_katalog(enabled, old, other))] == ["other"]
