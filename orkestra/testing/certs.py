"""Certificates for the local control plane, made with `cryptography` (no openssl, no cfssl).

Two CAs, as on a real cluster: the *serving* CA signs kube-apiserver's TLS certificate (SANs
`localhost` and `127.0.0.1`), and a separate *client* CA signs the client certificates that
kube-apiserver trusts for authentication. Keeping them apart means a client certificate can never
pass as a server one. The service-account key pair signs and verifies ServiceAccount tokens.
Keys are EC P-256: fast to generate on a small machine, and accepted by every component.
Everything is returned as PEM bytes; writing files is the caller's job.
"""
from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_VALIDITY = datetime.timedelta(days=365)
_CLOCK_SKEW = datetime.timedelta(minutes=5)


@dataclass(frozen=True)
class KeyPair:
    """A certificate and its private key, both PEM."""

    cert_pem: bytes
    key_pem: bytes


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _name(common_name: str, organizations: tuple[str, ...] = ()) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org) for org in organizations]
    return x509.Name([*attrs, x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _builder(subject: x509.Name, issuer: x509.Name, public_key, now: datetime.datetime) -> x509.CertificateBuilder:
    return (x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _CLOCK_SKEW)
            .not_valid_after(now + _VALIDITY))


def make_ca(common_name: str, *, now: datetime.datetime | None = None) -> KeyPair:
    """A self-signed CA certificate."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    key = _new_key()
    name = _name(common_name)
    cert = (_builder(name, name, key.public_key(), now)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return KeyPair(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))


def _leaf(ca: KeyPair, subject: x509.Name, usages: list[x509.ObjectIdentifier],
          sans: list[x509.GeneralName], now: datetime.datetime | None) -> KeyPair:
    now = now or datetime.datetime.now(datetime.timezone.utc)
    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem)
    ca_key = serialization.load_pem_private_key(ca.key_pem, password=None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise TypeError("the CA key is not the EC key this module generates")
    key = _new_key()
    builder = (_builder(subject, ca_cert.subject, key.public_key(), now)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=False,
                                            content_commitment=False, data_encipherment=False,
                                            key_agreement=False, key_cert_sign=False, crl_sign=False,
                                            encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                              critical=False))
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    return KeyPair(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))


def make_serving_cert(ca: KeyPair, *, hosts: tuple[str, ...] = ("localhost", "127.0.0.1"),
                      client_too: bool = False, now: datetime.datetime | None = None) -> KeyPair:
    """A TLS server certificate for `hosts` (DNS names or IP addresses), signed by `ca`.

    `client_too` adds client authentication (etcd presents the same certificate to its peers)."""
    sans: list[x509.GeneralName] = []
    for host in hosts:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            sans.append(x509.DNSName(host))
    usages = [ExtendedKeyUsageOID.SERVER_AUTH] + ([ExtendedKeyUsageOID.CLIENT_AUTH] if client_too else [])
    return _leaf(ca, _name(hosts[0]), usages, sans, now)


def make_client_cert(ca: KeyPair, user: str, groups: tuple[str, ...] = (), *,
                     now: datetime.datetime | None = None) -> KeyPair:
    """A client certificate: kube-apiserver reads the user from CN and the groups from O."""
    return _leaf(ca, _name(user, groups), [ExtendedKeyUsageOID.CLIENT_AUTH], [], now)


def make_client_csr(user: str, groups: tuple[str, ...] = ()) -> tuple[bytes, bytes]:
    """(CSR PEM, private key PEM) asking for a client certificate for `user` in `groups`."""
    key = _new_key()
    csr = x509.CertificateSigningRequestBuilder().subject_name(_name(user, groups)).sign(key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM), _key_pem(key)


@dataclass(frozen=True)
class SigningKeys:
    """A bare key pair (no certificate), both PEM."""

    public_pem: bytes
    private_pem: bytes


def make_service_account_keys() -> SigningKeys:
    """The key pair kube-apiserver signs ServiceAccount tokens with."""
    key = _new_key()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return SigningKeys(public, _key_pem(key))
