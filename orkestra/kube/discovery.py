"""`Discovery`: which kinds the API server serves, with their plural, scope and subresources.

One resource list per group/version (`GET /api/v1`, `GET /apis/<group>/<version>`), cached, and
fetched again whenever a question cannot be answered from the cache ("refreshed on a miss"), so a
CRD created after start-up is found on the next lookup without any timer. A group/version the
server does not serve (404) is remembered as empty, and asked again on the next miss too.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from orkestra.gvk import GVR, split_api_version
from orkestra.kube.client import KubeClient
from orkestra.kube.errors import ApiError
from orkestra.kube.paths import group_version_path


@dataclass(frozen=True)
class GroupVersionResources:
    """What one group/version serves."""
    kinds: dict[str, tuple[str, bool]] = field(default_factory=dict)  # kind -> (plural, namespaced)
    plurals: frozenset[str] = frozenset()
    with_status: frozenset[str] = frozenset()

    @classmethod
    def from_resource_list(cls, body: dict) -> "GroupVersionResources":
        kinds: dict[str, tuple[str, bool]] = {}
        plurals, status = set(), set()
        for res in body.get("resources") or []:
            name = res.get("name", "")
            main, _, sub = name.partition("/")
            if sub:
                if sub == "status":
                    status.add(main)
                continue
            plurals.add(name)
            kinds.setdefault(res.get("kind", ""), (name, bool(res.get("namespaced"))))
        return cls(kinds, frozenset(plurals), frozenset(status))


class Discovery:
    def __init__(self, kube: KubeClient) -> None:
        self._kube = kube
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str], GroupVersionResources] = {}

    def resolve(self, api_version: str, kind: str) -> tuple[GVR, bool] | None:
        """(GVR, namespaced) for a kind, or None when the server does not serve it."""
        group, version = split_api_version(api_version)
        found = self._lookup(group, version, lambda gv: gv.kinds.get(kind))
        if found is None:
            return None
        plural, namespaced = found
        return GVR(group, version, plural), namespaced

    def served(self, gvr: GVR, *, refresh: bool = False) -> bool:
        """True when the server serves the resource. A cached "yes" may be stale after a CRD is
        deleted; `refresh=True` asks the server (the activator's presence check)."""
        if refresh:
            return gvr.resource in self._fetch(gvr.group, gvr.version).plurals
        return bool(self._lookup(gvr.group, gvr.version, lambda gv: gvr.resource in gv.plurals))

    def has_status(self, gvr: GVR) -> bool:
        """True when the resource has a `/status` subresource."""
        return bool(self._lookup(gvr.group, gvr.version, lambda gv: gvr.resource in gv.with_status))

    def _lookup(self, group: str, version: str, question: Callable[[GroupVersionResources], Any]) -> Any:
        with self._lock:
            cached = self._cache.get((group, version))
        if cached is not None:
            answer = question(cached)
            if answer:
                return answer
        return question(self._fetch(group, version))

    def _fetch(self, group: str, version: str) -> GroupVersionResources:
        try:
            body = self._kube.request("GET", group_version_path(group, version),
                                      resource=f"discovery {group_version_path(group, version)}")
        except ApiError as exc:
            if not exc.not_found:
                raise
            body = {}
        resources = GroupVersionResources.from_resource_list(body)
        with self._lock:
            self._cache[(group, version)] = resources
        return resources
