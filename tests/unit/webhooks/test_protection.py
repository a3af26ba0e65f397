"""/deletion-protection and /namespace-protection: decisions, exact messages, stats."""
from __future__ import annotations

import pytest

from orkestra.webhooks.app import WebhookState, create_webhook_app
from orkestra.webhooks.switches import WebhookSettings

from .katalogs import GUARDED, admission, load, obj, post

LABEL = {"orkestra.io/deletion-protection": "true"}


@pytest.fixture
def setup(tmp_path):
    k = load(tmp_path)
    state = WebhookState.build(k, WebhookSettings())
    return create_webhook_app(k, state).test_client(), state


def answer(client, path, review):
    resp = post(client, path, review)
    assert resp.status_code == 200
    return resp.get_json()["response"]


def crd(name, labels=LABEL):
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": name, "labels": labels}}


CRD_RESOURCE = {"group": "apiextensions.k8s.io", "version": "v1", "resource": "customresourcedefinitions"}


def test_protected_crd_deletion_is_denied_with_the_two_line_message(setup):
    client, state = setup
    r = answer(client, "/deletion-protection",
               admission("DELETE", None, crd("serviceapps.apps.example.io"), resource=CRD_RESOURCE))
    assert r["allowed"] is False and r["status"]["code"] == 403 and r["status"]["reason"] == "Forbidden"
    assert r["status"]["message"] == (
        '[Orkestra Security] CRD "serviceapps.apps.example.io" is protected from deletion by Katalog "guarded".\n'
        "To delete it: set security.deletionProtection.enabled: false (or deletionProtection.protectCRD: false "
        "on its entry), redeploy Orkestra, then retry.")
    assert state.stats.counters("protection:deletion") == {"total": 1, "blocked": 1}
    assert state.stats.counters("deletion:service-app") == {"total": 1, "blocked": 1}


def test_crd_outside_the_protected_set_is_allowed(setup):
    client, _ = setup
    r = answer(client, "/deletion-protection", admission("DELETE", None, crd("other.example.io"), resource=CRD_RESOURCE))
    assert r["allowed"] is True


def test_labelled_cr_of_a_managed_kind(setup):
    client, _ = setup
    r = answer(client, "/deletion-protection", admission("DELETE", None, obj("site-a", labels=LABEL)))
    assert r["status"]["message"] == (
        '[Orkestra Security] ServiceApp "site-a" in namespace "default" is protected from deletion '
        "(label orkestra.io/deletion-protection=true).\n"
        "To delete it: annotate it orkestra.io/deletion-protection=false (Orkestra then removes the label), "
        "or disable protection in the Katalog and redeploy Orkestra, then retry.")


def test_other_labelled_resources_and_cluster_scope(setup):
    client, state = setup
    dep = obj("orkestra-runtime", "orkestra-system", kind="Deployment", api_version="apps/v1", labels=LABEL)
    r = answer(client, "/deletion-protection", admission("DELETE", None, dep))
    assert r["status"]["message"] == (
        '[Orkestra Security] Deployment "orkestra-runtime" in namespace "orkestra-system" is protected from '
        "deletion (label orkestra.io/deletion-protection=true).\n"
        "To delete it: remove the label, or set security.deletionProtection.enabled: false and redeploy "
        "Orkestra, then retry.")
    ns = obj("orkestra-system", "", kind="Namespace", api_version="v1", labels=LABEL)
    r = answer(client, "/deletion-protection", admission("DELETE", None, ns))
    assert r["status"]["message"].startswith('[Orkestra Security] Namespace "orkestra-system" is protected')
    unlabelled = obj("x", kind="ConfigMap", api_version="v1")
    assert answer(client, "/deletion-protection", admission("DELETE", None, unlabelled))["allowed"] is True
    assert state.stats.counters("protection:deletion") == {"total": 3, "blocked": 2, "allowed": 1}


def test_strict_mode_denies_label_removal_only_in_its_scope(setup):
    client, _ = setup
    # team-app (strictMode on that entry) shares the ServiceApp kind with service-app
    old = obj("site-a", labels=LABEL)
    new = obj("site-a", labels={})
    r = answer(client, "/deletion-protection", admission("UPDATE", new, old))
    assert r["allowed"] is False
    assert r["status"]["message"] == (
        '[Orkestra Security] ServiceApp "site-a" in namespace "default" carries the deletion-protection label '
        "and strictMode is on: the label cannot be removed.\n"
        "To unprotect it: set deletionProtection.strictMode: false in the Katalog and redeploy Orkestra, then retry.")
    kept = obj("site-a", labels=LABEL, replicas=3)
    assert answer(client, "/deletion-protection", admission("UPDATE", kept, old))["allowed"] is True
    # a ConfigMap is outside the strict scope (strict mode is per entry here, not global)
    cm_old = obj("c", kind="ConfigMap", api_version="v1", labels=LABEL)
    cm_new = obj("c", kind="ConfigMap", api_version="v1", labels={})
    assert answer(client, "/deletion-protection", admission("UPDATE", cm_new, cm_old))["allowed"] is True


