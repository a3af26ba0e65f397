from __future__ import annotations

import glob

import pytest

from orkestra.katalog.loader import load_katalog, load_report

EXAMPLES = sorted(glob.glob("examples/*.yaml"))


def test_all_six_examples_exist():
    assert [p.split("/")[-1] for p in EXAMPLES] == [
        "blog-platform.yaml", "cache-service.yaml", "deployment-governance.yaml", "guarded-services.yaml",
        "hello-website.yaml", "tenant-stack.yaml"]


@pytest.mark.parametrize("path", EXAMPLES)
def test_every_example_loads_without_errors(path):
    report = load_report([path])
    assert report.ok, [str(e) for e in report.errors]


def test_tenant_stack_start_order_and_model():
    k = load_katalog(["examples/tenant-stack.yaml"])
    assert k.start_order == ["tenant", "database", "application"]
    assert k.crds["tenant"].api.namespaced is False
    app = k.crds["application"]
    assert [(d.name, d.condition) for d in app.depends_on] == [("database", "healthy"), ("tenant", "started")]


def test_cache_service_conversion_and_governance_enrichment():
    k = load_katalog(["examples/cache-service.yaml"])
    assert k.crds["cache-v1"].conversion["updateCRD"] is True
    assert k.crds["cache-v1alpha1"].ignore_status_patch is True
    g = load_katalog(["examples/deployment-governance.yaml"]).crds["deployment-governance"]
    assert (g.api.group, g.api.plural, g.api.builtin, g.box_spec.resync) == ("apps", "deployments", True, 60.0)
    assert g.box_spec.status["conditions"] is False
