import threading

from orkestra.engine.safe import safe_reconcile
from orkestra.errors import OrkestraError
from orkestra.reconcile.errors import ValidationDenied
from orkestra.reconcile.runtime import ReconcileResult


class Sink:
    key = "website-safe"
    gvk_string = "demo.orkestra.io/v1alpha1, Kind=Website"

    def __init__(self):
        self.successes, self.failures, self.events = [], [], []

    def record_success(self, duration):
        self.successes.append(duration)

    def record_failure(self, error, stack, duration):
        self.failures.append((error, stack))

    def warning_event(self, cr_key, reason, message):
        self.events.append((cr_key, reason, message))


class Reconciler:
    def __init__(self, action):
        self.action = action
        self.reported = []

    def reconcile(self, key, cancelled):
        return self.action()

    def report_failure(self, key, error, reason):
        self.reported.append((key, str(error), reason))


def counter(name, **labels):
    from prometheus_client import REGISTRY
    return REGISTRY.get_sample_value(name, labels) or 0.0


def ticking():
    t = [0.0]

    def clock():
        t[0] += 0.5
        return t[0]
    return clock


def run(action, sink=None):
    sink = sink or Sink()
    rec = Reconciler(action)
    out = safe_reconcile(rec, "default/site-a", threading.Event(), sink=sink, clock=ticking())
    return out, sink, rec


def test_success_records_health_and_metrics():
    before = counter("controller_runtime_reconcile_total", controller="website-safe", result="success")
    out, sink, rec = run(lambda: ReconcileResult())
    assert out.ok and out.requeue_after is None
    assert sink.successes == [0.5] and not sink.failures and not sink.events and not rec.reported
    assert counter("controller_runtime_reconcile_total", controller="website-safe", result="success") == before + 1


def test_requeue_after_is_passed_on_and_counted():
    before = counter("controller_runtime_reconcile_total", controller="website-safe", result="requeue_after")
    out, _, _ = run(lambda: ReconcileResult(requeue_after=30))
    assert out.ok and out.requeue_after == 30
    assert counter("controller_runtime_reconcile_total", controller="website-safe", result="requeue_after") == before + 1


def test_expected_failure_is_not_a_panic(caplog):
    panics = counter("controller_runtime_reconcile_panics_total", controller="website-safe")

    def fail():
        raise OrkestraError("apply failed: Deployment default/web: forbidden")
    out, sink, rec = run(fail)
    assert not out.ok and out.error == "apply failed: Deployment default/web: forbidden"
    assert sink.failures[0][0] == out.error
    assert sink.events == [("default/site-a", "ReconcileError", out.error)]
    assert rec.reported == [("default/site-a", out.error, "ReconcileError")]
    assert counter("controller_runtime_reconcile_panics_total", controller="website-safe") == panics
    record = [r for r in caplog.records if r.name == "orkestra.engine" and r.levelname == "ERROR"][-1]
    assert record.getMessage() == out.error and record.key == "default/site-a"


def test_panic_error_string_and_log_fields(caplog):
    panics = counter("controller_runtime_reconcile_panics_total", controller="website-safe")
    errors = counter("controller_reconcile_total", crd=Sink.gvk_string, controller="website-safe", result="error")

    def crash():
        return None.endpoint  # noqa: B018 - AttributeError on purpose
    out, sink, rec = run(crash)
    assert out.error == "reconciler panic: AttributeError: 'NoneType' object has no attribute 'endpoint'"
    assert "Traceback" in sink.failures[0][1]
    assert sink.events[0][1] == "ReconcileError"
    assert rec.reported[0][1] == out.error
    assert counter("controller_runtime_reconcile_panics_total", controller="website-safe") == panics + 1
    assert counter("controller_reconcile_total", crd=Sink.gvk_string, controller="website-safe",
                   result="error") == errors + 1
    record = [r for r in caplog.records if r.getMessage() == "reconciler panic recovered"][-1]
    assert record.panic == "AttributeError: 'NoneType' object has no attribute 'endpoint'"
    assert record.crd == "website-safe" and "Traceback" in record.stack


def test_sys_exit_from_a_hook_does_not_end_the_worker():
    def leave():
        raise SystemExit(2)
    out, sink, _ = run(leave)
    assert not out.ok and out.error == "reconciler panic: SystemExit: 2"


def test_validation_denied_is_reported_once_under_its_own_reason():
    def deny():
        raise ValidationDenied('validation denied: field "spec.replicas": too many (got: "9")')
    out, sink, rec = run(deny)
    assert [e[1] for e in sink.events] == ["ValidationDenied"]
    assert rec.reported[0][2] == "ValidationDenied"


def test_report_failure_that_raises_is_contained():
    class Broken(Reconciler):
        def report_failure(self, key, error, reason):
            raise RuntimeError("status patch exploded")

    def fail():
        raise OrkestraError("nope")
    out = safe_reconcile(Broken(fail), "k", threading.Event(), sink=Sink(), clock=ticking())
    assert not out.ok and out.error == "nope"



def test_a_requeue_after_that_is_not_seconds_is_a_panic_not_a_dead_worker():
    """ctx.requeue_after("5s") from a hook reached queue.add_after in the worker loop, whose
    TypeError ended the worker thread. It is contained here as a panic instead."""
    for bad in ("5s", float("nan"), True):
        out, sink, _ = run(lambda: ReconcileResult(requeue_after=bad))
        assert not out.ok and out.error.startswith("reconciler panic: TypeError: requeue_after must be")
        assert sink.failures and sink.events[0][1] == "ReconcileError"
    out, _, _ = run(lambda: ReconcileResult(requeue_after=0))
    assert out.ok and out.requeue_after is None


def test_series_are_bound_once_per_crd_and_outcome():
    """Every resync reconciles every CR: the four series of an outcome are looked up once, and
    still count every reconcile (issue 15, idle CPU)."""
    from orkestra.engine import safe
    sink = Sink()
    sink.key = "website-series"
    before = counter("controller_reconcile_total", crd=sink.gvk_string, controller=sink.key, result="success")
    hits = safe._series.cache_info().hits
    for _ in range(3):
        assert safe_reconcile(Reconciler(ReconcileResult), "ns/a", threading.Event(), sink=sink).ok
    assert counter("controller_reconcile_total", crd=sink.gvk_string, controller=sink.key, result="success") == before + 3
    assert safe._series.cache_info().hits == hits + 2
