from orkestra.workqueue.delaying import DelayingQueue
from orkestra.workqueue.timer import Timer
from tests.unit.workqueue.fake_clock import FakeClock


def make():
    clock = FakeClock()
    timer = Timer(clock=clock, start=False)
    return clock, timer, DelayingQueue("t", timer=timer)


def test_add_after_waits_for_the_delay():
    clock, timer, q = make()
    q.add_after("a", 5)
    timer.run_due()
    assert len(q) == 0 and q.waiting() == 1
    clock.advance(4.9)
    timer.run_due()
    assert len(q) == 0
    clock.advance(0.1)
    timer.run_due()
    assert q.get() == ("a", False)
    assert q.waiting() == 0


def test_non_positive_delay_adds_at_once():
    _, _, q = make()
    q.add_after("a", 0)
    q.add_after("b", -1)
    assert len(q) == 2


def test_earlier_ready_time_wins():
    clock, timer, q = make()
    q.add_after("a", 10)
    q.add_after("a", 2)
    clock.advance(2)
    timer.run_due()
    assert len(q) == 1
    q.get()
    q.done("a")
    clock.advance(10)
    timer.run_due()
    assert len(q) == 0, "the superseded later entry must not add the item again"


def test_later_ready_time_is_ignored():
    clock, timer, q = make()
    q.add_after("a", 2)
    q.add_after("a", 10)
    clock.advance(2)
    timer.run_due()
    assert len(q) == 1


def test_items_become_ready_in_deadline_order():
    clock, timer, q = make()
    q.add_after("late", 3)
    q.add_after("early", 1)
    q.add_after("middle", 2)
    clock.advance(3)
    timer.run_due()
    assert [q.get()[0] for _ in range(3)] == ["early", "middle", "late"]


def test_shut_down_discards_waiting_items():
    clock, timer, q = make()
    q.add_after("a", 1)
    q.shut_down()
    clock.advance(5)
    timer.run_due()
    assert len(q) == 0 and q.waiting() == 0
