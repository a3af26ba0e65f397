"""Test builders: a CrdEntry / Katalog with every field filled as the loader would, and a CR dict."""
from __future__ import annotations

from orkestra.katalog.model import ApiTypes, CrdEntry, Katalog, OperatorBoxSpec, QueueSettings


def make_entry(key: str = "website", *, templates: dict | None = None, status: dict | None = None,
               labels: dict | None = None, validation: dict | None = None, mutation: dict | None = None,
               finalizers: list[str] | None = None, delete_timeout: float | None = None, hooks=None,
               builtin: bool = False, namespaced: bool = True, protection: dict | None = None,
               allowed: list[str] | None = None, restricted: list[str] | None = None,
               ignore_status_patch: bool = False) -> CrdEntry:
    api = (ApiTypes("apps", "v1", "Deployment", "deployments", True, True) if builtin else
           ApiTypes("demo.orkestra.io", "v1alpha1", "Website", "websites", namespaced, False))
    box = OperatorBoxSpec(workers=1, workers_source="configured", resync=0, timeout=300,
                          queue=QueueSettings(100, "warn", 5), hooks=hooks, finalizers=finalizers or [],
                          delete_timeout=delete_timeout, templates=templates or {},
                          status=status if status is not None else {"conditions": True, "fields": []})
    return CrdEntry(key=key, enabled=True, description="", api=api, namespace="", label_selector={},
                    field_selector={}, depends_on=[], labels=labels or {},
                    endpoints={"enabled": True, "health": True, "info": True},
                    allowed_namespaces=allowed or [], restricted_namespaces=restricted or [],
                    validation=validation, mutation=mutation, conversion=None,
                    webhooks={"validation": True, "mutation": True, "operations": ["CREATE", "UPDATE"]},
                    deletion_protection=protection or {"enabled": False, "protectCRD": True, "protectCRs": True,
                                                       "strictMode": False},
                    force_conflict=True, ignore_status_patch=ignore_status_patch, ignore_observed_generation=False,
                    box_spec=box)


def make_katalog(*entries: CrdEntry, name: str = "test-katalog") -> Katalog:
    return Katalog(name=name, version="", description="", author="", tags=[], kind="Katalog", security={},
                   finalizers=[], crds={e.key: e for e in entries}, start_order=[e.key for e in entries],
                   sources=[])


def make_cr(name: str = "site", namespace: str | None = "default", *, spec: dict | None = None,
            uid: str = "uid-1", generation: int = 1, status: dict | None = None, **meta) -> dict:
    metadata = {"name": name, "uid": uid, "generation": generation, "resourceVersion": "10",
                "creationTimestamp": "2026-01-01T00:00:00Z", **meta}
    if namespace:
        metadata["namespace"] = namespace
    cr = {"apiVersion": "demo.orkestra.io/v1alpha1", "kind": "Website", "metadata": metadata, "spec": spec or {}}
    if status is not None:
        cr["status"] = status
    return cr
