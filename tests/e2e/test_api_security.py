"""Issue 16 items 1, 2 and 4 on the real local control plane, against a real `ork run`.

A Katalog with a built-in Secret entry (the secret-copy pattern): with ORK_API_AUTH=none no route
answers the Secret's value in any form; with ORK_API_AUTH=kubernetes a caller needs a token that
TokenReview accepts and a SubjectAccessReview that allows the matching access, probes stay open,
and even an allowed caller never gets the payload; `ork status --token` works once RBAC allows
it. Then the review's denial-of-service inputs: `/health` keeps answering within 1 s, the
requests get a clear 4xx, the worker's RSS stays bounded.
"""
from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote

import pytest
import yaml

from tests.e2e.ork_runtime import create_cr, crd_entry, crd_manifest, katalog_doc, new_kind, ork_runtime  # noqa: F401

PASSWORD = "Hunter2-e2e-S3CRET"
ENCODED = base64.b64encode(PASSWORD.encode()).decode()
FIELDS = ["data.password", "data", "stringData", ".", ".data", 'data["password"]', "metadata",
          "metadata.annotations", 'metadata.annotations["kubectl.kubernetes.io/last-applied-configuration"]',
          "{{ .data.password | b64dec }}", "{{ .data.password }}", "{{ toJson . }}", "{{ . }}"]
RSS_BOUND_MB = 250
ORK_CLI = str(Path(sys.executable).with_name("ork"))


def secret_katalog(namespace: str) -> dict:
    return katalog_doc("secret-copier", {"copier": {"apiTypes": {"kind": "Secret"}, "namespace": namespace,
                                                    "labelSelector": {"app": "copier"}}})


def apply_secret(kubectl, namespace: str) -> None:
    """`kubectl apply`, so the last-applied annotation holds a second copy of the payload."""
    doc = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": namespace,
                                                              "labels": {"app": "copier"}},
           "data": {"password": ENCODED}}
    kubectl("apply", "-f", "-", input=yaml.safe_dump(doc))


def routes(namespace: str) -> list[str]:
    base = ["/katalog", "/katalog/raw", "/katalog/raw?format=yaml", "/katalog/enriched", "/katalog/copier",
            "/katalog/copier/health", "/katalog/copier/cr", f"/katalog/copier/cr?namespace={namespace}",
            f"/katalog/copier/cr/{namespace}/db", f"/katalog/copier/cr/{namespace}/db/events", "/metrics"]
    return base + [f"/katalog/copier/cr?field={quote(f)}" for f in FIELDS]


def get(url: str, token: str | None = None, timeout: float = 10.0) -> tuple[int, str]:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read().decode(errors="replace")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(errors="replace")


def listed(ork, namespace: str) -> bool:
    status, body = ork.get(f"/katalog/copier/cr?namespace={namespace}")
    return status == 200 and body["total"] == 1


def assert_no_payload(path: str, body: str) -> None:
    for form in (PASSWORD, ENCODED):
        assert form not in body, f"{path} answered the Secret's value"


def test_with_auth_none_no_route_answers_the_secret_value(ork_runtime, namespace, kubectl):  # noqa: F811
    apply_secret(kubectl, namespace)
    ork = ork_runtime(secret_katalog(namespace))
    ork.wait_for(lambda: listed(ork, namespace), message="the Secret in the cache")
    for path in routes(namespace):
        status, body = get(ork.url + path)
        assert status != 500, path
        assert_no_payload(path, body)
    status, body = get(ork.url + "/katalog/copier/cr?field=data.password")
    assert status == 400 and "never served" in body
    status, body = get(ork.url + "/katalog/copier/cr?field=" + quote("{{ .data.password | b64dec }}"))
    assert status == 400 and "templates are not accepted" in body
    status, body = get(ork.url + "/katalog/copier/cr?field=metadata.labels.app")
    assert status == 200 and json.loads(body)["items"][0]["value"] == "copier"
    assert PASSWORD not in ork.logs() and ENCODED not in ork.logs()


def service_account_token(kubectl, namespace: str, name: str, *, list_secrets: bool) -> str:
    kubectl("create", "serviceaccount", name, "-n", namespace)
    if list_secrets:
        kubectl("create", "role", f"{name}-secrets", "-n", namespace, "--verb=get,list", "--resource=secrets")
        kubectl("create", "rolebinding", f"{name}-secrets", "-n", namespace, f"--role={name}-secrets",
                f"--serviceaccount={namespace}:{name}")
    return kubectl("create", "token", name, "-n", namespace).stdout.strip()


