"""Every pack example is complete, self-consistent and validates with no warning (docs/packs.md).

Examples are unpacked with `ork init` into a temp dir and loaded from there, as a user would:
the hooks are imported from the unpacked copy, never from the installed package.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from orkestra import packs
from orkestra.cli.init import init
from orkestra.cli.main import cli
from orkestra.katalog.loader import load_report

EXAMPLES = [f"{p.name}/{e}" for p in packs.index() for e in p.examples]
REQUIRED = {"README.md", "katalog.yaml", "crd.yaml", "cr.yaml", "expect.yaml"}
SECTIONS = ("## What it shows", "## Run it", "## What to look at", "## Clean up")
EXPECT_KEYS = {"env", "katalog", "crs", "objects", "events", "steps", "metrics", "log_has", "log_order",
               "leader_election", "wait_for_webhooks", "wait_for_crd_conversion", "apply_fails_with"}


@pytest.fixture(scope="module")
def unpacked(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("packs")
    for pack in packs.index():
        result = CliRunner().invoke(init, [str(root / pack.name), "--pack", pack.name])
        assert result.exit_code == 0, result.output
    return root


def test_the_index_lists_the_five_packs_in_order():
    assert [p.name for p in packs.index()] == ["beginner", "intermediate", "advanced", "security", "resilience"]
    assert packs.index()[4].examples == ("safe-reconcile", "leader-failover", "crd-missing-recovery")


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_has_every_file_and_readme_section(name):
    pack, example = name.split("/")
    files = set(packs.example_files(pack, example))
    assert REQUIRED <= files
    readme = (Path(packs.__file__).parent / pack / example / "README.md").read_text()
    positions = [readme.find(s) for s in SECTIONS]
    assert -1 not in positions and positions == sorted(positions), f"{name}: README sections missing or out of order"


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_validates_without_warnings(name, unpacked, monkeypatch):
    pack, example = name.split("/")
    directory = unpacked / pack / example
    monkeypatch.chdir(directory)
    report = load_report([str(directory / "katalog.yaml")])
    assert report.ok, [str(e) for e in report.errors]
    assert report.warnings == [], [str(w) for w in report.warnings]


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_cr_and_expectation_names_a_kind_the_example_declares(name, unpacked):
    pack, example = name.split("/")
    directory = unpacked / pack / example
    report = load_report([str(directory / "katalog.yaml")])
    kinds = {(e.api.group, e.api.kind) for e in report.entries.values()}
    crds = [d for f in directory.glob("*crd.yaml") for d in yaml.safe_load_all(f.read_text())
            if d["kind"] == "CustomResourceDefinition"]
    served = {(d["spec"]["group"], d["spec"]["names"]["kind"]) for d in crds}
    assert {k for k in kinds if k[0]} <= served, f"{name}: an entry's CRD is missing from the example"
    for doc in yaml.safe_load_all((directory / "cr.yaml").read_text()):
        group = doc["apiVersion"].rpartition("/")[0]
        assert (group, doc["kind"]) in kinds, f"{name}: cr.yaml has {doc['kind']}, which no entry watches"
    expect = yaml.safe_load(packs.example_dir(pack, example).joinpath("expect.yaml").read_text())
    assert set(expect) <= EXPECT_KEYS, set(expect) - EXPECT_KEYS
    assert set(expect.get("katalog", {})) <= set(report.entries)
    assert expect.get("crs") or expect.get("objects")


def test_custom_kinds_use_the_pack_group_and_an_open_schema(unpacked):
    for name in EXAMPLES:
        pack, example = name.split("/")
        for f in (unpacked / pack / example).glob("*crd.yaml"):
            for doc in yaml.safe_load_all(f.read_text()):
                if doc["kind"] != "CustomResourceDefinition":
                    continue
                assert doc["spec"]["group"] == f"{pack}.demo.orkestra.io", f
                for version in doc["spec"]["versions"]:
                    props = version["schema"]["openAPIV3Schema"]["properties"]
                    assert version["subresources"] == {"status": {}}
                    assert props["spec"]["x-kubernetes-preserve-unknown-fields"] is True
                    assert props["status"]["x-kubernetes-preserve-unknown-fields"] is True


def test_every_expect_key_is_documented():
    doc = (Path(__file__).resolve().parents[3] / "docs" / "packs.md").read_text()
    assert {key for key in EXPECT_KEYS if f"| `{key}` |" not in doc} == set()


def test_the_offline_claims_of_packs_md_hold(unpacked, monkeypatch):
    """What docs/packs.md promises without a cluster: hooks' managedResources reach the RBAC, the
    dependencies form three levels, and the Komposer's override reaches the merged Katalog."""
    from orkestra.katalog.rbac import entry_rules

    hooks = load_report([str(unpacked / "advanced" / "hooks" / "katalog.yaml")])
    assert any(r.resource == "configmaps" and "create" in r.verbs for r in entry_rules(hooks.entries["backup"]))

    monkeypatch.chdir(unpacked / "advanced" / "dependencies")
    graph = CliRunner().invoke(cli, ["template", "--graph"])
    assert graph.exit_code == 0, graph.output
    assert [line.split()[:3] for line in graph.output.splitlines() if line.startswith("level")] == [
        ["level", "0", "tenant"], ["level", "1", "database"], ["level", "2", "application"]]

    komposer = load_report([str(unpacked / "intermediate" / "komposer-basic" / "katalog.yaml")])
    assert set(komposer.entries) == {"website", "cache"}
    assert komposer.entries["cache"].box_spec.workers == 4 and komposer.entries["website"].box_spec.workers == 3
