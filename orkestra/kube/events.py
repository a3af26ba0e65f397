"""`EventRecorder`: core/v1 Events on the object a reconcile was about (docs/runtime.md §10.4).

Events are a courtesy to the user, never a reason to fail: `event()` never raises. Three rules
keep them from flooding the API server:

* **Aggregation** — the same (object uid, type, reason, message) within 10 minutes patches the
  existing Event (`count + 1`, `lastTimestamp`) instead of creating a new one. The recorder
  remembers the last 4096 such series (least recently used dropped first), and drops those past
  the window once a minute.
* **Rate limit** — at most 10 *new* Events per object per minute; the rest are dropped with a
  debug log. Aggregated patches are not new Events and are not limited. The stamps of objects
  quiet for a minute are dropped once a minute.
* **Quiet failures** — an Event that cannot be written is logged at warn at most once a minute
  per CRD and reason, and returned to the caller, which shows it (a 403 names the verb and the
  resource) among the CRD's active warnings (docs/rbac.md).

Both clocks are injectable: `clock` (monotonic, for the windows) and `now` (wall time, for the
timestamps written into the Event).

`AsyncEventSink` puts the recorder off the caller's thread (issue 15): a reconcile hands its Event to
a bounded buffer and goes on; one background thread writes them. Repeats of an Event still
waiting there are folded into it and written as one `count + n` patch. A full buffer drops the
Event (counted in `dropped`, logged at warn at most once a minute); the caller never waits. At
shutdown, what `close` could not write in its time is dropped the same way.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from orkestra.gvk import GVR
from orkestra.kube.client import KubeClient
from orkestra.kube.errors import ApiError

log = logging.getLogger("orkestra.kube")

EVENTS = GVR("", "v1", "events")
COMPONENT = "orkestra"
MAX_MESSAGE = 1024
AGGREGATION_WINDOW = 600.0
RATE_WINDOW = 60.0
MAX_NEW_PER_WINDOW = 10
FAILURE_LOG_INTERVAL = 60.0
MAX_SERIES = 4096
SINK_CAPACITY = 1024    # distinct Events waiting to be written; more are dropped
# Told how an Event's write ended: None once it got through, else why the object's Events do not.
Written = Callable[["Exception | None"], None]


@dataclass
class _Series:
    name: str
    namespace: str
    count: int
    first_seen: float


class EventRecorder:
    def __init__(self, kube: KubeClient, identity: str, *,
                 clock: Callable[[], float] = time.monotonic,
                 now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> None:
        self._kube = kube
        self._identity = identity
        self._clock = clock
        self._now = now
        self._lock = threading.Lock()
        self._series: OrderedDict[tuple, _Series] = OrderedDict()
        self._created: dict[str, deque[float]] = {}     # uid -> stamps of its new Events in the window
        self._swept = clock()
        self._failure_logged: dict[tuple[str, str], float] = {}
        self._failing: OrderedDict[str, Exception] = OrderedDict()   # uid -> why its last write failed

    def event(self, obj: dict, type: str, reason: str, message: str, *, crd: str = "",
              repeats: int = 1, on_written: Written | None = None) -> Exception | None:
        """Record an Event about `obj` (a dict with apiVersion, kind and metadata), `repeats` times
        over (one write); never raises. `crd` names the Katalog entry for the failure log
        (defaults to the object's kind). Returns why the object's Events do not get through, None
        while they do: this write's failure, or for an Event the rate limit dropped, that of the
        object's last write; `on_written` is called with the same answer."""
        result = self._write(obj, type, reason, message[:MAX_MESSAGE], crd, repeats)
        if on_written is not None:
            on_written(result)
        return result

    def _write(self, obj: dict, type: str, reason: str, message: str, crd: str, repeats: int) -> Exception | None:
        uid = (obj.get("metadata") or {}).get("uid", "")
        try:
            written = self._record(obj, type, reason, message, repeats)
        except Exception as exc:  # never fail a reconcile because of an Event
            self._log_failure(crd or obj.get("kind", ""), reason, exc)
            with self._lock:
                self._failing[uid] = exc
                self._failing.move_to_end(uid)
                while len(self._failing) > MAX_SERIES:
                    self._failing.popitem(last=False)
            return exc
        with self._lock:
            if not written:
                return self._failing.get(uid)
            self._failing.pop(uid, None)
        return None

    def _record(self, obj: dict, type: str, reason: str, message: str, repeats: int) -> bool:
        """Write the Event (a new one or a count on its series); False when the rate limit drops it."""
        meta = obj.get("metadata") or {}
        uid = meta.get("uid", "")
        series_key = (uid, type, reason, message)
        now = self._clock()
        with self._lock:
            series = self._series.get(series_key)
            if series is not None and now - series.first_seen > AGGREGATION_WINDOW:
                del self._series[series_key]
                series = None
            if series is not None:
                series.count += repeats
                count = series.count
                self._series.move_to_end(series_key)
            elif not self._admit_new(uid, now):
                log.debug("event dropped by the per-object rate limit",
                          extra={"namespace": meta.get("namespace", ""), "name": meta.get("name", ""),
                                 "reason": reason})
                return False
        stamp = self._now().strftime("%Y-%m-%dT%H:%M:%SZ")
        if series is not None:
            try:
                self._kube.patch(EVENTS, series.name, {"count": count, "lastTimestamp": stamp},
                                 namespace=series.namespace)
                return True
            except ApiError as exc:
                if not exc.not_found:
                    raise
                with self._lock:
                    self._series.pop(series_key, None)  # the Event expired: start a new series
        namespace = meta.get("namespace") or "default"
        body = self._new_event(obj, namespace, type, reason, message, stamp, repeats)
        created = self._kube.create(EVENTS, body, namespace=namespace)
        with self._lock:
            self._series[series_key] = _Series(created["metadata"]["name"], namespace, repeats, now)
            while len(self._series) > MAX_SERIES:
                self._series.popitem(last=False)
        return True

    def _admit_new(self, uid: str, now: float) -> bool:
        """Called with the lock held: may this object get one more new Event now?"""
        stamps = self._created.setdefault(uid, deque())
        while stamps and now - stamps[0] >= RATE_WINDOW:
            stamps.popleft()
        if len(stamps) >= MAX_NEW_PER_WINDOW:
            return False
        stamps.append(now)
        if now - self._swept >= RATE_WINDOW or len(self._created) > MAX_SERIES:
            self._sweep(now)
        return True

    def _sweep(self, now: float) -> None:
        """Called with the lock held, about once a window: forget the objects quiet for a window
        (their stamps limit nothing) and the series past the aggregation window (they aggregate
        nothing more). Under churn every new CR is a new uid and most messages are new: without
        it both grew up to their cap, for 13 and 40 minutes of the issue 14 soak."""
        self._swept = now
        for quiet in [u for u, s in self._created.items() if not s or now - s[-1] >= RATE_WINDOW]:
            del self._created[quiet]
        for key in [k for k, s in self._series.items() if now - s.first_seen > AGGREGATION_WINDOW]:
            del self._series[key]

    def _new_event(self, obj: dict, namespace: str, type: str, reason: str, message: str,
                   stamp: str, count: int) -> dict:
        meta = obj.get("metadata") or {}
        involved = {"apiVersion": obj.get("apiVersion", ""), "kind": obj.get("kind", ""),
                    "name": meta.get("name", ""), "uid": meta.get("uid", ""),
                    "resourceVersion": meta.get("resourceVersion", "")}
        if meta.get("namespace"):
            involved["namespace"] = meta["namespace"]
        return {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"{meta.get('name', 'object')}.{time.time_ns():x}",
                         "namespace": namespace},
            "involvedObject": involved,
            "type": type, "reason": reason, "message": message, "count": count,
            "firstTimestamp": stamp, "lastTimestamp": stamp,
            "source": {"component": COMPONENT},
            "reportingComponent": COMPONENT, "reportingInstance": self._identity,
        }

    def _log_failure(self, crd: str, reason: str, exc: Exception) -> None:
        now = self._clock()
        with self._lock:
            last = self._failure_logged.get((crd, reason))
            if last is not None and now - last < FAILURE_LOG_INTERVAL:
                return
            self._failure_logged[(crd, reason)] = now
        log.warning("event could not be written", extra={"crd": crd, "reason": reason, "error": str(exc)})


