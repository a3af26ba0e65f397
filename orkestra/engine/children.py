"""Child informers (docs/runtime.md §4.4): which child kinds a CRD entry can produce, and
`ChildInformers`, one informer per child GVR shared by every box.

Template types map to fixed kinds through the Katalog's per-type table; `custom` templates and
hook `managedResources` name their kinds and are resolved through discovery (or the built-in
registry when only a kind is given), so the engine watches exactly what the reconciler writes.
"""
from __future__ import annotations

import logging
import threading
from functools import partial
from typing import TYPE_CHECKING, Callable, Mapping

from orkestra.engine import filters
from orkestra.gvk import GVR, split_api_version
from orkestra.informers.store import object_key
from orkestra.katalog.model import PHASES, CrdEntry
from orkestra.katalog.template_kinds import TEMPLATE_KINDS

if TYPE_CHECKING:
    from orkestra.engine.box import OperatorBox
    from orkestra.informers import SharedInformer, SharedInformerFactory
    from orkestra.kube import Discovery

log = logging.getLogger("orkestra.engine")


def child_kinds(entry: CrdEntry) -> list[tuple[str, str]]:
    """(apiVersion or "", kind) of every child kind, de-duplicated, in declaration order."""
    out: list[tuple[str, str]] = []
    for phase in PHASES:
        for type_, items in (entry.box_spec.templates.get(phase) or {}).items():
            if type_ != "custom":
                facts = TEMPLATE_KINDS[type_]
                out.append((facts.api_version, facts.kind))
                continue
            for item in items:
                if item.get("kind"):
                    out.append((item.get("apiVersion") or "", item["kind"]))
    for res in entry.box_spec.hooks.managed_resources if entry.box_spec.hooks else ():
        if res.get("kind"):
            out.append((res.get("apiVersion") or "", res["kind"]))
    return list(dict.fromkeys(out))


def resolve_child_gvrs(entry: CrdEntry, discovery: Discovery) -> list[tuple[GVR, bool]]:
    """(GVR, namespaced) of the entry's child kinds that the cluster serves; unknown kinds are
    logged and skipped (the reconciler reports them when it tries to write one)."""
    from orkestra.katalog.builtins import lookup
    gvrs: list[tuple[GVR, bool]] = []
    for api_version, kind in child_kinds(entry):
        group, version = split_api_version(api_version) if api_version else ("", "")
        builtin = lookup(kind) if not api_version else lookup(kind, group or "core")
        if builtin is not None and (not api_version or builtin.version == version):
            gvrs.append((GVR(builtin.group, builtin.version, builtin.plural), builtin.namespaced))
            continue
        if not api_version:
            continue
        try:
            found = discovery.resolve(api_version, kind)
        except Exception as err:  # noqa: BLE001 - discovery failure: no informer for now
            log.warning("cannot resolve child kind", extra={"crd": entry.key, "kind": kind, "error": str(err)})
            continue
        if found is not None:
            gvrs.append(found)
    return list(dict.fromkeys(gvrs))


class ChildInformers:
    """The child informers of every box: one shared, label-filtered informer per child GVR
    (docs/runtime.md §4.4), the GVRs each CRD writes, and what their events mean: a changed child
    requeues its owner, a forbidden informer degrades every CRD that writes that resource (§4.1).
    The boxes are read, never owned: `on_health_change` tells the engine a CRD's state moved."""

    def __init__(self, boxes: Mapping[str, OperatorBox], *, on_health_change: Callable[[], None]) -> None:
        self._boxes = boxes
        self._on_health_change = on_health_change
        self._informers: dict[GVR, SharedInformer] = {}
        self._gvrs: dict[str, list[GVR]] = {}
        self._lock = threading.Lock()

    def watch_for(self, box: OperatorBox, factory: SharedInformerFactory, discovery: Discovery) -> None:
        """Before `box` activates: start an informer for each child GVR it writes, unless one runs."""
        resolved = resolve_child_gvrs(box.entry, discovery)
        self._gvrs[box.key] = [gvr for gvr, _ in resolved]
        for gvr, namespaced in resolved:
            with self._lock:
                if gvr in self._informers:
                    continue
                informer = factory.informer(gvr, label_selector=filters.MANAGED_BY_SELECTOR,
                                            indexers={"owner": filters.owner_index}, namespaced=namespaced,
                                            compact=True)
                self._informers[gvr] = informer
            informer.add_handler(None, lambda old, new: self._event(new), self._event, 0)
            informer.add_status_listener(partial(self._status, gvr))
            informer.start()

    def watches(self, gvr: GVR) -> bool:
        return gvr in self._informers

    def synced(self) -> bool:
        return all(i.has_synced() for i in list(self._informers.values()))

    def children(self, owner_uid: str) -> list[dict]:
        """Every cached child whose owner is `owner_uid`, across the child informers."""
        out: list[dict] = []
        for informer in list(self._informers.values()):
            out.extend(informer.store.by_index("owner", owner_uid))
        return out

    def gvrs_of(self, key: str) -> list[GVR]:
        """The GVRs that may hold label-tracked children of CRD `key` (resolved at activation)."""
        return list(self._gvrs.get(key, ()))

    def forget(self) -> None:
        """Shutdown: drop every informer (the factory stops their reflectors)."""
        with self._lock:
            self._informers = {}

    def _status(self, gvr: GVR, condition: str, message: str) -> None:
        if condition not in ("forbidden", "listed"):
            return
        error = message if condition == "forbidden" else ""
        for key, gvrs in list(self._gvrs.items()):
            if gvr in gvrs and self._boxes[key].health.set_forbidden(error):
                self._on_health_change()

    def _event(self, child: dict) -> None:
        uid = filters.owner_uid(child)
        if not uid:
            return
        named = filters.owner_crd(child)
        boxes = [self._boxes[named]] if named is not None and named in self._boxes else list(self._boxes.values())
        for box in boxes:
            informer = box.informer         # read once: the activator may unwatch meanwhile
            if not box.active or informer is None:
                continue
            for owner in informer.store.by_index("uid", uid):
                box.enqueue(object_key(owner))
