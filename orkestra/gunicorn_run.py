"""One gunicorn process shape for `ork run`, `ork gateway` and `ork control` (docs/runtime.md §1).

Both servers embed gunicorn through `BaseApplication` with one gthread worker and the JSON logger;
only the app they load, the state kept on the application object (the engine, the poller) and a few
settings differ. Imports nothing from Orkestra, so every layer may use it.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any


def base_settings(*, bind: str, threads: int, graceful_timeout: int, log_level: str) -> dict[str, Any]:
    """The settings both servers share: one gthread worker, JSON logs, access log only at debug."""
    debug = log_level == "debug"
    return {
        "bind": [bind],
        "workers": 1,
        "worker_class": "gthread",
        "threads": threads,
        "timeout": 60,
        "graceful_timeout": graceful_timeout,
        "keepalive": 5,
        "worker_tmp_dir": "/dev/shm" if os.path.isdir("/dev/shm") else None,   # read-only root filesystem
        "preload_app": False,
        "logger_class": "orkestra.server.gunicorn_logging.JsonGunicornLogger",
        "accesslog": "-" if debug else None,
        "loglevel": "debug" if debug else "info",
        "control_socket_disable": True,   # no shared ~/.gunicorn socket: replicas may share a host
    }


def run(settings: Mapping[str, Any], load: Callable[[Any], Any]) -> int:
    """Run gunicorn until it stops; returns its exit code.

    `load(application)` runs in the worker and returns the WSGI app; it may keep state on the
    application object for the worker hooks (`worker.app.<name>`)."""
    from gunicorn.app.base import BaseApplication

    class Application(BaseApplication):
        def load_config(self) -> None:
            for key, value in settings.items():
                if value is not None:
                    self.cfg.set(key, value)

        def load(self) -> Any:
            return load(self)

    try:
        Application().run()
    except SystemExit as exc:
        return int(exc.code or 0) if isinstance(exc.code, int) else 1
    return 0
