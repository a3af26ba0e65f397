"""Leader election on a `coordination.k8s.io/v1` Lease with client-go semantics (docs/runtime.md §9).

Written from the protocol, not on top of the Python client's leaderelection module:

* Every write is an optimistic update carrying the resourceVersion that was read; a 409 means
  another replica won the race, never an error worth more than a retry.
* Expiry is judged by the *locally observed* time of the last change to the Lease record, plus
  `leaseDurationSeconds`; server timestamps are written but never trusted (clock skew).
* Followers also watch the Lease and wake at once when it is released, and schedule an attempt
  for the moment the lease they observed runs out, so handover is fast after a graceful exit and
  bounded by lease + retry after a crash.
* A leader's renewal is bounded by what is left of its renew deadline: every Lease request gets
  that as its timeout. A request hanging on a dead or partitioned connection therefore cannot keep
  a leader believing it leads past `renew_deadline`, which is shorter than the lease another
  replica waits out before taking over (docs/operating.md, "Faults").

`LeaseElector.try_acquire_or_renew()` is one step of pure logic over a `LeaseStore`; unit tests
drive it with an in-memory store and a fake clock. `run()` is the `ork-leader` loop around it.
"""
from __future__ import annotations

import datetime as _dt
import logging
import random
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Protocol

from orkestra import metrics

if TYPE_CHECKING:
    from orkestra.kube.client import KubeClient

log = logging.getLogger("orkestra.leader")
LEASE_NAME = "orkestra-konductor"


class LeaseConflict(Exception):
    """The Lease changed (or already exists) since it was read: someone else won."""


class LeaseStore(Protocol):
    name: str
    namespace: str

    # `timeout`: seconds the request may take (None: the client's default)
    def get(self, *, timeout: float | None = None) -> dict | None: ...
    def create(self, lease: dict, *, timeout: float | None = None) -> dict: ...   # LeaseConflict on 409
    def update(self, lease: dict, *, timeout: float | None = None) -> dict: ...   # LeaseConflict on 409


