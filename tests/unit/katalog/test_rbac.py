from __future__ import annotations

import yaml

from orkestra.engine.leader import LEASE_NAME
from orkestra.katalog.rbac import (
    LEADER_LEASE, WEBHOOK_CONFIGURATIONS, bundle, configmap_document, derive, namespace_rules, rbac_documents,
    render_stream, self_rules,
)
from orkestra.webhooks.configurations import CONFIGURATIONS, MUTATING_KIND


def rules_of(katalog, component="runtime", **kw):
    return [(r.group, r.resource, " ".join(r.verbs), r.resource_names) for r in derive(katalog, component, **kw)]


def load(report, body: str, extra: str = ""):
    r = report(extra + "spec:\n  crds:\n" + body)
    assert r.ok, [str(e) for e in r.errors]
    return r.katalog


CM = "    cm:\n      apiTypes: {group: d.io, version: v1, kind: C, plural: cs}\n"


def test_runtime_rules_in_order_without_deployments(report):
    k = load(report, CM + "      operatorBox: {onReconcile: {configMaps: [{data: {a: b}}]}}\n")
    assert rules_of(k) == [
        ("", "events", "list create patch", ()),
        ("d.io", "cs", "get list watch update patch", ()),
        ("d.io", "cs/finalizers", "update", ()),
        ("d.io", "cs/status", "get update patch", ()),
        ("", "configmaps", "get list watch create update patch delete", ()),
    ]
    assert not any(g == "apps" for g, *_ in rules_of(k))
    assert derive(k, "gateway") == [] and derive(k, "cc") == []


def test_roles_managed_get_escalate_and_bind(report):
    k = load(report, CM + "      operatorBox: {onReconcile: {roles: [{rules: []}]}}\n")
    got = {(g, r): v for g, r, v, _ in rules_of(k)}
    assert got[("rbac.authorization.k8s.io", "roles")] == "get list watch create update patch delete escalate bind"
    assert got[("rbac.authorization.k8s.io", "clusterroles")] == "escalate bind"


def test_only_bindings_get_get_and_bind(report):
    k = load(report, CM + "      operatorBox: {onReconcile: {roleBindings: [{roleRef: {kind: ClusterRole, name: x}}]}}\n")
    got = {(g, r): v for g, r, v, _ in rules_of(k)}
    assert got[("rbac.authorization.k8s.io", "roles")] == "get bind"
    assert got[("rbac.authorization.k8s.io", "clusterroles")] == "get bind"


def test_no_rbac_resources_means_no_escalate_or_bind(report):
    k = load(report, CM + "      operatorBox: {onReconcile: {deployments: [{image: x}]}}\n")
    assert not any("bind" in v or "escalate" in v for _, _, v, _ in rules_of(k))
    assert not any(r in ("roles", "clusterroles") for _, r, _, _ in rules_of(k))


def test_builtin_entries_custom_children_and_hook_resources(report, tmp_path):
    (tmp_path / "rbachooks.py").write_text("def f():\n    return {}\n")
    k = load(report, "    d:\n      apiTypes: {kind: Deployment}\n      labelSelector: {a: b}\n"
             "      ignoreStatusPatch: false\n" + CM +
             "      operatorBox:\n        reconciler:\n          hooks:\n            module: rbachooks\n"
             "            function: f\n            managedResources: [{kind: Deployment}, "
             "{apiVersion: cert-manager.io/v1, kind: Certificate}, {apiVersion: x.io/v1, kind: Foo, plural: fooz}]\n"
             "        onCreate: {custom: [{apiVersion: monitoring.coreos.com/v1, kind: ServiceMonitor, plural: servicemonitors}]}\n")
    got = rules_of(k)
    assert ("apps", "deployments", "get list watch create update patch delete", ()) in got   # merged with the watch rule
    assert not any(r == "deployments/status" for _, r, _, _ in got)
    assert ("monitoring.coreos.com", "servicemonitors", "get list watch create update patch delete", ()) in got
    assert ("cert-manager.io", "certificates", "get list watch create update patch delete", ()) in got
    assert ("x.io", "fooz", "get list watch create update patch delete", ()) in got
    assert len({(g, r, n) for g, r, _, n in got}) == len(got)


SECURITY = "security:\n  deletionProtection: {enabled: true}\n"


def test_webhook_rules_and_self_role(report):
    k = load(report, CM + "      validation: {rules: [{field: spec.h, unique: true, message: m}]}\n"
             "      conversion: {storageVersion: v1}\n", SECURITY)
    gateway = rules_of(k, "gateway", namespace="ops")
    validating = ("orkestra-deletion-protection", "orkestra-namespace-protection", "orkestra-validation")
    assert gateway == [
        ("admissionregistration.k8s.io", "mutatingwebhookconfigurations", "get list watch update patch delete",
         ("orkestra-mutation",)),
        ("admissionregistration.k8s.io", "validatingwebhookconfigurations", "create", ()),
        ("admissionregistration.k8s.io", "validatingwebhookconfigurations", "get list watch update patch delete",
         validating),
        ("apiextensions.k8s.io", "customresourcedefinitions", "get list watch patch", ("cs.d.io",)),
        ("", "namespaces", "get patch", ("ops",)),
        ("d.io", "cs", "get list watch", ()),
    ]
    runtime = rules_of(k, namespace="ops")
    for rule in gateway[:-1]:
        assert rule in runtime
    assert [(r.group, r.resource) for r in self_rules(k)] == [
        ("", "configmaps"), ("", "secrets"), ("", "serviceaccounts"), ("", "services"), ("apps", "deployments")]


