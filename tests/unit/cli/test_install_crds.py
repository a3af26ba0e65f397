"""`ork run --install-crds` (issue 13 crdFile): which manifests, conflicts, and the Established wait."""
from __future__ import annotations

import os

import pytest

from orkestra.cli._install_crds import InstallError, crd_files, install_crds
from orkestra.katalog.loader import load_report
from orkestra.kube.errors import ApiError

CORPUS = os.path.join(os.path.dirname(__file__), "..", "katalog", "goforms")


def _katalog(name: str):
    report = load_report([os.path.join(CORPUS, name)])
    assert report.ok, [str(e) for e in report.errors]
    return report.katalog


class FakeKube:
    """Records applies; the CRD becomes Established after `ready_after` reads."""

    def __init__(self, *, conflict: bool = False, ready_after: int = 1) -> None:
        self.applied: list[tuple[dict, bool]] = []
        self.conflict, self.ready_after, self.reads = conflict, ready_after, 0

    def apply(self, gvr, obj, namespace=None, force=True):
        if self.conflict:
            raise ApiError(status=409, reason="Conflict", message="conflict with kubectl", verb="apply",
                           resource=obj["metadata"]["name"])
        self.applied.append((obj, force))
        return obj

    def get(self, gvr, name, namespace=None):
        self.reads += 1
        status = "True" if self.reads >= self.ready_after else "False"
        return {"status": {"conditions": [{"type": "Established", "status": status}]}}


def test_only_entries_with_a_crd_file_are_installed():
    assert crd_files(_katalog("box-default.yaml")) == {}
    assert list(crd_files(_katalog("crd-file.yaml"))) == ["searchindex"]


def test_the_manifest_is_applied_without_force_and_waited_for():
    kube = FakeKube(ready_after=3)
    assert install_crds(kube, _katalog("crd-file.yaml"), sleep=lambda s: None) == ["searchindices.demo.example.com"]
    [(obj, force)] = kube.applied
    assert obj["kind"] == "CustomResourceDefinition" and force is False and kube.reads == 3


def test_a_conflict_is_reported_not_forced():
    with pytest.raises(InstallError, match="cannot apply CustomResourceDefinition searchindices.demo.example.com"):
        install_crds(FakeKube(conflict=True), _katalog("crd-file.yaml"))


def test_a_crd_that_never_becomes_established_times_out():
    with pytest.raises(InstallError, match="is not Established after 0s"):
        install_crds(FakeKube(ready_after=10**9), _katalog("crd-file.yaml"), timeout=0.0, sleep=lambda s: None)


def test_a_manifest_shared_by_several_entries_is_applied_once(tmp_path):
    """Review: entries of a conversion group may share one crdFile (one entry per served version)."""
    crd = open(os.path.join(CORPUS, "crds", "searchindex.yaml")).read()
    (tmp_path / "crd.yaml").write_text(crd)
    (tmp_path / "k.yaml").write_text(
        "apiVersion: orkestra.orkspace.io/v1\nkind: Katalog\nmetadata: {name: x}\nspec:\n  crds:\n"
        "    idx-v1: {crdFile: crd.yaml}\n"
        "    idx-v1alpha1: {crdFile: crd.yaml, apiTypes: {version: v1alpha1}, ignoreStatusPatch: true}\n")
    report = load_report([str(tmp_path / "k.yaml")])
    assert report.ok, [str(e) for e in report.errors]
    kube = FakeKube()
    assert install_crds(kube, report.katalog, sleep=lambda s: None) == ["searchindices.demo.example.com"]
    assert len(kube.applied) == 1
