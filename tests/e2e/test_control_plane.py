"""The local control plane is a real Kubernetes API: CRDs, watches, GC, namespaces, RBAC.

These are the issue's "must show" checks, run against whatever the `control_plane` fixture
provides (the local control plane by default), plus the runner's own failure messages.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import time
import uuid

import kubernetes
import pytest

from orkestra.testing import ControlPlaneError, KUBERNETES_VERSION, LocalControlPlane, ensure_binaries
from orkestra.testing.processes import runs
from orkestra.testing.users import csr_user_kubeconfig

GROUP = "e2e.orkestra.io"


def widget_crd(plural: str = "widgets", kind: str = "Widget") -> dict:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {"plural": plural, "singular": kind.lower(), "kind": kind, "listKind": f"{kind}List"},
            "versions": [{
                "name": "v1", "served": True, "storage": True,
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}},
            }],
        },
    }


def wait_until(predicate, timeout: float, message: str):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s: {message}")
        time.sleep(0.2)


def test_server_reports_the_pinned_kubernetes_version(api_client):
    info = kubernetes.client.VersionApi(api_client).get_code()
    assert info.git_version == f"v{KUBERNETES_VERSION}"
    assert (info.major, info.minor) == ("1", KUBERNETES_VERSION.split(".")[1])


def test_crd_established_then_cr_create_list_watch(apply_crd, api_client, namespace):
    crd = apply_crd(widget_crd())
    assert any(c["type"] == "Established" and c["status"] == "True" for c in crd["status"]["conditions"])
    objects = kubernetes.client.CustomObjectsApi(api_client)
    before = objects.list_namespaced_custom_object(GROUP, "v1", namespace, "widgets")
    assert before["items"] == []

    objects.create_namespaced_custom_object(GROUP, "v1", namespace, "widgets", {
        "apiVersion": f"{GROUP}/v1", "kind": "Widget", "metadata": {"name": "w1"}, "spec": {"size": 1}})
    listed = objects.list_namespaced_custom_object(GROUP, "v1", namespace, "widgets")
    assert [(i["metadata"]["name"], i["spec"]["size"]) for i in listed["items"]] == [("w1", 1)]
    objects.patch_namespaced_custom_object(GROUP, "v1", namespace, "widgets", "w1", {"spec": {"size": 2}})
    objects.delete_namespaced_custom_object(GROUP, "v1", namespace, "widgets", "w1")

    seen = []
    watch = kubernetes.watch.Watch()
    for event in watch.stream(objects.list_namespaced_custom_object, GROUP, "v1", namespace, "widgets",
                              resource_version=before["metadata"]["resourceVersion"], timeout_seconds=15):
        seen.append((event["type"], event["object"]["metadata"]["name"], event["object"]["spec"]["size"]))
        if event["type"] == "DELETED":
            watch.stop()
    assert seen == [("ADDED", "w1", 1), ("MODIFIED", "w1", 2), ("DELETED", "w1", 2)]


def test_garbage_collector_deletes_children_of_a_deleted_cr(apply_crd, api_client, namespace):
    apply_crd(widget_crd("gadgets", "Gadget"))
    objects = kubernetes.client.CustomObjectsApi(api_client)
    core = kubernetes.client.CoreV1Api(api_client)
    owner = objects.create_namespaced_custom_object(GROUP, "v1", namespace, "gadgets", {
        "apiVersion": f"{GROUP}/v1", "kind": "Gadget", "metadata": {"name": "owner"}, "spec": {}})
    ref = {"apiVersion": f"{GROUP}/v1", "kind": "Gadget", "name": "owner", "uid": owner["metadata"]["uid"],
           "controller": True, "blockOwnerDeletion": True}
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "child", "ownerReferences": [ref]},
                                                  "data": {"k": "v"}})
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "bystander"}, "data": {"k": "v"}})

    objects.delete_namespaced_custom_object(GROUP, "v1", namespace, "gadgets", "owner")

    def child_gone() -> bool:
        names = {cm.metadata.name for cm in core.list_namespaced_config_map(namespace).items}
        return "child" not in names
    # kube-controller-manager rediscovers API resources every 30 s (hard-coded), so a CRD created a
    # moment ago may take 30-45 s to be watched by the garbage collector; later deletions are fast.
    wait_until(child_gone, 90, "the garbage collector did not delete the owned ConfigMap")
    assert core.read_namespaced_config_map("bystander", namespace).data == {"k": "v"}


def test_namespace_controller_finishes_namespace_deletion(api_client):
    core = kubernetes.client.CoreV1Api(api_client)
    name = f"e2e-ns-delete-{uuid.uuid4().hex[:6]}"
    core.create_namespace({"metadata": {"name": name}})
    core.create_namespaced_config_map(name, {"metadata": {"name": "content"}})
    core.delete_namespace(name)

    def gone() -> bool:
        try:
            core.read_namespace(name)
        except kubernetes.client.ApiException as err:
            return err.status == 404
        return False
    wait_until(gone, 60, f"namespace {name} was not finalized by the namespace controller")


@pytest.mark.parametrize("issued_by", ["client CA", "CSR API"])
def test_rbac_forbids_a_user_until_a_role_grants_access(control_plane, api_client, namespace, tmp_path, issued_by):
    user = f"e2e-user-{uuid.uuid4().hex[:6]}"
    if issued_by == "CSR API":  # the path used on clusters whose CA key we do not hold (kind)
        user_kubeconfig = csr_user_kubeconfig(control_plane.kubeconfig, user, ["e2e-devs"], tmp_path / "user")
    else:
        user_kubeconfig = control_plane.add_user(user, ["e2e-devs"])
    user_client = kubernetes.config.new_client_from_config(str(user_kubeconfig))
    as_user = kubernetes.client.CoreV1Api(user_client)

    with pytest.raises(kubernetes.client.ApiException) as denied:
        as_user.list_namespaced_config_map(namespace)
    assert denied.value.status == 403
    message = json.loads(denied.value.body)["message"]
    assert f'User "{user}" cannot list resource "configmaps"' in message

    rbac = kubernetes.client.RbacAuthorizationV1Api(api_client)
    rbac.create_namespaced_role(namespace, {
        "metadata": {"name": "configmap-reader"},
        "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}]})
    rbac.create_namespaced_role_binding(namespace, {
        "metadata": {"name": "configmap-reader"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "configmap-reader"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]})

    def can_list() -> bool:
        try:
            as_user.list_namespaced_config_map(namespace)
        except kubernetes.client.ApiException as err:
            assert err.status == 403
            return False
        return True
    wait_until(can_list, 10, "the RoleBinding did not grant list on configmaps")

    with pytest.raises(kubernetes.client.ApiException) as still_denied:
        as_user.create_namespaced_config_map(namespace, {"metadata": {"name": "nope"}})
    assert still_denied.value.status == 403
    with pytest.raises(kubernetes.client.ApiException) as other_namespace:
        as_user.list_namespaced_config_map("default")
    assert other_namespace.value.status == 403
    user_client.close()


def test_kubectl_fixture_uses_the_admin_kubeconfig(kubectl, namespace):
    out = kubectl("get", "namespace", namespace, "-o", "jsonpath={.metadata.name}")
    assert out.stdout == namespace
    assert kubectl("auth", "can-i", "delete", "nodes").stdout.strip() == "yes"


# -- failure messages of the runner itself (real binaries, no cluster needed) -------------------

def test_apiserver_port_in_use_is_one_clear_line(tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(ControlPlaneError) as err:
            LocalControlPlane(root=tmp_path, apiserver_port=port).start()
    assert err.value.headline == (f"port 127.0.0.1:{port} asked for kube-apiserver is already in use: "
                                  f"stop what listens there or leave the port unset to pick a free one")


def test_a_component_that_dies_is_named_with_its_log_tail(tmp_path):
    real = ensure_binaries()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("kube-apiserver", "kube-controller-manager"):
        (bin_dir / name).symlink_to(real / name)
    fake_etcd = bin_dir / "etcd"
    fake_etcd.write_text("#!/bin/sh\necho 'starting'\necho 'listen tcp 127.0.0.1:2379: bind: address already in use'\nexit 1\n")
    fake_etcd.chmod(0o755)
    with pytest.raises(ControlPlaneError) as err:
        LocalControlPlane(root=tmp_path / "cp", bin_dir=bin_dir).start()
    assert err.value.headline == ("etcd could not listen: 127.0.0.1:2379 is already in use; "
                                  "stop what holds it or let the port be chosen freely")
    assert "bind: address already in use" in err.value.detail
    assert not list((tmp_path / "cp" / "logs").glob("kube-apiserver.log"))


def test_a_dead_etcd_is_named_by_check(tmp_path):
    with LocalControlPlane(root=tmp_path / "cp") as cp:
        cp.check()
        started = cp.components
        etcd = next(c for c in cp.components if c.name == "etcd")
        os.kill(etcd.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                cp.check()
            except ControlPlaneError as err:
                assert err.headline == (f"etcd (pid {etcd.pid}) exited with code -9; the local control plane "
                                        f"is broken, the last lines of its log follow")
                break
            time.sleep(0.05)
        else:
            pytest.fail("check() did not notice the dead etcd")
    assert cp.components == []
    assert not [c for c in started if runs(c.pid, c.exe)]
