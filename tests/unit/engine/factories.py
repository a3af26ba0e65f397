"""Small builders for Katalog model objects used across the engine and server unit tests."""
from __future__ import annotations

from orkestra.katalog.model import (ApiTypes, CrdEntry, Dependency, HookSpec, Katalog, OperatorBoxSpec,
                                    QueueSettings)


def make_entry(key: str = "website", *, kind: str = "Website", group: str = "demo.orkestra.io",
               version: str = "v1alpha1", plural: str | None = None, namespaced: bool = True,
               workers: int = 2, threshold: int = 3, timeout: float = 300.0, depends_on=(),
               enabled: bool = True, endpoints: dict | None = None, hooks: HookSpec | None = None,
               templates: dict | None = None, max_depth: int = 100, on_limit: str = "warn") -> CrdEntry:
    api = ApiTypes(group, version, kind, plural or kind.lower() + "s", namespaced, False)
    box = OperatorBoxSpec(workers=workers, workers_source="configured", resync=15.0, timeout=timeout,
                          queue=QueueSettings(max_depth, on_limit, threshold), hooks=hooks, finalizers=[],
                          delete_timeout=None, templates=templates or {}, status={})
    return CrdEntry(key=key, enabled=enabled, description=f"{kind} operator", api=api, namespace="",
                    label_selector={}, field_selector={},
                    depends_on=[Dependency(name, cond) for name, cond in depends_on], labels={},
                    endpoints=endpoints or {"enabled": True, "health": True, "info": True},
                    allowed_namespaces=[], restricted_namespaces=[], validation=None, mutation=None,
                    conversion=None, webhooks={}, deletion_protection={"enabled": False},
                    force_conflict=True, ignore_status_patch=False, ignore_observed_generation=False, box_spec=box)


def make_katalog(*entries: CrdEntry, start_order: list[str] | None = None) -> Katalog:
    return Katalog(name="shop", version="1.0.0", description="", author="", tags=[], kind="Katalog",
                   security={}, finalizers=[], crds={e.key: e for e in entries},
                   start_order=start_order or [e.key for e in entries if e.enabled], sources=["katalog.yaml"],
                   raw={"apiVersion": "orkestra.io/v1", "kind": "Katalog"}, enriched={"kind": "Katalog", "spec": {}})


class Clock:
    """A settable clock for the engine's `clock`/`wall` seams."""

    def __init__(self, t: float = 0.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t
