"""Serving the runtime: gunicorn (the default) or werkzeug (`--server builtin`), one entry point.

`serve(katalog, settings, mode=..., server=...)` is shared by `ork run` and `ork gateway`. Under
gunicorn the calling process becomes the arbiter; the engine is created in the single worker
(`load`, then `post_worker_init` starts it) and shut down by `worker_exit` (docs/runtime.md §1, §11).

This is where the parts meet: `assemble` builds the engine, the read-only `EngineView` the
Flask app reads, and, when `webhook_role` says this process has webhooks, the `WebhookState`
the app's `/katalog` blocks and the webhook handlers share. `start` connects the engine, builds
the webhook runtime from explicit arguments and registers its runnables, then starts the engine;
the engine itself never imports `orkestra.webhooks`.
The Katalog model is built and checked before gunicorn starts, then handed to a lean arbiter
(`orkestra.server.arbiter`: this process is replaced by one that imports gunicorn alone, and the
worker unpickles the Katalog and settings); where that cannot be done, this process stays the
arbiter and the worker inherits the Katalog by fork. A fatal engine start error ends the worker
with code 3, which gunicorn treats as a boot error: the arbiter halts and exits 3 too.

The builtin server runs the same Flask app in-process on werkzeug's threaded server. It is for
tests and debugging, and is the only way to observe `/ready` 503 and `/health` 500 during a
shutdown, because gunicorn stops accepting connections before `worker_exit` runs.
"""
from __future__ import annotations

import dataclasses
import gc
import logging
import signal
import sys
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from orkestra.config import Mode, Settings
from orkestra.errors import OrkestraError
from orkestra.gunicorn_run import base_settings, run
from orkestra.katalog.model import Katalog
from orkestra.kube.client import is_loopback_host
from orkestra.server.arbiter import exec_arbiter, handover

if TYPE_CHECKING:
    from flask import Flask

    from orkestra.engine.engine import Engine
    from orkestra.engine.view import EngineView
    from orkestra.kube import KubeClient
    from orkestra.server.app import RuntimeView
    from orkestra.webhooks.admission import CacheView
    from orkestra.webhooks.app import WebhookState
    from orkestra.webhooks.switches import WebhookSettings

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
    """Where the HTTPS webhook listener will listen, or None when this process starts none
    (`webhook_role`, the rule `start` follows too)."""
    from orkestra.webhooks.plan import build_plan
    from orkestra.webhooks.runtime import WebhookRole, webhook_role
    from orkestra.webhooks.switches import WebhookSettings
    ws = WebhookSettings.from_settings(settings)
    role = webhook_role(build_plan(katalog, ws), ws, gateway=mode == Mode.GATEWAY)
    return f"{settings.bind_address}:{settings.webhook_port}" if role is WebhookRole.SERVE else None


def warn_if_open(settings: Settings) -> bool:
    """Warn (and say so) when the data routes answer anyone on a non-loopback address."""
    if settings.api_auth != "none" or is_loopback_host(settings.bind_address):
        return False
    log.warning("the HTTP API serves CR data without authentication on a non-loopback address; "
                "set ORK_API_AUTH=kubernetes (docs/security.md) or ORK_BIND_ADDRESS=127.0.0.1",
                extra={"http": f"{settings.bind_address}:{settings.port}"})
    return True


def build_app(view: RuntimeView, settings: Settings, kube: Callable[[], KubeClient | None]) -> Flask:
    """The Flask app over `view`, guarded as `ORK_API_AUTH` says (reviews go through `kube()`)."""
    from orkestra.server.app import create_app
    from orkestra.server.auth import Authorizer, KubeReviewer
    authorizer = Authorizer(KubeReviewer(kube)) if settings.api_auth == "kubernetes" else None
    return create_app(view, authorizer=authorizer, summaries_open=settings.api_auth_summaries == "open")


@dataclass
class Webhooks:
    """This process's webhook side, decided in `assemble` and built in `start`."""

    katalog: Katalog
    state: WebhookState
    settings: WebhookSettings
    gateway: bool

    def register(self, engine: Engine) -> None:
        """Build the runtime over the connected engine's client and hand its runnables over."""
        from orkestra.webhooks.runtime import build_runtime
        assert engine.kube is not None, "connect() first"
        runtime = build_runtime(self.katalog, self.state, self.settings, kube=engine.kube, gateway=self.gateway)
        for part in runtime.runnables():
            engine.add_runnable(part)
        if self.gateway:        # a gateway is ready only once it answers webhooks
            engine.add_ready_check(runtime.listening.is_set)


@dataclass
class Process:
    """The engine of this process, the app over its view, and its webhooks (None: it has none)."""

    engine: Engine
    app: Flask
    webhooks: Webhooks | None


