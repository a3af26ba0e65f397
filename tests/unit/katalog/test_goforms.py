"""Katalogs written for the Go Orkestra (issue 13): the corpus in goforms/ loads, validates and
renders; each Go form is normalised to the canonical form with one warning; Go keys of deferred
features get the deferred message, never `unknown field`.
"""
from __future__ import annotations

import glob
import json
import os

import pytest
import yaml
from click.testing import CliRunner

from orkestra.cli.main import cli
from orkestra.gvk import GVR
from orkestra.katalog.loader import load_report
from orkestra.katalog.rbac import derive
from orkestra.reconcile.children import children_context
from orkestra.reconcile.render import compile_entries, render_entry
from tests.unit.katalog.conftest import messages

HERE = os.path.dirname(__file__)
CORPUS = sorted(glob.glob(os.path.join(HERE, "goforms", "*.yaml")))


def _load(name: str):
    report = load_report([os.path.join(HERE, "goforms", name)])
    assert report.ok, [str(e) for e in report.errors]
    return report


@pytest.mark.parametrize("path", CORPUS, ids=os.path.basename)
def test_corpus_validates_and_renders_with_ork_template(path):
    runner = CliRunner()
    result = runner.invoke(cli, ["validate", "-f", path], env={})
    assert result.exit_code == 0, result.output
    out = runner.invoke(cli, ["template", "-f", path], env={})
    assert out.exit_code == 0, out.output
    doc = yaml.safe_load(out.output)
    assert doc["apiVersion"] == "orkestra.orkspace.io/v1" and doc["spec"]["crds"]
    as_json = runner.invoke(cli, ["template", "--json", "-f", path], env={})
    assert as_json.exit_code == 0 and json.loads(as_json.output) == doc


def test_corpus_covers_one_file_per_construct():
    assert len(CORPUS) >= 10


# Every key of the Go Katalog format that we do not support, where the user writes it.
GO_DEFERRED = """\
apiVersion: orkestra.orkspace.io/v1
kind: Komposer
metadata: {name: go-keys, namespace: team-a}
imports:
  helm: [{chart: redis}]
  registry:
    - {name: web, oci: "oci://registry.example.com/web:1"}
    - {name: db, katalog: db.yaml}
security:
  serviceName: {runtime: rt, gateway: gw}
  webhooks:
    admission: {enabled: true}
    cleanupOnShutdown: true
  conversion: {enabled: true, conversionWindow: 5m}
  certManager: {enabled: true}
spec:
  crds:
    website:
      apiTypes: {group: demo.example.com, version: v1, kind: Website, plural: websites}
      imports: [{motif: web}]
      queue: {default: true, maxQueueDepth: 10}
      crFiles: [cr.yaml]
      setup: {kind: true}
      reconciler:
        constructor: {image: x}
      operatorBox:
        cross: {read: [x]}
        imports: [{motif: a}]
        rollback: {enabled: true}
        watch: {kinds: [Pod]}
        onReconcile:
          secrets:
            - {name: s, data: {a: b}, rotateAfter: 24h}
"""
DEFERRED_AT = {
    ("security.serviceName", "gateway"), ("security.webhooks.admission", "enabled"),
    ("security.webhooks", "cleanupOnShutdown"), ("imports", "helm"), ("imports.registry[0]", "oci"),
    ("imports.registry[1]", "katalog"), ("metadata", "namespace"), ("security", "conversion"),
    ("security", "certManager"), ("spec.crds.website.queue", "default"), ("spec.crds.website", "imports"),
    ("spec.crds.website", "crFiles"), ("spec.crds.website", "setup"),
    ("spec.crds.website.reconciler", "constructor"), ("spec.crds.website.operatorBox", "cross"),
    ("spec.crds.website.operatorBox", "imports"), ("spec.crds.website.operatorBox", "rollback"),
    ("spec.crds.website.operatorBox", "watch"), ("spec.crds.website.operatorBox.onReconcile.secrets[0]", "rotateAfter"),
}


def test_go_keys_of_deferred_features_get_the_deferred_message_at_the_written_path(report):
    """C3, C8, C12, C13, C14: never `unknown field`, and the path is the one the user wrote."""
    got = report(GO_DEFERRED, head=False)
    texts = messages(got.errors)
    assert not [t for t in texts if "unknown field" in t], texts
    for where, key in DEFERRED_AT:
        assert any(t.startswith(f'{where}: "{key}" is not supported in this version') for t in texts), (where, key, texts)
    assert len(got.errors) == len(DEFERRED_AT), texts   # no follow-on errors (registry url, rewritten paths)


