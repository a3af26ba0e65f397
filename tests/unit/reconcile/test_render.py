"""The table-driven renderer: templates, conditions, forEach, names, coercion, labels, ownership."""
import base64

import pytest

from orkestra.gvk import GVR
from orkestra.katalog.model import TEMPLATE_TYPES
from orkestra.reconcile.children import children_context
from orkestra.reconcile.errors import RenderError
from orkestra.reconcile.render import compile_entries, may_label_track, render_entry, tracked_gvrs
from tests.unit.reconcile.factory import make_cr, make_entry

CUSTOM = {("cert-manager.io/v1", "Certificate"): (GVR("cert-manager.io", "v1", "certificates"), True),
          ("example.io/v1", "Cluster"): (GVR("example.io", "v1", "clusters"), False)}


def resolve(api_version, kind):
    return CUSTOM.get((api_version, kind))


def no_source(gvr, ns, name):
    return None


def render(templates, cr, *, phase="onReconcile", children=None, read_source=no_source):
    entry = make_entry(templates={phase: templates})
    out = []
    for tpl in compile_entries(entry, (phase,)):
        out += render_entry(tpl, cr, children=children or children_context([], []), resolve_kind=resolve,
                            read_source=read_source)
    return out


MINIMAL = {
    "namespaces": {}, "serviceAccounts": {}, "roles": {"rules": []}, "clusterRoles": {"rules": []},
    "roleBindings": {"roleRef": {"kind": "Role", "name": "r"}},
    "clusterRoleBindings": {"roleRef": {"kind": "ClusterRole", "name": "r"}},
    "configMaps": {"data": {"a": "b"}}, "secrets": {"data": {"a": "b"}},
    "persistentVolumeClaims": {"storage": "1Gi"}, "services": {"port": 80},
    "deployments": {"image": "nginx"}, "statefulSets": {"image": "redis"}, "jobs": {"image": "busybox"},
    "cronJobs": {"image": "busybox", "schedule": "@daily"}, "ingresses": {"host": "a.example.com"},
    "networkPolicies": {}, "custom": {"apiVersion": "cert-manager.io/v1", "kind": "Certificate", "spec": {"a": 1}},
}
DEFAULT_NAMES = {
    "namespaces": "shop-web", "serviceAccounts": "web", "roles": "web-role", "clusterRoles": "shop-web-clusterrole",
    "roleBindings": "web-rolebinding", "clusterRoleBindings": "shop-web-clusterrolebinding",
    "configMaps": "web-config", "secrets": "web-secret", "persistentVolumeClaims": "web-pvc", "services": "web-svc",
    "deployments": "web-deployment", "statefulSets": "web-statefulset", "jobs": "web-job", "cronJobs": "web-cronjob",
    "ingresses": "web-ingress", "networkPolicies": "web-netpol", "custom": "web-certificate",
}


def test_every_type_renders_with_default_name_labels_and_ownership():
    assert set(MINIMAL) == set(TEMPLATE_TYPES)
    cr = make_cr("web", "shop", uid="u1")
    children = render({t: [dict(v)] for t, v in MINIMAL.items()}, cr)
    assert [c.type for c in children] == list(TEMPLATE_TYPES)
    for child in children:
        meta = child.manifest["metadata"]
        assert child.name == DEFAULT_NAMES[child.type] == meta["name"]
        assert meta["labels"]["orkestra.io/template"] == f"onReconcile.{child.type}.0"
        assert meta["labels"]["orkestra.io/owner-uid"] == "u1"
        assert meta["labels"]["app.kubernetes.io/managed-by"] == "orkestra"
        cluster_scoped = child.type in ("namespaces", "clusterRoles", "clusterRoleBindings")
        assert child.label_tracked is cluster_scoped
        assert ("ownerReferences" in meta) is not cluster_scoped
        assert (meta.get("namespace") is None) is cluster_scoped
        assert child.mode == ("create" if child.type == "jobs" else "apply")


