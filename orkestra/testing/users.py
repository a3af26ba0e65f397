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
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from orkestra.testing.errors import ControlPlaneError
from orkestra.testing.kubeconfig import client_kubeconfig

SIGNER = "kubernetes.io/kube-apiserver-client"
ISSUE_TIMEOUT = 30.0


def _csr_pem(name: str, groups: tuple[str, ...]) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([*(x509.NameAttribute(NameOID.ORGANIZATION_NAME, g) for g in groups),
                         x509.NameAttribute(NameOID.COMMON_NAME, name)])
    csr = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return csr.public_bytes(serialization.Encoding.PEM), key_pem


def _cluster_of(admin_kubeconfig: Path) -> tuple[str, bytes]:
    doc = yaml.safe_load(admin_kubeconfig.read_text())
    context = next(c["context"] for c in doc["contexts"] if c["name"] == doc["current-context"])
    cluster = next(c["cluster"] for c in doc["clusters"] if c["name"] == context["cluster"])
    if "certificate-authority-data" in cluster:
        ca_pem = base64.b64decode(cluster["certificate-authority-data"])
    else:
        ca_pem = Path(cluster["certificate-authority"]).read_bytes()
    return cluster["server"], ca_pem


def csr_user_kubeconfig(admin_kubeconfig: Path, name: str, groups: tuple[str, ...] | list[str],
                        out: Path, *, timeout: float = ISSUE_TIMEOUT) -> Path:
    """Have the cluster issue a client certificate for `name`/`groups`; write its kubeconfig to `out`."""
    csr_pem, key_pem = _csr_pem(name, tuple(groups))
    api = kubernetes.config.new_client_from_config(str(admin_kubeconfig))
    certificates = kubernetes.client.CertificatesV1Api(api)
    csr_name = f"orkestra-user-{name}-{uuid.uuid4().hex[:6]}"
    try:
        certificates.create_certificate_signing_request({
            "metadata": {"name": csr_name},
            "spec": {"request": base64.b64encode(csr_pem).decode(), "signerName": SIGNER,
                     "usages": ["client auth"], "expirationSeconds": 86400}})
        csr = certificates.read_certificate_signing_request(csr_name)
        csr.status.conditions = [kubernetes.client.V1CertificateSigningRequestCondition(
            type="Approved", status="True", reason="OrkestraTestUser", message="approved for a test user")]
        certificates.replace_certificate_signing_request_approval(csr_name, csr)
        deadline = time.monotonic() + timeout
        while not (cert := certificates.read_certificate_signing_request(csr_name).status.certificate):
            if time.monotonic() > deadline:
                raise ControlPlaneError(f"the cluster did not issue a certificate for CSR {csr_name} within "
                                        f"{timeout:.0f}s: is kube-controller-manager's {SIGNER} signer running?")
            time.sleep(0.2)
        certificates.delete_certificate_signing_request(csr_name)
    finally:
        api.close()
    server, ca_pem = _cluster_of(admin_kubeconfig)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(client_kubeconfig(server=server, ca_pem=ca_pem, user=name,
                                     cert_pem=base64.b64decode(cert), key_pem=key_pem))
    out.chmod(0o600)
    return out
