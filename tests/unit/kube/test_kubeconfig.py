"""Our kubeconfig reader (`orkestra.kube.kubeconfig`) on each form a kubeconfig takes, against a
loopback https server with certificates made here: CA / client certificate as data and as files,
tls-server-name, insecure-skip-tls-verify, tokens, exec plugins, KUBECONFIG merging, errors."""
import base64
import datetime as dt
import ipaddress
import json
import logging
import os
import ssl
import stat
import sys
import textwrap
import time

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from orkestra.kube.client import KubeClient, KubeConfigError
from orkestra.kube.errors import ApiError
from orkestra.kube.kubeconfig import CredentialError, ExecPlugin, load_in_cluster, load_kubeconfig
from tests.unit.kube.fake_server import FakeApiServer, send_json

SECRET = "s3cret-t0ken"


# --- certificates -----------------------------------------------------------------------------

def _key():
    return ec.generate_private_key(ec.SECP256R1())


def _cert(subject, key, issuer=None, issuer_key=None, *, ca=False, sans=(), client=False):
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    now = dt.datetime.now(dt.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(name)
               .issuer_name(issuer.subject if issuer else name).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(minutes=1)).not_valid_after(now + dt.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
    if client:
        builder = builder.add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]),
                                        critical=False)
    return builder.sign(issuer_key or key, hashes.SHA256())


def _pem(obj) -> bytes:
    if hasattr(obj, "private_bytes"):
        return obj.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())
    return obj.public_bytes(serialization.Encoding.PEM)


class PKI:
    """A server CA and a server certificate for 127.0.0.1 and api.internal; a client CA and a
    client certificate it signed."""

    def __init__(self, tmp_path):
        self.ca_key = _key()
        self.ca = _cert("server-ca", self.ca_key, ca=True)
        server_key = _key()
        server = _cert("apiserver", server_key, self.ca, self.ca_key,
                       sans=[x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("api.internal")])
        self.client_ca_key = _key()
        self.client_ca = _cert("client-ca", self.client_ca_key, ca=True)
        self.client_key = _key()
        self.client = _cert("alice", self.client_key, self.client_ca, self.client_ca_key, client=True)
        self.dir = tmp_path / "pki"
        self.dir.mkdir()
        for name, obj in {"ca.crt": self.ca, "server.crt": server, "server.key": server_key,
                          "client-ca.crt": self.client_ca, "client.crt": self.client,
                          "client.key": self.client_key}.items():
            (self.dir / name).write_bytes(_pem(obj))

    def server_context(self, require_client_cert=False) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.dir / "server.crt", self.dir / "server.key")
        if require_client_cert:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(self.dir / "client-ca.crt")
        return ctx


def b64(data: bytes | str) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


def write_config(path, cluster: dict, user: dict, *, context="main", extra_contexts=()) -> str:
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": context,
        "clusters": [{"name": "c", "cluster": cluster}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": n, "context": {"cluster": "c", "user": "u"}} for n in (context, *extra_contexts)],
    }))
    return str(path)


@pytest.fixture
def pki(tmp_path):
    return PKI(tmp_path)


@pytest.fixture
def https(pki):
    servers = []

    def start(require_client_cert=False) -> FakeApiServer:
        srv = FakeApiServer(tls=pki.server_context(require_client_cert))
        srv.routes[("GET", "/version")] = lambda req: send_json(req, 200, {"gitVersion": "v1.test"})
        servers.append(srv)
        return srv

    yield start
    for srv in servers:
        srv.close()


# --- TLS ----------------------------------------------------------------------------------------

def test_ca_and_client_certificate_as_data(tmp_path, pki, https):
    srv = https(require_client_cert=True)
    path = write_config(tmp_path / "config", {"server": srv.url, "certificate-authority-data": b64(_pem(pki.ca))},
                        {"client-certificate-data": b64(_pem(pki.client)), "client-key-data": b64(_pem(pki.client_key))})
    kube = KubeClient.from_config(path)
    assert kube.request("GET", "/version") == {"gitVersion": "v1.test"}
    assert "Authorization" not in srv.requests[0][4]


