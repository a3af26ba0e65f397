"""The Control Center's own endpoints: probes, `/version`, `/api/snapshot` and `/api/stream`.

`/api/stream` is a server-sent events stream: `event: update` after every poll cycle and a
`: ping` comment every 15 s. Each open stream holds one of the worker's 32 threads, so at most
24 may be open at once (503 beyond), leaving threads for pages and JSON routes.
"""
from __future__ import annotations

import json
import threading
from typing import Generator, Iterator

from flask import Blueprint, Response, current_app, jsonify

from orkestra import __version__
from orkestra.controlcenter.poller import Poller
from orkestra.controlcenter.viewmodels import snapshot_body
from orkestra.durations import rfc3339

api = Blueprint("api", __name__)

MAX_STREAMS = 24
PING_SECONDS = 15.0


def _poller() -> Poller:
    return current_app.config["CC_POLLER"]


def _status(body: dict, code: int) -> Response:
    resp = jsonify(body)
    resp.status_code = code
    return resp


@api.get("/health")
def health() -> Response:
    return _status({"status": "ok"}, 200) if _poller().alive else _status({"status": "poller stopped"}, 500)


@api.get("/ready")
def ready() -> Response:
    return _status({"status": "ready"}, 200) if _poller().cycles > 0 else _status({"status": "not ready"}, 503)


@api.get("/version")
def version() -> Response:
    return jsonify({"version": __version__})


@api.get("/api/snapshot")
def snapshot() -> Response:
    poller = _poller()
    return jsonify(snapshot_body(poller.trackers(), poller.updated))


class StreamSlots:
    """A counter of open streams with a ceiling."""

    def __init__(self, limit: int = MAX_STREAMS) -> None:
        self.limit, self.open = limit, 0
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            if self.open >= self.limit:
                return False
            self.open += 1
            return True

    def give_back(self) -> None:
        with self._lock:
            self.open -= 1


def update_event(poller: Poller) -> str:
    data = {"updated": rfc3339(poller.updated), "runtimes": {t.rid: t.status.value for t in poller.trackers()}}
    return f"event: update\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


class EventStream:
    """The response body of one stream. Its slot is given back when the server closes it (client
    gone, or shutdown), even if iteration never started: that is why this is not a bare generator."""

    def __init__(self, poller: Poller, slots: StreamSlots, ping: float) -> None:
        self._poller, self._slots, self._ping = poller, slots, ping
        self._closed = False
        self._events = self._run()

    def _run(self) -> Generator[bytes, None, None]:
        seen = self._poller.cycles
        yield b"retry: 3000\n\n"
        while not self._poller.stopping:
            count = self._poller.wait_for_cycle(seen, timeout=self._ping)
            if count > seen:
                seen = count
                yield update_event(self._poller).encode()
            else:
                yield b": ping\n\n"

    def __iter__(self) -> Iterator[bytes]:
        return self._events

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._events.close()
            self._slots.give_back()


@api.get("/api/stream")
def stream() -> Response:
    slots: StreamSlots = current_app.config["CC_STREAM_SLOTS"]
    if not slots.take():
        return _status({"error": f"too many open streams (at most {slots.limit})"}, 503)
    body = EventStream(_poller(), slots, current_app.config.get("CC_PING_SECONDS", PING_SECONDS))
    return Response(body, mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
