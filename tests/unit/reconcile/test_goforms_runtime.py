"""Run-time behaviour of Katalogs written for the Go Orkestra (issue 13 C7, C9, C11, C16), on the
pure renderer, condition evaluator and status evaluator."""
from __future__ import annotations

import os

import yaml

from orkestra.conditions import compile_conditions, resolve_field
from orkestra.katalog.loader import load_report
from orkestra.reconcile.children import children_context
from orkestra.reconcile.naming import LABEL_TEMPLATE
from orkestra.reconcile.render import compile_entries, render_entry
from orkestra.reconcile.status import StatusField, evaluate_fields
from tests.unit.reconcile.factory import make_cr
from tests.unit.reconcile.test_render import render

GOFORMS = os.path.join(os.path.dirname(__file__), "..", "katalog", "goforms")

JOB = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "site-job"}, "status": {"succeeded": 1}}


def test_c7_a_plain_condition_path_reads_the_template_context():
    children = children_context([JOB], [])
    done = compile_conditions([{"field": "children.job.status.succeeded", "greaterThan": "0"}], None)
    assert done.evaluate(make_cr(), extra={"children": children})
    assert not done.evaluate(make_cr(), extra={"children": children_context([], [])})
    assert resolve_field(make_cr(), "item.name", {"item": {"name": "eu"}}) == "eu"
    # paths into the CR itself are unchanged, and without a context nothing is read from it
    assert resolve_field(make_cr(spec={"x": "1"}), "spec.x", {"children": children}) == "1"
    assert not done.evaluate(make_cr())


def test_c7_a_state_machine_status_advances_on_a_child_path():
    fields = [StatusField.compile({"path": "phase", "value": "Done",
                                   "when": [{"field": "children.job.status.succeeded", "greaterThan": "0"}]}),
              StatusField.compile({"path": "phase", "value": "Running",
                                   "when": [{"field": "children.job.status.succeeded", "notExists": True}]})]
    assert evaluate_fields(fields, make_cr(), extra={"children": children_context([JOB], [])}, ok=True) == [
        ("set", "phase", "Done")]
    assert evaluate_fields(fields, make_cr(), extra={"children": children_context([], [])}, ok=True) == [
        ("set", "phase", "Running")]


def test_c7_a_for_each_condition_reads_the_alias():
    entry = {"configMaps": [{"forEach": {"field": "spec.regions", "as": "region"},
                             "when": [{"field": "region.enabled", "equals": "true"}],
                             "name": "{{ .metadata.name }}-{{ .region.name }}", "data": {"a": "b"}}]}
    cr = make_cr("web", spec={"regions": [{"name": "eu", "enabled": True}, {"name": "us", "enabled": False}]})
    assert [c.name for c in render(entry, cr)] == ["web-eu"]


def test_c9_children_customs_is_keyed_by_resolved_name():
    custom = {"apiVersion": "demo.example.com/v1", "kind": "Catalogue",
              "metadata": {"name": "north-catalogue", "labels": {LABEL_TEMPLATE: "onReconcile.custom.0"}},
              "status": {"items": 3}}
    configmap = {"apiVersion": "v1", "kind": "ConfigMap",
                 "metadata": {"name": "north-config", "labels": {LABEL_TEMPLATE: "onReconcile.configMaps.0"}}}
    ctx = children_context([custom, configmap], [])
    assert ctx["customs"] == {"north-catalogue": custom}
    [cm] = render({"configMaps": [{"data": {"n": '{{ (index .children.customs "north-catalogue").status.items }}'}}]},
                  make_cr("north"), children=ctx)
    assert cm.manifest["data"] == {"n": "3"}


def test_c11_for_each_over_a_map_binds_key_value_and_index():
    entry = {"configMaps": [{"forEach": {"field": "spec.tiers", "as": "tier"},
                             "name": "{{ .metadata.name }}-{{ .item }}",
                             "data": {"size": "{{ .value }}", "position": "{{ .index }}", "alias": "{{ .tier }}"}}]}
    children = render(entry, make_cr("web", spec={"tiers": {"gold": 3, "bronze": 1}}))
    assert [(c.name, c.manifest["data"]) for c in children] == [
        ("web-bronze", {"size": "1", "position": "0", "alias": "bronze"}),
        ("web-gold", {"size": "3", "position": "1", "alias": "gold"})]


def test_c16_env_value_and_value_from_render_as_env_vars():
    report = load_report([os.path.join(GOFORMS, "env-value-from.yaml")])
    assert report.ok, [str(e) for e in report.errors]
    [tpl] = compile_entries(report.katalog.crds["api"], ("onReconcile",))
    [dep] = render_entry(tpl, make_cr("shop"), children=children_context([], []),
                         resolve_kind=lambda a, k: None, read_source=lambda gvr, ns, n: None)
    env = dep.manifest["spec"]["template"]["spec"]["containers"][0]["env"]
    assert env == [{"name": "MODE", "value": "production"}, {"name": "OWNER", "value": "shop"},
                   {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "shop-db", "key": "password"}}}]


def test_c16_env_values_of_the_go_map_form_render_as_text(tmp_path):
    """Review: a number or bool (plain or under `value:`) went into the list form as it was, and
    the API server refuses a non-text env value; the map form always printed it as text."""
    doc = yaml.safe_load(open(os.path.join(GOFORMS, "env-value-from.yaml")))
    dep = doc["spec"]["crds"]["api"]["operatorBox"]["onReconcile"]["deployments"][0]
    dep["env"] = {"PORT": 8080, "DEBUG": {"value": True}, "RATIO": 1.0,
                  "POD": {"valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}}
    path = tmp_path / "katalog.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    report = load_report([str(path)])
    assert report.ok, [str(e) for e in report.errors]
    [tpl] = compile_entries(report.katalog.crds["api"], ("onReconcile",))
    [out] = render_entry(tpl, make_cr("shop"), children=children_context([], []),
                         resolve_kind=lambda a, k: None, read_source=lambda gvr, ns, n: None)
    env = out.manifest["spec"]["template"]["spec"]["containers"][0]["env"]
    assert env == [{"name": "PORT", "value": "8080"}, {"name": "DEBUG", "value": "true"},
                   {"name": "RATIO", "value": "1"},
                   {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]


def test_get_path_status_field_reads_a_child_with_the_variadic_get():
    report = load_report([os.path.join(GOFORMS, "get-path.yaml")])
    assert report.ok, [str(e) for e in report.errors]
    fields = [StatusField.compile(f) for f in report.katalog.crds["app"].box_spec.status["fields"]]
    deploy = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "a-deployment"},
              "status": {"readyReplicas": 2}}
    ops = evaluate_fields(fields, make_cr("a", spec={"image": "nginx"}),
                          extra={"children": children_context([deploy], [])}, ok=True)
    assert ops == [("set", "readyReplicas", "2"), ("set", "image", "nginx")]