def test_protection_block_with_enabled_false_still_declares_webhooks(report):
    k = load(report, CM, "security:\n  namespaceProtection: {enabled: false}\n")
    assert [r for _, r, _, _ in rules_of(k, "gateway")] == ["mutatingwebhookconfigurations"] + [
        "validatingwebhookconfigurations"] * 2
    assert [r.resource for r in namespace_rules(k, "gateway")] == ["secrets", "secrets"]
    assert self_rules(k) == []


def test_bundle_documents_order_labels_and_determinism(report):
    k = load(report, CM, SECURITY)
    docs = rbac_documents(k, namespace="ops", components=["cc", "runtime", "gateway"]) + [configmap_document(k, namespace="ops")]
    assert [(d["kind"], d["metadata"]["name"]) for d in docs] == [
        ("Namespace", "ops"), ("ServiceAccount", "orkestra"), ("ServiceAccount", "orkestra-gateway"),
        ("ServiceAccount", "orkestra-cc"), ("ClusterRole", "orkestra"), ("ClusterRole", "orkestra-gateway"),
        ("ClusterRoleBinding", "orkestra"), ("ClusterRoleBinding", "orkestra-gateway"),
        ("Role", "orkestra"), ("RoleBinding", "orkestra"), ("Role", "orkestra-gateway"),
        ("RoleBinding", "orkestra-gateway"), ("Role", "orkestra-self"),
        ("RoleBinding", "orkestra-self"), ("ConfigMap", "orkestra-config")]
    for d in docs:
        assert d["metadata"]["labels"] == {"app.kubernetes.io/name": "orkestra", "app.kubernetes.io/part-of": "orkestra",
                                           "app.kubernetes.io/managed-by": "ork", "orkestra.io/deletion-protection": "true"}
    assert docs[6]["subjects"] == [{"kind": "ServiceAccount", "name": "orkestra", "namespace": "ops"}]
    stored = yaml.safe_load(docs[-1]["data"]["katalog.yaml"])
    assert stored["kind"] == "Katalog" and "workers" not in str(stored)
    assert render_stream(docs, header="h") == render_stream(bundle(k, namespace="ops"), header="h")
    only_cc = rbac_documents(k, namespace="ops", components=["cc"])
    assert [d["kind"] for d in only_cc] == ["Namespace", "ServiceAccount"]


def test_control_center_reads_only_with_api_auth(report):
    """The `cc` ServiceAccount gets exactly the reviews its reads ask for under
    ORK_API_AUTH=kubernetes: the summary paths by name (not /katalog/raw or /katalog/enriched),
    get/list on every entry's kind (a disabled one too: /katalog lists it) but Secrets, and
    list events."""
    other = "    old:\n      enabled: false\n      apiTypes: {group: e.io, version: v1, kind: O, plural: os}\n"
    secret = "    pw:\n      apiTypes: {kind: Secret}\n"
    k = load(report, CM + other + secret)
    assert derive(k, "cc") == [] and rbac_documents(k, namespace="ops", components=["cc"])[-1]["kind"] == "ServiceAccount"
    rules = [r.to_k8s() for r in derive(k, "cc", api_auth=True)]
    assert rules == [
        {"nonResourceURLs": ["/katalog", "/katalog/cm", "/katalog/cm/health", "/katalog/old", "/katalog/old/health",
                             "/katalog/pw", "/katalog/pw/health"],
         "verbs": ["get"]},
        {"apiGroups": [""], "resources": ["events"], "verbs": ["list"]},
        {"apiGroups": ["d.io"], "resources": ["cs"], "verbs": ["get", "list"]},
        {"apiGroups": ["e.io"], "resources": ["os"], "verbs": ["get", "list"]},
    ]
    docs = rbac_documents(k, namespace="ops", components=["cc"], api_auth=True)
    assert [(d["kind"], d["metadata"]["name"]) for d in docs] == [
        ("Namespace", "ops"), ("ServiceAccount", "orkestra-cc"), ("ClusterRole", "orkestra-cc"),
        ("ClusterRoleBinding", "orkestra-cc")]
    assert docs[2]["rules"] == rules
    assert docs[3]["subjects"] == [{"kind": "ServiceAccount", "name": "orkestra-cc", "namespace": "ops"}]
    everything = rbac_documents(k, namespace="ops", components=["runtime", "gateway", "cc"], api_auth=True)
    assert [d["metadata"]["name"] for d in everything if d["kind"] == "ClusterRole"] == [
        "orkestra", "orkestra-gateway", "orkestra-cc"]


