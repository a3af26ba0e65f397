"""Rendered values reach the manifest with the types Kubernetes expects (docs/katalog.md#keys-per-type, §9.1, §9.3):
printing of maps/lists/booleans in string fields, typed string fields, required fields, explicit
empty selectors, the typed Service fields, and a copied Secret that would land on its own source."""
import base64
import json

import pytest

from orkestra.reconcile.errors import RenderError
from tests.unit.reconcile.factory import make_cr
from tests.unit.reconcile.test_render import render

SPEC = {"settings": {"a": 1, "b": True, "c": None}, "hosts": ["x", "y"], "public": True, "ratio": 2.0,
        "memory": 512, "gpu": True, "port": 8080}


def one(templates, spec=SPEC, **kw):
    children = render(templates, make_cr("web", "shop", spec=spec), **kw)
    assert len(children) == 1
    return children[0].manifest


def test_maps_lists_and_booleans_print_as_json_and_go_literals_in_string_fields():
    data = {"settings": "{{ .spec.settings }}", "hosts": "{{ .spec.hosts }}", "public": "{{ .spec.public }}",
            "ratio": "{{ .spec.ratio }}"}
    cm = one({"configMaps": [{"data": data, "labels": {"public": "{{ .spec.public }}", "ratio": "{{ .spec.ratio }}"},
                              "annotations": {"hosts": "{{ .spec.hosts }}"}}]})
    expected = {"settings": '{"a":1,"b":true,"c":null}', "hosts": '["x","y"]', "public": "true", "ratio": "2"}
    assert cm["data"] == expected
    assert cm["metadata"]["labels"]["public"] == "true" and cm["metadata"]["labels"]["ratio"] == "2"
    assert cm["metadata"]["annotations"] == {"hosts": '["x","y"]'}
    secret = one({"secrets": [{"data": {"settings": "{{ .spec.settings }}"}}]})
    assert base64.b64decode(secret["data"]["settings"]).decode() == '{"a":1,"b":true,"c":null}'
    dep = one({"deployments": [{"image": "nginx", "env": {"SETTINGS": "{{ .spec.settings }}"},
                                "podLabels": {"public": "{{ .spec.public }}"},
                                "podAnnotations": {"hosts": "{{ .spec.hosts }}"}}]})
    pod = dep["spec"]["template"]
    assert pod["spec"]["containers"][0]["env"] == [{"name": "SETTINGS", "value": '{"a":1,"b":true,"c":null}'}]
    assert pod["metadata"]["labels"]["public"] == "true"
    assert pod["metadata"]["annotations"] == {"hosts": '["x","y"]'}