def test_rendered_values_native_types_and_coercion():
    cr = make_cr("web", "shop", spec={"image": "nginx:1.27", "replicas": "3", "port": 8080.0})
    [dep] = render({"deployments": [{"image": "{{ .spec.image }}", "replicas": "{{ .spec.replicas }}",
                                     "port": "{{ .spec.port }}", "labels": {"team": "{{ .metadata.name }}"}}]}, cr)
    spec = dep.manifest["spec"]
    assert spec["replicas"] == 3
    assert spec["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
    assert spec["template"]["spec"]["containers"][0]["ports"] == [{"containerPort": 8080}]
    assert dep.manifest["metadata"]["labels"]["team"] == "web"


def test_failed_coercion_names_the_field():
    cr = make_cr("web", spec={"replicas": "many"})
    with pytest.raises(RenderError, match=r'operatorBox\.onReconcile\.deployments\[0\]\.replicas: expected an integer, got "many"'):
        render({"deployments": [{"image": "x", "replicas": "{{ .spec.replicas }}"}]}, cr)


def test_empty_template_means_default_or_omit():
    cr = make_cr("web", spec={})
    [svc] = render({"services": [{"name": "{{ .spec.svcName }}", "port": 80, "type": "{{ .spec.type }}"}]}, cr)
    assert svc.name == "web-svc" and svc.manifest["spec"]["type"] == "ClusterIP"


def test_template_evaluation_error_has_the_path():
    with pytest.raises(RenderError, match=r"^template error at spec\.crds\.website\.operatorBox\.onReconcile\.configMaps\[0\]\.data\.k: "):
        render({"configMaps": [{"data": {"k": '{{ required "k is needed" .spec.k }}'}}]}, make_cr())


def test_conditions_skip_entries():
    entries = {"configMaps": [{"name": "on", "data": {}, "when": [{"field": "spec.enabled", "equals": "true"}]},
                              {"name": "any", "data": {}, "anyOf": [{"field": "spec.a", "exists": True},
                                                                    {"field": "spec.b", "exists": True}]}]}
    assert [c.name for c in render(entries, make_cr(spec={"enabled": True}))] == ["on"]
    assert [c.name for c in render(entries, make_cr(spec={"b": 1}))] == ["any"]


def test_for_each_list_map_and_alias():
    entry = {"configMaps": [{"forEach": {"field": "spec.regions", "as": "region"},
                             "name": "{{ .metadata.name }}-{{ .region.name }}",
                             "data": {"endpoint": "{{ .item.endpoint }}"}}]}
    cr = make_cr("web", spec={"regions": [{"name": "eu", "endpoint": "e1"}, {"name": "us", "endpoint": "e2"}]})
    children = render(entry, cr)
    assert [(c.name, c.manifest["data"]["endpoint"]) for c in children] == [("web-eu", "e1"), ("web-us", "e2")]
    assert {c.template_id for c in children} == {"onReconcile.configMaps.0"}
    assert render(entry, make_cr("web", spec={})) == []
    by_map = {"configMaps": [{"forEach": {"field": "spec.m", "as": "k"}, "name": "c-{{ .item }}",
                              "data": {"v": "{{ .value }}", "i": "{{ .index }}", "k": "{{ .k }}"}}]}
    children = render(by_map, make_cr(spec={"m": {"b": 2, "a": 1}}))
    assert [(c.name, c.manifest["data"]) for c in children] == [
        ("c-a", {"v": "1", "i": "0", "k": "a"}), ("c-b", {"v": "2", "i": "1", "k": "b"})]
    [second] = [c for c in render({"configMaps": [{"forEach": {"field": "spec.regions"}, "name": "r-{{ .index }}",
                                                   "data": {"n": "{{ .item.name }}"}}]}, cr) if c.name == "r-1"]
    assert second.manifest["data"] == {"n": "us"}


def test_children_context_is_available():
    live = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web-deployment"},
            "status": {"readyReplicas": 2}}
    ctx = children_context([live], [])
    [cm] = render({"configMaps": [{"data": {"ready": "{{ .children.deployment.status.readyReplicas }}",
                                            "n": "{{ len .children.all.deployment }}",
                                            "byName": "{{ (index .children.byName \"web-deployment\").kind }}"}}]},
                  make_cr(), children=ctx)
    assert cm.manifest["data"] == {"ready": "2", "n": "1", "byName": "Deployment"}


def test_modes_per_phase_and_flags():
    cr = make_cr()
    assert render({"configMaps": [{"data": {}}]}, cr, phase="onCreate")[0].mode == "create"
    assert render({"configMaps": [{"data": {}, "reconcile": True}]}, cr, phase="onCreate")[0].mode == "apply"
    assert render({"secrets": [{"data": {}, "once": True}]}, cr)[0].mode == "create"
    assert render({"jobs": [{"name": "cleanup", "image": "b", "action": "delete"}]}, cr, phase="onDelete")[0].mode == "delete"
    entry = make_entry(templates={"onCreate": {"configMaps": [{"data": {}}, {"name": "b", "data": {}, "reconcile": True}]},
                                  "onReconcile": {"jobs": [{"image": "x"}]}})
    assert [t.desired_state for t in compile_entries(entry)] == [False, True, False]


