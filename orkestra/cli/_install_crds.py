"""`ork run --install-crds`: apply the CRD manifests that Katalog entries name with `crdFile:`.

A development shortcut from the Go Orkestra (issue 13). Each manifest is server-side applied
without `force`, so a CRD whose fields another manager owns is reported, not taken over; then
the runtime waits until the API server reports it Established, because informers cannot start
on a kind that is not served yet.
"""
from __future__ import annotations

import time
from typing import Callable

from orkestra.gvk import GVR
from orkestra.katalog.crdfile import CrdFileError, read_crd_manifest
from orkestra.katalog.model import Katalog
from orkestra.katalog.source import SourceError
from orkestra.kube.client import KubeClient
from orkestra.kube.errors import ApiError

CRDS = GVR("apiextensions.k8s.io", "v1", "customresourcedefinitions")
ESTABLISH_TIMEOUT = 30.0


class InstallError(Exception):
    """A CRD manifest that could not be applied or did not become Established (message says which)."""


def crd_files(katalog: Katalog) -> dict[str, str]:
    """CRD key -> resolved `crdFile` path, for the enabled entries that name one."""
    return {key: entry.crd_file for key, entry in katalog.crds.items() if entry.enabled and entry.crd_file}


def _established(crd: dict | None) -> bool:
    conditions = ((crd or {}).get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)


def install_crds(kube: KubeClient, katalog: Katalog, *, timeout: float = ESTABLISH_TIMEOUT,
                 sleep: Callable[[float], None] = time.sleep) -> list[str]:
    """Apply every `crdFile` manifest and wait until each is Established; the CRD names applied."""
    names: list[str] = []
    applied: set[str] = set()
    for key, path in crd_files(katalog).items():
        if path in applied:
            continue   # entries of one conversion group share their manifest: apply it once
        applied.add(path)
        try:
            manifest = read_crd_manifest(path)
        except (SourceError, CrdFileError) as exc:
            raise InstallError(f"spec.crds.{key}.crdFile: {path}: {exc}") from None
        name = (manifest.get("metadata") or {}).get("name")
        if not isinstance(name, str) or not name:
            raise InstallError(f"spec.crds.{key}.crdFile: {path}: the CustomResourceDefinition has no metadata.name")
        try:
            kube.apply(CRDS, manifest, force=False)
        except ApiError as exc:
            raise InstallError(f"spec.crds.{key}.crdFile: cannot apply CustomResourceDefinition {name}: {exc}") from None
        names.append(name)
    deadline = time.monotonic() + timeout
    for name in names:
        while not _established(kube.get(CRDS, name)):
            if time.monotonic() > deadline:
                raise InstallError(f"CustomResourceDefinition {name} is not Established after {timeout:.0f}s")
            sleep(0.2)
    return names
