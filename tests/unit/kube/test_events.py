import logging
import threading
import time
from datetime import datetime, timezone

from orkestra.kube.errors import ApiError
from orkestra.kube.events import EventRecorder, AsyncEventSink
from tests.unit.workqueue.fake_clock import FakeClock

SITE = {"apiVersion": "demo.io/v1", "kind": "Site",
        "metadata": {"name": "a", "namespace": "ns", "uid": "u-1", "resourceVersion": "7"}}


class RecordingKube:
    """Records Event writes; `fail` makes every write raise the given ApiError."""

    def __init__(self):
        self.created, self.patched = [], []
        self.fail = None
        self.missing = set()

    def create(self, gvr, obj, namespace=None):
        if self.fail:
            raise self.fail
        name = f"ev{len(self.created)}"
        self.created.append((namespace, obj))
        return {**obj, "metadata": {**obj["metadata"], "name": name}}

    def patch(self, gvr, name, body, namespace=None, patch_type="merge", subresource=None):
        if self.fail:
            raise self.fail
        if name in self.missing:
            raise ApiError(status=404, reason="NotFound", message="gone", verb="patch", resource="events")
        self.patched.append((namespace, name, body))
        return {}


def make():
    kube, clock = RecordingKube(), FakeClock()
    recorder = EventRecorder(kube, "pod-1_abcd", clock=clock,
                             now=lambda: datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc))
    return kube, clock, recorder


def test_new_event_shape():
    kube, _, rec = make()
    rec.event(SITE, "Normal", "Reconciled", "ok")
    ns, ev = kube.created[0]
    assert ns == "ns" and ev["metadata"]["namespace"] == "ns"
    assert ev["involvedObject"] == {"apiVersion": "demo.io/v1", "kind": "Site", "name": "a",
                                    "namespace": "ns", "uid": "u-1", "resourceVersion": "7"}
    assert (ev["type"], ev["reason"], ev["message"], ev["count"]) == ("Normal", "Reconciled", "ok", 1)
    assert ev["source"] == {"component": "orkestra"}
    assert (ev["reportingComponent"], ev["reportingInstance"]) == ("orkestra", "pod-1_abcd")
    assert ev["firstTimestamp"] == ev["lastTimestamp"] == "2026-03-01T12:00:00Z"


def test_cluster_scoped_objects_get_events_in_default():
    kube, _, rec = make()
    rec.event({"kind": "Cluster", "metadata": {"name": "c", "uid": "u"}}, "Normal", "Reconciled", "ok")
    assert kube.created[0][0] == "default"
    assert "namespace" not in kube.created[0][1]["involvedObject"]


def test_message_is_truncated_to_1024():
    kube, _, rec = make()
    rec.event(SITE, "Warning", "ReconcileError", "x" * 5000)
    assert len(kube.created[0][1]["message"]) == 1024


def test_same_event_within_ten_minutes_is_aggregated():
    kube, clock, rec = make()
    rec.event(SITE, "Normal", "Reconciled", "ok")
    clock.advance(300)
    rec.event(SITE, "Normal", "Reconciled", "ok")
    rec.event(SITE, "Normal", "Reconciled", "ok")
    assert len(kube.created) == 1
    assert [p[2]["count"] for p in kube.patched] == [2, 3]
    assert kube.patched[0][:2] == ("ns", "ev0")
    clock.advance(301)
    rec.event(SITE, "Normal", "Reconciled", "ok")
    assert len(kube.created) == 2, "past the 10-minute window a new Event starts"


def test_different_message_is_a_new_event():
    kube, _, rec = make()
    rec.event(SITE, "Warning", "ReconcileError", "a")
    rec.event(SITE, "Warning", "ReconcileError", "b")
    assert len(kube.created) == 2 and not kube.patched


def test_expired_event_starts_a_new_series():
    kube, _, rec = make()
    rec.event(SITE, "Normal", "Reconciled", "ok")
    kube.missing.add("ev0")
    rec.event(SITE, "Normal", "Reconciled", "ok")
    assert len(kube.created) == 2


def test_at_most_ten_new_events_per_object_per_minute():
    kube, clock, rec = make()
    for i in range(15):
        rec.event(SITE, "Warning", "ReconcileError", f"failure {i}")
    assert len(kube.created) == 10
    rec.event(SITE, "Warning", "ReconcileError", "failure 0")
    assert len(kube.patched) == 1, "aggregated patches are not new Events"
    other = {**SITE, "metadata": {**SITE["metadata"], "uid": "u-2", "name": "b"}}
    rec.event(other, "Normal", "Reconciled", "ok")
    assert len(kube.created) == 11
    clock.advance(60)
    rec.event(SITE, "Warning", "ReconcileError", "later")
    assert len(kube.created) == 12


