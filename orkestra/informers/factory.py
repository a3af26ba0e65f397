"""`SharedInformerFactory`: one informer per (GVR, namespace, labelSelector, fieldSelector).

Every consumer asking for the same key shares one informer, one store and one watch connection
(docs/runtime.md §4.4). Informers are reference counted: `informer()` takes a reference, `release()`
gives it back, and the last release stops the informer. `WATCH_NAMESPACE` (the factory's
`watch_namespace`) restricts every namespaced informer that does not name its own namespace.
A consumer may ask for a compact store (JSON text, see `Store`): the child informers do, since
children are most of the cached objects and are read once per reconcile of their owner; CR
caches stay plain dicts, read by every resync and again by the reconcile it queues
(docs/runtime.md §1 has the figures). Compactness changes what a cache costs, never what its readers get.
"""
from __future__ import annotations

import threading

from orkestra.gvk import GVR
from orkestra.informers.shared import SharedInformer
from orkestra.informers.store import IndexFunc
from orkestra.kube.client import KubeClient
from orkestra.workqueue.timer import Timer, shared_timer

InformerKey = tuple[GVR, str, str, str]


class SharedInformerFactory:
    def __init__(self, kube: KubeClient, *, timer: Timer | None = None, watch_namespace: str = "",
                 stall_timeout: float = 90.0) -> None:
        self._kube = kube
        self._timer = timer or shared_timer()
        self.watch_namespace = watch_namespace
        self._stall_timeout = stall_timeout
        self._lock = threading.Lock()
        self._informers: dict[InformerKey, SharedInformer] = {}
        self._refs: dict[InformerKey, int] = {}

    def informer(self, gvr: GVR, namespace: str = "", label_selector: str | None = None,
                 field_selector: str | None = None, indexers: dict[str, IndexFunc] | None = None,
                 *, namespaced: bool = True, compact: bool = False) -> SharedInformer:
        """The shared informer for this key, created on first use (not started: call `start()`).
        Takes a reference; give it back with `release`. `namespaced=False` ignores namespaces.
        `compact`: its store keeps JSON text; the consumer that creates the informer decides."""
        ns = (namespace or self.watch_namespace) if namespaced else ""
        key = (gvr, ns, label_selector or "", field_selector or "")
        with self._lock:
            informer = self._informers.get(key)
            if informer is None:
                informer = SharedInformer(self._kube, gvr, timer=self._timer, namespace=ns,
                                          label_selector=label_selector or None,
                                          field_selector=field_selector or None,
                                          stall_timeout=self._stall_timeout, compact=compact)
                self._informers[key] = informer
                self._refs[key] = 0
            self._refs[key] += 1
        if indexers:
            informer.store.add_indexers(indexers)
        return informer

    def release(self, informer: SharedInformer) -> None:
        """Give back one reference; the last one stops the informer."""
        key = _key_of(informer)
        with self._lock:
            if self._informers.get(key) is not informer:
                return
            self._refs[key] -= 1
            if self._refs[key] > 0:
                return
            del self._informers[key], self._refs[key]
        informer.stop()

    def informers(self) -> list[SharedInformer]:
        with self._lock:
            return list(self._informers.values())

    def references(self, informer: SharedInformer) -> int:
        with self._lock:
            return self._refs.get(_key_of(informer), 0)

    def stop_all(self) -> None:
        with self._lock:
            informers = list(self._informers.values())
            self._informers.clear()
            self._refs.clear()
        for informer in informers:
            informer.stop()


def _key_of(informer: SharedInformer) -> InformerKey:
    return (informer.gvr, informer.namespace, informer.label_selector or "",
            informer.field_selector or "")
