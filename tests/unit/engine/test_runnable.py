"""Runnables registered with the engine (the webhook listener and controller in a real process):
start order, leader gating, stop at shutdown; and the engine's one drain loop with its deadline."""
import pytest

from orkestra.config import Settings
from orkestra.engine.engine import Engine, EngineStartError
from orkestra.errors import OrkestraError
from tests.unit.engine.factories import Clock, make_entry, make_katalog


class UnreachableKube:
    """Connects, but the API server never answers: the supervisor keeps retrying /version."""
    server = "https://unreachable"

    def request(self, *a, **kw):
        raise OSError("connection refused")


class Recording:
    def __init__(self, name, log, *, needs_leader=False, fail_start=False, fail_stop=False):
        self.name, self.log, self.needs_leader = name, log, needs_leader
        self.fail_start, self.fail_stop = fail_start, fail_stop

    def start(self):
        if self.fail_start:
            raise OrkestraError(f"cannot listen on :8443 for {self.name}")
        self.log.append(("start", self.name))

    def stop(self):
        self.log.append(("stop", self.name))
        if self.fail_stop:
            raise RuntimeError("boom")


def make_engine(**kw):
    katalog = make_katalog(make_entry("cache"), make_entry("website"))
    return Engine(katalog, Settings(pod_name="pod-a", drain_timeout=30.0),
                  kube_factory=UnreachableKube, clock=kw.pop("clock", Clock()), **kw)


@pytest.fixture
def engines():
    started = []
    yield started
    for engine in started:          # ends the supervisor threads
        engine.shutdown()


def test_runnables_start_in_registration_order_and_leader_ones_only_on_leadership(engines):
    log = []
    engine = make_engine()
    engines.append(engine)
    for r in (Recording("listener", log), Recording("controller", log, needs_leader=True),
              Recording("metrics", log)):
        engine.add_runnable(r)
    engine.start()
    assert log == [("start", "listener"), ("start", "metrics")], "a follower never starts a leader runnable"
    engine._became_leader()
    engine._became_leader()                     # leadership regained: nothing starts twice
    assert log == [("start", "listener"), ("start", "metrics"), ("start", "controller")]


def test_a_runnable_that_cannot_start_is_a_fatal_engine_start_error(engines):
    engine = make_engine()
    engines.append(engine)
    engine.add_runnable(Recording("webhooks", [], fail_start=True))
    with pytest.raises(EngineStartError, match="cannot listen on :8443 for webhooks"):
        engine.start()


class RecordingBox:
    def __init__(self, key, log, clock, *, takes=0.0, drains=True):
        self.key, self.log, self.clock, self.takes, self.drains = key, log, clock, takes, drains

    def shut_down_queue(self):
        self.log.append(("shut", self.key))

    def drain(self, timeout):
        self.log.append(("drain", self.key, timeout))
        self.clock.t += min(self.takes, timeout)
        return self.drains and self.takes <= timeout


def test_shutdown_stops_started_runnables_last_started_first_after_the_drain(engines):
    log = []
    engine = make_engine()
    for r in (Recording("listener", log), Recording("controller", log, needs_leader=True),
              Recording("flaky", log, fail_stop=True)):
        engine.add_runnable(r)
    engine.start()
    engine._became_leader()
    engine.boxes = {"cache": RecordingBox("cache", log, engine.clock)}
    assert log == [("start", "listener"), ("start", "flaky"), ("start", "controller")]
    log.clear()
    engine.shutdown()
    assert log == [("shut", "cache"), ("drain", "cache", 30.0), ("stop", "controller"), ("stop", "flaky"),
                   ("stop", "listener")], "after the drain, last started first; a failing stop stops no other"
    assert engine.shutdown_done and not engine.probes()["liveness"]
    engine.shutdown()
    assert len(log) == 5, "shutdown runs once"


def test_a_runnable_that_never_started_is_not_stopped(engines):
    log = []
    engine = make_engine()
    engines.append(engine)
    engine.add_runnable(Recording("controller", log, needs_leader=True))
    engine.start()
    engine.shutdown()
    assert log == []


def test_drain_shares_one_deadline_across_crds_in_reverse_start_order(caplog):
    clock, log = Clock(), []
    engine = make_engine(clock=clock)
    engine.katalog.start_order[:] = ["cache", "website", "app"]
    engine.boxes = {"cache": RecordingBox("cache", log, clock, takes=1.0),
                    "website": RecordingBox("website", log, clock, takes=4.0),
                    "app": RecordingBox("app", log, clock, takes=3.0)}
    assert engine.drain(5.0) is False
    assert log == [("shut", "app"), ("drain", "app", 5.0), ("shut", "website"), ("drain", "website", 2.0),
                   ("shut", "cache")], "after the deadline: queues shut, no more waiting"
    drains = [r for r in caplog.records if r.getMessage().startswith("drain timeout exceeded")]
    assert [(r.getMessage(), r.crd, r.budget) for r in drains] == [
        ("drain timeout exceeded — workers may still be running", "website", 5.0)], "said once"
    log.clear()
    clock.t = 100.0
    assert engine.drain(30.0) is True and log[-1] == ("drain", "cache", 23.0)


class TickingClock(Clock):
    """Every read moves time on a little, as the shutdown thread being preempted does."""

    def __call__(self):
        self.t += 0.01
        return self.t


def test_the_drain_warning_names_the_budget_it_was_given(caplog):
    """Review: the warning's `budget` was `deadline - now` read again inside the drain, so time
    passing between the caller's clock read and the drain's showed as 29.99 instead of 30."""
    clock = TickingClock()
    engine = make_engine(clock=clock)
    engine.boxes = {"cache": RecordingBox("cache", [], clock, takes=60.0)}
    engine.shutdown()
    drains = [r for r in caplog.records if r.getMessage().startswith("drain timeout exceeded")]
    assert [r.budget for r in drains] == [30.0]


def test_lost_leadership_drains_for_at_most_five_seconds():
    clock, log, codes = Clock(), [], []
    engine = make_engine(clock=clock, exit_process=codes.append)
    engine.boxes = {"cache": RecordingBox("cache", log, clock, takes=60.0),
                    "website": RecordingBox("website", log, clock, takes=60.0)}
    engine._leader = True
    engine._lost_leadership()
    assert codes == [1] and clock.t == 5.0
    assert log[:2] == [("shut", "cache"), ("shut", "website")], "every queue shut at once, first"


def test_ready_checks_hold_ready_back():
    engine = make_engine()
    listening = []
    engine.add_ready_check(lambda: bool(listening))
    engine.api_reachable = True
    engine._update_readiness()
    assert not engine.ready_event.is_set()
    listening.append(True)
    engine._update_readiness()
    assert engine.ready_event.is_set()
