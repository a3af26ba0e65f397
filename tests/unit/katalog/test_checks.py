from __future__ import annotations

import pytest

from tests.unit.katalog.conftest import HEAD, messages
from orkestra.katalog.loader import load_report
import textwrap

WEBSITE = "apiTypes: {group: demo.io, version: v1, kind: Website, plural: websites}"


def crds(body: str) -> str:
    return "spec:\n  crds:\n" + "\n".join("    " + line for line in body.strip("\n").splitlines()) + "\n"


def test_builtin_enrichment_and_explicit_values(report):
    r = report(crds("""
deploy:
  apiTypes: {kind: Deployment}
  labelSelector: {a: b}
hpa:
  apiTypes: {kind: HorizontalPodAutoscaler, version: v1}
  labelSelector: {a: b}
ns:
  apiTypes: {kind: Namespace, group: core}
"""))
    assert r.ok, [str(e) for e in r.errors]
    d, h, n = (r.katalog.crds[k].api for k in ("deploy", "hpa", "ns"))
    assert (d.group, d.version, d.plural, d.namespaced, d.builtin) == ("apps", "v1", "deployments", True, True)
    assert (h.group, h.version, h.plural) == ("autoscaling", "v1", "horizontalpodautoscalers")
    assert (n.group, n.plural, n.namespaced) == ("", "namespaces", False)
    assert d.gvk_string == "apps/v1, Kind=Deployment"


def test_builtin_plural_comes_from_the_registry_even_when_given(report):
    """docs/katalog.md#apitypes: explicit values win, but the plural still comes from the registry."""
    r = report(crds("deploy:\n  apiTypes: {kind: Deployment, version: v2, plural: foo}\n  labelSelector: {a: b}"))
    assert r.ok, [str(e) for e in r.errors]
    api = r.katalog.crds["deploy"].api
    assert (api.version, api.plural) == ("v2", "deployments")


def test_missing_kind_is_reported_once(report):
    r = report("apiVersion: orkestra.orkspace.io/v1\nmetadata: {name: t}\nspec: {crds: {}}\n", head=False)
    got = messages(r.errors)
    assert any('missing required field "kind"' in m for m in got)
    assert not any("invalid kind" in m for m in got), got


def test_custom_kind_needs_group_version_plural(report):
    r = report(crds("website:\n  apiTypes: {group: demo.io, kind: Website}"))
    assert messages(r.errors) == ['spec.crds.website.apiTypes: group, version and plural are required for kind '
                                  '"Website" (not a built-in kind)']


def test_names_and_reserved_keys(report):
    r = report(crds(f"raw:\n  {WEBSITE}\nBad_Key:\n  apiTypes: {{group: d.io, version: v1, kind: B, plural: bs}}"))
    got = messages(r.errors)
    assert 'spec.crds.raw: the CRD key "raw" is reserved (it would clash with /katalog/raw)' in got
    assert any(m.startswith('spec.crds.Bad_Key: invalid CRD key "Bad_Key"') for m in got)


def test_duplicate_watches(report):
    r = report(crds(f"a:\n  {WEBSITE}\nb:\n  {WEBSITE}\nc:\n  {WEBSITE}\n  namespace: other\n"
                    f"d:\n  {WEBSITE}\n  enabled: false"))
    assert messages(r.errors) == ['spec.crds.b: watches the same kind and selectors as "a"']


def test_depends_on_forms_names_and_disabled(report):
    r = report(crds(f"""
a:
  {WEBSITE}
  dependsOn: [b]
b:
  apiTypes: {{group: d.io, version: v1, kind: B, plural: bs}}
  dependsOn: {{c: healthy}}
c:
  apiTypes: {{group: d.io, version: v1, kind: C, plural: cs}}
  dependsOn: {{d: {{condition: started}}}}
d:
  apiTypes: {{group: d.io, version: v1, kind: D, plural: ds}}
  dependsOn: {{a: sometimes}}
off:
  apiTypes: {{group: d.io, version: v1, kind: E, plural: es}}
  enabled: false
"""))
    got = messages(r.errors)
    assert got == ['spec.crds.d.dependsOn.a: invalid condition "sometimes" (allowed: started, healthy)']
    r = report(crds(f"a:\n  {WEBSITE}\n  dependsOn: [parked, ghost]\nparked:\n  apiTypes: {{group: d.io, version: v1, kind: E, plural: es}}\n  enabled: false"))
    assert messages(r.errors) == ['spec.crds.a.dependsOn: "parked" is not an enabled CRD in this Katalog',
                                  'spec.crds.a.dependsOn: "ghost" is not an enabled CRD in this Katalog']


