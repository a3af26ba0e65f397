"""`EngineView`: everything the HTTP API reads of a running engine, and nothing it could change.

The Flask views (`orkestra.server.app`) get this object, never the engine: snapshots of the
process and of each CRD, the boxes' informer caches, live Event lists, a CR's children, and the
webhook blocks of `/katalog`. Every read is safe from any HTTP thread while the supervisor runs.

A CR's children come from the child informers; child kinds without one (on a follower, or before
the CRD activated) are listed live and kept `LIVE_CHILDREN_TTL` seconds, so a page refreshed
every few seconds does not list them each time; at most `LIVE_CHILDREN_MAX` such lists are kept
(the least recently read go first), however many CR pages are read within the TTL.
"""
from __future__ import annotations

import logging
from functools import partial
from typing import TYPE_CHECKING, Any, Callable, Protocol

from orkestra.engine import filters
from orkestra.engine.children import resolve_child_gvrs
from orkestra.engine.health import CrdState, dependency_satisfied
from orkestra.gvk import GVR
from orkestra.katalog.model import Katalog
from orkestra.ttlcache import TtlCache

if TYPE_CHECKING:
    from orkestra.engine.engine import Engine
    from orkestra.kube import KubeClient

log = logging.getLogger("orkestra.engine")
LIVE_CHILDREN_TTL = 30.0
LIVE_CHILDREN_MAX = 1024        # (child kind, owner) lists


class WebhookDescriber(Protocol):
    """The webhook blocks of `/katalog` (docs/webhooks.md §8), from whoever serves webhooks."""

    def describe_katalog(self) -> dict | None: ...
    def describe_crd(self, key: str) -> dict: ...


class EngineView:
    """Read-only access to `engine` for the HTTP views (satisfies `orkestra.server.app.RuntimeView`)."""

    def __init__(self, engine: Engine, *, webhooks: WebhookDescriber | None = None,
                 clock: Callable[[], float] | None = None) -> None:
        self._engine = engine
        self._webhooks = webhooks
        self._live_children = TtlCache(LIVE_CHILDREN_TTL, LIVE_CHILDREN_MAX, clock or engine.clock)

    @property
    def katalog(self) -> Katalog:
        return self._engine.katalog

    # ------------------------------------------------------------------ snapshots
    def process_snapshot(self) -> dict[str, Any]:
        engine = self._engine
        return {"identity": engine.identity, "isLeader": engine.is_leader(), "leader": engine.leader_identity,
                "mode": engine.mode, "startedAt": engine.started_at, "now": engine.wall(),
                "gatewayEndpoint": engine.settings.gateway_endpoint, **engine.probes()}

    def crd_snapshot(self, key: str) -> dict[str, Any] | None:
        boxes = self._engine.boxes
        box = boxes.get(key)
        if box is None:
            return None
        snap = box.snapshot()
        snap["dependencies"] = []
        for dep in box.entry.depends_on:
            other = boxes.get(dep.name)
            state = other.health.state if other is not None else "not started"
            snap["dependencies"].append({"name": dep.name, "condition": dep.condition, "state": state,
                                         "satisfied": dependency_satisfied(dep.condition, state)})
        if not self._engine.is_leader() and snap["health"]["state"] == CrdState.PENDING:
            snap["workers"]["active"] = 0
        return snap

    # ------------------------------------------------------------------ caches
    def cached_crs(self, key: str) -> list[dict]:
        box = self._engine.boxes.get(key)
        return box.cached_all() if box is not None else []

    def cached_cr(self, key: str, cr_key: str) -> dict | None:
        box = self._engine.boxes.get(key)
        return box.cached(cr_key) if box is not None else None

    def informer_cache(self, key: str) -> tuple[bool, list[dict]] | None:
        """(synced, CRs) of CRD `key`'s informer, or None when it has none (the webhooks' `unique`)."""
        box = self._engine.boxes.get(key)
        informer = box.informer if box is not None else None       # read once: unwatch may race
        if informer is None:
            return None
        return bool(informer.has_synced()), list(informer.store.list())

    # ------------------------------------------------------------------ live reads
    def events_for(self, obj: dict) -> list[dict]:
        """Core Events whose involvedObject is `obj` (a live list: events are not cached)."""
        meta = obj.get("metadata") or {}
        kube = self._engine.kube
        assert kube is not None, "a cached CR means the engine is connected"
        items, _ = kube.list(GVR("", "v1", "events"), namespace=meta.get("namespace") or "default",
                             field_selector=f"involvedObject.uid={meta.get('uid', '')}")
        return items

    def children_for_view(self, key: str, owner_uid: str) -> list[dict]:
        """Children of a CR for `/katalog/{crd}/cr/...`: from the child informers, and for child
        kinds without one (a follower, or before activation) a live list, cached 30 s."""
        engine = self._engine
        box = engine.boxes.get(key)
        out = engine.child_informers.children(owner_uid)
        kube, discovery = engine.kube, engine.discovery
        if box is None or kube is None or discovery is None:
            return out
        for gvr, _ in resolve_child_gvrs(box.entry, discovery):
            if not engine.child_informers.watches(gvr):
                out.extend(self._live_children.get(
                    (gvr, owner_uid), partial(_list_live_children, kube, key, gvr, owner_uid)))
        return out

    # ------------------------------------------------------------------ webhooks
    def webhook_katalog_block(self) -> dict | None:
        """The top-level `protection` block, or None when this process serves no webhooks."""
        return self._webhooks.describe_katalog() if self._webhooks is not None else None

    def webhook_crd_blocks(self, key: str) -> dict | None:
        """The webhook blocks of `/katalog/{crd}`; None when this process serves no webhooks."""
        return self._webhooks.describe_crd(key) if self._webhooks is not None else None


def _list_live_children(kube: KubeClient, key: str, gvr: GVR, owner_uid: str) -> list[dict]:
    """The `gvr` objects labelled as children of `owner_uid`; none when listing fails (a view
    must not fail on one kind, and the empty answer is kept like any other)."""
    try:
        items, _ = kube.list(gvr, label_selector=f"{filters.OWNER_UID_LABEL}={owner_uid}")
    except Exception as err:  # noqa: BLE001 - see above
        log.debug("live child list failed", extra={"crd": key, "error": str(err)})
        return []
    return items                # KubeClient.list fills in each item's kind
