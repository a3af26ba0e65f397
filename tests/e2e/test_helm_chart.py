"""The Helm chart deploy/helm/orkestra (docs/deploying.md): lint, render, schema rules, and the
rendered chart plus `ork generate bundle` accepted by the real API server.

`helm` is compiled from its Go module once per machine (`python -m orkestra.testing.build --helm`,
which `make test` runs); the fixture only checks it (or builds it when missing). The values files
under deploy/helm/orkestra/ci/ are the profiles tested: the defaults plus the Control Center's auth
Secret an install must name, every switch on (the gateway serving the webhooks), and the runtime
serving the webhooks itself. The local control plane runs no kubelet: Deployments are created,
their Pods never run.
"""
from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml

from orkestra import packs
from orkestra.testing.build import ensure_helm

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "deploy" / "helm" / "orkestra"
PROFILES = ("defaults", "all-on", "runtime-webhooks")
LABEL = "orkestra.io/deletion-protection"
NOT_SERVED_HERE = {"cert-manager.io/v1", "monitoring.coreos.com/v1"}   # CRDs of cert-manager and Prometheus Operator
_ORK = str(Path(sys.executable).with_name("ork"))


@pytest.fixture(scope="module")
def helm(tmp_path_factory):
    binary = ensure_helm()
    home = tmp_path_factory.mktemp("helm-home")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "HELM_CACHE_HOME": str(home / "cache"),
           "HELM_CONFIG_HOME": str(home / "config"), "HELM_DATA_HOME": str(home / "data")}

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run([str(binary), *args], capture_output=True, text=True, env=env, timeout=120)
        if check and proc.returncode != 0:
            pytest.fail(f"helm {' '.join(args)} exited {proc.returncode}: {proc.stderr}", pytrace=False)
        return proc
    return run


def values(profile: str) -> str:
    return str(CHART / "ci" / f"{profile}-values.yaml")


def render(helm, *args: str, namespace: str = "orkestra-system") -> list[dict]:
    out = helm("template", "orkestra", str(CHART), "-n", namespace, *args).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def by_kind_name(docs: list[dict]) -> dict[tuple[str, str], dict]:
    return {(d["kind"], d["metadata"]["name"]): d for d in docs}


def env_of(deployment: dict) -> dict[str, object]:
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


@pytest.mark.parametrize("profile", PROFILES)
def test_lint_passes_strict(helm, profile):
    out = helm("lint", str(CHART), "--strict", "-f", values(profile)).stdout
    assert "1 chart(s) linted, 0 chart(s) failed" in out


