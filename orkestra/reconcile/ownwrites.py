"""The CR writes a reconcile made itself, so that their watch events do not queue the CR again
(issue 15: one reconcile per CR creation when nothing else changes it).

A reconcile that patches its CR (finalizers, labels and the `orkestra.io/katalog` annotation,
the record of child resources, a mutation, the status) goes on with the object the API server
returned. The update event of that write then carries nothing the reconcile has not already
seen, yet the §4.5 filter (docs/runtime.md) queues it whenever metadata changed: every new CR was
reconciled twice.

A write is recorded as the pair (resourceVersion the patch was computed from, resourceVersion
it returned). An update event is Orkestra's own only when its old and new objects carry exactly
that pair: the object went from the version the reconcile read straight to the version it wrote,
so nobody else wrote in between. Anything else is queued as before: a write applied over
someone else's newer version (an unguarded merge patch), an event that arrives before the
write is recorded, a relist that skipped versions. Each pair matches one event at most.
"""
from __future__ import annotations

import threading
from collections import OrderedDict

MAX_KEYS = 4096         # CRs remembered at once; the least recently written is dropped first
MAX_PER_KEY = 8         # pairs per CR: one reconcile writes its CR at most five times


def _rv(obj: dict | None) -> str | None:
    return ((obj or {}).get("metadata") or {}).get("resourceVersion")


class OwnWrites:
    """Thread-safe: workers record, the informer's thread asks."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pairs: OrderedDict[str, dict[str, str]] = OrderedDict()   # key -> {before rv: after rv}

    def record(self, key: str, before: dict, after: dict | None) -> None:
        """The reconcile of `key` turned `before` into `after` with one write."""
        old, new = _rv(before), _rv(after)
        if not old or not new or old == new:
            return      # nothing written: no event will come
        with self._lock:
            pairs = self._pairs.setdefault(key, {})
            pairs[old] = new
            while len(pairs) > MAX_PER_KEY:
                del pairs[next(iter(pairs))]
            self._pairs.move_to_end(key)
            while len(self._pairs) > MAX_KEYS:
                self._pairs.popitem(last=False)

    def caused(self, key: str, old: dict, new: dict) -> bool:
        """Is the update `old` -> `new` of `key` exactly one recorded write? Consumes the record."""
        before, after = _rv(old), _rv(new)
        with self._lock:
            pairs = self._pairs.get(key)
            if not pairs or before is None or pairs.get(before) != after:
                return False
            del pairs[before]
            if not pairs:
                del self._pairs[key]
            return True

    def forget(self, key: str) -> None:
        with self._lock:
            self._pairs.pop(key, None)
