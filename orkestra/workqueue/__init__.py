"""Work queues with client-go semantics (docs/runtime.md §3), one concept per module:
`queue` (dedup, dirty/processing), `delaying` (add_after on the shared `timer`), `rate_limiters`,
`depth_limit`, `rate_limiting` (the queue a CRD uses) and `metrics` (Prometheus hooks)."""
from orkestra.workqueue.delaying import DelayingQueue
from orkestra.workqueue.metrics import PrometheusQueueMetrics, QueueMetrics
from orkestra.workqueue.queue import Queue
from orkestra.workqueue.rate_limiters import (ItemExponentialLimiter, MaxOfLimiter, RateLimiter,
                                              TokenBucketLimiter, default_limiter)
from orkestra.workqueue.rate_limiting import Offered, RateLimitingQueue
from orkestra.workqueue.timer import Timer, shared_timer

__all__ = ["DelayingQueue", "ItemExponentialLimiter", "MaxOfLimiter", "Offered", "PrometheusQueueMetrics",
           "Queue", "QueueMetrics", "RateLimiter", "RateLimitingQueue", "Timer", "TokenBucketLimiter",
           "default_limiter", "shared_timer"]