def test_cycles_are_reported_on_every_member_with_the_exact_path(report):
    r = report(crds("""
namespace:
  apiTypes: {group: d.io, version: v1, kind: N, plural: ns}
  dependsOn: [application]
application:
  apiTypes: {group: d.io, version: v1, kind: A, plural: as}
  dependsOn: [namespace]
self:
  apiTypes: {group: d.io, version: v1, kind: S, plural: ss}
  dependsOn: [self]
"""))
    by_crd = {e.crd: e.message for e in r.errors}
    assert by_crd == {"application": "circular dependency: application → namespace → application",
                      "namespace": "circular dependency: application → namespace → application",
                      "self": "circular dependency: self → self"}


def test_start_order_is_kahn_with_alphabetical_ties(report):
    r = report(crds("""
zeta:
  apiTypes: {group: d.io, version: v1, kind: Z, plural: zs}
alpha:
  apiTypes: {group: d.io, version: v1, kind: A, plural: as}
  dependsOn: [zeta]
beta:
  apiTypes: {group: d.io, version: v1, kind: B, plural: bs}
"""))
    assert r.katalog.start_order == ["beta", "zeta", "alpha"]
    assert r.katalog.shutdown_order == ["alpha", "zeta", "beta"]


@pytest.mark.parametrize("box, message", [
    ("reconciler: {workers: 80}", "operatorBox.reconciler.workers: must be between 1 and 50 (got 80)"),
    ("reconciler: {workers: 0}", "operatorBox.reconciler.workers: must be between 1 and 50 (got 0)"),
    ("reconciler: {resync: 500ms}", "operatorBox.reconciler.resync: must be 0s (disabled) or at least 1s (got 500ms)"),
    ("reconciler: {resync: soon}", 'operatorBox.reconciler.resync: invalid duration "soon": expected a Go duration such as "500ms", "15s" or "1h30m"'),
    ("reconciler: {resync: 30}", 'operatorBox.reconciler.resync: expected a duration such as "15s" or "1m30s", got the number 30'),
    ("reconciler: {timeout: 0s}", "operatorBox.reconciler.timeout: must be at least 1s (got 0s)"),
    ("reconciler: {queue: {maxDepth: -1}}", "operatorBox.reconciler.queue.maxDepth: must be 0 (unlimited) or more (got -1)"),
    ("reconciler: {queue: {failureThreshold: 0}}", "operatorBox.reconciler.queue.failureThreshold: must be at least 1 (got 0)"),
    ("deleteTimeout: 10ms", "operatorBox.deleteTimeout: must be at least 1s (got 10ms)"),
    ("reconciler: {default: false}", "operatorBox.reconciler.default: custom reconcilers (default: false) are not supported in this version; use hooks"),
])
def test_ranges(report, box, message):
    r = report(crds(f"w:\n  {WEBSITE}\n  operatorBox: {{{box}}}"))
    assert messages(r.errors) == [f"spec.crds.w.{message}"]


def test_resync_zero_disables_and_durations_become_seconds(report):
    r = report(crds(f"w:\n  {WEBSITE}\n  operatorBox: {{reconciler: {{resync: 0, timeout: 1m30s}}, deleteTimeout: 2m}}"))
    box = r.katalog.crds["w"].box_spec
    assert (box.resync, box.timeout, box.delete_timeout) == (0.0, 90.0, 120.0)


