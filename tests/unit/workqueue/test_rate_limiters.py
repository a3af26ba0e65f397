import pytest

from orkestra.workqueue.rate_limiters import (ItemExponentialLimiter, MaxOfLimiter,
                                              TokenBucketLimiter, default_limiter)
from tests.unit.workqueue.fake_clock import FakeClock


def test_exponential_doubles_per_failure_and_caps():
    lim = ItemExponentialLimiter(base=0.005, max_delay=1000)
    delays = [lim.when("a") for _ in range(20)]
    assert delays[:4] == pytest.approx([0.005, 0.01, 0.02, 0.04])
    assert delays[-1] == 1000
    assert all(b >= a for a, b in zip(delays, delays[1:]))
    assert lim.num_requeues("a") == 20


def test_exponential_is_per_item_and_forget_resets():
    lim = ItemExponentialLimiter()
    lim.when("a")
    lim.when("a")
    assert lim.when("b") == pytest.approx(0.005)
    lim.forget("a")
    assert lim.num_requeues("a") == 0
    assert lim.when("a") == pytest.approx(0.005)


def test_exponential_survives_huge_failure_counts():
    lim = ItemExponentialLimiter(max_delay=1000)
    for _ in range(2000):
        delay = lim.when("a")
    assert delay == 1000


def test_token_bucket_allows_burst_then_spaces_by_qps():
    clock = FakeClock()
    lim = TokenBucketLimiter(qps=10, burst=100, clock=clock)
    assert [lim.when(i) for i in range(100)] == [0.0] * 100
    assert lim.when("x") == pytest.approx(0.1)
    assert lim.when("y") == pytest.approx(0.2)


def test_token_bucket_refills_with_time_up_to_burst():
    clock = FakeClock()
    lim = TokenBucketLimiter(qps=10, burst=5, clock=clock)
    for i in range(5):
        lim.when(i)
    clock.advance(100)
    assert [lim.when(i) for i in range(5)] == [0.0] * 5
    assert lim.when("over") == pytest.approx(0.1)


def test_max_of_takes_longest_delay():
    clock = FakeClock()
    bucket = TokenBucketLimiter(qps=1, burst=1, clock=clock)
    lim = MaxOfLimiter(ItemExponentialLimiter(base=0.005), bucket)
    assert lim.when("a") == pytest.approx(0.005)
    assert lim.when("a") == pytest.approx(1.0)
    assert lim.num_requeues("a") == 2
    lim.forget("a")
    assert lim.num_requeues("a") == 0


def test_default_limiter_combines_exponential_and_bucket():
    clock = FakeClock()
    lim = default_limiter(clock)
    for _ in range(10):
        last = lim.when("a")
    assert last == pytest.approx(0.005 * 2 ** 9)
    for i in range(100):
        lim.when(i)
    assert lim.when("fresh") > 0.005
