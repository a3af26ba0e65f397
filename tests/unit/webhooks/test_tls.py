"""Certificates, TLS sources and the TLS manager (docs/webhooks.md §2)."""
from __future__ import annotations

import datetime as dt
import os
import stat

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID

from orkestra.webhooks import certs
from orkestra.webhooks.tls import GeneratedSource, SecretSource, SuppliedSource, TlsManager, make_source
from orkestra.webhooks.switches import WebhookSettings

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.timezone.utc)
NAMES = certs.required_names("orkestra", "orkestra-system", "https://webhooks.example.com:9443")


def test_required_names():
    assert NAMES.dns == ("orkestra", "orkestra.orkestra-system", "orkestra.orkestra-system.svc",
                         "orkestra.orkestra-system.svc.cluster.local", "localhost", "webhooks.example.com")
    assert NAMES.ips == ("127.0.0.1",)
    assert certs.required_names("s", "n", "https://10.1.2.3:8443").ips == ("127.0.0.1", "10.1.2.3")


def test_generated_ca_and_serving_certificate():
    bundle = certs.generate("orkestra", "orkestra-system", NAMES, NOW)
    ca = x509.load_pem_x509_certificate(bundle.ca_pem)
    cert = x509.load_pem_x509_certificate(bundle.cert_pem)
    assert ca.subject.rfc4514_string() == "CN=orkestra-webhook-ca"
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    usage = ca.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign and usage.crl_sign
    assert ca.not_valid_after_utc == NOW + dt.timedelta(days=3650)
    assert cert.subject.rfc4514_string() == "CN=orkestra.orkestra-system.svc"
    assert cert.issuer == ca.subject and cert.not_valid_after_utc == NOW + dt.timedelta(days=365)
    assert cert.public_key().curve.name == "secp256r1"
    assert cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value == x509.ExtendedKeyUsage(
        [ExtendedKeyUsageOID.SERVER_AUTH])
    cert.verify_directly_issued_by(ca)
    assert certs.reuse_problem(bundle, NAMES, NOW) is None
    assert "key material" not in repr(bundle) and b"PRIVATE" not in repr(bundle).encode()


def test_reuse_rules():
    bundle = certs.generate("orkestra", "ns", certs.required_names("orkestra", "ns"), NOW)
    assert certs.reuse_problem(bundle, NAMES, NOW).startswith("the certificate does not cover orkestra.orkestra-system")
    names = certs.required_names("orkestra", "ns")
    assert certs.reuse_problem(bundle, names, NOW + dt.timedelta(days=336)) == "the certificate expires within 30 days"
    other = certs.generate("orkestra", "ns", names, NOW)
    mixed = certs.TlsBundle(bundle.cert_pem, other.key_pem, bundle.ca_pem)
    assert certs.reuse_problem(mixed, names, NOW) == "the key does not match the certificate"
    assert certs.reuse_problem(certs.TlsBundle(b"x", b"y", b"z"), names, NOW) == (
        "the certificate, key or CA does not parse")


def test_reuse_refuses_a_key_of_another_type():
    """A supplied Secret may hold any key type: an Ed25519 key beside an EC certificate is a
    mismatch to report, not an AttributeError (it has no `public_numbers`)."""
    names = certs.required_names("orkestra", "ns")
    bundle = certs.generate("orkestra", "ns", names, NOW)
    ed_pem = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    mixed = certs.TlsBundle(bundle.cert_pem, ed_pem, bundle.ca_pem)
    assert certs.reuse_problem(mixed, names, NOW) == "the key does not match the certificate"


def write(path, data):
    path.write_bytes(data)
    return str(path)


def test_supplied_files_ca_bundle_order_and_change_detection(tmp_path):
    b = certs.generate("s", "n", certs.required_names("s", "n"), NOW)
    cert, key = write(tmp_path / "tls.crt", b.cert_pem), write(tmp_path / "tls.key", b.key_pem)
    src = SuppliedSource(cert, key)
    assert src.load().ca_pem == b.cert_pem            # neither TLS_CA nor ca.crt: the cert itself
    assert src.load() is None                         # unchanged
    write(tmp_path / "ca.crt", b.ca_pem)
    assert src.load().ca_pem == b.ca_pem              # ca.crt beside TLS_CERT
    explicit = write(tmp_path / "bundle.pem", b.ca_pem + b.ca_pem)
    assert SuppliedSource(cert, key, explicit).load().ca_pem == b.ca_pem + b.ca_pem


class FakeSecrets:
    """The few Secret calls SecretSource makes, kept in memory, with optional 409 on create."""

    def __init__(self, race_with=None):
        self.secret = None
        self.race_with = race_with
        self.rv = 0
        self.writes = 0

    def get(self, gvr, name, namespace=None):
        return self.secret

    def _store(self, body):
        self.rv += 1
        self.writes += 1
        self.secret = {**body, "metadata": {**body["metadata"], "resourceVersion": str(self.rv)}}
        return self.secret

    def create(self, gvr, body, namespace=None):
        if self.race_with is not None:
            self._store(self.race_with)
            self.race_with = None
            err = RuntimeError("conflict")
            err.status = 409
            raise err
        return self._store(body)

    def replace(self, gvr, body, namespace=None):
        assert body["metadata"]["resourceVersion"] == self.secret["metadata"]["resourceVersion"]
        return self._store(body)


