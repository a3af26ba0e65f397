"""The statistics formulas of docs/webhooks.md §8."""
from __future__ import annotations

from orkestra.webhooks.stats import WebhookStats, percentile, summarise


def test_percentile_formula():
    window = [float(x) for x in range(1, 21)]          # n = 20
    assert percentile(window, 0.95) == 20.0            # sorted[min(19, floor(19.0))]
    assert percentile(window, 0.5) == 11.0             # sorted[floor(10.0)]
    assert percentile([3.0, 1.0, 2.0], 0.95) == 3.0    # sorted[min(2, floor(2.85))]
    assert percentile([], 0.95) is None


def test_summary_in_milliseconds_rounded_and_null_when_empty():
    assert summarise([]) == {"avg": None, "p95": None, "max": None}
    assert summarise([0.0001234, 0.0004, 0.002]) == {"avg": 0.841, "p95": 2.0, "max": 2.0}


def test_ring_buffer_keeps_the_last_window():
    stats = WebhookStats(window=3)
    for seconds in (1.0, 0.001, 0.002, 0.003):
        stats.observe("s", seconds)
    assert stats.latency("s") == {"avg": 2.0, "p95": 3.0, "max": 3.0}
    stats.count("s", "total", "total", "ok")
    assert stats.counters("s") == {"total": 2, "ok": 1}
