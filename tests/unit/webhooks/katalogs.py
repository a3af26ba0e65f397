"""Katalogs and review builders shared by the webhook unit tests (loaded with the real loader)."""
from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

from orkestra.katalog import load_katalog
from orkestra.katalog.model import Katalog

GUARDED = """
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: guarded}
security:
  deletionProtection: {enabled: true}
  namespaceProtection: {restrictedNamespaces: [kube-system, "secret-*"]}
spec:
  crds:
    service-app:
      apiTypes: {group: apps.example.io, version: v1, kind: ServiceApp, plural: serviceapps}
      validation:
        rules:
          - {field: spec.image, prefix: "registry.internal/", message: "images must come from registry.internal/"}
          - {field: spec.replicas, max: 20, message: "replicas cannot exceed 20"}
          - {field: metadata.labels.team, exists: true, action: warn, message: "declare a team owner label"}
          - {field: spec.hostname, unique: true, message: "hostname already used"}
      mutation:
        rules:
          - {field: spec.replicas, default: 2}
          - {field: metadata.labels.tier, override: backend}
      webhooks: {operations: [CREATE, UPDATE, DELETE]}
    team-app:
      apiTypes: {group: apps.example.io, version: v1, kind: ServiceApp, plural: serviceapps}
      namespace: team-a
      labelSelector: {owner: team}
      allowedNamespaces: ["team-*"]
      deletionProtection: {protectCRD: false, strictMode: true}
      validation:
        rules:
          - {field: spec.owner, exists: true, message: "team apps need an owner"}
    cache-v1alpha1:
      apiTypes: {group: data.example.io, version: v1alpha1, kind: Cache, plural: caches}
      conversion: &c
        storageVersion: v1
        paths:
          - from: v1alpha1
            to: v1
            spec: {engine: "{{ .spec.engine | default \\"redis\\" }}", memory: "{{ .spec.size }}", evictionPolicy: allkeys-lru, extra: "{{ .spec.missing }}"}
          - from: v1
            to: v1alpha1
            spec: {engine: "{{ .spec.engine }}", size: "{{ .spec.memory }}"}
      ignoreStatusPatch: true
    cache-v1:
      apiTypes: {group: data.example.io, version: v1, kind: Cache, plural: caches}
      conversion: *c
    cache-v2:
      apiTypes: {group: data.example.io, version: v2, kind: Cache, plural: caches}
"""


def load(tmp_path: Path, text: str = GUARDED) -> Katalog:
    path = tmp_path / "katalog.yaml"
    path.write_text(textwrap.dedent(text))
    return load_katalog([str(path)])


def obj(name: str = "app", namespace: str = "default", *, kind: str = "ServiceApp",
        api_version: str = "apps.example.io/v1", labels: dict | None = None, **spec: Any) -> dict:
    meta: dict[str, Any] = {"name": name, "namespace": namespace, "uid": f"uid-{namespace}-{name}"}
    if labels is not None:
        meta["labels"] = labels
    return {"apiVersion": api_version, "kind": kind, "metadata": meta, "spec": spec}


def admission(op: str, new: dict | None, old: dict | None = None, *, uid: str = "u-1", dry_run: bool = False,
              resource: dict | None = None) -> dict:
    subject = new or old or {}
    group, _, version = subject.get("apiVersion", "v1").rpartition("/")
    meta = subject.get("metadata", {})
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {"uid": uid, "kind": {"group": group, "version": version, "kind": subject.get("kind", "")},
                        "resource": resource or {"group": group, "version": version,
                                                 "resource": subject.get("kind", "").lower() + "s"},
                        "namespace": meta.get("namespace", ""), "name": meta.get("name", ""),
                        "operation": op, "object": new, "oldObject": old, "dryRun": dry_run}}


def post(client: Any, path: str, body: Any) -> Any:
    return client.post(path, data=json.dumps(body), content_type="application/json")