def test_failures_never_raise_and_log_once_a_minute_per_crd_and_reason(caplog):
    kube, clock, rec = make()
    kube.fail = ApiError(status=403, reason="Forbidden", message="no events for you", verb="post", resource="events")
    with caplog.at_level(logging.WARNING, logger="orkestra.kube"):
        for i in range(5):
            rec.event(SITE, "Normal", "Reconciled", f"m{i}", crd="website")
        rec.event(SITE, "Warning", "ReconcileError", "x", crd="website")
        clock.advance(61)
        rec.event(SITE, "Normal", "Reconciled", "again", crd="website")
    logged = [(r.crd, r.reason) for r in caplog.records if r.getMessage() == "event could not be written"]
    assert logged == [("website", "Reconciled"), ("website", "ReconcileError"), ("website", "Reconciled")]
    assert "no events for you" in caplog.records[0].error


def test_a_failure_is_returned_and_a_success_returns_none():
    kube, _, rec = make()
    assert rec.event(SITE, "Normal", "Reconciled", "ok") is None
    denied = ApiError(status=403, reason="Forbidden", message='cannot create resource "events"', verb="post",
                      resource="events")
    kube.fail = denied
    assert rec.event(SITE, "Normal", "Reconciled", "again", crd="website") is denied


def test_an_event_dropped_by_the_rate_limit_after_failures_still_returns_the_failure():
    """Refused creates count towards the per-object limit: the drop that follows must not read as
    "Events get through again", or the CR's active warning would come and go (docs/rbac.md)."""
    kube, clock, rec = make()
    denied = ApiError(status=403, reason="Forbidden", message='cannot create resource "events"', verb="post",
                      resource="events")
    kube.fail = denied
    for i in range(10):
        assert rec.event(SITE, "Warning", "ReconcileError", f"attempt {i}") is denied
    assert rec.event(SITE, "Warning", "ReconcileError", "attempt 10") is denied    # dropped, still failing
    kube.fail = None
    clock.advance(61)
    assert rec.event(SITE, "Normal", "Reconciled", "ok") is None
    assert rec.event(SITE, "Normal", "Reconciled", "ok") is None                  # aggregated: written


# --- AsyncEventSink (issue 15): off the caller's thread, folded, bounded ----------------------------------
class GatedKube(RecordingKube):
    """Every write waits for `gate`, like a slow API server."""

    def __init__(self):
        super().__init__()
        self.gate = threading.Event()
        self.entered = threading.Event()

    def create(self, gvr, obj, namespace=None):
        self.entered.set()
        assert self.gate.wait(5)
        return super().create(gvr, obj, namespace)


def other(uid):
    return {**SITE, "metadata": {**SITE["metadata"], "uid": uid, "name": uid}}


def make_sink(capacity=4):
    kube = GatedKube()
    recorder = EventRecorder(kube, "pod-1_abcd", clock=FakeClock(),
                             now=lambda: datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc))
    return kube, AsyncEventSink(recorder, capacity=capacity, clock=FakeClock())


def test_the_sink_never_waits_for_the_api_server_and_folds_repeats_into_one_count():
    kube, sink = make_sink()
    sink.event(SITE, "Normal", "Reconciled", "first")
    assert kube.entered.wait(2)                       # the writer thread is stuck in the first create
    started = time.monotonic()
    for _ in range(50):
        sink.event(SITE, "Normal", "Reconciled", "again")
    assert time.monotonic() - started < 0.5 and kube.created == []
    kube.gate.set()
    assert sink.flush(5)
    assert [(ev["message"], ev["count"]) for _, ev in kube.created] == [("first", 1), ("again", 50)]
    assert sink.folded == 49 and sink.dropped == 0


def test_a_full_sink_drops_with_a_count_and_keeps_what_it_holds(caplog):
    kube, sink = make_sink(capacity=2)
    sink.event(other("u-0"), "Normal", "Reconciled", "m")
    assert kube.entered.wait(2)
    with caplog.at_level(logging.WARNING, logger="orkestra.kube"):
        for i in range(1, 6):
            sink.event(other(f"u-{i}"), "Normal", "Reconciled", "m")
    assert sink.dropped == 3
    assert len([r for r in caplog.records if r.getMessage().startswith("event dropped")]) == 1
    kube.gate.set()
    assert sink.close(5)
    assert [ev["involvedObject"]["uid"] for _, ev in kube.created] == ["u-0", "u-1", "u-2"]
    sink.event(SITE, "Normal", "Reconciled", "after close")
    assert sink.dropped == 4 and len(kube.created) == 3


def test_the_sink_thread_survives_a_failing_write():
    kube, sink = make_sink()
    kube.gate.set()
    kube.fail = ApiError(status=403, reason="Forbidden", message="no", verb="create", resource="events")
    sink.event(SITE, "Normal", "Reconciled", "lost")
    assert sink.flush(5)
    kube.fail = None
    sink.event(SITE, "Normal", "Reconciled", "kept")
    assert sink.flush(5) and [ev["message"] for _, ev in kube.created] == ["kept"]