def test_ca_and_client_certificate_as_files_relative_to_the_kubeconfig(tmp_path, pki, https):
    srv = https(require_client_cert=True)
    path = write_config(pki.dir / "config", {"server": srv.url, "certificate-authority": "ca.crt"},
                        {"client-certificate": "client.crt", "client-key": "client.key"})
    assert KubeClient.from_config(path).request("GET", "/version") == {"gitVersion": "v1.test"}


def test_inline_key_material_leaves_no_file_behind(tmp_path, pki, https, monkeypatch):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    srv = https(require_client_cert=True)
    path = write_config(tmp_path / "config", {"server": srv.url, "certificate-authority-data": b64(_pem(pki.ca))},
                        {"client-certificate-data": b64(_pem(pki.client)), "client-key-data": b64(_pem(pki.client_key))})
    KubeClient.from_config(path).request("GET", "/version")
    assert list(scratch.iterdir()) == []


def test_the_server_certificate_must_match_unless_tls_server_name_says_which_name(tmp_path, pki, https):
    srv = https()
    by_name = srv.url.replace("127.0.0.1", "localhost")       # not in the certificate's names
    plain = write_config(tmp_path / "plain", {"server": by_name, "certificate-authority-data": b64(_pem(pki.ca))}, {})
    with pytest.raises(ApiError) as err:
        KubeClient.from_config(plain).request("GET", "/version")
    assert err.value.status == 0
    named = write_config(tmp_path / "named", {"server": by_name, "certificate-authority-data": b64(_pem(pki.ca)),
                                              "tls-server-name": "api.internal"}, {})
    assert KubeClient.from_config(named).request("GET", "/version") == {"gitVersion": "v1.test"}


def test_an_unknown_ca_is_refused_unless_insecure_skip_tls_verify(tmp_path, https):
    srv = https()
    other_ca = _cert("other", _key(), ca=True)
    strict = write_config(tmp_path / "strict", {"server": srv.url, "certificate-authority-data": b64(_pem(other_ca))}, {})
    with pytest.raises(ApiError, match="CERTIFICATE_VERIFY_FAILED"):
        KubeClient.from_config(strict).request("GET", "/version")
    loose = write_config(tmp_path / "loose", {"server": srv.url, "insecure-skip-tls-verify": True}, {"token": SECRET})
    assert KubeClient.from_config(loose).request("GET", "/version") == {"gitVersion": "v1.test"}
    assert srv.requests[-1][4]["Authorization"] == f"Bearer {SECRET}"


# --- tokens ---------------------------------------------------------------------------------------

@pytest.fixture
def server():
    srv = FakeApiServer()
    srv.routes[("GET", "/version")] = lambda req: send_json(req, 200, {"gitVersion": "v1.test"})
    yield srv
    srv.close()


def test_token_file_relative_to_the_kubeconfig(tmp_path, server):
    (tmp_path / "token").write_text(SECRET + "\n")
    path = write_config(tmp_path / "config", {"server": server.url}, {"tokenFile": "token"})
    KubeClient.from_config(path).request("GET", "/version")
    assert server.requests[-1][4]["Authorization"] == f"Bearer {SECRET}"


def test_username_and_password(tmp_path, server):
    path = write_config(tmp_path / "config", {"server": server.url}, {"username": "admin", "password": SECRET})
    KubeClient.from_config(path).request("GET", "/version")
    assert server.requests[-1][4]["Authorization"] == "Basic " + b64(f"admin:{SECRET}")


def test_in_cluster_ipv6_service_host(tmp_path):
    (tmp_path / "token").write_text(SECRET)
    (tmp_path / "ca.crt").write_bytes(_pem(_cert("ca", _key(), ca=True)))
    access = load_in_cluster(str(tmp_path), "fd00::1", "443")
    assert access.server == "https://[fd00::1]:443"