def test_templates_and_conditions_are_parsed_at_load(report):
    r = report(crds(f"""
w:
  {WEBSITE}
  labels: {{team: "{{{{ .spec.team | nosuchfunction }}}}"}}
  operatorBox:
    onReconcile:
      configMaps:
        - data: {{a: "{{{{ .spec.a "}}
          when: [{{field: spec.a, regex: "(unclosed"}}]
    status:
      fields:
        - {{path: phase, value: x, when: [{{field: spec.a, between: "5"}}]}}
"""))
    got = messages(r.errors)
    assert any(m.startswith("spec.crds.w.labels.team: invalid template:") and "nosuchfunction" in m for m in got)
    assert any(m.startswith("spec.crds.w.operatorBox.onReconcile.configMaps[0].data.a: invalid template:") for m in got)
    assert any(m.startswith("spec.crds.w.operatorBox.onReconcile.configMaps[0].when[0].regex:") for m in got)
    assert any(m.startswith("spec.crds.w.operatorBox.status.fields[0].when[0].between:") for m in got)
    assert len(got) == 4


def test_resource_entry_rules(report):
    r = report(crds(f"""
w:
  {WEBSITE}
  operatorBox:
    onCreate:
      deployments:
        - image: a
          labels: {{orkestra.io/crd: x, fine: y}}
          action: delete
        - image: b
      services:
        - type: ClusterIP
      cronJobs:
        - image: c
      secrets:
        - data: {{a: b}}
          fromSecret: other
          name: copy
    onReconcile:
      configMaps:
        - {{data: {{a: b}}, reconcile: true}}
      custom:
        - {{kind: Widget}}
"""))
    got = messages(r.errors)
    base = "spec.crds.w.operatorBox."
    assert base + 'onCreate.deployments[0].labels.orkestra.io/crd: "orkestra.io/crd" is a reserved label set by Orkestra' in got
    assert base + "onCreate.deployments[0].action: action is only valid in onDelete" in got
    assert base + "onCreate.deployments[1]: name is required when more than one deployments entry is declared" in got
    assert base + 'onCreate.services[0]: missing required field "port" for services (or declare ports)' in got
    assert base + 'onCreate.cronJobs[0]: missing required field "schedule" for cronJobs' in got
    assert base + "onCreate.secrets[0]: set data or fromSecret, not both" in got
    assert base + "onReconcile.configMaps[0].reconcile: reconcile is only valid in onCreate" in got
    assert base + 'onReconcile.custom[0]: missing required field "apiVersion" for custom' in got
    assert base + "onCreate.deployments[0]: name is required with action: delete" in got
    assert len(got) == 9


def test_warnings_of_step_16(report):
    r = report(crds("""
governed:
  apiTypes: {kind: ConfigMap}
  operatorBox:
    reconciler: {queue: {onLimit: drop}}
    onReconcile:
      jobs:
        - image: busybox
      secrets:
        - data: {p: "{{ randomHex 8 }}"}
      configMaps:
        - forEach: {field: spec.regions, as: region}
          name: fixed
          data: {a: b}
      custom:
        - {apiVersion: example.io/v1, kind: Widget}
"""))
    assert r.ok, [str(e) for e in r.errors]
    got = messages(r.warnings)
    base = "spec.crds.governed.operatorBox."
    assert "onReconcile acts on every ConfigMap: set labelSelector to narrow it" in got
    assert base + "reconciler.queue.onLimit: drop discards new keys while the queue is full" in got
    assert base + "onReconcile.jobs[0]: jobs are create-only: re-applying them on reconcile has no update effect" in got
    assert base + "onReconcile.secrets[0]: uses a random function without once: true; the value changes on every reconcile" in got
    assert any(m.startswith(base + "onReconcile.configMaps[0].name: forEach entry name does not refer") for m in got)
    assert base + 'onReconcile.custom[0]: plural not set: RBAC assumes "widgets"; set plural' in got
    assert len(got) == 6