def test_ork_validate_never_says_unknown_field_for_the_go_keys(write):
    result = CliRunner().invoke(cli, ["validate", "--katalog", write(GO_DEFERRED)], env={})
    assert result.exit_code == 1
    assert "unknown field" not in result.output and "is not supported in this version" in result.output


def test_c1_reconciler_switches_under_operator_box_move_into_reconciler(report, tmp_path):
    (tmp_path / "gohooks.py").write_text("def make():\n    return {}\n")
    got = report("""\
    spec:
      crds:
        web:
          apiTypes: {group: demo.example.com, version: v1, kind: Web, plural: webs}
          operatorBox:
            default: true
            finalizers: [demo.example.com/x]
            hooks: {location: gohooks, function: make}
    """)
    assert got.ok, messages(got.errors)
    box = got.katalog.canonical["spec"]["crds"]["web"]["operatorBox"]
    assert box["reconciler"]["default"] is True and "default" not in box
    assert box["reconciler"]["hooks"] == {"module": "gohooks", "function": "make"}
    assert box["finalizers"] == ["demo.example.com/x"]
    warned = messages(got.warnings)
    assert sum("operatorBox.default is a legacy form" in w for w in warned) == 1
    assert sum("operatorBox.hooks is a legacy form" in w for w in warned) == 1
    assert sum("hooks.location is a legacy alias" in w for w in warned) == 1


def test_c1_both_places_is_an_error(report):
    got = report("""\
    spec:
      crds:
        web:
          apiTypes: {group: demo.example.com, version: v1, kind: Web, plural: webs}
          operatorBox: {default: true, reconciler: {default: true}}
    """)
    assert "spec.crds.web: both operatorBox.default and operatorBox.reconciler.default are set" in messages(got.errors)


def _resolve(api_version, kind):
    return GVR("demo.example.com", "v1", "catalogues"), True


def test_c2_go_form_custom_child_renders_metadata_status_and_top_level_fields():
    report = _load("custom-metadata.yaml")
    child = report.katalog.canonical["spec"]["crds"]["shop"]["operatorBox"]["onReconcile"]["custom"][0]
    assert "metadata" not in child and "hasStatus" not in child
    assert child["labels"] == {"tier": "backend"} and child["annotations"] == {"owner": "shop-team"}
    assert child["fields"] == {"status": {"phase": "Pending"}, "data": {"region": "eu"}}
    entry = report.katalog.crds["shop"]
    cr = {"apiVersion": "demo.example.com/v1", "kind": "Shop",
          "metadata": {"name": "north", "namespace": "shops", "uid": "u1"}, "spec": {}}
    [tpl] = compile_entries(entry, ("onReconcile",))
    [out] = render_entry(tpl, cr, children=children_context([], []), resolve_kind=_resolve,
                         read_source=lambda gvr, ns, n: None)
    m = out.manifest
    assert m["metadata"]["name"] == "north-catalogue" and m["metadata"]["labels"]["tier"] == "backend"
    assert m["metadata"]["annotations"] == {"owner": "shop-team"}
    assert m["spec"] == {"items": 3} and m["status"] == {"phase": "Pending"} and m["data"] == {"region": "eu"}


def test_c2_unknown_metadata_key_is_named(report):
    got = report("""\
    spec:
      crds:
        shop:
          apiTypes: {group: demo.example.com, version: v1, kind: Shop, plural: shops}
          operatorBox:
            onReconcile:
              custom:
                - {apiVersion: demo.example.com/v1, kind: Catalogue, plural: catalogues, metadata: {generateName: x-}}
    """)
    assert any('"generateName" in a custom child\'s metadata' in t for t in messages(got.errors))


@pytest.mark.parametrize("typo, meant", [("whne", "when"), ("foreach", "forEach"), ("lables", "labels")])
def test_c2_a_mistyped_entry_key_on_a_custom_child_is_not_passed_into_the_manifest(report, typo, meant):
    """Review: a top-level key close to an entry key was moved to fields.<typo> with a warning,
    so a mistyped `when` created the child unconditionally. Real manifest fields still pass."""
    got = report(f"""\
    spec:
      crds:
        shop:
          apiTypes: {{group: demo.example.com, version: v1, kind: Shop, plural: shops}}
          operatorBox:
            onReconcile:
              custom:
                - {{apiVersion: v1, kind: ConfigMap, {typo}: [], data: {{a: b}}, binaryData: {{}}, immutable: true}}
    """)
    [err] = got.errors
    assert err.message == f'unknown field "spec.crds.shop.operatorBox.onReconcile.custom[0].{typo}" (did you mean "{meant}"?)'
    assert err.line == 11   # after the 3-line head
    moved = [w for w in messages(got.warnings) if "a manifest field at the top of a custom child" in w]
    assert sorted(w.split(": ")[0].rsplit(".", 1)[1] for w in moved) == ["binaryData", "data", "immutable"]