# --- exec plugins -----------------------------------------------------------------------------

def plugin(tmp_path, status: dict | str, api_version="client.authentication.k8s.io/v1", exit_code=0,
           stderr="") -> str:
    """A plugin script printing an ExecCredential with `status` (a str is printed as is); it counts
    its runs in runs.log and records KUBERNETES_EXEC_INFO and its env var FLAVOUR."""
    out = status if isinstance(status, str) else json.dumps(
        {"apiVersion": api_version, "kind": "ExecCredential", "status": status})
    script = tmp_path / "plugin.py"
    script.write_text(
        "import os, sys\n"
        f"log = open({str(tmp_path / 'runs.log')!r}, 'a')\n"
        "log.write(os.environ.get('FLAVOUR', '') + ' ' + os.environ['KUBERNETES_EXEC_INFO'] + '\\n')\n"
        f"sys.stderr.write({stderr!r})\n"
        f"print({out!r})\n"
        f"sys.exit({exit_code})\n")
    return str(script)


def exec_user(script: str, api_version="client.authentication.k8s.io/v1", **extra) -> dict:
    return {"exec": {"apiVersion": api_version, "command": sys.executable, "args": [script],
                     "env": [{"name": "FLAVOUR", "value": "vanilla"}], "interactiveMode": "Never", **extra}}


def runs(tmp_path) -> list[str]:
    log = tmp_path / "runs.log"
    return log.read_text().splitlines() if log.exists() else []


@pytest.mark.parametrize("api_version", ["client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1"])
def test_exec_plugin_token_is_sent_and_cached(tmp_path, server, api_version):
    script = plugin(tmp_path, {"token": SECRET}, api_version)
    path = write_config(tmp_path / "config", {"server": server.url},
                        exec_user(script, api_version, provideClusterInfo=True))
    kube = KubeClient.from_config(path)
    kube.request("GET", "/version")
    kube.request("GET", "/version")
    assert [r[4]["Authorization"] for r in server.requests] == [f"Bearer {SECRET}"] * 2
    assert len(runs(tmp_path)) == 1                      # no expiry: one run serves every request
    flavour, info = runs(tmp_path)[0].split(" ", 1)
    info = json.loads(info)
    assert flavour == "vanilla" and info["apiVersion"] == api_version and info["spec"]["interactive"] is False
    assert info["spec"]["cluster"]["server"] == server.url


def test_exec_credential_is_fetched_again_when_it_expires(tmp_path):
    expires = "2030-01-01T00:00:00Z"
    script = plugin(tmp_path, {"token": SECRET, "expirationTimestamp": expires})
    now = [dt.datetime(2029, 12, 31, 23, 0, tzinfo=dt.timezone.utc).timestamp()]
    spec = exec_user(script)["exec"]
    source = ExecPlugin(spec, base_dir=str(tmp_path), cluster=None, clock=lambda: now[0])
    assert source.authorization() == f"Bearer {SECRET}"
    now[0] += 3000                                        # 10 minutes before expiry
    source.authorization()
    assert len(runs(tmp_path)) == 1
    now[0] += 600                                         # expired
    source.authorization()
    assert len(runs(tmp_path)) == 2


def test_a_401_runs_the_plugin_again_and_retries_once(tmp_path, server):
    script = plugin(tmp_path, {"token": SECRET})
    answers = iter([401, 200, 401, 401])

    def version(req):
        code = next(answers)
        send_json(req, code, {"kind": "Status", "code": code, "reason": "Unauthorized"} if code == 401 else {})

    server.routes[("GET", "/version")] = version
    kube = KubeClient.from_config(write_config(tmp_path / "config", {"server": server.url}, exec_user(script)))
    assert kube.request("GET", "/version") == {}
    assert len(runs(tmp_path)) == 2
    with pytest.raises(ApiError) as err:                  # still 401 after a fresh credential: give up
        kube.request("GET", "/version")
    assert err.value.status == 401 and len(server.requests) == 4