def test_runtime_keeps_step_order_when_webhook_rules_follow(report):
    k = load(report, CM + "      validation: {rules: [{field: spec.h, exists: true, message: m}]}\n")
    got = [(g, r) for g, r, _, _ in rules_of(k)]
    assert got[0] == ("", "events")
    assert got[-3:] == [("admissionregistration.k8s.io", "mutatingwebhookconfigurations")] + [
        ("admissionregistration.k8s.io", "validatingwebhookconfigurations")] * 2


def test_protected_custom_child_crds_are_in_the_crd_rule(report):
    child = "      operatorBox: {onReconcile: {custom: [{apiVersion: x.io/v1, kind: Foo, plural: fooz}]}}\n"
    k = load(report, CM + child, SECURITY)
    crd_rules = [n for g, r, _, n in rules_of(k, "gateway") if r == "customresourcedefinitions"]
    assert crd_rules == [("cs.d.io", "fooz.x.io")]
    k = load(report, CM + "      deletionProtection: {protectCRD: false}\n" + child, SECURITY)
    assert not any(r == "customresourcedefinitions" for _, r, _, _ in rules_of(k, "gateway"))


def test_a_disabled_entry_gets_only_get_list_patch_on_its_kind(report):
    """The leader releases Orkestra's finalizers from a disabled entry's CRs (docs/finalizers.md):
    nothing for its templates, status, hooks or children."""
    k = load(report, CM + "      operatorBox: {onReconcile: {configMaps: [{data: {a: b}}]}}\n"
             "    old:\n      enabled: false\n      apiTypes: {group: old.io, version: v1, kind: O, plural: os}\n"
             "      operatorBox: {onReconcile: {secrets: [{data: {a: b}}]}, finalizers: [old.io/x]}\n")
    got = rules_of(k)
    assert ("old.io", "os", "get list patch", ()) in got
    assert [r for _, r, _, _ in got if r.startswith("os") or r == "secrets"] == ["os"]
    reasons = {r.resource: r.reason for r in derive(k, "runtime")}
    assert "disabled" in reasons["os"]


def test_cluster_role_never_holds_secret_or_lease_rules(report):
    """Issue 16 item 3: a ClusterRole rule on a Secret name or on Leases holds in kube-system too."""
    k = load(report, CM + "      validation: {rules: [{field: spec.h, exists: true, message: m}]}\n", SECURITY)
    for component in ("runtime", "gateway"):
        cluster = rules_of(k, component)
        assert not any(r in ("secrets", "leases") for _, r, _, _ in cluster), cluster
        for g, r, verbs, names in cluster:
            if g == "admissionregistration.k8s.io" and verbs != "create":
                assert names, (r, verbs)
    runtime_local = [(r.resource, " ".join(r.verbs), r.resource_names) for r in namespace_rules(k, "runtime",
                                                                                                 tls_secret="tls")]
    assert runtime_local == [("leases", "create", ()), ("leases", "get list watch update", ("orkestra-konductor",)),
                             ("secrets", "create", ()), ("secrets", "get update", ("tls",))]
    roles = {d["metadata"]["name"]: d for d in rbac_documents(k, namespace="ops", components=["runtime", "gateway"])
             if d["kind"] == "Role"}
    assert roles["orkestra"]["metadata"]["namespace"] == "ops"
    assert [r["resources"] for r in roles["orkestra-gateway"]["rules"]] == [["secrets"], ["secrets"]]


def test_restricted_names_match_what_the_runtime_uses():
    assert LEADER_LEASE == LEASE_NAME
    by_resource = {"mutatingwebhookconfigurations": set(), "validatingwebhookconfigurations": set()}
    for name, (kind, _) in CONFIGURATIONS.items():
        by_resource["mutatingwebhookconfigurations" if kind == MUTATING_KIND else "validatingwebhookconfigurations"].add(name)
    assert {r: set(n) for r, n in WEBHOOK_CONFIGURATIONS.items()} == by_resource


def test_webhook_configuration_create_only_for_the_kinds_the_katalog_registers(report):
    """Issue 16 item 3: an unrestricted `create` on mutating configurations lets a token holder
    register a webhook that rewrites every Pod; grant it only when some entry has mutation rules."""
    def creates(k):
        return sorted(r for _, r, verbs, _ in rules_of(k, "gateway") if verbs == "create")
    validating = load(report, CM + "      validation: {rules: [{field: spec.h, exists: true, message: m}]}\n")
    assert creates(validating) == ["validatingwebhookconfigurations"]
    mutating = load(report, CM + "      mutation: {rules: [{field: spec.h, default: x}]}\n")
    assert creates(mutating) == ["mutatingwebhookconfigurations"]
    conversion_only = load(report, CM + "      conversion: {storageVersion: v1}\n")
    assert creates(conversion_only) == []
    assert len(rules_of(conversion_only, "gateway")) == 3   # the by-name rules stay: stale ones are removed