def test_builtin_entries_cannot_declare_status_fields(report):
    r = report(crds("d:\n  apiTypes: {kind: Deployment}\n  operatorBox: {status: {fields: [{path: phase, value: x}]}}"))
    assert messages(r.errors) == ["spec.crds.d.operatorBox.status.fields: Orkestra never writes status on a built-in kind (Deployment)"]
    r = report(crds(f"w:\n  {WEBSITE}\n  operatorBox: {{status: {{fields: [{{path: conditions, value: x}}]}}}}"))
    assert messages(r.errors) == ['spec.crds.w.operatorBox.status.fields[0].path: "conditions" is reserved while conditions: true']


def test_validation_mutation_and_webhook_rules(report):
    r = report(crds(f"""
w:
  {WEBSITE}
  validation:
    rules:
      - {{field: spec.a, operator: sortOf, message: m}}
      - {{field: spec.b, exists: true, message: "{{{{ bad"}}
  mutation:
    rules:
      - {{field: spec.a, default: 1, override: 2}}
      - {{field: spec.b}}
      - {{field: status.phase, default: x}}
      - {{field: "{{{{ .x }}}}", override: y}}
  webhooks: {{operations: [CREATE, CONNECT, PATCH]}}
  allowedNamespaces: [a]
  restrictedNamespaces: [b]
"""))
    got = messages(r.errors)
    base = "spec.crds.w."
    assert any(m.startswith(base + "validation.rules[0].operator:") for m in got)
    assert any(m.startswith(base + "validation.rules[1].message: invalid template:") for m in got)
    assert base + "mutation.rules[0]: needs exactly one of default or override, not both" in got
    assert base + "mutation.rules[1]: needs exactly one of default or override" in got
    assert any(m.startswith(base + "mutation.rules[2].field: cannot mutate status") for m in got)
    assert base + "mutation.rules[3].field: must be a dot path, not a template" in got
    assert base + "webhooks.operations[1]: CONNECT is not supported: it only occurs on subresources, which the rules never cover" in got
    assert base + 'webhooks.operations[2]: invalid operation "PATCH" (allowed: CREATE, UPDATE, DELETE)' in got
    assert "spec.crds.w: set allowedNamespaces or restrictedNamespaces, not both" in got


def test_conversion_groups(report):
    paths = "paths: [{from: v1alpha1, to: v1, spec: {a: b}}, {from: v1, to: v2}]"
    r = report(crds(f"""
c1:
  apiTypes: {{group: d.io, version: v1, kind: C, plural: cs}}
  conversion: {{storageVersion: v1, {paths}}}
c1a:
  apiTypes: {{group: d.io, version: v1alpha1, kind: C, plural: cs}}
  conversion: {{storageVersion: v1alpha1, paths: [{{from: v1alpha1, to: v1, spec: {{a: different}}}}]}}
"""))
    got = messages(r.errors)
    assert 'spec.crds.c1.conversion.paths[1].to: "v2" is not a version of any entry for kind C (declared: v1, v1alpha1)' in got
    assert 'spec.crds.c1a.conversion.storageVersion: "v1alpha1" differs from "v1" declared by "c1"' in got
    assert 'spec.crds.c1a.conversion.paths[0]: conflicting conversion paths from v1alpha1 to v1 in "c1" and "c1a"' in got
    assert len(got) == 3


def test_security_exclusivity_and_enums(report):
    r = report("""\
        security:
          namespaceProtection: {allowedNamespaces: [a], restrictedNamespaces: [b], failurePolicy: Maybe}
        spec: {crds: {}}
        """)
    got = messages(r.errors)
    assert "security.namespaceProtection: set allowedNamespaces or restrictedNamespaces, not both" in got
    assert 'security.namespaceProtection.failurePolicy: invalid value "Maybe" (allowed: Ignore, Fail)' in got




def test_hooks_path_from_environment(report, tmp_path):
    extra = tmp_path / "elsewhere"
    extra.mkdir()
    (extra / "envhooks_mod.py").write_text("class Hooks:\n    def on_delete(self, ctx, obj): pass\n")
    r = report(crds(f"w:\n  {WEBSITE}\n  operatorBox: {{reconciler: {{hooks: {{module: envhooks_mod, function: Hooks}}}}}}"),
               env={"ORK_HOOKS_PATH": str(extra)})
    assert r.ok, [str(e) for e in r.errors]
    assert r.hook_callbacks["w"] == ["on_delete"]


