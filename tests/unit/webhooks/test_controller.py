"""Desired configurations and the webhook controller's GET-compare-write pass (fake API, no cluster)."""
from __future__ import annotations

import base64
import copy

import pytest

from orkestra.gvk import GVR
from orkestra.webhooks.configurations import ClientTarget, conversion_patch, covers, desired_configurations
from orkestra.webhooks.controller import MUTATING, NAMESPACES, VALIDATING, WebhookController
from orkestra.webhooks.plan import CRD_GVR, build_plan
from orkestra.webhooks.switches import WebhookSettings

from .katalogs import load

TARGET = ClientTarget(url="https://127.0.0.1:8443")
CA = b"-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n"
LABEL = "orkestra.io/deletion-protection"


def merge(base, patch):
    """JSON merge patch (RFC 7386), as the API server applies it."""
    out = dict(base)
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        elif isinstance(v, dict):   # RFC 7386: nested nulls are removed even under a new key
            out[k] = merge(out[k] if isinstance(out.get(k), dict) else {}, v)
        else:
            out[k] = copy.deepcopy(v)
    return out


class FakeApi:
    """In-memory objects; records every write."""

    def __init__(self):
        self.objects: dict[tuple, dict] = {}
        self.writes: list[tuple] = []
        self.rv = 0

    def put(self, gvr, obj, namespace=None):
        self.rv += 1
        obj = copy.deepcopy(obj)
        obj.setdefault("metadata", {})["resourceVersion"] = str(self.rv)
        self.objects[(gvr, namespace, obj["metadata"]["name"])] = obj
        return obj

    def get(self, gvr, name, namespace=None):
        return copy.deepcopy(self.objects.get((gvr, namespace, name)))

    def create(self, gvr, obj, namespace=None):
        self.writes.append(("create", obj["metadata"]["name"]))
        return self.put(gvr, obj, namespace)

    def replace(self, gvr, obj, namespace=None):
        self.writes.append(("replace", obj["metadata"]["name"]))
        return self.put(gvr, obj, namespace)

    def patch(self, gvr, name, body, namespace=None, patch_type="merge"):
        self.writes.append(("patch", name))
        return self.put(gvr, merge(self.objects[(gvr, namespace, name)], body), namespace)

    def delete(self, gvr, name, namespace=None):
        self.writes.append(("delete", name))
        return self.objects.pop((gvr, namespace, name), None) is not None

    def list(self, gvr, namespace=None, label_selector=None, field_selector=None):
        key, _, value = (label_selector or "=").partition("=")
        items = [copy.deepcopy(o) for (g, ns, _), o in self.objects.items() if g == gvr and ns == namespace
                 and (not key or o["metadata"].get("labels", {}).get(key) == value)]
        return items, str(self.rv)


@pytest.fixture
def plan(tmp_path):
    return build_plan(load(tmp_path), WebhookSettings(enable_conversion=True, enable_admission=True))


def controller(api, plan, runtime_mode=True):
    return WebhookController(api, plan, target=TARGET, ca_bundle=lambda: CA, resync=30,
                             own_namespace="orkestra-system", tls_secret="orkestra-webhook-tls",
                             runtime_mode=runtime_mode)


def test_admission_configuration_shape(plan):
    d = desired_configurations(plan, TARGET, CA)
    val = d["orkestra-validation"]
    assert val["kind"] == "ValidatingWebhookConfiguration"
    assert val["metadata"]["labels"] == {"app.kubernetes.io/name": "orkestra", "app.kubernetes.io/managed-by": "orkestra",
                                         LABEL: "true"}
    by_name = {w["name"]: w for w in val["webhooks"]}
    assert set(by_name) == {"service-app.validate.orkestra.orkspace.io", "team-app.validate.orkestra.orkspace.io"}
    team = by_name["team-app.validate.orkestra.orkspace.io"]
    assert team == {
        "name": "team-app.validate.orkestra.orkspace.io",
        "clientConfig": {"url": "https://127.0.0.1:8443/validate", "caBundle": base64.b64encode(CA).decode()},
        "admissionReviewVersions": ["v1"], "sideEffects": "None", "timeoutSeconds": 5, "matchPolicy": "Exact",
        "failurePolicy": "Ignore",
        "rules": [{"apiGroups": ["apps.example.io"], "apiVersions": ["v1"], "resources": ["serviceapps"],
                   "operations": ["CREATE", "UPDATE"], "scope": "Namespaced"}],
        "objectSelector": {"matchLabels": {"owner": "team"}},
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "team-a"}}}
    assert by_name["service-app.validate.orkestra.orkspace.io"]["rules"][0]["operations"] == ["CREATE", "UPDATE", "DELETE"]
    (mut,) = d["orkestra-mutation"]["webhooks"]
    assert mut["reinvocationPolicy"] == "IfNeeded" and mut["rules"][0]["operations"] == ["CREATE", "UPDATE"]
    assert mut["clientConfig"]["url"].endswith("/mutate")


