"""What else runs with the engine: the `Runnable` contract and the `Runnables` group.

The serve wiring registers runnables (the webhook listener and the webhook controller) with
`Engine.add_runnable`; the engine never knows what they are. A runnable that `needs_leader`
starts when this process becomes leader (once), the others when the engine starts; all of them
stop at shutdown in reverse start order, after the drain (docs/runtime.md §11 step 4).
"""
from __future__ import annotations

import logging
import threading
from typing import Protocol

log = logging.getLogger("orkestra.engine")


class Runnable(Protocol):
    """`start` returns at once (threads of its own) and raises `OrkestraError` when it cannot
    start; `stop` never raises on purpose and may be called once, after a successful start."""

    @property
    def name(self) -> str: ...
    @property
    def needs_leader(self) -> bool: ...
    def start(self) -> None: ...
    def stop(self) -> None: ...


class Runnables:
    """The registered runnables, which of them started, and in what order."""

    def __init__(self) -> None:
        self._waiting: list[Runnable] = []
        self._started: list[Runnable] = []
        self._lock = threading.Lock()

    def add(self, runnable: Runnable) -> None:
        with self._lock:
            self._waiting.append(runnable)

    def start(self, *, leading: bool) -> None:
        """Start, in registration order, every waiting runnable allowed now: those that need no
        leader, and with `leading` the others too. An error from `start` propagates; the
        runnables started before it stay started (and are stopped at shutdown)."""
        with self._lock:
            due = [r for r in self._waiting if leading or not r.needs_leader]
            self._waiting = [r for r in self._waiting if r.needs_leader and not leading]
        for runnable in due:
            runnable.start()
            with self._lock:
                self._started.append(runnable)

    def stop(self) -> None:
        """Stop every started runnable, last started first; one failing does not stop the rest."""
        with self._lock:
            started, self._started = self._started, []
        for runnable in reversed(started):
            try:
                runnable.stop()
            except Exception:  # noqa: BLE001 - shutdown goes on
                log.exception("stopping a runnable failed", extra={"runnable": runnable.name})
