"""Pieces of the CSR user path that need no cluster, and reading a kubeconfig's cluster."""
from cryptography import x509
from cryptography.x509.oid import NameOID

from orkestra.testing import certs
from orkestra.testing.kubeconfig import client_kubeconfig, read_cluster


def test_csr_names_the_user_and_groups():
    csr_pem, key_pem = certs.make_client_csr("bob", ("devs", "ops"))
    csr = x509.load_pem_x509_csr(csr_pem)
    assert csr.is_signature_valid
    assert [a.value for a in csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)] == ["bob"]
    assert [a.value for a in csr.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)] == ["devs", "ops"]
    assert key_pem.startswith(b"-----BEGIN PRIVATE KEY-----")


def test_cluster_server_and_ca_come_from_the_current_context(tmp_path):
    path = tmp_path / "admin.kubeconfig"
    path.write_text(client_kubeconfig(server="https://127.0.0.1:7443", ca_pem=b"THE CA", user="admin",
                                      cert_pem=b"C", key_pem=b"K"))
    assert read_cluster(path) == ("https://127.0.0.1:7443", b"THE CA")


def test_cluster_ca_may_be_a_file(tmp_path):
    ca = tmp_path / "ca.crt"
    ca.write_bytes(b"FILE CA")
    path = tmp_path / "kubeconfig"
    path.write_text(f"""
apiVersion: v1
kind: Config
current-context: b
contexts: [{{name: a, context: {{cluster: one, user: u}}}}, {{name: b, context: {{cluster: two, user: u}}}}]
clusters:
- {{name: one, cluster: {{server: "https://one:1"}}}}
- {{name: two, cluster: {{server: "https://two:2", certificate-authority: {ca}}}}}
users: [{{name: u, user: {{}}}}]
""")
    assert read_cluster(path) == ("https://two:2", b"FILE CA")
