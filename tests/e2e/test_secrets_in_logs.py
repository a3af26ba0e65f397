"""Issue 14 "Secrets": no key material, token, password or Secret data in any log, at debug.

One full run at LOG_LEVEL=debug on the real control plane:
* `ork run` reaches the API server through a kubeconfig holding a ServiceAccount bearer token;
* it serves admission webhooks over TLS from a supplied key pair (`TLS_CERT`/`TLS_KEY`), and
  the API server calls them for every CR create;
* a Secret entry watches a Secret (the secret-copy pattern) and a CRD renders a child Secret
  from its CR's spec, so Secret data flows through informers, templates and server-side apply;
* the HTTP API runs with `ORK_API_AUTH=kubernetes` and is called with the bearer token;
* `ork control` (debug) logs in with the admin password and reads the runtime with a token file.
Then every log line of both processes is searched for each secret in every form it could take
(raw, base64, the PEM body lines of the keys): none may appear.
"""
from __future__ import annotations

import base64
import datetime as dt
import json
import time
from pathlib import Path

import yaml

from orkestra.gvk import GVR
from orkestra.testing.kubeconfig import read_cluster
from orkestra.webhooks import certs
from tests.e2e.control_center import PASSWORD as ADMIN_PASSWORD, Session, ork_control  # noqa: F401
from tests.e2e.ork_runtime import E2E_GROUP, crd_manifest, katalog_doc, new_kind, ork_runtime  # noqa: F401

SECRETS = GVR("", "v1", "secrets")
WATCHED_VALUE = "watched-Pa55word-e2e"
COPIED_VALUE = "copied-Pa55word-e2e"
SESSION_SECRET = "session-signing-secret-e2e-0123456789"


def _token_kubeconfig(control_plane, kubectl, namespace: str, path: Path) -> str:
    """A kubeconfig whose user is a cluster-admin ServiceAccount's bearer token; returns the token."""
    kubectl("create", "serviceaccount", "ork-runner", "-n", namespace)
    kubectl("create", "clusterrolebinding", f"{namespace}-ork-runner", "--clusterrole=cluster-admin",
            f"--serviceaccount={namespace}:ork-runner")
    token = kubectl("create", "token", "ork-runner", "-n", namespace, "--duration=1h").stdout.strip()
    server, ca_pem = read_cluster(Path(control_plane.kubeconfig))
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "sa",
        "clusters": [{"name": "local", "cluster": {"server": server,
                                                   "certificate-authority-data": base64.b64encode(ca_pem).decode()}}],
        "users": [{"name": "ork-runner", "user": {"token": token}}],
        "contexts": [{"name": "sa", "context": {"cluster": "local", "user": "ork-runner"}}]}))
    path.chmod(0o600)
    return token


def _tls_files(directory: Path) -> certs.TlsBundle:
    bundle = certs.generate("orkestra", "default", certs.required_names("orkestra", "default"),
                            dt.datetime.now(dt.timezone.utc))
    for name, data in (("tls.crt", bundle.cert_pem), ("tls.key", bundle.key_pem), ("ca.crt", bundle.ca_pem)):
        (directory / name).write_bytes(data)
    return bundle


def _pem_body_lines(pem: bytes) -> list[str]:
    """The base64 lines of a PEM block (long enough to be unique), and the body joined."""
    lines = [line for line in pem.decode().splitlines() if line and not line.startswith("-----")]
    return [line for line in lines if len(line) >= 16] + ["".join(lines)]


def _forms(value: str) -> list[str]:
    return [value, base64.b64encode(value.encode()).decode()]


