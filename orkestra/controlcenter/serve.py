"""Serving the Control Center under gunicorn: one gthread worker with 32 threads.

The calling process becomes the gunicorn arbiter. The worker builds the poller and the app in
`load`, starts the poller thread in `post_worker_init` and stops it in `worker_exit`, so the
only state (the in-memory snapshots) lives in the one worker. Each open live-update stream
holds one of the 32 threads; `/api/stream` admits at most 24 of them.
"""
from __future__ import annotations

import os
from typing import Any

from orkestra.controlcenter.settings import CCSettings

THREADS = 32


def build(settings: CCSettings) -> tuple[Any, Any]:
    """(app, poller) for `settings`, wired with the real HTTP fetcher."""
    from orkestra.controlcenter.app import create_app
    from orkestra.controlcenter.fetch import HttpFetcher
    from orkestra.controlcenter.livecache import LiveReader
    from orkestra.controlcenter.poller import Poller
    fetcher = HttpFetcher(token_file=settings.token_file)
    poller = Poller(settings.urls, interval=settings.refresh, fetcher=fetcher)
    return create_app(settings, poller=poller, live=LiveReader(fetcher)), poller


def _post_worker_init(worker: Any) -> None:
    worker.app.poller.start()


def _worker_exit(server: Any, worker: Any) -> None:
    poller = getattr(worker.app, "poller", None)
    if poller is not None:
        poller.stop()


def gunicorn_settings(settings: CCSettings) -> dict[str, Any]:
    return {
        "bind": [settings.bind], "workers": 1, "worker_class": "gthread", "threads": THREADS,
        "timeout": 60, "graceful_timeout": 3, "keepalive": 5,
        "worker_tmp_dir": "/dev/shm" if os.path.isdir("/dev/shm") else None,
        "preload_app": False, "logger_class": "orkestra.server.gunicorn_logging.JsonGunicornLogger",
        "accesslog": "-" if settings.log_level == "debug" else None,
        "loglevel": "debug" if settings.log_level == "debug" else "info",
        "post_worker_init": _post_worker_init, "worker_exit": _worker_exit,
        "proc_name": "orkestra-control-center", "control_socket_disable": True,
    }


def serve(settings: CCSettings) -> int:
    """Run until SIGTERM/SIGINT; returns the exit code."""
    from gunicorn.app.base import BaseApplication

    class ControlCenterApplication(BaseApplication):
        def __init__(self) -> None:
            self.poller: Any = None
            super().__init__()

        def load_config(self) -> None:
            for key, value in gunicorn_settings(settings).items():
                if value is not None:
                    self.cfg.set(key, value)

        def load(self) -> Any:
            app, self.poller = build(settings)
            return app

    try:
        ControlCenterApplication().run()
    except SystemExit as exc:
        return int(exc.code or 0) if isinstance(exc.code, int) else 1
    return 0
