"""Command lines for etcd, kube-apiserver and kube-controller-manager (pure).

The flags follow docs/architecture.md and what controller-runtime's envtest does: every listener on
127.0.0.1 and a free port, RBAC authorization, a separate client CA, OwnerReferencesPermission-
Enforcement on (as on stricter clusters) and the ServiceAccount admission plugin off (no token
controller is needed to create Pods). The controller manager runs only what the tests need:
garbage collection (ownerReference cascades), namespace deletion, the default ServiceAccount
in each namespace, and the `kube-apiserver-client` CSR signer (with the client CA), so test users
can be had through the CertificateSigningRequest API as on any cluster (`orkestra.testing.users`).

etcd serves clients and its peer port over TLS and requires a client certificate from its own
CA (`etcd-ca.crt`): plain HTTP on loopback let any local user read every Secret and write
around RBAC. Only kube-apiserver holds a client certificate (`apiserver-etcd-client.*`).

`--advertise-address` is a trap: since 1.36 kube-apiserver rejects 127.0.0.1 there while the
endpoint reconciler is on. It is left unset when the machine has a default route (the address is
then only written into the `kubernetes` Endpoints object); without one, the endpoint reconciler is
turned off and loopback is advertised.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from orkestra.testing.ports import LOOPBACK

CONTROLLERS = ("garbage-collector-controller", "namespace-controller", "serviceaccount-controller",
               "certificatesigningrequest-signing-controller")
SERVICE_CLUSTER_IP_RANGE = "10.0.0.0/24"


@dataclass(frozen=True)
class Layout:
    """Where one control plane's files live and which ports it listens on."""

    bin_dir: Path
    root: Path
    etcd_client_port: int
    etcd_peer_port: int
    apiserver_port: int

    @property
    def certs(self) -> Path:
        return self.root / "certs"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def etcd_data(self) -> Path:
        return self.root / "etcd"

    @property
    def kubeconfig(self) -> Path:
        return self.root / "admin.kubeconfig"

    @property
    def audit_policy(self) -> Path:
        return self.root / "audit-policy.yaml"

    @property
    def audit_log(self) -> Path:
        return self.logs / "audit.log"

    @property
    def etcd_url(self) -> str:
        return f"https://{LOOPBACK}:{self.etcd_client_port}"

    @property
    def server(self) -> str:
        return f"https://{LOOPBACK}:{self.apiserver_port}"

    def cert(self, name: str) -> Path:
        return self.certs / name


def etcd_command(layout: Layout) -> list[str]:
    peer = f"https://{LOOPBACK}:{layout.etcd_peer_port}"
    tls = (layout.cert("etcd-ca.crt"), layout.cert("etcd.crt"), layout.cert("etcd.key"))
    return [
        str(layout.bin_dir / "etcd"),
        "--name=default",
        f"--data-dir={layout.etcd_data}",
        f"--listen-client-urls={layout.etcd_url}",
        f"--advertise-client-urls={layout.etcd_url}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster=default={peer}",
        f"--trusted-ca-file={tls[0]}", f"--cert-file={tls[1]}", f"--key-file={tls[2]}",
        "--client-cert-auth=true",
        f"--peer-trusted-ca-file={tls[0]}", f"--peer-cert-file={tls[1]}", f"--peer-key-file={tls[2]}",
        "--peer-client-cert-auth=true",
        "--unsafe-no-fsync=true",
        "--log-level=warn",
    ]


# Writes only, at Metadata level (who, verb, object, status, timestamps; no bodies): enough to
# tell which identity wrote what and when, and cheap, because reads and watches are not logged.
AUDIT_POLICY = """apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: Metadata
  verbs: ["create", "update", "patch", "delete", "deletecollection"]
- level: None
"""
# A whole e2e session writes some tens of MB (about 1 KB a write); one fault test a few MB.
AUDIT_LOG_MB = 100


def apiserver_command(layout: Layout, *, has_default_route: bool, audit: bool = False) -> list[str]:
    command = [
        str(layout.bin_dir / "kube-apiserver"),
        f"--etcd-servers={layout.etcd_url}",
        f"--etcd-cafile={layout.cert('etcd-ca.crt')}",
        f"--etcd-certfile={layout.cert('apiserver-etcd-client.crt')}",
        f"--etcd-keyfile={layout.cert('apiserver-etcd-client.key')}",
        f"--bind-address={LOOPBACK}",
        f"--secure-port={layout.apiserver_port}",
        f"--cert-dir={layout.certs}",
        f"--tls-cert-file={layout.cert('serving.crt')}",
        f"--tls-private-key-file={layout.cert('serving.key')}",
        f"--client-ca-file={layout.cert('client-ca.crt')}",
        f"--service-account-issuer={layout.server}/",
        f"--service-account-key-file={layout.cert('sa.pub')}",
        f"--service-account-signing-key-file={layout.cert('sa.key')}",
        f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
        "--authorization-mode=RBAC",
        "--allow-privileged=true",
        "--disable-admission-plugins=ServiceAccount",
        "--enable-admission-plugins=OwnerReferencesPermissionEnforcement",
    ]
    if not has_default_route:
        command += ["--endpoint-reconciler-type=none", f"--advertise-address={LOOPBACK}"]
    if audit:
        # blocking: an event is written before the response goes out, so the log's order is the
        # order in which the writes took effect; bounded: rotated at AUDIT_LOG_MB, one old file kept
        command += [f"--audit-policy-file={layout.audit_policy}", f"--audit-log-path={layout.audit_log}",
                    "--audit-log-format=json", "--audit-log-mode=blocking",
                    f"--audit-log-maxsize={AUDIT_LOG_MB}", "--audit-log-maxbackup=1"]
    return command


def controller_manager_command(layout: Layout) -> list[str]:
    kubeconfig = str(layout.kubeconfig)
    return [
        str(layout.bin_dir / "kube-controller-manager"),
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        f"--controllers={','.join(CONTROLLERS)}",
        f"--cluster-signing-kube-apiserver-client-cert-file={layout.cert('client-ca.crt')}",
        f"--cluster-signing-kube-apiserver-client-key-file={layout.cert('client-ca.key')}",
        "--leader-elect=false",
        "--use-service-account-credentials=false",
        f"--bind-address={LOOPBACK}",
        "--secure-port=0",
    ]


def has_default_route(route_table: str) -> bool:
    """True when /proc/net/route (its text) has an IPv4 default route (destination 00000000)."""
    for line in route_table.splitlines()[1:]:
        fields = line.split()
        if len(fields) > 1 and fields[1] == "00000000":
            return True
    return False
