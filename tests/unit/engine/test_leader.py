import copy

import pytest

from orkestra.engine.leader import LeaseConflict, LeaseElector


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


class MemoryLeaseStore:
    """An API server's view of one Lease: resourceVersion checks and 409s."""
    name, namespace = "orkestra-konductor", "orkestra-system"

    def __init__(self):
        self.lease = None
        self.rv = 0
        self.fail_next = 0
        self.writes = []
        self.timeouts = []

    def _check_fail(self):
        if self.fail_next:
            self.fail_next -= 1
            raise RuntimeError("503 service unavailable")

    def get(self, *, timeout=None):
        self.timeouts.append(timeout)
        self._check_fail()
        return copy.deepcopy(self.lease)

    def create(self, lease, *, timeout=None):
        self.timeouts.append(timeout)
        self._check_fail()
        if self.lease is not None:
            raise LeaseConflict("already exists")
        return self._store(lease)

    def update(self, lease, *, timeout=None):
        self.timeouts.append(timeout)
        self._check_fail()
        if self.lease is None or lease["metadata"].get("resourceVersion") != self.lease["metadata"]["resourceVersion"]:
            raise LeaseConflict("the object has been modified")
        return self._store(lease)

    def _store(self, lease):
        self.rv += 1
        lease = copy.deepcopy(lease)
        lease["metadata"]["resourceVersion"] = str(self.rv)
        self.lease = lease
        self.writes.append(copy.deepcopy(lease["spec"]))
        return copy.deepcopy(lease)


def elector(store, identity, clock, **kw):
    events = []
    e = LeaseElector(store, identity=identity, lease_duration=15, renew_deadline=10, retry_period=5,
                     on_started_leading=lambda: events.append("started"),
                     on_stopped_leading=lambda: events.append("stopped"),
                     clock=clock, wall=lambda: 1_700_000_000.0 + clock.t, jitter=lambda: 1.0, **kw)
    return e, events


def test_first_replica_creates_the_lease_and_leads():
    store, clock = MemoryLeaseStore(), Clock()
    a, events = elector(store, "a", clock)
    assert a.step() == 5
    assert a.is_leader() and events == ["started"]
    spec = store.lease["spec"]
    assert spec["holderIdentity"] == "a" and spec["leaseDurationSeconds"] == 15
    assert spec["leaseTransitions"] == 0 and spec["acquireTime"] == spec["renewTime"]
    assert spec["renewTime"].endswith("Z") and "." in spec["renewTime"]


def test_follower_waits_for_expiry_judged_by_local_observation():
    store, clock = MemoryLeaseStore(), Clock()
    a, _ = elector(store, "a", clock)
    b, b_events = elector(store, "b", clock)
    a.step()
    clock.t = 1
    b.step()
    assert not b.is_leader() and b.holder == "a"
    # the leader dies (no more renewals); server timestamps say nothing to b
    clock.t = 15.9
    assert not b.try_acquire_or_renew(), "lease observed at t=1 is valid until t=16"
    clock.t = 16.1
    assert b.try_acquire_or_renew()
    assert store.lease["spec"]["holderIdentity"] == "b"
    assert store.lease["spec"]["leaseTransitions"] == 1


def test_renewals_reset_the_observed_time():
    store, clock = MemoryLeaseStore(), Clock()
    a, _ = elector(store, "a", clock)
    b, _ = elector(store, "b", clock)
    a.step()
    b.try_acquire_or_renew()
    for t in (5, 10, 15, 20):
        clock.t = t
        a.step()
        b.try_acquire_or_renew()
    clock.t = 30
    assert not b.try_acquire_or_renew(), "a renewed at t=20, observed then: valid until t=35"
    assert a.is_leader()


def test_follower_schedules_an_attempt_at_expiry():
    store, clock = MemoryLeaseStore(), Clock()
    a, _ = elector(store, "a", clock)
    b, _ = elector(store, "b", clock)
    a.step()
    clock.t = 12
    b.step()                    # observes at t=12 -> expires at 27
    clock.t = 25
    assert b.step() == pytest.approx(2.05)


def test_a_lost_race_is_a_409_not_an_error():
    store, clock = MemoryLeaseStore(), Clock()
    a, _ = elector(store, "a", clock)
    b, _ = elector(store, "b", clock)
    store.lease = None
    real_get = store.get
    store.get = lambda **_: None        # both see "no lease"
    assert a.try_acquire_or_renew()
    assert not b.try_acquire_or_renew()
    store.get = real_get
    assert store.lease["spec"]["holderIdentity"] == "a"


def test_stale_resource_version_loses():
    store, clock = MemoryLeaseStore(), Clock()
    a, _ = elector(store, "a", clock)
    a.step()
    stale = copy.deepcopy(store.lease)
    a.step()                            # renew: rv moves on
    stale["spec"]["holderIdentity"] = "intruder"
    with pytest.raises(LeaseConflict):
        store.update(stale)


