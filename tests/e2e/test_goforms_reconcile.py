"""Katalogs written for the Go Orkestra, reconciled on the real local control plane (issue 13).

Each test loads a Go-form Katalog through the real loader (legacy normalisation included), hands
the loaded templates and status fields to the reconciler of `test_reconcile_direct`, and checks
what the API server stored: forEach over a map (C11), env `valueFrom` (C16), the ConfigMap copy
form (C4), a Go-form custom child (C2) read back through `.children.customs` (C9), and a condition
on a plain path into `.children` (C7).
"""
from __future__ import annotations

import os
import textwrap

from orkestra.katalog.loader import load_report
from tests.e2e.test_reconcile_direct import CONFIGMAPS, DEPLOYMENTS, crd_kind, harness  # noqa: F401 (fixtures)

HEAD = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: goforms}
spec:
  crds:
    website:
      apiTypes: {group: demo.example.com, version: v1, kind: Site, plural: sites}
      operatorBox:
"""


def _box(tmp_path, body: str) -> tuple[dict, dict]:
    path = tmp_path / "katalog.yaml"
    path.write_text(HEAD + textwrap.indent(textwrap.dedent(body), " " * 8))
    report = load_report([str(path)])
    assert report.ok, [str(e) for e in report.errors]
    box = report.katalog.crds["website"].box_spec
    return box.templates, box.status


def test_for_each_map_and_env_value_from(harness, tmp_path):
    templates, status = _box(tmp_path, """\
    onReconcile:
      configMaps:
        - forEach: {field: spec.quotas, as: tier}
          name: "{{ .metadata.name }}-{{ .item }}"
          data: {limit: "{{ .value }}", position: "{{ .index }}", tier: "{{ .tier }}"}
      deployments:
        - image: nginx:1.27
          env:
            MODE: {value: production}
            PASSWORD:
              valueFrom:
                secretKeyRef: {name: "{{ .metadata.name }}-db", key: password}
    """)
    h = harness(templates=templates, status=status)
    h.create("shop", {"quotas": {"gold": 3, "bronze": 1}})
    h.reconcile("shop")
    gold = h.kube.get(CONFIGMAPS, "shop-gold", h.ns)
    bronze = h.kube.get(CONFIGMAPS, "shop-bronze", h.ns)
    assert gold["data"] == {"limit": "3", "position": "1", "tier": "gold"}
    assert bronze["data"] == {"limit": "1", "position": "0", "tier": "bronze"}
    env = h.kube.get(DEPLOYMENTS, "shop-deployment", h.ns)["spec"]["template"]["spec"]["containers"][0]["env"]
    assert env == [{"name": "MODE", "value": "production"},
                   {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "shop-db", "key": "password"}}}]


def test_configmap_copy_custom_child_customs_and_context_condition(harness, tmp_path):
    templates, status = _box(tmp_path, """\
    onReconcile:
      configMaps:
        - name: "{{ .metadata.name }}-settings"
          fromConfigMap: shared-settings
        - name: "{{ .metadata.name }}-ready"
          when: [{field: children.configmap.data.region, equals: eu}]
          data: {ready: "true"}
      custom:
        - apiVersion: v1
          kind: ConfigMap
          metadata:
            name: "{{ .metadata.name }}-catalogue"
            labels: [{key: tier, value: backend}]
          data: {items: "{{ .spec.items }}"}
    status:
      fields:
        - path: items
          value: '{{ with index .children.customs (printf "%s-catalogue" .metadata.name) }}{{ .data.items }}{{ end }}'
        - path: phase
          value: Ready
          when: [{field: children.configmap.data.region, equals: eu}]
    """)
    h = harness(templates=templates, status=status)
    h.kube.create(CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "shared-settings"},
                               "data": {"region": "eu"}}, h.ns)
    h.create("north", {"items": "3"})
    h.reconcile("north")
    copy = h.kube.get(CONFIGMAPS, "north-settings", h.ns)
    assert copy["data"] == {"region": "eu"}
    assert copy["metadata"]["labels"]["orkestra.io/template"] == "onReconcile.configMaps.0"
    catalogue = h.kube.get(CONFIGMAPS, "north-catalogue", h.ns)
    assert catalogue["data"] == {"items": "3"} and catalogue["metadata"]["labels"]["tier"] == "backend"
    assert h.kube.get(CONFIGMAPS, "north-ready", h.ns)["data"] == {"ready": "true"}
    live = h.cr("north")["status"]
    assert live["items"] == "3" and live["phase"] == "Ready"
    assert h.kube.get(CONFIGMAPS, "shared-settings", h.ns)["metadata"].get("labels") is None   # source untouched


def test_install_crds_applies_the_crd_file_and_waits_until_established(kube):
    """`ork run --install-crds`: the crdFile manifest becomes a served kind."""
    from orkestra.cli._install_crds import CRDS, install_crds
    from orkestra.gvk import GVR
    corpus = os.path.join(os.path.dirname(__file__), "..", "unit", "katalog", "goforms", "crd-file.yaml")
    report = load_report([corpus])
    assert report.ok, [str(e) for e in report.errors]
    try:
        assert install_crds(kube, report.katalog) == ["searchindices.demo.example.com"]
        crd = kube.get(CRDS, "searchindices.demo.example.com")
        assert crd["metadata"]["managedFields"][0]["manager"] == "orkestra"
        items, _ = kube.list(GVR("demo.example.com", "v1", "searchindices"))   # served right away
        assert items == []
        assert install_crds(kube, report.katalog) == ["searchindices.demo.example.com"]   # idempotent
    finally:
        kube.delete(CRDS, "searchindices.demo.example.com")
