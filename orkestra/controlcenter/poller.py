"""The poller: every refresh interval, read every runtime in parallel and keep the snapshots.

One thread in the gunicorn worker runs `Poller.run`. A cycle reads each runtime (8 at a time,
5 s per request): `/katalog`, then `/katalog/{crd}/health` and `/katalog/{crd}` per CRD, retried
up to 3 times on fresh connections when a follower answered for a leader. One runtime's read
has a budget of three request timeouts (or one interval, if longer): a runtime that answers
slowly, CRD after CRD, is shown offline rather than holding back the cycle of all the others.
The outcome goes to
that runtime's `RuntimeTracker` (the online / starting / offline rules) and to the `History`.
After each cycle the waiting live-update streams are woken (`wait_for_cycle`).

The fetcher and the clock are injected, so a cycle runs in unit tests without a network.
"""
from __future__ import annotations

import dataclasses
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable
from urllib.parse import quote

from orkestra.controlcenter.fetch import DEFAULT_TIMEOUT, FetchError, Fetcher
from orkestra.controlcenter.fields import as_dict, as_int
from orkestra.controlcenter.history import History, Sample
from orkestra.controlcenter.tracker import RuntimeData, RuntimeTracker, runtime_ids

log = logging.getLogger("orkestra.cc")

PARALLEL = 8
LEADER_ATTEMPTS = 3
MAX_CRDS = 500            # a runtime listing more is cut short rather than polled forever
GATEWAY_BLOCKS = {"admission": "webhooksEnabled", "conversion": "enabled",
                  "deletionProtection": "enabled", "namespaceProtection": "enabled"}


