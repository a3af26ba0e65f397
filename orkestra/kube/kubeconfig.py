"""Where the API server is and how to prove who we are: kubeconfig files and the in-cluster
ServiceAccount, read into a `ClusterAccess` (docs/operating.md).

Our own reader rather than `kubernetes.config`: importing anything from the `kubernetes` package
loads every generated model class (~30 MB of RSS in the worker that runs the engine), and all the
client needs is a server URL, TLS material and an `Authorization` header.

Supported: KUBECONFIG with several files merged as kubectl merges them (the first file that sets
a key or names an entry wins; relative paths resolve against the file that holds them), the
current or an explicit context, CA / client certificate / key as files or inline data,
insecure-skip-tls-verify, tls-server-name, proxy-url, token, tokenFile (re-read every minute, as
it may rotate), username/password, and exec credential plugins (client.authentication.k8s.io v1
and v1beta1, cached until their expirationTimestamp). The deprecated `auth-provider` plugins and
impersonation are refused with a clear error rather than ignored.

Secrets (tokens, keys, a plugin's output) never appear in an error message or a log line.
"""
from __future__ import annotations

import base64
import binascii
import contextlib
import datetime as dt
import json
import os
import signal
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import certifi
import yaml

from orkestra.errors import OrkestraError

TOKEN_REREAD_SECONDS = 60.0  # a rotated ServiceAccount token is picked up within a minute
EXEC_TIMEOUT_SECONDS = 30.0
EXEC_EXPIRY_MARGIN_SECONDS = 10.0  # re-run a plugin slightly before its credential expires
EXEC_MIN_CACHE_SECONDS = 10.0  # a credential is kept at least this long, whatever its expiry says
EXEC_RETRY_AFTER_FAILURE_SECONDS = 10.0  # a failed run is not repeated sooner
EXEC_RERUN_AFTER_401_SECONDS = 10.0  # 401s within this of a re-run reported the credential it replaced
EXEC_API_VERSIONS = ("client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1")


class KubeConfigError(OrkestraError):
    """The kubeconfig (or in-cluster configuration) cannot be used."""


class CredentialError(OrkestraError):
    """Credentials that loaded fine could not be produced later (a failing exec plugin, a token
    file that disappeared before it was ever read)."""


class Credentials(Protocol):
    """How requests prove who we are; thread-safe."""

    def authorization(self) -> str | None:
        """The `Authorization` header value, or None (certificate users, anonymous)."""
        ...

    def client_certificate(self) -> tuple[bytes, bytes] | None:
        """(certificate PEM, key PEM) obtained at run time (exec plugins), else None."""
        ...

    def expire(self) -> bool:
        """Forget what is cached (the server answered 401); True if asking again may help."""
        ...


class NoCredentials:
    def authorization(self) -> str | None:
        return None

    def client_certificate(self) -> tuple[bytes, bytes] | None:
        return None

    def expire(self) -> bool:
        return False


@dataclass(frozen=True, repr=False)
class StaticHeader(NoCredentials):
    """A token or username/password written in the kubeconfig."""

    header: str

    def authorization(self) -> str | None:
        return self.header


