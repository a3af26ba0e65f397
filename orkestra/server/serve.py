"""Serving the runtime: gunicorn (the default) or werkzeug (`--server builtin`), one entry point.

`serve(katalog, settings, mode=..., server=...)` is shared by `ork run` and `ork gateway`. Under
gunicorn the calling process becomes the arbiter; the engine is created in the single worker
(`load`, then `post_worker_init` starts it) and shut down by `worker_exit` (docs/runtime.md §1, §11).
The Katalog model is built before the fork and inherited. A fatal engine start error ends the
worker with code 3, which gunicorn treats as a boot error: the arbiter halts and exits 3 too.

The builtin server runs the same Flask app in-process on werkzeug's threaded server. It is for
tests and debugging, and is the only way to observe `/ready` 503 and `/health` 500 during a
shutdown, because gunicorn stops accepting connections before `worker_exit` runs.
"""
from __future__ import annotations

import gc
import logging
import signal
import sys
import threading
from typing import Any

from orkestra.config import Mode, Settings
from orkestra.gunicorn_run import base_settings, run
from orkestra.katalog.model import Katalog
from orkestra.kube.client import is_loopback_host

log = logging.getLogger("orkestra.server")
EXIT_ENGINE_START = 3


def serve(katalog: Katalog, settings: Settings, *, mode: Mode = Mode.RUNTIME, server: str = "gunicorn") -> int:
    """Run until shutdown; returns the process exit code."""
    log.info("listening", extra={"http": f"{settings.bind_address}:{settings.port}",
                                 "https": https_address(katalog, settings, mode)})
    warn_if_open(settings)
    if server == "builtin":
        return _serve_builtin(katalog, settings, mode)
    return _serve_gunicorn(katalog, settings, mode)


def https_address(katalog: Katalog, settings: Settings, mode: Mode) -> str | None:
    """Where the HTTPS webhook listener will listen, or None when this process starts none: the
    same rule the engine applies (docs/webhooks.md §1: conversion switch, a protection feature or
    gateway mode; none in `ork run` when ORK_GATEWAY_ENDPOINT hands webhooks to a gateway)."""
    if settings.gateway_endpoint and mode != Mode.GATEWAY:
        return None
    from orkestra.webhooks.plan import build_plan
    from orkestra.webhooks.switches import WebhookSettings
    plan = build_plan(katalog, WebhookSettings.from_settings(settings))
    return f"{settings.bind_address}:{settings.webhook_port}" if plan.listener_needed(gateway=mode == Mode.GATEWAY) else None


def warn_if_open(settings: Settings) -> bool:
    """Warn (and say so) when the data routes answer anyone on a non-loopback address."""
    if settings.api_auth != "none" or is_loopback_host(settings.bind_address):
        return False
    log.warning("the HTTP API serves CR data without authentication on a non-loopback address; "
                "set ORK_API_AUTH=kubernetes (docs/security.md) or ORK_BIND_ADDRESS=127.0.0.1",
                extra={"http": f"{settings.bind_address}:{settings.port}"})
    return True


def build_app(engine: Any, settings: Settings) -> Any:
    """The Flask app for `engine`, guarded as `ORK_API_AUTH` says."""
    from orkestra.server.app import create_app
    from orkestra.server.auth import Authorizer, KubeReviewer
    authorizer = Authorizer(KubeReviewer(lambda: engine.kube)) if settings.api_auth == "kubernetes" else None
    return create_app(engine, authorizer=authorizer, summaries_open=settings.api_auth_summaries == "open")


def _start_engine(engine: Any) -> bool:
    from orkestra.engine.engine import EngineStartError
    try:
        engine.start()
    except EngineStartError as err:
        log.error(f"engine cannot start: {err}", extra={"error": str(err)})
        return False
    return True


# ---------------------------------------------------------------------------- builtin
def _serve_builtin(katalog: Katalog, settings: Settings, mode: Mode) -> int:
    from werkzeug.serving import make_server

    from orkestra.engine.engine import Engine
    from orkestra.engine.shutdown import graceful_shutdown
    engine = Engine(katalog, settings, mode=mode)
    httpd = make_server(settings.bind_address, settings.port, build_app(engine, settings), threaded=True)
    if not _start_engine(engine):
        httpd.server_close()
        return EXIT_ENGINE_START

    def stop(signum: int, frame: Any) -> None:
        def run() -> None:
            graceful_shutdown(engine)
            httpd.shutdown()
        threading.Thread(target=run, name="ork-shutdown", daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    httpd.serve_forever()
    httpd.server_close()
    return 0


# ---------------------------------------------------------------------------- gunicorn
def _post_worker_init(worker: Any) -> None:
    if not _start_engine(worker.app.engine):
        sys.exit(EXIT_ENGINE_START)


def _worker_exit(server: Any, worker: Any) -> None:
    from orkestra.engine.shutdown import graceful_shutdown
    engine = getattr(worker.app, "engine", None)
    if engine is not None and engine.kube is not None:
        graceful_shutdown(engine)


def gunicorn_settings(settings: Settings) -> dict[str, Any]:
    """The fixed gunicorn configuration of docs/runtime.md §1."""
    return {**base_settings(bind=f"{settings.bind_address}:{settings.port}", threads=settings.http_threads,
                           graceful_timeout=int(settings.drain_timeout) + 15, log_level=settings.log_level),
            "post_worker_init": _post_worker_init, "worker_exit": _worker_exit, "proc_name": "orkestra"}


def _serve_gunicorn(katalog: Katalog, settings: Settings, mode: Mode) -> int:
    def load(application: Any) -> Any:
        """In the worker: build the engine (kept on the application for the worker hooks) and its app."""
        from orkestra.engine.engine import Engine
        application.engine = Engine(katalog, settings, mode=mode)
        return build_app(application.engine, settings)

    # The Katalog and the imports are inherited by the worker: freeze them before the fork so the
    # worker's collector never touches (and so copies) those pages.
    gc.collect()
    gc.freeze()
    return run(gunicorn_settings(settings), load)