def test_c2_a_metadata_that_is_not_a_map_is_an_error_not_a_manifest_field(report):
    """Review: `metadata: x` on a custom child went to fields.metadata and replaced the child's metadata."""
    got = report("""\
    spec:
      crds:
        shop:
          apiTypes: {group: demo.example.com, version: v1, kind: Shop, plural: shops}
          operatorBox:
            onReconcile:
              custom:
                - {apiVersion: v1, kind: ConfigMap, metadata: x}
    """)
    assert messages(got.errors) == ["spec.crds.shop.operatorBox.onReconcile.custom[0].metadata: "
                                    "expected a map of name, namespace, labels and annotations"]


def test_custom_fields_cannot_replace_the_entry_s_own_manifest_keys(report):
    """Review: `fields` is merged over the built manifest, so fields.metadata dropped the name and
    labels (and a non-map crashed the reconcile); apiVersion and kind likewise."""
    got = report("""\
    spec:
      crds:
        shop:
          apiTypes: {group: demo.example.com, version: v1, kind: Shop, plural: shops}
          operatorBox:
            onReconcile:
              custom:
                - apiVersion: v1
                  kind: ConfigMap
                  fields: {metadata: {name: x}, kind: Secret, data: {a: b}, spec: {}}
    """)
    assert [e.path for e in got.errors] == ["spec.crds.shop.operatorBox.onReconcile.custom[0].fields.kind",
                                            "spec.crds.shop.operatorBox.onReconcile.custom[0].fields.metadata"]
    assert "fields would replace it in the manifest" in got.errors[0].message


@pytest.mark.parametrize("type_, copy_key", [("configMaps", "fromConfigMap"), ("secrets", "fromSecret")])
def test_c4_copy_namespaces_without_the_copy_source_are_an_error(report, type_, copy_key):
    """Review: fromNamespace/toNamespaces without fromConfigMap (or fromSecret) were silently ignored."""
    got = report(f"""\
    spec:
      crds:
        shop:
          apiTypes: {{group: demo.example.com, version: v1, kind: Shop, plural: shops}}
          operatorBox:
            onReconcile:
              {type_}:
                - {{name: s, data: {{a: b}}, fromNamespace: other, toNamespaces: [a]}}
    """)
    assert messages(got.errors) == [
        f"spec.crds.shop.operatorBox.onReconcile.{type_}[0].{key}: only used with {copy_key} (the copy form); "
        "without it nothing is copied" for key in ("fromNamespace", "toNamespaces")]


def test_c3_security_webhooks_map_onto_admission_and_service_name():
    security = _load("security-webhooks.yaml").katalog.security
    assert security["serviceName"] == "shop-operator"
    assert security["admission"] == {"failurePolicy": "Fail"}


@pytest.mark.parametrize("webhooks", ["{failurePolicy: Fail}", "{admission: {failurePolicy: Fail}}"])
def test_c3_webhooks_failure_policy_is_read_under_webhooks_or_under_admission(report, webhooks):
    """Review: `security.webhooks.failurePolicy` (beside admission, not inside it) was `unknown field`."""
    got = report(f"""\
    security:
      webhooks: {webhooks}
    spec: {{crds: {{}}}}
    """)
    assert got.ok, messages(got.errors)
    assert got.katalog.security["admission"] == {"failurePolicy": "Fail"}
    assert sum("security.webhooks is a legacy form" in w for w in messages(got.warnings)) == 1


def test_c3_webhooks_failure_policy_in_both_places_is_an_error(report):
    got = report("""\
    security:
      admission: {failurePolicy: Ignore}
      webhooks: {failurePolicy: Fail}
    spec: {crds: {}}
    """)
    assert "security.webhooks: both webhooks.failurePolicy and admission.failurePolicy are set" in messages(got.errors)


def test_c3_a_webhooks_admission_that_is_not_a_map_is_a_type_error_not_an_unknown_field(report):
    got = report("""\
    security:
      webhooks: {admission: true}
    spec: {crds: {}}
    """)
    assert messages(got.errors) == ["security.webhooks.admission: expected a map of enabled and failurePolicy"]


def test_c6_participant_is_dropped_with_one_warning():
    report = _load("conversion-participant.yaml")
    assert "conversion" not in report.katalog.canonical["spec"]["crds"]["widget-v1"]
    assert sum("conversion.participant is a legacy form" in w for w in messages(report.warnings)) == 1