def test_namespaces_explicit_and_cluster_scoped_cr():
    cr = make_cr("web", "shop")
    [cm] = render({"configMaps": [{"namespace": "other", "data": {}}]}, cr)
    assert cm.namespace == "other" and cm.label_tracked and "ownerReferences" not in cm.manifest["metadata"]
    cluster_cr = make_cr("tenant", None)
    with pytest.raises(RenderError, match=r"configMaps\[0\]\.namespace: required"):
        render({"configMaps": [{"data": {}}]}, cluster_cr)
    [owned] = render({"configMaps": [{"namespace": "t1", "data": {}}]}, cluster_cr)
    assert not owned.label_tracked and owned.manifest["metadata"]["ownerReferences"][0]["name"] == "tenant"
    assert "orkestra.io/owner-namespace" not in owned.manifest["metadata"]["labels"]


def test_secret_data_is_base64_encoded():
    [secret] = render({"secrets": [{"data": {"pw": "{{ .spec.pw }}"}}]}, make_cr(spec={"pw": "hunter2"}))
    assert secret.manifest["data"] == {"pw": base64.b64encode(b"hunter2").decode()}
    assert secret.manifest["type"] == "Opaque"


def test_secret_copy_form_to_several_namespaces():
    source = {"type": "kubernetes.io/tls", "data": {"tls.crt": "Y3J0"}}
    reads = []

    def read(gvr, ns, name):
        reads.append((gvr.resource, ns, name))
        return source

    children = render({"secrets": [{"fromSecret": "wildcard", "fromNamespace": "certs",
                                    "toNamespaces": ["a", "{{ .metadata.namespace }}"]}]},
                      make_cr("web", "shop"), read_source=read)
    assert reads == [("secrets", "certs", "wildcard")]
    assert [(c.name, c.namespace, c.label_tracked) for c in children] == [("wildcard", "a", True),
                                                                         ("wildcard", "shop", False)]
    assert children[0].manifest["type"] == "kubernetes.io/tls" and children[0].manifest["data"] == source["data"]
    with pytest.raises(RenderError, match="fromSecret: Secret shop/missing not found"):
        render({"secrets": [{"fromSecret": "missing", "name": "copy"}]}, make_cr("web", "shop"))


def test_configmap_copy_form_shares_the_secret_copy_path():
    """issue 13 C4: fromConfigMap, fromNamespace, toNamespaces as for Secrets."""
    source = {"data": {"region": "eu"}, "binaryData": {"logo": "AAE="}}
    reads = []

    def read(gvr, ns, name):
        reads.append((gvr, ns, name))
        return source

    children = render({"configMaps": [{"fromConfigMap": "shared", "fromNamespace": "platform",
                                       "toNamespaces": ["a", "{{ .metadata.namespace }}"]}]},
                      make_cr("web", "shop"), read_source=read)
    assert reads == [(GVR("", "v1", "configmaps"), "platform", "shared")]
    assert [(c.kind, c.name, c.namespace) for c in children] == [("ConfigMap", "shared", "a"),
                                                                ("ConfigMap", "shared", "shop")]
    assert children[1].manifest["data"] == {"region": "eu"} and children[1].manifest["binaryData"] == {"logo": "AAE="}
    with pytest.raises(RenderError, match="fromConfigMap: ConfigMap shop/missing not found"):
        render({"configMaps": [{"fromConfigMap": "missing", "name": "copy"}]}, make_cr("web", "shop"))


@pytest.mark.parametrize("tpl", [
    {"fromConfigMap": "shared"},                                                # same namespace, same name
    {"fromConfigMap": "shared", "fromNamespace": "platform", "toNamespaces": ["platform"]},
    {"fromSecret": "shared", "name": "shared", "fromNamespace": "shop"},
])
def test_a_copy_onto_its_own_source_is_a_no_op(tpl):
    """issue 9 item 1 and 13 C4: the source is never written (and so never adopted)."""
    type_ = "configMaps" if "fromConfigMap" in tpl else "secrets"
    assert render({type_: [tpl]}, make_cr("web", "shop"), read_source=lambda gvr, ns, name: {"data": {}}) == []


def test_custom_kind_scope_from_discovery():
    [cluster] = render({"custom": [{"apiVersion": "example.io/v1", "kind": "Cluster", "spec": {"size": 3}}]},
                       make_cr("web", "shop"))
    assert cluster.name == "shop-web-cluster" and cluster.namespace is None and cluster.label_tracked
    assert cluster.manifest["spec"] == {"size": 3} and cluster.gvr.resource == "clusters"
    with pytest.raises(RenderError, match="does not serve Nope in x.io/v1"):
        render({"custom": [{"apiVersion": "x.io/v1", "kind": "Nope"}]}, make_cr())