def test_exec_plugin_client_certificate(tmp_path, pki, https):
    srv = https(require_client_cert=True)
    script = plugin(tmp_path, {"clientCertificateData": _pem(pki.client).decode(),
                               "clientKeyData": _pem(pki.client_key).decode()})
    path = write_config(tmp_path / "config", {"server": srv.url, "certificate-authority-data": b64(_pem(pki.ca))},
                        exec_user(script))
    assert KubeClient.from_config(path).request("GET", "/version") == {"gitVersion": "v1.test"}


# --- KUBECONFIG with several files ------------------------------------------------------------------

def test_several_files_merge_first_wins_and_paths_stay_relative_to_their_file(tmp_path, pki):
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    (first / "token").write_text("first-token")
    (first / "config").write_text(yaml.safe_dump({
        "current-context": "one",
        "clusters": [{"name": "shared", "cluster": {"server": "https://first:6443"}}],
        "users": [{"name": "u1", "user": {"tokenFile": "token"}}],
        "contexts": [{"name": "one", "context": {"cluster": "shared", "user": "u1"}}]}))
    (second / "config").write_text(yaml.safe_dump({
        "current-context": "two",
        "clusters": [{"name": "shared", "cluster": {"server": "https://second:6443"}},
                     {"name": "only-second", "cluster": {"server": "https://second-only:6443",
                                                         "certificate-authority": "../pki/ca.crt"}}],
        "users": [{"name": "u1", "user": {"token": "second-token"}}],
        "contexts": [{"name": "two", "context": {"cluster": "only-second", "user": "u1"}}]}))
    listed = f"{first / 'config'}:{tmp_path / 'missing'}:{second / 'config'}"
    one = load_kubeconfig(listed)                         # current-context from the first file
    assert one.server == "https://first:6443"
    assert one.credentials.authorization() == "Bearer first-token"
    two = load_kubeconfig(listed, "two")                  # a context only the second file defines
    assert two.server == "https://second-only:6443" and two.tls.ca_file == str(pki.dir / "ca.crt")
    assert two.credentials.authorization() == "Bearer first-token"   # user u1 of the first file


def test_kubeconfig_environment_variable_is_read_by_the_settings_and_merged(tmp_path, monkeypatch):
    """KUBECONFIG is parsed once, by `orkestra.config`; a list naming a missing file still loads."""
    from orkestra.config import Settings
    path = write_config(tmp_path / "config", {"server": "https://10.0.0.1:6443"}, {"token": SECRET})
    monkeypatch.setenv("KUBECONFIG", f"{tmp_path / 'nope'}:{path}")
    assert KubeClient.from_config(Settings.from_env().kubeconfig).server == "https://10.0.0.1:6443"


# --- errors -----------------------------------------------------------------------------------------

def _error(tmp_path, cluster=None, user=None, context=None, raw=None) -> str:
    path = tmp_path / "config"
    if raw is not None:
        path.write_text(raw)
    else:
        write_config(path, {"server": "https://10.0.0.1:6443"} if cluster is None else cluster,
                     user or {"token": SECRET})
    with pytest.raises(KubeConfigError) as err:
        KubeClient.from_config(str(path), context)
    message = str(err.value)
    assert message.startswith(f"cannot load kubeconfig {path}")
    assert SECRET not in message
    return message


def test_unknown_context_lists_the_known_ones(tmp_path):
    assert _error(tmp_path, context="prod").endswith(
        "(context 'prod'): the context 'prod' is not defined (contexts: main)")


def test_bad_yaml_names_the_position_but_not_the_line(tmp_path):
    message = _error(tmp_path, raw=f"users:\n- name: u\n  user: {{token: {SECRET}\n")
    assert "not valid YAML at line" in message


