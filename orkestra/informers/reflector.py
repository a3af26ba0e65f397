"""`Reflector`: keeps a `Store` equal to the API server's view of one resource (docs/runtime.md §4.1).

One thread (`ork-informer-<resource>`) runs LIST then WATCH for ever:

* LIST in pages of 500 (the client restarts without pagination if a continue token expires),
  then replace the store; the differences go to the sink as adds, updates and delete tombstones.
* WATCH from the last resourceVersion with bookmarks and a random server timeout of 300–599 s.
  A watch that ends normally is re-opened from where it stopped (after a backoff if it ended
  within a second without a single event, so a server that keeps closing it is not hammered).
  The socket read timeout is the stall timeout: a connection that delivers nothing for that
  long is closed and re-opened (`watch stalled, reconnecting`).
* 410 Gone (HTTP status or ERROR event) relists. Other failures back off (800 ms doubling with
  jitter to 30 s) and honour `Retry-After`; 404 and 401/403 are also reported to the status
  listener, which is how the engine marks a CRD gone or forbidden.

Every object is stored as decoded, minus `metadata.managedFields`. The sink (the shared
informer) is called on this thread, one event at a time.
"""
from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from enum import StrEnum
from typing import Protocol

from orkestra.gvk import GVR
from orkestra.informers.backoff import Backoff
from orkestra.informers.store import Store, object_key
from orkestra.kube.client import KubeClient, WatchStalled, WatchStream
from orkestra.kube.errors import ApiError
from orkestra.kube.paths import describe, resource_path

log = logging.getLogger("orkestra.informers")

WATCH_TIMEOUT_RANGE = (300, 599)
MIN_WATCH_SECONDS = 1.0  # a watch that ends sooner without events is treated like a failure


class InformerStatus(StrEnum):
    """What the reflector reports to its status listener, with a message."""
    LISTED = "listed"          # a list succeeded (message "")
    GONE = "gone"              # 404: the resource is not served
    FORBIDDEN = "forbidden"    # 401/403: `forbidden: cannot watch <resource> in <scope>`
    FAILING = "failing"        # any other failure; the reflector backs off and retries


StatusListener = Callable[[InformerStatus, str], None]


class Tombstone(dict):
    """A delete the reflector did not see as an event (it was found missing on relist).

    It is the last known object (a shallow copy), so handlers that read it as a dict keep
    working; `isinstance(obj, Tombstone)` tells that the final state is unknown.
    """


class Sink(Protocol):
    def deliver_add(self, obj: dict) -> None: ...
    def deliver_update(self, old: dict, new: dict) -> None: ...
    def deliver_delete(self, obj: dict) -> None: ...

    def deliver_replace(self, added: list[dict], updated: list[tuple[dict, dict]],
                        removed: list[dict]) -> None:
        """The outcome of a list, delivered as one unit (the first one completes the sync)."""


class _Relist(Exception):
    """The watch cannot continue from the last resourceVersion."""


