"""Every Prometheus family Orkestra exports (docs/runtime.md §13), defined once.

One process, one registry: prometheus_client's default registry, which already carries the
`process_*` and `python_*` collectors. Families are created at import, but importing this module
starts nothing. Label `crd` is the GVK string; `controller` and `name` are the CRD key.
"""
from __future__ import annotations

import platform

from prometheus_client import Counter, Gauge, Histogram

from orkestra import __version__

_CRD = ("crd", "controller")
_WEBHOOK_BUCKETS = (.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1)
_CR_RECONCILE_BUCKETS = (.005, .01, .025, .05, .1, .15, .2, .25, .3, .35, .4, .45, .5, .6, .7, .8,
                         .9, 1, 1.25, 1.5, 1.75, 2, 2.5, 3, 3.5, 4, 4.5, 5, 6, 7, 8, 9, 10, 15, 20,
                         25, 30, 40, 50, 60)
_WORKQUEUE_BUCKETS = tuple(1e-8 * 10 ** i for i in range(12))

# --- Orkestra families (§13.1) ---
reconcile_total = Counter("controller_reconcile_total", "Reconciles by result", _CRD + ("result",))
reconcile_duration = Histogram("controller_reconcile_duration_seconds", "Reconcile duration", _CRD)
resource_count = Gauge("controller_resource_count", "Objects in the CRD's informer cache", _CRD)
queue_depth = Gauge("controller_queue_depth", "Items waiting in the CRD's queue", _CRD)
workers_active = Gauge("controller_workers_active", "Worker threads running", _CRD)
workers_processing = Gauge("controller_workers_processing", "Workers processing a key", _CRD)
workers_idle = Gauge("controller_workers_idle", "Workers waiting for a key", _CRD)
consecutive_failures = Gauge("controller_consecutive_failures", "Consecutive failed reconciles", _CRD)
# One series per `orkestra.engine.health.CrdState` value (the engine sets them each tick).
crd_state = Gauge("controller_crd_state", "1 for the CRD's current state", _CRD + ("state",))
crd_activation_total = Counter("controller_crd_activation_total", "CRD activations", _CRD + ("result",))
crd_activation_latency = Histogram("controller_crd_activation_latency_seconds",
                                   "From leadership or kind appearance to activation", _CRD)
queue_limit_reached = Counter("controller_queue_limit_reached_total", "Adds past queue.maxDepth", _CRD)
queue_dropped = Counter("controller_queue_dropped_total", "Adds dropped by onLimit: drop", _CRD)
validation_violations = Counter("controller_admission_validation_violations_total",
                                "Validation rules that fired", _CRD + ("action",))
admission_requests = Counter("orkestra_admission_requests_total", "Admission requests",
                             _CRD + ("webhook", "result"))
admission_duration = Histogram("orkestra_admission_duration_seconds", "Admission handler time",
                               _CRD + ("webhook",), buckets=_WEBHOOK_BUCKETS)
conversion_requests = Counter("orkestra_conversion_requests_total", "Objects converted",
                              ("kind", "from_version", "to_version", "result"))
conversion_duration = Histogram("orkestra_conversion_duration_seconds", "Per-object conversion time",
                                ("kind", "from_version", "to_version"), buckets=_WEBHOOK_BUCKETS)
conversion_errors = Counter("orkestra_conversion_errors_total", "Conversion failures", ("kind", "error_type"))
conversion_active = Gauge("orkestra_conversion_active_requests", "Conversion reviews in flight")
deletion_blocked = Counter("orkestra_deletion_protection_blocked_total", "Deletions denied", ("resource",))
namespace_blocked = Counter("orkestra_namespace_protection_blocked_total", "Namespace denials", ("resource",))
webhook_reconciled = Counter("orkestra_webhook_reconciled_total", "Webhook controller runs", ("source",))
webhook_reconcile_failures = Counter("orkestra_webhook_reconciliation_failure_total",
                                     "Webhook controller failures", ("webhook",))
katalog_healthy = Gauge("orkestra_katalog_healthy", "1 when no enabled CRD is degraded or not started", ("katalog",))
build_info = Gauge("orkestra_build_info", "Build information", ("version", "python"))
build_info.labels(__version__, platform.python_version()).set(1)

# --- controller-runtime compatible families (§13.2) ---
cr_reconcile_total = Counter("controller_runtime_reconcile_total", "Reconciles", ("controller", "result"))
cr_reconcile_errors = Counter("controller_runtime_reconcile_errors_total", "Reconcile errors", ("controller",))
cr_reconcile_panics = Counter("controller_runtime_reconcile_panics_total", "Reconcile panics", ("controller",))
cr_reconcile_time = Histogram("controller_runtime_reconcile_time_seconds", "Reconcile time", ("controller",),
                              buckets=_CR_RECONCILE_BUCKETS)
cr_max_concurrent = Gauge("controller_runtime_max_concurrent_reconciles", "Configured workers", ("controller",))
cr_active_workers = Gauge("controller_runtime_active_workers", "Workers processing", ("controller",))
wq_depth = Gauge("workqueue_depth", "Queue depth", ("name", "controller", "priority"))
wq_adds = Counter("workqueue_adds_total", "Items added", ("name", "controller"))
wq_retries = Counter("workqueue_retries_total", "Rate-limited re-adds", ("name", "controller"))
wq_queue_duration = Histogram("workqueue_queue_duration_seconds", "Add to get", ("name", "controller"),
                              buckets=_WORKQUEUE_BUCKETS)
wq_work_duration = Histogram("workqueue_work_duration_seconds", "Get to done", ("name", "controller"),
                             buckets=_WORKQUEUE_BUCKETS)
wq_unfinished = Gauge("workqueue_unfinished_work_seconds", "Seconds of work in progress", ("name", "controller"))
wq_longest = Gauge("workqueue_longest_running_processor_seconds", "Longest running processor",
                   ("name", "controller"))
leader_status = Gauge("leader_election_master_status", "1 while this process leads", ("name",))
