"""The API double keeps the API server's rules (RFC 6902/7386 patches, resourceVersion, finalizers)."""
from datetime import datetime, timezone

import pytest

from orkestra.gvk import GVR
from orkestra.kube.errors import ApiError
from tests.unit.reconcile.api_double import ApiDouble, JsonPatchError, json_patch, merge_patch

CM = GVR("", "v1", "configmaps")
WS = GVR("demo.orkestra.io", "v1alpha1", "websites")


def cm(name="c", namespace="ns", **extra):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace, **extra},
            "data": {"k": "v"}}


def ws(name="site", namespace="ns", **meta):
    return {"apiVersion": "demo.orkestra.io/v1alpha1", "kind": "Website",
            "metadata": {"name": name, "namespace": namespace, **meta}, "spec": {"replicas": 1}}


def clock():
    return datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


# --- RFC 7386 ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("target, patch, result", [
    # The examples of RFC 7386 appendix A.
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
])
def test_merge_patch_follows_rfc7386(target, patch, result):
    assert merge_patch(target, patch) == result


# --- RFC 6902 ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("doc, ops, result", [
    ({"foo": "bar"}, [{"op": "add", "path": "/baz", "value": "qux"}], {"foo": "bar", "baz": "qux"}),
    ({"foo": ["bar", "baz"]}, [{"op": "add", "path": "/foo/1", "value": "qux"}], {"foo": ["bar", "qux", "baz"]}),
    ({"foo": ["bar"]}, [{"op": "add", "path": "/foo/-", "value": "x"}], {"foo": ["bar", "x"]}),
    # add on an existing member replaces it (the item 11 trap: a whole finalizers list is replaced)
    ({"f": ["a", "b"]}, [{"op": "add", "path": "/f", "value": ["c"]}], {"f": ["c"]}),
    ({"baz": "qux", "foo": "bar"}, [{"op": "remove", "path": "/baz"}], {"foo": "bar"}),
    ({"foo": ["bar", "qux", "baz"]}, [{"op": "remove", "path": "/foo/1"}], {"foo": ["bar", "baz"]}),
    ({"baz": "qux", "foo": "bar"}, [{"op": "replace", "path": "/baz", "value": "boo"}], {"baz": "boo", "foo": "bar"}),
    ({"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},
     [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}],
     {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}}),
    ({"foo": ["all", "grass", "cows", "eat"]}, [{"op": "move", "from": "/foo/1", "path": "/foo/3"}],
     {"foo": ["all", "cows", "eat", "grass"]}),
    ({"a": {"b": 1}}, [{"op": "copy", "from": "/a", "path": "/c"}], {"a": {"b": 1}, "c": {"b": 1}}),
    ({"baz": "qux", "foo": ["a", 2, "c"]},
     [{"op": "test", "path": "/baz", "value": "qux"}, {"op": "test", "path": "/foo/1", "value": 2}],
     {"baz": "qux", "foo": ["a", 2, "c"]}),
    ({"/": 9, "~1": 10}, [{"op": "test", "path": "/~01", "value": 10}, {"op": "remove", "path": "/~1"}], {"~1": 10}),
    ({"a": 1}, [{"op": "test", "path": "/a", "value": 1.0}], {"a": 1}),
    ({"q": {"bar": 2}}, [{"op": "add", "path": "/q/bar", "value": 3}], {"q": {"bar": 3}}),
    ({}, [{"op": "add", "path": "", "value": {"x": 1}}], {"x": 1}),
])
def test_json_patch_follows_rfc6902(doc, ops, result):
    assert json_patch(doc, ops) == result


