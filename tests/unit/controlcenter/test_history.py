"""The 30-minute history behind the sparklines: spacing, window and derived rates."""
from __future__ import annotations

from orkestra.controlcenter.history import History, Sample


def test_rates_come_from_consecutive_samples():
    h = History(window=1800, spacing=5)
    for at, total, failed, depth in ((0, 0, 0, 0), (10, 20, 5, 3), (20, 20, 5, 1), (30, 10, 0, 0)):
        h.add("r", "c", Sample(at, total, failed, depth))
    s = h.series("r", "c")
    assert s.reconcile_rate == [2.0, 0.0, 0.0]      # a counter reset (restart) never goes negative
    assert s.error_rate == [0.25, 0.0, 0.0]
    assert s.queue_depth == [3.0, 1.0, 0.0]
    assert s.seconds == 30


def test_samples_closer_than_the_spacing_are_skipped_and_old_ones_fall_out():
    h = History(window=60, spacing=5)
    for at in range(0, 200, 1):
        h.add("r", "c", Sample(at, at, 0, 0))
    samples = h.series("r", "c")
    assert len(samples.queue_depth) <= 60 / 5
    assert samples.seconds <= 60


def test_forget_drops_crds_a_katalog_no_longer_lists():
    h = History()
    h.add("r", "a", Sample(0, 0, 0, 0))
    h.add("r", "b", Sample(0, 0, 0, 0))
    h.add("other", "a", Sample(0, 0, 0, 0))
    h.add("r", "a", Sample(10, 5, 0, 0))
    h.forget("r", {"a"})
    assert h.series("r", "b").seconds == 0 and h.series("r", "a").seconds == 10
    assert h.series("other", "a").reconcile_rate == []
