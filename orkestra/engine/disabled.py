"""Releasing the CRs of disabled Katalog entries (issue 9 item 10; docs/finalizers.md).

An entry with `enabled: false` is never watched, so no deletion flow runs for its CRs: a
finalizer Orkestra added while the entry was enabled would keep them Terminating for ever. The
Katalog still names the entry's kind, so the leader lists its CRs once when it takes over (the
scope its informer would have: namespace, label and field selectors) and takes back exactly what
Orkestra added: `orkestra.io/finalizer`, the finalizers recorded in `orkestra.io/finalizers`, and
the record annotations (`crpatch.release`, guarded by the resourceVersion). A disabled entry
whose kind an enabled entry also watches is skipped, because its CRs may be that entry's.
"""
from __future__ import annotations

import logging
from typing import Protocol

from orkestra.engine.filters import selector_string
from orkestra.gvk import GVR
from orkestra.katalog.model import CrdEntry, Katalog
from orkestra.kube.errors import ApiError
from orkestra.reconcile import messages
from orkestra.reconcile.crpatch import CrApi, release
from orkestra.reconcile.runtime import EventSink

log = logging.getLogger("orkestra.engine")


class ListApi(CrApi, Protocol):
    """The calls of `orkestra.kube.KubeClient` the release needs (get, list, patch)."""

    def list(self, gvr: GVR, namespace: str | None = None, label_selector: str | None = None,
             field_selector: str | None = None) -> tuple[list[dict], str]: ...


def entries_to_release(katalog: Katalog) -> list[CrdEntry]:
    """The disabled entries whose CRs no enabled entry can claim (no enabled entry watches the GVR)."""
    watched = {e.api.gvr for e in katalog.enabled}
    out = []
    for entry in katalog.crds.values():
        if entry.enabled:
            continue
        if entry.api.gvr in watched:
            log.warning("disabled entry not released: an enabled entry watches the same kind",
                        extra={"crd": entry.key, "gvk": entry.api.gvk_string})
            continue
        out.append(entry)
    return out


def release_entry(entry: CrdEntry, kube: ListApi, recorder: EventSink, *, watch_namespace: str = "") -> int:
    """Take Orkestra's finalizers and records off every CR of the disabled `entry`; returns how
    many CRs had finalizers removed. Never raises: a failure is logged, and the next leader tries
    again."""
    gvr = entry.api.gvr
    namespace = (entry.namespace or watch_namespace or None) if entry.api.namespaced else None
    try:
        items, _ = kube.list(gvr, namespace=namespace,
                             label_selector=selector_string(entry.label_selector),
                             field_selector=selector_string(entry.field_selector))
    except ApiError as err:
        if not err.not_found:       # a kind that is not served has no CRs to release
            log.warning("cannot list the CRs of a disabled entry to release Orkestra's finalizers",
                        extra={"crd": entry.key, "gvk": entry.api.gvk_string, "error": str(err)})
        return 0
    released = 0
    for cr in items:
        meta = cr["metadata"]
        try:
            removed = release(kube, gvr, cr, [])
        except Exception as err:  # noqa: BLE001 - one CR must not stop the others
            log.warning("cannot release Orkestra's finalizers of a disabled entry's CR",
                        extra={"crd": entry.key, "key": f"{meta.get('namespace') or ''}/{meta['name']}",
                               "error": str(err)})
            continue
        if removed:
            released += 1
            recorder.event(cr, "Normal", "FinalizerRemoved", messages.finalizers("removed", removed))
    return released
