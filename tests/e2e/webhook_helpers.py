"""Shared pieces of the webhook e2e tests: CRDs, polling, `ork gateway` processes, and clean
removal of protection.

Deletion protection uses `failurePolicy: Fail`, so a test that leaves `orkestra-deletion-protection`
behind with no server would block the deletion of every labelled object (including the test's
namespace and CRDs). `drop_webhook_configurations` removes Orkestra's configurations and labels;
the API server never sends webhook configurations to admission webhooks, so this always works.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from orkestra.gvk import GVR
from tests.e2e.ork_runtime import OrkProcess, _wait_started, free_port

VALIDATING = GVR("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations")
MUTATING = GVR("admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations")
CRDS = GVR("apiextensions.k8s.io", "v1", "customresourcedefinitions")
LABEL = "orkestra.io/deletion-protection"
OPEN_SCHEMA = {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}


def crd(group: str, kind: str, plural: str, versions: list[str], *, storage: str | None = None,
        scope: str = "Namespaced") -> dict:
    storage = storage or versions[-1]
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.{group}"},
            "spec": {"group": group, "scope": scope,
                     "names": {"plural": plural, "singular": kind.lower(), "kind": kind, "listKind": f"{kind}List"},
                     "versions": [{"name": v, "served": True, "storage": v == storage, "schema": OPEN_SCHEMA,
                                   "subresources": {"status": {}}} for v in versions]}}


def eventually(predicate: Callable[[], Any], timeout: float = 30.0, interval: float = 0.2, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout}s waiting for {what or predicate!r} (last: {last!r})", pytrace=False)


def drop_webhook_configurations(kube: Any) -> None:
    for gvr, name in ((VALIDATING, "orkestra-validation"), (MUTATING, "orkestra-mutation"),
                      (VALIDATING, "orkestra-deletion-protection"), (VALIDATING, "orkestra-namespace-protection")):
        kube.delete(gvr, name)


@pytest.fixture
def webhook_cleanup(kube):
    """Teardown before `apply_crd`/`namespace` (request it after them): no Orkestra webhooks left."""
    yield
    drop_webhook_configurations(kube)


def start_gateway(control_plane, tmp_path: Path, doc: dict, env: dict) -> OrkProcess:
    """`ork gateway` as a subprocess on free loopback ports (like `ork_runtime` does for `ork run`)."""
    path = tmp_path / "katalog.yaml"
    path.write_text(yaml.safe_dump(doc))
    http_port, webhook_port = free_port(), free_port()
    proc_env = {k: v for k, v in os.environ.items() if not k.startswith(("ORK_", "KUBECONFIG"))}
    proc_env.update({"ORK_PORT": str(http_port), "ORK_WEBHOOK_PORT": str(webhook_port),
                     "ORK_BIND_ADDRESS": "127.0.0.1", "PYTHONUNBUFFERED": "1", **env})
    log_path = tmp_path / "gateway.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([str(Path(sys.executable).with_name("ork")), "gateway", "-f", str(path),
                                 "--kubeconfig", str(control_plane.kubeconfig)],
                                stdout=log, stderr=subprocess.STDOUT, env=proc_env, start_new_session=True)
    handle = OrkProcess(proc, url=f"http://127.0.0.1:{http_port}", log_path=log_path, webhook_port=webhook_port)
    _wait_started(handle)
    return handle


@pytest.fixture
def gateway(control_plane, tmp_path):
    """Factory `gateway(katalog_dict, env) -> OrkProcess`; every gateway is stopped at teardown."""
    started: list[OrkProcess] = []

    def start(doc: dict, env: dict) -> OrkProcess:
        started.append(start_gateway(control_plane, tmp_path, doc, env))
        return started[-1]
    yield start
    for handle in started:
        if handle.stop(timeout=30) is None:
            handle.kill()
