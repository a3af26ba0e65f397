"""`ork run` as the Helm chart runs it, against the local control plane (docs/deploying.md).

What a pod would have is simulated in a temp dir: the ServiceAccount mount (a real token from
the TokenRequest API for the bundle's `orkestra` ServiceAccount, the cluster CA, the namespace),
KUBERNETES_SERVICE_HOST/PORT, the Katalog ConfigMap mounted as a file, NAMESPACE and POD_NAME from
the downward API, and no kubeconfig anywhere. The only permissions are those of the bundle's
ClusterRole, so the test proves the generated RBAC is enough to run, elect a leader and reconcile.
"""
from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from orkestra import packs
from tests.e2e.ork_runtime import ork_runtime  # noqa: F401

EXAMPLE = Path(packs.__file__).parent / "beginner" / "hello-website"
_ORK = str(Path(sys.executable).with_name("ork"))


def cluster_of(kubeconfig: Path) -> dict:
    config = yaml.safe_load(kubeconfig.read_text())
    return config["clusters"][0]["cluster"]


def wait_for(check, what: str, timeout: float = 45.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    pytest.fail(f"timed out after {timeout}s waiting for {what}", pytrace=False)


@pytest.fixture
def bundle_namespace(kubectl, tmp_path):
    """A namespace created by `ork generate bundle` for hello-website, removed with the bundle."""
    namespace = f"ork-incluster-{uuid.uuid4().hex[:6]}"
    bundle = tmp_path / "bundle.yaml"
    subprocess.run([_ORK, "generate", "bundle", "-f", str(EXAMPLE / "katalog.yaml"), "-n", namespace,
                    "-o", str(bundle)], check=True)
    kubectl("apply", "-f", str(bundle))
    kubectl("apply", "-f", str(EXAMPLE / "crd.yaml"))
    kubectl("wait", "--for=condition=Established", "crd/websites.beginner.demo.orkestra.io", "--timeout=30s")
    yield namespace
    kubectl("delete", "website", "--all", "-n", namespace, "--wait=false", check=False)
    kubectl("delete", "-f", str(bundle), "--ignore-not-found", "--wait=false", check=False)


def test_ork_run_in_cluster_mode_with_the_bundle_service_account(bundle_namespace, control_plane, kubectl,
                                                                 ork_runtime, tmp_path):  # noqa: F811
    namespace = bundle_namespace
    cluster = cluster_of(Path(control_plane.kubeconfig))
    api = urlsplit(cluster["server"])
    token = kubectl("create", "token", "orkestra", "-n", namespace, "--duration=1h").stdout.strip()

    # The pod's view: /var/run/secrets/kubernetes.io/serviceaccount and the Katalog volume.
    account = tmp_path / "serviceaccount"
    account.mkdir()
    (account / "token").write_text(token)
    (account / "ca.crt").write_bytes(base64.b64decode(cluster["certificate-authority-data"]))
    (account / "namespace").write_text(namespace)
    mounted = tmp_path / "etc" / "orkestra" / "katalog"
    mounted.mkdir(parents=True)
    config_map = json.loads(kubectl("get", "configmap", "orkestra-config", "-n", namespace, "-o", "json").stdout)
    (mounted / "katalog.yaml").write_text(config_map["data"]["katalog.yaml"])

    # The token carries the bundle's permissions and nothing more.
    as_pod = ["--kubeconfig=/dev/null", f"--server={cluster['server']}", f"--token={token}",
              f"--certificate-authority={account / 'ca.crt'}"]
    denied = subprocess.run([str(Path(sys.executable).with_name("kubectl")), *as_pod, "get", "secrets",
                             "-n", "kube-system"], capture_output=True, text=True)
    assert denied.returncode != 0 and "Forbidden" in denied.stderr
    assert 'User "system:serviceaccount:' + namespace + ':orkestra"' in denied.stderr

    home = tmp_path / "home"
    home.mkdir()
    ork = ork_runtime(mounted / "katalog.yaml", kubeconfig=False, leader_election=True, env={
        "HOME": str(home),                                   # no ~/.kube/config
        "ORK_SERVICE_ACCOUNT_DIR": str(account),
        "KUBERNETES_SERVICE_HOST": api.hostname, "KUBERNETES_SERVICE_PORT": str(api.port),
        "NAMESPACE": namespace, "POD_NAME": "orkestra-runtime-7d9f-abcde",
        "ORK_SERVICE_NAME": "orkestra-runtime",
    })
    lease = wait_for(lambda: json.loads(kubectl("get", "lease", "orkestra-konductor", "-n", namespace,
                                                "-o", "json", check=False).stdout or "{}"), "the Lease")
    assert lease["spec"]["holderIdentity"].startswith("orkestra-runtime-7d9f-abcde")

    kubectl("apply", "-n", namespace, "-f", str(EXAMPLE / "cr.yaml"))
    deployment = wait_for(lambda: json.loads(kubectl("get", "deployment", "hello-deployment", "-n", namespace, "--show-managed-fields",
                                                     "-o", "json", check=False).stdout or "{}"),
                          "the Deployment of the Website")
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
    managers = {m["manager"] for m in deployment["metadata"]["managedFields"]}
    assert "orkestra" in managers

    def ready() -> bool:
        cr = json.loads(kubectl("get", "website", "hello", "-n", namespace, "-o", "json").stdout)
        return any(c["type"] == "Ready" and c["status"] == "True" for c in cr.get("status", {}).get("conditions", []))
    wait_for(ready, "the Website to be Ready")
    status, body = ork.get("/katalog/website/health")
    assert (status, body["state"]) == (200, "healthy")
    assert "forbidden" not in ork.logs().lower()
