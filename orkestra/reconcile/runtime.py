"""The contract between the reconciler and the engine that drives it.

The engine's `OperatorBox` owns the caches, the client and the event recorder; the reconciler
only reads and writes through this protocol. Keeping the seam this narrow is what lets the
reconciler be driven by a small test adapter over a real API server before the engine exists,
and by the engine afterwards, with no change on either side.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Protocol

from orkestra.gvk import GVR
from orkestra.reconcile.ownwrites import OwnWrites

if TYPE_CHECKING:
    from orkestra.katalog.model import Katalog
    from orkestra.kube import Discovery, KubeClient


@dataclass(frozen=True)
class ReconcileResult:
    """What a successful reconcile asks of the queue: `requeue_after` seconds, or nothing."""

    requeue_after: float | None = None


class EventSink(Protocol):
    """`orkestra.kube.EventSink` (or its `EventRecorder`) as the reconciler uses it (tests record
    in memory): never raises; `on_written` hears how the write ended, now or later (None: the
    Event got through, else why this object's Events do not)."""

    def event(self, obj: dict, type_: str, reason: str, message: str, /, *, crd: str = "",
              on_written: Callable[[Exception | None], None] | None = None) -> object: ...


class ReconcileRuntime(Protocol):
    """What an operator box lends its reconciler (docs/architecture.md, `orkestra.reconcile`)."""

    # Read-only: the box exposes them as properties of its environment.
    @property
    def kube(self) -> KubeClient: ...
    @property
    def discovery(self) -> Discovery: ...
    @property
    def recorder(self) -> EventSink: ...
    @property
    def identity(self) -> str: ...
    @property
    def katalog(self) -> Katalog: ...

    def cached(self, key: str) -> dict | None:
        """The CR `ns/name` (or `name`) from this CRD's informer; None when absent."""

    def cached_all(self) -> list[dict]:
        """Every CR of this CRD in the informer cache (for `unique`)."""

    def children(self, owner_uid: str) -> list[dict]:
        """Children of the CR with this uid, from the child informers (owner reference or owner-uid label)."""

    def child_informer_gvrs(self) -> list[GVR]:
        """The GVRs that may hold label-tracked children of this CRD."""

    def set_warnings(self, key: str, source: str, warnings: list[dict]) -> None:
        """Replace the active warnings of `key` from `source` (an empty list clears them)."""


class Reconciler(Protocol):
    own_writes: OwnWrites   # the CR versions its own writes produced: their update events queue nothing

    def reconcile(self, key: str, cancelled: threading.Event) -> ReconcileResult:
        """Bring the CR `key` to its declared state. Raises OrkestraError subclasses for expected failures."""

    def forget(self, key: str) -> None:
        """The CR is gone from the cache: drop what is remembered about it."""

    def holds_finalizers(self, obj: dict) -> bool:
        """`obj` (the last state the informer saw) carries finalizers Orkestra added. When such an
        object leaves the cache it has left the entry's selector, not the cluster: the box then
        queues its key once more, and that reconcile removes them."""

    def report_failure(self, key: str, error: BaseException, reason: str) -> None:
        """Best effort: write Ready False with `reason` and the error string. Never raises."""
