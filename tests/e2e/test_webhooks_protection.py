"""Deletion protection on the real API server, under `ork run` (with the reconciler) and under
`ork gateway` with strict mode; and the generated certificate the API server trusts."""
from __future__ import annotations

import base64
import json
import socket
import ssl
import time

from cryptography import x509

from orkestra.gvk import GVR
from tests.e2e.ork_runtime import ork_runtime  # noqa: F401
from tests.e2e.webhook_helpers import (  # noqa: F401
    CRDS, LABEL, VALIDATING, crd, eventually, gateway, webhook_cleanup,
)

GROUP = "demo.wh.example.io"
CRD_NAME = f"websites.{GROUP}"
NAMESPACES = GVR("", "v1", "namespaces")
WEBSITES = GVR(GROUP, "v1alpha1", "websites")


def katalog(strict: bool) -> dict:
    return {"apiVersion": "orkestra.orkspace.io/v1", "kind": "Katalog", "metadata": {"name": "website-operator"},
            "security": {"deletionProtection": {"enabled": True, "strictMode": strict}},
            "spec": {"crds": {"website": {"apiTypes": {"group": GROUP, "version": "v1alpha1", "kind": "Website",
                                                       "plural": "websites"}}}}}


def website(name: str, namespace: str, labels: dict | None = None) -> str:
    return json.dumps({"apiVersion": f"{GROUP}/v1alpha1", "kind": "Website",
                       "metadata": {"name": name, "namespace": namespace, **({"labels": labels} if labels else {})},
                       "spec": {"image": "nginx"}})


def labels_of(kube, gvr, name, namespace=None) -> dict:
    return ((kube.get(gvr, name, namespace) or {}).get("metadata") or {}).get("labels") or {}


def wait_protected(kube) -> dict:
    config = eventually(lambda: kube.get(VALIDATING, "orkestra-deletion-protection"), what="protection config")
    eventually(lambda: labels_of(kube, CRDS, CRD_NAME).get(LABEL) == "true", what="the CRD protection label")
    return config


def denied_delete(kubectl, *args) -> str:
    def attempt():
        p = kubectl("delete", *args, "--wait=false", check=False)
        return p.stderr if p.returncode != 0 else None
    return eventually(attempt, timeout=15, what=f"kubectl delete {' '.join(args)} to be denied")


def test_protection_under_ork_run(namespace, apply_crd, webhook_cleanup, ork_runtime, kubectl, kube):
    apply_crd(crd(GROUP, "Website", "websites", ["v1alpha1"]))
    ork = ork_runtime(katalog(strict=False), env={"NAMESPACE": namespace, "WEBHOOK_RESYNC": "5s"})
    config = wait_protected(kube)
    assert [w["name"] for w in config["webhooks"]] == ["protect.crds.orkestra.orkspace.io",
                                                      "protect.resources.orkestra.orkspace.io"]
    assert all(w["failurePolicy"] == "Fail" for w in config["webhooks"])
    # Orkestra labels its own namespace (a separate write after the configuration: wait for it)
    eventually(lambda: labels_of(kube, NAMESPACES, namespace).get(LABEL) == "true", what="the namespace label")

    # the generated serving certificate is the one the caBundle's CA signed
    ca = x509.load_pem_x509_certificates(base64.b64decode(config["webhooks"][0]["clientConfig"]["caBundle"]))[0]
    served = x509.load_pem_x509_certificate(ssl.get_server_certificate(("127.0.0.1", ork.webhook_port)).encode())
    served.verify_directly_issued_by(ca)
    assert ca.subject.rfc4514_string() == "CN=orkestra-webhook-ca"

    stderr = denied_delete(kubectl, "crd", CRD_NAME)
    assert (f'[Orkestra Security] CRD "{CRD_NAME}" is protected from deletion by Katalog "website-operator".\n'
            "To delete it: set security.deletionProtection.enabled: false") in stderr

    kubectl("create", "configmap", "keep", "-n", namespace)
    kubectl("label", "configmap", "keep", "-n", namespace, f"{LABEL}=true")
    stderr = denied_delete(kubectl, "configmap", "keep", "-n", namespace)
    assert (f'[Orkestra Security] ConfigMap "keep" in namespace "{namespace}" is protected from deletion '
            f"(label {LABEL}=true).\nTo delete it: remove the label") in stderr

    # the reconciler labels every CR (protectCRs) and puts a removed label back
    kubectl("apply", "-f", "-", input=website("site-a", namespace))
    eventually(lambda: labels_of(kube, WEBSITES, "site-a", namespace).get(LABEL) == "true",
               what="the reconciler to label the CR")
    stderr = denied_delete(kubectl, "website", "site-a", "-n", namespace)
    assert f'[Orkestra Security] Website "site-a" in namespace "{namespace}" is protected from deletion' in stderr
    kubectl("label", "website", "site-a", "-n", namespace, f"{LABEL}-")
    eventually(lambda: labels_of(kube, WEBSITES, "site-a", namespace).get(LABEL) == "true", timeout=30,
               what="the reconciler to restore the removed label")

    # self-protection: a deleted configuration is recreated by the watch within seconds
    kubectl("delete", "validatingwebhookconfiguration", "orkestra-deletion-protection")
    start = time.monotonic()
    eventually(lambda: kube.get(VALIDATING, "orkestra-deletion-protection"), timeout=10,
               interval=0.05, what="the deleted configuration to be recreated")
    assert time.monotonic() - start < 3.0

    status, body = ork.get("/katalog")
    assert status == 200 and body["protection"]["deletion"]["blocked"] >= 3
    status, detail = ork.get("/katalog/website")
    assert detail["deletionProtection"]["enabled"] is True and detail["deletionProtection"]["blocked"] >= 2


