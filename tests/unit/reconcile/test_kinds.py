"""Every row of the per-type table builds the Kubernetes structure the spec describes (§7.3)."""
import base64

import pytest

from orkestra.katalog.model import TEMPLATE_TYPES
from orkestra.reconcile.errors import RenderError
from orkestra.reconcile.kinds import KINDS, BuildContext
from tests.unit.reconcile.factory import make_cr

CR = make_cr("web", "shop")


def ctx(name="web-x", namespace="shop", cr=CR):
    return BuildContext(cr=cr, crd_key="website", name=name, namespace=namespace, path="p")


def test_table_covers_every_template_type_in_order():
    assert tuple(KINDS) == TEMPLATE_TYPES


def test_deployment_pod_template_labels_selector_and_container():
    body = KINDS["deployments"].build({"image": "nginx", "port": 80, "env": {"A": 1, "B": True},
                                       "envFrom": {"configMapRef": ["cm"], "secretRef": ["s"]},
                                       "podLabels": {"tier": "web"}, "imagePullSecrets": ["reg"],
                                       "probes": {"readiness": {"httpGet": {"path": "/", "port": 80}}},
                                       "strategy": {"type": "Recreate"}}, ctx())
    spec = body["spec"]
    assert spec["replicas"] == 1
    assert spec["selector"]["matchLabels"] == {"app.kubernetes.io/name": "web-x", "app.kubernetes.io/instance": "web"}
    labels = spec["template"]["metadata"]["labels"]
    assert labels == {"app.kubernetes.io/name": "web-x", "app.kubernetes.io/instance": "web",
                      "orkestra.io/crd": "website", "orkestra-owner": "web", "tier": "web"}
    c = spec["template"]["spec"]["containers"][0]
    assert c["name"] == "web-x" and c["image"] == "nginx" and c["ports"] == [{"containerPort": 80}]
    assert c["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "true"}]
    assert c["envFrom"] == [{"configMapRef": {"name": "cm"}}, {"secretRef": {"name": "s"}}]
    assert c["readinessProbe"] == {"httpGet": {"path": "/", "port": 80}}
    assert spec["template"]["spec"]["imagePullSecrets"] == [{"name": "reg"}]
    assert spec["strategy"] == {"type": "Recreate"}


def test_statefulset_service_name_defaults_to_workload_name():
    spec = KINDS["statefulSets"].build({"image": "redis", "replicas": 2}, ctx(name="db"))["spec"]
    assert spec["serviceName"] == "db" and spec["replicas"] == 2 and "strategy" not in spec


def test_job_defaults_and_cronjob_wrapping():
    job = KINDS["jobs"].build({"image": "busybox", "command": ["true"]}, ctx())["spec"]
    assert job["backoffLimit"] == 3
    assert job["template"]["spec"]["restartPolicy"] == "Never"
    cron = KINDS["cronJobs"].build({"image": "b", "schedule": "0 * * * *", "suspend": False}, ctx())["spec"]
    assert cron["schedule"] == "0 * * * *" and cron["suspend"] is False
    assert cron["jobTemplate"]["spec"]["backoffLimit"] == 3
    assert KINDS["jobs"].create_only and not KINDS["cronJobs"].create_only


def test_service_defaults():
    spec = KINDS["services"].build({"port": 80}, ctx())["spec"]
    assert spec["type"] == "ClusterIP"
    assert spec["ports"] == [{"port": 80, "targetPort": 80, "protocol": "TCP"}]
    assert spec["selector"] == {"orkestra.io/crd": "website", "app.kubernetes.io/instance": "web"}
    raw = KINDS["services"].build({"ports": [{"port": 1}], "selector": {"a": "b"}}, ctx())["spec"]
    assert raw["ports"] == [{"port": 1}] and raw["selector"] == {"a": "b"}


def test_ingress_defaults_and_tls():
    spec = KINDS["ingresses"].build({"host": "example.com", "tls": {"secretName": "tls", "hosts": ["example.com"]}},
                                    ctx())["spec"]
    path = spec["rules"][0]["http"]["paths"][0]
    assert spec["rules"][0]["host"] == "example.com"
    assert path == {"path": "/", "pathType": "Prefix",
                    "backend": {"service": {"name": "web-svc", "port": {"number": 80}}}}
    assert spec["tls"] == [{"secretName": "tls", "hosts": ["example.com"]}]


def test_network_policy_default_selector():
    spec = KINDS["networkPolicies"].build({"policyTypes": ["Ingress"]}, ctx())["spec"]
    assert spec["podSelector"] == {"matchLabels": {"orkestra.io/crd": "website", "app.kubernetes.io/instance": "web"}}
    assert spec["policyTypes"] == ["Ingress"]


def test_config_map_values_become_strings():
    assert KINDS["configMaps"].build({"data": {"a": 1, "b": 2.0, "c": False, "d": "x"}}, ctx()) == {
        "data": {"a": "1", "b": "2", "c": "false", "d": "x"}}


def test_secret_base64_and_copy_form():
    body = KINDS["secrets"].build({"data": {"password": "s3cret"}}, ctx())
    assert body == {"type": "Opaque", "data": {"password": base64.b64encode(b"s3cret").decode()}}
    copied = KINDS["secrets"].build({"copiedType": "kubernetes.io/tls", "copiedData": {"tls.crt": "QQ=="}}, ctx())
    assert copied == {"type": "kubernetes.io/tls", "data": {"tls.crt": "QQ=="}}


def test_pvc_service_account_namespace_roles():
    pvc = KINDS["persistentVolumeClaims"].build({"storage": "1Gi"}, ctx())["spec"]
    assert pvc == {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
    sa = KINDS["serviceAccounts"].build({"automountServiceAccountToken": False, "imagePullSecrets": ["r"]}, ctx())
    assert sa == {"automountServiceAccountToken": False, "imagePullSecrets": [{"name": "r"}]}
    assert KINDS["namespaces"].build({}, ctx()) == {}
    rules = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]
    assert KINDS["roles"].build({"rules": rules}, ctx()) == {"rules": rules}
    assert KINDS["clusterRoles"].build({"rules": rules}, ctx()) == {"rules": rules}
    assert not KINDS["clusterRoles"].namespaced and not KINDS["namespaces"].namespaced


def test_bindings_fill_service_account_namespace():
    f = {"roleRef": {"kind": "ClusterRole", "name": "edit"},
         "subjects": [{"kind": "ServiceAccount", "name": "sa"}, {"kind": "Group", "name": "g"}]}
    body = KINDS["roleBindings"].build(f, ctx())
    assert body["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"}
    assert body["subjects"][0]["namespace"] == "shop" and "namespace" not in body["subjects"][1]
    cluster_cr = make_cr("t", None)
    rb = KINDS["roleBindings"].build(f, ctx(cr=cluster_cr, namespace="tenant-t"))
    assert rb["subjects"][0]["namespace"] == "tenant-t"
    with pytest.raises(RenderError, match=r"p\.subjects\[0\]\.namespace"):
        KINDS["clusterRoleBindings"].build(f, ctx(cr=cluster_cr, namespace=None))


def test_custom_spec_and_fields():
    body = KINDS["custom"].build({"spec": {"a": 1}, "fields": {"data": {"k": "v"}}}, ctx())
    assert body == {"spec": {"a": 1}, "data": {"k": "v"}}


def test_kind_facts_come_from_the_one_katalog_table():
    from orkestra.katalog.builtins import lookup
    from orkestra.katalog.template_kinds import TEMPLATE_KINDS
    assert tuple(TEMPLATE_KINDS) == TEMPLATE_TYPES
    for type_, spec in KINDS.items():
        assert spec.facts is TEMPLATE_KINDS[type_]
        if type_ != "custom":
            builtin = lookup(spec.kind)
            assert (spec.namespaced, spec.facts.gvr.resource) == (builtin.namespaced, builtin.plural)


def test_static_kind_predicate():
    from orkestra.katalog.template_kinds import static_kind
    assert static_kind({"apiVersion": "example.io/v1", "kind": "Cluster"}) == ("example.io/v1", "Cluster")
    assert static_kind({"apiVersion": "example.io/{{ .spec.v }}", "kind": "Cluster"}) is None
    assert static_kind({"apiVersion": "example.io/v1", "kind": 3}) is None
    assert static_kind({"kind": "Cluster"}) is None