@pytest.mark.parametrize("profile", PROFILES)
def test_every_rendered_object_is_labelled_and_no_rbac_is_managed(helm, profile):
    docs = render(helm, "-f", values(profile))
    assert docs
    for doc in docs:
        labels = doc["metadata"]["labels"]
        assert labels[LABEL] == "true", doc["metadata"]["name"]
        assert labels["app.kubernetes.io/part-of"] == "orkestra"
        assert labels["app.kubernetes.io/component"] in ("runtime", "gateway", "control-center")
    kinds = {d["kind"] for d in docs}
    assert not kinds & {"ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "ServiceAccount", "Namespace"}


def test_the_label_can_be_switched_off(helm):
    docs = render(helm, "-f", values("defaults"), "--set", "deletionProtectionLabel=false")
    assert all(LABEL not in d["metadata"]["labels"] for d in docs)


def test_defaults_render_the_runtime_as_documented(helm):
    objects = by_kind_name(render(helm, "-f", values("defaults")))
    assert set(objects) == {("Deployment", "orkestra-runtime"), ("Service", "orkestra-runtime"),
                            ("PodDisruptionBudget", "orkestra-runtime"), ("Deployment", "orkestra-cc"),
                            ("Service", "orkestra-cc"), ("Secret", "orkestra-cc-auth")}
    runtime = objects[("Deployment", "orkestra-runtime")]
    assert runtime["spec"]["replicas"] == 2
    assert runtime["spec"]["strategy"]["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": 1}
    pod = runtime["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["args"] == ["run", "-f", "/etc/orkestra/katalog/katalog.yaml"]
    assert container["image"] == "ghcr.io/orkspace/orkestra:0.1.0"
    env = env_of(runtime)
    assert (env["LEADER_ELECTION"], env["LEASE_DURATION"], env["RENEW_DEADLINE"], env["RETRY_PERIOD"]) == \
        ("true", "15", "10", "5")
    assert env["NAMESPACE"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    assert env["POD_NAME"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert env["ORK_SERVICE_NAME"] == "orkestra-runtime"
    assert "ORK_GATEWAY_ENDPOINT" not in env and "TLS_CERT" not in env
    assert env["ORK_API_AUTH"] == "kubernetes", "the HTTP API checks tokens unless told otherwise"
    assert [container[p]["httpGet"]["path"] for p in ("startupProbe", "livenessProbe", "readinessProbe")] == \
        ["/startup", "/health", "/ready"]
    assert pod["serviceAccountName"] == "orkestra"
    assert pod["securityContext"] == {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001, "fsGroup": 10001,
                                      "seccompProfile": {"type": "RuntimeDefault"}}
    assert container["securityContext"] == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                            "capabilities": {"drop": ["ALL"]}}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["katalog"]["configMap"]["name"] == "orkestra-config"      # the bundle's ConfigMap
    assert volumes["tmp"]["emptyDir"] == {"medium": "Memory", "sizeLimit": "64Mi"}
    assert pod["terminationGracePeriodSeconds"] == 50
    ports = {p["name"]: p["port"] for p in objects[("Service", "orkestra-runtime")]["spec"]["ports"]}
    assert ports == {"http": 8080, "webhook": 8443}
    cc = objects[("Deployment", "orkestra-cc")]["spec"]["template"]["spec"]["containers"][0]
    assert cc["args"] == ["control", "--host", "0.0.0.0", "--port", "8081", "--urls", "http://orkestra-runtime:8080",
                          "--refresh", "10s"]
    assert env_of(objects[("Deployment", "orkestra-cc")])["ADMIN_PASSWORD"] == \
        {"secretKeyRef": {"name": "orkestra-cc-auth", "key": "password"}}


def test_every_switch_on_renders_gateway_cert_manager_monitoring_and_network_policy(helm):
    objects = by_kind_name(render(helm, "-f", values("all-on")))
    assert {k for k in objects if k[0] in ("Issuer", "Certificate", "ServiceMonitor", "NetworkPolicy")} == {
        ("Issuer", "orkestra-selfsigned"), ("Certificate", "orkestra-ca"), ("Issuer", "orkestra-ca"),
        ("Certificate", "orkestra-webhook"), ("ServiceMonitor", "orkestra"), ("NetworkPolicy", "orkestra-webhooks")}
    cert = objects[("Certificate", "orkestra-webhook")]["spec"]
    assert cert["secretName"] == "orkestra-webhook-tls"
    assert "orkestra-gateway.orkestra-system.svc" in cert["dnsNames"]
    assert "orkestra-runtime.orkestra-system.svc.cluster.local" in cert["dnsNames"]
    runtime, gateway = objects[("Deployment", "orkestra-runtime")], objects[("Deployment", "orkestra-gateway")]
    assert env_of(runtime)["ORK_GATEWAY_ENDPOINT"] == "http://orkestra-gateway:8080"
    assert env_of(runtime)["ORK_HOOKS_PATH"] == "/etc/orkestra"
    assert env_of(gateway)["TLS_CERT"] == "/etc/orkestra/tls/tls.crt"
    assert env_of(gateway)["ENABLE_ADMISSION_WEBHOOK"] == "true"
    assert gateway["spec"]["template"]["spec"]["containers"][0]["args"][0] == "gateway"
    assert "LEADER_ELECTION" not in env_of(gateway)
    assert env_of(gateway)["ORK_API_AUTH"] == env_of(runtime)["ORK_API_AUTH"] == "kubernetes"
    inline = yaml.safe_load(Path(values("all-on")).read_text())["runtime"]["katalog"]["inline"]
    annotations = runtime["spec"]["template"]["metadata"]["annotations"]
    assert annotations["checksum/katalog"] == hashlib.sha256(inline.encode()).hexdigest()
    assert objects[("ConfigMap", "orkestra-katalog")]["data"]["katalog.yaml"].strip() == inline.strip()
    assert "--insecure" in objects[("Deployment", "orkestra-cc")]["spec"]["template"]["spec"]["containers"][0]["args"]
    policy = objects[("NetworkPolicy", "orkestra-webhooks")]["spec"]["ingress"]
    assert policy[0] == {"ports": [{"port": "webhook", "protocol": "TCP"}],
                         "from": [{"ipBlock": {"cidr": "10.96.0.1/32"}}, {"ipBlock": {"cidr": "172.18.0.2/32"}}]}
    assert objects[("ServiceMonitor", "orkestra")]["spec"]["endpoints"] == [
        {"port": "http", "path": "/metrics", "interval": "30s",
         "bearerTokenFile": "/var/run/secrets/kubernetes.io/serviceaccount/token"}]


def test_api_auth_none_is_set_per_component_and_scrapes_without_a_token(helm):
    """Issue 16 item 2: `config.apiAuth` sets ORK_API_AUTH on each server; the ServiceMonitor sends
    Prometheus's token only while some enabled server checks tokens."""
    objects = by_kind_name(render(helm, "-f", values("all-on"), "--set", "runtime.config.apiAuth=none"))
    assert env_of(objects[("Deployment", "orkestra-runtime")])["ORK_API_AUTH"] == "none"
    assert env_of(objects[("Deployment", "orkestra-gateway")])["ORK_API_AUTH"] == "kubernetes"
    assert "bearerTokenFile" in objects[("ServiceMonitor", "orkestra")]["spec"]["endpoints"][0]
    objects = by_kind_name(render(helm, "-f", values("all-on"), "--set", "runtime.config.apiAuth=none",
                                  "--set", "gateway.config.apiAuth=none"))
    assert env_of(objects[("Deployment", "orkestra-gateway")])["ORK_API_AUTH"] == "none"
    assert objects[("ServiceMonitor", "orkestra")]["spec"]["endpoints"] == [
        {"port": "http", "path": "/metrics", "interval": "30s"}]


def selects(selector: dict, labels: dict) -> bool:
    """A label selector's `matchLabels` and `In`/`NotIn` expressions, as the API server reads them."""
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expr in selector.get("matchExpressions", []):
        inside = labels.get(expr["key"]) in expr["values"]
        if inside != (expr["operator"] == "In"):
            return False
    return True


def test_the_service_monitor_scrapes_only_the_servers_with_metrics(helm):
    """Prometheus's token goes only to the runtime and the gateway, which serve /metrics; the
    Control Center's Service also has a port named http but no /metrics, and no use for the token."""
    objects = by_kind_name(render(helm, "-f", values("all-on")))
    selector = objects[("ServiceMonitor", "orkestra")]["spec"]["selector"]
    chosen = {name for (kind, name), obj in objects.items()
              if kind == "Service" and selects(selector, obj["metadata"]["labels"])}
    assert chosen == {"orkestra-runtime", "orkestra-gateway"}


@pytest.mark.parametrize("sets, message", [
    (["runtime.webhooks.admission=true"], "at '/runtime/webhooks/conversion': value must be true"),
    (["gateway.enabled=true", "runtime.webhooks.conversion=true"], "at '/runtime/webhooks/conversion': value must be false"),
    (["runtime.leaderElection.enabled=false"], "at '/runtime/leaderElection/enabled': value must be true"),
    (["runtime.replicas=3"], "additional properties 'replicas' not allowed"),
    (["networkPolicy.enabled=true"], "networkPolicy.enabled needs networkPolicy.apiServerCIDRs"),
    (["runtime.securityContext.readOnlyRootFileSystem=true"],     # a typo must not drop the setting
     "at '/runtime/securityContext': additional properties 'readOnlyRootFileSystem' not allowed"),
    (["controlCenter.podSecurityContext.seccompProfile.type=Bogus"], "at '/controlCenter/podSecurityContext"),
    (["runtime.config.apiAuth=token"], "at '/runtime/config/apiAuth': value must be one of 'none', 'kubernetes'"),
    (["gateway.config.apiAuth=None"], "at '/gateway/config/apiAuth': value must be one of 'none', 'kubernetes'"),
    # a null would render ORK_API_AUTH="", which the servers read as none: an open API nobody asked for
    (["runtime.config.apiAuth=null"], "at '/runtime/config': missing property 'apiAuth'"),
    (["gateway.enabled=true", "gateway.config.apiAuth=null"], "at '/gateway/config': missing property 'apiAuth'"),
])
def test_the_chart_refuses_invalid_combinations(helm, sets, message):
    args = [arg for s in sets for arg in ("--set", s)]
    proc = helm("template", "orkestra", str(CHART), "-f", values("defaults"), *args, check=False)
    assert proc.returncode != 0
    assert message in proc.stderr


def test_http_from_keeps_the_release_pods_on_the_http_port(helm):
    """httpFrom narrows the HTTP port, but the Control Center (runtime API) and the runtime (gateway)
    must still reach it; the webhook port stays the API server's alone."""
    docs = render(helm, "-f", values("all-on"), "--set", "networkPolicy.httpFrom[0].namespaceSelector.matchLabels.team=obs")
    ingress = by_kind_name(docs)[("NetworkPolicy", "orkestra-webhooks")]["spec"]["ingress"]
    assert ingress[1]["ports"] == [{"port": "http", "protocol": "TCP"}]
    assert ingress[1]["from"] == [
        {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "orkestra", "app.kubernetes.io/instance": "orkestra"}}},
        {"namespaceSelector": {"matchLabels": {"team": "obs"}}}]
    assert all("podSelector" not in peer for peer in ingress[0]["from"])
    cc_labels = by_kind_name(docs)[("Deployment", "orkestra-cc")]["spec"]["template"]["metadata"]["labels"]
    assert ingress[1]["from"][0]["podSelector"]["matchLabels"].items() <= cc_labels.items()
    default = by_kind_name(render(helm, "-f", values("all-on")))[("NetworkPolicy", "orkestra-webhooks")]
    assert "from" not in default["spec"]["ingress"][1]      # no httpFrom: any source, as before


@pytest.mark.parametrize("profile", PROFILES)
def test_chart_and_bundle_are_accepted_by_the_api_server(helm, profile, kubectl, tmp_path):
    namespace = f"ork-chart-{uuid.uuid4().hex[:6]}"
    katalog = Path(packs.__file__).parent / "beginner" / "hello-website" / "katalog.yaml"
    bundle = tmp_path / "bundle.yaml"
    subprocess.run([_ORK, "generate", "bundle", "-f", str(katalog), "-n", namespace, "--api-auth", "kubernetes",
                    "-o", str(bundle)], check=True)     # as NOTES.txt says for the default apiAuth
    docs = render(helm, "-f", values(profile), namespace=namespace)
    applicable = [d for d in docs if d["apiVersion"] not in NOT_SERVED_HERE]
    skipped = {d["apiVersion"] for d in docs} - {d["apiVersion"] for d in applicable}
    assert skipped <= NOT_SERVED_HERE
    chart = tmp_path / "chart.yaml"
    chart.write_text(yaml.safe_dump_all(applicable))
    try:
        kubectl("apply", "-f", str(bundle))       # Namespace, ServiceAccounts, RBAC, ConfigMap orkestra-config
        dry = kubectl("apply", "--dry-run=server", "-n", namespace, "-f", str(chart))
        assert dry.stdout.count("(server dry run)") == len(applicable)
        kubectl("apply", "-n", namespace, "-f", str(chart))
        deployments = json.loads(kubectl("get", "deployments", "-n", namespace, "-o", "json").stdout)["items"]
        expected = {d["metadata"]["name"] for d in applicable if d["kind"] == "Deployment"}
        assert {d["metadata"]["name"] for d in deployments} == expected
        for live in deployments:
            assert live["metadata"]["labels"][LABEL] == "true"
            assert live["spec"]["template"]["spec"]["serviceAccountName"] in ("orkestra", "orkestra-gateway", "orkestra-cc")
        accounts = kubectl("get", "serviceaccounts", "-n", namespace, "-o", "name").stdout.split()
        assert {"serviceaccount/orkestra", "serviceaccount/orkestra-cc"} <= set(accounts)
        allowed = kubectl("auth", "can-i", "get", "/katalog", f"--as=system:serviceaccount:{namespace}:orkestra-cc")
        assert allowed.stdout.strip() == "yes", "the Control Center may read the runtime's API"
    finally:
        kubectl("delete", "-n", namespace, "-f", str(chart), "--ignore-not-found", "--wait=false", check=False)
        kubectl("delete", "-f", str(bundle), "--ignore-not-found", "--wait=false", check=False)


def test_notes_remind_of_the_bundle_and_print_the_port_forwards(helm):
    out = helm("install", "orkestra", str(CHART), "-n", "shop", "--dry-run=client", "-f", values("all-on")).stdout
    notes = out[out.index("NOTES:"):]
    assert "ork generate bundle -f katalog.yaml -n shop --api-auth kubernetes -o bundle.yaml" in notes
    assert "kubectl port-forward svc/orkestra-runtime 8080:8080 -n shop" in notes
    assert "kubectl port-forward svc/orkestra-gateway 8090:8080 -n shop" in notes
    assert "kubectl port-forward svc/orkestra-cc 8081:8081 -n shop" in notes


@pytest.mark.parametrize("sets, mode", [((), "kubernetes"), (("runtime.config.apiAuth=none",), "none"),
                                        (("runtime.config.apiAuth=none", "gateway.enabled=true"), "kubernetes")])
def test_notes_ask_for_the_bundle_with_the_charts_api_auth(helm, sets, mode):
    args = [arg for s in sets for arg in ("--set", s)]
    out = helm("install", "orkestra", str(CHART), "-n", "shop", "--dry-run=client", "-f", values("defaults"), *args).stdout
    notes = out[out.index("NOTES:"):]
    assert f"ork generate bundle -f katalog.yaml -n shop --api-auth {mode} -o bundle.yaml" in notes
    assert ("must be generated with\n--api-auth kubernetes" in notes) == (mode == "kubernetes")


def test_without_an_auth_secret_the_chart_generates_credentials_never_a_default(helm):
    """No default password off loopback: with no existingSecret the chart makes <release>-cc-auth with a
    random password (kept across upgrades through lookup), and the Control Center reads it from there."""
    first = by_kind_name(render(helm, "-f", values("defaults")))
    second = by_kind_name(render(helm, "-f", values("defaults")))
    secret = first[("Secret", "orkestra-cc-auth")]
    password = base64.b64decode(secret["data"]["password"]).decode()
    assert len(password) == 24 and password != base64.b64decode(second[("Secret", "orkestra-cc-auth")]["data"]["password"]).decode()
    assert base64.b64decode(secret["data"]["username"]) == b"admin" and len(secret["data"]["sessionSecret"]) > 40
    env = env_of(first[("Deployment", "orkestra-cc")])
    assert env["ADMIN_PASSWORD"] == {"secretKeyRef": {"name": "orkestra-cc-auth", "key": "password"}}
    given = by_kind_name(render(helm, "-f", values("defaults"), "--set", "controlCenter.auth.existingSecret=mine"))
    assert ("Secret", "orkestra-cc-auth") not in given
    assert env_of(given[("Deployment", "orkestra-cc")])["ADMIN_PASSWORD"]["secretKeyRef"]["name"] == "mine"
