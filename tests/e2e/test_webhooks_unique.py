"""`unique` at admission under `ork gateway`: the gateway runs an informer for CRDs with unique
rules, and /validate checks the value against it (docs/webhooks.md §5)."""
from __future__ import annotations

import json

from tests.e2e.webhook_helpers import VALIDATING, crd, eventually, gateway, webhook_cleanup  # noqa: F401

GROUP = "net.wh.example.io"
KATALOG = {
    "apiVersion": "orkestra.orkspace.io/v1", "kind": "Katalog", "metadata": {"name": "hosts"},
    "spec": {"crds": {"route": {
        "apiTypes": {"group": GROUP, "version": "v1", "kind": "Route", "plural": "routes"},
        "validation": {"rules": [{"field": "spec.hostname", "unique": True,
                                  "message": "hostname already used by another Route"}]},
    }}},
}


def route(name: str, namespace: str, hostname: str) -> str:
    return json.dumps({"apiVersion": f"{GROUP}/v1", "kind": "Route",
                       "metadata": {"name": name, "namespace": namespace}, "spec": {"hostname": hostname}})


def test_unique_hostname_is_denied_from_the_gateway_cache(namespace, apply_crd, webhook_cleanup, gateway, kubectl,
                                                          kube):
    apply_crd(crd(GROUP, "Route", "routes", ["v1"]))
    gw = gateway(KATALOG, {"ENABLE_CONVERSION": "true", "ENABLE_ADMISSION_WEBHOOK": "true", "NAMESPACE": namespace})
    eventually(lambda: kube.get(VALIDATING, "orkestra-validation"), what="orkestra-validation")
    kubectl("apply", "-f", "-", input=route("a", namespace, "shop.example.com"))

    def denied():
        p = kubectl("apply", "-f", "-", input=route("b", namespace, "shop.example.com"), check=False)
        return p.stderr if p.returncode != 0 else None
    stderr = eventually(denied, what="a duplicate hostname to be denied")
    assert ('[orkestra] validation failed: field "spec.hostname": hostname already used by another Route '
            '(got: "shop.example.com")') in stderr
    kubectl("apply", "-f", "-", input=route("c", namespace, "blog.example.com"))    # a free value passes
    kubectl("apply", "-f", "-", input=route("a", namespace, "shop.example.com"))    # A keeps its own value
    status, body = gw.get("/katalog/route")
    assert status == 200 and body["admission"]["validationDenied"] >= 1