def test_protection_configurations(plan):
    d = desired_configurations(plan, ClientTarget(service="orkestra", namespace="sys", port=8443), CA)
    hooks = {w["name"]: w for w in d["orkestra-deletion-protection"]["webhooks"]}
    assert list(hooks) == ["protect.crds.orkestra.orkspace.io", "protect.resources.orkestra.orkspace.io",
                           "strict-mode.orkestra.orkspace.io"]
    crds = hooks["protect.crds.orkestra.orkspace.io"]
    assert crds["clientConfig"]["service"] == {"name": "orkestra", "namespace": "sys", "path": "/deletion-protection",
                                               "port": 8443}
    assert crds["failurePolicy"] == "Fail" and crds["objectSelector"] == {"matchLabels": {LABEL: "true"}}
    assert crds["rules"] == [{"apiGroups": ["apiextensions.k8s.io"], "apiVersions": ["v1"],
                              "resources": ["customresourcedefinitions"], "operations": ["DELETE"], "scope": "Cluster"}]
    res_rules = hooks["protect.resources.orkestra.orkspace.io"]["rules"]
    core = next(r for r in res_rules if r["apiGroups"] == [""] and r["scope"] == "Namespaced")
    assert core["resources"] == ["configmaps", "secrets", "serviceaccounts", "services"]
    assert any(r["apiGroups"] == ["apps.example.io"] and r["resources"] == ["serviceapps"] for r in res_rules)
    assert not any("webhookconfigurations" in res for r in res_rules for res in r["resources"])
    strict_rules = hooks["strict-mode.orkestra.orkspace.io"]["rules"]
    assert strict_rules == [{"apiGroups": ["apps.example.io"], "apiVersions": ["v1"], "resources": ["serviceapps"],
                             "operations": ["UPDATE"], "scope": "Namespaced"}]
    (ns_hook,) = d["orkestra-namespace-protection"]["webhooks"]
    assert ns_hook["name"] == "namespace-protect.orkestra.orkspace.io"
    assert ns_hook["rules"][0]["operations"] == ["CREATE", "UPDATE"]


def test_covers_ignores_server_defaults_but_not_edits():
    wanted = {"a": 1, "b": {"c": [1, {"d": 2}]}, "gone": None}
    assert covers({"a": 1, "b": {"c": [1, {"d": 2, "x": 0}], "y": 1}, "z": 3}, wanted)
    assert not covers({"a": 1, "b": {"c": [1, {"d": 3}]}}, wanted)
    assert not covers({"a": 1, "b": {"c": [1, {"d": 2}]}, "gone": 1}, wanted)


def test_first_pass_creates_patches_and_labels_then_nothing_to_do(plan):
    api = FakeApi()
    for name in ("caches.data.example.io", "serviceapps.apps.example.io"):
        api.put(CRD_GVR, {"metadata": {"name": name}, "spec": {"conversion": {"strategy": "None"}}})
    api.put(NAMESPACES, {"metadata": {"name": "orkestra-system"}})
    own = GVR("", "v1", "configmaps")
    api.put(own, {"metadata": {"name": "cfg", "labels": {"app.kubernetes.io/part-of": "orkestra"}}}, "orkestra-system")
    api.put(own, {"metadata": {"name": "other"}}, "orkestra-system")
    ctl = controller(api, plan)
    assert ctl.reconcile_once("startup") is True
    assert {w for w in api.writes if w[0] == "create"} == {
        ("create", n) for n in ("orkestra-validation", "orkestra-mutation", "orkestra-deletion-protection",
                                "orkestra-namespace-protection")}
    conv = api.get(CRD_GVR, "caches.data.example.io")["spec"]["conversion"]
    assert conv == {"strategy": "Webhook", "webhook": {"clientConfig": {
        "url": "https://127.0.0.1:8443/convert", "caBundle": base64.b64encode(CA).decode()},
        "conversionReviewVersions": ["v1"]}}
    assert api.get(CRD_GVR, "serviceapps.apps.example.io")["metadata"]["labels"] == {LABEL: "true"}
    assert api.get(NAMESPACES, "orkestra-system")["metadata"]["labels"] == {LABEL: "true"}
    assert api.get(own, "cfg", "orkestra-system")["metadata"]["labels"][LABEL] == "true"
    assert "labels" not in api.get(own, "other", "orkestra-system")["metadata"]
    api.writes.clear()
    assert ctl.reconcile_once("timer") is True and api.writes == []


def test_drift_is_repaired_and_unwanted_configurations_deleted(plan, tmp_path):
    api = FakeApi()
    ctl = controller(api, plan)
    ctl.reconcile_once("startup")
    edited = api.get(VALIDATING, "orkestra-deletion-protection")
    edited["webhooks"][0]["failurePolicy"] = "Ignore"
    api.put(VALIDATING, edited)
    api.delete(MUTATING, "orkestra-mutation")
    api.writes.clear()
    ctl.reconcile_once("watch")
    assert sorted(api.writes) == [("create", "orkestra-mutation"), ("replace", "orkestra-deletion-protection")]
    assert api.get(VALIDATING, "orkestra-deletion-protection")["webhooks"][0]["failurePolicy"] == "Fail"
    # admission switched off: Orkestra's labelled configurations go, a foreign one of that name stays
    off = build_plan(load(tmp_path), WebhookSettings(enable_conversion=True))
    api.put(MUTATING, {"metadata": {"name": "orkestra-mutation"}, "webhooks": []})
    api.writes.clear()
    controller(api, off).reconcile_once("timer")
    assert api.writes == [("delete", "orkestra-validation")]


