"""Shared pieces of the webhook e2e tests: CRDs, polling, and clean removal of protection.

Deletion protection uses `failurePolicy: Fail`, so a test that leaves `orkestra-deletion-protection`
behind with no server would block the deletion of every labelled object (including the test's
namespace and CRDs). `drop_webhook_configurations` removes Orkestra's configurations and labels;
the API server never sends webhook configurations to admission webhooks, so this always works.
"""
from __future__ import annotations

import time
from typing import Any, Callable

import pytest

from orkestra.gvk import GVR

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
