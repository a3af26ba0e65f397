from __future__ import annotations

import pytest

from orkestra.katalog.issues import KatalogErrors
from orkestra.katalog.loader import load_katalog

BODY = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: model, description: d, version: 1.2, author: me, tags: [a]}
security:
  deletionProtection: {strictMode: true}
  namespaceProtection: {restrictedNamespaces: [kube-system]}
spec:
  finalizers: [x.io/global]
  crds:
    web:
      apiTypes: {group: d.io, version: v1, kind: Web, plural: webs}
      deletionProtection: {protectCRs: false}
      endpoints: {info: false}
      operatorBox:
        finalizers: [x.io/own]
        onDelete: {jobs: [{image: busybox}]}
    own-rules:
      apiTypes: {group: d.io, version: v1, kind: Own, plural: owns}
      allowedNamespaces: [team-*]
      enabled: false
"""


def test_every_default_and_effective_value(tmp_path):
    path = tmp_path / "k.yaml"
    path.write_text(BODY)
    k = load_katalog([str(path)])
    assert (k.name, k.description, k.version, k.author, k.tags, k.kind) == ("model", "d", "1.2", "me", ["a"], "Katalog")
    assert k.security["deletionProtection"] == {"enabled": True, "failurePolicy": "Fail", "strictMode": True,
                                                "cleanupOnShutdown": False}
    assert k.security["admission"] == {"failurePolicy": "Ignore"} and k.security["serviceName"] == "orkestra"
    web = k.crds["web"]
    assert web.deletion_protection == {"enabled": True, "protectCRD": True, "protectCRs": False, "strictMode": True}
    assert web.restricted_namespaces == ["kube-system"] and web.allowed_namespaces == []
    assert web.endpoints == {"enabled": True, "health": True, "info": False}
    assert web.box_spec.finalizers == ["x.io/global", "x.io/own"]
    assert web.has_templates and web.template_types("onDelete") == ["jobs"]
    assert (web.force_conflict, web.ignore_status_patch, web.ignore_observed_generation) == (True, False, False)
    assert web.box_spec.status == {"conditions": True, "fields": []} and web.box_spec.delete_timeout is None
    assert web.source == str(path)
    own = k.crds["own-rules"]
    assert own.enabled is False and own.allowed_namespaces == ["team-*"] and own.restricted_namespaces == []
    assert k.start_order == ["web"] and [e.key for e in k.enabled] == ["web"]
    assert list(k.crds) == ["own-rules", "web"]
    assert k.raw["metadata"]["version"] == 1.2 and k.canonical == k.raw
    assert k.enriched["spec"]["crds"]["web"]["operatorBox"]["onDelete"] == {"jobs": [{"image": "busybox"}]}


def test_load_katalog_raises_with_every_issue(tmp_path):
    path = tmp_path / "k.yaml"
    path.write_text(BODY.replace("plural: webs}", "plural: webs, x: 1}").replace("enabled: false", "enabled: maybe"))
    with pytest.raises(KatalogErrors) as exc:
        load_katalog([str(path)])
    assert sorted(i.crd for i in exc.value.issues) == ["own-rules", "web"]
    assert sorted(line.split(": ")[0] for line in str(exc.value).splitlines()) == [f"{path}:11:69", f"{path}:20:7"]