def test_builtin_registry_lookups():
    from orkestra.katalog.builtins import BUILTINS, lookup, resolve_kind, resolve_resource
    assert len(BUILTINS) >= 34
    assert lookup("Deployment").group == "apps" and lookup("Deployment", "example.io") is None
    assert lookup("ConfigMap", "core").plural == "configmaps"
    assert resolve_kind("v1", "Namespace") == ("namespaces", False)
    assert resolve_kind("cert-manager.io/v1", "Certificate") == ("certificates", True)
    assert resolve_resource(None, "Ingress") == ("networking.k8s.io", "ingresses", True)
    assert resolve_resource("x.io/v1", "Foo") == ("x.io", "foos", True)


def test_cluster_scoped_crs_need_namespaces_on_namespaced_children(report):
    r = report(crds("""
t:
  apiTypes: {group: d.io, version: v1, kind: T, plural: ts}
  namespaced: false
  operatorBox:
    onReconcile:
      namespaces: [{name: x}]
      clusterRoles: [{rules: []}]
      configMaps: [{data: {a: b}}, {name: two, namespace: ns, data: {a: b}}]
      custom: [{apiVersion: v1, kind: Secret}, {apiVersion: x.io/v1, kind: Unknown, plural: unknowns},
               {apiVersion: x.io/v1, kind: Unknown, plural: unknowns, namespace: n}]
    onDelete:
      secrets: [{action: delete, namespace: ns}]
"""))
    assert messages(r.errors) == [
        "spec.crds.t.operatorBox.onReconcile.configMaps[0]: namespace is required for configMaps when the CR is cluster-scoped",
        "spec.crds.t.operatorBox.onReconcile.custom[0]: namespace is required for custom when the CR is cluster-scoped",
        "spec.crds.t.operatorBox.onReconcile.custom[2]: name is required when more than one custom entry is declared",
        "spec.crds.t.operatorBox.onDelete.secrets[0]: name is required with action: delete",
    ]


def test_hook_callbacks_of_a_factory_returning_a_module_level_class(report, tmp_path):
    (tmp_path / "classhooks_mod.py").write_text(
        "class WebsiteHooks:\n    def on_create(self, ctx, obj): pass\n    def on_reconcile(self, ctx, obj): pass\n"
        "def website_hooks():\n    return WebsiteHooks()\n")
    r = report(crds(f"w:\n  {WEBSITE}\n  operatorBox: {{reconciler: {{hooks: {{module: classhooks_mod, function: website_hooks}}}}}}"))
    assert r.ok, [str(e) for e in r.errors]
    assert r.hook_callbacks["w"] == ["on_create", "on_reconcile"]


def test_plural_warning_honours_the_group_of_api_version(report):
    """docs/deploying.md#the-bundle-rbac-and-the-katalog-configmap step 4/5: a kind that is built-in only in another group gets the guessed plural and a warning."""
    r = report(crds("""
w:
  apiTypes: {group: demo.io, version: v1, kind: Website, plural: websites}
  operatorBox:
    reconciler:
      hooks:
        module: os
        function: getcwd
        managedResources:
          - {apiVersion: example.io/v1, kind: Deployment}
          - {apiVersion: apps/v1, kind: Deployment}
    onReconcile:
      custom:
        - {apiVersion: example.io/v1, kind: Deployment}
        - {apiVersion: apps/v1, kind: Deployment, name: d}
"""))
    assert r.ok, [str(e) for e in r.errors]
    got = messages(r.warnings)
    base = "spec.crds.w.operatorBox."
    assert sorted(got) == [base + 'onReconcile.custom[0]: plural not set: RBAC assumes "deployments"; set plural',
                           base + 'reconciler.hooks.managedResources[0]: plural not set: RBAC assumes "deployments"; set plural']