def test_typed_string_fields_convert_native_numbers_and_booleans():
    dep = one({"deployments": [{
        "image": "redis", "command": ["redis-server", "{{ .spec.memory }}"],
        "args": ["--maxmemory", "{{ .spec.memory }}", "--ratio", "{{ .spec.ratio }}"],
        "nodeSelector": {"gpu": "{{ .spec.gpu }}", "fixed": True},
        "env": [{"name": "MEM", "value": "{{ .spec.memory }}"}, {"name": "ON", "value": True}]}]})
    container = dep["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["redis-server", "512"]
    assert container["args"] == ["--maxmemory", "512", "--ratio", "2"]
    assert container["env"] == [{"name": "MEM", "value": "512"}, {"name": "ON", "value": "true"}]
    assert dep["spec"]["template"]["spec"]["nodeSelector"] == {"gpu": "true", "fixed": "true"}
    job = one({"jobs": [{"image": "{{ .spec.ratio }}", "args": ["{{ .spec.public }}"]}]})
    assert job["spec"]["template"]["spec"]["containers"][0]["image"] == "2"
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["true"]


@pytest.mark.parametrize("type_, entry, field", [
    ("deployments", {"image": "{{ .spec.image }}"}, "image"),
    ("statefulSets", {"image": "{{ .spec.image }}"}, "image"),
    ("jobs", {"image": "{{ .spec.image }}"}, "image"),
    ("cronJobs", {"image": "busybox", "schedule": "{{ .spec.schedule }}"}, "schedule"),
    ("persistentVolumeClaims", {"storage": "{{ .spec.size }}"}, "storage"),
    ("services", {"port": "{{ .spec.missing }}"}, "port"),
])
def test_a_required_field_that_renders_empty_is_a_render_error_naming_field_and_cr(type_, entry, field):
    with pytest.raises(RenderError) as err:
        render({type_: [entry]}, make_cr("web", "shop", spec={}))
    assert f"onReconcile.{type_}[0].{field}" in str(err.value)
    assert "shop/web" in str(err.value) and "rendered empty" in str(err.value)


def test_an_explicit_empty_selector_means_every_pod():
    netpol = one({"networkPolicies": [{"name": "deny-all", "podSelector": {}, "policyTypes": ["Ingress", "Egress"]}]})
    assert netpol["spec"]["podSelector"] == {}
    svc = one({"services": [{"port": 80, "selector": {}}]})
    assert svc["spec"]["selector"] == {}
    absent = one({"networkPolicies": [{"policyTypes": ["Ingress"]}]})
    assert absent["spec"]["podSelector"] == {"matchLabels": {"orkestra.io/crd": "website",
                                                             "app.kubernetes.io/instance": "web"}}
    labelled = one({"networkPolicies": [{"podSelector": {"role": "db"}}]})
    assert labelled["spec"]["podSelector"] == {"matchLabels": {"role": "db"}}
    # A selector whose every value renders empty is absent (the default), never "every pod".
    unset = one({"networkPolicies": [{"podSelector": {"role": "{{ .spec.missing }}"}}]})
    assert unset["spec"]["podSelector"] == absent["spec"]["podSelector"]
    unset_svc = one({"services": [{"port": 80, "selector": {"role": "{{ .spec.missing }}"}}]})
    assert unset_svc["spec"]["selector"] == {"orkestra.io/crd": "website", "app.kubernetes.io/instance": "web"}


def test_service_typed_fields_make_a_headless_service():
    svc = one({"services": [{"port": "{{ .spec.port }}", "clusterIP": "None", "sessionAffinity": "ClientIP",
                             "publishNotReadyAddresses": "{{ .spec.public }}", "ipFamilyPolicy": "SingleStack",
                             "ipFamilies": ["IPv4"]}]})
    spec = svc["spec"]
    assert spec["clusterIP"] == "None" and spec["sessionAffinity"] == "ClientIP"
    assert spec["publishNotReadyAddresses"] is True
    assert spec["ipFamilyPolicy"] == "SingleStack" and spec["ipFamilies"] == ["IPv4"]
    lb = one({"services": [{"port": 80, "type": "LoadBalancer", "externalTrafficPolicy": "Local",
                            "loadBalancerClass": "internal", "loadBalancerSourceRanges": ["10.0.0.0/8"]}]})
    assert lb["spec"]["externalTrafficPolicy"] == "Local" and lb["spec"]["loadBalancerClass"] == "internal"
    assert lb["spec"]["loadBalancerSourceRanges"] == ["10.0.0.0/8"]
    plain = one({"services": [{"port": 80}]})
    assert set(plain["spec"]) == {"type", "selector", "ports"}


def test_a_copy_that_would_land_on_its_own_source_is_skipped_never_adopted():
    source = {"type": "Opaque", "data": {"k": "dg=="}}
    children = render({"secrets": [{"fromSecret": "creds", "toNamespaces": ["shop", "team-a"]}]},
                      make_cr("web", "shop"), read_source=lambda gvr, ns, name: source)
    assert [(c.namespace, c.name) for c in children] == [("team-a", "creds")]
    assert render({"secrets": [{"fromSecret": "{{ .spec.src }}"}]}, make_cr("web", "shop", spec={"src": "creds"}),
                  read_source=lambda gvr, ns, name: source) == []
    renamed = render({"secrets": [{"fromSecret": "creds", "name": "creds-copy"}]}, make_cr("web", "shop"),
                     read_source=lambda gvr, ns, name: source)
    assert [(c.namespace, c.name) for c in renamed] == [("shop", "creds-copy")]


def test_printing_helper_is_the_template_printer():
    from orkestra.reconcile.kinds import as_text
    assert as_text({"b": [1, 2.0]}) == json.dumps({"b": [1, 2]}, separators=(",", ":"))
