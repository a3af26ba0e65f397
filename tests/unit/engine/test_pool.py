import threading
import time

from orkestra.engine.pool import WorkerPool
from orkestra.engine.safe import Outcome
from orkestra.workqueue import RateLimitingQueue, Timer


class FakeClock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def wait_until(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.002)


def make_pool(handle, *, size=2, timeout=60.0, clock=None, on_timeout=None):
    clock = clock or FakeClock()
    timer = Timer(clock=clock, start=False)
    queue = RateLimitingQueue("pool-test", clock=clock, timer=timer)
    timeouts = []
    pool = WorkerPool(crd="website", size=size, queue=queue, handle=handle, timeout=timeout,
                      on_timeout=on_timeout or (lambda key, stack: timeouts.append((key, stack))),
                      clock=clock, wall=lambda: 1_700_000_000.0)
    return pool, queue, timer, timeouts


def test_workers_are_named_and_process_every_key():
    seen, names = [], set()
    lock = threading.Lock()

    def handle(key, cancelled):
        with lock:
            seen.append(key)
            names.add(threading.current_thread().name)
        return Outcome(True)
    pool, queue, _, _ = make_pool(handle, size=3)
    pool.start()
    for i in range(30):
        queue.add(f"ns/cr-{i}")
    wait_until(lambda: len(seen) == 30 and len(queue) == 0)
    assert sorted(seen) == sorted(f"ns/cr-{i}" for i in range(30))
    assert names <= {"ork-website-w0", "ork-website-w1", "ork-website-w2"}
    queue.shut_down()
    assert pool.join(2.0)
    assert [s["state"] for s in pool.states()] == ["stopped"] * 3


def test_a_key_is_never_processed_twice_at_once():
    running, overlaps, calls = set(), [], []
    lock = threading.Lock()
    gate = threading.Event()

    def handle(key, cancelled):
        with lock:
            if key in running:
                overlaps.append(key)
            running.add(key)
            calls.append(key)
        gate.wait(0.01)
        with lock:
            running.discard(key)
        return Outcome(True)
    pool, queue, _, _ = make_pool(handle, size=4)
    pool.start()
    for _ in range(200):
        queue.add("default/hot")
        time.sleep(0.0002)
    wait_until(lambda: len(queue) == 0 and pool.counts()["processing"] == 0)
    assert overlaps == []
    assert 1 <= len(calls) < 200, "dedup collapses a burst into far fewer reconciles"
    queue.shut_down()
    pool.join(2.0)


def test_outcomes_drive_forget_rate_limit_and_requeue_after():
    outcomes = {"ok": Outcome(True), "bad": Outcome(False, None, "x"), "later": Outcome(True, 30.0)}
    done = []

    def handle(key, cancelled):
        done.append(key)
        return outcomes[key]
    pool, queue, timer, _ = make_pool(handle, size=1)
    pool.start()
    for key in ("ok", "bad", "later"):
        queue.add(key)
    wait_until(lambda: len(done) == 3 and pool.counts()["processing"] == 0)
    assert queue.num_requeues("ok") == 0
    assert queue.num_requeues("bad") == 1
    assert queue.num_requeues("later") == 0
    assert timer.pending() == 2, "the failed key waits for its backoff, the other for requeue_after"
    queue.shut_down()
    pool.join(2.0)


def test_watchdog_marks_stuck_replaces_and_keeps_the_key_processing():
    clock = FakeClock()
    release = threading.Event()
    started = threading.Event()
    processed = []

    def handle(key, cancelled):
        if key == "default/slow":
            started.set()
            release.wait(5)
            return Outcome(True)
        processed.append(key)
        return Outcome(True)
    pool, queue, _, timeouts = make_pool(handle, size=1, timeout=10.0, clock=clock)
    pool.start()
    queue.add("default/slow")
    assert started.wait(2)
    clock.t += 11
    pool.check_timeouts()
    assert [k for k, _ in timeouts] == ["default/slow"]
    assert "release.wait" in timeouts[0][1], "the stuck thread's stack is reported"
    states = pool.states()
    assert states[0]["state"] == "stuck" and states[0]["key"] == "default/slow"
    wait_until(lambda: pool.counts()["idle"] == 1)
    assert pool.counts() == {"active": 1, "processing": 0, "idle": 1, "stuck": 1}
    queue.add("default/fast")
    queue.add("default/slow")          # still processing: must not be handed to the replacement
    wait_until(lambda: processed == ["default/fast"])
    assert len(queue) == 0
    release.set()
    wait_until(lambda: pool.counts()["stuck"] == 0)
    # the stuck call's thread retired; its key was dirty, so it is reconciled again by the replacement
    wait_until(lambda: pool.counts()["processing"] == 0 and len(queue) == 0)
    assert [s["id"] for s in pool.states()] == [1]
    queue.shut_down()
    pool.join(2.0)


