from __future__ import annotations

import json

import yaml
from click.testing import CliRunner

from orkestra.cli.main import cli


def run(*args: str):
    return CliRunner().invoke(cli, list(args), env={})


def test_yaml_is_the_default_and_prints_every_default():
    result = run("template", "-f", "examples/hello-website.yaml")
    assert result.exit_code == 0, result.stderr
    doc = yaml.safe_load(result.stdout)
    website = doc["spec"]["crds"]["website"]
    assert doc["apiVersion"] == "orkestra.orkspace.io/v1"
    assert website["operatorBox"]["reconciler"] == {
        "default": True, "workers": 3, "resync": "15s", "timeout": "5m0s",
        "queue": {"maxDepth": 100, "onLimit": "warn", "failureThreshold": 5}}
    assert website["webhooks"] == {"validation": True, "mutation": True, "operations": ["CREATE", "UPDATE"]}
    assert yaml.safe_load(run("template", "-f", "examples/hello-website.yaml", "--yaml").stdout) == doc


def test_json_matches_yaml():
    as_json = json.loads(run("template", "-f", "examples/blog-platform.yaml", "--json").stdout)
    as_yaml = yaml.safe_load(run("template", "-f", "examples/blog-platform.yaml").stdout)
    assert as_json == as_yaml


def test_legacy_input_prints_canonical(tmp_path):
    path = tmp_path / "k.yaml"
    path.write_text("apiVersion: orkestra.konductor.io/v1Alpha\nkind: Katalog\nmetadata: {name: l}\nspec:\n  crds:\n"
                    "    - name: a\n      apiTypes: {group: d.io, version: v1, kind: A, plural: as}\n      workers: 4\n")
    doc = yaml.safe_load(run("template", "-f", str(path)).stdout)
    assert doc["apiVersion"] == "orkestra.orkspace.io/v1"
    assert doc["spec"]["crds"]["a"]["operatorBox"]["reconciler"]["workers"] == 4


def test_graph(tmp_path):
    path = tmp_path / "k.yaml"
    body = "".join(f"    {k}:\n      apiTypes: {{group: d.io, version: v1, kind: K{k}, plural: {k}s}}\n{deps}"
                   for k, deps in (("cache", ""), ("tenant", ""), ("database", "      dependsOn: [tenant]\n"),
                                   ("application", "      dependsOn: {database: healthy, tenant: started}\n")))
    path.write_text("apiVersion: orkestra.orkspace.io/v1\nkind: Katalog\nmetadata: {name: g}\nspec:\n  crds:\n" + body)
    result = run("template", "-f", str(path), "--graph")
    assert result.stdout == (
        "level 0  cache, tenant\n"
        "level 1  database       ← tenant [started]\n"
        "level 2  application    ← database [healthy] · tenant [started]\n"
        "shutdown order: application, database, tenant, cache\n")


def test_errors_print_the_report_to_stderr_and_exit_1(tmp_path):
    path = tmp_path / "k.yaml"
    path.write_text("apiVersion: orkestra.orkspace.io/v1\nkind: Katalog\nmetadata: {name: g}\nspec:\n  crds:\n"
                    "    a: {apiTypes: {group: d.io, version: v1, kind: A, plural: as}, dependsOn: [a]}\n")
    result = run("template", "-f", str(path))
    assert result.exit_code == 1 and result.stdout == ""
    assert "✗ a\n    error: " in result.stderr and "circular dependency: a → a" in result.stderr