def test_with_auth_kubernetes_tokens_are_reviewed(ork_runtime, namespace, kubectl):  # noqa: F811
    apply_secret(kubectl, namespace)
    reader = service_account_token(kubectl, namespace, "reader", list_secrets=True)
    nobody = service_account_token(kubectl, namespace, "nobody", list_secrets=False)
    ork = ork_runtime(secret_katalog(namespace), env={"ORK_API_AUTH": "kubernetes"})
    ork.wait_for(lambda: get(ork.url + "/ready")[0] == 200, message="/ready without a token")
    for probe in ("/startup", "/health", "/ready"):
        assert get(ork.url + probe)[0] == 200, probe
    ork.wait_for(lambda: get(ork.url + f"/katalog/copier/cr?namespace={namespace}", reader)[0] == 200,
                 message="the runtime ready to answer the reader")

    for path in routes(namespace):
        status, body = get(ork.url + path)
        assert status == 401, path
        assert_no_payload(path, body)
    assert get(ork.url + "/katalog/copier/cr", "not-a-token")[0] == 401

    status, body = get(ork.url + f"/katalog/copier/cr?namespace={namespace}", nobody)
    assert status == 403, body
    assert json.loads(body)["error"] == (f'user "system:serviceaccount:{namespace}:nobody" may not '
                                         f'list secrets in namespace "{namespace}"')
    status, body = get(ork.url + f"/katalog/copier/cr?namespace={namespace}", reader)
    assert status == 200 and [i["name"] for i in json.loads(body)["items"]] == ["db"]
    assert get(ork.url + "/katalog/copier/cr", reader)[0] == 403, "the reader may not list secrets cluster-wide"
    assert get(ork.url + f"/katalog/copier/cr/{namespace}/db", reader)[0] == 200
    assert get(ork.url + f"/katalog/copier/cr/{namespace}/db/events", reader)[0] == 403, "no list events"
    for path in routes(namespace):
        status, body = get(ork.url + path, reader)
        assert status != 500, path
        assert_no_payload(path, body)
    assert reader not in ork.logs() and nobody not in ork.logs(), "tokens are never logged"
    summaries_for_reader(kubectl, namespace, ork.url, reader)


def summaries_for_reader(kubectl, namespace: str, url: str, token: str) -> None:
    """`ork status --token`: refused until a ClusterRole grants the non-resource URLs."""
    env = cli_env()
    refused = subprocess.run([ORK_CLI, "status", "--url", url, "--token", token], capture_output=True,
                             text=True, env=env, timeout=60)
    assert refused.returncode == 1 and "HTTP 403 from /katalog" in refused.stderr, refused.stderr
    name = f"{namespace}-api-reader"
    kubectl("create", "clusterrole", name, "--verb=get", "--non-resource-url=/katalog",
            "--non-resource-url=/katalog/*")
    try:
        kubectl("create", "clusterrolebinding", name, f"--clusterrole={name}",
                f"--serviceaccount={namespace}:reader")
        deadline = time.monotonic() + 15     # the runtime caches the earlier 403 for 5 s
        while True:
            shown = subprocess.run([ORK_CLI, "status", "--url", url, "--token", token], capture_output=True,
                                   text=True, env=env, timeout=60)
            if shown.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert shown.returncode == 0, shown.stderr
        assert "Katalog   secret-copier 0.1.0" in shown.stdout and "copier" in shown.stdout
    finally:
        kubectl("delete", "clusterrolebinding", name, "--ignore-not-found", check=False)
        kubectl("delete", "clusterrole", name, "--ignore-not-found", check=False)