def assemble(katalog: Katalog, settings: Settings, mode: Mode) -> Process:
    """Build everything of this process; nothing starts and no request is sent."""
    from orkestra.engine.engine import Engine
    from orkestra.engine.view import EngineView
    from orkestra.webhooks.app import WebhookState
    from orkestra.webhooks.describe import WebhookDescriber
    from orkestra.webhooks.runtime import WebhookRole, webhook_role
    from orkestra.webhooks.switches import WebhookSettings
    engine = Engine(katalog, settings, mode=mode)
    ws = WebhookSettings.from_settings(settings)
    state = WebhookState.build(katalog, ws, cache_lookup=lambda key: _cache_view(view, key))
    webhooks = None
    if webhook_role(state.plan, ws, gateway=mode == Mode.GATEWAY) is not WebhookRole.NONE:
        webhooks = Webhooks(katalog, state, ws, gateway=mode == Mode.GATEWAY)
    view = EngineView(engine, webhooks=WebhookDescriber(state) if webhooks is not None else None)
    return Process(engine, build_app(view, settings, lambda: engine.kube), webhooks)


def _cache_view(view: EngineView, key: str) -> CacheView | None:
    """A CRD's informer cache for the admission webhooks' `unique` check."""
    from orkestra.webhooks.admission import CacheView
    cache = view.informer_cache(key)
    return CacheView(synced=cache[0], items=cache[1]) if cache is not None else None


def start(engine: Engine, webhooks: Webhooks | None) -> bool:
    """Connect, register the webhook runnables, start; False (logged) when the engine cannot start."""
    from orkestra.engine.engine import EngineStartError
    try:
        if webhooks is not None:
            engine.connect()
            try:
                webhooks.register(engine)
            except OrkestraError as err:
                raise EngineStartError(f"webhooks: {err}") from None
        engine.start()
    except EngineStartError as err:
        log.error(f"engine cannot start: {err}", extra={"error": str(err)})
        return False
    return True


# ---------------------------------------------------------------------------- builtin
def _serve_builtin(katalog: Katalog, settings: Settings, mode: Mode) -> int:
    from werkzeug.serving import make_server

    process = assemble(katalog, settings, mode)
    httpd = make_server(settings.bind_address, settings.port, process.app, threaded=True)
    if not start(process.engine, process.webhooks):
        httpd.server_close()
        return EXIT_ENGINE_START

    def stop(signum: int, frame: Any) -> None:
        def run() -> None:
            process.engine.shutdown()
            httpd.shutdown()
        threading.Thread(target=run, name="ork-shutdown", daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    httpd.serve_forever()
    httpd.server_close()
    return 0


# ---------------------------------------------------------------------------- gunicorn
def post_worker_init(worker: Any) -> None:
    if not start(worker.app.engine, getattr(worker.app, "webhooks", None)):
        sys.exit(EXIT_ENGINE_START)


def worker_exit(server: Any, worker: Any) -> None:
    engine = getattr(worker.app, "engine", None)
    if engine is not None and engine.kube is not None:
        engine.shutdown()


def plain_gunicorn_settings(settings: Settings) -> dict[str, Any]:
    """The fixed gunicorn configuration of docs/runtime.md §1 without the worker hooks (plain
    values, which the lean arbiter receives as JSON)."""
    return {**base_settings(bind=f"{settings.bind_address}:{settings.port}", threads=settings.http_threads,
                           graceful_timeout=int(settings.drain_timeout) + 15, log_level=settings.log_level),
            "proc_name": "orkestra"}


def gunicorn_settings(settings: Settings) -> dict[str, Any]:
    """The fixed gunicorn configuration of docs/runtime.md §1."""
    return {**plain_gunicorn_settings(settings), "post_worker_init": post_worker_init, "worker_exit": worker_exit}


def load_worker(application: Any, katalog: Katalog, settings: Settings, mode: Mode) -> Flask:
    """In the worker: assemble the process (its engine and webhooks kept on the application for
    the worker hooks) and return its app."""
    process = assemble(katalog, settings, mode)
    application.engine, application.webhooks = process.engine, process.webhooks
    return process.app


def _serve_gunicorn(katalog: Katalog, settings: Settings, mode: Mode) -> int:
    # The worker never loads a Katalog, so the registry credentials are not handed over.
    handed = dataclasses.replace(settings, katalog=dataclasses.replace(settings.katalog, credentials={}))
    fd = handover((katalog, handed, mode))
    if fd is not None:
        exec_arbiter(fd, plain_gunicorn_settings(settings), log_level=settings.log_level,
                     log_format=settings.log_format)
    # Fallback: this process stays the arbiter. The Katalog and the imports are inherited by the
    # worker: freeze them before the fork so the worker's collector never touches (and so
    # copies) those pages.
    gc.collect()
    gc.freeze()
    return run(gunicorn_settings(settings), lambda application: load_worker(application, katalog, settings, mode))
