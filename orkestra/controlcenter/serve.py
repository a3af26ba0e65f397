"""Serving the Control Center under gunicorn: one gthread worker with 32 threads.

The calling process becomes the gunicorn arbiter. The worker builds the poller and the app in
`load`, starts the poller thread in `post_worker_init` and stops it in `worker_exit`, so the
only state (the in-memory snapshots) lives in the one worker. Each open live-update stream
holds one of the 32 threads; `/api/stream` admits at most 24 of them.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from orkestra.controlcenter.settings import CCSettings
from orkestra.gunicorn_run import base_settings, run

if TYPE_CHECKING:     # imported in build(): the arbiter process never loads them
    from flask import Flask

    from orkestra.controlcenter.poller import Poller

THREADS = 32


def build(settings: CCSettings) -> tuple[Flask, Poller]:
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
    return {**base_settings(bind=settings.bind, threads=THREADS, graceful_timeout=3, log_level=settings.log_level),
            "post_worker_init": _post_worker_init, "worker_exit": _worker_exit,
            "proc_name": "orkestra-control-center"}


def serve(settings: CCSettings) -> int:
    """Run until SIGTERM/SIGINT; returns the exit code."""
    def load(application: Any) -> Any:
        app, application.poller = build(settings)
        return app

    return run(gunicorn_settings(settings), load)