def test_a_foreach_field_that_is_not_a_path_is_a_load_error(report):
    """A forEach field the reconciler cannot resolve is caught by ork validate (§18 step 11)."""
    r = report(crds("""
w:
  apiTypes: {group: demo.io, version: v1, kind: Website, plural: websites}
  operatorBox:
    onReconcile:
      configMaps:
        - {forEach: {field: 'spec.a[', as: x}, name: '{{ .x }}', data: {}}
"""))
    assert [m.split(": ")[0] for m in messages(r.errors)] == \
        ["spec.crds.w.operatorBox.onReconcile.configMaps[0].forEach.field"]
    assert 'bad field path "spec.a["' in messages(r.errors)[0]


def test_copy_form_secret_onto_its_own_source_is_a_load_error_with_its_line(report):
    r = report(crds(f"""
w:
  {WEBSITE}
  operatorBox:
    onReconcile:
      secrets:
        - fromSecret: registry-creds
        - fromSecret: tls
          fromNamespace: certs
          toNamespaces: [certs, "{{{{ .metadata.namespace }}}}"]
          name: tls
        - fromSecret: tls
          name: tls-copy
        - fromSecret: tls
          fromNamespace: certs
        - fromSecret: tls
          toNamespaces: [team-a]
"""))
    errors = [e for e in r.errors if "own source Secret" in e.message]
    assert [e.path for e in errors] == ["spec.crds.w.operatorBox.onReconcile.secrets[0]",
                                        "spec.crds.w.operatorBox.onReconcile.secrets[1]"]
    assert errors[0].line is not None and errors[0].line < errors[1].line


def test_custom_fields_may_not_replace_metadata_apiversion_or_kind(report):
    r = report(crds(f"""
w:
  {WEBSITE}
  operatorBox:
    onReconcile:
      custom:
        - apiVersion: v1
          kind: ConfigMap
          name: "cm-{{{{ .metadata.name }}}}"
          fields: {{metadata: {{annotations: {{note: x}}}}, kind: Secret, apiVersion: v2, data: {{a: b}}}}
"""))
    got = messages(r.errors)
    base = "spec.crds.w.operatorBox.onReconcile.custom[0].fields."
    for key in ("metadata", "kind", "apiVersion"):
        assert any(m.startswith(base + key + f": {key} is the entry's own") for m in got), got
    assert not any(m.startswith(base + "data") for m in got)


def test_entry_label_overridden_by_a_mutation_rule_is_a_load_error(report):
    r = report(crds(f"""
w:
  {WEBSITE}
  labels: {{tier: "{{{{ .spec.tier | default \\"web\\" }}}}", team: a}}
  mutation:
    rules:
      - {{field: metadata.labels.tier, override: backend}}
      - {{field: 'metadata.labels["team"]', default: b}}
      - {{field: metadata.labels.other, override: c}}
"""))
    got = messages(r.errors)
    assert got == ['spec.crds.w.mutation.rules[0].field: label "tier" is set by both the entry labels and this '
                   'override: the two would rewrite it on every reconcile; keep one'], got


def test_a_mutation_override_of_the_whole_label_map_fights_the_entry_labels_too(report):
    r = report(crds(f"""
w:
  {WEBSITE}
  labels: {{tier: web, team: a}}
  mutation:
    rules:
      - {{field: metadata.labels, override: {{tier: backend}}}}
      - {{field: metadata.annotations, override: {{note: x}}}}
"""))
    got = messages(r.errors)
    assert got == ['spec.crds.w.mutation.rules[0].field: this override replaces metadata.labels, which holds the '
                   'entry labels ("tier", "team"): the two would rewrite them on every reconcile; override single '
                   'labels (metadata.labels.<key>) that the entry does not set'], got


def test_an_ondelete_entry_may_not_reuse_a_default_name_of_the_normal_flow(report):
    """Issue 9 item 3: the onDelete Job would otherwise find the finished onCreate Job `<cr>-job`."""
    r = report(crds(f"""
w:
  {WEBSITE}
  operatorBox:
    onCreate:
      jobs: [{{image: migrate, command: [create-database]}}]
    onDelete:
      jobs: [{{image: migrate, command: [drop-database]}}]
      configMaps: [{{data: {{a: b}}}}]
"""))
    assert messages(r.errors) == [
        "spec.crds.w.operatorBox.onDelete.jobs[0]: name is required: onCreate.jobs[0] already uses the default "
        "jobs name, and onDelete must not reuse its child"]