@pytest.mark.parametrize("doc, ops", [
    ({"baz": "qux"}, [{"op": "test", "path": "/baz", "value": "bar"}]),
    ({"a": 1}, [{"op": "test", "path": "/a", "value": True}]),        # a boolean is not a number
    ({"a": 1}, [{"op": "test", "path": "/b", "value": 1}]),
    ({"foo": "bar"}, [{"op": "add", "path": "/baz/bat", "value": "qux"}]),
    ({"foo": ["bar"]}, [{"op": "add", "path": "/foo/2", "value": "x"}]),
    ({"foo": ["bar"]}, [{"op": "add", "path": "/foo/01", "value": "x"}]),
    ({"foo": "bar"}, [{"op": "remove", "path": "/nope"}]),
    ({"foo": "bar"}, [{"op": "replace", "path": "/nope", "value": 1}]),
    ({"a": {"b": 1}}, [{"op": "move", "from": "/a", "path": "/a/c"}]),
    ({"a": 1}, [{"op": "frobnicate", "path": "/a"}]),
    ({"a": 1}, [{"op": "add", "path": "/b"}]),
    ({"a": 1}, {"op": "add", "path": "/b", "value": 1}),
])
def test_json_patch_errors(doc, ops):
    with pytest.raises(JsonPatchError):
        json_patch(doc, ops)


def test_json_patch_is_all_or_nothing_and_leaves_the_input_alone():
    doc = {"a": 1}
    with pytest.raises(JsonPatchError):
        json_patch(doc, [{"op": "add", "path": "/b", "value": 2}, {"op": "test", "path": "/a", "value": 5}])
    assert doc == {"a": 1}


# --- the store --------------------------------------------------------------------------------------
def test_create_fills_server_fields_and_get_list_read_copies():
    api = ApiDouble(clock=clock)
    made = api.create(CM, cm(labels={"app": "x"}))
    meta = made["metadata"]
    assert meta["uid"] and meta["resourceVersion"] and meta["generation"] == 1
    assert meta["creationTimestamp"] == "2026-01-02T03:04:05Z" and "managedFields" not in meta
    made["data"]["k"] = "changed"
    assert api.get(CM, "c", "ns")["data"] == {"k": "v"}
    assert api.get(CM, "nope", "ns") is None
    with pytest.raises(ApiError) as err:
        api.create(CM, cm())
    assert err.value.status == 409 and err.value.reason == "AlreadyExists"


def test_list_filters_by_namespace_and_label_selector():
    api = ApiDouble()
    api.seed(CM, cm("a", "one", labels={"app": "x", "tier": "web"}))
    api.seed(CM, cm("b", "two", labels={"app": "x"}))
    api.seed(CM, cm("c", "two", labels={"app": "y"}))
    names = lambda **kw: [o["metadata"]["name"] for o in api.list(CM, **kw)[0]]  # noqa: E731
    assert names() == ["a", "b", "c"]
    assert names(namespace="two") == ["b", "c"]
    assert names(label_selector="app=x") == ["a", "b"]
    assert names(label_selector="app=x,tier") == ["a"]
    assert names(label_selector="app=x,!tier") == ["b"]
    assert names(label_selector="app!=x") == ["c"]
    assert names(label_selector="app in (y, z)") == ["c"]
    assert names(label_selector="app notin (y)") == ["a", "b"]
    assert names(field_selector="metadata.name=b") == ["b"]


def test_stale_resource_version_is_a_409_and_a_matching_one_writes():
    api = ApiDouble()
    first = api.create(WS, ws())
    rv = first["metadata"]["resourceVersion"]
    api.patch(WS, "site", {"metadata": {"labels": {"a": "1"}}}, "ns")
    with pytest.raises(ApiError) as err:
        api.patch(WS, "site", {"metadata": {"resourceVersion": rv, "labels": {"b": "2"}}}, "ns")
    assert err.value.status == 409 and err.value.conflict
    live = api.get(WS, "site", "ns")
    ok = api.patch(WS, "site", {"metadata": {"resourceVersion": live["metadata"]["resourceVersion"],
                                             "labels": {"b": "2"}}}, "ns")
    assert ok["metadata"]["labels"] == {"a": "1", "b": "2"}
    assert int(ok["metadata"]["resourceVersion"]) > int(live["metadata"]["resourceVersion"])


def test_json_patch_test_op_failure_is_a_422_and_writes_nothing():
    api = ApiDouble()
    api.create(WS, ws(finalizers=["x"]))
    before = api.get(WS, "site", "ns")
    with pytest.raises(ApiError) as err:
        api.patch(WS, "site", [{"op": "test", "path": "/metadata/resourceVersion", "value": "1"},
                               {"op": "replace", "path": "/metadata/finalizers", "value": []}], "ns", patch_type="json")
    assert err.value.status == 422 and err.value.message.startswith("jsonpatch")
    assert api.get(WS, "site", "ns") == before