def micro_time(epoch: float) -> str:
    """Kubernetes MicroTime: RFC 3339 with microseconds, UTC."""
    return _dt.datetime.fromtimestamp(epoch, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaseElector:
    def __init__(self, store: LeaseStore, *, identity: str, lease_duration: float, renew_deadline: float,
                 retry_period: float, on_started_leading: Callable[[], None] = lambda: None,
                 on_stopped_leading: Callable[[], None] = lambda: None,
                 on_failure: Callable[[str], None] = lambda message: None,
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time,
                 jitter: Callable[[], float] = lambda: random.uniform(1.0, 1.2)):
        self.store = store
        self.identity = identity
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self._on_started = on_started_leading
        self._on_stopped = on_stopped_leading
        self._on_failure = on_failure
        self._failure = ""                     # the last failed Lease request, "" once one succeeds
        self._clock = clock
        self._wall = wall
        self._jitter = jitter
        self._lease: dict | None = None        # last Lease read or written (with its resourceVersion)
        self._observed_spec: dict | None = None
        self._observed_at = 0.0                # local monotonic time the record last changed
        self._leader = False
        self._last_renew = 0.0
        self._wake = threading.Event()

    # ------------------------------------------------------------------ state
    def is_leader(self) -> bool:
        return self._leader

    @property
    def lease(self) -> dict | None:
        """The Lease last read or written (for the LeaderElection event)."""
        return self._lease

    @property
    def holder(self) -> str:
        """The holder identity last observed ("" when free or unknown)."""
        return ((self._observed_spec or {}).get("holderIdentity")) or ""

    def wake(self) -> None:
        """Try to acquire now (the watch saw the Lease released or deleted)."""
        self._wake.set()

    def _observe(self, lease: dict, now: float) -> None:
        spec = lease.get("spec") or {}
        if spec != self._observed_spec:
            self._observed_spec, self._observed_at = dict(spec), now
        self._lease = lease

    def expires_in(self) -> float | None:
        """Seconds until the lease observed for another holder runs out (None when not applicable)."""
        spec = self._observed_spec or {}
        if not spec.get("holderIdentity") or spec.get("holderIdentity") == self.identity:
            return None
        return self._observed_at + float(spec.get("leaseDurationSeconds") or 0) - self._clock()

    # ------------------------------------------------------------------ one step
    def try_acquire_or_renew(self, *, budget: float | None = None) -> bool:
        """One acquire-or-renew; with a `budget`, the get and the write together may take at most
        that many seconds (a request that would go past it fails as a timeout)."""
        now, wall = self._clock(), self._wall()
        deadline = None if budget is None else now + budget
        try:
            lease = self.store.get(timeout=self._left(deadline))
        except Exception as err:  # noqa: BLE001 - any API failure: log and retry next period
            self._log_failure("get", err)
            return False
        if lease is None:
            fresh = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                     "metadata": {"name": self.store.name, "namespace": self.store.namespace},
                     "spec": self._spec(acquire=micro_time(wall), renew=micro_time(wall), transitions=0)}
            return self._write(self.store.create, fresh, now, "create", deadline)
        self._observe(lease, now)
        spec = lease.get("spec") or {}
        holder = spec.get("holderIdentity") or ""
        if holder and holder != self.identity and \
                self._observed_at + float(spec.get("leaseDurationSeconds") or 0) > now:
            self._report_failure("")           # a follower's requests work: it just waits
            return False
        transitions = int(spec.get("leaseTransitions") or 0)
        if holder == self.identity:
            new_spec = self._spec(acquire=spec.get("acquireTime") or micro_time(wall), renew=micro_time(wall),
                                  transitions=transitions)
        else:
            new_spec = self._spec(acquire=micro_time(wall), renew=micro_time(wall), transitions=transitions + 1)
        return self._write(self.store.update, {**lease, "spec": new_spec}, now, "update", deadline)

    def _spec(self, *, acquire: str, renew: str, transitions: int) -> dict:
        return {"holderIdentity": self.identity, "leaseDurationSeconds": int(round(self.lease_duration)),
                "acquireTime": acquire, "renewTime": renew, "leaseTransitions": transitions}

    def _left(self, deadline: float | None) -> float | None:
        if deadline is None:
            return None
        left = deadline - self._clock()
        if left <= 0:
            raise TimeoutError("the renew deadline passed")
        return left

    def _write(self, op: Callable[..., dict], lease: dict, now: float, verb: str, deadline: float | None) -> bool:
        try:
            written = op(lease, timeout=self._left(deadline))
        except LeaseConflict:
            return False
        except Exception as err:  # noqa: BLE001
            self._log_failure(verb, err)
            return False
        self._report_failure("")
        self._observe(written, now)
        self._last_renew = now
        return True

    def _log_failure(self, verb: str, err: Exception) -> None:
        message = f"leader election: {verb} lease {self.store.namespace}/{self.store.name} failed: {err}"
        log.error(message, extra={"verb": verb, "lease": f"{self.store.namespace}/{self.store.name}", "error": str(err)})
        self._report_failure(message)

    def _report_failure(self, message: str) -> None:
        """Tell `on_failure` when the Lease requests start failing (a 403: a Lease rule missing
        from the Role), change failure, or work again (`""`); not at every retry."""
        if message != self._failure:
            self._failure = message
            self._on_failure(message)

    # ------------------------------------------------------------------ release
    def release(self) -> bool:
        """Hand the Lease over (graceful shutdown): only while we still hold it."""
        if not self._leader or self._lease is None:
            return False
        spec = self._lease.get("spec") or {}
        if spec.get("holderIdentity") != self.identity:
            return False
        released = {**self._lease, "spec": {**spec, "holderIdentity": "", "leaseDurationSeconds": 1,
                                            "renewTime": micro_time(self._wall())}}
        try:
            self.store.update(released)
        except LeaseConflict:
            return False
        except Exception as err:  # noqa: BLE001
            self._log_failure("release", err)
            return False
        self._set_leader(False)
        log.info("lease released", extra={"identity": self.identity})
        return True

    # ------------------------------------------------------------------ loop
    def _set_leader(self, value: bool) -> None:
        self._leader = value
        metrics.leader_status.labels(LEASE_NAME).set(1 if value else 0)

    def step(self) -> float:
        """One iteration of the loop; returns how long to wait before the next one.
        Calls `on_stopped_leading` (and stops leading) when renewals failed for `renew_deadline`."""
        if not self._leader:
            if self.try_acquire_or_renew():
                self._set_leader(True)
                log.info(f"{self.identity} became konductor",
                         extra={"lease": f"{self.store.namespace}/{self.store.name}"})
                self._on_started()
                return self.retry_period
            wait = self.retry_period * self._jitter()
            expiry = self.expires_in()
            if expiry is not None:
                wait = min(wait, max(0.0, expiry) + 0.05)
            return wait
        budget = self._last_renew + self.renew_deadline - self._clock()
        if budget > 0 and self.try_acquire_or_renew(budget=budget):
            return self.retry_period
        if self._clock() - self._last_renew >= self.renew_deadline:
            self._set_leader(False)
            log.error("lost leadership", extra={"identity": self.identity})
            self._on_stopped()
            return self.retry_period
        return min(self.retry_period, max(0.0, self._last_renew + self.renew_deadline - self._clock()))

    def run(self, stop: threading.Event) -> None:
        """The `ork-leader` loop: until `stop` is set or leadership is lost."""
        self._set_leader(False)
        was_leader = False
        while not stop.is_set():
            wait = self.step()
            if was_leader and not self._leader:
                return
            was_leader = self._leader
            self._wake.wait(wait)
            self._wake.clear()


