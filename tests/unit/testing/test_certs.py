"""The CAs and certificates kube-apiserver and its clients need."""
import datetime
import ipaddress

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from orkestra.testing import certs

NOW = datetime.datetime(2026, 11, 24, 7, 0, tzinfo=datetime.timezone.utc)


def load(pem: bytes) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem)


def test_ca_is_a_self_signed_ca():
    ca = load(certs.make_ca("test-ca", now=NOW).cert_pem)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    assert ca.subject == ca.issuer
    ca.verify_directly_issued_by(ca)
    assert ca.not_valid_before_utc < NOW < ca.not_valid_after_utc


def test_serving_cert_covers_localhost_and_loopback_and_is_signed_by_the_ca():
    ca_pair = certs.make_ca("serving-ca", now=NOW)
    cert = load(certs.make_serving_cert(ca_pair, now=NOW).cert_pem)
    cert.verify_directly_issued_by(load(ca_pair.cert_pem))
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["localhost"]
    assert sans.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False


def test_client_cert_carries_user_in_cn_and_groups_in_o():
    ca_pair = certs.make_ca("client-ca", now=NOW)
    cert = load(certs.make_client_cert(ca_pair, "admin", ("system:masters", "devs"), now=NOW).cert_pem)
    cert.verify_directly_issued_by(load(ca_pair.cert_pem))
    assert [a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)] == ["admin"]
    assert [a.value for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)] == [
        "system:masters", "devs"]
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]


def test_a_cert_does_not_verify_against_another_ca_of_the_same_name():
    signer = certs.make_ca("ca", now=NOW)
    impostor = certs.make_ca("ca", now=NOW)
    cert = load(certs.make_client_cert(signer, "someone", now=NOW).cert_pem)
    with pytest.raises(InvalidSignature):
        cert.verify_directly_issued_by(load(impostor.cert_pem))


def test_leaf_key_matches_its_certificate():
    pair = certs.make_serving_cert(certs.make_ca("ca", now=NOW), now=NOW)
    key = serialization.load_pem_private_key(pair.key_pem, password=None)
    assert key.public_key().public_numbers() == load(pair.cert_pem).public_key().public_numbers()


def test_service_account_keys_are_a_matching_pair():
    keys = certs.make_service_account_keys()
    private = serialization.load_pem_private_key(keys.private_pem, password=None)
    public = serialization.load_pem_public_key(keys.public_pem)
    assert private.public_key().public_numbers() == public.public_numbers()
