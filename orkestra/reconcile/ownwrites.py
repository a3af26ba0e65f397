"""The CR writes a reconcile made itself, so that their watch events do not queue the CR again
(issue 15: one reconcile per CR creation when nothing else changes it).

A reconcile that patches its CR (finalizers, labels and the `orkestra.io/katalog` annotation,
the record of child resources, a mutation) goes on with the object the API server returned. The
update event of that write carries nothing the reconcile has not already seen, yet the §4.5
filter (docs/runtime.md) queues it whenever metadata changed: every new CR was reconciled twice.

A write is known as the pair (resourceVersion the patch was computed from, resourceVersion it
returned). An update event is Orkestra's own only when its old and new objects carry exactly that
pair: the object went from the version the reconcile read straight to the version it wrote, so
nobody else wrote in between. The first version is the one the write was guarded by (its
`test` of the resourceVersion): a write retried on a newer version is known by that one, and an
unguarded write is not recorded at all, because a relist that jumped from the version it was
computed from to its answer may carry someone else's write in between. Anything else is queued
as before. Each pair matches one event at most.

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
Answered = Callable[[dict | None, dict | None], None]      # (the CR answered, the CR the write was computed from)


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
    def writing(self, key: str, before: dict) -> Iterator[Answered]:
        """Around one write of the CR `key`, read as `before`. Call the yielded function with the
        answer and the version the write was computed from and guarded by (a retry recomputes it
        on a newer one), or None when the server may have applied it over a newer version than
        it was computed from (an unguarded patch): such a write is never claimed, since its pair
        would also match a relist that jumped over someone else's version in between."""
        start = _rv(before)
        answer: list[tuple[str | None, str | None]] = []

        def answered(after: dict | None, based_on: dict | None) -> None:
            answer[:] = [(_rv(after), _rv(based_on))]

        with self._lock:
            if start:
                self._flying[key] = start
        try:
            yield answered
        finally:
            after, base = answer[0] if answer else (None, None)
            with self._lock:
                if start and self._flying.get(key) == start:
                    del self._flying[key]
                held = self._held.pop(key, [])
                mine = False
                if base is not None and after is not None and after != base:
                    mine = True
                    self._remember(key, base, after)
                # each held event left `start`: it is this write only if the write was from `start`
                late = [requeue for new, requeue in held
                        if not (mine and base == start and new == after and self._consume(key, start, after))]
            for requeue in late:            # outside the lock: enqueueing may log or take the queue's lock
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
        """Called with the lock held."""
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
        to be that write. False: queue it now. One look under the lock, so that an answer landing
        meanwhile cannot slip between the two questions."""
        start, after = _rv(old), _rv(new)
        with self._lock:
            if self._consume(key, start, after):
                return True
            if start is not None and self._flying.get(key) == start:
                self._held.setdefault(key, []).append((after, requeue))
                return True
        return False

    def forget(self, key: str) -> None:
        with self._lock:
            self._pairs.pop(key, None)
