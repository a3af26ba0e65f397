"""REST paths for any group/version/resource: `/api/v1/...` for the core group, `/apis/<g>/<v>/...`
for every other group. Pure functions, so every caller (client, discovery, tests) builds paths
the same way.
"""
from __future__ import annotations

from urllib.parse import quote

from orkestra.gvk import GVR


def group_version_path(group: str, version: str) -> str:
    """`/api/v1` for the core group, `/apis/<group>/<version>` otherwise."""
    return f"/apis/{group}/{version}" if group else f"/api/{version}"


def resource_path(gvr: GVR, namespace: str | None = None, name: str | None = None,
                  subresource: str | None = None) -> str:
    """The collection path, or the object path when `name` is given.

    `namespace=None` (or "") addresses a cluster-scoped resource or every namespace.
    """
    path = group_version_path(gvr.group, gvr.version)
    if namespace:
        path += f"/namespaces/{quote(namespace, safe='')}"
    path += f"/{gvr.resource}"
    if name is not None:
        if not name:
            raise ValueError(f"{gvr}: empty object name")
        path += f"/{quote(name, safe='')}"
        if subresource:
            path += f"/{subresource}"
    return path


def describe(gvr: GVR, namespace: str | None = None, name: str | None = None) -> str:
    """Human-readable resource for error messages: `deployments.apps "web" in namespace "ns"`."""
    text = f"{gvr.resource}.{gvr.group}" if gvr.group else gvr.resource
    if name:
        text += f' "{name}"'
    if namespace:
        text += f' in namespace "{namespace}"'
    return text
