import logging

import pytest

from orkestra.workqueue.metrics import QueueMetrics
from orkestra.workqueue.rate_limiters import ItemExponentialLimiter
from orkestra.workqueue.rate_limiting import RateLimitingQueue
from orkestra.workqueue.timer import Timer
from tests.unit.workqueue.fake_clock import FakeClock


class Counting(QueueMetrics):
    def __init__(self):
        self.counts = {"added": 0, "retried": 0, "limit_reached": 0, "dropped": 0}

    def added(self):
        self.counts["added"] += 1

    def retried(self):
        self.counts["retried"] += 1

    def limit_reached(self):
        self.counts["limit_reached"] += 1

    def dropped(self):
        self.counts["dropped"] += 1


def make(**kw):
    clock = FakeClock()
    timer = Timer(clock=clock, start=False)
    metrics = Counting()
    q = RateLimitingQueue("website", timer=timer, metrics=metrics,
                          rate_limiter=ItemExponentialLimiter(base=1, max_delay=100), **kw)
    return clock, timer, metrics, q


def test_add_rate_limited_backs_off_and_counts_retries():
    clock, timer, metrics, q = make()
    q.add_rate_limited("a")
    q.add_rate_limited("b")
    clock.advance(1)
    timer.run_due()
    assert len(q) == 2
    q.add_rate_limited("a")
    assert q.num_requeues("a") == 2
    assert metrics.counts["retried"] == 3
    q.forget("a")
    assert q.num_requeues("a") == 0


def test_offer_without_limit_adds_and_reports_dirty():
    _, _, _, q = make()
    assert q.offer("a") == "added"
    assert q.offer("a") == "dirty"


def test_depth_limit_warn_adds_anyway_logs_once_and_calls_back(caplog):
    warnings = []
    clock, _, metrics, q = make(max_depth=2, on_limit_warning=lambda d, l: warnings.append((d, l)))
    q.offer("a")
    q.offer("b")
    with caplog.at_level(logging.WARNING, logger="orkestra.workqueue"):
        assert q.offer("c") == "limited"
        assert q.offer("d") == "limited"
    assert len(q) == 4
    assert metrics.counts["limit_reached"] == 2
    assert warnings == [(2, 2), (3, 2)]
    logged = [r for r in caplog.records if r.getMessage() == "queue depth limit reached"]
    assert len(logged) == 1
    assert (logged[0].crd, logged[0].depth, logged[0].limit) == ("website", 2, 2)
    clock.advance(61)
    with caplog.at_level(logging.WARNING, logger="orkestra.workqueue"):
        q.offer("e")
    assert len([r for r in caplog.records if r.getMessage() == "queue depth limit reached"]) == 2


def test_depth_limit_drop_refuses_new_items_but_not_dirty_ones(caplog):
    _, _, metrics, q = make(max_depth=1, on_limit="drop", gvk="demo.io/v1, Kind=Site")
    q.offer("a")
    with caplog.at_level(logging.WARNING, logger="orkestra.workqueue"):
        assert q.offer("b") == "dropped"
    assert q.offer("a") == "dirty"
    assert len(q) == 1
    assert metrics.counts["dropped"] == 1
    record = next(r for r in caplog.records if "item dropped" in r.getMessage())
    assert (record.key, record.gvk, record.limit, record.depth) == ("b", "demo.io/v1, Kind=Site", 1, 1)


def test_retries_and_add_after_are_never_limited():
    clock, timer, _, q = make(max_depth=1, on_limit="drop")
    q.offer("a")
    q.add_rate_limited("b")
    q.add_after("c", 5)
    q.add("d")
    clock.advance(5)
    timer.run_due()
    assert len(q) == 4


def test_offer_after_shutdown_adds_nothing():
    _, _, _, q = make()
    q.shut_down()
    assert q.offer("a") == "dropped"
    assert len(q) == 0


def test_invalid_on_limit_is_a_clear_error():
    with pytest.raises(ValueError, match="queue.onLimit"):
        make(on_limit="explode")


def test_prometheus_hooks_feed_the_workqueue_families():
    from prometheus_client import REGISTRY

    from orkestra.workqueue.metrics import PrometheusQueueMetrics

    clock = FakeClock()
    timer = Timer(clock=clock, start=False)
    q = RateLimitingQueue("metrics-test", timer=timer, metrics=PrometheusQueueMetrics("metrics-test", "g/v1, Kind=K"))
    labels = {"name": "metrics-test", "controller": "metrics-test"}
    q.add("a")
    q.add("b")
    assert REGISTRY.get_sample_value("workqueue_adds_total", labels) == 2
    assert REGISTRY.get_sample_value("workqueue_depth", {**labels, "priority": ""}) == 2
    q.get()
    clock.advance(7)
    assert REGISTRY.get_sample_value("workqueue_unfinished_work_seconds", labels) == 7
    assert REGISTRY.get_sample_value("workqueue_longest_running_processor_seconds", labels) == 7
    q.done("a")
    assert REGISTRY.get_sample_value("workqueue_work_duration_seconds_count", labels) == 1
    assert REGISTRY.get_sample_value("workqueue_unfinished_work_seconds", labels) == 0
    q.add_rate_limited("a")
    assert REGISTRY.get_sample_value("workqueue_retries_total", labels) == 1
