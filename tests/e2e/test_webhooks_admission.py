"""Admission through the real API server: `ork run` serves /validate and /mutate on
https://127.0.0.1:<port> with a generated certificate, and registers itself; kubectl sees the
denials, the warnings and the defaults."""
from __future__ import annotations

import base64
import datetime as dt
import json

from orkestra.webhooks import certs

from tests.e2e.ork_runtime import ork_runtime  # noqa: F401
from tests.e2e.webhook_helpers import VALIDATING, crd, eventually, webhook_cleanup  # noqa: F401

GROUP = "apps.wh.example.io"
KATALOG = {
    "apiVersion": "orkestra.orkspace.io/v1", "kind": "Katalog", "metadata": {"name": "guarded"},
    "spec": {"crds": {"service-app": {
        "apiTypes": {"group": GROUP, "version": "v1", "kind": "ServiceApp", "plural": "serviceapps"},
        "validation": {"rules": [
            {"field": "spec.image", "prefix": "registry.internal/", "message": "images must come from registry.internal/"},
            {"field": "metadata.labels.team", "exists": True, "action": "warn", "message": "declare a team owner label"},
        ]},
        "mutation": {"rules": [{"field": "spec.replicas", "default": 2},
                               {"field": "metadata.labels.tier", "override": "backend"}]},
    }}},
}


def manifest(name: str, namespace: str, image: str, labels: dict | None = None) -> str:
    return json.dumps({"apiVersion": f"{GROUP}/v1", "kind": "ServiceApp",
                       "metadata": {"name": name, "namespace": namespace, "labels": labels or {"team": "web"}},
                       "spec": {"image": image}})


def test_deny_warn_and_defaults_through_kubectl(namespace, apply_crd, webhook_cleanup, ork_runtime, kubectl, kube):
    apply_crd(crd(GROUP, "ServiceApp", "serviceapps", ["v1"]))
    ork = ork_runtime(KATALOG, env={"ENABLE_CONVERSION": "true", "ENABLE_ADMISSION_WEBHOOK": "true",
                                    "NAMESPACE": namespace})
    config = eventually(lambda: kube.get(VALIDATING, "orkestra-validation"), what="orkestra-validation")
    (hook,) = config["webhooks"]
    assert hook["name"] == "service-app.validate.orkestra.orkspace.io"
    assert hook["clientConfig"]["url"] == f"https://127.0.0.1:{ork.webhook_port}/validate"

    def denied():   # the API server picks up a new configuration within a moment
        p = kubectl("apply", "-f", "-", input=manifest("bad", namespace, "nginx:1.27"), check=False)
        return p if p.returncode != 0 else None
    result = eventually(denied, what="the validating webhook to deny")
    assert ('admission webhook "service-app.validate.orkestra.orkspace.io" denied the request: '
            '[orkestra] validation failed: field "spec.image": images must come from registry.internal/ '
            '(got: "nginx:1.27")') in result.stderr

    warned = kubectl("create", "-o", "json", "-f", "-",
                     input=manifest("warned", namespace, "registry.internal/web:1", labels={"app": "x"}))
    assert 'Warning: orkestra: field "metadata.labels.team": declare a team owner label' in warned.stderr
    stored = json.loads(warned.stdout)   # the create response: written before any reconcile could run
    assert stored["spec"]["replicas"] == 2
    assert stored["metadata"]["labels"] == {"app": "x", "tier": "backend"}

    dry = kubectl("create", "--dry-run=server", "-o", "json", "-f", "-",
                  input=manifest("dry", namespace, "registry.internal/web:2"))
    assert json.loads(dry.stdout)["spec"]["replicas"] == 2

    def stats():
        status, body = ork.get("/katalog/service-app")
        adm = body.get("admission", {}) if status == 200 else {}
        return adm if adm.get("validationDenied", 0) >= 1 and adm.get("mutationApplied", 0) >= 2 else None
    adm = eventually(stats, what="admission stats in /katalog/service-app")
    assert adm["webhooksEnabled"] is True and adm["validationRules"] == 2 and adm["mutationRules"] == 2
    assert adm["validationWarned"] >= 1 and adm["valP95LatencyMs"] > 0 and adm["mutMaxLatencyMs"] > 0

    status, text = ork.get("/metrics")
    assert status == 200
    crd_labels = 'controller="service-app",crd="apps.wh.example.io/v1, Kind=ServiceApp"'
    for line in (f'orkestra_admission_requests_total{{{crd_labels},result="denied",webhook="validate"}}',
                 f'orkestra_admission_requests_total{{{crd_labels},result="patched",webhook="mutate"}}',
                 f'controller_admission_validation_violations_total{{action="deny",{crd_labels}}}',
                 'orkestra_webhook_reconciled_total{source="startup"} 1.0'):
        assert line in text, line
    assert f'orkestra_admission_duration_seconds_count{{{crd_labels},webhook="validate"}}' in text


def test_supplied_certificate_and_ca_bundle(namespace, apply_crd, webhook_cleanup, ork_runtime, kubectl, kube,
                                            tmp_path):
    now = dt.datetime.now(dt.timezone.utc)
    bundle = certs.generate("orkestra", namespace, certs.required_names("orkestra", namespace), now)
    (tmp_path / "tls.crt").write_bytes(bundle.cert_pem)
    (tmp_path / "tls.key").write_bytes(bundle.key_pem)
    (tmp_path / "ca.crt").write_bytes(bundle.ca_pem)      # cert-manager layout: ca.crt beside the pair
    apply_crd(crd(GROUP, "ServiceApp", "serviceapps", ["v1"]))
    ork_runtime(KATALOG, env={"ENABLE_CONVERSION": "true", "ENABLE_ADMISSION_WEBHOOK": "true", "NAMESPACE": namespace,
                              "TLS_CERT": str(tmp_path / "tls.crt"), "TLS_KEY": str(tmp_path / "tls.key")})
    config = eventually(lambda: kube.get(VALIDATING, "orkestra-validation"), what="orkestra-validation")
    assert base64.b64decode(config["webhooks"][0]["clientConfig"]["caBundle"]) == bundle.ca_pem

    def denied():
        p = kubectl("apply", "-f", "-", input=manifest("bad", namespace, "nginx:1.27"), check=False)
        return p if p.returncode != 0 else None
    assert "[orkestra] validation failed" in eventually(denied, what="a denial over the supplied certificate").stderr
