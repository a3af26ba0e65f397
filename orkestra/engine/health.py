"""Per-CRD health (docs/runtime.md §7): a small state machine with no I/O.

The engine feeds it facts (activation, reconcile results, the CRD vanishing, an informer
forbidden, the queue going idle) and reads back one of five states. The state is *derived* from
the facts rather than stored, so no combination of events can leave it inconsistent: `degraded`
is simply "running, and missing or forbidden or failing at least `failureThreshold` times".
Every mutator returns True when the derived state changed, which is how the activator knows to
run early. A lock makes it safe to call from workers, reflector threads and HTTP views at once.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Callable


class CrdState(StrEnum):
    """The derived state of one CRD (docs/runtime.md §7)."""
    PENDING = "pending"
    NOT_STARTED = "not started"
    STARTED = "started"
    HEALTHY = "healthy"
    DEGRADED = "degraded"


class _Phase(StrEnum):
    """Where the CRD's lifecycle is, one of the facts the state is derived from."""
    PENDING = "pending"
    NOT_STARTED = "not started"
    RUNNING = "running"


# States in which /katalog/{crd}/health answers 503.
UNHEALTHY_STATES = (CrdState.NOT_STARTED, CrdState.DEGRADED)


@dataclass
class _Facts:
    phase: _Phase = _Phase.NOT_STARTED
    missing: bool = False
    forbidden: str = ""               # lastError of a forbidden informer, "" when fine
    proven: bool = False              # a success, or synced and idle, since the last activation
    total: int = 0
    failed: int = 0
    consecutive: int = 0
    last_error: str = ""
    last_error_at: float | None = None
    last_error_stack: str = ""
    last_reconcile: float | None = None
    started_at: float | None = None
    awaiting: tuple[str, ...] = ()
    duration_sum: float = 0.0