def _identity(obj: dict) -> dict:
    """What an Event names of its object (`_new_event`): a waiting Event must not keep a whole CR,
    spec and status included, alive in the buffer, nor see it change after the call."""
    meta = obj.get("metadata") or {}
    return {"apiVersion": obj.get("apiVersion", ""), "kind": obj.get("kind", ""),
            "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion") if k in meta}}


@dataclass
class _Waiting:
    obj: dict
    type: str
    reason: str
    message: str
    crd: str
    repeats: int
    on_written: Written | None


class AsyncEventSink:
    """`EventRecorder.event` without the wait: a bounded buffer and one writer thread (see above).

    `event()` takes a lock for a dict update and never blocks on I/O. The thread starts with the
    first Event; `flush` waits until everything buffered is written, `close` also stops it."""

    def __init__(self, recorder: EventRecorder, *, capacity: int = SINK_CAPACITY,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._recorder = recorder
        self._capacity = capacity
        self._clock = clock
        self._cond = threading.Condition()
        self._waiting: OrderedDict[tuple, _Waiting] = OrderedDict()
        self._writing = False
        self._closed = False
        self._thread: threading.Thread | None = None
        self._drop_logged: float | None = None
        self.dropped = 0
        self.folded = 0

    def event(self, obj: dict, type: str, reason: str, message: str, *, crd: str = "",
              on_written: Written | None = None) -> None:
        """Buffer the Event; `on_written` is called from the writer thread once it is written
        (or refused), with what `EventRecorder.event` returns. A repeat folded into a waiting
        Event replaces that Event's `on_written`; a dropped Event calls nothing."""
        message = message[:MAX_MESSAGE]
        key = ((obj.get("metadata") or {}).get("uid", ""), type, reason, message)
        with self._cond:
            waiting = self._waiting.get(key)
            if waiting is not None:
                waiting.repeats += 1
                waiting.obj = _identity(obj)
                waiting.on_written = on_written or waiting.on_written
                self.folded += 1
                return
            if self._closed or len(self._waiting) >= self._capacity:
                self._drop(crd or obj.get("kind", ""), reason,
                           "shutting down" if self._closed else "the event buffer is full")
                return
            self._waiting[key] = _Waiting(_identity(obj), type, reason, message, crd, 1, on_written)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="ork-events", daemon=True)
                self._thread.start()
            self._cond.notify()

    def _drop(self, crd: str, reason: str, why: str) -> None:
        """Called with the lock held."""
        self.dropped += 1
        now = self._clock()
        if self._drop_logged is None or now - self._drop_logged >= FAILURE_LOG_INTERVAL:
            self._drop_logged = now
            log.warning(f"event dropped: {why}", extra={"crd": crd, "reason": reason, "dropped": self.dropped})

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._waiting and not self._closed:
                    self._cond.wait()
                if not self._waiting:
                    return
                _, item = self._waiting.popitem(last=False)
                self._writing = True
            try:
                result = self._recorder.event(item.obj, item.type, item.reason, item.message, crd=item.crd,
                                              repeats=item.repeats)
                if item.on_written is not None:
                    item.on_written(result)
            except Exception:  # noqa: BLE001 - the writer thread outlives a failing callback
                log.exception("event write callback failed", extra={"crd": item.crd, "reason": item.reason})
            finally:
                with self._cond:
                    self._writing = False
                    self._cond.notify_all()

    def flush(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds until every buffered Event is written; True if they were."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._waiting or self._writing:
                left = deadline - time.monotonic()
                if left <= 0 or self._thread is None:
                    return False
                self._cond.wait(left)
        return True

    def close(self, timeout: float) -> bool:
        """Write what is buffered (up to `timeout` seconds), then stop the thread. What is still
        waiting then is dropped, counted and logged at warn, and so are later Events; a write in
        progress is left to finish (the thread is a daemon)."""
        done = self.flush(timeout)
        with self._cond:
            self._closed = True
            lost = sum(w.repeats for w in self._waiting.values())
            self._waiting.clear()
            self._cond.notify_all()
            if lost:
                self.dropped += lost
                log.warning("events not written: shutting down", extra={"dropped": lost, "timeout": timeout})
        return done