def cli_env() -> dict[str, str]:
    """The environment for `ork` commands: nothing of the test runner's ORK_* or kubeconfig."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("ORK_", "KUBECONFIG"))}


def test_the_bundles_control_center_role_reads_what_ork_control_reads(ork_runtime, namespace, kubectl,  # noqa: F811
                                                                       apply_crd, kube, tmp_path):
    """Issue 16 item 2: `ork generate rbac --for cc --api-auth kubernetes` gives the Control
    Center's ServiceAccount what its reads need (200, and a full Poller read with its token);
    a ServiceAccount without the role gets 403, and the raw Katalog stays closed to the CC."""
    from orkestra.controlcenter.fetch import HttpFetcher
    from orkestra.controlcenter.poller import Poller

    kind, plural = new_kind("Watched")
    apply_crd(crd_manifest(kind, plural))
    katalog = tmp_path / "katalog.yaml"
    katalog.write_text(yaml.safe_dump(katalog_doc("watched", {"watched": crd_entry(kind, plural)})))
    generated = subprocess.run([ORK_CLI, "generate", "rbac", "-f", str(katalog), "-n", namespace, "--for", "cc",
                                "--api-auth", "kubernetes"], capture_output=True, text=True, env=cli_env(), timeout=60)
    assert generated.returncode == 0, generated.stderr
    kinds = [(d["kind"], d["metadata"]["name"]) for d in yaml.safe_load_all(generated.stdout) if d]
    assert ("ClusterRole", "orkestra-cc") in kinds and ("ClusterRoleBinding", "orkestra-cc") in kinds
    try:
        kubectl("apply", "-f", "-", input=generated.stdout)
        cc_token = kubectl("create", "token", "orkestra-cc", "-n", namespace).stdout.strip()
        nobody = service_account_token(kubectl, namespace, "nobody", list_secrets=False)
        create_cr(kube, kind, plural, "w1", namespace, {"value": "a"})
        ork = ork_runtime(katalog, env={"ORK_API_AUTH": "kubernetes"})
        reads = ["/katalog", "/katalog/watched", "/katalog/watched/health", "/katalog/watched/cr",
                 f"/katalog/watched/cr/{namespace}/w1", f"/katalog/watched/cr/{namespace}/w1/events"]
        ork.wait_for(lambda: get(ork.url + reads[3], cc_token)[0] == 200, message="the CC allowed to list the CRs")
        for path in reads:
            status, body = get(ork.url + path, cc_token)
            assert status == 200, (path, body)
            assert get(ork.url + path, nobody)[0] == 403, path
        assert "w1" in get(ork.url + reads[3], cc_token)[1]
        for closed in ("/katalog/raw", "/katalog/enriched", "/metrics"):
            assert get(ork.url + closed, cc_token)[0] == 403, closed
        token_file = tmp_path / "token"
        token_file.write_text(cc_token)
        data = Poller((ork.url,), interval=5, fetcher=HttpFetcher(token_file=token_file)).read(ork.url)
        assert [c["name"] for c in data.katalog["crds"]] == ["watched"] and data.details["watched"]
    finally:
        kubectl("delete", "clusterrolebinding,clusterrole", "orkestra-cc", "--ignore-not-found", check=False)


# --------------------------------------------------------------------------- denial of service
def worker_rss_mb(arbiter_pid: int) -> float:
    """Resident memory of the arbiter's children (the gunicorn worker), in MB."""
    total = 0
    children = Path(f"/proc/{arbiter_pid}/task/{arbiter_pid}/children").read_text().split()
    for pid in children:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


def test_template_dos_inputs_get_400_while_health_answers_and_rss_stays_bounded(ork_runtime, namespace,  # noqa: F811
                                                                                 apply_crd, kube):
    kind, plural = new_kind("Dos")
    apply_crd(crd_manifest(kind, plural))
    # a Katalog template gone wrong: three nested ranges over a CR value
    entry = crd_entry(kind, plural, config_map=False)
    entry["operatorBox"]["onReconcile"] = {"configMaps": [{"data": {
        "v": "{{ range .spec.n }}{{ range $.spec.n }}{{ range $.spec.n }}x{{ end }}{{ end }}{{ end }}"}}]}
    ork = ork_runtime(katalog_doc("dos", {"dos": entry}))
    rss_before = worker_rss_mb(ork.pid)
    create_cr(kube, kind, plural, "big", namespace, {"n": 10000})

    nested = "{{range 10000}}{{range 10000}}{{range 10000}}{{end}}{{end}}{{end}}"
    doubling = '{{$s:="ab"}}{{range 28}}{{$s = printf "%s%s" $s $s}}{{end}}{{len $s}}'
    answers: list[int] = []

    def attack() -> None:
        for src in [nested] * 8 + [doubling] * 4 + [f"{{{{/*{i}*/}}}}{{{{add 1 2}}}}" * 40 for i in range(400)]:
            answers.append(get(ork.url + "/katalog/dos/cr?field=" + quote(src), timeout=30)[0])

    thread = threading.Thread(target=attack)
    thread.start()
    slowest = 0.0
    while thread.is_alive():
        start = time.monotonic()
        status, _ = ork.get("/health", timeout=5)
        slowest = max(slowest, time.monotonic() - start)
        assert status == 200
        time.sleep(0.05)
    thread.join()
    assert set(answers) == {400} and len(answers) == 412
    assert slowest < 1.0, f"/health took {slowest:.2f}s"

    def budget_error():
        status, body = ork.get("/katalog/dos")
        return status == 200 and "template budget exceeded" in body["reconcile"]["lastError"]
    ork.wait_for(budget_error, timeout=60, message="the reconcile to fail on the template budget")
    for _ in range(10):
        start = time.monotonic()
        assert ork.get("/health", timeout=5)[0] == 200 and time.monotonic() - start < 1.0
        time.sleep(0.2)
    rss = worker_rss_mb(ork.pid)
    assert rss < RSS_BOUND_MB, f"worker RSS {rss:.0f} MB"
    print(f"worker RSS {rss_before:.0f} MB before, {rss:.0f} MB after the attack; "
          f"slowest /health {slowest * 1000:.0f} ms")