@pytest.mark.parametrize("cluster, user, problem", [
    ({}, None, "cluster 'c' has no server"),
    ({"server": "https://x", "certificate-authority-data": "%%%"}, None,
     "cluster 'c': certificate-authority-data is not valid base64"),
    ({"server": "https://x", "certificate-authority": "/nonexistent/ca.crt"}, None,
     "certificate-authority /nonexistent/ca.crt does not exist"),
    ({"server": "https://x", "certificate-authority-data": b64("not a certificate")}, None, "unusable TLS material"),
    (None, {"auth-provider": {"name": "gcp", "config": {"access-token": SECRET}}},
     "user 'u' uses auth-provider 'gcp', which Orkestra does not support"),
    (None, {"token": SECRET, "as": "admin"}, "impersonation"),
    (None, {"client-certificate-data": b64("x")}, "a client certificate without a key"),
    (None, {"tokenFile": "/nonexistent/token"}, "cannot read token file /nonexistent/token"),
    (None, {"exec": {"apiVersion": "client.authentication.k8s.io/v1alpha1", "command": "x"}},
     "exec apiVersion 'client.authentication.k8s.io/v1alpha1' is not supported"),
    (None, {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": "x", "interactiveMode": "Always"}},
     "interactive terminal"),
    (None, {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": "/nonexistent/plugin",
                     "installHint": "install it with brew"}},
     "exec plugin /nonexistent/plugin not found (install it with brew)"),
])
def test_unusable_entries_name_what_is_wrong(tmp_path, cluster, user, problem):
    assert problem in _error(tmp_path, cluster, user)


def test_failing_plugin_shows_its_stderr_never_its_stdout(tmp_path):
    script = plugin(tmp_path, SECRET, exit_code=3, stderr="login expired, run sso-login")
    assert (f"user 'u': exec plugin {os.path.basename(sys.executable)} exited with 3: login expired, run sso-login"
            in _error(tmp_path, user=exec_user(script)))
    garbage = plugin(tmp_path, f"token={SECRET}")
    assert "did not print an ExecCredential (not JSON)" in _error(tmp_path, user=exec_user(garbage))
    empty = plugin(tmp_path, {"expirationTimestamp": "2030-01-01T00:00:00Z"})
    assert "neither a token nor a client certificate" in _error(tmp_path, user=exec_user(empty))


def test_missing_current_context_asks_for_one(tmp_path):
    message = _error(tmp_path, raw=yaml.safe_dump({"clusters": [], "users": [], "contexts": []}))
    assert message.endswith("no current-context is set; choose one with --context")


def test_secrets_never_reach_the_logs(tmp_path, server, caplog):
    caplog.set_level(logging.DEBUG)
    script = plugin(tmp_path, {"token": SECRET})
    kube = KubeClient.from_config(write_config(tmp_path / "config", {"server": server.url}, exec_user(script)))
    kube.request("GET", "/version")
    with pytest.raises(KubeConfigError):
        KubeClient.from_config(write_config(tmp_path / "bad", {"server": server.url},
                                            {"auth-provider": {"name": "oidc", "config": {"id-token": SECRET}}}))
    assert SECRET not in caplog.text and SECRET not in repr(kube.access)


def test_runtime_certificate_files_are_private(tmp_path, pki, monkeypatch):
    """The transient copy of inline key material is readable by the owner only."""
    seen = []
    real = ssl.SSLContext.load_cert_chain

    def spy(ctx, certfile, keyfile=None, password=None):
        seen.append(stat.S_IMODE(os.stat(keyfile).st_mode))
        return real(ctx, certfile, keyfile, password)

    monkeypatch.setattr(ssl.SSLContext, "load_cert_chain", spy)
    write = write_config(tmp_path / "config", {"server": "https://10.0.0.1:6443", "certificate-authority-data": b64(_pem(pki.ca))},
                         {"client-certificate-data": b64(_pem(pki.client)), "client-key-data": b64(_pem(pki.client_key))})
    KubeClient.from_config(write)
    assert seen and all(mode == 0o600 for mode in seen)