def test_leadership_is_lost_after_renew_deadline_of_failures():
    store, clock = MemoryLeaseStore(), Clock()
    a, events = elector(store, "a", clock)
    a.step()
    store.fail_next = 100
    clock.t = 5
    a.step()
    assert a.is_leader(), "one failed renew is not enough"
    clock.t = 10
    a.step()
    assert not a.is_leader() and events == ["started", "stopped"]


def test_empty_holder_is_free_and_release_hands_over():
    store, clock = MemoryLeaseStore(), Clock()
    a, _ = elector(store, "a", clock)
    b, b_events = elector(store, "b", clock)
    a.step()
    clock.t = 1
    b.step()
    assert a.release()
    assert not a.is_leader()
    spec = store.lease["spec"]
    assert spec["holderIdentity"] == "" and spec["leaseDurationSeconds"] == 1
    clock.t = 1.5
    b.step()
    assert b.is_leader() and b_events == ["started"]
    assert store.lease["spec"]["leaseTransitions"] == 1


def test_release_is_a_no_op_when_not_holding():
    store, clock = MemoryLeaseStore(), Clock()
    a, _ = elector(store, "a", clock)
    b, _ = elector(store, "b", clock)
    a.step()
    assert not b.release()
    a.step()
    store.lease["metadata"]["resourceVersion"] = "999"     # someone else wrote meanwhile
    assert not a.release(), "409: nothing to release"
    assert store.lease["spec"]["holderIdentity"] == "a"


def test_api_errors_are_logged_and_retried(caplog):
    store, clock = MemoryLeaseStore(), Clock()
    a, _ = elector(store, "a", clock)
    store.fail_next = 1
    assert a.step() == 5
    assert not a.is_leader()
    assert any("get lease orkestra-system/orkestra-konductor failed" in r.getMessage() for r in caplog.records)
    a.step()
    assert a.is_leader()


class HangingLeaseStore(MemoryLeaseStore):
    """A partitioned API server: once `hanging`, every request takes its whole timeout (the
    client's 30 s default when none is given) and then fails."""

    def __init__(self, clock):
        super().__init__()
        self.clock = clock
        self.hanging = False

    def _check_fail(self):
        if self.hanging:
            self.clock.t += self.timeouts[-1] if self.timeouts[-1] is not None else 30.0
            raise TimeoutError("read timed out")
        super()._check_fail()


def test_a_leader_bounds_each_renewal_by_what_is_left_of_its_renew_deadline():
    clock = Clock()
    store = HangingLeaseStore(clock)
    a, events = elector(store, "a", clock)
    a.step()
    assert a.is_leader() and store.timeouts == [None, None], "acquiring is not bounded"
    store.timeouts.clear()
    clock.t = 5
    a.step()
    assert store.timeouts == [5, 5], "renewing 5 s after the last renewal: 5 s left of the 10 s deadline"
    store.hanging = True
    store.timeouts.clear()
    clock.t = 10
    a.step()                                   # renewed at 5: 5 s left, the request hangs all of it
    assert store.timeouts == [5]
    assert clock.t == 15 and not a.is_leader() and events == ["started", "stopped"]
    assert clock.t < 5 + a.lease_duration, "gave up before another replica may take the lease (5 + 15)"


def test_a_failing_lease_request_is_reported_once_until_one_succeeds():
    """A 403 on the Lease (a Role rule missing) reaches `on_failure` naming verb and Lease, once,
    and `""` clears it when a request works again (docs/rbac.md)."""
    store, clock = MemoryLeaseStore(), Clock()
    reports = []
    a, _ = elector(store, "a", clock, on_failure=reports.append)
    store.fail_next = 2
    a.step()
    a.step()
    assert reports == ["leader election: get lease orkestra-system/orkestra-konductor failed: 503 service unavailable"]
    a.step()
    assert a.is_leader()
    assert reports[1:] == [""]
    a.step()
    assert len(reports) == 2, "a renewal that keeps working reports nothing"


def test_a_refused_create_after_a_working_get_is_reported_once():
    """The Lease does not exist and `create` is refused at every retry: one report, not a
    clear-and-set per retry (which would restart the warning's `since`)."""
    store, clock = MemoryLeaseStore(), Clock()
    reports = []
    a, _ = elector(store, "a", clock, on_failure=reports.append)

    def refused(lease, **kwargs):
        raise RuntimeError("403 Forbidden: cannot create resource \"leases\"")
    store.create = refused
    for _ in range(3):
        a.step()
    assert reports == ['leader election: create lease orkestra-system/orkestra-konductor failed: '
                       '403 Forbidden: cannot create resource "leases"']
