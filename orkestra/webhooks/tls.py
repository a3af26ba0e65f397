"""Serving TLS for the webhook listener: where the material comes from, and hot reload.

Three sources (docs/webhooks.md §2) share one small interface, `load() -> TlsBundle | None` (None =
unchanged since the last call):

* `SuppliedSource` reads `TLS_CERT`/`TLS_KEY` (and the caBundle file) and reports a change
  when their bytes change; the manager polls it every 60 s.
* `GeneratedSource` makes a CA and serving certificate in memory, once.
* `SecretSource` keeps the material in the `kubernetes.io/tls` Secret: reuse when valid,
  otherwise generate and create/update (a 409 on create means another replica won: read and
  use theirs); renewal inside 30 days of expiry with the previous CA kept in `ca.crt`; reload
  when the Secret's resourceVersion changes.

`TlsManager` turns the current bundle into an `ssl.SSLContext` (TLS >= 1.2) through PEM files in
a private 0700 directory under /tmp, removed at exit, and tells listeners (the webhook
controller) when the caBundle changed. Key material is never logged or repr'd.
"""
from __future__ import annotations

import atexit
import base64
import datetime as dt
import hashlib
import logging
import os
import shutil
import ssl
import tempfile
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from orkestra.gvk import GVR
from orkestra.webhooks import certs
from orkestra.webhooks.certs import ServingNames, TlsBundle
from orkestra.webhooks.plan import PROTECTION_LABEL

if TYPE_CHECKING:
    from orkestra.kube.client import KubeClient
    from orkestra.webhooks.switches import WebhookSettings

log = logging.getLogger("orkestra.webhooks")

SUPPLIED_CHECK_PERIOD = 60.0
RENEW_CHECK_PERIOD = 12 * 3600.0
SECRETS = GVR("", "v1", "secrets")
Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def in_cluster(account_dir: str) -> bool:
    """Whether a ServiceAccount token is mounted in `account_dir` (`Settings.service_account_dir`)."""
    return os.path.exists(os.path.join(account_dir, "token"))


class TlsSource(Protocol):
    period: float                         # seconds between load() calls after the first

    def load(self) -> TlsBundle | None: ...


class SuppliedSource:
    """TLS_CERT / TLS_KEY files; caBundle = TLS_CA, else ca.crt beside TLS_CERT, else TLS_CERT."""
    period = SUPPLIED_CHECK_PERIOD

    def __init__(self, cert: str, key: str, ca: str = "") -> None:
        self.cert, self.key, self.ca = cert, key, ca
        self._digest = ""

    def ca_path(self) -> str:
        beside = os.path.join(os.path.dirname(self.cert), "ca.crt")
        for candidate in (self.ca, beside):
            if candidate and os.path.exists(candidate):
                return candidate
        return self.cert

    def load(self) -> TlsBundle | None:
        with open(self.cert, "rb") as f:
            cert = f.read()
        with open(self.key, "rb") as f:
            key = f.read()
        with open(self.ca_path(), "rb") as f:
            ca = f.read()
        digest = hashlib.sha256(cert + b"\0" + key + b"\0" + ca).hexdigest()
        if digest == self._digest:
            return None
        self._digest = digest
        return TlsBundle(cert, key, ca)


class GeneratedSource:
    """A certificate made in memory at start (outside a cluster); never changes afterwards."""
    period = RENEW_CHECK_PERIOD

    def __init__(self, service: str, namespace: str, names: ServingNames, clock: Clock = utc_now) -> None:
        self.service, self.namespace, self.names, self.clock = service, namespace, names, clock
        self._done = False

    def load(self) -> TlsBundle | None:
        if self._done:
            return None
        self._done = True
        return certs.generate(self.service, self.namespace, self.names, self.clock())


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(value: Any) -> bytes:
    try:
        return base64.b64decode(str(value or ""), validate=True)
    except ValueError:
        return b""