def test_the_hooks_api_client_uses_the_same_server_credentials_and_pool(tmp_path, server):
    from kubernetes import client as k8s

    server.routes[("GET", "/version/")] = server.routes[("GET", "/version")]
    path = write_config(tmp_path / "config", {"server": server.url}, {"token": SECRET})
    kube = KubeClient.from_config(path)
    raw = k8s.VersionApi(kube.api_client).get_code(_preload_content=False)
    assert json.loads(raw.data) == {"gitVersion": "v1.test"}
    assert server.requests[-1][4]["authorization"] == f"Bearer {SECRET}"
    assert server.requests[-1][4]["User-Agent"].startswith("orkestra/")


def test_a_plugin_failing_later_is_an_api_error_the_caller_retries(tmp_path, server):
    script = plugin(tmp_path, {"token": SECRET})
    kube = KubeClient.from_config(write_config(tmp_path / "config", {"server": server.url}, exec_user(script)))
    plugin(tmp_path, "", exit_code=1, stderr="session revoked")     # the same script now fails
    kube.access.credentials.expire()
    with pytest.raises(ApiError) as err:
        kube.request("GET", "/version")
    assert err.value.status == 0 and err.value.reason == "CredentialError" and "session revoked" in str(err.value)
    assert server.requests == []


# --- review i15-kubecfg ---------------------------------------------------------------------------

def test_a_quoted_false_does_not_turn_tls_verification_off(tmp_path, https):
    """`insecure-skip-tls-verify: "false"` is a string: verification must stay on, never be read as truthy."""
    srv = https()
    path = write_config(tmp_path / "config", {"server": srv.url, "insecure-skip-tls-verify": "false"}, {})
    with pytest.raises(KubeConfigError, match="insecure-skip-tls-verify must be true or false"):
        KubeClient.from_config(path)


def test_without_a_ca_the_certifi_bundle_is_trusted_as_the_kubernetes_client_did(tmp_path, pki, https, monkeypatch):
    import certifi

    srv = https()
    monkeypatch.setattr(certifi, "where", lambda: str(pki.dir / "ca.crt"))
    path = write_config(tmp_path / "config", {"server": srv.url}, {"token": SECRET})
    assert KubeClient.from_config(path).request("GET", "/version") == {"gitVersion": "v1.test"}


