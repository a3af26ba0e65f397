"""In-cluster configuration as a pod gets it: the mounted ServiceAccount files and
KUBERNETES_SERVICE_HOST/PORT (the mount is simulated in a temp dir via ORK_SERVICE_ACCOUNT_DIR)."""
import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from orkestra.config import Settings
from orkestra.kube.client import SERVICE_ACCOUNT_DIR, KubeClient, KubeConfigError
from orkestra.kube.kubeconfig import TokenFile


def from_pod_env() -> KubeClient:
    """The client as `ork run` builds it: the account directory and the service address from the settings."""
    settings = Settings.from_env()
    return KubeClient.from_config(settings.kubeconfig or None, account_dir=settings.service_account_dir,
                                  service_host=settings.service_host, service_port=settings.service_port)


def ca_pem() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "test-ca")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture
def pod(tmp_path, monkeypatch):
    account = tmp_path / "serviceaccount"
    account.mkdir()
    (account / "token").write_text("sa-token-123")
    (account / "ca.crt").write_bytes(ca_pem())
    (account / "namespace").write_text("orkestra-system")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))          # no ~/.kube/config
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("ORK_SERVICE_ACCOUNT_DIR", str(account))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    return account


def test_the_standard_mount_is_the_default(monkeypatch):
    monkeypatch.delenv("ORK_SERVICE_ACCOUNT_DIR", raising=False)
    assert Settings.from_env().service_account_dir == SERVICE_ACCOUNT_DIR == "/var/run/secrets/kubernetes.io/serviceaccount"


def test_without_a_kubeconfig_the_mounted_service_account_is_used(pod):
    kube = from_pod_env()
    assert kube.server == "https://10.96.0.1:443"
    assert not kube.is_loopback
    assert kube.access.credentials.authorization() == "Bearer sa-token-123"
    assert kube.access.tls.ca_file == str(pod / "ca.crt") and kube.access.tls.verify


def test_the_rotated_token_is_read_again_after_a_minute(pod):
    now = [0.0]
    source = TokenFile(str(pod / "token"), clock=lambda: now[0])
    assert source.authorization() == "Bearer sa-token-123"
    (pod / "token").write_text("sa-token-456")
    now[0] = 59.0
    assert source.authorization() == "Bearer sa-token-123"
    now[0] = 61.0
    assert source.authorization() == "Bearer sa-token-456"
    (pod / "token").unlink()                      # mid-rotation: the last token is kept
    now[0] = 200.0
    assert source.authorization() == "Bearer sa-token-456"


def test_a_401_makes_the_token_file_read_again_at_once(pod):
    source = TokenFile(str(pod / "token"), clock=lambda: 5.0)
    source.authorization()
    (pod / "token").write_text("sa-token-456")
    assert source.expire() and source.authorization() == "Bearer sa-token-456"


def test_the_hooks_api_client_carries_the_service_account_token(pod):
    cfg = from_pod_env().api_client.configuration
    assert cfg.get_api_key_with_prefix("BearerToken", alias="authorization") == "Bearer sa-token-123"


def test_missing_service_host_is_a_clear_error(pod, monkeypatch):
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST")
    with pytest.raises(KubeConfigError) as err:
        from_pod_env()
    assert str(err.value).startswith("cannot load in-cluster configuration: ")
    assert "sa-token-123" not in str(err.value)


def test_service_account_dir_reads_a_given_environment():
    assert Settings.from_env({"ORK_SERVICE_ACCOUNT_DIR": "/mnt/sa"}).service_account_dir == "/mnt/sa"
    assert Settings.from_env({"ORK_SERVICE_ACCOUNT_DIR": ""}).service_account_dir == SERVICE_ACCOUNT_DIR
