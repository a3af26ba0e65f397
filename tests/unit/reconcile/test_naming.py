import hashlib

from orkestra.reconcile.naming import (can_own, cut_name, default_name, owner_reference, stamp_identity,
                                       standard_labels)
from tests.unit.reconcile.factory import make_cr


def test_short_names_are_kept():
    assert cut_name("a" * 63) == "a" * 63


def test_long_names_are_cut_to_57_plus_hash():
    long = "x" * 70
    cut = cut_name(long)
    assert len(cut) == 63
    assert cut == "x" * 57 + "-" + hashlib.sha256(long.encode()).hexdigest()[:5]


def test_default_names_namespaced_and_cluster_scoped():
    cr = make_cr("web", "shop")
    assert default_name(cr, "-deployment", cluster_scoped=False) == "web-deployment"
    assert default_name(cr, "-clusterrole", cluster_scoped=True) == "shop-web-clusterrole"
    assert default_name(make_cr("web", None), "-clusterrole", cluster_scoped=True) == "web-clusterrole"


def test_default_name_of_a_long_cr_uses_the_hash_rule():
    cr = make_cr("n" * 60, "default")
    name = default_name(cr, "-deployment", cluster_scoped=False)
    assert len(name) == 63 and name.startswith("n" * 57 + "-")


def test_standard_labels():
    cr = make_cr("web", "shop", uid="u-9")
    assert standard_labels(cr, "website", "onCreate.deployments.0") == {
        "app.kubernetes.io/managed-by": "orkestra", "orkestra.io/crd": "website", "orkestra-owner": "web",
        "orkestra.io/owner-namespace": "shop", "orkestra.io/owner-uid": "u-9",
        "orkestra.io/template": "onCreate.deployments.0"}
    cluster = standard_labels(make_cr("web", None), "website", None)
    assert "orkestra.io/owner-namespace" not in cluster and "orkestra.io/template" not in cluster


def test_ownership_rules():
    ns_cr, cluster_cr = make_cr("a", "shop"), make_cr("a", None)
    assert can_own(ns_cr, "shop")
    assert not can_own(ns_cr, "other")
    assert not can_own(ns_cr, None)          # cluster-scoped child of a namespaced CR
    assert can_own(cluster_cr, None) and can_own(cluster_cr, "any")


def test_stamp_identity_owns_or_tracks():
    cr = make_cr("a", "shop")
    owned = {"metadata": {"name": "x", "namespace": "shop", "labels": {"team": "t"}}}
    assert stamp_identity(owned, cr, "website", "onReconcile.configMaps.0") is False
    assert owned["metadata"]["ownerReferences"] == [owner_reference(cr)]
    assert owned["metadata"]["labels"]["team"] == "t"
    tracked = {"metadata": {"name": "x"}}
    assert stamp_identity(tracked, cr, "website", "onReconcile.clusterRoles.0") is True
    assert "ownerReferences" not in tracked["metadata"]
    assert tracked["metadata"]["labels"]["orkestra.io/owner-uid"] == "uid-1"
