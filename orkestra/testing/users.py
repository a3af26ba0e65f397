"""Non-admin users on *any* cluster, through the CertificateSigningRequest API.

`LocalControlPlane.add_user` signs a client certificate with the client CA it holds. On a
cluster whose CA key we do not have (kind, or one reused through ORK_E2E_KUBECONFIG), the same
thing is asked of the cluster: submit a CSR for the `kubernetes.io/kube-apiserver-client`
signer, approve it as the admin, and wait for kube-controller-manager to issue the certificate.
The local control plane runs that signer too (with its client CA), so this path is tested here.
"""
from __future__ import annotations

import base64
import time
import uuid
from pathlib import Path

import kubernetes

from orkestra.testing import certs
from orkestra.testing.errors import ControlPlaneError
from orkestra.testing.files import private_dir, write_private
from orkestra.testing.kubeconfig import client_kubeconfig, read_cluster

SIGNER = "kubernetes.io/kube-apiserver-client"
ISSUE_TIMEOUT = 30.0


def _issued(certificates: kubernetes.client.CertificatesV1Api, csr_name: str) -> bytes | str | None:
    """The CSR's certificate (base64 PEM) once the signer has issued it."""
    status = certificates.read_certificate_signing_request(csr_name).status
    return status.certificate if status is not None else None


def csr_user_kubeconfig(admin_kubeconfig: Path, name: str, groups: tuple[str, ...] | list[str],
                        out: Path, *, timeout: float = ISSUE_TIMEOUT) -> Path:
    """Have the cluster issue a client certificate for `name`/`groups`; write its kubeconfig to `out`."""
    csr_pem, key_pem = certs.make_client_csr(name, tuple(groups))
    api = kubernetes.config.new_client_from_config(str(admin_kubeconfig))
    certificates = kubernetes.client.CertificatesV1Api(api)
    csr_name = f"orkestra-user-{name}-{uuid.uuid4().hex[:6]}"
    try:
        certificates.create_certificate_signing_request(kubernetes.client.V1CertificateSigningRequest(
            metadata=kubernetes.client.V1ObjectMeta(name=csr_name),
            spec=kubernetes.client.V1CertificateSigningRequestSpec(
                request=base64.b64encode(csr_pem).decode(), signer_name=SIGNER,
                usages=["client auth"], expiration_seconds=86400)))
        csr = certificates.read_certificate_signing_request(csr_name)
        csr.status = csr.status or kubernetes.client.V1CertificateSigningRequestStatus()
        csr.status.conditions = [kubernetes.client.V1CertificateSigningRequestCondition(
            type="Approved", status="True", reason="OrkestraTestUser", message="approved for a test user")]
        certificates.replace_certificate_signing_request_approval(csr_name, csr)
        deadline = time.monotonic() + timeout
        while not (cert := _issued(certificates, csr_name)):
            if time.monotonic() > deadline:
                raise ControlPlaneError(f"the cluster did not issue a certificate for CSR {csr_name} within "
                                        f"{timeout:.0f}s: is kube-controller-manager's {SIGNER} signer running?")
            time.sleep(0.2)
        certificates.delete_certificate_signing_request(csr_name)
    finally:
        api.close()
    server, ca_pem = read_cluster(admin_kubeconfig)
    private_dir(out.parent)
    return write_private(out, client_kubeconfig(server=server, ca_pem=ca_pem, user=name,
                                                cert_pem=base64.b64decode(cert), key_pem=key_pem))