class SecretSource:
    """Generated material shared by every replica through the TLS Secret."""

    def __init__(self, kube: KubeClient, *, namespace: str, secret_name: str, service: str, names: ServingNames,
                 resync: float, clock: Clock = utc_now) -> None:
        self.kube, self.namespace, self.secret_name = kube, namespace, secret_name
        self.service, self.names, self.clock = service, names, clock
        self.period = resync
        self._rv = ""
        self._last_renew_check: dt.datetime | None = None

    @staticmethod
    def _bundle(secret: dict) -> TlsBundle:
        data = secret.get("data") or {}
        return TlsBundle(_unb64(data.get("tls.crt")), _unb64(data.get("tls.key")), _unb64(data.get("ca.crt")))

    def _secret_body(self, bundle: TlsBundle, existing: dict | None) -> dict:
        meta: dict[str, Any] = {"name": self.secret_name, "namespace": self.namespace,
                                "labels": {**((existing or {}).get("metadata", {}).get("labels") or {}),
                                           "app.kubernetes.io/managed-by": "orkestra",
                                           PROTECTION_LABEL: "true"}}
        if existing:
            meta["resourceVersion"] = existing["metadata"]["resourceVersion"]
        return {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "type": "kubernetes.io/tls",
                "data": {"tls.crt": _b64(bundle.cert_pem), "tls.key": _b64(bundle.key_pem),
                         "ca.crt": _b64(bundle.ca_pem)}}

    def _write(self, bundle: TlsBundle, existing: dict | None) -> dict:
        body = self._secret_body(bundle, existing)
        try:
            if existing is None:
                return self.kube.create(SECRETS, body, namespace=self.namespace)
            return self.kube.replace(SECRETS, body, namespace=self.namespace)
        except Exception as e:
            if getattr(e, "status", None) != 409:
                raise
            log.info("tls secret written by another replica; using it", extra={"secret": self.secret_name})
            secret = self.kube.get(SECRETS, self.secret_name, namespace=self.namespace)
            if secret is None:
                raise
            return secret

    def load(self) -> TlsBundle | None:
        now = self.clock()
        secret = self.kube.get(SECRETS, self.secret_name, namespace=self.namespace)
        renew_due = self._last_renew_check is None or (now - self._last_renew_check).total_seconds() >= RENEW_CHECK_PERIOD
        if secret is not None and not renew_due and secret["metadata"].get("resourceVersion") == self._rv:
            return None
        problem: str | None = "the Secret does not exist"
        if secret is not None:
            problem = certs.reuse_problem(self._bundle(secret), self.names, now)
        if renew_due:
            self._last_renew_check = now
        if secret is None or problem is not None:     # (no Secret always has a problem)
            previous = self._bundle(secret).ca_pem if secret is not None else b""
            log.info("generating webhook certificate", extra={"secret": self.secret_name, "reason": problem})
            fresh = certs.generate(self.service, self.namespace, self.names, now, previous_ca_pem=previous)
            secret = self._write(fresh, secret)
        rv = secret.get("metadata", {}).get("resourceVersion", "")
        if rv == self._rv:
            return None
        self._rv = rv
        return self._bundle(secret)


class TlsManager:
    """The current SSL context and caBundle, refreshed from a `TlsSource`."""

    def __init__(self, source: TlsSource, *, tmp_root: str = "/tmp") -> None:
        self.source = source
        self._dir = tempfile.mkdtemp(prefix="orkestra-tls-", dir=tmp_root)
        os.chmod(self._dir, 0o700)
        atexit.register(self.close)
        self._lock = threading.Lock()
        self._context: ssl.SSLContext | None = None
        self._ca = b""
        self._listeners: list[Callable[[bytes], None]] = []
        self._generation = 0

    @property
    def directory(self) -> str:
        return self._dir

    def start(self) -> None:
        """First load; raises when no material can be had (a start-up error)."""
        bundle = self.source.load()
        if bundle is None:
            raise RuntimeError("no TLS material")
        self._install(bundle)

    def refresh(self) -> bool:
        """Poll the source; install and announce new material. Never raises."""
        try:
            bundle = self.source.load()
        except Exception as e:
            log.warning("tls refresh failed", extra={"error": str(e)})
            return False
        if bundle is None:
            return False
        try:
            self._install(bundle)
        except (ssl.SSLError, OSError, ValueError) as e:
            log.warning("tls certificate not reloaded: the new files do not form a valid pair",
                        extra={"error": type(e).__name__})
            return False
        log.info("tls certificate reloaded")
        for listener in list(self._listeners):
            listener(self._ca)
        return True

    def _install(self, bundle: TlsBundle) -> None:
        self._generation += 1
        cert_path = os.path.join(self._dir, f"tls-{self._generation}.crt")
        key_path = os.path.join(self._dir, f"tls-{self._generation}.key")
        for path, data in ((cert_path, bundle.cert_pem), (key_path, bundle.key_pem)):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        try:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            ctx.load_cert_chain(cert_path, key_path)
        finally:
            for path in (cert_path, key_path):
                os.unlink(path)
        with self._lock:
            self._context, self._ca = ctx, bundle.ca_pem

    def context(self) -> ssl.SSLContext:
        with self._lock:
            if self._context is None:
                raise RuntimeError("TLS not started")
            return self._context

    def ca_bundle(self) -> bytes:
        with self._lock:
            return self._ca

    def on_change(self, listener: Callable[[bytes], None]) -> None:
        self._listeners.append(listener)

    def close(self) -> None:
        shutil.rmtree(self._dir, ignore_errors=True)


def make_source(settings: WebhookSettings, *, service: str, kube: KubeClient | None = None, cluster: bool | None = None,
                clock: Clock = utc_now) -> TlsSource:
    """The source docs/webhooks.md §2 prescribes for these settings (`WebhookSettings`)."""
    if settings.tls_cert:
        return SuppliedSource(settings.tls_cert, settings.tls_key, settings.tls_ca)
    names = certs.required_names(service, settings.namespace, settings.webhook_url)
    if (in_cluster(settings.service_account_dir) if cluster is None else cluster) and kube is not None:
        return SecretSource(kube, namespace=settings.namespace, secret_name=settings.tls_secret_name,
                            service=service, names=names, resync=settings.resync, clock=clock)
    return GeneratedSource(service, settings.namespace, names, clock)