def test_a_delete_action_needs_a_name_but_no_image(report):
    """Issue 9 item 4: `action: delete` deletes by name; the fields of a Job to create are not needed."""
    r = report(crds(f"""
w:
  {WEBSITE}
  operatorBox:
    onDelete:
      jobs: [{{action: delete, name: "{{{{ .metadata.name }}}}-migrate"}}]
"""))
    assert r.ok, messages(r.errors)


def test_an_ondelete_job_with_a_short_ttl_is_warned_about(report):
    """An onDelete Job removed before Orkestra saw it succeed is not counted as a success
    (docs/finalizers.md): a TTL under a minute makes that likely."""
    r = report(crds(f"""
w:
  {WEBSITE}
  operatorBox:
    onCreate:
      jobs: [{{image: x, ttlSecondsAfterFinished: 0}}]
    onDelete:
      jobs: [{{image: x, name: a, ttlSecondsAfterFinished: 0}}, {{image: x, name: b, ttlSecondsAfterFinished: 600}},
             {{image: x, name: c}}]
"""))
    assert r.ok, messages(r.errors)
    assert messages(r.warnings) == [
        "spec.crds.w.operatorBox.onDelete.jobs[0].ttlSecondsAfterFinished: below 60: the Job may be removed "
        "before Orkestra sees it succeed, and the deletion then waits for deleteTimeout"]


def test_a_copy_source_built_from_the_cr_is_flagged_at_load(report):
    """Issue 16 item 12: `ork validate` says where such a copy is confined, before any reconcile fails."""
    r = report(crds("""
w:
  apiTypes: {group: d.io, version: v1, kind: W, plural: ws}
  operatorBox:
    onReconcile:
      secrets:
        - fromSecret: db-admin
          name: a
          fromNamespace: "{{ .spec.sourceNamespace }}"
        - fromSecret: wildcard
          name: b
          fromNamespace: certs
"""))
    assert r.ok, [str(e) for e in r.errors]
    got = [m for m in messages(r.warnings) if "copy source" in m]
    assert got == ["spec.crds.w.operatorBox.onReconcile.secrets[0].fromNamespace: a copy source built from the CR "
                   "is confined to the CR's own namespace (fromNamespace and toNamespaces); name sources in "
                   "other namespaces literally"]


def test_hooks_are_inspected_without_running_any_hook_code(report, tmp_path):
    """Issue 16 item 8: loading a Katalog used to import (execute) the hook module."""
    ran = tmp_path / "module-ran"
    (tmp_path / "myhooks.py").write_text(
        f"open({str(ran)!r}, 'a').write('imported\\n')\n"
        "def factory():\n    open(" + repr(str(ran)) + ", 'a').write('factory\\n')\n    def on_create(ctx, obj): pass\n"
        "    def on_reconcile(ctx, obj): pass\n    return {'on_create': on_create, 'on_reconcile': on_reconcile}\n"
        "NOT_CALLABLE = 3\n")
    r = report(crds(f"w:\n  {WEBSITE}\n  operatorBox: {{reconciler: {{hooks: {{module: myhooks, function: factory}}}}}}"))
    assert r.ok, [str(e) for e in r.errors]
    assert r.hook_callbacks["w"] == ["on_create", "on_reconcile"]
    assert not ran.exists()
    hook = r.katalog.crds["w"].box_spec.hooks
    assert hook.ref == "myhooks:factory" and hook.base_dir == str(tmp_path)
    for fn, text in (("missing", 'module "myhooks" has no attribute "missing"'),
                     ("NOT_CALLABLE", '"myhooks.NOT_CALLABLE" is not callable')):
        r = report(crds(f"w:\n  {WEBSITE}\n  operatorBox: {{reconciler: {{hooks: {{module: myhooks, function: {fn}}}}}}}"))
        assert messages(r.errors) == [f"spec.crds.w.operatorBox.reconciler.hooks.function: {text}"]
    r = report(crds(f"w:\n  {WEBSITE}\n  operatorBox: {{reconciler: {{hooks: {{module: github.com/x/y, function: f}}}}}}"))
    assert messages(r.errors) == ['hooks.module must be a Python module path like "pkg.mod"']
    r = report(crds(f"w:\n  {WEBSITE}\n  operatorBox: {{reconciler: {{hooks: {{module: no_such_hooks_mod, function: f}}}}}}"))
    assert messages(r.errors)[0].startswith('spec.crds.w.operatorBox.reconciler.hooks.module: cannot import "no_such_hooks_mod"')
    assert not ran.exists()


