import copy

from orkestra.reconcile import crmeta
from orkestra.reconcile.crmeta import (add_finalizers_patch, finalizers_to_remove, metadata_patch,
                                       namespace_allowed, remove_finalizers_patch, wanted_finalizers)
from tests.unit.reconcile.factory import make_cr

ON = {"enabled": True, "protectCRD": True, "protectCRs": True, "strictMode": False}


def test_namespace_rules():
    assert namespace_allowed("team-a", ["team-*"], [])
    assert not namespace_allowed("prod", ["team-*"], [])
    assert not namespace_allowed("kube-system", [], ["kube-*"])
    assert namespace_allowed(None, ["team-*"], [])          # cluster-scoped CRs
    assert namespace_allowed("any", [], [])


def test_wanted_finalizers_orkestra_first_no_duplicates():
    assert wanted_finalizers(["a/x", "orkestra.io/finalizer"]) == ["orkestra.io/finalizer", "a/x"]


def test_add_finalizers_patch_writes_the_whole_list_and_records_what_it_added():
    cr = make_cr()
    ops, added = add_finalizers_patch(cr, ["orkestra.io/finalizer", "a/x"])
    assert ops == [{"op": "add", "path": "/metadata/finalizers", "value": ["orkestra.io/finalizer", "a/x"]},
                   {"op": "add", "path": "/metadata/annotations",
                    "value": {"orkestra.io/finalizers": "a/x"}}]
    cr["metadata"].update(finalizers=["other", "a/x"], annotations={"orkestra.io/finalizers": "a/x"})
    ops, added = add_finalizers_patch(cr, ["orkestra.io/finalizer", "a/x", "b/y"])
    assert ops == [{"op": "add", "path": "/metadata/finalizers",
                    "value": ["other", "a/x", "orkestra.io/finalizer", "b/y"]},
                   {"op": "add", "path": "/metadata/annotations/orkestra.io~1finalizers", "value": "a/x,b/y"}]
    assert added == ["orkestra.io/finalizer", "b/y"]
    # Orkestra's own finalizer alone needs no record: a CR with nothing declared gets no annotation
    ops, _ = add_finalizers_patch(make_cr(), ["orkestra.io/finalizer"])
    assert ops == [{"op": "add", "path": "/metadata/finalizers", "value": ["orkestra.io/finalizer"]}]
    cr["metadata"]["finalizers"] += ["orkestra.io/finalizer", "b/y"]
    assert add_finalizers_patch(cr, ["orkestra.io/finalizer"]) == ([], [])


def test_finalizers_to_remove_include_the_recorded_ones_only():
    cr = make_cr(finalizers=["user/x", "orkestra.io/finalizer", "old/declared"],
                 annotations={"orkestra.io/finalizers": "orkestra.io/finalizer,old/declared"})
    assert finalizers_to_remove(cr, ["orkestra.io/finalizer"]) == ["orkestra.io/finalizer", "old/declared"]


def test_remove_finalizers_keeps_others_and_drops_the_record():
    cr = make_cr(finalizers=["other", "orkestra.io/finalizer", "a/x"], annotations={"orkestra.io/finalizers": "a/x"})
    ops, removed = remove_finalizers_patch(cr, ["orkestra.io/finalizer", "a/x"])
    assert ops == [{"op": "replace", "path": "/metadata/finalizers", "value": ["other"]},
                   {"op": "remove", "path": "/metadata/annotations/orkestra.io~1finalizers"}]
    assert removed == ["orkestra.io/finalizer", "a/x"]
    assert remove_finalizers_patch(make_cr(finalizers=["other"]), ["orkestra.io/finalizer"]) == ([], [])


