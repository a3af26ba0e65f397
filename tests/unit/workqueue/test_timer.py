import threading

from orkestra.workqueue.timer import Timer
from tests.unit.workqueue.fake_clock import FakeClock


def test_run_due_runs_callbacks_in_deadline_order():
    clock = FakeClock()
    timer = Timer(clock=clock, start=False)
    ran = []
    timer.call_later(2, lambda: ran.append("b"))
    timer.call_later(1, lambda: ran.append("a"))
    timer.call_later(5, lambda: ran.append("c"))
    clock.advance(2)
    assert timer.run_due() == 2
    assert ran == ["a", "b"]
    assert timer.pending() == 1


def test_failing_callback_does_not_stop_the_timer():
    clock = FakeClock()
    timer = Timer(clock=clock, start=False)
    ran = []
    timer.call_later(0, lambda: 1 / 0)
    timer.call_later(0, lambda: ran.append(1))
    timer.run_due()
    assert ran == [1]


def test_thread_is_named_ork_timer_and_fires():
    timer = Timer()
    fired = threading.Event()
    names = []
    timer.call_later(0.01, lambda: (names.append(threading.current_thread().name), fired.set()))
    assert fired.wait(2)
    assert names == ["ork-timer"]
    timer.stop()


def test_stop_drops_pending_callbacks():
    clock = FakeClock()
    timer = Timer(clock=clock, start=False)
    timer.call_later(1, lambda: None)
    timer.stop()
    timer.call_later(1, lambda: None)
    assert timer.pending() == 0
