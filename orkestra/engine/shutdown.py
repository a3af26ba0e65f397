"""Graceful shutdown (docs/runtime.md §11), run by gunicorn's `worker_exit` or on SIGTERM/SIGINT.

The order matters: `/ready` drops first so load balancers stop sending traffic; then each CRD's
queue is shut down and its in-flight reconciles are awaited in *reverse start order*, all CRDs
sharing one `DRAIN_TIMEOUT` budget; only then are informers, the activator and the Lease let go,
so a follower never takes over while this process still writes. Webhooks stop last because the
API server may still call them while we drain.
"""
from __future__ import annotations

import logging
import time
from typing import Any, Callable

log = logging.getLogger("orkestra.engine")


def graceful_shutdown(engine: Any, *, clock: Callable[[], float] = time.monotonic) -> None:
    if engine.shutdown_done:
        return
    # 1. /ready -> 503
    engine.shutting_down = True
    engine.ready_event.clear()
    log.info("shutting down", extra={"identity": engine.identity})
    # 2. drain, reverse start order, one shared budget
    deadline = clock() + engine.settings.drain_timeout
    exceeded = False
    for key in reversed(engine.katalog.start_order):
        box = engine.box(key)
        if box is None:
            continue
        box.shut_down_queue()
        if not exceeded and not box.drain(max(0.0, deadline - clock())):
            exceeded = True
            log.warning("drain timeout exceeded — workers may still be running",
                        extra={"crd": key, "budget": engine.settings.drain_timeout})
    # 3. informers, activator, Lease
    engine.stop_threads()
    if engine.factory is not None:
        engine.release_informers()
    if engine.elector is not None:
        engine.elector.release()
    # 4. webhook configurations with cleanupOnShutdown, then the HTTPS listener
    if engine.webhooks is not None:
        try:
            engine.webhooks.stop()
        except Exception:  # noqa: BLE001 - shutdown goes on
            log.exception("stopping webhooks failed")
    # 5. /health -> 500
    engine.shutdown_done = True
    log.info("shutdown complete", extra={"identity": engine.identity})