def test_the_sink_holds_only_what_an_event_names_of_its_object():
    """Waiting Events keep the object's identity, not the CR itself: 1024 waiting Events about
    CRs with large specs must not keep those specs alive."""
    import tracemalloc
    kube, sink = make_sink(capacity=64)
    sink.event(other("u-first"), "Normal", "Reconciled", "m")
    assert kube.entered.wait(2)                       # the writer is stuck: the rest waits
    tracemalloc.start()
    try:
        for i in range(40):
            big = {**other(f"u-{i}"), "spec": {"blob": "x" * 100_000}}
            sink.event(big, "Normal", "Reconciled", "m")
            big["metadata"]["name"] = "changed after the call"
        del big
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert held < 1_000_000                          # 40 x 100 kB specs when the objects are kept
    kube.gate.set()
    assert sink.close(5)
    written = [ev["involvedObject"] for _, ev in kube.created[1:]]
    assert [o["uid"] for o in written] == [f"u-{i}" for i in range(40)]
    assert {o["name"] for o in written} == {f"u-{i}" for i in range(40)}     # as it was at the call
    assert {o["resourceVersion"] for o in written} == {"7"} and all(o["namespace"] == "ns" for o in written)
    sink._thread.join(2)
    assert not sink._thread.is_alive()               # close ends the writer thread


def test_close_drops_what_it_could_not_write_in_time_with_a_count_and_a_warning(caplog):
    kube, sink = make_sink()
    sink.event(other("u-0"), "Normal", "Reconciled", "m")
    assert kube.entered.wait(2)                       # the API server does not answer
    sink.event(other("u-1"), "Normal", "Reconciled", "m")
    sink.event(other("u-1"), "Normal", "Reconciled", "m")
    sink.event(other("u-2"), "Normal", "Reconciled", "m")
    with caplog.at_level(logging.WARNING, logger="orkestra.kube"):
        assert not sink.close(0.2)
        sink.event(SITE, "Normal", "Reconciled", "after close")
    assert sink.dropped == 4                          # u-1 twice, u-2, and the one after close
    messages = [r.getMessage() for r in caplog.records]
    assert messages == ["events not written: shutting down", "event dropped: shutting down"]
    kube.gate.set()                                   # the stuck write ends: nothing more is written
    sink._thread.join(2)
    assert not sink._thread.is_alive()
    assert [ev["involvedObject"]["uid"] for _, ev in kube.created] == ["u-0"]


def test_the_sink_tells_the_caller_how_each_write_ended_from_its_writer_thread():
    """The reconciler's Events warning (docs/rbac.md) hears a refused write even though the write
    happens later, on the sink's thread; a folded repeat keeps the newest callback."""
    kube, sink = make_sink()
    denied = ApiError(status=403, reason="Forbidden", message='cannot create resource "events"', verb="post",
                      resource="events")
    kube.fail = denied
    heard: list = []
    done = threading.Event()

    def written(result):
        heard.append(result)
        done.set()
    sink.event(SITE, "Normal", "Reconciled", "ok", crd="website", on_written=lambda r: heard.append(("first", r)))
    assert kube.entered.wait(5)                 # the first write is in flight on the sink's thread
    sink.event(SITE, "Normal", "Reconciled", "ok", crd="website", on_written=lambda r: heard.append(("replaced", r)))
    sink.event(SITE, "Normal", "Reconciled", "ok", crd="website", on_written=written)
    kube.gate.set()
    assert done.wait(5)
    assert heard == [("first", denied), denied]



def test_the_rate_limit_forgets_objects_quiet_for_a_window():
    """Issue 14 soak: under churn every new CR is a new uid; the per-object stamps must not pile
    up (they did up to 4096 objects, ~40 minutes of the soak's churn)."""
    kube, clock, rec = make()
    for i in range(1000):
        rec.event({**SITE, "metadata": {**SITE["metadata"], "uid": f"churn-{i}", "name": f"cr-{i}"}},
                  "Normal", "Reconciled", "ok")
        clock.advance(0.01)
    assert len(rec._created) == 1000
    clock.advance(60)
    rec.event(SITE, "Normal", "Reconciled", "later")
    assert list(rec._created) == ["u-1"]
    for _ in range(10):
        rec.event(SITE, "Warning", "ReconcileError", f"burst {_}")
    assert len(kube.created) == 1000 + 1 + 9, "the limit still holds for an object seen in the window"


def test_series_past_the_aggregation_window_are_forgotten():
    """Issue 14 soak: each reconcile of a changed CR is a new message, so a new series; one that
    can no longer aggregate must not stay until 4096 others push it out."""
    kube, clock, rec = make()
    for i in range(1000):
        rec.event({**SITE, "metadata": {**SITE["metadata"], "uid": f"churn-{i}", "name": f"cr-{i}"}},
                  "Normal", "Reconciled", f"reconciled generation {i}")
    assert len(rec._series) == 1000
    clock.advance(601)
    rec.event(SITE, "Normal", "Reconciled", "ok")
    assert len(rec._series) == 1
    clock.advance(30)
    rec.event(SITE, "Normal", "Reconciled", "ok")
    assert len(kube.patched) == 1, "a series inside the window still aggregates"
