"""Group/version/kind and group/version/resource identities shared by every layer.

Kept free of any client import so that the offline commands (validate, generate) can use it.
"""
from __future__ import annotations

from typing import NamedTuple


def api_version_of(group: str, version: str) -> str:
    """`apps/v1`, or `v1` for the core group."""
    return f"{group}/{version}" if group else version


def split_api_version(api_version: str) -> tuple[str, str]:
    """Inverse of :func:`api_version_of`: `apps/v1` -> (`apps`, `v1`), `v1` -> (``, `v1`)."""
    group, _, version = api_version.rpartition("/")
    return group, version


class GVK(NamedTuple):
    group: str
    version: str
    kind: str

    @property
    def api_version(self) -> str:
        return api_version_of(self.group, self.version)

    def __str__(self) -> str:  # README convention: "group/version, Kind=Kind"
        return f"{self.group}/{self.version}, Kind={self.kind}"


class GVR(NamedTuple):
    group: str
    version: str
    resource: str

    @property
    def api_version(self) -> str:
        return api_version_of(self.group, self.version)

    def __str__(self) -> str:
        return f"{self.group}/{self.version}/{self.resource}" if self.group else f"{self.version}/{self.resource}"