def test_namespace_protection(setup):
    client, state = setup
    r = answer(client, "/namespace-protection", admission("CREATE", obj("a", "kube-system")))
    assert r["allowed"] is False
    assert r["status"]["message"] == (
        '[Orkestra Security] Namespace "kube-system" is not permitted for ServiceApp (serviceapps.apps.example.io).\n'
        "To allow it: update allowedNamespaces or restrictedNamespaces for this CRD in the Katalog and redeploy "
        "Orkestra.")
    assert answer(client, "/namespace-protection", admission("CREATE", obj("a", "secret-x")))["allowed"] is False
    assert answer(client, "/namespace-protection", admission("CREATE", obj("a", "apps")))["allowed"] is True
    # team-app's own allowedNamespaces (team-*) replace the global rules for objects it selects
    team = obj("t", "team-a", labels={"owner": "team"})
    assert answer(client, "/namespace-protection", admission("CREATE", team))["allowed"] is True
    dying = obj("a", "kube-system")
    dying["metadata"]["deletionTimestamp"] = "2026-03-01T12:00:00Z"
    assert answer(client, "/namespace-protection", admission("UPDATE", dying, dying))["allowed"] is True
    assert state.stats.counters("protection:namespace") == {"total": 5, "blocked": 2, "allowed": 3}


NAMESPACE_RESOURCE = {"group": "", "version": "v1", "resource": "namespaces"}


def test_labelled_namespace_message_has_no_in_namespace_part(setup, tmp_path):
    # the API server fills request.namespace with the Namespace's own name for namespace objects;
    # a Namespace is cluster-scoped, so the message omits the `in namespace` part (§6.3)
    client, _ = setup
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "orkestra-system", "labels": LABEL}}
    review = admission("DELETE", None, ns, resource=NAMESPACE_RESOURCE)
    review["request"]["namespace"] = "orkestra-system"
    r = answer(client, "/deletion-protection", review)
    assert r["status"]["message"] == (
        '[Orkestra Security] Namespace "orkestra-system" is protected from deletion '
        "(label orkestra.io/deletion-protection=true).\n"
        "To delete it: remove the label, or set security.deletionProtection.enabled: false and redeploy "
        "Orkestra, then retry.")
    k = load(tmp_path, GUARDED.replace("deletionProtection: {enabled: true}",
                                       "deletionProtection: {enabled: true, strictMode: true}"))
    strict = create_webhook_app(k, WebhookState.build(k, WebhookSettings())).test_client()
    unlabelled = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "orkestra-system"}}
    review = admission("UPDATE", unlabelled, ns, resource=NAMESPACE_RESOURCE)
    review["request"]["namespace"] = "orkestra-system"
    r = answer(strict, "/deletion-protection", review)
    assert r["status"]["message"].startswith(
        '[Orkestra Security] Namespace "orkestra-system" carries the deletion-protection label and strictMode')


def test_global_strict_mode_on_crds_covers_only_the_protected_set(tmp_path):
    # like DELETE (§6.1), the strict-mode entry allows CRDs outside the protected set: a stale or
    # hand-labelled unrelated CRD never has its label locked by this Katalog
    k = load(tmp_path, GUARDED.replace("deletionProtection: {enabled: true}",
                                       "deletionProtection: {enabled: true, strictMode: true}"))
    client = create_webhook_app(k, WebhookState.build(k, WebhookSettings())).test_client()

    def unlabel(name):
        return admission("UPDATE", crd(name, labels={}), crd(name), resource=CRD_RESOURCE)
    assert answer(client, "/deletion-protection", unlabel("others.unrelated.example.io"))["allowed"] is True
    r = answer(client, "/deletion-protection", unlabel("caches.data.example.io"))
    assert r["allowed"] is False and r["status"]["message"].startswith(
        '[Orkestra Security] CustomResourceDefinition "caches.data.example.io" carries the deletion-protection label')