def test_exec_hooks_imports_the_module_but_never_calls_the_factory(tmp_path, write):
    ran = tmp_path / "module-ran"
    (tmp_path / "exechooks_mod.py").write_text(
        f"open({str(ran)!r}, 'a').write('imported\\n')\n"
        "def factory():\n    open(" + repr(str(ran)) + ", 'a').write('factory\\n')\n    return {'on_delete': print}\n")
    text = HEAD + textwrap.dedent(crds(f"w:\n  {WEBSITE}\n  operatorBox: {{reconciler: {{hooks: {{module: exechooks_mod, function: factory}}}}}}"))
    path = write(text)
    assert load_report([path], exec_hooks=True).ok
    assert ran.read_text() == "imported\n"
    (tmp_path / "failing_mod.py").write_text("def factory():\n    return {}\nraise SystemExit(4)\n")
    path = write(text.replace("exechooks_mod", "failing_mod"))
    assert load_report([path]).ok                       # read only: nothing ran
    r = load_report([path], exec_hooks=True)
    assert messages(r.errors) == ['spec.crds.w.operatorBox.reconciler.hooks.module: importing "failing_mod" failed: SystemExit: 4']


def test_static_inspection_reports_syntax_errors_and_tolerates_dynamic_modules(report, tmp_path):
    (tmp_path / "syntax_mod.py").write_text("def factory(:\n")
    r = report(crds(f"w:\n  {WEBSITE}\n  operatorBox: {{reconciler: {{hooks: {{module: syntax_mod, function: factory}}}}}}"))
    assert len(r.errors) == 1 and "syntax_mod\" has a syntax error at" in r.errors[0].message
    (tmp_path / "star_mod.py").write_text("from os.path import *\ntry:\n    from json import loads as factory2\nexcept ImportError:\n    pass\n")
    for fn in ("anything", "factory2"):
        r = report(crds(f"w:\n  {WEBSITE}\n  operatorBox: {{reconciler: {{hooks: {{module: star_mod, function: {fn}}}}}}}"))
        assert r.ok and r.hook_callbacks["w"] == []


def test_static_inspection_reports_async_callbacks(report, tmp_path):
    """An `async def` callback never runs (hooks are called as plain functions): `ork validate`
    says so from the source, without importing it, for a class and for a factory's closures."""
    (tmp_path / "async_cls_mod.py").write_text("class Base:\n    async def on_delete(self, ctx, obj): pass\n"
                                               "class Hooks(Base):\n    def on_reconcile(self, ctx, obj): pass\n")
    (tmp_path / "async_fn_mod.py").write_text("def factory():\n    async def on_create(ctx, obj): pass\n"
                                              "    return {'on_create': on_create}\n")
    for module, function, name in (("async_cls_mod", "Hooks", "on_delete"), ("async_fn_mod", "factory", "on_create")):
        r = report(crds(f"w:\n  {WEBSITE}\n  operatorBox: {{reconciler: {{hooks: {{module: {module}, function: {function}}}}}}}"))
        assert [e.message for e in r.errors] == [f'spec.crds.w.operatorBox.reconciler.hooks.function: '
                                                 f'"{module}.{function}": {name} is an async function; '
                                                 "hook callbacks are plain functions"]