class CrdHealth:
    """Health of one CRD. `clock` returns wall-clock seconds (timestamps shown by the API)."""

    def __init__(self, key: str, failure_threshold: int, *, clock: Callable[[], float]):
        self.key = key
        self.failure_threshold = failure_threshold
        self._clock = clock
        self._lock = threading.Lock()
        self._f = _Facts()

    # --- derived state ---
    @property
    def state(self) -> CrdState:
        with self._lock:
            return self._state()

    def _state(self) -> CrdState:
        f = self._f
        if f.phase == _Phase.PENDING:
            return CrdState.PENDING
        if f.phase != _Phase.RUNNING:
            return CrdState.NOT_STARTED
        if f.missing or f.forbidden or f.consecutive >= self.failure_threshold:
            return CrdState.DEGRADED
        return CrdState.HEALTHY if f.proven else CrdState.STARTED

    def _change(self, mutate: Callable[[_Facts], None]) -> bool:
        with self._lock:
            before = self._state()
            mutate(self._f)
            return self._state() != before

    # --- lifecycle facts ---
    def mark_pending(self, awaiting: list[str] | tuple[str, ...] = ()) -> bool:
        """Follower, or waiting for dependencies (its kind is served, so it is not missing)."""
        def m(f: _Facts) -> None:
            f.phase, f.awaiting, f.missing = _Phase.PENDING, tuple(awaiting), False
        return self._change(m)

    def mark_not_started(self, reason: str = "", *, missing: bool = False) -> bool:
        """Could not start (kind not served at startup, activation failed)."""
        def m(f: _Facts) -> None:
            f.phase, f.missing, f.awaiting = _Phase.NOT_STARTED, missing, ()
            if reason:
                f.last_error, f.last_error_at = reason, self._clock()
        return self._change(m)

    def mark_started(self) -> bool:
        """Workers are running: a fresh activation. Totals and lastError are kept; proof and the
        failure streak are not, so a re-created CRD goes through started to healthy (§8) instead
        of staying degraded, or started forever, with no CR left to succeed on."""
        def m(f: _Facts) -> None:
            f.phase, f.missing, f.forbidden, f.proven, f.awaiting = _Phase.RUNNING, False, "", False, ()
            f.consecutive = 0
            f.started_at = self._clock()
        return self._change(m)

    def mark_missing(self, error: str) -> bool:
        """The CRD vanished: degraded if it ran, otherwise not started."""
        def m(f: _Facts) -> None:
            f.missing = True
            f.last_error, f.last_error_at = error, self._clock()
            if f.phase != _Phase.RUNNING:
                f.phase = _Phase.NOT_STARTED
        return self._change(m)

    def set_forbidden(self, error: str) -> bool:
        """An informer of this CRD is forbidden (`error`), or recovered (`""`)."""
        def m(f: _Facts) -> None:
            f.forbidden = error
            if error:
                f.last_error, f.last_error_at = error, self._clock()
        return self._change(m)

    def mark_idle(self) -> bool:
        """Informer synced, nothing queued or processing, no failure streak: a CRD with nothing to
        do is healthy."""
        def m(f: _Facts) -> None:
            if f.phase == _Phase.RUNNING and f.consecutive == 0:
                f.proven = True
        return self._change(m)

    # --- reconcile results ---
    def record_success(self, duration: float = 0.0) -> bool:
        def m(f: _Facts) -> None:
            f.total += 1
            f.consecutive = 0
            f.proven = True
            f.last_reconcile = self._clock()
            f.duration_sum += duration
        return self._change(m)

    def record_failure(self, error: str, stack: str = "", duration: float = 0.0) -> bool:
        def m(f: _Facts) -> None:
            f.total += 1
            f.failed += 1
            f.consecutive += 1
            f.last_error, f.last_error_at, f.last_error_stack = error, self._clock(), stack
            f.duration_sum += duration
        return self._change(m)

    # --- reading ---
    @property
    def consecutive_fails(self) -> int:
        return self._f.consecutive

    @property
    def missing(self) -> bool:
        return self._f.missing

    @property
    def started_at(self) -> float | None:
        return self._f.started_at

    def snapshot(self) -> dict[str, Any]:
        """Plain values for the HTTP API and metrics (timestamps as epoch seconds or None)."""
        with self._lock:
            f = self._f
            state = self._state()
            return {
                "state": state,
                "healthy": state not in UNHEALTHY_STATES,
                "started": f.phase == _Phase.RUNNING,
                "pending": state == CrdState.PENDING,
                "missing": f.missing,
                "awaiting": list(f.awaiting),
                "totalReconciles": f.total,
                "failedReconciles": f.failed,
                "consecutiveFails": f.consecutive,
                "failureThreshold": self.failure_threshold,
                "errorRate": error_rate(f.failed, f.total),
                "avgDurationMs": round(f.duration_sum / f.total * 1000, 1) if f.total else 0.0,
                "lastError": f.last_error,
                "lastErrorAt": f.last_error_at,
                "lastErrorStack": f.last_error_stack,
                "lastReconcile": f.last_reconcile,
                "startedAt": f.started_at,
            }


def error_rate(failed: int, total: int) -> float:
    return round(failed / total, 4) if total else 0.0


def http_status(state: str) -> int:
    """The /katalog/{crd}/health status for a state (§7 table)."""
    return 503 if state in UNHEALTHY_STATES else 200


def katalog_health(states: list[str]) -> tuple[bool, str]:
    """(healthy, degradedReason) over the states of the enabled CRDs."""
    parts = []
    for state in (CrdState.DEGRADED, CrdState.NOT_STARTED):
        n = states.count(state)
        if n:
            parts.append(f"{n} CRD{'s' if n != 1 else ''} {state}")
    return (not parts, ", ".join(parts))


def dependency_satisfied(condition: str, state: str) -> bool:
    """A `started` dependency is met by a started or healthy CRD, a `healthy` one only by a
    healthy CRD (docs/katalog.md#dependson)."""
    if condition == CrdState.HEALTHY:
        return state == CrdState.HEALTHY
    return state in (CrdState.STARTED, CrdState.HEALTHY)
