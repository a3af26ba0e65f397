"""`safe_reconcile`: the one place where a reconcile's failure is contained (docs/runtime.md §6).

Whatever the reconciler or a user hook does (raise, `sys.exit()`, return garbage) the worker gets
an `Outcome` back and goes on. The two kinds of failure are told apart here: an `OrkestraError` is
*expected* (logged at error without a traceback, which goes to debug), anything else is a *panic*
(logged with its stack and counted in `controller_runtime_reconcile_panics_total`). Both record a
failure in the CRD's health, the reconcile metrics and a Warning event on the CR.

The Ready=False status write is the reconciler's (`report_failure`, best effort): it owns the
status layout of docs/katalog.md#status. This module never writes to the API server itself.
"""
from __future__ import annotations

import functools
import logging
import time
import traceback
from dataclasses import dataclass
import threading
from typing import Any, Callable, Protocol

from prometheus_client import Counter, Histogram

from orkestra import metrics
from orkestra.errors import OrkestraError
from orkestra.reconcile.runtime import Reconciler

log = logging.getLogger("orkestra.engine")


@dataclass(frozen=True)
class Outcome:
    ok: bool
    requeue_after: float | None = None
    error: str = ""


class ReconcileSink(Protocol):
    """What `safe_reconcile` reports to: the CRD's operator box."""
    key: str
    gvk_string: str

    def record_success(self, duration: float) -> None: ...
    def record_failure(self, error: str, stack: str, duration: float) -> None: ...
    def warning_event(self, cr_key: str, reason: str, message: str) -> None: ...


def panic_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


class PanicError(OrkestraError):
    """Hands a panic's error string to `report_failure` (the status message)."""


def safe_reconcile(reconciler: Reconciler, key: str, cancelled: threading.Event,
                   *, sink: ReconcileSink, clock: Callable[[], float] = time.monotonic) -> Outcome:
    """Run `reconciler.reconcile(key, cancelled)`; never raises. On failure, also asks the
    reconciler for its best-effort Ready=False status (`report_failure`)."""
    labels = (sink.gvk_string, sink.key)
    ctx = {"crd": sink.key, "gvk": sink.gvk_string, "key": key}
    start = clock()
    try:
        result = reconciler.reconcile(key, cancelled)
        requeue_after = requeue_seconds(getattr(result, "requeue_after", None))
    except OrkestraError as exc:
        error, stack, reason, failure = str(exc), traceback.format_exc(), _event_reason(exc), exc
        log.error(error, extra={**ctx, "error": error})
        log.debug("reconcile failure traceback", extra={**ctx, "stack": stack})
        panicked = False
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - a hook may raise anything, even sys.exit()
        stack = traceback.format_exc()
        error, reason = f"reconciler panic: {panic_text(exc)}", "ReconcileError"
        failure = PanicError(error)
        log.error("reconciler panic recovered", extra={**ctx, "panic": panic_text(exc), "stack": stack})
        panicked = True
    else:
        duration = clock() - start
        _observe(labels, duration, "success", "requeue_after" if requeue_after else "success")
        sink.record_success(duration)
        return Outcome(True, requeue_after)
    duration = clock() - start
    _observe(labels, duration, "error", "error")
    metrics.cr_reconcile_errors.labels(sink.key).inc()
    if panicked:
        metrics.cr_reconcile_panics.labels(sink.key).inc()
    sink.record_failure(error, stack, duration)
    sink.warning_event(key, reason, error)
    _report(reconciler, key, failure, reason, ctx)
    return Outcome(False, None, error)


def requeue_seconds(value: Any) -> float | None:
    """A result's `requeue_after` as seconds the queue can use (None: no requeue). A hook's
    `ctx.requeue_after("5s")` must not reach the worker loop, where it would end the thread:
    a value that is not a finite number raises here and is handled as a panic."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or value in (
            float("inf"), float("-inf")):
        raise TypeError(f"requeue_after must be a finite number of seconds, got {value!r}")
    return float(value) if value > 0 else None


def _report(reconciler: Reconciler, key: str, failure: BaseException, reason: str, ctx: dict) -> None:
    report = getattr(reconciler, "report_failure", None)
    if report is None:
        return
    try:
        report(key, failure, reason)
    except Exception as exc:  # noqa: BLE001 - documented never to raise; contain it anyway
        log.warning("status patch after failure failed", extra={**ctx, "error": str(exc)})


def _event_reason(exc: OrkestraError) -> str:
    """A validation denial is reported as `ValidationDenied`, never also as `ReconcileError`."""
    return "ValidationDenied" if getattr(exc, "reason", None) == "ValidationDenied" else "ReconcileError"


def _observe(labels: tuple[str, str], duration: float, result: str, cr_result: str) -> None:
    total, seconds, cr_total, cr_seconds = _series(*labels, result, cr_result)
    total.inc()
    seconds.observe(duration)
    cr_total.inc()
    cr_seconds.observe(duration)


@functools.lru_cache(maxsize=1024)
def _series(gvk: str, crd: str, result: str, cr_result: str) -> tuple[Counter, Histogram, Counter, Histogram]:
    """The four series one reconcile outcome moves, bound once per (CRD, outcome): `labels()`
    takes a lock and builds a key on every call, four times per reconcile (issue 15, idle CPU:
    every resync reconciles every CR). Families never drop a child, so a bound one stays live."""
    return (metrics.reconcile_total.labels(gvk, crd, result), metrics.reconcile_duration.labels(gvk, crd),
            metrics.cr_reconcile_total.labels(crd, cr_result), metrics.cr_reconcile_time.labels(crd))
