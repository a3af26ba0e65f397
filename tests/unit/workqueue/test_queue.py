import threading
import time

from orkestra.workqueue.queue import Queue
from tests.unit.workqueue.fake_clock import FakeClock


def test_fifo_order_and_dedup():
    q = Queue("t")
    for item in ["a", "b", "a", "c", "b"]:
        q.add(item)
    assert len(q) == 3
    assert [q.get()[0] for _ in range(3)] == ["a", "b", "c"]


def test_add_returns_whether_the_item_became_dirty():
    q = Queue("t")
    assert q.add("a") is True
    assert q.add("a") is False


def test_add_while_processing_is_requeued_only_on_done():
    q = Queue("t")
    q.add("a")
    item, _ = q.get()
    q.add("a")
    assert len(q) == 0, "an item being processed must not be handed out again"
    q.done(item)
    assert len(q) == 1
    assert q.get() == ("a", False)


def test_done_without_re_add_does_not_requeue():
    q = Queue("t")
    q.add("a")
    q.done(q.get()[0])
    assert len(q) == 0


def test_shut_down_wakes_getters_and_hands_out_nothing_more():
    q = Queue("t")
    q.add("a")
    results = []
    q.shut_down()
    t = threading.Thread(target=lambda: results.append(q.get()))
    t.start()
    t.join(timeout=2)
    assert results == [(None, True)]
    assert q.add("b") is False


def test_shut_down_wakes_a_blocked_get():
    q = Queue("t")
    results = []
    t = threading.Thread(target=lambda: results.append(q.get()))
    t.start()
    time.sleep(0.02)
    q.shut_down()
    t.join(timeout=2)
    assert results == [(None, True)]


def test_done_after_shutdown_does_not_requeue_dirty_items():
    q = Queue("t")
    q.add("a")
    q.get()
    q.add("a")
    q.shut_down()
    q.done("a")
    assert len(q) == 0


def test_drain_waits_for_processing_items():
    q = Queue("t")
    q.add("a")
    q.get()
    threading.Timer(0.05, q.done, args=("a",)).start()
    assert q.shut_down_with_drain(timeout=2) is True
    assert q.processing() == {}


def test_drain_times_out_when_work_does_not_finish():
    q = Queue("t")
    q.add("a")
    q.get()
    assert q.shut_down_with_drain(timeout=0.05) is False


def test_in_flight_reports_unfinished_and_longest():
    clock = FakeClock()
    q = Queue("t", clock=clock)
    q.add("a")
    q.add("b")
    q.get()
    clock.advance(3)
    q.get()
    clock.advance(1)
    assert q.in_flight() == (4 + 1, 4)


def test_never_two_workers_on_the_same_item_with_real_threads():
    q = Queue("t")
    keys = [f"k{i}" for i in range(5)]
    active: set[str] = set()
    lock = threading.Lock()
    violations = []
    processed = []

    def worker():
        while True:
            item, shutdown = q.get()
            if shutdown:
                return
            with lock:
                if item in active:
                    violations.append(item)
                active.add(item)
            time.sleep(0.0005)
            with lock:
                active.discard(item)
                processed.append(item)
            q.done(item)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for i in range(2000):
        q.add(keys[i % len(keys)])
    deadline = time.monotonic() + 5
    while (len(q) or q.processing()) and time.monotonic() < deadline:
        time.sleep(0.005)
    q.shut_down()
    for t in threads:
        t.join(timeout=2)
    assert violations == []
    assert set(processed) == set(keys)
    assert len(processed) < 2000, "dedup must collapse repeated adds"
