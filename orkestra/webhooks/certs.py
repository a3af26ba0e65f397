"""Generated webhook certificates (docs/webhooks.md §2), with the `cryptography` package.

Pure functions over PEM bytes: make a CA and a serving certificate with the spec's key type,
lifetimes, extensions and SANs; and decide whether existing material can be reused (it parses,
the key matches, the SANs cover the required names, and it expires more than 30 days from
now). The clock is a parameter, so renewal decisions are tested without waiting a year.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_CN = "orkestra-webhook-ca"
CA_LIFETIME = dt.timedelta(days=3650)
SERVING_LIFETIME = dt.timedelta(days=365)
RENEW_BEFORE = dt.timedelta(days=30)


@dataclass(frozen=True)
class TlsBundle:
    """PEM material: the serving pair, the CA key (generated material only) and `ca.crt`."""
    cert_pem: bytes
    key_pem: bytes
    ca_pem: bytes                # the caBundle: the current CA, possibly followed by the previous one
    ca_key_pem: bytes = b""

    def __repr__(self) -> str:   # never print key material
        return f"TlsBundle(expires={not_after(self.cert_pem).isoformat()})"


@dataclass(frozen=True)
class ServingNames:
    dns: tuple[str, ...]
    ips: tuple[str, ...]


def required_names(service: str, namespace: str, webhook_url: str = "") -> ServingNames:
    """The SANs of docs/webhooks.md §2, plus the host of ORK_WEBHOOK_URL when set."""
    dns = [service, f"{service}.{namespace}", f"{service}.{namespace}.svc",
           f"{service}.{namespace}.svc.cluster.local", "localhost"]
    ips = ["127.0.0.1"]
    host = urlsplit(webhook_url).hostname if webhook_url else None
    if host:
        try:
            ip = str(ipaddress.ip_address(host))
            if ip not in ips:
                ips.append(ip)
        except ValueError:
            if host not in dns:
                dns.append(host)
    return ServingNames(tuple(dns), tuple(ips))


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def generate(service: str, namespace: str, names: ServingNames, now: dt.datetime,
             previous_ca_pem: bytes = b"") -> TlsBundle:
    """A fresh CA and serving certificate; `previous_ca_pem` is appended to `ca.crt` (rotation)."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    start = now - dt.timedelta(minutes=5)   # tolerate small clock skew between us and the API server
    ca_cert = (x509.CertificateBuilder()
               .subject_name(_name(CA_CN)).issuer_name(_name(CA_CN))
               .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(start).not_valid_after(now + CA_LIFETIME)
               .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                            key_encipherment=False, data_encipherment=False,
                                            key_agreement=False, key_cert_sign=True, crl_sign=True,
                                            encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
               .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in names.dns]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in names.ips]
    cert = (x509.CertificateBuilder()
            .subject_name(_name(f"{service}.{namespace}.svc")).issuer_name(ca_cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(now + SERVING_LIFETIME)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    ca_pem = ca_cert.public_bytes(serialization.Encoding.PEM)
    previous = first_certificate(previous_ca_pem)
    if previous and previous != ca_pem:
        ca_pem += previous
    return TlsBundle(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key), ca_pem, _key_pem(ca_key))


def first_certificate(pem: bytes) -> bytes:
    """The first PEM certificate of a bundle (b"" when there is none or it does not parse)."""
    try:
        certs = x509.load_pem_x509_certificates(pem) if pem else []
    except ValueError:
        return b""
    return certs[0].public_bytes(serialization.Encoding.PEM) if certs else b""


def not_after(cert_pem: bytes) -> dt.datetime:
    return x509.load_pem_x509_certificate(cert_pem).not_valid_after_utc


def _public_der(public_key: PublicKeyTypes) -> bytes:
    """The key's SubjectPublicKeyInfo: comparable for every key type a Secret may hold (an
    Ed25519 key has no `public_numbers`)."""
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def reuse_problem(bundle: TlsBundle, names: ServingNames, now: dt.datetime) -> str | None:
    """Why this material cannot be reused (None when it can): parse, key match, SANs, expiry."""
    try:
        cert = x509.load_pem_x509_certificate(bundle.cert_pem)
        key = serialization.load_pem_private_key(bundle.key_pem, password=None)
        x509.load_pem_x509_certificates(bundle.ca_pem)
    except (ValueError, TypeError):
        return "the certificate, key or CA does not parse"
    if _public_der(key.public_key()) != _public_der(cert.public_key()):
        return "the key does not match the certificate"
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return "the certificate has no subjectAltName"
    have_dns = set(san.get_values_for_type(x509.DNSName))
    have_ips = {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}
    missing = [n for n in names.dns if n not in have_dns] + [ip for ip in names.ips if ip not in have_ips]
    if missing:
        return "the certificate does not cover " + ", ".join(missing)
    if cert.not_valid_after_utc - now <= RENEW_BEFORE:
        return "the certificate expires within 30 days"
    return None