def test_c10_an_invalid_group_member_causes_no_false_follow_on_errors(report):
    got = report("""\
    spec:
      crds:
        widget-v1:
          apiTypes: {group: demo.example.com, version: v1, kind: Widget, plural: widgets}
          operatorBox: {reconciler: {workers: many}}
        widget-v2:
          apiTypes: {group: demo.example.com, version: v2, kind: Widget, plural: widgets}
          conversion:
            storageVersion: v2
            paths: [{from: v1, to: v2}, {from: v2, to: v1}]
    """)
    texts = messages(got.errors)
    assert any("widget-v1.operatorBox.reconciler.workers" in t for t in texts)
    assert not [t for t in texts if "is not a version of any entry" in t], texts


@pytest.mark.parametrize("name, warned", [
    ("c-{{ .index }}", False), ("c-{{ .item }}", False), ("c-{{ .r }}", False), ("c-{{ .metadata.name }}", True)])
def test_c11_for_each_name_may_refer_to_the_index(report, name, warned):
    """Review: with Go's `.index`, a name built from it is distinct per element: no warning."""
    got = report(f"""\
    spec:
      crds:
        web:
          apiTypes: {{group: demo.example.com, version: v1, kind: Web, plural: webs}}
          operatorBox:
            onReconcile:
              configMaps:
                - {{forEach: {{field: spec.m, as: r}}, name: "{name}", data: {{a: b}}}}
    """)
    assert got.ok, messages(got.errors)
    hits = [w for w in messages(got.warnings) if "forEach entry name does not refer to the element" in w]
    assert bool(hits) is warned, hits


def test_c15_camel_case_key_suggests_the_kebab_case_key(report):
    got = report("""\
    spec:
      crds:
        platformResource:
          apiTypes: {group: demo.example.com, version: v1, kind: P, plural: ps}
    """)
    assert any('(did you mean "platform-resource"?)' in t for t in messages(got.errors))


def test_crd_file_fills_api_types_and_scope_offline():
    report = _load("crd-file.yaml")
    api = report.katalog.crds["searchindex"].api
    assert (api.group, api.version, api.kind, api.plural, api.namespaced) == (
        "demo.example.com", "v1", "SearchIndex", "searchindices", True)
    assert report.katalog.crds["searchindex"].crd_file == os.path.join(HERE, "goforms", "crds", "searchindex.yaml")
    canonical = report.katalog.canonical["spec"]["crds"]["searchindex"]
    assert "crdFile" not in canonical and canonical["apiTypes"]["plural"] == "searchindices"
    assert "crdFile" not in report.katalog.enriched["spec"]["crds"]["searchindex"]


def test_crd_file_bundle_is_generated_offline_and_stands_alone(tmp_path):
    out = tmp_path / "bundle.yaml"
    result = CliRunner().invoke(cli, ["generate", "bundle", "--katalog", os.path.join(HERE, "goforms", "crd-file.yaml"),
                                      "-o", str(out)], env={"KUBECONFIG": str(tmp_path / "none")})
    assert result.exit_code == 0, result.output
    docs = list(yaml.safe_load_all(out.read_text()))
    role = next(d for d in docs if d["kind"] == "ClusterRole" and d["metadata"]["name"] == "orkestra")
    assert any("searchindices" in r["resources"] for r in role["rules"])
    config = next(d for d in docs if d["kind"] == "ConfigMap")
    katalog = yaml.safe_load(config["data"]["katalog.yaml"])
    assert "crdFile" not in katalog["spec"]["crds"]["searchindex"]   # the in-cluster runtime has no crd.yaml


def test_crd_file_disagreeing_with_api_types_is_an_error(write, tmp_path):
    (tmp_path / "crd.yaml").write_text(open(os.path.join(HERE, "goforms", "crds", "searchindex.yaml")).read())
    got = load_report([write("""\
    apiVersion: orkestra.orkspace.io/v1
    kind: Katalog
    metadata: {name: x}
    spec:
      crds:
        idx:
          crdFile: crd.yaml
          namespaced: false
          apiTypes: {kind: Index}
    """)])
    texts = messages(got.errors)
    assert 'spec.crds.idx.apiTypes.kind: "Index" does not match crd.yaml ("SearchIndex")' in texts
    assert "spec.crds.idx.namespaced: false does not match the scope in crd.yaml (Namespaced)" in texts
    assert {(e.path, e.line) for e in got.errors} == {("spec.crds.idx.apiTypes.kind", 9), ("spec.crds.idx.namespaced", 8)}