def test_no_secret_reaches_any_log_at_debug(control_plane, kubectl, kube, apply_crd, namespace, tmp_path,
                                           ork_runtime, ork_control):
    kind, plural = new_kind("Vault")
    apply_crd(crd_manifest(kind, plural))
    token = _token_kubeconfig(control_plane, kubectl, namespace, tmp_path / "token.kubeconfig")
    bundle = _tls_files(tmp_path)
    kubectl("apply", "-f", "-", input=yaml.safe_dump({
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": namespace,
                                                           "labels": {"app": "copier"}},
        "data": {"password": base64.b64encode(WATCHED_VALUE.encode()).decode()}}))
    doc = katalog_doc("secrets-in-logs", {
        "copier": {"apiTypes": {"kind": "Secret"}, "namespace": namespace, "labelSelector": {"app": "copier"}},
        "vault": {"apiTypes": {"group": E2E_GROUP, "version": "v1", "kind": kind, "plural": plural},
                  "validation": {"rules": [{"field": "spec.password", "exists": True,
                                            "message": "a password is required"}]},
                  "operatorBox": {"reconciler": {"workers": 1},
                                  "onReconcile": {"secrets": [{"data": {"password": "{{ .spec.password }}"}}]}}},
    })
    ork = ork_runtime(doc, kubeconfig=False,
                      extra_args=["--kubeconfig", str(tmp_path / "token.kubeconfig")],
                      env={"LOG_LEVEL": "debug", "ORK_API_AUTH": "kubernetes", "NAMESPACE": namespace,
                           "ENABLE_CONVERSION": "true", "ENABLE_ADMISSION_WEBHOOK": "true",
                           "TLS_CERT": str(tmp_path / "tls.crt"),
                           "TLS_KEY": str(tmp_path / "tls.key"), "TLS_CA": str(tmp_path / "ca.crt")})
    try:
        # the API server calls the TLS webhook: a CR without a password is denied
        def denied() -> str:
            p = kubectl("create", "-n", namespace, "-f", "-", check=False, input=json.dumps({
                "apiVersion": f"{E2E_GROUP}/v1", "kind": kind, "metadata": {"name": "empty"}, "spec": {}}))
            return p.stderr if p.returncode != 0 else ""
        stderr = ork.wait_for(denied, timeout=60, message="the TLS validating webhook to deny")
        assert "a password is required" in stderr
        kubectl("create", "-n", namespace, "-f", "-", input=json.dumps({
            "apiVersion": f"{E2E_GROUP}/v1", "kind": kind, "metadata": {"name": "main"},
            "spec": {"password": COPIED_VALUE}}))
        ork.wait_for(lambda: (kube.get(SECRETS, "main-secret", namespace) or {}).get("data", {}).get("password")
                     == base64.b64encode(COPIED_VALUE.encode()).decode(), timeout=60, message="the child Secret")

        # the HTTP API with the bearer token, and the Control Center with a password login and a token file
        status, body = _get(ork.url + f"/katalog/copier/cr/{namespace}/db", token)
        assert status == 200 and json.loads(body)["name"] == "db"
        assert not [form for form in _forms(WATCHED_VALUE) if form in body], "Secret data is never served"
        token_file = tmp_path / "cc.token"
        token_file.write_text(token)
        cc = ork_control([ork.url], env={"SESSION_SECRET": SESSION_SECRET},
                         extra=("--token-file", str(token_file), "--log-level", "debug"))
        session = Session(cc.url)
        assert session.login()[0] == 302, "logged in"
        assert session.request("GET", "/")[0] == 200
        assert Session(cc.url).login(password="wrong-" + ADMIN_PASSWORD)[0] != 302, "a wrong password is refused"
    finally:
        kubectl("delete", "validatingwebhookconfiguration", "orkestra-validation", "--ignore-not-found", check=False)
        kubectl("delete", "clusterrolebinding", f"{namespace}-ork-runner", "--ignore-not-found", check=False)

    logs = {"ork run": ork.logs(), "ork control": cc.logs()}
    assert '"level":"debug"' in logs["ork run"], "the runtime really logged at debug"
    assert '"level":"debug"' in logs["ork control"], "the Control Center really logged at debug"
    # a JWT's payload and signature each identify it: a token cut short in a message still shows one
    secrets = {"token": [token, *token.split(".")[1:]], "admin password": [ADMIN_PASSWORD, "wrong-" + ADMIN_PASSWORD],
               "session secret": _forms(SESSION_SECRET), "watched Secret data": _forms(WATCHED_VALUE),
               "copied Secret data": _forms(COPIED_VALUE),
               # and the key as a Secret's `tls.key` holds it (base64 of the PEM)
               "TLS key": _pem_body_lines(bundle.key_pem) + [base64.b64encode(bundle.key_pem).decode()]}
    leaks = [f"{what} in the {proc} log" for proc, text in logs.items()
             for what, forms in secrets.items() for form in forms if form in text]
    assert leaks == []
    print(f"searched {sum(len(t.splitlines()) for t in logs.values())} log lines "
          f"({', '.join(f'{p}: {len(t)} bytes' for p, t in logs.items())}) for {sum(map(len, secrets.values()))} "
          "secret forms: none found")


