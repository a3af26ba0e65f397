"""The CR writes a reconcile made itself, so that their watch events do not queue the CR again
(issue 15: one reconcile per CR creation when nothing else changes it).

A reconcile that patches its CR (finalizers, labels and the `orkestra.io/katalog` annotation,
the record of child resources, a mutation) goes on with the object the API server returned. The
update event of that write carries nothing the reconcile has not already seen, yet the §4.5
filter (docs/runtime.md) queues it whenever metadata changed: every new CR was reconciled twice.

A write is known as the pair (resourceVersion the patch was computed from, resourceVersion it
returned). An update event is Orkestra's own only when its old and new objects carry exactly that
pair: the object went from the version the reconcile read straight to the version it wrote, so
nobody else wrote in between. Anything else is queued as before: a write applied over someone
else's newer version (an unguarded merge patch), a relist that skipped versions. Each pair
matches one event at most.

The watch event often arrives before the write's own answer. While a write from version `v` is
in flight, an event leaving `v` is therefore held, and settled when the answer comes: dropped if
it is that write, queued otherwise (also when the write failed).
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager

MAX_KEYS = 4096         # CRs remembered at once; the least recently written is dropped first
MAX_PER_KEY = 8         # pairs per CR: one reconcile writes its CR at most four times
Requeue = Callable[[], None]


def _rv(obj: dict | None) -> str | None:
    return ((obj or {}).get("metadata") or {}).get("resourceVersion")


class OwnWrites:
    """Thread-safe: workers write, the informer's thread asks."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pairs: OrderedDict[str, dict[str, str]] = OrderedDict()   # key -> {read rv: written rv}
        self._flying: dict[str, str] = {}                              # key -> rv a write started from
        self._held: dict[str, list[tuple[str | None, Requeue]]] = {}    # key -> (new rv, requeue) per event

    @contextmanager
    def writing(self, key: str, before: dict) -> Iterator[Callable[[dict | None], None]]:
        """Around one write of `before` (the CR `key`); call the yielded function with the answer."""
        start = _rv(before)
        answer: list[dict | None] = []
        with self._lock:
            if start:
                self._flying[key] = start
        try:
            yield answer.append
        finally:
            after = _rv(answer[0]) if answer else None
            with self._lock:
                if start and self._flying.get(key) == start:
                    del self._flying[key]
                held = self._held.pop(key, [])
                mine = start and after and after != start
                if mine:
                    self._remember(key, start, after)
            for new, requeue in held:
                if not (mine and new == after and self._consume(key, start, after)):
                    requeue()

    def _remember(self, key: str, start: str, after: str) -> None:
        """Called with the lock held."""
        pairs = self._pairs.setdefault(key, {})
        pairs[start] = after
        while len(pairs) > MAX_PER_KEY:
            del pairs[next(iter(pairs))]
        self._pairs.move_to_end(key)
        while len(self._pairs) > MAX_KEYS:
            self._pairs.popitem(last=False)

    def _consume(self, key: str, start: str | None, after: str | None) -> bool:
        with self._lock:
            pairs = self._pairs.get(key)
            if not pairs or start is None or pairs.get(start) != after:
                return False
            del pairs[start]
            if not pairs:
                del self._pairs[key]
            return True

    def caused(self, key: str, old: dict, new: dict, requeue: Requeue) -> bool:
        """Is the update `old` -> `new` of `key` a write of this reconciler? True when it is one
        already answered (the record is consumed), and when it leaves the version a write in
        flight started from: it is then held, and `requeue` is called later unless it turns out
        to be that write. False: queue it now."""
        if self._consume(key, _rv(old), _rv(new)):
            return True
        with self._lock:
            if _rv(old) is not None and self._flying.get(key) == _rv(old):
                self._held.setdefault(key, []).append((_rv(new), requeue))
                return True
        return False

    def forget(self, key: str) -> None:
        with self._lock:
            self._pairs.pop(key, None)