class TokenFile(NoCredentials):
    """A bearer token read from a file and re-read every minute (ServiceAccount tokens rotate)."""

    def __init__(self, path: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.path = path
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._read_at = 0.0

    def authorization(self) -> str | None:
        with self._lock:
            if self._token is None or self._clock() - self._read_at >= TOKEN_REREAD_SECONDS:
                try:
                    self._token = self._read()
                except CredentialError:
                    if self._token is None:
                        raise
                    # Keep the previous token: a rotation in progress must not fail requests.
                self._read_at = self._clock()
            return f"Bearer {self._token}"

    def _read(self) -> str:
        try:
            with open(self.path, encoding="utf-8") as f:
                token = f.read().strip()
        except OSError as exc:
            raise CredentialError(f"cannot read token file {self.path}: {exc.strerror}") from None
        if not token:
            raise CredentialError(f"token file {self.path} is empty")
        return _header_safe(token, f"the token in {self.path}")

    def expire(self) -> bool:
        with self._lock:
            self._read_at = -TOKEN_REREAD_SECONDS  # re-read on next use, keep it if unreadable
        return True


class ExecPlugin(NoCredentials):
    """A client-go credential plugin: runs `command` and reads the ExecCredential it prints.

    The result is cached until its `expirationTimestamp` (forever without one) and fetched again
    on a 401, at most once per EXEC_RERUN_AFTER_401_SECONDS: requests in flight with the old
    credential report their 401s after the first one already replaced it, and a server that
    rejects everything must not cost a plugin run per request. Likewise a failure is answered
    again for EXEC_RETRY_AFTER_FAILURE_SECONDS without running the plugin. The plugin never gets
    a terminal: one that insists on `interactiveMode: Always` is refused at load time.
    """

    def __init__(self, spec: Mapping[str, Any], *, base_dir: str, cluster: Mapping[str, Any] | None,
                 clock: Callable[[], float] = time.time) -> None:
        self.api_version = spec["apiVersion"]
        command = str(spec["command"])
        # kubectl resolves a relative command with a path separator against the kubeconfig's dir.
        if os.sep in command and not os.path.isabs(command):
            command = os.path.join(base_dir, command)
        self.argv = [command, *(str(a) for a in spec.get("args") or [])]
        self.env = {str(e["name"]): str(e["value"]) for e in spec.get("env") or []}
        self.install_hint = spec.get("installHint") or ""
        self._cluster = cluster
        self._clock = clock
        self._lock = threading.Lock()
        self._status: dict | None = None
        self._expires: float | None = None
        self._expired_at: float | None = None
        self._failed: tuple[float, str] | None = None  # (when, message) of the last failed run

    def _current(self) -> dict:
        with self._lock:
            if self._status is None or (
                    self._expires is not None and self._clock() >= self._expires - EXEC_EXPIRY_MARGIN_SECONDS):
                if self._failed is not None and self._clock() - self._failed[0] < EXEC_RETRY_AFTER_FAILURE_SECONDS:
                    raise CredentialError(self._failed[1])
                try:
                    self._status, expires = self._run()
                except CredentialError as exc:
                    self._failed = (self._clock(), str(exc))
                    raise
                self._failed = None
                # Used for a while even if it looks expired already (our clock ahead of the
                # issuer's): otherwise every request would run the plugin again.
                self._expires = None if expires is None else max(
                    expires, self._clock() + EXEC_EXPIRY_MARGIN_SECONDS + EXEC_MIN_CACHE_SECONDS)
            return self._status

    def _run(self) -> tuple[dict, float | None]:
        name = os.path.basename(self.argv[0])
        info: dict[str, Any] = {"apiVersion": self.api_version, "kind": "ExecCredential",
                                "spec": {"interactive": False}}
        if self._cluster is not None:
            info["spec"]["cluster"] = self._cluster
        env = {**os.environ, **self.env, "KUBERNETES_EXEC_INFO": json.dumps(info)}
        try:
            # A session of its own: no terminal to prompt on, and on a timeout the whole process
            # group goes, helpers it started included.
            proc = subprocess.Popen(self.argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, start_new_session=True)
        except FileNotFoundError:
            hint = f" ({self.install_hint.strip()})" if self.install_hint.strip() else ""
            raise CredentialError(f"exec plugin {self.argv[0]} not found{hint}") from None
        except OSError as exc:
            raise CredentialError(f"exec plugin {name} could not run: {exc.strerror or type(exc).__name__}") from None
        with proc:
            try:
                stdout, stderr = proc.communicate(timeout=EXEC_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:  # its own message lists the arguments, which may be secret
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                raise CredentialError(f"exec plugin {name} timed out after {EXEC_TIMEOUT_SECONDS:g} s") from None
        if proc.returncode != 0:
            # stderr is the plugin's message to humans; stdout may hold a credential and is never shown.
            err = stderr.decode(errors="replace").strip()[-300:]
            raise CredentialError(f"exec plugin {name} exited with {proc.returncode}" + (f": {err}" if err else ""))
        try:
            cred = json.loads(stdout)
        except ValueError:
            raise CredentialError(f"exec plugin {name} did not print an ExecCredential (not JSON)") from None
        return _exec_status(cred, name, self.api_version)

    def authorization(self) -> str | None:
        token = self._current().get("token")
        return f"Bearer {token}" if token else None

    def client_certificate(self) -> tuple[bytes, bytes] | None:
        status = self._current()
        cert, key = status.get("clientCertificateData"), status.get("clientKeyData")
        return (cert.encode(), key.encode()) if cert and key else None

    def expire(self) -> bool:
        with self._lock:
            now = self._clock()
            if self._expired_at is None or now - self._expired_at >= EXEC_RERUN_AFTER_401_SECONDS:
                self._status, self._expired_at = None, now
        return True


def _exec_status(cred: Any, name: str, api_version: str) -> tuple[dict, float | None]:
    if not isinstance(cred, dict) or cred.get("kind") != "ExecCredential":
        raise CredentialError(f"exec plugin {name} did not print an ExecCredential")
    if cred.get("apiVersion") != api_version:
        raise CredentialError(f"exec plugin {name} answered apiVersion {cred.get('apiVersion')!r}, "
                              f"expected {api_version!r}")
    status = cred.get("status")
    if not isinstance(status, dict):
        raise CredentialError(f"exec plugin {name}: the ExecCredential has no status")
    has_cert = bool(status.get("clientCertificateData")) and bool(status.get("clientKeyData"))
    if status.get("token"):
        status["token"] = _header_safe(str(status["token"]).strip(), f"the token of exec plugin {name}")
    if not status.get("token") and not has_cert:
        raise CredentialError(f"exec plugin {name}: the ExecCredential has neither a token nor a "
                              "client certificate and key")
    if bool(status.get("clientCertificateData")) != bool(status.get("clientKeyData")):
        raise CredentialError(f"exec plugin {name}: clientCertificateData and clientKeyData come together")
    expires = status.get("expirationTimestamp")
    if not expires:
        return status, None
    try:
        when = dt.datetime.fromisoformat(str(expires).replace("Z", "+00:00"))
    except ValueError:
        raise CredentialError(f"exec plugin {name}: expirationTimestamp {expires!r} is not RFC 3339") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return status, when.timestamp()


@dataclass(frozen=True, repr=False)
class TLSSettings:
    """How to trust the server and which certificate to show it. `*_data` are PEM bytes."""

    verify: bool = True
    ca_file: str | None = None
    ca_data: bytes | None = None
    server_name: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    cert_data: bytes | None = None
    key_data: bytes | None = None

    def context(self, runtime_cert: tuple[bytes, bytes] | None = None) -> ssl.SSLContext:
        """An SSL context with the CA and client certificate loaded (`runtime_cert`, from an
        exec plugin, takes the place of the kubeconfig's).

        Inline key material is written to a private (0700) temporary directory only for the
        moment `load_cert_chain` reads it, then removed: nothing secret stays on disk.
        """
        # Without a CA of its own the kubeconfig trusts certifi's bundle, as the kubernetes client did.
        cafile = self.ca_file or (None if self.ca_data else certifi.where())
        ctx = ssl.create_default_context(cafile=cafile, cadata=self.ca_data.decode() if self.ca_data else None)
        if not self.verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        cert = runtime_cert
        if cert is None and (self.cert_data or self.key_data):  # inline data, maybe mixed with a file
            cert = (self.cert_data or _read_bytes(self.cert_file), self.key_data or _read_bytes(self.key_file))
        if cert is not None:
            with tempfile.TemporaryDirectory(prefix="orkestra-tls-") as private:
                paths = [os.path.join(private, n) for n in ("client.crt", "client.key")]
                for path, pem in zip(paths, cert):
                    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                    with os.fdopen(fd, "wb") as f:
                        f.write(pem)
                ctx.load_cert_chain(paths[0], paths[1], password=_no_passphrase)
        elif self.cert_file and self.key_file:
            ctx.load_cert_chain(self.cert_file, self.key_file, password=_no_passphrase)
        return ctx


class EncryptedKeyError(ValueError):
    """The client key needs a pass phrase."""


def _no_passphrase() -> bytes:
    """Without a password callback OpenSSL asks for an encrypted key's pass phrase on the
    terminal and waits; a kubeconfig cannot carry one, so the key is refused."""
    raise EncryptedKeyError("the client key is encrypted, which a kubeconfig cannot unlock")


@dataclass(frozen=True, repr=False)
class ClusterAccess:
    """Everything `KubeClient` needs to reach the API server."""

    server: str
    tls: TLSSettings = field(default_factory=TLSSettings)
    credentials: Credentials = field(default_factory=NoCredentials)
    proxy_url: str | None = None
    source: str = ""  # "kubeconfig /path (context 'x')" or "in-cluster configuration", for messages


def load(kubeconfig: str | None = None, context: str | None = None, *,
         account_dir: str, service_host: str = "", service_port: str = "") -> ClusterAccess:
    """Kubeconfig (`kubeconfig`, else ~/.kube/config) with `context`; the in-cluster
    ServiceAccount in `account_dir`, at `service_host`:`service_port`, when no kubeconfig is
    given or found and its token file exists. `kubeconfig` may list several files (os.pathsep).
    The caller reads KUBECONFIG and KUBERNETES_SERVICE_HOST/PORT (`orkestra.config`).

    Raises `KubeConfigError` naming the file and context that could not be used.
    """
    default_file = os.path.expanduser("~/.kube/config")
    listed = kubeconfig or ""
    if not listed and not os.path.exists(default_file) and os.path.exists(os.path.join(account_dir, "token")):
        return load_in_cluster(account_dir, service_host, service_port)
    return load_kubeconfig(listed or default_file, context)


def load_in_cluster(account_dir: str, host: str, port: str) -> ClusterAccess:
    """The API server at `host`:`port` (KUBERNETES_SERVICE_HOST/PORT) with the mounted token and
    CA of the pod's ServiceAccount."""
    def fail(reason: str) -> KubeConfigError:
        return KubeConfigError(f"cannot load in-cluster configuration: {reason}")

    if not host or not port:
        raise fail("KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must both be set")
    token, ca = os.path.join(account_dir, "token"), os.path.join(account_dir, "ca.crt")
    if not os.path.isfile(ca):
        raise fail(f"the ServiceAccount CA file {ca} does not exist")
    credentials = TokenFile(token)
    try:
        credentials.authorization()  # fail now, not on the first request
    except CredentialError as exc:
        raise fail(str(exc)) from None
    server = f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"
    return ClusterAccess(server=server, tls=TLSSettings(ca_file=ca), credentials=credentials,
                         source="in-cluster configuration")


def load_kubeconfig(paths: str, context: str | None = None) -> ClusterAccess:
    """The context `context` (else current-context) of the merged kubeconfig files in `paths`."""
    where = f" (context {context!r})" if context else ""
    files = [p for p in paths.split(os.pathsep) if p]
    merged = _Merged()
    try:
        present = [p for p in files if os.path.exists(p)] if len(files) > 1 else files
        if not present:
            raise _Problem("none of the files exist")
        for path in present:
            merged.add(path, _read_file(path))
        name = context or merged.top.get("current-context")
        if not name:
            raise _Problem("no current-context is set; choose one with --context")
        where = f" (context {name!r})"
        return _access(merged, str(name), paths)
    except _Problem as exc:
        raise KubeConfigError(f"cannot load kubeconfig {exc.file or paths}{where}: {exc}") from None


class _Problem(Exception):
    def __init__(self, reason: str, file: str | None = None) -> None:
        super().__init__(reason)
        self.file = file


def _read_file(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            doc = yaml.safe_load(f)
    except OSError as exc:
        raise _Problem(exc.strerror or str(exc), path) from None
    except yaml.YAMLError as exc:
        # Only the position: yaml's own message quotes the offending line, which may hold a token.
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise _Problem(f"not valid YAML{at}", path) from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise _Problem("not a kubeconfig (the document is not a mapping)", path)
    return doc


class _Merged:
    """kubectl's merge: the first file to set a top-level key or define a named entry wins."""

    def __init__(self) -> None:
        self.top: dict[str, Any] = {}
        self.entries: dict[str, dict[str, tuple[dict, str]]] = {"clusters": {}, "users": {}, "contexts": {}}

    def add(self, path: str, doc: dict) -> None:
        for key, value in doc.items():
            if key in self.entries:
                value = [] if value is None else value  # `users: null` is what kubectl writes for none
                if not isinstance(value, list):
                    raise _Problem(f"{key} must be a list", path)
                for item in value:
                    if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                        raise _Problem(f"every entry of {key} needs a name", path)
                    self.entries[key].setdefault(item["name"], (item, path))
            elif value not in (None, "") and key not in self.top:  # an empty value sets nothing
                self.top[key] = value

    def get(self, kind: str, name: str, field_name: str, referrer: str) -> tuple[dict, str]:
        found = self.entries[kind].get(name)
        if found is None:
            known = ", ".join(sorted(self.entries[kind])) or "none"
            raise _Problem(f"{referrer} {kind[:-1]} {name!r} is not defined ({kind}: {known})")
        item, path = found
        body = item.get(field_name)
        if body is None:
            body = {}
        if not isinstance(body, dict):
            raise _Problem(f"{kind[:-1]} {name!r}: {field_name} must be a mapping", path)
        return body, path


def _access(merged: _Merged, name: str, paths: str) -> ClusterAccess:
    ctx, _ = merged.get("contexts", name, "context", "the")
    cluster_name, user_name = ctx.get("cluster"), ctx.get("user")
    if not cluster_name:
        raise _Problem("the context names no cluster")
    cluster, cluster_file = merged.get("clusters", str(cluster_name), "cluster", "the context's")
    user, user_file = merged.get("users", str(user_name), "user", "the context's") if user_name else ({}, "")
    server = cluster.get("server")
    if not server:
        raise _Problem(f"cluster {cluster_name!r} has no server", cluster_file)
    tls = _tls(cluster, str(cluster_name), cluster_file, user, str(user_name), user_file)
    info = {"server": server, "insecure-skip-tls-verify": not tls.verify}
    if tls.server_name:
        info["tls-server-name"] = tls.server_name
    ca = tls.ca_data or (_read_bytes(tls.ca_file) if tls.ca_file else None)  # a file's bytes too, as client-go
    if ca:
        info["certificate-authority-data"] = base64.b64encode(ca).decode()
    if cluster.get("proxy-url"):
        info["proxy-url"] = cluster["proxy-url"]
    credentials = _credentials(user, str(user_name), user_file, info)
    return ClusterAccess(server=str(server).rstrip("/"), tls=tls, credentials=credentials,
                         proxy_url=cluster.get("proxy-url") or None,
                         source=f"kubeconfig {paths} (context {name!r})")


def _tls(cluster: dict, cluster_name: str, cluster_file: str,
         user: dict, user_name: str, user_file: str) -> TLSSettings:
    cert_file = _path(user.get("client-certificate"), user_file)
    key_file = _path(user.get("client-key"), user_file)
    cert_data = _decoded(user, "client-certificate-data", f"user {user_name!r}", user_file)
    key_data = _decoded(user, "client-key-data", f"user {user_name!r}", user_file)
    if bool(cert_file or cert_data) != bool(key_file or key_data):
        raise _Problem(f"user {user_name!r} has a client certificate without a key or a key without a "
                       "certificate", user_file)
    for key, path in (("client-certificate", cert_file), ("client-key", key_file)):
        if path and not (cert_data and key_data) and not os.path.isfile(path):
            raise _Problem(f"user {user_name!r}: {key} {path} does not exist", user_file)
    ca_data = _decoded(cluster, "certificate-authority-data", f"cluster {cluster_name!r}", cluster_file)
    ca_file = None if ca_data else _path(cluster.get("certificate-authority"), cluster_file)
    if ca_file and not os.path.isfile(ca_file):
        raise _Problem(f"cluster {cluster_name!r}: certificate-authority {ca_file} does not exist", cluster_file)
    insecure = cluster.get("insecure-skip-tls-verify") or False
    if not isinstance(insecure, bool):  # a quoted "false" must not read as true and turn verification off
        raise _Problem(f"cluster {cluster_name!r}: insecure-skip-tls-verify must be true or false", cluster_file)
    tls = TLSSettings(verify=not insecure, ca_file=ca_file,
                      ca_data=ca_data, server_name=cluster.get("tls-server-name") or None,
                      cert_file=cert_file, key_file=key_file, cert_data=cert_data, key_data=key_data)
    try:
        tls.context()  # a bad CA, certificate or key is a load-time error, not a request-time one
    except EncryptedKeyError as exc:
        raise _Problem(f"user {user_name!r}: {exc}", user_file) from None
    except (ssl.SSLError, OSError, ValueError) as exc:
        raise _Problem(f"cluster {cluster_name!r} / user {user_name!r}: unusable TLS material "
                       f"({getattr(exc, 'reason', None) or type(exc).__name__})") from None
    return tls


def _credentials(user: dict, user_name: str, user_file: str, cluster_info: dict) -> Credentials:
    what = f"user {user_name!r}"
    if user.get("auth-provider"):
        provider = (user["auth-provider"] or {}).get("name", "?")
        raise _Problem(f"{what} uses auth-provider {provider!r}, which Orkestra does not support "
                       "(it is deprecated in Kubernetes; use an exec credential plugin)", user_file)
    for key in ("as", "as-uid", "as-groups", "as-user-extra"):
        if user.get(key):
            raise _Problem(f"{what} sets {key} (impersonation), which Orkestra does not support", user_file)
    if user.get("token"):
        try:
            return StaticHeader(f"Bearer {_header_safe(str(user['token']).strip(), f'{what}: the token')}")
        except CredentialError as exc:
            raise _Problem(str(exc), user_file) from None
    if user.get("tokenFile"):
        source = TokenFile(_path(user["tokenFile"], user_file) or "")
        try:
            source.authorization()
        except CredentialError as exc:
            raise _Problem(f"{what}: {exc}", user_file) from None
        return source
    if user.get("username") and user.get("password") is not None:
        basic = base64.b64encode(f"{user['username']}:{user['password']}".encode()).decode()
        return StaticHeader(f"Basic {basic}")
    if user.get("exec"):
        return _exec(user["exec"], what, user_file, cluster_info)
    return NoCredentials()


def _exec(spec: Any, what: str, user_file: str, cluster_info: dict) -> ExecPlugin:
    if not isinstance(spec, dict) or not spec.get("command"):
        raise _Problem(f"{what}: exec needs a command", user_file)
    if spec.get("apiVersion") not in EXEC_API_VERSIONS:
        raise _Problem(f"{what}: exec apiVersion {spec.get('apiVersion')!r} is not supported "
                       f"(use one of {', '.join(EXEC_API_VERSIONS)})", user_file)
    if spec.get("interactiveMode") == "Always":
        raise _Problem(f"{what}: the exec plugin needs an interactive terminal (interactiveMode: Always), "
                       "which a runtime does not have", user_file)
    env = spec.get("env") or []
    if not isinstance(env, list) or not all(isinstance(e, dict) and "name" in e and "value" in e for e in env):
        raise _Problem(f"{what}: exec env must be a list of name/value pairs", user_file)
    plugin = ExecPlugin(spec, base_dir=os.path.dirname(os.path.abspath(user_file)),
                        cluster=cluster_info if spec.get("provideClusterInfo") else None)
    try:
        plugin.client_certificate()  # run it now: a broken plugin is a start-up error
    except CredentialError as exc:
        raise _Problem(f"{what}: {exc}", user_file) from None
    return plugin


def _header_safe(secret: str, what: str) -> str:
    """`secret` if it can go into a header; http.client would otherwise refuse it with a message
    that quotes it in full."""
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in secret):
        raise CredentialError(f"{what} contains a line break or control character")
    return secret


def _path(value: Any, relative_to: str) -> str | None:
    if not value:
        return None
    path = os.path.expanduser(str(value))
    return path if os.path.isabs(path) else os.path.normpath(
        os.path.join(os.path.dirname(os.path.abspath(relative_to)), path))


def _decoded(section: dict, key: str, what: str, path: str) -> bytes | None:
    value = section.get(key)
    if not value:
        return None
    try:
        # Line breaks and spaces are skipped, as kubectl does (`base64` wraps at 76 columns).
        return base64.b64decode("".join(str(value).split()), validate=True)
    except (binascii.Error, ValueError):
        raise _Problem(f"{what}: {key} is not valid base64", path) from None


def _read_bytes(path: str | None) -> bytes:
    with open(path or "", "rb") as f:
        return f.read()
