from orkestra.engine.health import CrdHealth, CrdState, dependency_satisfied, http_status, katalog_health


class Clock:
    def __init__(self, t: float = 1000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


def make(threshold: int = 3) -> tuple[CrdHealth, Clock]:
    clock = Clock()
    return CrdHealth("website", threshold, clock=clock), clock


def test_new_crd_is_not_started_and_pending_on_follower():
    h, _ = make()
    assert h.state == CrdState.NOT_STARTED
    assert h.mark_pending(["cache"]) is True
    assert h.state == CrdState.PENDING
    assert h.snapshot()["awaiting"] == ["cache"]
    assert h.mark_pending(["cache"]) is False


def test_started_then_healthy_on_first_success():
    h, clock = make()
    h.mark_started()
    assert h.state == CrdState.STARTED
    assert h.snapshot()["startedAt"] == clock.t
    clock.t += 5
    assert h.record_success(0.02) is True
    snap = h.snapshot()
    assert h.state == CrdState.HEALTHY
    assert snap["totalReconciles"] == 1 and snap["lastReconcile"] == clock.t
    assert snap["avgDurationMs"] == 20.0


def test_idle_synced_crd_is_healthy_but_not_while_failing():
    h, _ = make()
    h.mark_started()
    h.record_failure("boom")
    assert h.mark_idle() is False
    assert h.state == CrdState.STARTED
    h2, _ = make()
    h2.mark_started()
    assert h2.mark_idle() is True
    assert h2.state == CrdState.HEALTHY


def test_degrades_at_threshold_and_recovers_at_once():
    h, clock = make(threshold=3)
    h.mark_started()
    h.record_success()
    for i in range(2):
        assert h.record_failure(f"err {i}", "stack") is False
        assert h.state == CrdState.HEALTHY
    assert h.record_failure("err 2", "stack2") is True
    snap = h.snapshot()
    assert snap["state"] == CrdState.DEGRADED and not snap["healthy"]
    assert snap["consecutiveFails"] == 3 and snap["failedReconciles"] == 3 and snap["totalReconciles"] == 4
    assert snap["lastError"] == "err 2" and snap["lastErrorStack"] == "stack2" and snap["lastErrorAt"] == clock.t
    assert snap["errorRate"] == 0.75
    assert h.record_success() is True
    snap = h.snapshot()
    assert snap["state"] == CrdState.HEALTHY and snap["consecutiveFails"] == 0
    assert snap["lastError"] == "err 2", "lastError is kept as an audit trail"


def test_error_rate_rounds_to_four_decimals():
    h, _ = make(threshold=100)
    h.mark_started()
    h.record_failure("x")
    h.record_success()
    h.record_success()
    assert h.snapshot()["errorRate"] == 0.3333


def test_missing_at_startup_is_not_started_and_at_runtime_degraded():
    h, _ = make()
    h.mark_missing("CustomResourceDefinition websites.demo.io not found in cluster")
    assert h.state == CrdState.NOT_STARTED and h.missing
    running, _ = make()
    running.mark_started()
    running.record_success()
    assert running.mark_missing("gone") is True
    assert running.state == CrdState.DEGRADED
    assert running.snapshot()["lastError"] == "gone"


def test_a_kind_that_appeared_and_waits_for_dependencies_is_pending_not_missing():
    h, _ = make()
    h.mark_missing("CustomResourceDefinition websites.demo.io not found in cluster")
    h.mark_pending(["cache"])
    snap = h.snapshot()
    assert (snap["state"], snap["missing"], snap["pending"]) == (CrdState.PENDING, False, True)


def test_reactivation_keeps_counters_and_goes_through_started():
    h, _ = make()
    h.mark_started()
    h.record_success()
    h.record_failure("x")
    h.mark_missing("gone")
    h.mark_started()
    snap = h.snapshot()
    assert snap["state"] == CrdState.STARTED and not snap["missing"]
    assert snap["totalReconciles"] == 2 and snap["failedReconciles"] == 1


def test_a_recreated_crd_that_was_degraded_goes_through_started_to_healthy():
    """docs/runtime.md §8 step 2: counters are kept, the state goes through started then healthy
    (the CRs went with the deleted CRD, so no reconcile will ever succeed to end the streak)."""
    h, _ = make(threshold=3)
    h.mark_started()
    for _ in range(4):
        h.record_failure("boom")
    assert h.state == CrdState.DEGRADED
    h.mark_missing("gone")
    h.mark_started()
    assert h.state == CrdState.STARTED
    assert h.mark_idle() is True and h.state == CrdState.HEALTHY
    snap = h.snapshot()
    assert (snap["totalReconciles"], snap["failedReconciles"], snap["lastError"]) == (4, 4, "gone")


def test_forbidden_informer_degrades_until_cleared():
    h, _ = make()
    h.mark_started()
    h.record_success()
    assert h.set_forbidden("forbidden: cannot watch deployments in all namespaces") is True
    assert h.state == CrdState.DEGRADED
    assert h.set_forbidden("") is True
    assert h.state == CrdState.HEALTHY


def test_http_status_and_katalog_health():
    assert [http_status(s) for s in (CrdState.PENDING, CrdState.NOT_STARTED, CrdState.STARTED, CrdState.HEALTHY, CrdState.DEGRADED)] == [200, 503, 200, 200, 503]
    assert katalog_health([CrdState.HEALTHY, CrdState.PENDING, CrdState.STARTED]) == (True, "")
    assert katalog_health([CrdState.DEGRADED, CrdState.DEGRADED, CrdState.HEALTHY]) == (False, "2 CRDs degraded")
    assert katalog_health([CrdState.NOT_STARTED, CrdState.HEALTHY]) == (False, "1 CRD not started")
    assert katalog_health([CrdState.DEGRADED, CrdState.NOT_STARTED]) == (False, "1 CRD degraded, 1 CRD not started")


def test_dependency_conditions():
    assert dependency_satisfied("started", CrdState.STARTED) and dependency_satisfied("started", CrdState.HEALTHY)
    assert not dependency_satisfied("started", CrdState.PENDING)
    assert dependency_satisfied("healthy", CrdState.HEALTHY)
    assert not dependency_satisfied("healthy", CrdState.STARTED)
    assert not dependency_satisfied("healthy", CrdState.DEGRADED)