def test_remove_finalizers_drops_every_record_orkestra_keeps():
    cr = make_cr(finalizers=["orkestra.io/finalizer"],
                 annotations={"orkestra.io/child-resources": "v1/configmaps", "orkestra.io/delete-jobs": "ns/j=succeeded",
                              "user/note": "kept"})
    ops, removed = remove_finalizers_patch(cr, ["orkestra.io/finalizer"])
    assert ops == [{"op": "replace", "path": "/metadata/finalizers", "value": []},
                   {"op": "remove", "path": "/metadata/annotations/orkestra.io~1child-resources"},
                   {"op": "remove", "path": "/metadata/annotations/orkestra.io~1delete-jobs"}]
    assert removed == ["orkestra.io/finalizer"]
    cr["metadata"]["finalizers"] = []          # someone removed the finalizer by hand: the records still go
    assert remove_finalizers_patch(cr, ["orkestra.io/finalizer"]) == (ops[1:], [])


def test_metadata_patch_labels_and_katalog_annotation():
    cr = make_cr(labels={"team": "a"})
    patch = metadata_patch(cr, labels={"team": "a", "tier": "web"}, protection={"enabled": False},
                           katalog_name="shop")
    assert patch == {"metadata": {"labels": {"tier": "web"}, "annotations": {"orkestra.io/katalog": "shop"}}}
    cr["metadata"].update(labels={"team": "a", "tier": "web"}, annotations={"orkestra.io/katalog": "shop"})
    assert metadata_patch(cr, labels={"tier": "web"}, protection={"enabled": False}, katalog_name="shop") is None
    assert metadata_patch(make_cr(), labels={}, protection={"enabled": False}, katalog_name=None) is None


def test_protection_label_added_and_opt_out():
    cr = make_cr()
    assert metadata_patch(cr, labels={}, protection=ON, katalog_name=None) == {
        "metadata": {"labels": {"orkestra.io/deletion-protection": "true"}}}
    assert metadata_patch(cr, labels={}, protection={**ON, "protectCRs": False}, katalog_name=None) is None
    opted = make_cr(labels={"orkestra.io/deletion-protection": "true"},
                    annotations={"orkestra.io/deletion-protection": "false"})
    assert metadata_patch(opted, labels={}, protection=ON, katalog_name=None) == {
        "metadata": {"labels": {"orkestra.io/deletion-protection": None}}}
    assert metadata_patch(opted, labels={}, protection={**ON, "strictMode": True}, katalog_name=None) is None


def test_metadata_ops_match_the_merge_patch_they_replace():
    from orkestra.reconcile.crmeta import metadata_ops
    from tests.unit.reconcile.api_double import json_patch, merge_patch
    bare = make_cr()
    full = make_cr(labels={"orkestra.io/deletion-protection": "true", "keep": "1"},
                   annotations={"user/note": "x"})
    for cr in (bare, full):
        patch = {"metadata": {"labels": {"team": "a/b", "orkestra.io/deletion-protection": None},
                              "annotations": {"orkestra.io/katalog": "shop"}}}
        assert json_patch(cr, metadata_ops(cr, patch)) == merge_patch(copy.deepcopy(cr), patch)


def test_metadata_ops_after_finalizer_ops_add_to_the_annotations_map_those_created():
    """Issue 15: finalizers and metadata travel in one patch; computed on the CR as it was, the
    metadata ops would `add` a whole new annotations map over the finalizer record."""
    cr = {"metadata": {"name": "a", "resourceVersion": "1"}}
    ops, _ = crmeta.add_finalizers_patch(cr, crmeta.wanted_finalizers(["example.com/x"]))
    staged = crmeta.after_ops(cr, ops)
    patch = crmeta.metadata_patch(staged, labels={}, protection={}, katalog_name="k")
    assert patch is not None
    assert crmeta.metadata_ops(staged, patch) == [
        {"op": "add", "path": "/metadata/annotations/orkestra.io~1katalog", "value": "k"}]
    assert staged["metadata"]["annotations"] == {"orkestra.io/finalizers": "example.com/x"}
    assert cr == {"metadata": {"name": "a", "resourceVersion": "1"}}        # not modified
    again = crmeta.after_ops(staged, [{"op": "add", "path": "/metadata/annotations/orkestra.io~1katalog", "value": "k"}])
    assert again["metadata"]["annotations"]["orkestra.io/katalog"] == "k"
