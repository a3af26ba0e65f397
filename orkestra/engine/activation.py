"""CRD activation and presence (docs/runtime.md §8): the activation pass and what it decides.

`decide()` is the pure rule for one CRD, applied in start order: a running CRD whose kind vanished
is stopped and degraded (missing); a kind not served stays `not started`; unmet dependencies mean
`pending`; otherwise the CRD is activated once its informer has synced. The pass itself never
blocks: a CRD whose informer is still syncing is simply looked at again on the next pass, which
the supervisor runs every second while anything is waiting, every `CRD_CHECK_INTERVAL` otherwise,
and at once after a health change.

Presence is checked against discovery documents fetched fresh on every pass (each group/version
of the Katalog's CRDs is asked once per pass): a cache alone would keep a deleted CRD "served"
forever. The rest of the discovery cache (the child kinds' `v1`, `apps/v1`, ...) is kept: dropping
it made every pass cost the reconcilers a refetch of those documents on their next lookup.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from enum import StrEnum
from typing import Callable, Generic, Iterable, Protocol, TypeVar

from orkestra import metrics
from orkestra.engine.health import CrdHealth, CrdState, dependency_satisfied
from orkestra.gvk import GVR
from orkestra.katalog.model import CrdEntry, Dependency

log = logging.getLogger("orkestra.engine")


class Step(StrEnum):
    """What one activation pass does with one CRD."""
    STOP_MISSING = "stop-missing"      # running, but its kind is no longer served
    NOT_SERVED = "not-served"
    PENDING = "pending"                # dependencies unmet
    ACTIVATE = "activate"
    WAIT_SYNC = "wait-sync"            # ready to start once its informer has synced
    KEEP = "keep"


class ActivatedBox(Protocol):
    """The part of `orkestra.engine.box.OperatorBox` the activator drives."""
    key: str
    gvk_string: str
    entry: CrdEntry
    health: CrdHealth

    @property
    def active(self) -> bool: ...

    def watch(self) -> None: ...
    def unwatch(self) -> None: ...
    def synced(self) -> bool: ...
    def activate(self) -> None: ...
    def stop(self) -> None: ...


class ServedCheck(Protocol):
    """The part of `orkestra.kube.Discovery` the activator asks."""

    def served(self, gvr: GVR, *, refresh: bool = False) -> bool: ...


def decide(*, served: bool, active: bool, unmet: list[str], synced: bool) -> Step:
    """What the activation pass does with one CRD (first matching rule of §8)."""
    if active:
        return Step.KEEP if served else Step.STOP_MISSING
    if not served:
        return Step.NOT_SERVED
    if unmet:
        return Step.PENDING
    return Step.ACTIVATE if synced else Step.WAIT_SYNC


def unmet_dependencies(depends_on: Iterable[Dependency], states: Mapping[str, str]) -> list[str]:
    return [d.name for d in depends_on if not dependency_satisfied(d.condition, states.get(d.name, CrdState.NOT_STARTED))]


Box = TypeVar("Box", bound=ActivatedBox)


class Activator(Generic[Box]):
    """Runs activation passes over the boxes of one engine (leader side)."""

    def __init__(self, boxes: Mapping[str, Box], start_order: list[str], discovery: ServedCheck, *,
                 clock: Callable[[], float] = time.monotonic, prepare: Callable[[Box], None] = lambda box: None):
        """`prepare(box)` runs just before a box's workers start (the engine starts its child
        informers there, so the first reconcile already sees them)."""
        self.boxes = boxes
        self.start_order = [k for k in start_order if k in boxes]
        self.discovery = discovery
        self._clock = clock
        self._prepare = prepare
        self._waiting_since: dict[str, float] = {}
        self._activated: set[str] = set()     # gated once (§8): a re-appearing kind is not held again
        self.first_pass_done = False

    def leadership_gained(self) -> None:
        now = self._clock()
        for key in self.start_order:
            self._waiting_since[key] = now

    def served_now(self) -> set[str]:
        """Keys of the CRDs whose kind the API server serves right now: the first CRD of each
        group/version fetches that document afresh, the others read what it fetched."""
        fetched: set[tuple[str, str]] = set()
        served = set()
        for key in self.start_order:
            gvr = self.boxes[key].entry.api.gvr
            group_version = (gvr.group, gvr.version)
            if self.discovery.served(gvr, refresh=group_version not in fetched):
                served.add(key)
            fetched.add(group_version)
        return served

    def run_pass(self) -> bool:
        """One pass; returns True when some CRD still waits for its informer to sync."""
        served = self.served_now()
        waiting = False
        for box in (self.boxes[k] for k in self.start_order):
            is_served = box.key in served
            states = {k: b.health.state for k, b in self.boxes.items()}
            unmet = [] if box.key in self._activated else unmet_dependencies(box.entry.depends_on, states)
            if is_served and not box.active:
                box.watch()          # warm the cache even while dependencies are pending
            action = decide(served=is_served, active=box.active, unmet=unmet, synced=box.synced())
            if action == Step.STOP_MISSING:
                self._stop_missing(box)
            elif action == Step.NOT_SERVED:
                self._not_served(box)
            elif action != Step.KEEP:
                self._waiting_since.setdefault(box.key, self._clock())
                if action == Step.PENDING:
                    box.health.mark_pending(unmet)
                elif action == Step.WAIT_SYNC:
                    waiting = True
                else:
                    self._activate(box)
        self.first_pass_done = True
        return waiting

    def _activate(self, box: Box) -> None:
        labels = (box.gvk_string, box.key)
        try:
            self._prepare(box)
            box.activate()
        except Exception as err:  # noqa: BLE001 - activation failed: not started, retried next pass
            log.error("crd activation failed", extra={"crd": box.key, "gvk": box.gvk_string, "error": str(err)})
            box.health.mark_not_started(f"activation failed: {err}")
            metrics.crd_activation_total.labels(*labels, "error").inc()
            return
        self._activated.add(box.key)
        since = self._waiting_since.pop(box.key, None)
        if since is not None:
            metrics.crd_activation_latency.labels(*labels).observe(max(0.0, self._clock() - since))
        metrics.crd_activation_total.labels(*labels, "success").inc()

    def _stop_missing(self, box: Box) -> None:
        error = f"CustomResourceDefinition {box.entry.api.crd_name} not found in cluster"
        log.error("crd deleted from cluster", extra={"crd": box.key, "gvk": box.gvk_string, "error": error})
        box.stop()
        box.unwatch()
        box.health.mark_missing(error)

    def _not_served(self, box: Box) -> None:
        box.unwatch()
        self._waiting_since.pop(box.key, None)
        if not box.health.missing:
            box.health.mark_missing(f"CustomResourceDefinition {box.entry.api.crd_name} not found in cluster")