def test_replacements_are_capped_at_pool_size():
    clock = FakeClock()
    release = threading.Event()

    def handle(key, cancelled):
        release.wait(5)
        return Outcome(True)
    pool, queue, _, timeouts = make_pool(handle, size=1, timeout=1.0, clock=clock)
    pool.start()
    queue.add("a")
    wait_until(lambda: pool.counts()["processing"] == 1)
    clock.t += 2
    pool.check_timeouts()               # replacement 1 of 1
    queue.add("b")
    wait_until(lambda: pool.counts()["processing"] == 1 and pool.counts()["stuck"] == 1)
    clock.t += 2
    pool.check_timeouts()               # no more replacements
    assert len(timeouts) == 2
    assert pool.counts() == {"active": 0, "processing": 0, "idle": 0, "stuck": 2}
    assert len(pool.states()) == 2
    release.set()
    queue.shut_down()
    assert pool.join(2.0)


def test_a_stuck_call_returning_during_the_watchdog_tick_does_not_leave_an_extra_worker():
    """The call returns between being marked stuck and the replacement being started: its thread
    must retire, so the pool still has exactly `size` usable workers."""
    clock = FakeClock()
    release = threading.Event()
    returned = threading.Event()

    def handle(key, cancelled):
        release.wait(5)
        return Outcome(True)

    holder = {}

    def on_timeout(key, stack):
        release.set()                                   # the stuck call returns now...
        wait_until(lambda: holder["pool"].counts()["stuck"] == 0)
        returned.set()
    pool, queue, _, _ = make_pool(handle, size=1, timeout=1.0, clock=clock, on_timeout=on_timeout)
    holder["pool"] = pool
    pool.start()
    queue.add("a")
    wait_until(lambda: pool.counts()["processing"] == 1)
    clock.t += 2
    pool.check_timeouts()
    assert returned.is_set()
    wait_until(lambda: pool.counts()["idle"] == 1)
    time.sleep(0.02)
    assert pool.counts() == {"active": 1, "processing": 0, "idle": 1, "stuck": 0}
    assert [s["id"] for s in pool.states()] == [1]
    queue.shut_down()
    assert pool.join(2.0)


def test_the_watchdog_sets_cancelled_on_the_timed_out_call_only():
    """Issue 14 "Hook hang": when the timeout fires, the stuck call's `cancelled` (its hook's
    `ctx.cancelled`) is set, and a call that started later on the replacement is not cancelled."""
    clock = FakeClock()
    seen: dict[str, threading.Event] = {}
    hang = threading.Event()

    def handle(key, cancelled):
        seen[key] = cancelled
        if key == "default/hangs":
            hang.wait(5)
        return Outcome(True)
    pool, queue, _, timeouts = make_pool(handle, size=1, timeout=10.0, clock=clock)
    pool.start()
    queue.add("default/hangs")
    wait_until(lambda: "default/hangs" in seen)
    clock.t += 5
    pool.check_timeouts()
    assert not seen["default/hangs"].is_set(), "not before the timeout"
    clock.t += 6
    pool.check_timeouts()
    assert seen["default/hangs"].is_set() and [k for k, _ in timeouts] == ["default/hangs"]
    queue.add("default/other")
    wait_until(lambda: "default/other" in seen and pool.counts()["processing"] == 0)
    assert not seen["default/other"].is_set()
    hang.set()
    queue.shut_down()
    assert pool.join(2.0)


def test_a_shutdown_racing_the_start_never_joins_a_thread_not_yet_started(monkeypatch):
    """Found by the failover bench: SIGTERM just after becoming leader crashed the worker's exit
    with "cannot join thread before it is started"; a worker is listed only once its thread runs."""
    from orkestra.engine import pool as pool_module
    pool, queue, _, _ = make_pool(lambda key, cancelled: Outcome(True), size=2)
    joined = []

    class JoinedWhileStarting(threading.Thread):
        def start(self):
            joined.append(pool.join(0.0))      # the shutdown's join lands between create and start
            super().start()
    monkeypatch.setattr(pool_module.threading, "Thread", JoinedWhileStarting)
    pool.start()
    monkeypatch.undo()
    assert len(joined) == 2
    queue.shut_down()
    assert pool.join(2.0)
