from orkestra.engine.filters import owner_crd, owner_index, owner_uid, selector_string, update_needs_reconcile


def cr(rv="1", gen=1, **meta):
    return {"metadata": {"name": "a", "namespace": "ns", "resourceVersion": rv, "generation": gen, **meta},
            "status": {}}


def test_resync_always_enqueues():
    assert update_needs_reconcile(cr(), cr())


def test_status_only_update_is_filtered():
    old, new = cr(rv="1"), cr(rv="2")
    new["status"] = {"phase": "Ready"}
    assert not update_needs_reconcile(old, new)
    assert update_needs_reconcile(old, new, ignore_observed_generation=True)


def test_spec_and_metadata_changes_enqueue():
    assert update_needs_reconcile(cr(rv="1", gen=1), cr(rv="2", gen=2))
    assert update_needs_reconcile(cr(rv="1"), cr(rv="2", labels={"a": "b"}))
    assert update_needs_reconcile(cr(rv="1"), cr(rv="2", annotations={"a": "b"}))
    assert update_needs_reconcile(cr(rv="1"), cr(rv="2", finalizers=["x"]))
    assert update_needs_reconcile(cr(rv="1"), cr(rv="2", deletionTimestamp="2026-01-01T00:00:00Z"))


def test_objects_without_generation_always_enqueue():
    assert update_needs_reconcile(cr(rv="1", gen=None), cr(rv="2", gen=None))


def test_owner_from_label_then_controller_reference():
    labelled = {"metadata": {"labels": {"orkestra.io/owner-uid": "u1", "orkestra.io/crd": "website"},
                             "ownerReferences": [{"uid": "u2", "controller": True}]}}
    assert owner_uid(labelled) == "u1" and owner_crd(labelled) == "website"
    referenced = {"metadata": {"ownerReferences": [{"uid": "u3"}, {"uid": "u4", "controller": True}]}}
    assert owner_uid(referenced) == "u4" and owner_index(referenced) == ["u4"]
    assert owner_uid({"metadata": {}}) is None and owner_index({"metadata": {}}) == []


def test_selector_string():
    assert selector_string({}) is None
    assert selector_string({"app": "web", "tier": "fe"}) == "app=web,tier=fe"