def test_gateway_labels_only_once_and_cleanup(plan):
    api = FakeApi()
    api.put(CRD_GVR, {"metadata": {"name": "serviceapps.apps.example.io"}, "spec": {}})
    ctl = controller(api, plan, runtime_mode=False)
    ctl.reconcile_once("startup")
    crd = api.get(CRD_GVR, "serviceapps.apps.example.io")
    crd["metadata"]["labels"] = {}
    api.put(CRD_GVR, crd)
    ctl.reconcile_once("timer")
    assert api.get(CRD_GVR, "serviceapps.apps.example.io")["metadata"]["labels"] == {}
    plan.deletion.cleanup = True
    ctl.cleanup_on_shutdown()
    assert api.get(VALIDATING, "orkestra-deletion-protection") is None
    assert api.get(VALIDATING, "orkestra-namespace-protection") is not None


def test_failures_are_counted_and_never_raise(plan):
    class Broken(FakeApi):
        def get(self, gvr, name, namespace=None):
            raise RuntimeError("api down")

    from orkestra import metrics
    before = metrics.webhook_reconcile_failures.labels("validation")._value.get()
    assert controller(Broken(), plan).reconcile_once("timer") is False
    assert metrics.webhook_reconcile_failures.labels("validation")._value.get() == before + 1


def test_conversion_patch_switches_client_config_form():
    p = conversion_patch(ClientTarget(service="s", namespace="n", port=1), CA)
    cc = p["spec"]["conversion"]["webhook"]["clientConfig"]
    assert cc["url"] is None and cc["service"] == {"name": "s", "namespace": "n", "path": "/convert", "port": 1}


DELETE_ONLY = """
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: delete-only}
spec:
  crds:
    app:
      apiTypes: {group: apps.example.io, version: v1, kind: ServiceApp, plural: serviceapps}
      validation:
        rules: [{field: spec.keep, exists: false, message: "cannot delete kept apps"}]
      mutation:
        rules: [{field: spec.replicas, default: 2}]
      webhooks: {operations: [DELETE]}
    other:
      apiTypes: {group: apps.example.io, version: v1, kind: Other, plural: others}
      mutation:
        rules: [{field: spec.replicas, default: 2}]
      webhooks: {operations: [CREATE, DELETE]}
"""


def test_mutation_entry_never_widens_operations_beyond_webhooks_operations(tmp_path):
    # docs/katalog.md#admission-switches: mutation does not apply to DELETE; an entry limited to DELETE gets no
    # mutating webhook at all (it must not be registered for CREATE/UPDATE it did not ask for)
    plan = build_plan(load(tmp_path, DELETE_ONLY), WebhookSettings(enable_conversion=True, enable_admission=True))
    d = desired_configurations(plan, TARGET, CA)
    (val,) = d["orkestra-validation"]["webhooks"]
    assert val["rules"][0]["operations"] == ["DELETE"]
    (mut,) = d["orkestra-mutation"]["webhooks"]
    assert mut["name"] == "other.mutate.orkestra.orkspace.io" and mut["rules"][0]["operations"] == ["CREATE"]
    only = DELETE_ONLY.split("    other:")[0]
    plan = build_plan(load(tmp_path, only), WebhookSettings(enable_conversion=True, enable_admission=True))
    assert desired_configurations(plan, TARGET, CA)["orkestra-mutation"] is None


CHILD_CRDS = """
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: children}
security:
  deletionProtection: {enabled: true}
spec:
  crds:
    monitored:
      apiTypes: {group: apps.example.io, version: v1, kind: Monitored, plural: monitoreds}
      operatorBox:
        onCreate: {custom: [{apiVersion: monitoring.coreos.com/v1, kind: ServiceMonitor, plural: servicemonitors}]}
    unguarded:
      apiTypes: {group: apps.example.io, version: v1, kind: Loose, plural: looses}
      deletionProtection: {protectCRD: false}
      operatorBox:
        onCreate: {custom: [{apiVersion: cert-manager.io/v1, kind: Certificate, plural: certificates}]}
"""


def test_custom_child_crds_are_protected_only_through_an_entry_with_protect_crd(tmp_path):
    # docs/webhooks.md §6.1: the CRDs of entries with protectCRD, "plus the CRDs of custom child kinds
    # declared in those entries": an entry with protectCRD: false protects neither
    plan = build_plan(load(tmp_path, CHILD_CRDS), WebhookSettings())
    assert set(plan.deletion.protected_crds) == {"monitoreds.apps.example.io", "servicemonitors.monitoring.coreos.com"}
