"""`SharedInformer`: one reflector and one store, fanned out to any number of handlers.

Handlers run on the reflector thread (`ork-informer-<resource>`) and **must not block**: they
filter and enqueue. A lock serialises delivery, so a handler is never called from two threads at
once, even when a resync (driven by the shared `ork-timer`) runs while a watch event arrives.

Resync is per handler: every `resync_period` seconds each cached object is delivered as
`on_update(obj, obj)`; 0 disables it. Successive resyncs start at places spread evenly around
the cache (steps of the golden ratio): a queue that fills up during one (`onLimit: drop`,
docs/runtime.md §3.5) then refuses a different tail each time instead of the same objects for
ever. `has_synced()` turns true once the first list has been delivered to every handler; a
handler added later first receives the cache as adds.

Deletes found on relist arrive as `Tombstone` (a dict of the last known state). A handler that
raises is logged and skipped; the informer keeps running.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from orkestra.gvk import GVR
from orkestra.informers.reflector import InformerStatus, Reflector, StatusListener
from orkestra.informers.store import IndexFunc, Store
from orkestra.kube.client import KubeClient
from orkestra.workqueue.timer import Timer

log = logging.getLogger("orkestra.informers")

AddFunc = Callable[[dict], None]
UpdateFunc = Callable[[dict, dict], None]
DeleteFunc = Callable[[dict], None]

_GOLDEN = 0.6180339887498949     # successive multiples mod 1 spread evenly over [0, 1)


@dataclass(eq=False)
class Handler:
    """A registration returned by `add_handler`; pass it to `remove_handler`."""
    on_add: AddFunc | None
    on_update: UpdateFunc | None
    on_delete: DeleteFunc | None
    resync_period: float
    active: bool = True
    resyncs: int = 0


class SharedInformer:
    def __init__(self, kube: KubeClient, gvr: GVR, *, timer: Timer, namespace: str = "",
                 label_selector: str | None = None, field_selector: str | None = None,
                 indexers: dict[str, IndexFunc] | None = None, stall_timeout: float = 90.0,
                 compact: bool = False) -> None:
        self.gvr = gvr
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.store = Store(indexers, compact=compact)
        self._timer = timer
        self._lock = threading.RLock()
        self._handlers: list[Handler] = []
        self._status_listeners: list[StatusListener] = []
        self._synced = threading.Event()
        self._started = False
        self.reflector = Reflector(kube, gvr, store=self.store, sink=self, namespace=namespace,
                                   label_selector=label_selector, field_selector=field_selector,
                                   stall_timeout=stall_timeout, on_status=self._status)

    # --- consumers ------------------------------------------------------------------------------

    def add_handler(self, on_add: AddFunc | None = None, on_update: UpdateFunc | None = None,
                    on_delete: DeleteFunc | None = None, resync_period: float = 0.0) -> Handler:
        handler = Handler(on_add, on_update, on_delete, resync_period)
        with self._lock:
            self._handlers.append(handler)
            if self._synced.is_set() and on_add is not None:
                for obj in self.store.list():
                    _call(on_add, obj)
        if resync_period > 0:
            self._timer.call_later(resync_period, lambda: self._resync(handler))
        return handler

    def remove_handler(self, handler: Handler) -> None:
        with self._lock:
            handler.active = False
            if handler in self._handlers:
                self._handlers.remove(handler)

    def add_status_listener(self, listener: StatusListener) -> None:
        """`listener(condition, message)` hears `listed`, `gone` (404), `forbidden` (401/403,
        message `forbidden: cannot watch <resource> in <scope>`) and `failing` (other errors)."""
        with self._lock:
            self._status_listeners.append(listener)

    def has_synced(self) -> bool:
        return self._synced.is_set()

    def wait_for_sync(self, timeout: float | None = None) -> bool:
        return self._synced.wait(timeout)

    def start(self) -> None:
        """Start the reflector thread (idempotent)."""
        with self._lock:
            if not self._started:
                self._started = True
                self.reflector.start()

    def stop(self) -> None:
        with self._lock:
            for handler in self._handlers:
                handler.active = False
            self._handlers.clear()
        self.reflector.stop()

    # --- the reflector's sink (called on the reflector thread) --------------------------------

    def deliver_add(self, obj: dict) -> None:
        with self._lock:
            for h in self._handlers:
                if h.on_add is not None:
                    _call(h.on_add, obj)

    def deliver_update(self, old: dict, new: dict) -> None:
        with self._lock:
            for h in self._handlers:
                if h.on_update is not None:
                    _call(h.on_update, old, new)

    def deliver_delete(self, obj: dict) -> None:
        with self._lock:
            for h in self._handlers:
                if h.on_delete is not None:
                    _call(h.on_delete, obj)

    def deliver_replace(self, added: list[dict], updated: list[tuple[dict, dict]],
                        removed: list[dict]) -> None:
        with self._lock:
            for obj in added:
                self.deliver_add(obj)
            for old, new in updated:
                self.deliver_update(old, new)
            for obj in removed:
                self.deliver_delete(obj)
            self._synced.set()

    # --- internals ------------------------------------------------------------------------------

    def _resync(self, handler: Handler) -> None:
        if not handler.active:
            return
        if self._synced.is_set() and handler.on_update is not None:
            with self._lock:
                if handler.active:
                    objs = self.store.list()
                    handler.resyncs += 1
                    start = int((handler.resyncs * _GOLDEN) % 1.0 * len(objs))
                    for obj in objs[start:] + objs[:start]:
                        _call(handler.on_update, obj, obj)
        self._timer.call_later(handler.resync_period, lambda: self._resync(handler))

    def _status(self, condition: InformerStatus, message: str) -> None:
        with self._lock:
            listeners = list(self._status_listeners)
        for listener in listeners:
            _call(listener, condition, message)


def _call(fn: Callable, *args: object) -> None:
    try:
        fn(*args)
    except Exception:
        log.exception("informer handler failed")