def test_label_tracking_prediction_and_gvrs():
    entry = make_entry(templates={"onReconcile": {"configMaps": [{"data": {}}],
                                                  "custom": [{"apiVersion": "example.io/v1", "kind": "Cluster"}]}})
    tpls = compile_entries(entry)
    assert may_label_track(tpls, cr_namespaced=True, resolve_kind=resolve)
    assert not may_label_track(tpls[:1], cr_namespaced=True, resolve_kind=resolve)
    assert not may_label_track(tpls, cr_namespaced=False, resolve_kind=resolve)
    assert tracked_gvrs(tpls, resolve) == [GVR("", "v1", "configmaps"), GVR("example.io", "v1", "clusters")]


def _reading(source=None):
    reads = []

    def read(gvr, ns, name):
        reads.append((ns, name))
        return source or {"type": "Opaque", "data": {"password": "czNjcmV0"}}
    return read, reads


@pytest.mark.parametrize("entry", [
    {"fromSecret": "db-admin", "fromNamespace": "{{ .spec.sourceNamespace }}"},
    {"fromSecret": "{{ .spec.secret }}", "fromNamespace": "kube-system"},
    {"fromSecret": "{{ .spec.secret }}", "fromNamespace": "{{ .spec.sourceNamespace }}"},
])
def test_a_copy_source_built_from_the_cr_cannot_leave_its_namespace(entry):
    """Issue 16 item 12: a CR author cannot have the runtime copy a Secret from another namespace."""
    read, reads = _reading()
    cr = make_cr("web", "shop", spec={"sourceNamespace": "kube-system", "secret": "db-admin"})
    with pytest.raises(RenderError, match="must be in the CR's own namespace, not 'kube-system'"):
        render({"secrets": [entry]}, cr, read_source=read)
    assert reads == []                                   # refused before anything was read


def test_a_copy_source_built_from_the_cr_stays_in_the_crs_namespace():
    read, reads = _reading()
    cr = make_cr("web", "shop", spec={"secret": "app-db"})
    children = render({"secrets": [{"fromSecret": "{{ .spec.secret }}", "name": "copy"}]}, cr, read_source=read)
    assert reads == [("shop", "app-db")] and [(c.name, c.namespace) for c in children] == [("copy", "shop")]
    with pytest.raises(RenderError, match=r"toNamespaces: a Secret copied from a source built from the CR \(fromSecret\) goes only"):
        render({"secrets": [{"fromSecret": "{{ .spec.secret }}", "toNamespaces": ["{{ .spec.secret }}"]}]}, cr,
               read_source=read)


def test_a_copy_from_a_source_built_from_the_cr_cannot_go_to_a_namespace_the_cr_names():
    """Without toNamespaces the copy lands in the entry's `namespace`: built from the CR, it must be
    the CR's own; a namespace the Katalog names literally is the Katalog author's choice."""
    read, reads = _reading()
    cr = make_cr("web", "shop", spec={"secret": "app-db", "target": "public"})
    with pytest.raises(RenderError, match=r"\.namespace: a Secret copied from a source built from the CR"):
        render({"secrets": [{"fromSecret": "{{ .spec.secret }}", "namespace": "{{ .spec.target }}"}]}, cr,
               read_source=read)
    assert reads == []
    literal = render({"secrets": [{"fromSecret": "{{ .spec.secret }}", "namespace": "public"}]}, cr, read_source=read)
    assert [(c.name, c.namespace) for c in literal] == [("app-db", "public")]


def test_the_beginner_secret_copy_pattern_still_copies_to_literal_namespaces():
    """A Secret entry copying each labelled Secret (its own name, its own namespace) to namespaces the
    Katalog lists: the source is the CR's own namespace, the targets are the Katalog author's."""
    read, reads = _reading()
    cr = make_cr("db-credentials", "shop")
    children = render({"secrets": [{"fromSecret": "{{ .metadata.name }}", "toNamespaces": ["team-a", "team-b"]}]},
                      cr, read_source=read)
    assert reads == [("shop", "db-credentials")]
    assert [(c.name, c.namespace) for c in children] == [("db-credentials", "team-a"), ("db-credentials", "team-b")]


def test_literal_sources_in_other_namespaces_still_copy():
    read, reads = _reading()
    render({"secrets": [{"fromSecret": "wildcard", "fromNamespace": "certs"}]}, make_cr("web", "shop"),
           read_source=read)
    assert reads == [("certs", "wildcard")]
