"""Which children one reconcile prunes (issue 9 item 12): `PrunePlan.prunes`."""
from orkestra.reconcile.prune import PrunePlan

ENTRIES = frozenset({"onReconcile.configMaps.0", "onCreate.secrets.0", "onReconcile.clusterRoles.0"})
DESIRED = frozenset({"onReconcile.configMaps.0", "onReconcile.clusterRoles.0"})


def obj(name, template, uid="u", kind="ConfigMap", crd="website"):
    labels = {"orkestra.io/owner-uid": uid, "orkestra.io/crd": crd}
    if template is not None:
        labels["orkestra.io/template"] = template
    return {"kind": kind, "metadata": {"name": name, "namespace": "ns", "labels": labels}}


PLAN = PrunePlan(owner_uid="u", crd_key="website", desired_ids=DESIRED, entry_ids=ENTRIES,
                 declared=frozenset({("ConfigMap", "ns", "web-a"), ("ConfigMap", "ns", "web-b")}))


def test_a_child_of_a_current_desired_state_entry_goes_when_not_rendered():
    assert PLAN.prunes(obj("web-old", "onReconcile.configMaps.0"))
    assert not PLAN.prunes(obj("web-a", "onReconcile.configMaps.0"))


def test_a_child_of_a_removed_on_reconcile_entry_goes_unless_rendered_by_another_entry():
    assert PLAN.prunes(obj("web-c", "onReconcile.configMaps.3"))
    assert PLAN.prunes(obj("web-role", "onReconcile.clusterRoles.1", kind="ClusterRole"))
    assert not PLAN.prunes(obj("web-b", "onReconcile.configMaps.1"))     # entry 0 renders it now


def test_create_only_children_and_on_delete_children_stay():
    assert not PLAN.prunes(obj("web-secret", "onCreate.secrets.0"))      # current create-only entry
    assert not PLAN.prunes(obj("web-init", "onCreate.configMaps.2"))     # removed onCreate entry
    assert not PLAN.prunes(obj("web-job", "onReconcile.jobs.0", kind="Job"))   # Jobs are create-only
    assert not PLAN.prunes(obj("web-cleanup", "onDelete.jobs.0", kind="Job"))
    assert not PLAN.prunes(obj("web-x", "onReconcile.nosuchtype.0"))


def test_objects_of_hooks_users_and_other_crs_are_never_pruned():
    assert not PLAN.prunes(obj("web-hook", None))                          # ctx.apply: no template label
    assert not PLAN.prunes(obj("web-hook", ""))
    assert not PLAN.prunes(obj("web-c", "onReconcile.configMaps.3", uid="v"))
    assert not PLAN.prunes({"kind": "ConfigMap", "metadata": {"name": "web-c", "namespace": "ns"}})


def test_children_another_entry_of_the_same_kind_wrote_are_never_pruned():
    """Two entries of one kind may select the same CR: each prunes only children labelled with its key."""
    assert not PLAN.prunes(obj("web-gold", "onReconcile.configMaps.0", crd="website-gold"))   # a current id here
    assert not PLAN.prunes(obj("web-gold", "onReconcile.configMaps.3", crd="website-gold"))   # a "removed" id here
    assert not PLAN.prunes(obj("web-old", "onReconcile.configMaps.0", crd=None))
