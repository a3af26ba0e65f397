"""Every command that loads a Katalog still honours the environment's Katalog variables
(ORK_REGISTRY, ORK_HOOKS_PATH, the per-CRD defaults) now that `load_report(paths)` without
`inputs` ignores the environment (issue 10 item 4): each passes `CliSettings.katalog` or
`Settings.katalog`. A command that forgot would load as if the variables were unset."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from orkestra.cli.main import cli
from tests.unit.cli.test_run_settings import served  # noqa: F401 - fixture

KATALOG = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: shared}
spec:
  crds:
    website:
      apiTypes: {group: demo.io, version: v1, kind: Website, plural: websites}
"""
KOMPOSER = """\
apiVersion: orkestra.orkspace.io/v1
kind: Komposer
metadata: {name: platform, version: 1.0.0}
imports: {registry: [{name: website}]}
spec:
  crds: {}
"""
HOOKED = KATALOG + "      operatorBox: {reconciler: {hooks: {module: elsewhere_hooks, function: factory}}}\n"
UNSET = {"ORK_REGISTRY": None, "ORK_HOOKS_PATH": None, "DEFAULT_WORKERS": None}


@pytest.fixture
def komposer(tmp_path):
    """A Komposer whose only CRD comes from the ORK_REGISTRY directory; returns (file, registry)."""
    registry = tmp_path / "registry"
    (registry / "katalogs" / "website" / "latest").mkdir(parents=True)
    (registry / "katalogs" / "website" / "latest" / "katalog.yaml").write_text(KATALOG)
    path = tmp_path / "app" / "komposer.yaml"
    path.parent.mkdir()
    path.write_text(KOMPOSER)
    return str(path), str(registry)


def invoke(args: list[str], **env: str):
    return CliRunner().invoke(cli, args, env={**UNSET, **env})


@pytest.mark.parametrize("command", [["validate"], ["template"], ["generate", "rbac"]])
def test_the_registry_comes_from_the_environment(komposer, command):
    path, registry = komposer
    assert invoke([*command, "-f", path], ORK_REGISTRY=registry).exit_code == 0
    unset = invoke([*command, "-f", path])
    assert unset.exit_code == 1 and "ORK_REGISTRY is not set" in unset.output + unset.stderr


def test_gate_takes_the_registry_from_the_environment(komposer, tmp_path):
    path, registry = komposer
    cr = tmp_path / "cr.yaml"
    cr.write_text("apiVersion: demo.io/v1\nkind: Website\nmetadata: {name: a, namespace: default}\nspec: {}\n")
    assert invoke(["gate", "-f", path, "--cr", str(cr)], ORK_REGISTRY=registry).exit_code == 0
    unset = invoke(["gate", "-f", path, "--cr", str(cr)])
    assert unset.exit_code == 2 and "ORK_REGISTRY is not set" in unset.stderr


def test_events_finds_the_kind_through_the_environments_registry(komposer, monkeypatch):
    from orkestra.cli.events import _kind_of
    path, registry = komposer
    monkeypatch.setenv("ORK_REGISTRY", registry)
    assert _kind_of("website", (path,)) == "Website"


def test_template_fills_in_the_environments_default_workers(tmp_path):
    path = tmp_path / "katalog.yaml"
    path.write_text(KATALOG)
    result = invoke(["template", "-f", str(path)], DEFAULT_WORKERS="7")
    assert result.exit_code == 0 and "workers: 7" in result.stdout
    bad = invoke(["validate", "-f", str(path)], DEFAULT_WORKERS="lots")
    assert bad.exit_code == 1 and 'invalid DEFAULT_WORKERS "lots"' in bad.output


def test_validate_searches_the_environments_hooks_path(tmp_path):
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "elsewhere_hooks.py").write_text("def factory():\n    return {'on_reconcile': lambda *a: None}\n")
    path = tmp_path / "app" / "katalog.yaml"
    path.parent.mkdir()
    path.write_text(HOOKED)
    found = invoke(["validate", "-f", str(path)], ORK_HOOKS_PATH=str(extra))
    assert found.exit_code == 0, found.output
    missing = invoke(["validate", "-f", str(path)])
    assert missing.exit_code == 1 and 'cannot import "elsewhere_hooks"' in missing.output


def test_run_loads_with_the_environments_registry(komposer, served):
    path, registry = komposer
    result = invoke(["run", "-f", path], ORK_REGISTRY=registry)
    assert result.exit_code == 0, result.output
    assert served["settings"].katalog.registry == registry and list(served["katalog"].crds) == ["website"]
    unset = invoke(["run", "-f", path])
    assert unset.exit_code == 1 and "ORK_REGISTRY is not set" in unset.stderr