class KubeLeaseStore:
    """The Lease through `orkestra.kube.KubeClient` (plain dicts)."""

    def __init__(self, kube: KubeClient, *, namespace: str, name: str = LEASE_NAME):
        self.kube = kube
        self.namespace = namespace
        self.name = name
        self.path = f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"

    def get(self, *, timeout: float | None = None) -> dict | None:
        try:
            return self.kube.request("GET", f"{self.path}/{self.name}", timeout=timeout)
        except Exception as err:
            if getattr(err, "status", None) == 404:
                return None
            raise

    def create(self, lease: dict, *, timeout: float | None = None) -> dict:
        return self._conflicts(lambda: self.kube.request("POST", self.path, body=lease, timeout=timeout))

    def update(self, lease: dict, *, timeout: float | None = None) -> dict:
        return self._conflicts(lambda: self.kube.request("PUT", f"{self.path}/{self.name}", body=lease,
                                                         timeout=timeout))

    @staticmethod
    def _conflicts(call: Callable[[], dict]) -> dict:
        try:
            return call()
        except Exception as err:
            if getattr(err, "status", None) == 409:
                raise LeaseConflict(str(err)) from err
            raise

    def watch_released(self, elector: LeaseElector, stop: threading.Event) -> None:
        """Follower side: wake the elector whenever the Lease is released or deleted."""
        query = {"fieldSelector": f"metadata.name={self.name}", "watch": "true", "timeoutSeconds": "50"}
        while not stop.is_set():
            try:
                with self.kube.watch(self.path, query, 60) as stream:
                    for event in stream:
                        if stop.is_set():
                            return
                        spec = (event.get("object") or {}).get("spec") or {}
                        if event.get("type") == "DELETED" or (event.get("type") in ("ADDED", "MODIFIED")
                                                              and not spec.get("holderIdentity")):
                            elector.wake()
            except Exception as err:  # noqa: BLE001 - reconnect after a short pause
                log.debug("lease watch ended", extra={"error": str(err)})
                stop.wait(1.0)