class Reflector:
    def __init__(self, kube: KubeClient, gvr: GVR, *, store: Store, sink: Sink,
                 namespace: str = "", label_selector: str | None = None,
                 field_selector: str | None = None, stall_timeout: float = 90.0,
                 on_status: StatusListener | None = None, rand: random.Random | None = None,
                 backoff: Backoff | None = None) -> None:
        self._kube = kube
        self.gvr = gvr
        self._store = store
        self._sink = sink
        self._namespace = namespace
        self._selectors = {"labelSelector": label_selector, "fieldSelector": field_selector}
        self._stall_timeout = stall_timeout
        self._on_status = on_status or (lambda condition, message: None)
        self._rand = rand or random.Random()
        self._backoff = backoff or Backoff(rand=self._rand)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._stream: WatchStream | None = None
        self.last_resource_version = ""
        self.resource = describe(gvr, namespace or None)

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self.run, name=f"ork-informer-{self.gvr.resource}",
                                            daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self.interrupt()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def interrupt(self) -> None:
        """Close the current watch connection; the reflector re-watches from the last
        resourceVersion (as after a dropped connection)."""
        stream = self._stream
        if stream is not None:
            stream.sever()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    # --- the loop ---------------------------------------------------------------------------------

    def run(self) -> None:
        need_list = True
        while not self._stop.is_set():
            try:
                if need_list:
                    self._list()
                    need_list = False
                self._watch()
            except _Relist:
                need_list = True
            except WatchStalled:
                log.warning("watch stalled, reconnecting",
                            extra={"resource": self.resource, "timeout": self._stall_timeout})
            except ApiError as exc:
                if self._stop.is_set():
                    return
                need_list = need_list or exc.gone or exc.not_found or exc.forbidden
                if exc.gone:
                    continue
                self._report_failure(exc)
                self._stop.wait(exc.retry_after if exc.status == 429 and exc.retry_after
                                else self._backoff.next())
            except Exception:  # never let the informer thread die
                if self._stop.is_set():
                    return
                log.exception("informer failed", extra={"resource": self.resource})
                need_list = True
                self._stop.wait(self._backoff.next())

    def _report_failure(self, exc: ApiError) -> None:
        if exc.not_found:
            log.warning("resource not served", extra={"resource": self.resource, "error": str(exc)})
            self._on_status(InformerStatus.GONE, f"{self.resource} is not served by the API server")
        elif exc.forbidden:
            scope = f"namespace {self._namespace}" if self._namespace else "all namespaces"
            message = f"forbidden: cannot watch {self.gvr.resource} in {scope}"
            log.error(message, extra={"verb": exc.verb, "resource": self.resource, "error": str(exc)})
            self._on_status(InformerStatus.FORBIDDEN, message)
        else:
            log.warning("list/watch failed, backing off",
                        extra={"resource": self.resource, "error": str(exc)})
            self._on_status(InformerStatus.FAILING, str(exc))

    def _list(self) -> None:
        items, rv = self._kube.list(self.gvr, self._namespace or None, **_snake(self._selectors))
        for obj in items:
            _strip(obj)
        added, updated, removed = self._store.replace(items)
        self.last_resource_version = rv
        self._backoff.reset()
        self._on_status(InformerStatus.LISTED, "")
        self._sink.deliver_replace(added, updated, [Tombstone(obj) for obj in removed])

    def _watch(self) -> None:
        query = {**self._selectors, "resourceVersion": self.last_resource_version,
                 "allowWatchBookmarks": "true",
                 "timeoutSeconds": self._rand.randint(*WATCH_TIMEOUT_RANGE)}
        stream = self._kube.watch(resource_path(self.gvr, self._namespace or None), query,
                                  timeout=self._stall_timeout)
        self._stream = stream
        opened, events = time.monotonic(), 0
        try:
            if self._stop.is_set():
                return
            for event in stream:
                if self._stop.is_set():
                    return
                self._handle(event)
                events += 1
                self._backoff.reset()
        finally:
            self._stream = None
            stream.close()
        if not events and time.monotonic() - opened < MIN_WATCH_SECONDS:
            # the server keeps closing the watch at once: do not spin
            self._stop.wait(self._backoff.next())

    def _handle(self, event: dict) -> None:
        kind = event.get("type")
        obj = event.get("object") or {}
        if kind == "ERROR":
            if obj.get("code") == 410:
                log.info("watch expired, relisting", extra={"resource": self.resource,
                                                            "error": obj.get("message", "")})
                raise _Relist()
            raise ApiError(status=int(obj.get("code") or 500), reason=obj.get("reason", "Error"),
                           message=obj.get("message", ""), verb="watch", resource=self.resource,
                           body=obj)
        rv = (obj.get("metadata") or {}).get("resourceVersion")
        if kind == "BOOKMARK":
            self.last_resource_version = rv or self.last_resource_version
            return
        _strip(obj)
        if kind in ("ADDED", "MODIFIED"):
            old = self._store.upsert(obj)
            if old is None:
                self._sink.deliver_add(obj)
            else:
                self._sink.deliver_update(old, obj)
        elif kind == "DELETED":
            self._store.delete(object_key(obj))
            self._sink.deliver_delete(obj)
        else:
            log.warning("unknown watch event type", extra={"resource": self.resource, "type": kind})
            return
        if rv:
            self.last_resource_version = rv


def _strip(obj: dict) -> None:
    meta = obj.get("metadata")
    if meta:
        meta.pop("managedFields", None)


def _snake(selectors: dict) -> dict:
    return {"label_selector": selectors["labelSelector"], "field_selector": selectors["fieldSelector"]}