def test_strict_mode_under_ork_gateway(namespace, apply_crd, webhook_cleanup, gateway, kubectl, kube):
    apply_crd(crd(GROUP, "Website", "websites", ["v1alpha1"]))
    gw = gateway(katalog(strict=True), {"NAMESPACE": namespace})
    config = wait_protected(kube)
    assert [w["name"] for w in config["webhooks"]][-1] == "strict-mode.orkestra.orkspace.io"
    assert socket.create_connection(("127.0.0.1", gw.webhook_port), timeout=5)   # the HTTPS listener is up

    kubectl("apply", "-f", "-", input=website("site-b", namespace, labels={LABEL: "true"}))
    def label_removal_denied():
        p = kubectl("label", "website", "site-b", "-n", namespace, f"{LABEL}-", check=False)
        return p.stderr if p.returncode != 0 else None
    stderr = eventually(label_removal_denied, timeout=15, what="strict mode to deny the label removal")
    assert (f'[Orkestra Security] Website "site-b" in namespace "{namespace}" carries the deletion-protection '
            "label and strictMode is on: the label cannot be removed.\n"
            "To unprotect it: set deletionProtection.strictMode: false in the Katalog") in stderr
    stderr = denied_delete(kubectl, "website", "site-b", "-n", namespace)
    assert "is protected from deletion (label orkestra.io/deletion-protection=true)" in stderr
    status, body = gw.get("/katalog")
    assert status == 200 and body["protection"]["deletion"]["blocked"] >= 2


def test_namespace_protection_and_cleanup_on_shutdown(namespace, apply_crd, webhook_cleanup, ork_runtime, kubectl,
                                                      kube):
    apply_crd(crd(GROUP, "Website", "websites", ["v1alpha1"]))
    restricted = f"wh-restricted-{namespace[-6:]}"
    kubectl("create", "namespace", restricted)
    try:
        doc = katalog(strict=False)
        doc["security"] = {"namespaceProtection": {"restrictedNamespaces": ["wh-restricted-*"],
                                                   "cleanupOnShutdown": True}}
        ork = ork_runtime(doc, env={"NAMESPACE": namespace})
        config = eventually(lambda: kube.get(VALIDATING, "orkestra-namespace-protection"), what="the configuration")
        (hook,) = config["webhooks"]
        assert hook["name"] == "namespace-protect.orkestra.orkspace.io" and hook["failurePolicy"] == "Fail"
        assert kube.get(VALIDATING, "orkestra-deletion-protection") is None

        def denied():
            p = kubectl("apply", "-f", "-", input=website("w", restricted), check=False)
            return p.stderr if p.returncode != 0 else None
        stderr = eventually(denied, what="a CR in a restricted namespace to be denied")
        assert (f'[Orkestra Security] Namespace "{restricted}" is not permitted for Website ({CRD_NAME}).\n'
                "To allow it: update allowedNamespaces or restrictedNamespaces for this CRD") in stderr
        kubectl("apply", "-f", "-", input=website("w", namespace))
        status, body = ork.get("/katalog")
        assert body["protection"]["namespace"]["blocked"] >= 1 and body["protection"]["namespace"]["allowed"] >= 1

        assert ork.stop() == 0                        # graceful shutdown removes the configuration
        assert kube.get(VALIDATING, "orkestra-namespace-protection") is None
    finally:
        kubectl("delete", "namespace", restricted, "--wait=false", check=False)