def test_an_empty_current_context_does_not_hide_a_later_files_one(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    first.write_text(yaml.safe_dump({"current-context": "", "clusters": [], "users": [], "contexts": []}))
    write_config(second, {"server": "https://10.0.0.2:6443"}, {"token": SECRET}, context="two")
    assert load_kubeconfig(f"{first}:{second}").server == "https://10.0.0.2:6443"


def test_a_plugin_timeout_message_does_not_echo_its_arguments(tmp_path, monkeypatch):
    import orkestra.kube.kubeconfig as kubeconfig

    monkeypatch.setattr(kubeconfig, "EXEC_TIMEOUT_SECONDS", 0.5)
    script = tmp_path / "slow.py"
    script.write_text("import time\ntime.sleep(30)\n")
    spec = {"apiVersion": "client.authentication.k8s.io/v1", "command": sys.executable,
            "args": [str(script), f"--password={SECRET}"]}
    with pytest.raises(kubeconfig.CredentialError) as err:
        ExecPlugin(spec, base_dir=str(tmp_path), cluster=None).authorization()
    assert "timed out after 0.5 s" in str(err.value) and SECRET not in str(err.value)


def test_concurrent_401s_of_one_stale_credential_run_the_plugin_once(tmp_path):
    """Requests that used the same rejected token each report a 401: one re-run serves them all, and
    a server rejecting everything gets at most one run per interval, not one per request."""
    script = plugin(tmp_path, {"token": SECRET})
    now = [1000.0]
    source = ExecPlugin(exec_user(script)["exec"], base_dir=str(tmp_path), cluster=None, clock=lambda: now[0])
    source.authorization()
    assert source.expire()                                # request A saw the token rejected: re-run
    source.authorization()
    assert source.expire()                                # request B, in flight with the same stale token
    source.authorization()                                # retries with A's fresh token
    assert len(runs(tmp_path)) == 2
    now[0] += 60                                          # later, a new 401: fetched again
    source.expire()
    source.authorization()
    assert len(runs(tmp_path)) == 3


def test_proxy_url_is_used_with_the_credentials_it_carries(tmp_path, server):
    """Like kubectl, user:password in proxy-url authenticate to the proxy (percent-decoded)."""
    proxy = server                                        # answers the absolute-URI request itself
    path = write_config(tmp_path / "config", {"server": "http://api.invalid:6443",
                                              "proxy-url": proxy.url.replace("//", "//ops:p%40ss@")}, {})
    assert KubeClient.from_config(path).request("GET", "/version") == {"gitVersion": "v1.test"}
    headers = {k.lower(): v for k, v in proxy.requests[-1][4].items()}
    assert headers["proxy-authorization"] == "Basic " + b64("ops:p@ss")


def test_an_encrypted_client_key_is_refused_not_prompted_for_on_the_terminal(tmp_path, pki):
    """OpenSSL asks for a pass phrase on the controlling terminal and waits: `ork run` in a shell
    would hang at start-up. The key is refused with a clear error instead."""
    import pty
    import select
    import signal

    key = pki.client_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.BestAvailableEncryption(b"passphrase"))
    path = write_config(tmp_path / "config", {"server": "https://10.0.0.1:6443"},
                        {"client-certificate-data": b64(_pem(pki.client)), "client-key-data": b64(key)})
    pid, fd = pty.fork()
    if pid == 0:                                           # child: the pty is its terminal
        try:
            load_kubeconfig(path)
            os.write(1, b"loaded")
        except KubeConfigError as exc:
            os.write(1, str(exc).encode())
        finally:
            os._exit(0)
    output = b""
    try:
        while select.select([fd], [], [], 10)[0]:
            try:
                chunk = os.read(fd, 4096)
            except OSError:                                # EIO: the child exited
                break
            if not chunk:
                break
            output += chunk
    finally:
        if os.waitpid(pid, os.WNOHANG) == (0, 0):         # still waiting for a pass phrase
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(fd)
    assert b"pass phrase" not in output.lower()
    assert b"the client key is encrypted" in output


def test_null_lists_count_as_empty(tmp_path):
    """`kubectl config view` writes `users: null` for a file without users; kubectl reads it as empty."""
    first, second = tmp_path / "first", tmp_path / "second"
    first.write_text("apiVersion: v1\nkind: Config\nclusters: null\ncontexts: null\nusers: null\npreferences: {}\n")
    write_config(second, {"server": "https://10.0.0.2:6443"}, {"token": SECRET})
    assert load_kubeconfig(f"{first}:{second}").server == "https://10.0.0.2:6443"


def test_a_token_with_a_line_break_is_refused_without_echoing_it(tmp_path):
    """http.client would refuse the header later with a message quoting it (the token) in full."""
    assert "line break or control character" in _error(tmp_path, user={"token": f"{SECRET}\n{SECRET}"})


def test_a_token_file_or_plugin_token_with_a_line_break_is_refused_without_echoing_it(tmp_path):
    (tmp_path / "token").write_text(f"{SECRET}\n{SECRET}\n")
    assert "line break or control character" in _error(tmp_path, user={"tokenFile": str(tmp_path / "token")})
    script = plugin(tmp_path, {"token": f"{SECRET}\n{SECRET}"})
    assert "line break or control character" in _error(tmp_path, user=exec_user(script))