def test_json_patch_setting_a_stale_resource_version_is_a_409():
    api = ApiDouble()
    api.create(WS, ws())
    with pytest.raises(ApiError) as err:
        api.patch(WS, "site", [{"op": "replace", "path": "/metadata/resourceVersion", "value": "1"}], "ns",
                  patch_type="json")
    assert err.value.status == 409


def test_generation_moves_with_the_spec_only():
    api = ApiDouble()
    api.create(WS, ws())
    assert api.patch(WS, "site", {"metadata": {"labels": {"a": "b"}}}, "ns")["metadata"]["generation"] == 1
    assert api.patch(WS, "site", {"status": {"x": 1}}, "ns", subresource="status")["metadata"]["generation"] == 1
    assert api.patch(WS, "site", {"spec": {"replicas": 2}}, "ns")["metadata"]["generation"] == 2


def test_status_subresource_splits_main_and_status_writes():
    api = ApiDouble()
    api.create(WS, ws())
    api.patch(WS, "site", {"status": {"phase": "ignored"}}, "ns")
    assert "status" not in api.get(WS, "site", "ns")
    out = api.patch(WS, "site", {"status": {"phase": "Ready"}, "spec": {"replicas": 9}}, "ns", subresource="status")
    assert out["status"] == {"phase": "Ready"} and out["spec"] == {"replicas": 1}
    no_status = ApiDouble(status_subresource=lambda gvr: gvr != WS)
    no_status.create(WS, ws())
    assert no_status.patch(WS, "site", {"status": {"p": 1}}, "ns")["status"] == {"p": 1}
    with pytest.raises(ApiError) as err:
        no_status.patch(WS, "site", {"status": {"p": 2}}, "ns", subresource="status")
    assert err.value.status == 404


def test_a_no_op_write_keeps_the_resource_version():
    api = ApiDouble()
    rv = api.create(WS, ws(labels={"a": "1"}))["metadata"]["resourceVersion"]
    assert api.patch(WS, "site", {"metadata": {"labels": {"a": "1"}}}, "ns")["metadata"]["resourceVersion"] == rv


def test_immutable_metadata_survives_writes_and_a_body_for_another_object_is_400():
    api = ApiDouble()
    made = api.create(WS, ws())
    out = api.patch(WS, "site", {"metadata": {"uid": "forged", "generation": 99}}, "ns")
    assert out["metadata"]["uid"] == made["metadata"]["uid"] and out["metadata"]["generation"] == 1
    with pytest.raises(ApiError) as err:
        api.patch(WS, "site", {"metadata": {"name": "other"}}, "ns")
    assert err.value.status == 400


def test_not_found_writes_are_404_and_delete_answers_false():
    api = ApiDouble()
    with pytest.raises(ApiError) as err:
        api.patch(WS, "nope", {"spec": {}}, "ns")
    assert err.value.not_found
    assert api.delete(WS, "nope", "ns") is False
    assert api.calls[-1].status == 404


# --- deletion and finalizers ----------------------------------------------------------------------
def test_delete_with_finalizers_marks_then_removing_the_last_one_deletes():
    api = ApiDouble(clock=clock)
    api.create(WS, ws(finalizers=["a", "b"]))
    assert api.delete(WS, "site", "ns") is True
    live = api.get(WS, "site", "ns")
    assert live["metadata"]["deletionTimestamp"] == "2026-01-02T03:04:05Z"
    assert live["metadata"]["generation"] == 2
    assert api.delete(WS, "site", "ns") is True       # a second delete changes nothing
    assert api.get(WS, "site", "ns") == live
    api.patch(WS, "site", [{"op": "remove", "path": "/metadata/finalizers/0"}], "ns", patch_type="json")
    assert api.get(WS, "site", "ns")["metadata"]["finalizers"] == ["b"]
    api.patch(WS, "site", {"metadata": {"finalizers": None}}, "ns")
    assert api.get(WS, "site", "ns") is None