def test_crd_file_entries_may_watch_any_served_version(write, tmp_path):
    """Review: each served version is its own entry (a conversion group); with crdFile the
    non-storage version was refused as "does not match" the storage version."""
    (tmp_path / "crd.yaml").write_text(open(os.path.join(HERE, "goforms", "crds", "searchindex.yaml")).read())
    got = load_report([write("""\
    apiVersion: orkestra.orkspace.io/v1
    kind: Katalog
    metadata: {name: x}
    spec:
      crds:
        idx-v1:
          crdFile: crd.yaml
          conversion: {storageVersion: v1, paths: [{from: v1alpha1, to: v1}, {from: v1, to: v1alpha1}]}
        idx-v1alpha1:
          crdFile: crd.yaml
          apiTypes: {version: v1alpha1}
          ignoreStatusPatch: true
        idx-v9:
          crdFile: crd.yaml
          apiTypes: {version: v9}
    """)])
    assert [(e.path, e.line, e.message) for e in got.errors] == [
        ("spec.crds.idx-v9.apiTypes.version", 15,
         'spec.crds.idx-v9.apiTypes.version: "v9" is not a served version in crd.yaml (served: v1alpha1, v1)')]
    assert {k: e["apiTypes"]["version"] for k, e in got.enriched.items()} == {"idx-v1": "v1", "idx-v1alpha1": "v1alpha1"}


@pytest.mark.parametrize("content, problem", [
    (None, "file not found"),
    ("kind: ConfigMap\n", "no CustomResourceDefinition in the file"),
    ("kind: CustomResourceDefinition\nspec: {group: a.io, names: {kind: A}}\n",
     "lacks spec.names.plural, spec.versions"),
    ("kind: [\n", "not valid YAML"),
    ("kind: CustomResourceDefinition\nspec: " + "[" * 3000 + "]" * 3000 + "\n", "nesting deeper than 64 levels"),
    ("kind: CustomResourceDefinition\na: &a [x, x, x, x, x, x, x, x, x, x]\n"
     + "".join(f"{c}: &{c} [{', '.join(['*' + p] * 10)}]\n" for p, c in zip("abcdef", "bcdefg"))
     + "spec: *g\n", "expands to more than"),
])
def test_crd_file_problems_name_the_file(write, tmp_path, content, problem):
    if content is not None:
        (tmp_path / "crd.yaml").write_text(content)
    got = load_report([write("""\
    apiVersion: orkestra.orkspace.io/v1
    kind: Katalog
    metadata: {name: x}
    spec:
      crds:
        idx: {crdFile: crd.yaml}
    """)])
    [err] = got.errors
    assert err.message.startswith(f"spec.crds.idx.crdFile: {tmp_path / 'crd.yaml'}: ") and problem in err.message
    assert err.line == 6


def test_katalog_flag_is_an_alias_of_f():
    path = os.path.join(HERE, "goforms", "box-default.yaml")
    runner = CliRunner()
    for command in (["validate"], ["template"], ["generate", "rbac", "--dry-run"]):
        result = runner.invoke(cli, [*command, "--katalog", path], env={})
        assert result.exit_code == 0, (command, result.output)
    assert "--katalog" in runner.invoke(cli, ["run", "--help"]).output


def test_katalog_flag_is_accepted_by_gate_and_events_too(tmp_path):
    """Review: the docs say every command taking -f accepts --katalog; gate and events had their own -f."""
    path = os.path.join(HERE, "goforms", "box-default.yaml")
    cr = tmp_path / "cr.yaml"
    cr.write_text("apiVersion: demo.example.com/v1\nkind: Website\nmetadata: {name: w, namespace: d}\nspec: {}\n")
    runner = CliRunner()
    result = runner.invoke(cli, ["gate", "--katalog", path, "--cr", str(cr)], env={})
    assert result.exit_code == 0 and "website" in result.output, result.output
    assert "--katalog" in runner.invoke(cli, ["events", "--help"]).output


def test_t1_template_prints_tags():
    result = CliRunner().invoke(cli, ["template", "-f", os.path.join(HERE, "goforms", "metadata-tags.yaml")], env={})
    assert result.exit_code == 0 and "Traceback" not in result.output
    assert yaml.safe_load(result.output)["metadata"]["tags"] == ["demo", "web"]


def test_r1_custom_child_plural_comes_from_the_katalog_api_types():
    katalog = _load("custom-plural.yaml").katalog
    rules = [r.to_k8s() for r in derive(katalog, "runtime")]
    child = [r for r in rules if r["resources"] == ["searchindices"] and "create" in r["verbs"]]
    assert child, rules
    assert not [r for r in rules if "searchindexs" in r["resources"]]