def test_a_timed_out_plugin_is_killed_with_the_processes_it_started(tmp_path, monkeypatch):
    """A plugin script that hangs in a helper it started (a CLI waiting on the network) must not
    leave that helper behind on every attempt."""
    import orkestra.kube.kubeconfig as kubeconfig

    monkeypatch.setattr(kubeconfig, "EXEC_TIMEOUT_SECONDS", 1.0)
    helper_pid = tmp_path / "helper.pid"
    script = tmp_path / "hang.py"
    script.write_text("import subprocess, sys, time\n"
                      "helper = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
                      f"open({str(helper_pid)!r}, 'w').write(str(helper.pid))\n"
                      "helper.wait()\n")
    spec = {"apiVersion": "client.authentication.k8s.io/v1", "command": sys.executable, "args": [str(script)]}
    with pytest.raises(kubeconfig.CredentialError, match="timed out"):
        ExecPlugin(spec, base_dir=str(tmp_path), cluster=None).authorization()
    pid = int(helper_pid.read_text())
    for _ in range(50):                                   # killed: gone, or a zombie awaiting init
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().split(")")[-1].split()[0] == "Z":
                    break
        except FileNotFoundError:
            break
        time.sleep(0.1)
    else:
        os.kill(pid, 9)
        pytest.fail("the plugin's helper process is still running")


def test_base64_data_wrapped_over_lines_is_read_as_kubectl_reads_it(tmp_path, pki, https):
    """`base64 ca.crt` wraps at 76 columns; pasted as a YAML block it keeps its line breaks, which
    kubectl (and the kubernetes client before us) skip."""
    srv = https()
    wrapped = "\n".join(textwrap.wrap(b64(_pem(pki.ca)), 76)) + "\n"
    path = write_config(tmp_path / "config", {"server": srv.url, "certificate-authority-data": wrapped}, {})
    assert KubeClient.from_config(path).request("GET", "/version") == {"gitVersion": "v1.test"}


def test_a_credential_already_expired_on_arrival_is_not_fetched_again_for_every_request(tmp_path):
    """A clock ahead of the plugin's issuer sees every fresh credential as expired; it is still used
    for a few seconds rather than running the plugin once per request."""
    script = plugin(tmp_path, {"token": SECRET, "expirationTimestamp": "2020-01-01T00:00:00Z"})
    now = [dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc).timestamp()]
    source = ExecPlugin(exec_user(script)["exec"], base_dir=str(tmp_path), cluster=None, clock=lambda: now[0])
    source.authorization()
    source.authorization()
    assert len(runs(tmp_path)) == 1
    now[0] += 60
    source.authorization()
    assert len(runs(tmp_path)) == 2


def test_cluster_info_for_a_plugin_carries_a_ca_given_as_a_file(tmp_path, pki):
    """client-go hands the plugin the CA's bytes whether the kubeconfig inlines it or names a file."""
    script = plugin(tmp_path, {"token": SECRET})
    cluster = {"server": "https://10.0.0.1:6443", "certificate-authority": "ca.crt",
               "proxy-url": "http://proxy.internal:3128"}
    load_kubeconfig(write_config(pki.dir / "config", cluster, exec_user(script, provideClusterInfo=True)))
    cluster = json.loads(runs(tmp_path)[0].split(" ", 1)[1])["spec"]["cluster"]
    assert base64.b64decode(cluster["certificate-authority-data"]) == _pem(pki.ca)
    assert cluster["proxy-url"] == "http://proxy.internal:3128"


def test_a_failing_plugin_is_not_run_again_for_every_request(tmp_path):
    """After a failure the same error is returned for a few seconds: a plugin that fails (or hangs
    for its whole timeout) would otherwise run once per request, each waiting on the last."""
    script = plugin(tmp_path, "", exit_code=1, stderr="session expired")
    now = [1000.0]
    source = ExecPlugin(exec_user(script)["exec"], base_dir=str(tmp_path), cluster=None, clock=lambda: now[0])
    for _ in range(3):
        with pytest.raises(CredentialError, match="session expired"):
            source.authorization()
    assert len(runs(tmp_path)) == 1
    now[0] += 11
    with pytest.raises(CredentialError):
        source.authorization()
    assert len(runs(tmp_path)) == 2
