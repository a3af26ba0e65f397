"""Metrics hooks of a workqueue, feeding the `workqueue_*` families of `orkestra.metrics`.

A queue calls the hooks of `QueueMetrics`, whose base class records nothing (the default for
tests and throw-away queues); `PrometheusQueueMetrics` binds the label values once (`name` = `controller` = the CRD key,
`priority` = "" as controller-runtime does), so the hot path does no label lookups.

Unfinished work and the longest running processor are **computed on scrape**: the gauges are
bound to a function that asks the queue for its in-flight processing times, so they are exact
whenever Prometheus reads them and cost nothing in between. `close()` removes the series when a
CRD's queue is discarded.
"""
from __future__ import annotations

from collections.abc import Callable

from orkestra import metrics as families

InFlightProbe = Callable[[], tuple[float, float]]  # (unfinished work seconds, longest running seconds)


class QueueMetrics:
    """The hook interface. This base records nothing; subclasses override what they record."""

    def added(self) -> None: ...
    def depth(self, n: int) -> None: ...
    def queued(self, seconds: float) -> None: ...
    def worked(self, seconds: float) -> None: ...
    def retried(self) -> None: ...
    def limit_reached(self) -> None: ...
    def dropped(self) -> None: ...
    def bind_in_flight(self, probe: InFlightProbe) -> None: ...
    def close(self) -> None: ...


class PrometheusQueueMetrics(QueueMetrics):
    """Hooks writing to the process registry. `name` is the CRD key, `crd` its GVK string
    (for the Orkestra `controller_queue_*` counters)."""

    def __init__(self, name: str, crd: str = "") -> None:
        self._name = name
        self._crd = crd
        self._depth = families.wq_depth.labels(name, name, "")
        self._adds = families.wq_adds.labels(name, name)
        self._retries = families.wq_retries.labels(name, name)
        self._queue_duration = families.wq_queue_duration.labels(name, name)
        self._work_duration = families.wq_work_duration.labels(name, name)
        self._limit_reached = families.queue_limit_reached.labels(crd, name)
        self._dropped = families.queue_dropped.labels(crd, name)

    def added(self) -> None:
        self._adds.inc()

    def depth(self, n: int) -> None:
        self._depth.set(n)

    def queued(self, seconds: float) -> None:
        self._queue_duration.observe(seconds)

    def worked(self, seconds: float) -> None:
        self._work_duration.observe(seconds)

    def retried(self) -> None:
        self._retries.inc()

    def limit_reached(self) -> None:
        self._limit_reached.inc()

    def dropped(self) -> None:
        self._dropped.inc()

    def bind_in_flight(self, probe: InFlightProbe) -> None:
        families.wq_unfinished.labels(self._name, self._name).set_function(lambda: probe()[0])
        families.wq_longest.labels(self._name, self._name).set_function(lambda: probe()[1])

    def close(self) -> None:
        """Remove this queue's series (the CRD was deactivated)."""
        for family, labels in ((families.wq_depth, (self._name, self._name, "")),
                               (families.wq_unfinished, (self._name, self._name)),
                               (families.wq_longest, (self._name, self._name))):
            try:
                family.remove(*labels)
            except KeyError:
                pass
