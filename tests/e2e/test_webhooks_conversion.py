"""Conversion through the real API server: a two-version CRD whose conversion webhook Orkestra
patches in (caBundle from the generated CA); objects written as v1alpha1 read as v1 and back."""
from __future__ import annotations

import json

from tests.e2e.ork_runtime import ork_runtime  # noqa: F401
from tests.e2e.webhook_helpers import CRDS, crd, eventually, webhook_cleanup  # noqa: F401

GROUP = "data.wh.example.io"
PATHS = {"storageVersion": "v1", "paths": [
    {"from": "v1alpha1", "to": "v1", "spec": {"engine": '{{ .spec.engine | default "redis" }}',
                                              "memory": "{{ .spec.size }}", "evictionPolicy": "allkeys-lru"}},
    {"from": "v1", "to": "v1alpha1", "spec": {"engine": "{{ .spec.engine }}", "size": "{{ .spec.memory }}"}},
]}
KATALOG = {
    "apiVersion": "orkestra.orkspace.io/v1", "kind": "Katalog", "metadata": {"name": "cache-service"},
    "spec": {"crds": {
        "cache-v1alpha1": {"apiTypes": {"group": GROUP, "version": "v1alpha1", "kind": "Cache", "plural": "caches"},
                           "conversion": PATHS, "ignoreStatusPatch": True},
        "cache-v1": {"apiTypes": {"group": GROUP, "version": "v1", "kind": "Cache", "plural": "caches"},
                     "conversion": PATHS, "ignoreStatusPatch": True},
    }},
}


def test_objects_convert_both_ways_through_convert(namespace, apply_crd, webhook_cleanup, ork_runtime, kubectl, kube):
    apply_crd(crd(GROUP, "Cache", "caches", ["v1alpha1", "v1"], storage="v1"))
    ork = ork_runtime(KATALOG, env={"ENABLE_CONVERSION": "true", "NAMESPACE": namespace})

    def patched():
        conv = (kube.get(CRDS, f"caches.{GROUP}") or {}).get("spec", {}).get("conversion", {})
        return conv if conv.get("strategy") == "Webhook" else None
    conv = eventually(patched, what="the CRD conversion webhook patch")
    assert conv["webhook"]["clientConfig"]["url"] == f"https://127.0.0.1:{ork.webhook_port}/convert"
    assert conv["webhook"]["clientConfig"]["caBundle"] and conv["webhook"]["conversionReviewVersions"] == ["v1"]

    old = json.dumps({"apiVersion": f"{GROUP}/v1alpha1", "kind": "Cache",
                      "metadata": {"name": "c1", "namespace": namespace}, "spec": {"size": "1Gi"}})
    eventually(lambda: kubectl("apply", "-f", "-", input=old, check=False).returncode == 0,
               what="a v1alpha1 write converted to the v1 storage version")

    as_v1 = json.loads(kubectl("get", f"caches.v1.{GROUP}", "c1", "-n", namespace, "-o", "json").stdout)
    assert as_v1["apiVersion"] == f"{GROUP}/v1"
    assert as_v1["spec"] == {"engine": "redis", "memory": "1Gi", "evictionPolicy": "allkeys-lru"}
    as_alpha = json.loads(kubectl("get", f"caches.v1alpha1.{GROUP}", "c1", "-n", namespace, "-o", "json").stdout)
    assert as_alpha["apiVersion"] == f"{GROUP}/v1alpha1"
    assert as_alpha["spec"] == {"engine": "redis", "size": "1Gi"}

    def stats():
        status, body = ork.get("/katalog/cache-v1")
        block = body.get("conversion", {}) if status == 200 else {}
        return block if {"v1alpha1→v1", "v1→v1alpha1"} <= set(block.get("byDirection", {})) else None
    block = eventually(stats, what="conversion stats in both directions")
    assert block["enabled"] is True and block["storageVersion"] == "v1"
    assert block["paths"] == ["v1alpha1→v1", "v1→v1alpha1"]
    assert block["total"] >= 2 and block["failures"] == 0 and block["success"] == block["total"]
    assert 0 < block["avgLatencyMs"] <= block["maxLatencyMs"]
    status, other = ork.get("/katalog/cache-v1alpha1")
    assert status == 200 and other["conversion"]["total"] >= block["total"]   # one group, one block