def test_no_new_finalizer_on_a_deleting_object():
    api = ApiDouble()
    api.create(WS, ws(finalizers=["a"]))
    api.delete(WS, "site", "ns")
    with pytest.raises(ApiError) as err:
        api.patch(WS, "site", [{"op": "add", "path": "/metadata/finalizers/-", "value": "b"}], "ns",
                  patch_type="json")
    assert err.value.status == 422 and "no new finalizers" in err.value.message


def test_delete_without_finalizers_removes_and_preconditions_are_checked():
    api = ApiDouble()
    made = api.create(CM, cm())
    with pytest.raises(ApiError) as err:
        api.delete(CM, "c", "ns", preconditions={"uid": "someone-else"})
    assert err.value.status == 409 and api.get(CM, "c", "ns") is not None
    assert api.delete(CM, "c", "ns", preconditions={"uid": made["metadata"]["uid"]}) is True
    assert api.get(CM, "c", "ns") is None


# --- server-side apply ------------------------------------------------------------------------------
def test_apply_creates_merges_and_drops_fields_it_no_longer_applies():
    api = ApiDouble()
    api.apply(CM, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "ns"},
                   "data": {"a": "1", "b": "2"}})
    api.patch(CM, "c", {"metadata": {"annotations": {"user": "kept"}}}, "ns")   # someone else's field
    out = api.apply(CM, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "ns"},
                         "data": {"a": "1"}})
    assert out["data"] == {"a": "1"} and out["metadata"]["annotations"] == {"user": "kept"}


def test_an_unchanged_apply_keeps_the_resource_version():
    api = ApiDouble()
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "ns"}, "data": {"a": "1"}}
    rv = api.apply(CM, body)["metadata"]["resourceVersion"]
    assert api.apply(CM, body)["metadata"]["resourceVersion"] == rv


def test_apply_without_force_conflicts_on_a_field_someone_else_set():
    api = ApiDouble()
    api.seed(CM, cm())
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "ns"}, "data": {"k": "mine"}}
    with pytest.raises(ApiError) as err:
        api.apply(CM, body, force=False)
    assert err.value.status == 409 and ".data.k" in err.value.message
    assert api.apply(CM, body, force=True)["data"] == {"k": "mine"}


def test_managed_fields_are_opt_in():
    api = ApiDouble(managed_fields=True, clock=clock)
    out = api.apply(CM, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "ns"}})
    assert out["metadata"]["managedFields"] == [{"manager": "orkestra", "operation": "Apply",
                                                 "time": "2026-01-02T03:04:05Z"}]


# --- recording and injected failures ----------------------------------------------------------------
def test_writes_are_recorded_and_seeds_and_reads_are_not_writes():
    api = ApiDouble()
    api.seed(CM, cm("users"))
    api.get(CM, "users", "ns")
    api.list(CM)
    api.create(CM, cm("mine"))
    assert [(c.verb, c.name) for c in api.writes] == [("create", "mine")]
    assert not api.touched(CM, "users", "ns") and api.touched(CM, "mine", "ns")
    api.clear_calls()
    assert api.writes == []


def test_injected_failures_and_admission_refuse_the_write():
    api = ApiDouble()
    api.fail("create", GVR("batch", "v1", "jobs"), status=403, message="namespace ns is being terminated")
    with pytest.raises(ApiError) as err:
        api.create(GVR("batch", "v1", "jobs"), {"metadata": {"name": "j", "namespace": "ns"}})
    assert err.value.forbidden and api.writes[-1].status == 403
    api.create(GVR("batch", "v1", "jobs"), {"metadata": {"name": "j", "namespace": "ns"}})   # only once

    def no_finalizer_removal(verb, gvr, old, new):
        if old and old["metadata"].get("finalizers") and not new["metadata"].get("finalizers"):
            raise ApiError(status=422, reason="Invalid", message="ValidatingAdmissionPolicy 'keep' denied",
                           verb=verb, resource=gvr.resource)

    api.create(WS, ws(finalizers=["a"]))
    api.add_admission(no_finalizer_removal)
    with pytest.raises(ApiError) as err:
        api.patch(WS, "site", {"metadata": {"finalizers": None}}, "ns")
    assert err.value.status == 422 and api.get(WS, "site", "ns")["metadata"]["finalizers"] == ["a"]