class Poller:
    def __init__(self, urls: tuple[str, ...], *, interval: float, fetcher: Fetcher,
                 clock: Callable[[], float] = time.time, timeout: float = DEFAULT_TIMEOUT,
                 history: History | None = None) -> None:
        self.interval, self._fetcher, self._clock, self._timeout = interval, fetcher, clock, timeout
        self.history = history or History()
        self._budget = max(interval, 3 * timeout)
        self._trackers = [RuntimeTracker(rid, url, interval) for rid, url in zip(runtime_ids(urls), urls)]
        self._lock = threading.Lock()
        self._cycle_done = threading.Condition(self._lock)
        self._cycles = 0
        self.updated: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool = ThreadPoolExecutor(max_workers=PARALLEL, thread_name_prefix="cc-poll")

    # ------------------------------------------------------------------ reading a runtime
    def _get(self, url: str, deadline: float, ok: tuple[int, ...] = (200,)) -> Any:
        left = deadline - self._clock()
        if left <= 0:
            raise FetchError(f"{url}: not read, the runtime took longer than {self._budget:g}s to answer")
        status, body = self._fetcher.get_json(url, timeout=min(self._timeout, left))
        if status not in ok:
            raise FetchError(f"HTTP {status} from {url}")
        return body

    def _crd_documents(self, base: str, crd: str, leader: bool, deadline: float) -> tuple[dict, dict]:
        path = f"{base}/katalog/{quote(crd, safe='')}"
        health: dict = {}
        detail: dict = {}
        for _ in range(LEADER_ATTEMPTS):
            health = as_dict(self._get(f"{path}/health", deadline, ok=(200, 503, 404)))
            detail = as_dict(self._get(path, deadline, ok=(200, 404)))
            if not leader or health.get("isKonductor", True):
                break
        return detail, health

    def _gateway_blocks(self, gateway: str, crd: str, detail: dict, deadline: float) -> None:
        """Fill the admission/conversion/protection blocks a runtime leaves to its gateway."""
        if not any(not as_dict(detail.get(block)).get(flag) for block, flag in GATEWAY_BLOCKS.items()):
            return
        try:
            remote = as_dict(self._get(f"{gateway.rstrip('/')}/katalog/{quote(crd, safe='')}", deadline))
        except FetchError as err:
            log.debug("gateway stats unavailable", extra={"crd": crd, "error": str(err)})
            return
        for block, flag in GATEWAY_BLOCKS.items():
            if not as_dict(detail.get(block)).get(flag) and isinstance(remote.get(block), dict):
                detail[block] = remote[block]

    def read(self, url: str) -> RuntimeData:
        """One complete read of the runtime at `url`; raises FetchError."""
        deadline = self._clock() + self._budget
        katalog = as_dict(self._get(f"{url}/katalog", deadline))
        crds = katalog.get("crds")
        if not isinstance(crds, list) or not all(isinstance(c, dict) and isinstance(c.get("name"), str) for c in crds):
            raise FetchError(f"{url}/katalog: not an Orkestra Katalog document")
        leader = katalog.get("isKonductor") is True
        details: dict[str, dict] = {}
        health: dict[str, dict] = {}
        gateway = katalog.get("gatewayEndpoint") if isinstance(katalog.get("gatewayEndpoint"), str) else ""
        for crd in [c["name"] for c in crds[:MAX_CRDS]]:
            details[crd], health[crd] = self._crd_documents(url, crd, leader, deadline)
            if gateway and details[crd]:
                self._gateway_blocks(gateway, crd, details[crd], deadline)
        return RuntimeData(katalog=katalog, details=details, health=health, leader=leader, fetched_at=self._clock())

    # ------------------------------------------------------------------ cycles
    def _poll_one(self, tracker: RuntimeTracker) -> tuple[RuntimeTracker, RuntimeData | None, str]:
        try:
            return tracker, self.read(tracker.url), ""
        except FetchError as err:
            return tracker, None, str(err)
        except Exception as err:   # a bug must not stop the poller: show it on the card instead
            log.exception("polling a runtime failed", extra={"url": tracker.url})
            return tracker, None, f"internal error: {type(err).__name__}"

    def poll_once(self) -> None:
        started = time.monotonic()
        results = list(self._pool.map(self._poll_one, self._trackers))
        with self._cycle_done:
            now = self._clock()
            for tracker, data, error in results:
                if data is None:
                    tracker.fail(error, now)
                elif tracker.record(data):
                    self._remember(tracker.rid, data)
            self._cycles += 1
            self.updated = now
            self._cycle_done.notify_all()
        log.debug("poll cycle", extra={"seconds": round(time.monotonic() - started, 4), "runtimes": len(results),
                                       "offline": sum(data is None for _, data, _ in results)})

    def _remember(self, rid: str, data: RuntimeData) -> None:
        names = set()
        for crd in data.katalog["crds"][:MAX_CRDS]:
            names.add(crd["name"])
            self.history.add(rid, crd["name"], Sample(
                data.fetched_at, as_int(crd.get("totalReconciles")), as_int(crd.get("failedReconciles")),
                as_int(crd.get("queueDepth"))))
        self.history.forget(rid, names)

    # ------------------------------------------------------------------ readers
    @property
    def cycles(self) -> int:
        return self._cycles

    def trackers(self) -> list[RuntimeTracker]:
        """Copies, consistent with one another: views never see a half-applied cycle."""
        with self._lock:
            return [dataclasses.replace(t) for t in self._trackers]

    def tracker(self, rid: str) -> RuntimeTracker | None:
        return next((t for t in self.trackers() if t.rid == rid), None)

    def wait_for_cycle(self, after: int, timeout: float) -> int:
        """Block until a cycle later than `after` has finished (or `timeout`, or stop); returns the count."""
        with self._cycle_done:
            self._cycle_done.wait_for(lambda: self._cycles > after or self._stop.is_set(), timeout=timeout)
            return self._cycles

    # ------------------------------------------------------------------ thread
    def run(self) -> None:
        try:
            while not self._stop.is_set():
                started = time.monotonic()
                self.poll_once()
                self._stop.wait(max(0.0, self.interval - (time.monotonic() - started)))
        finally:
            self._pool.shutdown(wait=False, cancel_futures=True)

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="cc-poller", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Ends the loop after the cycle in progress and wakes every waiting stream."""
        self._stop.set()
        with self._cycle_done:
            self._cycle_done.notify_all()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