def secret_source(kube, clock):
    return SecretSource(kube, namespace="orkestra-system", secret_name="orkestra-webhook-tls", service="orkestra",
                        names=certs.required_names("orkestra", "orkestra-system"), resync=30, clock=clock)


def test_secret_is_created_then_reused(tmp_path):
    kube = FakeSecrets()
    first = secret_source(kube, lambda: NOW).load()
    assert kube.secret["type"] == "kubernetes.io/tls"
    assert set(kube.secret["data"]) == {"tls.crt", "tls.key", "ca.crt"}
    assert kube.secret["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "orkestra",
                                                  "orkestra.io/deletion-protection": "true"}
    again = secret_source(kube, lambda: NOW + dt.timedelta(days=10)).load()   # another replica, later
    assert again.cert_pem == first.cert_pem and kube.writes == 1


def test_create_race_uses_the_winner():
    winner_bundle = certs.generate("orkestra", "orkestra-system", certs.required_names("orkestra", "orkestra-system"), NOW)
    loser = secret_source(FakeSecrets(), lambda: NOW)
    winner_secret = loser._secret_body(winner_bundle, None)
    kube = FakeSecrets(race_with=winner_secret)
    got = secret_source(kube, lambda: NOW).load()
    assert got.cert_pem == winner_bundle.cert_pem


def test_renewal_keeps_the_previous_ca_until_the_next_rotation():
    kube = FakeSecrets()
    now = [NOW]
    src = secret_source(kube, lambda: now[0])
    first = src.load()
    now[0] = NOW + dt.timedelta(days=340)            # inside 30 days of the 1-year expiry
    src._last_renew_check = NOW                       # the 12 h renewal tick is due
    second = src.load()
    assert second is not None and second.cert_pem != first.cert_pem
    cas = x509.load_pem_x509_certificates(second.ca_pem)
    assert len(cas) == 2 and cas[1] == x509.load_pem_x509_certificate(first.ca_pem)
    now[0] = NOW + dt.timedelta(days=700)
    src._last_renew_check = NOW
    third = src.load()
    cas3 = x509.load_pem_x509_certificates(third.ca_pem)
    assert len(cas3) == 2 and cas3[1] == cas[0]       # the oldest CA is dropped


def test_secret_source_reloads_only_when_the_resource_version_changes():
    kube = FakeSecrets()
    src = secret_source(kube, lambda: NOW)
    assert src.load() is not None
    assert src.load() is None
    kube.secret = {**kube.secret, "metadata": {**kube.secret["metadata"], "resourceVersion": "99"}}
    assert src.load() is not None


def test_manager_private_directory_and_reload(tmp_path):
    b1 = certs.generate("s", "n", certs.required_names("s", "n"), NOW)
    cert, key = write(tmp_path / "tls.crt", b1.cert_pem), write(tmp_path / "tls.key", b1.key_pem)
    mgr = TlsManager(SuppliedSource(cert, key), tmp_root=str(tmp_path))
    assert stat.S_IMODE(os.stat(mgr.directory).st_mode) == 0o700
    mgr.start()
    seen = []
    mgr.on_change(seen.append)
    assert mgr.refresh() is False and seen == []
    b2 = certs.generate("s", "n", certs.required_names("s", "n"), NOW)
    write(tmp_path / "tls.crt", b2.cert_pem)
    write(tmp_path / "tls.key", b2.key_pem)
    assert mgr.refresh() is True and seen == [b2.cert_pem]
    write(tmp_path / "tls.key", b1.key_pem)           # a mismatched pair is refused, old context kept
    assert mgr.refresh() is False and len(seen) == 1
    mgr.close()
    assert not os.path.exists(mgr.directory)


def test_make_source_choice():
    assert isinstance(make_source(WebhookSettings(tls_cert="a", tls_key="b"), service="s"), SuppliedSource)
    assert isinstance(make_source(WebhookSettings(), service="s", cluster=False), GeneratedSource)
    assert isinstance(make_source(WebhookSettings(), service="s", kube=object(), cluster=True), SecretSource)


def test_make_source_names_follow_the_settings():
    src = make_source(WebhookSettings(namespace="ns", webhook_url="https://hooks.local:1"), service="svc",
                      cluster=False)
    assert "hooks.local" in src.names.dns and "svc.ns.svc" in src.names.dns


def test_in_cluster_looks_for_the_token_in_the_service_account_dir(tmp_path):
    """The same directory as the client's in-cluster config (ORK_SERVICE_ACCOUNT_DIR), not a fixed path."""
    from orkestra.config import Settings
    from orkestra.webhooks.tls import in_cluster

    def account_dir(env):
        return WebhookSettings.from_settings(Settings.from_env(env)).service_account_dir
    env = {"ORK_SERVICE_ACCOUNT_DIR": str(tmp_path)}
    assert in_cluster(account_dir(env)) is False
    (tmp_path / "token").write_text("t")
    assert in_cluster(account_dir(env)) is True
    assert in_cluster(account_dir({"ORK_SERVICE_ACCOUNT_DIR": str(tmp_path / "elsewhere")})) is False