def test_generated_webhook_keys_never_reach_the_log_at_debug(control_plane, kubectl, kube, apply_crd, namespace,
                                                            tmp_path, ork_runtime):
    """In a cluster Orkestra generates its webhook key pair and keeps it in the Secret
    `orkestra-webhook-tls` (docs/webhooks.md §2), which it re-reads every `WEBHOOK_RESYNC`. Run as a
    pod would (ServiceAccount directory, no kubeconfig) at debug, let it write and re-read that
    Secret, then search the log for the key, as PEM lines and as the Secret holds it, and the token."""
    kind, plural = new_kind("Keyed")
    apply_crd(crd_manifest(kind, plural))
    token = _token_kubeconfig(control_plane, kubectl, namespace, tmp_path / "token.kubeconfig")
    server, ca_pem = read_cluster(Path(control_plane.kubeconfig))
    account = tmp_path / "serviceaccount"
    account.mkdir()
    (account / "token").write_text(token)
    (account / "ca.crt").write_bytes(ca_pem)
    (account / "namespace").write_text(namespace)
    host, port = server.split("//", 1)[1].rsplit(":", 1)
    home = tmp_path / "home"
    home.mkdir()
    doc = katalog_doc("generated-tls", {"keyed": {"apiTypes": {"group": E2E_GROUP, "version": "v1", "kind": kind,
                                                                "plural": plural}}})
    try:
        ork = ork_runtime(doc, kubeconfig=False, env={
            "HOME": str(home), "ORK_SERVICE_ACCOUNT_DIR": str(account), "KUBERNETES_SERVICE_HOST": host.strip("[]"),
            "KUBERNETES_SERVICE_PORT": port, "NAMESPACE": namespace, "LOG_LEVEL": "debug",
            "ENABLE_CONVERSION": "true", "WEBHOOK_RESYNC": "1s"})
        secret = ork.wait_for(lambda: kube.get(SECRETS, "orkestra-webhook-tls", namespace), timeout=60,
                              message="the generated TLS Secret")
        key_b64 = secret["data"]["tls.key"]
        rv = secret["metadata"]["resourceVersion"]
        # a few WEBHOOK_RESYNC re-reads of the Secret, then a change that makes the runtime reload it
        time.sleep(3)
        kubectl("label", "secret", "orkestra-webhook-tls", "-n", namespace, "touched=yes")
        ork.wait_for(lambda: kube.get(SECRETS, "orkestra-webhook-tls", namespace)["metadata"]["resourceVersion"] != rv,
                     timeout=10, message="the Secret changed")
        time.sleep(3)
        assert ork.alive()
    finally:
        kubectl("delete", "clusterrolebinding", f"{namespace}-ork-runner", "--ignore-not-found", check=False)
    log = ork.logs()
    assert '"level":"debug"' in log, "the runtime really logged at debug"
    reads = log.count("secrets/orkestra-webhook-tls")          # the client's request lines, at debug
    assert reads >= 3, f"the Secret was written and re-read while debug logging was on ({reads} requests logged)"
    forms = {"TLS key": _pem_body_lines(base64.b64decode(key_b64)) + [key_b64],
             "token": [token, *token.split(".")[1:]]}
    assert [what for what, found in forms.items() for form in found if form in log] == []


def _get(url: str, token: str) -> tuple[int, str]:
    import urllib.error
    import urllib.request
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


